import pytest

from content_service.app import load_settings
from content_service.store import count_words


async def test_store_then_fetch_with_word_count(client):
    text = "The quick brown fox doesn't jump over the well-known dog."
    response = await client.post("/v1/content", json={"title": "Fox", "text": text})
    assert response.status_code == 201
    summary = await response.get_json()
    assert summary["word_count"] == 10
    assert response.headers["Location"] == f"/v1/content/{summary['id']}"

    response = await client.get(f"/v1/content/{summary['id']}")
    assert response.status_code == 200
    item = await response.get_json()
    assert item["text"] == text
    assert item["title"] == "Fox"
    assert item["word_count"] == 10


async def test_title_is_optional(client):
    response = await client.post("/v1/content", json={"text": "Hej på dig"})
    item = await (await client.get(f"/v1/content/{(await response.get_json())['id']}")).get_json()
    assert item["title"] is None
    assert item["word_count"] == 3


async def test_unknown_content_is_404(client):
    response = await client.get("/v1/content/nope")
    assert response.status_code == 404
    assert (await response.get_json())["error"] == "content not found"


async def test_invalid_bodies(client):
    assert (await client.post("/v1/content", data="plain")).status_code == 400
    assert (await client.post("/v1/content", json={"text": ""})).status_code == 422
    assert (await client.post("/v1/content", json={"body": "x"})).status_code == 422


async def test_health_and_metrics(app, client):
    response = await client.get("/health")
    assert await response.get_json() == {
        "status": "ok",
        "service": "content_service",
        "version": "test",
    }
    await client.post("/v1/content", json={"text": "one two"})
    metrics = app.extensions["huleedu"]["metrics"]
    assert metrics.count("GET", "/health", 200) == 1
    assert metrics.count("POST", "/v1/content", 201) == 1


@pytest.mark.parametrize(
    ("text", "words"),
    [("", 0), ("   ", 0), ("one", 1), ("one, two; three!", 3), ("e-mail isn't 42 x", 4)],
)
def test_count_words(text, words):
    assert count_words(text) == words


def test_default_ports(monkeypatch):
    for var in ("SERVICE_HTTP_PORT", "SERVICE_PROMETHEUS_PORT", "SERVICE_HOST"):
        monkeypatch.delenv(var, raising=False)
    settings = load_settings()
    assert (settings.http_port, settings.prometheus_port) == (7006, 9098)
