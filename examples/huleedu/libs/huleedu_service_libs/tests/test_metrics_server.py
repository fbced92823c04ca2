import asyncio
import urllib.request

from huleedu_service_libs import MetricsServer


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


async def test_metrics_server_exposes_the_apps_registry(app, metrics):
    await app.test_client().get("/v1/items/x")
    server = MetricsServer(metrics, "127.0.0.1", 0)
    port = server.start()
    try:
        text = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
    finally:
        server.stop()
    assert (
        'http_requests_total{endpoint="/v1/items/<item_id>",method="GET",status="200"} 1.0' in text
    )


async def test_serving_the_app_starts_and_stops_the_metrics_endpoint(app, settings):
    url = f"http://127.0.0.1:{settings.prometheus_port}/metrics"
    async with app.test_app():
        text = await asyncio.to_thread(_get, url)
        assert "# TYPE http_requests_total counter" in text
    try:
        await asyncio.to_thread(_get, url)
    except OSError:
        pass
    else:
        raise AssertionError("metrics endpoint still answering after shutdown")
