"""Order books: the checksum against the reference vectors (protocol/src/book.ts), the maintained
Book, and ``client.book()`` against a scripted fake gateway: change sets, checksum mismatch and
self-resync, gaps, overflow, stale books, server resync snapshots, throttled views."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from tickwire import Backoff, Book, BookChange, Client, Resync, ResyncReason, TickwireError, book_checksum, book_topic
from tickwire._book import to_units
from tickwire.sync import SyncClient

from .conftest import FakeConn, FakeGateway, until, within

FAST = Backoff(initial=0.01, max=0.05)
VECTORS = Path(__file__).parent / "fixtures" / "book-checksum.json"
#: The protocol's own vectors (npm run docs:fixtures), shared with the TypeScript SDK's tests.
SHARED_VECTORS = Path(__file__).parents[3] / "docs" / "fixtures" / "book-checksum.json"
TOPIC = "book.BTC-USD:10"
E1 = "epoch-1"
TICK, LOT = 0.5, 0.001


# ------------------------------------------------------------------------- checksum vectors


def _vectors() -> dict[str, Any]:
    return json.loads(VECTORS.read_text())


@pytest.mark.parametrize("v", _vectors()["vectors"] + json.loads(SHARED_VECTORS.read_text())["vectors"], ids=lambda v: v["name"])
def test_checksum_matches_the_reference(v: dict[str, Any]) -> None:
    bids = [tuple(x) for x in v["bids"]]
    asks = [tuple(x) for x in v["asks"]]
    assert book_checksum(bids, asks, v["tick"], v["lot"]) == v["cs"]
    # The same through a Book built from a snapshot of those levels.
    book = Book("book.X")
    snap = BookChange("book.X", 1, 0.0, tuple(bids), tuple(asks), v["cs"], snapshot=True, tick=v["tick"], lot=v["lot"])
    assert book.apply(snap) and book.cs == v["cs"]


@pytest.mark.parametrize("u", _vectors()["units"], ids=lambda u: f"{u['x']}/{u['unit']}")
def test_units_round_halves_up(u: dict[str, Any]) -> None:
    assert to_units(u["x"], u["unit"]) == u["units"]


def test_empty_book_checksum_is_zero() -> None:
    assert book_checksum([], [], 0.01, 1e-8) == 0 == zlib.crc32(b"")


def test_book_topic_names() -> None:
    assert book_topic("BTC-USD") == "book.BTC-USD"
    assert book_topic("BTC-USD", 10) == "book.BTC-USD:10"
    assert book_topic("BTC-USD", 25, 100) == "book.BTC-USD:25@100ms"
    assert book_topic("BTC-USD", None, "1000ms") == "book.BTC-USD@1000ms"
    for depth, throttle in ((5, None), (10, 50), (10, "fast")):
        with pytest.raises(ValueError):
            book_topic("BTC-USD", depth, throttle)


# ---------------------------------------------------------------------- reference book (oracle)


class RefBook:
    """The test's own book: plain dicts, sorted on demand. It plays the gateway."""

    def __init__(self, depth: int | None = None) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.depth = depth

    def top(self, n: int | None = None) -> tuple[list[list[float]], list[list[float]]]:
        n = n if n is not None else self.depth
        b = sorted(self.bids.items(), key=lambda x: -x[0])[:n]
        a = sorted(self.asks.items())[:n]
        return [list(x) for x in b], [list(x) for x in a]

    def cs(self) -> int:
        b, a = self.top(10)
        parts: list[str] = []
        for i in range(10):
            if i < len(b):
                parts.append(f"{int(b[i][0] / TICK + 0.5)}:{int(b[i][1] / LOT + 0.5)}")
            if i < len(a):
                parts.append(f"{int(a[i][0] / TICK + 0.5)}:{int(a[i][1] / LOT + 0.5)}")
        return zlib.crc32(":".join(parts).encode())

    def snap(self, ts: float = 1.0, **extra: Any) -> dict[str, Any]:
        b, a = self.top()
        return {"ts": ts, "bids": b, "asks": a, "cs": self.cs(), "tick": TICK, "lot": LOT, **extra}

    def change(self, b: list[list[float]], a: list[list[float]], ts: float = 1.0) -> dict[str, Any]:
        for side, levels in ((self.bids, b), (self.asks, a)):
            for px, qty in levels:
                if qty == 0:
                    side.pop(px, None)
                else:
                    side[px] = qty
        return {"ts": ts, "b": b, "a": a, "cs": self.cs()}

    def random_change(self, rng: random.Random) -> dict[str, Any]:
        b: list[list[float]] = []
        a: list[list[float]] = []
        for _ in range(rng.randint(1, 4)):
            bid = rng.random() < 0.5
            px = (rng.randint(180, 199) if bid else rng.randint(201, 220)) * TICK
            side = self.bids if bid else self.asks
            qty = 0.0 if (px in side and rng.random() < 0.4) else rng.randint(1, 5000) * LOT
            lst = b if bid else a
            if all(x[0] != px for x in lst):
                lst.append([px, qty])
        return self.change(b, a)


def seeded(depth: int | None = None) -> RefBook:
    ref = RefBook(depth)
    for i in range(12):
        ref.bids[(199 - i) * TICK] = (i + 1) * 10 * LOT
        ref.asks[(201 + i) * TICK] = (i + 2) * 10 * LOT
    return ref


def assert_same(book: Book, ref: RefBook) -> None:
    b, a = ref.top(None)
    assert [list(x) for x in book.bids] == b and [list(x) for x in book.asks] == a


def test_book_apply_keeps_sorted_levels() -> None:
    rng = random.Random(7)
    ref = seeded()
    book = Book("book.X")
    assert book.apply(BookChange("book.X", 1, 0.0, *_levels(ref.snap()), ref.cs(), snapshot=True, tick=TICK, lot=LOT))
    for seq in range(2, 300):
        ch = ref.random_change(rng)
        assert book.apply(_change("book.X", seq, ch)), f"checksum at seq {seq}"
        assert_same(book, ref)
    assert book.best_bid == max(ref.bids) and book.best_ask == min(ref.asks)
    assert book.spread == pytest.approx(min(ref.asks) - max(ref.bids))
    assert book.mid == pytest.approx((min(ref.asks) + max(ref.bids)) / 2)
    assert book.seq == 299
    copy = book.copy()
    book.apply(_change("book.X", 300, ref.change([[book.best_bid, 0]], [])))
    assert copy.best_bid != book.best_bid and copy.seq == 299


def test_empty_sides() -> None:
    book = Book("book.X")
    assert book.best_bid is None and book.best_ask is None and book.spread is None and book.mid is None and book.depth == 0
    assert book.checksum() == 0


def _levels(snap: dict[str, Any]) -> tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]:
    return tuple(map(tuple, snap["bids"])), tuple(map(tuple, snap["asks"]))  # type: ignore[return-value]


def _change(topic: str, seq: int, ch: dict[str, Any]) -> BookChange:
    return BookChange(topic, seq, ch["ts"], tuple(map(tuple, ch["b"])), tuple(map(tuple, ch["a"])), ch["cs"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- fake gateway


async def snap(c: FakeConn, topic: str, seq: int, data: dict[str, Any], **kw: Any) -> None:
    await c.send({"op": "snap", "topic": topic, "seq": seq, "epoch": E1, "data": data, **kw})


async def upd(c: FakeConn, topic: str, seq: int, changes: list[dict[str, Any]]) -> None:
    await c.send({"op": "upd", "topic": topic, "seq": seq, "data": changes})


async def take_books(bs: Any, n: int, check: Any = None, timeout: float = 10.0) -> list[int]:
    """Iterates ``n`` books, returning their seqs; ``check(book)`` runs on each while it is current."""

    async def go() -> list[int]:
        seqs = []
        for _ in range(n):
            book = await bs.__anext__()
            if check is not None:
                check(book)
            seqs.append(book.seq)
        return seqs

    return await within(timeout, go())


@pytest.mark.parametrize("fmt", ["msgpack", "json"])
async def test_maintained_book_follows_snapshot_and_change_sets(fmt: str) -> None:
    # Every level (book.<SYMBOL>): the fake sends raw change sets; a depth view's window diffs are the gateway's job.
    rng = random.Random(1)
    ref = seeded()
    topic = "book.BTC-USD"
    states: dict[int, tuple[list[list[float]], list[list[float]]]] = {}

    async def script(c: FakeConn) -> None:
        m = await c.sub_ack()
        assert m["topics"] == [topic]
        states[1] = ref.top(None)
        await snap(c, topic, 1, ref.snap())
        seq = 2
        for n in (1, 3, 5, 1):  # several change sets per upd frame: one seq step each
            changes = []
            for i in range(n):
                changes.append(ref.random_change(rng))
                states[seq + i] = ref.top(None)
            await upd(c, topic, seq, changes)
            seq += n

    def check(book: Book) -> None:
        b, a = states[book.seq]
        assert [list(x) for x in book.bids] == b and [list(x) for x in book.asks] == a
        assert book.tick == TICK and book.lot == LOT and not book.stale and book.cs == book.checksum()

    async with FakeGateway(script, fmt=fmt) as gw, Client(gw.url, fmt, reconnect=FAST) as client:
        bs = client.book("BTC-USD", depth=None)
        assert await take_books(bs, 11, check) == list(range(1, 12))
        assert bs.mismatches == 0 and bs.resyncs == 0


async def test_checksum_mismatch_resubscribes_and_never_yields_the_bad_book() -> None:
    ref = seeded()

    async def script(c: FakeConn) -> None:
        await c.sub_ack()
        await snap(c, TOPIC, 1, ref.snap())
        good = ref.change([[99.0, 0.5]], [])
        await upd(c, TOPIC, 2, [good])
        bad = ref.change([[98.5, 0.25]], [])
        bad["cs"] ^= 1  # the client's book after this change set cannot match
        await upd(c, TOPIC, 3, [bad, ref.change([], [[100.5, 0.125]])])
        m = await c.expect("unsub")
        assert m["topics"] == [TOPIC]
        await c.send({"op": "ack", "id": m["id"], "topics": m["topics"]})
        m = await c.expect("sub")
        assert m["topics"] == [TOPIC] and "since" not in m
        await c.send({"op": "ack", "id": m["id"], "topics": m["topics"]})
        await snap(c, TOPIC, 4, ref.snap())
        await upd(c, TOPIC, 5, [ref.change([], [[100.5, 0]])])

    def verified(b: Book) -> None:
        assert b.cs == book_checksum(*b.top(10), TICK, LOT)

    async with FakeGateway(script) as gw, Client(gw.url, reconnect=FAST) as client:
        events = client.events()
        bs = client.book("BTC-USD")
        # 3 fails its checksum; 4 arrives in the same frame and is ignored until the new snapshot (4).
        assert await take_books(bs, 4, verified) == [1, 2, 4, 5]
        assert_same(bs.book, ref)
        assert bs.mismatches == 1 and bs.resyncs == 1
        resyncs = [e async for e in _drain(events) if isinstance(e, Resync)]
        assert [(r.reason, r.seq, r.last_seq) for r in resyncs] == [(ResyncReason.CHECKSUM, 4, 4)]


async def _drain(ev: Any) -> Any:
    while ev._dq:
        yield ev._dq.popleft()


async def test_seq_gap_is_recovered_before_the_next_book() -> None:
    ref = seeded()

    async def script(c: FakeConn) -> None:
        await c.sub_ack()
        await snap(c, TOPIC, 1, ref.snap())
        ref.change([[99.0, 0.5]], [])  # seq 2: lost
        await upd(c, TOPIC, 3, [ref.change([], [[100.5, 1.0]])])
        await c.serve_pings()  # acks the client's unsub + sub

    async def second_snap(c: FakeConn) -> None:  # pragma: no cover - same connection expected
        raise AssertionError("the gap must be recovered on the same connection")

    async with FakeGateway(script, second_snap) as gw, Client(gw.url, reconnect=FAST) as client:
        bs = client.book("BTC-USD")
        assert await take_books(bs, 1) == [1]
        conn = gw.connections[0]
        await until(lambda: [m["op"] for m in conn.received] == ["sub", "unsub", "sub"], "the gap recovery's unsub + sub")
        await snap(conn, TOPIC, 3, ref.snap())
        assert await take_books(bs, 1) == [3]
        assert_same(bs.book, ref)
        assert bs.mismatches == 0


async def test_stale_change_set_empties_the_book_until_refilled() -> None:
    ref = seeded()

    async def script(c: FakeConn) -> None:
        await c.sub_ack()
        await snap(c, TOPIC, 1, ref.snap())
        b, a = ref.top(None)
        ref.bids.clear()
        ref.asks.clear()
        await upd(c, TOPIC, 2, [{"ts": 2.0, "b": [[px, 0] for px, _ in b], "a": [[px, 0] for px, _ in a], "cs": 0, "stale": True}])
        await upd(c, TOPIC, 3, [ref.change([[90.0, 1.0]], [[110.0, 2.0]])])

    books: list[tuple[int, bool, int, float | None]] = []
    async with FakeGateway(script) as gw, Client(gw.url, reconnect=FAST) as client:
        bs = client.book("BTC-USD")
        await take_books(bs, 3, lambda b: books.append((b.seq, b.stale, b.depth, b.best_bid)))
        assert books == [(1, False, 12, 99.5), (2, True, 0, None), (3, False, 1, 90.0)]
        assert bs.mismatches == 0


async def test_stale_snapshot_and_server_resync_snapshot_replace_the_book() -> None:
    ref = seeded()

    async def script(c: FakeConn) -> None:
        await c.sub_ack()
        await snap(c, TOPIC, 1, {"ts": 1.0, "bids": [], "asks": [], "cs": 0, "tick": TICK, "lot": LOT, "stale": True})
        await upd(c, TOPIC, 2, [ref.change(*ref.top(None))])  # the refill, one change set
        other = RefBook()
        other.bids[95.0] = 3.0
        other.asks[96.0] = 4.0
        await snap(c, TOPIC, 40, other.snap(), resync=True)  # e.g. a conflated slow connection

    books: list[tuple[int, bool, int]] = []
    async with FakeGateway(script) as gw, Client(gw.url, reconnect=FAST) as client:
        bs = client.book("BTC-USD")
        await take_books(bs, 3, lambda b: books.append((b.seq, b.stale, b.depth)))
        assert books == [(1, True, 0), (2, False, 12), (40, False, 1)]
        assert bs.book.bids == [(95.0, 3.0)] and bs.book.asks == [(96.0, 4.0)]


async def test_throttled_view_applies_merged_change_sets_with_seq_jumps() -> None:
    ref = seeded()
    topic = "book.BTC-USD:25@250ms"

    async def script(c: FakeConn) -> None:
        m = await c.sub_ack()
        assert m["topics"] == [topic]
        await snap(c, topic, 10, ref.snap())
        await upd(c, topic, 17, [ref.change([[99.5, 0], [99.0, 7.0]], [[100.5, 0]])])
        await upd(c, topic, 30, [ref.change([[98.0, 0]], [])])

    async with FakeGateway(script) as gw, Client(gw.url, reconnect=FAST) as client:
        bs = client.book("BTC-USD", depth=25, throttle=250)
        assert await take_books(bs, 3) == [10, 17, 30]
        assert_same(bs.book, ref)
        assert [m["op"] for m in gw.connections[0].received] == ["sub"]  # no resync for a throttled view's jumps


async def test_slow_consumer_overflow_resyncs_the_book() -> None:
    ref = seeded()
    rng = random.Random(3)
    sent = asyncio.Event()
    consumed = asyncio.Event()

    async def script(c: FakeConn) -> None:
        await c.sub_ack()
        await snap(c, TOPIC, 1, ref.snap())
        await within(10, consumed.wait())
        await upd(c, TOPIC, 2, [ref.random_change(rng) for _ in range(8)])  # 2..9, more than maxsize
        sent.set()
        m = await c.expect("unsub")
        await c.send({"op": "ack", "id": m["id"], "topics": m["topics"]})
        m = await c.expect("sub")
        await c.send({"op": "ack", "id": m["id"], "topics": m["topics"]})
        await snap(c, TOPIC, 9, ref.snap())

    async with FakeGateway(script) as gw, Client(gw.url, reconnect=FAST) as client:
        bs = client.book("BTC-USD", maxsize=4)
        assert await take_books(bs, 1) == [1]
        consumed.set()
        await within(10, sent.wait())
        await until(lambda: bs.dropped > 0, "the stream to drop change sets")
        assert await take_books(bs, 1) == [9]  # never a book with change sets missing
        assert_same(bs.book, ref)
        assert bs.resyncs == 1 and bs.mismatches == 0


def test_to_frame() -> None:
    import pandas as pd  # an optional extra of the package, part of its test extra

    ref = RefBook()
    ref.bids.update({99.0: 1.0, 98.5: 2.0})
    ref.asks.update({100.0: 0.5})
    book = Book("book.X")
    assert book.apply(BookChange("book.X", 1, 0.0, *_levels(ref.snap()), ref.cs(), snapshot=True, tick=TICK, lot=LOT))
    df = book.to_frame()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["side", "level", "px", "qty", "cum_qty"]
    assert df.values.tolist() == [["bid", 0, 99.0, 1.0, 1.0], ["bid", 1, 98.5, 2.0, 3.0], ["ask", 0, 100.0, 0.5, 0.5]]


def test_to_frame_without_pandas_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    with pytest.raises(ImportError, match=r'pip install "tickwire\[pandas\]"'):
        Book("book.X").to_frame()


async def test_sync_client_yields_book_copies() -> None:
    ref = seeded()

    async def script(c: FakeConn) -> None:
        await c.sub_ack()
        await snap(c, TOPIC, 1, ref.snap())
        await upd(c, TOPIC, 2, [ref.change([[99.5, 0]], [])])

    async with FakeGateway(script) as gw:

        def run() -> list[Book]:
            with SyncClient(gw.url, reconnect=FAST) as client:
                books = client.book("BTC-USD")
                return [books.get(timeout=10) for _ in range(2)]

        b1, b2 = await within(20, asyncio.to_thread(run))
    assert (b1.seq, b1.best_bid, b2.seq, b2.best_bid) == (1, 99.5, 2, 99.0)  # the first one did not change under the script


async def test_snapshots_that_never_verify_raise_instead_of_resubscribing_forever() -> None:
    ref = seeded()
    bad = {**ref.snap(), "cs": ref.cs() ^ 1}

    async def script(c: FakeConn) -> None:
        await c.sub_ack()
        await snap(c, TOPIC, 1, bad)
        for seq in (2, 3):
            m = await c.expect("unsub")
            await c.send({"op": "ack", "id": m["id"], "topics": m["topics"]})
            await c.sub_ack()
            await snap(c, TOPIC, seq, bad)

    async with FakeGateway(script) as gw, Client(gw.url, reconnect=FAST) as client:
        bs = client.book("BTC-USD")
        with pytest.raises(TickwireError) as ei:
            await within(10, bs.__anext__())
        assert ei.value.code == "checksum_mismatch" and ei.value.topics == (TOPIC,)
        assert bs.mismatches == 3 and bs.resyncs == 2
