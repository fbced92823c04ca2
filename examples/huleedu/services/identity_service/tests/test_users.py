from identity_service.app import load_settings


async def test_register_then_fetch(client):
    response = await client.post(
        "/v1/users", json={"email": "Ada@Example.org", "display_name": "Ada Lovelace"}
    )
    assert response.status_code == 201
    created = await response.get_json()
    assert created["email"] == "ada@example.org"
    assert response.headers["Location"] == f"/v1/users/{created['id']}"

    response = await client.get(f"/v1/users/{created['id']}")
    assert response.status_code == 200
    assert await response.get_json() == created


async def test_duplicate_email_is_a_conflict(client):
    body = {"email": "grace@example.org", "display_name": "Grace"}
    assert (await client.post("/v1/users", json=body)).status_code == 201
    response = await client.post("/v1/users", json={**body, "email": "GRACE@example.org"})
    assert response.status_code == 409
    assert (await response.get_json())["error"] == "email already registered"


async def test_unknown_user_is_404(client):
    response = await client.get("/v1/users/does-not-exist")
    assert response.status_code == 404
    assert await response.get_json() == {
        "error": "user not found",
        "detail": {"id": "does-not-exist"},
    }


async def test_invalid_bodies(client):
    response = await client.post("/v1/users", data="not json")
    assert response.status_code == 400
    response = await client.post("/v1/users", json={"email": "nope", "display_name": "X"})
    assert response.status_code == 422
    detail = (await response.get_json())["detail"]
    assert detail[0]["loc"] == ["email"]


async def test_health(client):
    response = await client.get("/health")
    assert await response.get_json() == {
        "status": "ok",
        "service": "identity_service",
        "version": "test",
    }


async def test_requests_are_counted(app, client):
    await client.post("/v1/users", json={"email": "a@b.io", "display_name": "A"})
    await client.get("/v1/users/x")
    metrics = app.extensions["huleedu"]["metrics"]
    assert metrics.count("POST", "/v1/users", 201) == 1
    assert metrics.count("GET", "/v1/users/<user_id>", 404) == 1


def test_default_ports(monkeypatch):
    for var in ("SERVICE_HTTP_PORT", "SERVICE_PROMETHEUS_PORT", "SERVICE_HOST"):
        monkeypatch.delenv(var, raising=False)
    settings = load_settings()
    assert (settings.http_port, settings.prometheus_port) == (7005, 9097)
