"""Bounded per-consumer queues behind :meth:`Client.stream` and :meth:`Client.events`.

A stream knows its client only through :class:`StreamOwner` / :class:`EventsOwner` (as the
TypeScript SDK's subscriptions know theirs through ``SubscriptionOwner``), so this module does
not import the client: the client depends on its streams, not the other way round.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Generic, Protocol, TypeVar

from .models import TICK_TYPES, Event, Gap, Resync, Snapshot, Tick

log = logging.getLogger("tickwire")

T = TypeVar("T")


def _item_seq(item: Any) -> int:
    return item.expected if isinstance(item, Gap) else item.seq


class _Queue(Generic[T]):
    """A single-consumer queue that never blocks the producer (the connection's reader)."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self._maxsize = maxsize
        self._dq: deque[T] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._exc: BaseException | None = None

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _end(self, exc: BaseException | None) -> None:
        if not self._ended:
            self._ended = True
            self._exc = exc
            self._wake()

    async def _get(self) -> T:
        while not self._dq:
            if self._ended:
                self._detach()
                if self._exc is not None:
                    raise self._exc
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._dq.popleft()

    def _detach(self) -> None:  # pragma: no cover - overridden
        pass


#: What a Stream yields: ticks, and (with ``events=True``) the events of its topics.
StreamItem = Tick | Snapshot | Resync | Gap


class StreamOwner(Protocol):
    """What a :class:`Stream` needs from its client (:class:`~tickwire.Client` is one)."""

    async def subscribe(self, *topics: str) -> list[str]:
        """Subscribes to ``topics`` (on the stream's first iteration)."""
        ...

    def _attach_stream(self, s: Stream) -> None:
        """Starts delivering the stream's topics to it (ends it at once when the client is closed)."""
        ...

    def _detach_stream(self, s: Stream) -> None:
        """Stops delivering to the stream (its subscriptions stay)."""
        ...

    def _emit_event(self, ev: Event) -> None:
        """Reports an event (an overflow :class:`Gap`) on the client's event streams."""
        ...


class EventsOwner(Protocol):
    """What an :class:`EventStream` needs from its client."""

    def _attach_events(self, q: EventStream) -> None: ...

    def _detach_events(self, q: EventStream) -> None: ...


class Stream(_Queue[StreamItem]):
    """Async iterator of the ticks of one or more topics; see :meth:`Client.stream`.

    Also an async context manager: leaving the ``async with`` block (or calling :meth:`aclose`)
    detaches the stream from the client (the subscriptions stay).

    Overflow: the queue holds at most ``maxsize`` items. When it is full, the *oldest tick* is
    dropped to make room (the connection is never slowed down by one slow consumer), and before
    the stream next yields something of that topic the client emits ``Gap(topic, expected, got,
    reason="overflow")`` on :meth:`Client.events` (and yields it inline when ``events=True``).
    ``dropped`` counts the ticks this stream lost that way. Events are never dropped. (The
    TypeScript SDK's subscription iterators do the same, with a ``gap`` event of reason ``overflow``.)
    """

    def __init__(self, client: StreamOwner, topics: tuple[str, ...], maxsize: int, events: bool, subscribe: bool) -> None:
        super().__init__(maxsize)
        self.topics = topics
        self.include_events = events
        self.dropped = 0
        self._client = client
        self._subscribe = subscribe
        self._started = False
        self._lost: dict[str, int] = {}  # topic -> first dropped seq, until reported
        client._attach_stream(self)

    def _put(self, item: StreamItem) -> None:
        dq = self._dq
        if len(dq) >= self._maxsize:
            for i, old in enumerate(dq):
                if isinstance(old, TICK_TYPES):
                    del dq[i]
                    self._lost.setdefault(old.topic, old.seq or 0)  # stream ticks always have a seq
                    self.dropped += 1
                    break
        dq.append(item)
        self._wake()

    def __aiter__(self) -> Stream:
        return self

    async def subscribe_now(self) -> None:
        """Subscribes the stream's topics now rather than on the first iteration (does nothing the
        second time, or with ``subscribe=False``): what a consumer that must know the subscription is
        in place before reading (candle history then live) calls. Raises as the iteration would."""
        if self._started:
            return
        self._started = True
        if self._subscribe:
            try:
                await self._client.subscribe(*self.topics)
            except BaseException as e:
                self._end(e if isinstance(e, Exception) else None)
                self._detach()
                raise

    async def __anext__(self) -> StreamItem:
        await self.subscribe_now()
        item = await self._get()
        # A pending overflow Gap goes out before the topic's next tick (or Resync/Gap), so that it
        # sits exactly where the ticks went missing. A Snapshot event precedes its own tick, which
        # carries the Gap.
        if self._lost and not isinstance(item, Snapshot):
            topic = item.topic
            first = self._lost.pop(topic, None)
            if first is not None:
                gap = Gap(topic, first, _item_seq(item), "overflow")
                log.warning("stream consumer too slow: dropped ticks of %s from seq %d", topic, first)
                self._client._emit_event(gap)
                if self.include_events:
                    self._dq.appendleft(item)
                    return gap
        return item

    def _detach(self) -> None:
        self._client._detach_stream(self)

    async def aclose(self) -> None:
        """Detach from the client; a pending ``__anext__`` ends with ``StopAsyncIteration``."""
        self._end(None)
        self._dq.clear()
        self._detach()

    async def __aenter__(self) -> Stream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


class EventStream(_Queue[Event]):
    """Async iterator of client events; see :meth:`Client.events`.

    Bounded: when ``maxsize`` events are waiting, the oldest is dropped (``dropped`` counts them,
    and a warning is logged on the ``tickwire`` logger).
    """

    def __init__(self, client: EventsOwner, maxsize: int) -> None:
        super().__init__(maxsize)
        self.dropped = 0
        self._client = client
        client._attach_events(self)

    def _put(self, ev: Event) -> None:
        if len(self._dq) >= self._maxsize:
            self._dq.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("events() consumer too slow: %d events dropped", self.dropped)
        self._dq.append(ev)
        self._wake()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        return await self._get()

    def _detach(self) -> None:
        self._client._detach_events(self)

    async def aclose(self) -> None:
        """Detach from the client; a pending ``__anext__`` ends with ``StopAsyncIteration``."""
        self._end(None)
        self._dq.clear()
        self._detach()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
