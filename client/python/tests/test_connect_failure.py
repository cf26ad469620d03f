"""Issue 17 point 2: connecting to nothing (or to the wrong thing) raises a clear reason, fast.

Every case is bounded by ``within`` (a connect still pending fails the test), so the old
behaviour (retrying until a 30 s timeout, or an error carrying a page's HTML) fails too.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tickwire import Backoff, Client, ClosedError, ConnectError, ConnectTimeoutError, State

from .conftest import GatewayFactory, free_port, within

FAST = Backoff(initial=0.02, max=0.1)
BOUND = 8.0
SECRET = "test-secret-that-is-at-least-32-bytes-long!"


async def test_refused_raises_connection_refused_within_the_timeout() -> None:
    url = f"ws://127.0.0.1:{free_port()}/v1"
    client = Client(url, reconnect=FAST)
    t0 = time.monotonic()
    with pytest.raises(ConnectTimeoutError) as ei:
        await within(BOUND, client.connect(timeout=1.0))
    assert time.monotonic() - t0 < BOUND
    assert ei.value.kind == "refused"
    assert str(ei.value) == f"connection refused at {url} (gave up after 1s)"
    assert isinstance(ei.value, asyncio.TimeoutError)
    assert client.state is State.CLOSED


async def test_timeout_says_no_answer_within() -> None:
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)  # accepts TCP (backlog) and never answers the upgrade
    url = f"ws://127.0.0.1:{srv.getsockname()[1]}/v1"
    try:
        client = Client(url, reconnect=FAST)
        with pytest.raises(ConnectTimeoutError) as ei:
            await within(BOUND, client.connect(timeout=0.5))
        assert (ei.value.kind, str(ei.value)) == ("timeout", f"no answer within 0.5s from {url}")
    finally:
        srv.close()


@pytest.fixture
def html_server() -> Iterator[int]:
    class Page(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # a web server's answer, not an HTTP/1.0 one websockets rejects as invalid

        def do_GET(self) -> None:
            body = b"<!doctype html><html><body>the board</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


async def test_wrong_path_fails_fast_without_html(html_server: int) -> None:
    url = f"ws://127.0.0.1:{html_server}/"
    client = Client(url, reconnect=FAST)
    with pytest.raises(ConnectError) as ei:
        await within(BOUND, client.connect(timeout=60))
    assert (ei.value.kind, ei.value.status) == ("not_tickwire", 200)
    assert str(ei.value) == f"HTTP 200 from {url} is not a tickwire endpoint; the path is /v1"
    assert "<" not in str(ei.value)


async def test_gateway_root_is_not_tickwire_and_auth_refusal_gives_the_reason(gateway_factory: GatewayFactory) -> None:
    gw = gateway_factory.start(0, "--auth-mode", "jwt", "--jwt-secret", SECRET)
    root = f"ws://127.0.0.1:{gw.port}/"
    with pytest.raises(ConnectError) as ei:
        await within(BOUND, Client(root, reconnect=FAST).connect(timeout=60))
    assert (ei.value.kind, str(ei.value)) == ("not_tickwire", f"HTTP 200 from {root} is not a tickwire endpoint; the path is /v1")
    assert "<" not in str(ei.value)

    client = Client(gw.url, reconnect=FAST)
    with pytest.raises(ConnectError) as ei:
        await within(BOUND, client.connect(timeout=60))
    assert (ei.value.kind, ei.value.status) == ("auth", 401)
    assert str(ei.value).startswith(f"authentication refused at {gw.url} (HTTP 401): a token is required")

    # retry="forever": a long-lived client keeps trying until close().
    client = Client(gw.url, reconnect=FAST, retry="forever")
    task = asyncio.create_task(client.connect(timeout=None))
    try:
        deadline = time.monotonic() + BOUND
        while client.status.attempt < 3:
            assert time.monotonic() < deadline, "three retries"
            assert not task.done()
            await asyncio.sleep(0.01)
        assert (client.status.reason or "").startswith("authentication refused")
    finally:
        await client.close()
        with pytest.raises(ClosedError):
            await within(BOUND, task)
