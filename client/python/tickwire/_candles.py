"""Candles: the history endpoint (``GET /v1/candles``), :class:`CandleList`, and
:class:`CandleStream` (history, then the live topic, as one ordered stream).

History and live candles meet at a seam: the stream subscribes first (live candles are buffered
from then on), then fetches the closed candles, yields them, and yields a live candle only when
its bucket is not older than the last one yielded and not already closed in the history, so no
bucket is repeated or reordered across the seam. After a :class:`~tickwire.Resync` (the live
stream skipped updates, possibly a candle's close) it fetches the history back to the last bucket
it yielded and yields the closed candles it missed before going on.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._snapshot import _get, http_endpoint
from ._streams import Stream
from .errors import TickwireError
from .models import Candle, Resync, candle_from_wire

if TYPE_CHECKING:  # pragma: no cover
    import pandas

__all__ = ["CandleList", "CandleStream", "fetch_candles", "MAX_PAGE"]

#: Candles asked for per request; more history is fetched in pages (``before=`` the oldest one got).
MAX_PAGE = 1000
#: Page size of the history fetched again after a resync (usually a few candles are missing).
REFILL_PAGE = 100


class CandleList(list[Candle]):
    """The closed candles of one topic, oldest first (a ``list`` of :class:`~tickwire.Candle`)."""

    def __init__(self, topic: str, candles: list[Candle] | None = None) -> None:
        super().__init__(candles or [])
        self.topic = topic

    def to_frame(self) -> pandas.DataFrame:
        """The candles as a DataFrame indexed by bucket open time (UTC), columns ``o h l c v q n x``
        (needs pandas: ``pip install "tickwire[pandas]"``)."""
        from .frames import candles_frame

        return candles_frame(self)


def _parse(status: int, body: bytes, topic: str) -> list[Candle]:
    try:
        doc: Any = json.loads(body)
    except ValueError:
        raise TickwireError("protocol_error", f"HTTP {status}, not JSON: {body[:200]!r}", (topic,)) from None
    if status != 200 or not isinstance(doc, dict) or not isinstance(doc.get("candles"), list):
        code = doc.get("code") if isinstance(doc, dict) else None
        msg = doc.get("msg") if isinstance(doc, dict) else None
        raise TickwireError(str(code or f"http_{status}"), str(msg or f"HTTP {status}"), (topic,))
    try:
        return [candle_from_wire(topic, None, c) for c in doc["candles"]]
    except (KeyError, TypeError, ValueError) as e:
        raise TickwireError("protocol_error", f"malformed candle in the history of {topic}: {e!r}", (topic,)) from None


async def fetch_candles(ws_url: str, topic: str, limit: int, before: float | None, timeout: float) -> CandleList:
    """The last ``limit`` closed candles of ``topic`` (before the bucket ``before``, when given),
    oldest first, in as many requests of at most :data:`MAX_PAGE` as needed; fewer when the
    gateway has fewer. Raises :class:`TickwireError` with the gateway's code on a refusal."""
    if limit < 0:
        raise ValueError("history must be >= 0")
    url, headers = http_endpoint(ws_url, "candles")
    out: list[Candle] = []
    while len(out) < limit:
        want = min(MAX_PAGE, limit - len(out))
        q: dict[str, Any] = {"topic": topic, "limit": want}
        if before is not None:
            q["before"] = int(before) if float(before).is_integer() else before
        status, body = await asyncio.to_thread(_get, f"{url}?{urllib.parse.urlencode(q)}", headers, timeout)
        page = _parse(status, body, topic)
        if before is not None:
            page = [c for c in page if c.t < before]  # whatever the server does, never overlap a page
        out[:0] = page
        if len(page) < want or not page:
            break  # the gateway has no older candles
        before = page[0].t
    return CandleList(topic, sorted(out[-limit:] if limit else [], key=lambda c: c.t))


class CandleStream:
    """Async iterator of the candles of one topic: ``history`` closed candles oldest first, then
    the live candles; see :meth:`Client.candle_stream <tickwire.Client.candle_stream>`.

    Bucket open times ``t`` never decrease. A bucket is yielded closed (``x=True``) at most once;
    the live stream yields the current bucket again on each update (replace the last candle when
    ``t`` is the same). ``refills`` counts history fetches after a :class:`~tickwire.Resync`.
    """

    def __init__(self, stream: Stream, fetch: Callable[[int, float | None], Awaitable[CandleList]], history: int) -> None:
        self._stream = stream
        self._fetch = fetch
        self._history = history
        self.topic = stream.topics[0]
        self.refills = 0
        self._started = False
        self._pending: list[Candle] = []
        #: Open time of the newest bucket yielded, and whether it was yielded closed.
        self._last_t: float | None = None
        self._last_closed = False

    def __aiter__(self) -> CandleStream:
        return self

    async def __anext__(self) -> Candle:
        if not self._started:
            self._started = True
            await self._stream.subscribe_now()  # live candles are buffered from the ack on
            await self._fill(self._history)
        while True:
            if self._pending:
                return self._take(self._pending.pop(0))
            item = await self._stream.__anext__()
            if isinstance(item, Candle):
                if self._fresh(item):
                    return self._take(item)
            elif isinstance(item, Resync) and self._last_t is not None:
                self.refills += 1
                await self._refill(self._last_t)

    async def _fill(self, limit: int) -> None:
        if limit > 0:
            self._queue(await self._fetch(limit, None))

    async def _refill(self, since: float) -> None:
        """The closed candles from bucket ``since`` on: pages of :data:`REFILL_PAGE`, newest first,
        back to ``since`` or to the oldest the gateway keeps (independent of clocks: a replayed
        feed's candles may be years old)."""
        got: list[Candle] = []
        before: float | None = None
        while True:
            page = await self._fetch(REFILL_PAGE, before)
            got[:0] = page
            if len(page) < REFILL_PAGE or page[0].t <= since:
                break
            before = page[0].t
        self._queue(got)

    def _queue(self, history: list[Candle]) -> None:
        for c in history:
            if self._fresh(c):
                self._pending.append(c)
                self._note(c)

    def _fresh(self, c: Candle) -> bool:
        last = self._last_t
        return last is None or c.t > last or (c.t == last and not self._last_closed)

    def _note(self, c: Candle) -> None:
        self._last_t = c.t
        self._last_closed = c.x

    def _take(self, c: Candle) -> Candle:
        if c.seq is not None:
            self._note(c)  # history candles were noted when queued
        return c

    async def aclose(self) -> None:
        """Detaches from the client (the subscription stays, as for :meth:`Client.stream`)."""
        self._pending.clear()
        await self._stream.aclose()

    async def __aenter__(self) -> CandleStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
