"""HTTP API of the content service."""

from __future__ import annotations

import logging

from common_core import ContentCreate, ServiceSettings
from huleedu_service_libs import ApiError, parse_body
from huleedu_service_libs import create_app as create_service_app
from quart import Blueprint, Quart

from content_service import DEFAULT_HTTP_PORT, SERVICE_NAME, __version__
from content_service.store import ContentStore

log = logging.getLogger(__name__)


def content_blueprint(store: ContentStore) -> Blueprint:
    bp = Blueprint("content", __name__, url_prefix="/v1/content")

    @bp.post("")
    async def store_content():
        new = await parse_body(ContentCreate)
        item = await store.add(new)
        log.info("content stored", extra={"content_id": item.id, "word_count": item.word_count})
        summary = {"id": item.id, "title": item.title, "word_count": item.word_count}
        return summary, 201, {"Location": f"/v1/content/{item.id}"}

    @bp.get("/<content_id>")
    async def get_content(content_id: str):
        item = await store.get(content_id)
        if item is None:
            raise ApiError(404, "content not found", {"id": content_id})
        return item.model_dump(mode="json")

    return bp


def load_settings() -> ServiceSettings:
    return ServiceSettings.from_env(SERVICE_NAME, DEFAULT_HTTP_PORT, version=__version__)


def create_app(
    settings: ServiceSettings | None = None,
    store: ContentStore | None = None,
    *,
    serve_metrics: bool = True,
) -> Quart:
    settings = settings or load_settings()
    store = store or ContentStore()
    return create_service_app(settings, [content_blueprint(store)], serve_metrics=serve_metrics)
