"""Order books: the checksum, the maintained :class:`Book`, and :class:`BookStream` behind
:meth:`Client.book <tickwire.Client.book>`.

The wire contract is docs/protocol.md, "Order books" (protocol/src/book.ts is the reference): a
``snap`` carries the whole book (at most the view's depth), each ``upd`` element one change set
(``qty`` 0 removes a level), and both carry ``cs``, the CRC-32 of the top 10 levels in integer
tick and lot units. A :class:`BookStream` reads the topic through an ordinary :class:`Stream`, so
gaps, resume and reconnects are the client's one machinery; it only adds applying and verifying.
"""

from __future__ import annotations

import logging
import math
import zlib
from bisect import bisect_left
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from ._streams import Stream
from .errors import TickwireError
from .models import BookChange, Gap, Level, Resync, ResyncReason

if TYPE_CHECKING:  # pragma: no cover
    import pandas

__all__ = ["Book", "BookStream", "book_checksum", "book_topic", "to_units", "CHECKSUM_LEVELS"]

log = logging.getLogger("tickwire")

#: Levels per side the checksum covers.
CHECKSUM_LEVELS = 10
#: Depths of the depth-limited views ``book.<SYMBOL>:<depth>``.
BOOK_DEPTHS = (10, 25, 100)
#: Intervals (ms) of the throttled views ``…@<ms>ms``.
BOOK_THROTTLES = (100, 250, 500, 1000)
#: Snapshots in a row whose own checksum fails before a BookStream gives up: re-subscribing cannot
#: fix a gateway that computes checksums differently, and must not loop forever.
MAX_BAD_SNAPSHOTS = 3


def to_units(x: float, unit: float) -> int:
    """A price or size in integer tick/lot units: ``floor(x / unit + 0.5)``. Not ``round()``,
    which rounds halves to even: the protocol spells the rule out so every language agrees."""
    return math.floor(x / unit + 0.5)


def book_checksum(bids: Iterable[Level], asks: Iterable[Level], tick: float, lot: float) -> int:
    """The book checksum (unsigned 32-bit): ``zlib.crc32`` of the ASCII string interleaving the top
    10 bids and asks best first, ``bidPx:bidQty:askPx:askQty:…``, each in integer tick/lot units
    (:func:`to_units`); a side with fewer levels contributes what it has; an empty book gives 0."""
    b = list(bids)[:CHECKSUM_LEVELS]
    a = list(asks)[:CHECKSUM_LEVELS]
    parts: list[str] = []
    for i in range(CHECKSUM_LEVELS):
        if i < len(b):
            parts.append(f"{to_units(b[i][0], tick)}:{to_units(b[i][1], lot)}")
        if i < len(a):
            parts.append(f"{to_units(a[i][0], tick)}:{to_units(a[i][1], lot)}")
    return zlib.crc32(":".join(parts).encode("ascii"))


def book_topic(symbol: str, depth: int | None = None, throttle: int | str | None = None) -> str:
    """``("BTC-USD", 10, 100)`` -> ``"book.BTC-USD:10@100ms"``. ``depth`` is None (every level the
    gateway keeps), 10, 25 or 100; ``throttle`` None (every change set) or 100, 250, 500, 1000 ms
    (an int, or a string such as ``"100ms"``)."""
    if depth is not None and depth not in BOOK_DEPTHS:
        raise ValueError(f"depth must be None or one of {', '.join(map(str, BOOK_DEPTHS))}, not {depth!r}")
    topic = f"book.{symbol}" if depth is None else f"book.{symbol}:{depth}"
    if throttle is None:
        return topic
    ms = throttle
    if isinstance(throttle, str):
        ms = int(throttle[:-2]) if throttle.endswith("ms") and throttle[:-2].isdigit() else -1
    if ms not in BOOK_THROTTLES:
        raise ValueError(f"throttle must be None or one of {', '.join(map(str, BOOK_THROTTLES))} (ms), not {throttle!r}")
    return f"{topic}@{ms}ms"


class _Side:
    """One side's levels, sorted best first by a key (``-px`` for bids, ``px`` for asks), found by bisection."""

    __slots__ = ("_keys", "_qty", "_sign")

    def __init__(self, bid: bool) -> None:
        self._sign = -1.0 if bid else 1.0
        self._keys: list[float] = []
        self._qty: list[float] = []

    def __len__(self) -> int:
        return len(self._keys)

    def set(self, px: float, qty: float) -> None:
        k = self._sign * px
        i = bisect_left(self._keys, k)
        found = i < len(self._keys) and self._keys[i] == k
        if qty == 0:
            if found:
                del self._keys[i]
                del self._qty[i]
        elif found:
            self._qty[i] = qty
        else:
            self._keys.insert(i, k)
            self._qty.insert(i, qty)

    def clear(self) -> None:
        self._keys.clear()
        self._qty.clear()

    def levels(self, n: int | None = None) -> list[Level]:
        end = len(self._keys) if n is None else min(n, len(self._keys))
        s = self._sign
        return [(s * self._keys[i], self._qty[i]) for i in range(end)]

    def best(self) -> float | None:
        return self._sign * self._keys[0] if self._keys else None


class Book:
    """A maintained order book, as :meth:`Client.book <tickwire.Client.book>` yields it.

    ``bids``/``asks`` are lists of ``(px, qty)`` best first (bids descending, asks ascending);
    ``best_bid``/``best_ask`` the best prices (None on an empty side); ``spread`` and ``mid``
    (None unless both sides have a level). ``seq`` and ``ts`` are those of the last snapshot or
    change set applied, ``cs`` its verified checksum, ``tick``/``lot`` the symbol's units.
    ``stale`` is True while the gateway marks the book stale (upstream data was rejected): the
    book is then empty until a change set without the flag refills it.

    The object yielded by a :class:`BookStream` is the one it keeps updating: read it before the
    next iteration, or keep :meth:`copy`.
    """

    def __init__(self, topic: str, tick: float = 1e-8, lot: float = 1e-8) -> None:
        self.topic = topic
        self.tick = tick
        self.lot = lot
        self.seq = 0
        self.ts = 0.0
        self.cs = 0
        self.stale = False
        self._bids = _Side(True)
        self._asks = _Side(False)

    # ---------------------------------------------------------------------------- reading

    @property
    def bids(self) -> list[Level]:
        """Bid levels, best (highest) first."""
        return self._bids.levels()

    @property
    def asks(self) -> list[Level]:
        """Ask levels, best (lowest) first."""
        return self._asks.levels()

    def top(self, n: int = 10) -> tuple[list[Level], list[Level]]:
        """The best ``n`` bids and asks."""
        return self._bids.levels(n), self._asks.levels(n)

    @property
    def best_bid(self) -> float | None:
        return self._bids.best()

    @property
    def best_ask(self) -> float | None:
        return self._asks.best()

    @property
    def spread(self) -> float | None:
        b, a = self._bids.best(), self._asks.best()
        return None if b is None or a is None else a - b

    @property
    def mid(self) -> float | None:
        b, a = self._bids.best(), self._asks.best()
        return None if b is None or a is None else (a + b) / 2

    @property
    def depth(self) -> int:
        """Levels on the fuller side."""
        return max(len(self._bids), len(self._asks))

    def checksum(self) -> int:
        """The checksum of the book as it is now (:func:`book_checksum`)."""
        b, a = self.top(CHECKSUM_LEVELS)
        return book_checksum(b, a, self.tick, self.lot)

    def copy(self) -> Book:
        """An independent copy (the maintained book keeps changing)."""
        c = Book(self.topic, self.tick, self.lot)
        c.seq, c.ts, c.cs, c.stale = self.seq, self.ts, self.cs, self.stale
        c._bids._keys[:], c._bids._qty[:] = self._bids._keys, self._bids._qty
        c._asks._keys[:], c._asks._qty[:] = self._asks._keys, self._asks._qty
        return c

    def to_frame(self) -> pandas.DataFrame:
        """The levels as a DataFrame (needs pandas: ``pip install "tickwire[pandas]"``): one row per
        level, bids best first then asks best first, columns ``side`` (``"bid"``/``"ask"``),
        ``level`` (0 = best), ``px``, ``qty`` and ``cum_qty`` (size up to and including the level)."""
        from .frames import book_frame

        return book_frame(self)

    def __repr__(self) -> str:
        return (
            f"Book({self.topic!r}, seq={self.seq}, bid={self.best_bid}, ask={self.best_ask}, "
            f"levels={len(self._bids)}/{len(self._asks)}{', stale' if self.stale else ''})"
        )

    # --------------------------------------------------------------------------- changing

    def apply(self, ch: BookChange) -> bool:
        """Applies a snapshot (replacing the book) or a change set, then verifies the checksum.
        Returns whether the result matches ``ch.cs``; the book is changed either way."""
        if ch.snapshot:
            self._bids.clear()
            self._asks.clear()
            if ch.tick is not None and ch.lot is not None:
                self.tick, self.lot = ch.tick, ch.lot
        if ch.stale:
            # The gateway empties a book going stale; so does the copy, whatever the change lists.
            self._bids.clear()
            self._asks.clear()
        else:
            for px, qty in ch.b:
                self._bids.set(px, qty)
            for px, qty in ch.a:
                self._asks.set(px, qty)
        self.stale = ch.stale
        self.seq, self.ts = ch.seq, ch.ts
        cs = self.checksum()
        self.cs = cs
        return cs == ch.cs


class BookOwner(Protocol):
    """What a :class:`BookStream` needs from its client besides a stream (:class:`~tickwire.Client` is one)."""

    def _resync(self, topic: str, reason: ResyncReason) -> None:
        """Re-subscribes ``topic`` for a fresh snapshot (its upds are ignored until then)."""
        ...


class BookStream:
    """Async iterator of a maintained :class:`Book`; see :meth:`Client.book <tickwire.Client.book>`.

    Yields the book after each snapshot or change set applied whose checksum verified, never
    otherwise. On a mismatch (or a :class:`~tickwire.Gap`: the seq jumped, or this consumer fell
    ``maxsize`` change sets behind) the book is invalid: nothing is yielded until the snapshot of
    a re-subscription (requested by the stream itself) replaces it. ``mismatches`` counts checksum
    failures, ``resyncs`` the re-subscriptions this stream asked for. When
    :data:`MAX_BAD_SNAPSHOTS` snapshots in a row fail their own checksum (the gateway and the
    client disagree on the rule, not a lost change), the iteration raises
    :class:`~tickwire.TickwireError` with code ``checksum_mismatch`` instead of re-subscribing forever.
    :attr:`book` is the maintained book; :attr:`valid` says whether its current state verified.
    """

    def __init__(self, client: BookOwner, stream: Stream) -> None:
        self._client = client
        self._stream = stream
        self.topic = stream.topics[0]
        self.book = Book(self.topic)
        self.valid = False
        self.mismatches = 0
        self.resyncs = 0
        self._bad_snaps = 0

    @property
    def dropped(self) -> int:
        """Change sets dropped because this consumer fell ``maxsize`` behind (each drop resyncs the book)."""
        return self._stream.dropped

    def __aiter__(self) -> BookStream:
        return self

    async def __anext__(self) -> Book:
        while True:
            item = await self._stream.__anext__()
            if isinstance(item, BookChange):
                if self._apply(item):
                    return self.book
            elif isinstance(item, Gap):
                self.valid = False
                if item.reason == "overflow":  # the client does not recover what only this stream lost
                    self._request_resync(ResyncReason.CHECKSUM)
            elif isinstance(item, Resync):
                self.valid = False  # the snapshot that follows replaces the book

    def _apply(self, ch: BookChange) -> bool:
        if not ch.snapshot and not self.valid:
            return False  # waiting for a snapshot
        if self.book.apply(ch):
            self.valid = True
            self._bad_snaps = 0
            return True
        self.valid = False
        self.mismatches += 1
        if ch.snapshot:
            self._bad_snaps += 1
            if self._bad_snaps >= MAX_BAD_SNAPSHOTS:
                msg = f"{self._bad_snaps} snapshots in a row fail their checksum (last: sent {ch.cs}, computed {self.book.cs})"
                raise TickwireError("checksum_mismatch", msg, (self.topic,))
        log.warning("tickwire: %s: checksum mismatch at seq %d (sent %d, computed %d)", self.topic, ch.seq, ch.cs, self.book.cs)
        self._request_resync(ResyncReason.CHECKSUM)
        return False

    def _request_resync(self, reason: ResyncReason) -> None:
        self.resyncs += 1
        self._client._resync(self.topic, reason)

    async def aclose(self) -> None:
        """Detaches from the client (the subscription stays, as for :meth:`Client.stream`)."""
        await self._stream.aclose()

    async def __aenter__(self) -> BookStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
