"""Integration tests against the real, built gateway (dist/gateway/src/main.js) run as a subprocess.

`npm test` builds dist/ before running these (scripts/py-test.sh); alone: `npm run build` first.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tickwire import (
    Backoff,
    Client,
    Gap,
    Quote,
    Resync,
    ResyncReason,
    Snapshot,
    State,
    StatusChange,
    TickwireError,
    Trade,
)
from tickwire.codec import SUBPROTOCOLS

from .conftest import GatewayFactory, GatewayProcess, free_port, within

FORMATS = ["msgpack", "json"]


def assert_continuous(items: list[Any]) -> None:
    """Per topic: consecutive seqs between ticks, unless a Resync (or Gap) sits between them."""
    last: dict[str, int] = {}
    for x in items:
        if isinstance(x, (Trade, Quote)):
            if x.topic in last:
                assert x.seq == last[x.topic] + 1, f"{x.topic}: silent jump {last[x.topic]} -> {x.seq}"
            last[x.topic] = x.seq
        elif isinstance(x, (Resync, Gap)):
            last.pop(x.topic, None)


async def collect(stream: Any, until: Any, timeout: float) -> list[Any]:
    out: list[Any] = []

    async def go() -> None:
        async for x in stream:
            out.append(x)
            if until(out):
                return

    await within(timeout, go())
    return out


def n_ticks(items: list[Any], topic: str) -> int:
    return sum(1 for x in items if isinstance(x, (Trade, Quote)) and x.topic == topic)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_snapshot_then_consecutive_ticks(gateway: GatewayProcess, fmt: str) -> None:
    topics = ["trade.BTC-USD", "quote.ETH-USD"]
    async with Client(gateway.url, fmt) as client:
        assert client.state is State.OPEN
        events = client.events()
        stream = client.stream(*topics, events=True)
        items = await collect(stream, lambda xs: all(n_ticks(xs, t) >= 100 for t in topics), timeout=20)
        for topic in topics:
            mine = [x for x in items if getattr(x, "topic", None) == topic]
            snap, first = mine[0], mine[1]
            assert isinstance(snap, Snapshot) and snap.epoch == gateway.epoch and not snap.resync
            assert first == snap.tick and first.seq == snap.seq  # the snapshot's tick comes first
            ticks = [x for x in mine if isinstance(x, (Trade, Quote))]
            assert [t.seq for t in ticks] == list(range(ticks[0].seq, ticks[0].seq + len(ticks)))
            assert all(isinstance(t, Trade if topic.startswith("trade.") else Quote) for t in ticks)
        trade = next(x for x in items if isinstance(x, Trade))
        assert all(isinstance(v, float) for v in (trade.ts, trade.px, trade.qty)) and trade.side in ("b", "s")
        quote = next(x for x in items if isinstance(x, Quote))
        assert quote.bid <= quote.ask and quote.bsz > 0 and quote.asz > 0
        assert_continuous(items)
        assert client.subscriptions == tuple(topics)
        await stream.aclose()
        assert not [e for e in events._dq if isinstance(e, (Gap, Resync))]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_ping(gateway: GatewayProcess, fmt: str) -> None:
    async with Client(gateway.url, fmt) as client:
        rtts = [await within(15, client.ping()) for _ in range(5)]
        assert all(0 < r < 1.0 for r in rtts)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_bad_topics_raise_tickwire_error(gateway: GatewayProcess, fmt: str) -> None:
    async with Client(gateway.url, fmt) as client:
        with pytest.raises(TickwireError) as ei:
            await within(15, client.subscribe("trade.btc-usd"))
        assert ei.value.code == "bad_topic" and ei.value.topics == ("trade.btc-usd",)
        assert client.subscriptions == ()

        # Valid and invalid names in one call: the error names the invalid ones, the valid ones
        # are subscribed and stream.
        stream = client.stream("quote.BTC-USD", subscribe=False)
        with pytest.raises(TickwireError) as ei:
            await within(15, client.subscribe("quote.BTC-USD", "level3.BTC-USD", "trade."))
        assert ei.value.code == "bad_topic" and set(ei.value.topics) == {"level3.BTC-USD", "trade."}
        assert client.subscriptions == ("quote.BTC-USD",)
        assert isinstance(await within(20, stream.__anext__()), Quote)

        # stream() subscribes on first iteration and raises the same error.
        with pytest.raises(TickwireError, match="bad_topic"):
            await within(15, client.stream("TRADE.BTC-USD").__anext__())
        with pytest.raises(TickwireError) as ei:
            await within(15, client.unsubscribe("nope"))
        assert ei.value.code == "bad_topic"
        assert client.state is State.OPEN
        await within(15, client.ping())  # the connection stays usable


async def test_unsubscribe_stops_the_topic(gateway: GatewayProcess) -> None:
    async with Client(gateway.url) as client:
        stream = client.stream("trade.BTC-USD", "trade.ETH-USD")
        await collect(stream, lambda xs: n_ticks(xs, "trade.ETH-USD") >= 5 and n_ticks(xs, "trade.BTC-USD") >= 5, timeout=10)
        await within(15, client.unsubscribe("trade.ETH-USD"))
        stream._dq.clear()  # what was queued before the unsubscribe
        items = await collect(stream, lambda xs: n_ticks(xs, "trade.BTC-USD") >= 100, timeout=15)
        assert n_ticks(items, "trade.ETH-USD") == 0
        assert client.subscriptions == ("trade.BTC-USD",)


async def test_sdk_reconnects_through_a_gateway_restart(gateway_factory: GatewayFactory) -> None:
    """SIGTERM the gateway (clients get 1001, reconnect: yes), start a new one on the same port:
    the client reconnects by itself, reports a Resync (new epoch) and streams consecutive ticks
    again, with no silent gap."""
    port = free_port()
    gw1 = gateway_factory.start(port)
    topic = "trade.BTC-USD"
    client = Client(gw1.url, reconnect=Backoff(initial=0.1, max=1.0))
    events = client.events()
    async with client:
        stream = client.stream(topic, events=True)
        before = await collect(stream, lambda xs: n_ticks(xs, topic) >= 50, timeout=15)
        assert isinstance(before[0], Snapshot) and before[0].epoch == gw1.epoch

        code = await asyncio.to_thread(gw1.terminate)
        assert code == 0, gw1.output()
        gw2 = None
        for _ in range(20):  # the port may take a moment to be reusable
            try:
                gw2 = await asyncio.to_thread(gateway_factory.start, port)
                break
            except BaseException:  # pytest.fail from a gateway that could not listen
                await asyncio.sleep(0.25)
        assert gw2 is not None and gw2.port == port and gw2.epoch != gw1.epoch

        after = await collect(
            stream,
            lambda xs: (
                any(isinstance(x, Resync) for x in xs)
                and n_ticks(xs[next(i for i, x in enumerate(xs) if isinstance(x, Resync)) :], topic) >= 50
            ),
            timeout=30,
        )
        (resync,) = [x for x in after if isinstance(x, Resync)]
        assert resync.reason is ResyncReason.EPOCH
        assert (resync.topic, resync.epoch, resync.last_epoch) == (topic, gw2.epoch, gw1.epoch)
        i = after.index(resync)
        assert isinstance(after[i + 1], Snapshot) and after[i + 1].epoch == gw2.epoch
        assert isinstance(after[i + 2], Trade) and after[i + 2].seq == resync.seq
        assert_continuous(before + after)
        assert not [x for x in after if isinstance(x, Gap)]
        assert client.state is State.OPEN

    seen = [e async for e in events]
    changes = [(e.state, e.code) for e in seen if isinstance(e, StatusChange)]
    # The gateway's shutdown notice comes before its 1001: the client closes (1000) and leaves at once.
    assert changes[:3] == [(State.CONNECTING, None), (State.OPEN, None), (State.RECONNECTING, 1000)]
    leaving = [e for e in seen if isinstance(e, StatusChange)][2]
    assert "server shutting down" in leaving.reason and leaving.delay == 0
    assert changes[-2:] == [(State.OPEN, None), (State.CLOSED, None)]
    assert not [e for e in seen if isinstance(e, Gap)]
    assert [e.reason for e in seen if isinstance(e, Resync)] == [ResyncReason.EPOCH]


@pytest.mark.parametrize("fmt", ["msgpack-compact", "msgpack-compact+deflate"])
async def test_compact_client_gets_the_ticks_a_msgpack_client_gets(gateway: GatewayProcess, fmt: str) -> None:
    """msgpack-compact (and with shared deflate): the same Trade/Quote objects (floats and all), consecutive, as msgpack delivers."""
    topics = ["trade.BTC-USD", "quote.ETH-USD"]
    enough = lambda xs: all(n_ticks(xs, t) >= 150 for t in topics)  # noqa: E731
    async with Client(gateway.url, fmt) as compact, Client(gateway.url, "msgpack") as plain:
        assert compact.subprotocol == SUBPROTOCOLS[fmt]
        got, ref = await asyncio.gather(
            collect(compact.stream(*topics), enough, timeout=20), collect(plain.stream(*topics), enough, timeout=20)
        )
    assert_continuous(got)
    assert_continuous(ref)
    by_key = {(x.topic, x.seq): x for x in ref if isinstance(x, (Trade, Quote))}
    same = 0
    for x in got:
        if isinstance(x, (Trade, Quote)) and (x.topic, x.seq) in by_key:
            assert x == by_key[(x.topic, x.seq)]
            same += 1
    assert same >= 150
    trade = next(x for x in got if isinstance(x, Trade))
    assert all(isinstance(v, float) for v in (trade.ts, trade.px, trade.qty))
