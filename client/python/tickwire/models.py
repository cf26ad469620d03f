"""Typed values the client hands to applications: ticks, events and connection states.

Every class here is a frozen dataclass, so values are hashable, comparable and safe to share
between consumers (one decoded tick is given to every stream that watches its topic).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = [
    "Trade",
    "Quote",
    "BookChange",
    "Candle",
    "Stats",
    "Level",
    "Tick",
    "TICK_TYPES",
    "Snapshot",
    "Resync",
    "Gap",
    "StatusChange",
    "State",
    "Event",
    "ResyncReason",
    "tick_from_wire",
    "is_throttled",
    "base_topic",
]


# --------------------------------------------------------------------------------------- ticks


@dataclass(frozen=True, slots=True)
class Trade:
    """One trade on a ``trade.<SYMBOL>`` topic (or a throttled view of one).

    ``seq`` is the tick's sequence number in its topic's current epoch; ``ts`` is the exchange /
    ingest time in epoch milliseconds (a float, as on the wire); ``side`` is ``"b"`` for a
    buyer-initiated trade and ``"s"`` for a seller-initiated one.
    """

    topic: str
    seq: int
    ts: float
    px: float
    qty: float
    side: str

    @property
    def datetime(self) -> _dt.datetime:
        """``ts`` as a timezone-aware UTC :class:`datetime.datetime` (millisecond precision)."""
        return _from_ms(self.ts)


@dataclass(frozen=True, slots=True)
class Quote:
    """One top-of-book quote on a ``quote.<SYMBOL>`` topic (or a throttled view of one).

    ``bsz``/``asz`` are the sizes at the bid/ask. ``ts`` is in epoch milliseconds.
    """

    topic: str
    seq: int
    ts: float
    bid: float
    bsz: float
    ask: float
    asz: float

    @property
    def datetime(self) -> _dt.datetime:
        """``ts`` as a timezone-aware UTC :class:`datetime.datetime` (millisecond precision)."""
        return _from_ms(self.ts)


#: One order-book level: (price, size). A size of 0 in a change set removes the level.
Level = tuple[float, float]


@dataclass(frozen=True, slots=True)
class BookChange:
    """One order-book message of a ``book.<SYMBOL>[:depth][@interval]`` topic, as the sequencer
    delivers it: a change set (one ``upd`` element, one seq step), or with ``snapshot=True`` the
    whole book of a ``snap`` (its levels in ``b``/``a``, and the symbol's ``tick``/``lot`` sizes).

    Levels are best first (bids descending, asks ascending). ``cs`` is the checksum of the top 10
    levels after this message (see :func:`tickwire.book_checksum`). ``stale`` marks a book whose
    upstream data was rejected: it is empty until a later change set without the flag refills it.
    Most applications use :meth:`Client.book <tickwire.Client.book>`, which applies these to a
    maintained :class:`~tickwire.Book` and verifies every checksum.
    """

    topic: str
    seq: int
    ts: float
    b: tuple[Level, ...]
    a: tuple[Level, ...]
    cs: int
    stale: bool = False
    snapshot: bool = False
    tick: float | None = None
    lot: float | None = None

    @property
    def datetime(self) -> _dt.datetime:
        """``ts`` as a timezone-aware UTC :class:`datetime.datetime` (millisecond precision)."""
        return _from_ms(self.ts)


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV candle of a ``candle.<interval>.<SYMBOL>`` topic, or from the candle history.

    ``t`` is the bucket's open time (epoch ms); ``o``/``h``/``l``/``c`` the open, high, low and
    close prices; ``v`` the base volume, ``q`` the quote volume (sum of px * qty), ``n`` the
    number of trades. ``x`` is True on a closed candle (the final update of its bucket, and every
    candle from the history). ``seq`` is the stream's sequence number, ``None`` for history.
    """

    topic: str
    seq: int | None
    t: float
    o: float
    h: float
    l: float  # noqa: E741 - the wire's name
    c: float
    v: float
    q: float
    n: int
    x: bool

    @property
    def datetime(self) -> _dt.datetime:
        """``t`` (the bucket's open time) as a timezone-aware UTC :class:`datetime.datetime`."""
        return _from_ms(self.t)


@dataclass(frozen=True, slots=True)
class Stats:
    """Rolling 24-hour statistics of a ``stats.<SYMBOL>`` topic: last price, the price 24 h ago
    (``open``), ``high``, ``low``, base and quote volume (``v``, ``q``), change and change in
    percent (``chg``, ``chg_pct``), and the trade count ``n``. ``ts`` is in epoch milliseconds."""

    topic: str
    seq: int
    ts: float
    last: float
    open: float
    high: float
    low: float
    v: float
    q: float
    chg: float
    chg_pct: float
    n: int

    @property
    def datetime(self) -> _dt.datetime:
        """``ts`` as a timezone-aware UTC :class:`datetime.datetime` (millisecond precision)."""
        return _from_ms(self.ts)


Tick = Trade | Quote | BookChange | Candle | Stats
#: The classes of :data:`Tick`, for ``isinstance`` checks.
TICK_TYPES = (Trade, Quote, BookChange, Candle, Stats)


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def _from_ms(ms: float) -> _dt.datetime:
    # Epoch + timedelta, not fromtimestamp(ms / 1000): the division can land a microsecond off.
    return _EPOCH + _dt.timedelta(milliseconds=ms)


def base_topic(topic: str) -> str:
    """``"quote.BTC-USD@100ms"`` -> ``"quote.BTC-USD"``; other names are returned unchanged."""
    at = topic.find("@")
    return topic if at < 0 else topic[:at]


def is_throttled(topic: str) -> bool:
    """True for a throttled (conflated) view such as ``quote.BTC-USD@100ms``.

    Sequence numbers of a throttled topic jump by design, so the client neither reports gaps
    for it nor resumes it with ``since``.
    """
    return "@" in topic


def tick_from_wire(topic: str, seq: int, d: dict[str, Any]) -> Tick:
    """Builds the typed tick for one wire tick map (raises ``KeyError``/``ValueError`` when the
    map lacks a field of its topic's kind)."""
    if topic.startswith("trade."):
        return Trade(topic, seq, float(d["ts"]), float(d["px"]), float(d["qty"]), str(d["side"]))
    if topic.startswith("quote."):
        return Quote(topic, seq, float(d["ts"]), float(d["bid"]), float(d["bsz"]), float(d["ask"]), float(d["asz"]))
    if topic.startswith("book."):
        return book_change_from_wire(topic, seq, d)
    if topic.startswith("candle."):
        return candle_from_wire(topic, seq, d)
    if topic.startswith("stats."):
        return Stats(
            topic, seq, float(d["ts"]), float(d["last"]), float(d["open"]), float(d["high"]), float(d["low"]),
            float(d["v"]), float(d["q"]), float(d["chg"]), float(d["chgPct"]), int(d["n"]),
        )  # fmt: skip
    raise ValueError(f"unknown topic kind: {topic!r}")


def _levels(raw: Any) -> tuple[Level, ...]:
    return tuple((float(px), float(qty)) for px, qty in raw)


def book_change_from_wire(topic: str, seq: int, d: dict[str, Any]) -> BookChange:
    """A book ``snap.data`` (``bids``/``asks``, ``tick``/``lot``) or one ``upd`` element (``b``/``a``)."""
    stale = bool(d.get("stale"))
    if "bids" in d:
        return BookChange(
            topic, seq, float(d["ts"]), _levels(d["bids"]), _levels(d["asks"]), int(d["cs"]), stale, True,
            float(d["tick"]), float(d["lot"]),
        )  # fmt: skip
    return BookChange(topic, seq, float(d["ts"]), _levels(d["b"]), _levels(d["a"]), int(d["cs"]), stale)


def candle_from_wire(topic: str, seq: int | None, d: dict[str, Any]) -> Candle:
    """A candle map ``{t, o, h, l, c, v, q, n, x}`` (stream or history)."""
    return Candle(
        topic, seq, float(d["t"]), float(d["o"]), float(d["h"]), float(d["l"]), float(d["c"]), float(d["v"]),
        float(d["q"]), int(d["n"]), bool(d.get("x")),
    )  # fmt: skip


# -------------------------------------------------------------------------------------- events


class ResyncReason(str, Enum):
    """Why a topic's continuity was broken (the ``reason`` of a :class:`Resync`)."""

    #: A :class:`Gap` was detected and the client re-subscribed; the new snapshot restarts the stream.
    GAP = "gap"
    #: The topic's epoch changed (the gateway restarted): sequence numbers started again. Also when
    #: the snapshot is flagged ``resync: true``; the TypeScript SDK names it ``epoch`` too.
    EPOCH = "epoch"
    #: The server flagged the snapshot ``resync: true`` in the same epoch (a resume it could not
    #: serve, or a slow connection it conflated).
    SERVER = "server"
    #: A plain snapshot in the same epoch skipped ticks (a re-subscription that was not resumed).
    SKIPPED = "skipped"
    #: An order book's checksum did not match (or its stream overflowed): the client re-subscribed
    #: the topic, and the new snapshot replaces the book.
    CHECKSUM = "checksum"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A ``snap`` was received: ``tick`` is the topic's latest tick, with ``seq`` in ``epoch``.

    Every snapshot is reported, including the first one of a topic, except the one that
    continues the stream on another gateway instance (reported as :class:`Moved`). ``resync`` is the server's
    flag; whether continuity was broken is reported separately by a :class:`Resync` event that
    precedes this one.
    """

    topic: str
    epoch: str
    seq: int
    tick: Tick
    resync: bool = False
    #: The tick's upstream position, when the gateway's source has one (set by ``Client.snapshot``).
    src: str | None = None
    off: int | None = None


@dataclass(frozen=True, slots=True)
class Resync:
    """The topic's stream was reset: ticks between ``last_seq`` (in ``last_epoch``) and ``seq``
    (in ``epoch``) were not delivered. The tick with ``seq`` is the next one the topic's streams
    yield; from there on ticks are consecutive again.
    """

    topic: str
    epoch: str
    seq: int
    reason: ResyncReason
    last_epoch: str | None = None
    last_seq: int | None = None


@dataclass(frozen=True, slots=True)
class Moved:
    """The topic's stream continues on another gateway instance with nothing missed and nothing
    repeated, but numbered in that instance's ``epoch``: the last tick delivered (``last_seq`` in
    ``last_epoch``) is ``seq`` there, so the next tick has ``seq + 1``. It follows a reconnect
    through a load balancer when the instances read the same Kafka topics (the gateway found the
    client's position by its upstream offset).
    """

    topic: str
    epoch: str
    seq: int
    last_epoch: str
    last_seq: int


@dataclass(frozen=True, slots=True)
class Gap:
    """Ticks ``expected`` .. ``got - 1`` of ``topic`` will not be delivered.

    ``reason`` is ``"seq"`` when the server's sequence numbers jumped (the client recovers by
    re-subscribing, and a :class:`Resync` with reason ``gap`` follows), or ``"overflow"`` when a
    stream's bounded queue was full because its consumer did not keep up, and the client dropped
    that stream's oldest ticks (only that stream is affected; ``got`` is then the seq of the next
    item that stream yields for the topic).
    """

    topic: str
    expected: int
    got: int
    reason: str = "seq"


class State(str, Enum):
    """Connection state of a :class:`~tickwire.Client`.

    ``idle`` -> ``connecting`` -> ``open`` <-> ``reconnecting`` -> ``closed`` (terminal).
    """

    IDLE = "idle"
    CONNECTING = "connecting"
    OPEN = "open"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class StatusChange:
    """The connection state changed, or a connection attempt failed and another is scheduled.

    ``reason`` explains why the previous connection ended or the attempt failed; ``code`` is the
    WebSocket close code when there was one (``1006`` when the link dropped without a close
    frame); ``attempt`` counts failed attempts since the last open connection, and ``delay`` is the
    backoff before the next attempt (for ``connecting``/``reconnecting``).
    """

    state: State
    previous: State
    reason: str | None = None
    code: int | None = None
    attempt: int = 0
    delay: float | None = None


Event = Snapshot | Resync | Moved | Gap | StatusChange
