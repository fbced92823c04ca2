async def test_health_reports_service_and_version(app):
    response = await app.test_client().get("/health")
    assert response.status_code == 200
    assert await response.get_json() == {
        "status": "ok",
        "service": "demo_service",
        "version": "1.2.3",
    }


async def test_requests_are_counted_per_route_and_status(app, metrics):
    client = app.test_client()
    for item in ("a", "b", "c"):
        assert (await client.get(f"/v1/items/{item}")).status_code == 200
    assert (await client.get("/v1/items/missing")).status_code == 404
    await client.get("/health")

    assert metrics.count("GET", "/v1/items/<item_id>", 200) == 3
    assert metrics.count("GET", "/v1/items/<item_id>", 404) == 1
    assert metrics.count("GET", "/health", 200) == 1
    text = metrics.exposition().decode()
    assert (
        'http_request_duration_seconds_count{endpoint="/v1/items/<item_id>",method="GET"} 4.0'
        in text
    )


async def test_unknown_routes_share_one_label(app, metrics):
    client = app.test_client()
    await client.get("/nope/1")
    await client.get("/nope/2")
    assert metrics.count("GET", "<unmatched>", 404) == 2


async def test_errors_are_json(app):
    client = app.test_client()
    response = await client.get("/v1/items/missing")
    assert await response.get_json() == {
        "error": "item not found",
        "detail": {"id": "missing"},
    }
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert (await response.get_json())["error"] == "not found"
    response = await client.post("/health")
    assert response.status_code == 405
    response = await client.get("/boom")
    assert response.status_code == 500
    assert (await response.get_json())["error"] == "internal server error"


async def test_each_app_has_its_own_registry(app, settings):
    from huleedu_service_libs import create_app

    other = create_app(settings, serve_metrics=False)
    await other.test_client().get("/health")
    assert app.extensions["huleedu"]["metrics"].count("GET", "/health", 200) == 0
    assert other.extensions["huleedu"]["metrics"].count("GET", "/health", 200) == 1
