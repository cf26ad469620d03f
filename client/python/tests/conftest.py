"""Shared test helpers: a scripted fake gateway (websockets server) and the real gateway as a
subprocess. Every wait is bounded; every process started here is killed in teardown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import msgpack
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tickwire.codec import SUBPROTOCOLS, encode_server_frame

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[3]
GATEWAY_MAIN = REPO / "dist" / "gateway" / "src" / "main.js"

# Default bound of the helpers' waits: generous, since it only costs time when the awaited thing
# never comes, and a loaded machine can be seconds late.
WAIT_S = 15.0


async def within(seconds: float, aw: Awaitable[T]) -> T:
    """``asyncio.wait_for`` with the arguments in reading order."""
    return await asyncio.wait_for(aw, seconds)


async def until(pred: Callable[[], Any], what: str, timeout: float = 30.0, interval: float = 0.02) -> Any:
    """Polls ``pred`` (sync or async) until it returns a truthy value, which is returned; after
    ``timeout`` seconds fails naming ``what`` and the last value or error. Waiting on a condition
    instead of a fixed sleep keeps tests green on a busy machine; the bound only costs time on
    failure, so it is generous."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while True:
        try:
            v = pred()
            if asyncio.iscoroutine(v):
                v = await v
            if v:
                return v
            last = v
        except Exception as e:
            last = e
        if loop.time() >= deadline:
            seen = f"last error: {last!r}" if isinstance(last, Exception) else f"last value: {last!r}"
            raise AssertionError(f"timed out after {timeout} s waiting for {what} ({seen})")
        await asyncio.sleep(interval)


def trade(i: int) -> dict[str, Any]:
    return {"ts": 1.795e12 + i, "px": 100.0 + i, "qty": 1.0, "side": "b" if i % 2 else "s"}


def quote(i: int) -> dict[str, Any]:
    return {"ts": 1.795e12 + i, "bid": 100.0 + i, "bsz": 1.0, "ask": 100.5 + i, "asz": 2.0}


# ----------------------------------------------------------------------------- fake gateway


class FakeConn:
    """The server side of one client connection, speaking the client's format."""

    def __init__(self, ws: ServerConnection, fmt: str, index: int) -> None:
        self.ws = ws
        self.fmt = fmt
        self.index = index
        self.received: list[dict[str, Any]] = []
        self.raw_received: list[Any] = []

    async def recv(self, timeout: float = WAIT_S) -> dict[str, Any]:
        raw = await within(timeout, self.ws.recv())
        self.raw_received.append(raw)
        if self.fmt == "json":
            assert isinstance(raw, str), "client frames must be text on JSON"
            msg = json.loads(raw)
        else:
            # Client -> server frames are plain msgpack on every msgpack subprotocol (no flag byte).
            assert isinstance(raw, bytes), "client frames must be binary on msgpack"
            msg = msgpack.unpackb(raw, raw=False)
        self.received.append(msg)
        return msg

    async def expect(self, op: str, timeout: float = WAIT_S) -> dict[str, Any]:
        msg = await self.recv(timeout)
        assert msg.get("op") == op, f"expected {op}, got {msg}"
        return msg

    async def sub_ack(self, timeout: float = WAIT_S) -> dict[str, Any]:
        """Receives a ``sub`` and acknowledges all its topics."""
        m = await self.expect("sub", timeout)
        await self.send({"op": "ack", "id": m["id"], "topics": m["topics"]})
        return m

    async def send(self, msg: dict[str, Any], compress: bool | None = None) -> None:
        await self.ws.send(encode_server_frame(msg, self.fmt, compress=compress))

    async def snap(self, topic: str, seq: int, epoch: str, resync: bool = False, **kw: Any) -> None:
        data = quote(seq) if topic.startswith("quote.") else trade(seq)
        msg: dict[str, Any] = {"op": "snap", "topic": topic, "seq": seq, "epoch": epoch, "data": data}
        if resync:
            msg["resync"] = True
        await self.send(msg, **kw)

    async def upd(self, topic: str, seq: int, n: int = 1, **kw: Any) -> None:
        mk = quote if topic.startswith("quote.") else trade
        await self.send({"op": "upd", "topic": topic, "seq": seq, "data": [mk(seq + i) for i in range(n)]}, **kw)

    async def close(self, code: int, reason: str = "") -> None:
        await self.ws.close(code, reason)

    async def serve_pings(self) -> None:
        """Answers pings (and acks anything else) until the connection closes."""
        while True:
            m = await self.recv(timeout=60)
            if m["op"] == "ping":
                await self.send({"op": "pong", "id": m["id"]})
            elif m["op"] in ("sub", "unsub"):
                await self.send({"op": "ack", "id": m["id"], "topics": m["topics"]})


Script = Callable[[FakeConn], Awaitable[None]]


class FakeGateway:
    """A scripted stand-in for the gateway on 127.0.0.1:<free port>.

    Connection ``n`` (0-based) runs ``scripts[n]``, or the last script when there are fewer. When a
    script returns, the connection stays open until the client closes it. Exceptions raised by a
    script (failed assertions included) are collected and re-raised when the ``async with`` ends.
    """

    def __init__(self, *scripts: Script, fmt: str = "msgpack", process_request: Any = None) -> None:
        self.scripts = scripts
        self.fmt = fmt
        self.connections: list[FakeConn] = []
        self.errors: list[BaseException] = []
        self._process_request = process_request
        self._changed = asyncio.Event()
        self._handlers: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> FakeGateway:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            subprotocols=[SUBPROTOCOLS[self.fmt]],  # type: ignore[list-item]
            ping_interval=None,
            compression=None,
            process_request=self._process_request,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        for t in self._handlers:  # scripts may be sleeping on a connection the client dropped
            t.cancel()
        self._server.close()
        await within(5, self._server.wait_closed())
        if self.errors and exc[0] is None:
            raise self.errors[0]

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1"

    async def wait_connections(self, n: int, timeout: float = WAIT_S) -> FakeConn:
        """Waits until ``n`` connections were accepted; returns the n-th."""

        async def wait() -> FakeConn:
            while len(self.connections) < n:
                ev = self._changed
                await ev.wait()
            return self.connections[n - 1]

        return await within(timeout, wait())

    async def _handle(self, ws: ServerConnection) -> None:
        conn = FakeConn(ws, self.fmt, len(self.connections))
        self.connections.append(conn)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        ev, self._changed = self._changed, asyncio.Event()
        ev.set()
        script = self.scripts[min(conn.index, len(self.scripts) - 1)] if self.scripts else None
        try:
            if script is not None:
                await script(conn)
            await ws.wait_closed()
        except ConnectionClosed:
            pass
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            self.errors.append(e)


@pytest.fixture
def fake_gateway() -> Callable[..., FakeGateway]:
    return FakeGateway


# ------------------------------------------------------------------------------ real gateway


def free_port() -> int:
    """A TCP port that was free a moment ago (bind to 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayProcess:
    """The built gateway (dist/gateway/src/main.js) running as a subprocess."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.port: int | None = None
        self.epoch: str | None = None
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if self.port is None and '"port":' in line:
                try:
                    obj = json.loads(line)
                    self.port = int(obj["port"])
                    self.epoch = obj.get("epoch")
                except (ValueError, KeyError, TypeError):
                    m = re.search(r'"port":(\d+)', line)
                    if m:
                        self.port = int(m.group(1))
                if self.port is not None:
                    self._ready.set()
        self._ready.set()  # EOF: the process ended

    def wait_ready(self, timeout: float) -> None:
        if not self._ready.wait(timeout) or self.port is None:
            self.kill()
            pytest.fail(f"gateway did not report its port within {timeout}s; output:\n{self.output()}")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1"

    def output(self) -> str:
        return "".join(self.lines[-50:])

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM (the gateway closes its clients with 1001 and exits), SIGKILL if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.wait(5)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)


class GatewayFactory:
    """Starts gateways and kills every one of them at teardown (also when the test failed)."""

    def __init__(self) -> None:
        self.started: list[GatewayProcess] = []

    def start(self, port: int = 0, *extra: str, ready_timeout: float = 40.0) -> GatewayProcess:
        if not GATEWAY_MAIN.exists():
            pytest.fail(f"built gateway not found at {GATEWAY_MAIN}: run `npm run build` first")
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is not on PATH")
        args = [
            node, str(GATEWAY_MAIN),
            "--host", "127.0.0.1", "--port", str(port),
            "--feed-rate", "5000", "--flush-interval-ms", "2", "--heartbeat-interval-ms", "500",
            "--log-level", "info", *extra,
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("TICKWIRE_")}
        proc = subprocess.Popen(
            args, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        gw = GatewayProcess(proc)
        self.started.append(gw)
        gw.wait_ready(ready_timeout)
        return gw

    def close(self) -> None:
        for gw in self.started:
            gw.kill()


@pytest.fixture
def gateway_factory() -> Any:
    factory = GatewayFactory()
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def gateway(gateway_factory: GatewayFactory) -> GatewayProcess:
    return gateway_factory.start()
