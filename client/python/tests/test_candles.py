"""Candles: ``client.candles()`` (GET /v1/candles: query, token, paging, errors) and
``client.candle_stream()`` (history then live: seam ordering, no duplicate bucket, refill after a
resync), against a fake gateway that serves the WebSocket and the HTTP endpoint on one port."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from http import HTTPStatus
from typing import Any

import pytest

from tickwire import Backoff, Candle, CandleList, Client, TickwireError, _candles
from tickwire.sync import SyncClient

from .conftest import FakeConn, FakeGateway, until, within

FAST = Backoff(initial=0.01, max=0.05)
TOPIC = "candle.1s.BTC-USD"
E1 = "epoch-1"
T0 = 1_795_000_000_000  # a bucket open time, epoch ms
STEP = 1000


def candle(i: int, x: bool = True, n: int = 3) -> dict[str, Any]:
    """Bucket ``i`` (open time T0 + i s)."""
    return {"t": T0 + i * STEP, "o": 100.0 + i, "h": 101.0 + i, "l": 99.0 + i, "c": 100.5 + i, "v": 2.0, "q": 201.0 + i, "n": n, "x": x}


class CandleServer:
    """Answers GET /v1/candles from a list of closed buckets (oldest first), as the gateway does:
    the last ``limit`` before ``before``, at most ``max_limit``; records each request's query and headers."""

    def __init__(self, buckets: list[int], max_limit: int = 1000) -> None:
        self.buckets = buckets
        self.max_limit = max_limit
        self.requests: list[tuple[dict[str, str], dict[str, str]]] = []
        self.error: tuple[HTTPStatus, str] | None = None

    def __call__(self, connection: Any, request: Any) -> Any:
        u = urllib.parse.urlsplit(request.path)
        if u.path != "/v1/candles":
            return None  # the WebSocket upgrade
        q = dict(urllib.parse.parse_qsl(u.query))
        self.requests.append((q, {k.lower(): v for k, v in request.headers.raw_items()}))
        if self.error is not None:
            return self._respond(connection, *self.error)
        if not q.get("topic", "").startswith("candle."):
            body = {"op": "err", "code": "bad_topic", "msg": f"not a candle topic: {q.get('topic')}"}
            return self._respond(connection, HTTPStatus.BAD_REQUEST, json.dumps(body))
        limit = min(int(q["limit"]), self.max_limit)
        before = float(q["before"]) if "before" in q else float("inf")
        ts = [i for i in self.buckets if T0 + i * STEP < before][-limit:]
        return self._respond(connection, HTTPStatus.OK, json.dumps({"topic": q["topic"], "candles": [candle(i) for i in ts]}))

    @staticmethod
    def _respond(connection: Any, status: HTTPStatus, body: str) -> Any:
        r = connection.respond(status, body)
        del r.headers["Content-Type"]
        r.headers["Content-Type"] = "application/json" if body.startswith("{") else "text/plain"
        return r


# --------------------------------------------------------------------------------- history


async def test_history_oldest_first_with_the_token_as_bearer() -> None:
    http = CandleServer(list(range(30)))
    async with FakeGateway(process_request=http) as gw:
        client = Client(f"{gw.url}?access_token=secret-token")  # never connected: plain HTTP
        got = await within(10, client.candles(TOPIC, history=10))
        assert isinstance(got, CandleList) and got.topic == TOPIC
        assert [c.t for c in got] == [T0 + i * STEP for i in range(20, 30)]
        assert got[0] == Candle(TOPIC, None, T0 + 20 * STEP, 120.0, 121.0, 119.0, 120.5, 2.0, 221.0, 3, True)
        assert isinstance(got[0].n, int) and got[0].datetime.year == 2026
        (q, headers), *_ = http.requests
        assert q == {"topic": TOPIC, "limit": "10"}
        assert headers.get("authorization") == "Bearer secret-token"
        older = await within(10, client.candles(TOPIC, 5, before=T0 + 20 * STEP))
        assert [c.t for c in older] == [T0 + i * STEP for i in range(15, 20)]
        assert http.requests[-1][0]["before"] == str(T0 + 20 * STEP)
        assert client.subscriptions == ()


async def test_long_history_is_fetched_in_pages() -> None:
    http = CandleServer(list(range(2300)), max_limit=1000)
    async with FakeGateway(process_request=http) as gw:
        got = await within(20, Client(gw.url).candles(TOPIC, history=2500))
        assert [c.t for c in got] == [T0 + i * STEP for i in range(2300)]  # all there is, once each
        assert [q.get("limit") for q, _ in http.requests] == ["1000", "1000", "500"]
        assert [q.get("before") for q, _ in http.requests] == [None, str(T0 + 1300 * STEP), str(T0 + 300 * STEP)]


async def test_endpoint_errors_raise_with_the_gateway_code() -> None:
    http = CandleServer([1, 2])
    async with FakeGateway(process_request=http) as gw:
        client = Client(gw.url)
        with pytest.raises(TickwireError) as ei:
            await within(10, client.candles("trade.BTC-USD", 5))
        assert (ei.value.code, ei.value.topics) == ("bad_topic", ("trade.BTC-USD",)) and "not a candle topic" in ei.value.msg
        http.error = (HTTPStatus.UNAUTHORIZED, json.dumps({"op": "err", "code": "unauthorized", "msg": "a token is required"}))
        with pytest.raises(TickwireError, match="a token is required") as ei:
            await within(10, client.candles(TOPIC, 5))
        assert ei.value.code == "unauthorized"
        http.error = (HTTPStatus.BAD_GATEWAY, "upstream down")
        with pytest.raises(TickwireError) as ei:
            await within(10, client.candles(TOPIC, 5))
        assert ei.value.code == "protocol_error" and "HTTP 502" in ei.value.msg


async def test_candle_list_to_frame() -> None:
    import pandas as pd  # an optional extra of the package, part of its test extra

    http = CandleServer(list(range(3)))
    async with FakeGateway(process_request=http) as gw:
        df = (await within(10, Client(gw.url).candles(TOPIC, 3))).to_frame()
    assert isinstance(df, pd.DataFrame) and list(df.columns) == ["t", "o", "h", "l", "c", "v", "q", "n", "x"]
    assert list(df.index) == [pd.Timestamp(T0 + i * STEP, unit="ms", tz="UTC") for i in range(3)]
    assert df["o"].tolist() == [100.0, 101.0, 102.0] and df["n"].dtype == "int64" and df["x"].dtype == "bool"


# ------------------------------------------------------------------------------ live stream


def kinds(cs: list[Candle]) -> list[tuple[int, bool, str]]:
    """(bucket, closed, source) per candle."""
    return [((int(c.t) - T0) // STEP, c.x, "hist" if c.seq is None else "live") for c in cs]


async def take(it: Any, n: int, timeout: float = 10.0) -> list[Any]:
    got: list[Any] = []

    async def go() -> list[Any]:
        while len(got) < n:
            got.append(await it.__anext__())
        return got

    try:
        return await within(timeout, go())
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out after {len(got)} of {n} candles: {kinds(got)}") from None


async def live(c: FakeConn, seq: int, items: list[dict[str, Any]], snap: bool = False, **kw: Any) -> None:
    if snap:
        await c.send({"op": "snap", "topic": TOPIC, "seq": seq, "epoch": E1, "data": items[0], **kw})
    else:
        await c.send({"op": "upd", "topic": TOPIC, "seq": seq, "data": items})


@pytest.mark.parametrize(
    ("history_has", "expected_live"),
    [
        # The history already has bucket 9 closed: the live updates of 9 are not repeated.
        (10, [(10, False, "live"), (10, True, "live"), (11, False, "live")]),
        # The history lags behind (bucket 9 not written yet): 9 comes from the live stream, closed last.
        (9, [(9, False, "live"), (9, True, "live"), (10, False, "live"), (10, True, "live"), (11, False, "live")]),
    ],
    ids=["history-has-the-last-bucket", "history-lags"],
)
async def test_history_then_live_without_duplicates(history_has: int, expected_live: list[Any]) -> None:
    http = CandleServer(list(range(history_has)))

    async def script(c: FakeConn) -> None:
        m = await c.sub_ack()
        assert m["topics"] == [TOPIC]
        # Sent right after the ack, before the history request: buffered, then filtered at the seam.
        await live(c, 5, [candle(9, x=False, n=1)], snap=True)
        await live(c, 6, [candle(9, x=True), candle(10, x=False, n=1)])
        await live(c, 8, [candle(10, x=True), candle(11, x=False, n=1)])

    async with FakeGateway(script, process_request=http) as gw, Client(gw.url, reconnect=FAST) as client:
        stream = client.candle_stream(TOPIC, history=5)
        got = await take(stream, 5 + len(expected_live))
        hist = history_has - 5
        assert kinds(got) == [(i, True, "hist") for i in range(hist, history_has)] + expected_live
        assert [c.seq for c in got if c.seq is not None] == sorted(c.seq for c in got if c.seq is not None)
        # The subscription was acked before the history was asked for: nothing closes unseen between.
        assert len(http.requests) == 1 and [m["op"] for m in gw.connections[0].received] == ["sub"]


@pytest.mark.parametrize(("page", "requests"), [(100, 2), (2, 3)], ids=["one-page", "paged-back"])
async def test_a_resync_refills_the_candles_that_closed_meanwhile(monkeypatch: pytest.MonkeyPatch, page: int, requests: int) -> None:
    monkeypatch.setattr(_candles, "REFILL_PAGE", page)
    http = CandleServer(list(range(10)))

    async def script(c: FakeConn) -> None:
        await c.sub_ack()
        await until(lambda: http.requests, "the first history request")
        await live(c, 1, [candle(10, x=False, n=1)], snap=True)
        await live(c, 2, [candle(10, x=False, n=2)])
        # Updates 3..6 are lost (buckets 10..12 close meanwhile), the gateway jumps to 7.
        http.buckets = list(range(13))
        await live(c, 7, [candle(13, x=False, n=1)])
        m = await c.expect("unsub")
        await c.send({"op": "ack", "id": m["id"], "topics": m["topics"]})
        m = await c.expect("sub")
        await c.send({"op": "ack", "id": m["id"], "topics": m["topics"]})
        await live(c, 7, [candle(13, x=False, n=1)], snap=True)
        await live(c, 8, [candle(13, x=True), candle(14, x=False, n=1)])

    async with FakeGateway(script, process_request=http) as gw, Client(gw.url, reconnect=FAST) as client:
        stream = client.candle_stream(TOPIC, history=3)
        got = await take(stream, 3 + 2 + 3 + 3)
        assert kinds(got) == [
            (7, True, "hist"), (8, True, "hist"), (9, True, "hist"),
            (10, False, "live"), (10, False, "live"),
            (10, True, "hist"), (11, True, "hist"), (12, True, "hist"),  # the refill after the Resync
            (13, False, "live"), (13, True, "live"), (14, False, "live"),
        ]  # fmt: skip
        assert stream.refills == 1 and len(http.requests) == requests
        await until(lambda: [m["op"] for m in gw.connections[0].received] == ["sub", "unsub", "sub"], "the gap recovery")


async def test_zero_history_is_live_only() -> None:
    http = CandleServer(list(range(10)))

    async def script(c: FakeConn) -> None:
        await c.sub_ack()
        await live(c, 1, [candle(10, x=False, n=1)], snap=True)

    async with FakeGateway(script, process_request=http) as gw, Client(gw.url, reconnect=FAST) as client:
        assert kinds(await take(client.candle_stream(TOPIC, history=0), 1)) == [(10, False, "live")]
        assert http.requests == []


async def test_sync_client_candles() -> None:
    http = CandleServer(list(range(4)))
    async with FakeGateway(process_request=http) as gw:

        def run() -> CandleList:
            client = SyncClient(gw.url)  # no connection needed for the history
            try:
                return client.candles(TOPIC, 3)
            finally:
                client.close()

        got = await within(20, asyncio.to_thread(run))
    assert [c.t for c in got] == [T0 + i * STEP for i in (1, 2, 3)]
