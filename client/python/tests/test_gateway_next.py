"""Real-gateway tests for resume and delivery under pressure: gap-free resume with `since`,
resync-flagged snapshots, throttled topics, the msgpack+deflate subprotocol, permessage-deflate.
The same behaviours are covered against a scripted fake server in test_fake_server.py.
"""

from __future__ import annotations

import asyncio
import itertools

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
)

from .conftest import GatewayFactory, GatewayProcess, free_port, within
from .test_gateway import assert_continuous, collect, n_ticks

ALL_FORMATS = ["msgpack", "json", "msgpack+deflate"]


@pytest.mark.parametrize("fmt", ALL_FORMATS)
async def test_resume_is_gap_free_across_a_reconnect(gateway: GatewayProcess, fmt: str) -> None:
    """Reconnect (same gateway): the resubscription carries `since`, the gateway replays what
    was missed from its history, and the streams continue with no snapshot, gap or duplicate."""
    topics = ["trade.BTC-USD", "quote.BTC-USD"]
    client = Client(gateway.url, fmt)
    events = client.events()
    async with client:
        stream = client.stream(*topics, events=True)
        before = await collect(stream, lambda xs: all(n_ticks(xs, t) >= 50 for t in topics), timeout=15)
        for _ in range(3):
            await within(15, client.reconnect())
            await asyncio.sleep(0.2)  # ticks keep coming meanwhile: the resume must replay them
        after = await collect(stream, lambda xs: all(n_ticks(xs, t) >= 200 for t in topics), timeout=20)
        assert not [x for x in after if isinstance(x, (Resync, Gap, Snapshot))]
        assert_continuous(before + after)
    seen = [e async for e in events]
    assert [e.state for e in seen if isinstance(e, StatusChange)].count(State.RECONNECTING) == 3
    assert sum(isinstance(e, Snapshot) for e in seen) == len(topics)  # only the first subscription's


async def test_gateway_restart_gives_a_server_flagged_resync(gateway_factory: GatewayFactory) -> None:
    """A resume point from an old epoch cannot be served: the new gateway answers with a
    `resync: true` snapshot, which the client reports as a Resync (reason: the epoch changed)."""
    port = free_port()
    gw1 = gateway_factory.start(port)
    topic = "quote.ETH-USD"
    async with Client(gw1.url, reconnect=Backoff(initial=0.1, max=1.0)) as client:
        stream = client.stream(topic, events=True)
        before = await collect(stream, lambda xs: n_ticks(xs, topic) >= 20, timeout=15)
        assert await asyncio.to_thread(gw1.terminate) == 0
        gw2 = await asyncio.to_thread(gateway_factory.start, port)
        after = await collect(
            stream, lambda xs: n_ticks(xs[next((i for i, x in enumerate(xs) if isinstance(x, Resync)), len(xs)) :], topic) >= 20, timeout=30
        )
        (resync,) = [x for x in after if isinstance(x, Resync)]
        assert (resync.reason, resync.epoch, resync.last_epoch) == (ResyncReason.EPOCH, gw2.epoch, gw1.epoch)
        snap = after[after.index(resync) + 1]
        assert isinstance(snap, Snapshot) and snap.resync is True  # flagged by the server this time
        assert_continuous(before + after)


async def test_throttled_topic_beside_the_raw_one(gateway: GatewayProcess) -> None:
    raw, slow = "quote.BTC-USD", "quote.BTC-USD@100ms"
    async with Client(gateway.url) as client:
        events = client.events()
        stream = client.stream(raw, slow, events=True)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        items = await collect(stream, lambda xs: n_ticks(xs, slow) >= 12, timeout=10)
        elapsed = loop.time() - t0
        mine = [x for x in items if getattr(x, "topic", None) == slow]
        assert isinstance(mine[0], Snapshot)
        ticks = [x for x in mine if isinstance(x, Quote)]
        seqs = [t.seq for t in ticks]
        assert seqs == sorted(set(seqs))  # increasing, with jumps by design
        assert max(b - a for a, b in itertools.pairwise(seqs)) > 1
        assert len(ticks) <= elapsed / 0.1 + 2  # at most one upd per interval (+ the snapshot)
        assert n_ticks(items, raw) > len(ticks)
        assert_continuous([x for x in items if getattr(x, "topic", None) == raw])
        assert not [e for e in events._dq if isinstance(e, Gap)]

        # After a reconnect the throttled view restarts with a snapshot (never resumed) while the
        # raw topic resumes gap-free.
        stream._dq.clear()
        await within(15, client.reconnect())
        after = await collect(stream, lambda xs: n_ticks(xs, slow) >= 3 and n_ticks(xs, raw) >= 50, timeout=10)
        assert any(isinstance(x, Snapshot) and x.topic == slow for x in after)
        assert not any(isinstance(x, (Snapshot, Resync)) and x.topic == raw for x in after)
        assert not [x for x in after if isinstance(x, Gap)]


async def test_bad_throttle_interval(gateway: GatewayProcess) -> None:
    async with Client(gateway.url) as client:
        with pytest.raises(TickwireError) as ei:
            await within(15, client.subscribe("quote.BTC-USD@42ms"))
        assert ei.value.code == "bad_topic" and ei.value.topics == ("quote.BTC-USD@42ms",)


async def test_shared_deflate_subprotocol(gateway: GatewayProcess) -> None:
    topics = ["trade.BTC-USD", "quote.ETH-USD", "quote.SOL-USD"]
    async with Client(gateway.url, "msgpack+deflate") as client:
        assert client.subprotocol == "tickwire.v1.msgpack+deflate"
        stream = client.stream(*topics, events=True)
        items = await collect(stream, lambda xs: all(n_ticks(xs, t) >= 200 for t in topics), timeout=20)
        for t in topics:
            assert isinstance(next(x for x in items if getattr(x, "topic", None) == t), Snapshot)
        assert_continuous(items)
        assert not [x for x in items if isinstance(x, (Gap, Resync))]
        assert 0 < await within(15, client.ping()) < 1
        with pytest.raises(TickwireError, match="bad_topic"):
            await within(15, client.subscribe("trade.btc"))


@pytest.mark.parametrize("mode", ["shared", "dedicated"])
async def test_permessage_deflate(gateway_factory: GatewayFactory, mode: str) -> None:
    gw = gateway_factory.start(0, "--compression", mode)
    async with Client(gw.url, permessage_deflate=True) as client:
        stream = client.stream("trade.BTC-USD")
        items = await collect(stream, lambda xs: len(xs) >= 200, timeout=15)
        assert_continuous(items)
