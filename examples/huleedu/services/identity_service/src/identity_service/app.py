"""HTTP API of the identity service."""

from __future__ import annotations

import logging

from common_core import ServiceSettings, UserCreate
from huleedu_service_libs import ApiError, parse_body
from huleedu_service_libs import create_app as create_service_app
from quart import Blueprint, Quart

from identity_service import DEFAULT_HTTP_PORT, SERVICE_NAME, __version__
from identity_service.repository import DuplicateEmail, UserRepository

log = logging.getLogger(__name__)


def users_blueprint(repository: UserRepository) -> Blueprint:
    bp = Blueprint("users", __name__, url_prefix="/v1/users")

    @bp.post("")
    async def register_user():
        new = await parse_body(UserCreate)
        try:
            user = await repository.add(new)
        except DuplicateEmail:
            raise ApiError(409, "email already registered", {"email": new.email}) from None
        log.info("user registered", extra={"user_id": user.id})
        return user.model_dump(mode="json"), 201, {"Location": f"/v1/users/{user.id}"}

    @bp.get("/<user_id>")
    async def get_user(user_id: str):
        user = await repository.get(user_id)
        if user is None:
            raise ApiError(404, "user not found", {"id": user_id})
        return user.model_dump(mode="json")

    return bp


def load_settings() -> ServiceSettings:
    return ServiceSettings.from_env(SERVICE_NAME, DEFAULT_HTTP_PORT, version=__version__)


def create_app(
    settings: ServiceSettings | None = None,
    repository: UserRepository | None = None,
    *,
    serve_metrics: bool = True,
) -> Quart:
    settings = settings or load_settings()
    repository = repository or UserRepository()
    return create_service_app(settings, [users_blueprint(repository)], serve_metrics=serve_metrics)
