import pytest
from pydantic import ValidationError

from common_core import ContentCreate, UserCreate


def test_user_email_is_normalised():
    user = UserCreate(email="  Ada@Example.ORG ", display_name=" Ada ")
    assert user.email == "ada@example.org"
    assert user.display_name == "Ada"


@pytest.mark.parametrize("email", ["", "ada", "ada@example", "a b@example.org"])
def test_user_email_is_checked(email):
    with pytest.raises(ValidationError):
        UserCreate(email=email, display_name="Ada")


def test_content_rejects_unknown_fields_and_empty_text():
    with pytest.raises(ValidationError):
        ContentCreate(text="hi", colour="red")
    with pytest.raises(ValidationError):
        ContentCreate(text="")
