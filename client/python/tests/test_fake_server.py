"""Client behaviour against a scripted fake gateway: resume, resync, gaps, watchdog, close codes,
shared-deflate framing, overflow, errors."""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Any

import pytest

from tickwire import (
    Backoff,
    Client,
    ClosedError,
    Gap,
    Quote,
    Resync,
    Snapshot,
    State,
    StatusChange,
    TickwireError,
    Trade,
)

from .conftest import FakeConn, FakeGateway, until, within

FAST = Backoff(initial=0.01, max=0.05)
T = "trade.BTC-USD"
Q = "quote.BTC-USD@100ms"
E1 = "epoch-1"
E2 = "epoch-2"


def kinds(items: list[Any]) -> list[Any]:
    """A compact view: ticks as seq numbers, events by name."""
    out: list[Any] = []
    for x in items:
        if isinstance(x, (Trade, Quote)):
            out.append(x.seq)
        elif isinstance(x, Resync):
            out.append(("Resync", x.reason.value, x.seq))
        elif isinstance(x, Gap):
            out.append(("Gap", x.expected, x.got, x.reason))
        elif isinstance(x, Snapshot):
            out.append(("Snap", x.seq))
        else:
            out.append(type(x).__name__)
    return out


async def take(it: Any, n: int, timeout: float = 5.0) -> list[Any]:
    async def go() -> list[Any]:
        return [await it.__anext__() for _ in range(n)]

    return await within(timeout, go())


async def _all(it: Any) -> list[Any]:
    return [x async for x in it]


async def drain_events(ev: Any) -> list[Any]:
    """Everything queued in an EventStream right now (without waiting)."""
    out = []
    while ev._dq:
        out.append(ev._dq.popleft())
    return out


# --------------------------------------------------------------------------------- resume


async def test_resume_sends_since_after_reconnect() -> None:
    consumed = asyncio.Event()

    async def first(c: FakeConn) -> None:
        await c.sub_ack()
        await c.snap(T, 5, E1)
        await c.upd(T, 6, 3)  # 6..8
        await c.snap(Q, 40, E1)
        await c.upd(Q, 47)
        await within(15, consumed.wait())
        await c.close(1001, "server shutting down")

    async def second(c: FakeConn) -> None:
        m = await c.expect("sub")
        assert m["topics"] == [T, Q]
        # Non-throttled topics resume from the last tick processed; throttled ones never do.
        assert m["since"] == {T: {"epoch": E1, "seq": 8}}
        await c.send({"op": "ack", "id": m["id"], "topics": m["topics"]})
        await c.upd(T, 9, 2)  # the gateway resumes right after the ack, no snapshot
        await c.snap(Q, 60, E1)  # throttled: a fresh snapshot

    async with FakeGateway(first, second) as gw:
        async with Client(gw.url, reconnect=FAST) as client:
            events = client.events()
            trades = client.stream(T, events=True, subscribe=False)
            quotes = client.stream(Q, subscribe=False)
            assert await within(15, client.subscribe(T, Q)) == [T, Q]
            assert kinds(await take(trades, 5)) == [("Snap", 5), 5, 6, 7, 8]
            assert kinds(await take(quotes, 2)) == [40, 47]
            consumed.set()
            assert kinds(await take(trades, 2)) == [9, 10]  # no Resync, no duplicate, no gap
            assert kinds(await take(quotes, 1)) == [60]
            assert client.subscriptions == (T, Q)
            evs = await drain_events(events)
            states = [(e.state, e.code) for e in evs if isinstance(e, StatusChange)]
            assert states == [(State.RECONNECTING, 1001), (State.OPEN, None)]
            assert not [e for e in evs if isinstance(e, (Resync, Gap))]
        assert len(gw.connections) == 2


async def test_unsubscribed_topics_are_not_resubscribed() -> None:
    async def first(c: FakeConn) -> None:
        await c.sub_ack()
        m = await c.expect("unsub")
        assert m["topics"] == ["trade.ETH-USD"]
        await c.send({"op": "ack", "id": m["id"], "topics": m["topics"]})
        await c.close(1001)

    async def second(c: FakeConn) -> None:
        m = await c.expect("sub")
        assert m["topics"] == [T] and "since" not in m  # no tick was seen: nothing to resume
        await c.send({"op": "ack", "id": m["id"], "topics": m["topics"]})
        await c.serve_pings()

    async with FakeGateway(first, second) as gw, Client(gw.url, reconnect=FAST) as client:
        await within(15, client.subscribe(T, "trade.ETH-USD"))
        await within(15, client.unsubscribe("trade.ETH-USD"))
        assert client.subscriptions == (T,)
        await gw.wait_connections(2)
        await within(15, client.ping())


# --------------------------------------------------------------------------------- resync


@pytest.mark.parametrize(
    "epoch, seq, flag, expected",
    [
        (E1, 20, True, [("Resync", "server", 20), ("Snap", 20), 20, 21]),
        (E2, 3, False, [("Resync", "epoch", 3), ("Snap", 3), 3, 4]),
        (E2, 3, True, [("Resync", "epoch", 3), ("Snap", 3), 3, 4]),
        (E1, 20, False, [("Resync", "skipped", 20), ("Snap", 20), 20, 21]),
        (E1, 6, False, [("Snap", 6), 7, 8]),  # a plain snap of a tick already seen: no repeat
    ],
    ids=["resync-flag", "new-epoch", "new-epoch-flagged", "skipped", "duplicate"],
)
async def test_resync_after_reconnect(epoch: str, seq: int, flag: bool, expected: list[Any]) -> None:
    async def first(c: FakeConn) -> None:
        await c.sub_ack()
        await c.snap(T, 5, E1)
        await c.upd(T, 6)
        await c.close(1001)

    async def second(c: FakeConn) -> None:
        m = await c.sub_ack()
        assert m["since"] == {T: {"epoch": E1, "seq": 6}}
        await c.snap(T, seq, epoch, resync=flag)
        await c.upd(T, seq + 1, 2 if seq == 6 else 1)

    async with FakeGateway(first, second) as gw, Client(gw.url, reconnect=FAST) as client:
        events = client.events()
        s = client.stream(T, events=True)
        assert kinds(await take(s, 3)) == [("Snap", 5), 5, 6]
        assert kinds(await take(s, len(expected))) == expected
        resyncs = [e for e in await drain_events(events) if isinstance(e, Resync)]
        if expected[0][0] == "Resync":
            (r,) = resyncs
            assert (r.topic, r.epoch, r.seq, r.last_epoch, r.last_seq) == (T, epoch, seq, E1, 6)
        else:
            assert resyncs == []


# ------------------------------------------------------------------------------------ gap


async def test_gap_is_reported_and_recovered_by_resubscribing() -> None:
    async def script(c: FakeConn) -> None:
        await c.sub_ack()
        await c.snap(T, 1, E1)
        await c.upd(T, 2, 2)  # 2..3
        await c.upd(T, 7, 2)  # 7..8: 4..6 are missing
        await c.upd(T, 9)  # still on the broken stream: ignored by the client
        m = await c.expect("unsub")
        assert m["topics"] == [T]
        await c.send({"op": "ack", "id": m["id"], "topics": [T]})
        m = await c.expect("sub")
        assert m["topics"] == [T] and "since" not in m
        await c.send({"op": "ack", "id": m["id"], "topics": [T]})
        await c.snap(T, 12, E1)
        await c.upd(T, 13, 2)
        await c.serve_pings()

    async with FakeGateway(script) as gw, Client(gw.url, reconnect=FAST) as client:
        events = client.events()
        s = client.stream(T, events=True)
        got = kinds(await take(s, 10))
        assert got == [
            ("Snap", 1), 1, 2, 3,
            ("Gap", 4, 7, "seq"),
            ("Resync", "gap", 12), ("Snap", 12), 12, 13, 14,
        ]  # fmt: skip
        evs = await drain_events(events)
        assert [kinds([e]) for e in evs if isinstance(e, (Gap, Resync))] == [
            [("Gap", 4, 7, "seq")],
            [("Resync", "gap", 12)],
        ]
        assert client.subscriptions == (T,)
        assert len(gw.connections) == 1  # recovered on the same connection


# ------------------------------------------------------------------------------- watchdog


async def test_watchdog_reconnects_a_silent_connection() -> None:
    async def first(c: FakeConn) -> None:
        await c.sub_ack()
        await c.snap(T, 1, E1)
        for _ in range(15):  # alive for >= 1.5 s thanks to heartbeats (10x the watchdog's margin)
            await asyncio.sleep(0.1)
            await c.send({"op": "hb", "ts": 1.0})
        await asyncio.sleep(30)  # then silent, without closing

    async def second(c: FakeConn) -> None:
        m = await c.sub_ack()
        assert m["since"] == {T: {"epoch": E1, "seq": 1}}
        await c.upd(T, 2)
        await c.serve_pings()

    async with FakeGateway(first, second) as gw, Client(gw.url, reconnect=FAST, heartbeat_timeout=1.0) as client:
        events = client.events()
        s = client.stream(T)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert kinds(await take(s, 1)) == [1]
        await gw.wait_connections(2)
        elapsed = loop.time() - t0
        assert 1.5 + 1.0 - 0.15 < elapsed < 10.0, elapsed  # heartbeats kept it alive until then
        assert kinds(await take(s, 1)) == [2]
        (change,) = [e for e in await drain_events(events) if isinstance(e, StatusChange) and e.state is State.RECONNECTING]
        assert "heartbeat timeout" in (change.reason or "") and change.code == 1006


# ----------------------------------------------------------------------------- close codes


# 4003 and 4503 are in no table: their range decides (4000-4499 reconnect, 4500-4999 stop).
@pytest.mark.parametrize(
    "code, reconnects",
    [
        (1001, True),
        (4008, True),
        (1011, True),
        (4003, True),
        (1000, False),
        (1009, False),
        (4503, False),
    ],
)
async def test_close_codes(code: int, reconnects: bool) -> None:
    async def first(c: FakeConn) -> None:
        await c.sub_ack()
        await c.snap(T, 1, E1)
        await asyncio.sleep(0.05)
        await c.close(code, "bye")

    async def later(c: FakeConn) -> None:
        await c.sub_ack()
        await c.serve_pings()

    async with FakeGateway(first, later) as gw:
        client = Client(gw.url, reconnect=FAST)
        async with client:
            s = client.stream(T)
            assert kinds(await take(s, 1)) == [1]
            if reconnects:
                await gw.wait_connections(2)
                await within(15, client.ping())
                assert client.state is State.OPEN
                return
            with pytest.raises(ClosedError) as ei:
                await within(15, s.__anext__())  # the stream ends with the reason
            assert ei.value.code == code
            assert client.state is State.CLOSED and client.status.code == code
            with pytest.raises(ClosedError):
                await within(15, client.subscribe("trade.ETH-USD"))
            await asyncio.sleep(0.3)
            assert len(gw.connections) == 1  # terminal: no reconnect attempt


async def test_reconnect_disabled_closes_on_first_loss() -> None:
    async def first(c: FakeConn) -> None:
        await c.sub_ack()
        await c.close(1001)

    async with FakeGateway(first) as gw:
        client = Client(gw.url, reconnect=None)
        ev = client.events()
        async with client:
            await within(15, client.subscribe(T))
            seen = await within(15, _all(ev))
            change = seen[-1]
            assert [e.state for e in seen] == [State.CONNECTING, State.OPEN, State.CLOSED]
            assert change.code == 1001 and client.state is State.CLOSED
            assert "reconnecting is disabled" in change.reason


async def test_refused_upgrade_is_terminal() -> None:
    calls = 0

    def refuse(connection: Any, request: Any) -> Any:
        nonlocal calls
        calls += 1
        return connection.respond(HTTPStatus.BAD_REQUEST, "unsupported WebSocket subprotocol\n")

    async with FakeGateway(process_request=refuse) as gw:
        client = Client(gw.url, reconnect=FAST)
        with pytest.raises(ClosedError, match="HTTP 400: unsupported WebSocket subprotocol"):
            await within(15, client.connect())
        assert client.state is State.CLOSED and calls == 1


async def test_unavailable_server_is_retried_then_connect_timeout() -> None:
    calls = 0

    def busy(connection: Any, request: Any) -> Any:
        nonlocal calls
        calls += 1
        return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "starting\n")

    async with FakeGateway(process_request=busy) as gw:
        client = Client(gw.url, reconnect=FAST, connect_timeout=0.5)
        with pytest.raises(asyncio.TimeoutError, match="HTTP 503"):
            await within(15, client.connect())
        assert client.state is State.CLOSED and calls >= 3


async def test_first_connection_is_retried_until_the_server_starts() -> None:
    from .conftest import free_port

    port = free_port()
    client = Client(f"ws://127.0.0.1:{port}/v1", reconnect=FAST)
    connecting = asyncio.create_task(client.connect())
    try:
        await until(lambda: client.status.attempt >= 2, "two failed connection attempts")
        assert not connecting.done() and client.state is State.CONNECTING
        assert "connection refused at" in (client.status.reason or "")
        gw = FakeGateway(lambda c: c.serve_pings())
        gw_ctx = await _serve_on(gw, port)
        try:
            await within(15, connecting)
            assert client.state is State.OPEN
            await within(15, client.ping())
        finally:
            await gw_ctx.__aexit__(None, None, None)
    finally:
        connecting.cancel()
        await client.close()


async def _serve_on(gw: FakeGateway, port: int) -> FakeGateway:
    from websockets.asyncio.server import serve

    from tickwire.codec import SUBPROTOCOLS

    gw._server = await serve(gw._handle, "127.0.0.1", port, subprotocols=[SUBPROTOCOLS[gw.fmt]], ping_interval=None)  # type: ignore[list-item]
    gw.port = port
    return gw


# ---------------------------------------------------------------------------- deflate


async def test_shared_deflate_frames_decode_in_order() -> None:
    async def script(c: FakeConn) -> None:
        m = await c.expect("sub")
        await c.send({"op": "ack", "id": m["id"], "topics": m["topics"]}, compress=False)
        await c.snap(T, 1, E1, compress=True)
        seq = 2
        for i in range(20):  # alternate plain (0x00) and compressed (0x01) frames, various sizes
            n = 1 + (i * 7) % 13
            await c.upd(T, seq, n, compress=bool(i % 2))
            seq += n
        await c.send({"op": "hb", "ts": 1.0})  # small: sent plain by the helper's default
        await c.serve_pings()

    async with FakeGateway(script, fmt="msgpack+deflate") as gw:
        async with Client(gw.url, "msgpack+deflate", reconnect=FAST) as client:
            assert client.subprotocol == "tickwire.v1.msgpack+deflate"
            s = client.stream(T)
            total = 1 + sum(1 + (i * 7) % 13 for i in range(20))
            got = await take(s, total)
            assert [t.seq for t in got] == list(range(1, total + 1))
            assert all(isinstance(t, Trade) and t.px == 100.0 + t.seq for t in got)
            await within(15, client.ping())
        conn = gw.connections[0]
        # What the client sent was plain msgpack (FakeConn.recv would have failed otherwise).
        assert [m["op"] for m in conn.received[:2]] == ["sub", "ping"]


# ---------------------------------------------------------------------------- overflow


async def test_slow_stream_drops_oldest_and_reports_a_gap() -> None:
    async def script(c: FakeConn) -> None:
        await c.sub_ack()
        await c.snap(T, 1, E1)
        await c.upd(T, 2, 19)  # 2..20
        await c.serve_pings()

    async with FakeGateway(script) as gw, Client(gw.url, reconnect=FAST) as client:
        events = client.events()
        slow = client.stream(T, maxsize=5, subscribe=False)
        fast = client.stream(T, subscribe=False)
        await within(15, client.subscribe(T))
        await within(15, client.ping())  # the pong comes after every tick: all dispatched
        assert slow.dropped == 15
        assert kinds(await take(slow, 5)) == [16, 17, 18, 19, 20]
        assert kinds(await take(fast, 20)) == list(range(1, 21))  # other streams unaffected
        gaps = [e for e in await drain_events(events) if isinstance(e, Gap)]
        assert gaps == [Gap(T, 1, 16, "overflow")]


async def test_slow_stream_inline_overflow_gap() -> None:
    async def script(c: FakeConn) -> None:
        await c.sub_ack()
        await c.snap(T, 1, E1)
        await c.upd(T, 2, 9)  # 2..10
        await c.serve_pings()

    async with FakeGateway(script) as gw, Client(gw.url, reconnect=FAST) as client:
        s = client.stream(T, maxsize=4, events=True, subscribe=False)
        await within(15, client.subscribe(T))
        await within(15, client.ping())
        # maxsize counts every item; events are never dropped, so the Snapshot event stays and
        # ticks 1..7 were dropped to keep the newest 3.
        assert s.dropped == 7
        assert kinds(await take(s, 5)) == [("Snap", 1), ("Gap", 1, 8, "overflow"), 8, 9, 10]


# ------------------------------------------------------------------------------ errors


async def test_bad_topic_with_valid_ones_in_the_same_request() -> None:
    async def script(c: FakeConn) -> None:
        m = await c.expect("sub")
        assert m["topics"] == [T, "trade.btc"]
        # Gateway order: err for the invalid names, then ack for the valid ones, then snaps.
        await c.send({"op": "err", "id": m["id"], "code": "bad_topic", "msg": "invalid topic name(s)", "topics": ["trade.btc"]})
        await c.send({"op": "ack", "id": m["id"], "topics": [T]})
        await c.snap(T, 1, E1)
        await c.serve_pings()

    async with FakeGateway(script) as gw, Client(gw.url, reconnect=FAST) as client:
        s = client.stream(T, subscribe=False)
        with pytest.raises(TickwireError) as ei:
            await within(15, client.subscribe(T, "trade.btc", T))
        assert (ei.value.code, ei.value.topics) == ("bad_topic", ("trade.btc",))
        assert client.subscriptions == (T,)
        assert kinds(await take(s, 1)) == [1]


async def test_other_errors_and_request_timeout() -> None:
    async def script(c: FakeConn) -> None:
        m = await c.expect("sub")
        await c.send({"op": "err", "id": m["id"], "code": "too_many_topics", "msg": "at most 2 topics per request"})
        await c.send({"op": "err", "code": "bad_frame", "msg": "an error without id is only logged"})
        await c.expect("ping")  # never answered

    async with FakeGateway(script) as gw, Client(gw.url, reconnect=FAST, request_timeout=0.3) as client:
        with pytest.raises(TickwireError) as ei:
            await within(15, client.subscribe("trade.A", "trade.B", "trade.C"))
        assert ei.value.code == "too_many_topics" and ei.value.topics == ()
        assert client.subscriptions == ()
        with pytest.raises(asyncio.TimeoutError):
            await within(15, client.ping())


async def test_requests_are_split_by_max_topics_per_request() -> None:
    topics = [f"trade.S{i}" for i in range(5)]

    async def script(c: FakeConn) -> None:
        for chunk in (topics[:2], topics[2:4], topics[4:]):
            m = await c.sub_ack()
            assert m["topics"] == chunk
        await c.serve_pings()

    async with FakeGateway(script) as gw, Client(gw.url, reconnect=FAST, max_topics_per_request=2) as client:
        assert await within(15, client.subscribe(topics)) == topics
        assert client.subscriptions == tuple(topics)


# ------------------------------------------------------------------------------ lifecycle


async def test_close_ends_streams_and_events() -> None:
    async def script(c: FakeConn) -> None:
        await c.sub_ack()
        await c.snap(T, 1, E1)
        await c.serve_pings()

    async with FakeGateway(script) as gw:
        client = Client(gw.url, reconnect=FAST)
        events = client.events()  # registered before connecting: sees every state change
        async with client:
            s = client.stream(T)
            assert kinds(await take(s, 1)) == [1]
            pending = asyncio.create_task(s.__anext__())
            await asyncio.sleep(0.05)
        with pytest.raises(StopAsyncIteration):
            await within(15, pending)
        seen = [e async for e in events]
        assert [(e.state, e.previous) for e in seen if isinstance(e, StatusChange)] == [
            (State.CONNECTING, State.IDLE),
            (State.OPEN, State.CONNECTING),
            (State.CLOSED, State.OPEN),
        ]
        assert client.state is State.CLOSED and client.status.reason == "closed by client"
        await client.close()  # idempotent
        with pytest.raises(ClosedError):
            await client.ping()
        assert [x async for x in client.stream(T, subscribe=False)] == []


async def test_operations_need_a_connection() -> None:
    client = Client("ws://127.0.0.1:1/v1")
    assert client.state is State.IDLE
    with pytest.raises(RuntimeError, match="not connected"):
        await client.subscribe(T)
    with pytest.raises(ValueError):
        Client("ws://x/v1", format="xml")
    await client.close()
    assert client.state is State.CLOSED


async def test_reconnect_now_resumes_immediately() -> None:
    async def first(c: FakeConn) -> None:
        await c.sub_ack()
        await c.snap(T, 1, E1)
        await c.upd(T, 2)
        await c.serve_pings()

    async def second(c: FakeConn) -> None:
        m = await c.sub_ack()
        assert m["since"] == {T: {"epoch": E1, "seq": 2}}
        await c.upd(T, 3)
        await c.serve_pings()

    async with FakeGateway(first, second) as gw, Client(gw.url, reconnect=None) as client:  # an explicit reconnect needs no backoff
        s = client.stream(T)
        assert kinds(await take(s, 2)) == [1, 2]
        await within(15, client.reconnect())
        assert kinds(await take(s, 1, timeout=15)) == [3]
        assert client.status.state is State.OPEN


async def test_shutdown_notice_reconnects_at_once_and_resumes() -> None:
    """`{op:"shutdown"}`: the client leaves before the gateway's 1001 and reconnects with no
    backoff (reconnect=None proves no backoff delay was needed), resuming with since."""
    closed_by_client = asyncio.Event()

    async def first(c: FakeConn) -> None:
        await c.sub_ack()
        await c.snap(T, 1, E1)
        await c.upd(T, 2)
        await c.send({"op": "shutdown", "ts": 1, "msg": "draining"})
        await c.ws.wait_closed()
        if c.ws.close_code == 1000:
            closed_by_client.set()

    async def second(c: FakeConn) -> None:
        m = await c.sub_ack()
        assert m["since"] == {T: {"epoch": E1, "seq": 2}}
        await c.upd(T, 3)
        await c.serve_pings()

    async with FakeGateway(first, second) as gw, Client(gw.url, reconnect=None) as client:
        s = client.stream(T)
        assert kinds(await take(s, 3, timeout=15)) == [1, 2, 3]
        assert closed_by_client.is_set()
        assert client.status.state is State.OPEN
