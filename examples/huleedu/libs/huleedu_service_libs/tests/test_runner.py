import asyncio
import json
import os
import signal
import urllib.request

import pytest

from huleedu_service_libs import serve


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


async def _wait_for_health(url: str) -> dict:
    for _ in range(100):
        try:
            return await asyncio.to_thread(_get, url)
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never answered")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_serve_stops_promptly_on_signal(app, settings, signum):
    task = asyncio.create_task(serve(app, settings, graceful_timeout=1.0))
    body = await _wait_for_health(f"http://127.0.0.1:{settings.http_port}/health")
    assert body["status"] == "ok"

    loop = asyncio.get_running_loop()
    started = loop.time()
    os.kill(os.getpid(), signum)
    await asyncio.wait_for(task, timeout=5)
    assert loop.time() - started < 3
    # The signal handlers are removed again once serving is over.
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)


async def test_serve_stops_when_the_event_is_set(app, settings):
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, settings, stop=stop, graceful_timeout=1.0))
    await _wait_for_health(f"http://127.0.0.1:{settings.http_port}/health")
    stop.set()
    await asyncio.wait_for(task, timeout=5)
