from app.core.config import database_url


def test_default_url():
    assert database_url().startswith("postgresql")
