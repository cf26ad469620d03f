"""A synchronous client for scripts and notebooks that do not run asyncio.

::

    from tickwire.sync import SyncClient

    with SyncClient("ws://127.0.0.1:9001/v1") as client:
        for tick in client.stream("trade.BTC-USD"):
            print(tick.datetime, tick.px, tick.qty)

The asynchronous :class:`~tickwire.Client` runs on an event loop in a background thread that
this object owns; every method here hands work to that loop and waits for the answer, so the
semantics (resume, resync, gaps, bounded streams) are exactly the asyncio client's. Methods
must not be called from inside a running event loop's thread of another client (use the async
API there). :meth:`SyncClient.close` (or leaving the ``with`` block) closes the connection, ends
every stream and joins the thread.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, TypeVar

from ._book import Book, BookStream
from ._candles import CandleList, CandleStream
from ._streams import EventStream, Stream, StreamItem
from .client import Client
from .errors import ClosedError
from .models import Candle, Event

__all__ = ["SyncClient", "SyncStream"]

T = TypeVar("T")
_END = object()


class _Raise:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class SyncStream(Iterator[T]):
    """A blocking iterator over an async :class:`~tickwire.Stream` or event stream.

    A task on the client's loop moves items from the async stream into a bounded hand-over
    queue (``handover`` items); when that queue is full the task waits, so the async stream's
    own bound and its overflow policy (oldest tick dropped, reported as ``Gap(reason="overflow")``)
    apply unchanged to a slow consumer. Iteration ends when the client is closed with
    :meth:`SyncClient.close`, or when :meth:`close` ends this stream; it raises
    :class:`~tickwire.ClosedError` when the client closed for any other reason.
    """

    def __init__(self, owner: SyncClient, source: Any, handover: int) -> None:
        self._owner = owner
        self._source = source
        # Unbounded as a queue, bounded by the pump (qsize() >= handover): the loop thread must
        # never block on a put, or closing with a full queue would deadlock it.
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._handover = max(1, handover)
        self._room: asyncio.Event | None = None
        self._waiting = False
        self._ended = False
        self._task: asyncio.Future[None] = asyncio.run_coroutine_threadsafe(self._pump(source), owner._loop)

    async def _pump(self, source: Any) -> None:
        self._room = asyncio.Event()
        try:
            async for item in source:
                while self._q.qsize() >= self._handover:
                    self._room.clear()
                    self._waiting = True
                    if self._q.qsize() >= self._handover:  # the consumer may have taken one meanwhile
                        await self._room.wait()
                    self._waiting = False
                self._q.put_nowait(item)
            self._q.put(_END)
        except asyncio.CancelledError:
            self._q.put(_END)
            raise
        except BaseException as e:  # handed to the consumer, raised by __next__
            self._q.put(_Raise(e))

    @property
    def dropped(self) -> int:
        """Ticks this stream dropped on overflow (see :class:`~tickwire.Stream`)."""
        return int(getattr(self._source, "dropped", 0))

    def __iter__(self) -> SyncStream[T]:
        return self

    def __next__(self) -> T:
        return self.get()

    def get(self, timeout: float | None = None) -> T:
        """The next item, waiting at most ``timeout`` seconds (``None``: as long as it takes).
        Raises ``queue.Empty`` on timeout and ``StopIteration`` once the stream ended."""
        if self._ended:
            raise StopIteration
        item = self._q.get(timeout=timeout)
        if self._waiting and self._room is not None:
            self._owner._loop.call_soon_threadsafe(self._room.set)
        if item is _END:
            self._ended = True
            raise StopIteration
        if isinstance(item, _Raise):
            self._ended = True
            raise item.exc
        return item  # type: ignore[no-any-return]

    def close(self) -> None:
        """Ends this stream (the subscriptions stay, as with the async stream)."""
        if not self._task.done():
            self._owner._loop.call_soon_threadsafe(self._task.cancel)
        self._ended = True

    def __enter__(self) -> SyncStream[T]:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class SyncClient:
    """The asyncio :class:`~tickwire.Client`, driven from ordinary (blocking) code.

    Takes the same arguments as :class:`~tickwire.Client`. Connects on ``with`` (or
    :meth:`connect`); :meth:`stream` and :meth:`events` return blocking iterators.
    """

    def __init__(self, url: str, format: str = "msgpack", **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tickwire-client", daemon=True)
        self._thread.start()
        self._closed = False

        async def make() -> Client:
            return Client(url, format, **options)

        try:
            self._client: Client = self._call(make())
        except BaseException:
            self._stop_loop()
            raise

    def _call(self, coro: Any, timeout: float | None = None) -> Any:
        if self._closed:
            coro.close()
            raise ClosedError("the client is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def client(self) -> Client:
        """The underlying asyncio client (its methods must run on :attr:`loop`)."""
        return self._client

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def state(self) -> Any:
        return self._client.state

    def connect(self, *, timeout: float | str | None = "default", retry: str | None = None) -> SyncClient:
        """Opens the connection; see :meth:`tickwire.Client.connect` for ``timeout``/``retry``."""
        self._call(self._client.connect(timeout=timeout, retry=retry))
        return self

    def subscribe(self, *topics: str | Iterable[str]) -> list[str]:
        return self._call(self._client.subscribe(*topics))  # type: ignore[no-any-return]

    def unsubscribe(self, *topics: str | Iterable[str]) -> None:
        self._call(self._client.unsubscribe(*topics))

    def ping(self) -> float:
        """Round trip to the gateway, in seconds."""
        return self._call(self._client.ping())  # type: ignore[no-any-return]

    def stream(
        self,
        *topics: str | Iterable[str],
        maxsize: int = 10_000,
        events: bool = False,
        subscribe: bool = True,
        handover: int = 1024,
    ) -> SyncStream[StreamItem]:
        """A blocking iterator of the ticks of ``topics``; see :meth:`tickwire.Client.stream`."""

        async def make() -> Stream:
            return self._client.stream(*topics, maxsize=maxsize, events=events, subscribe=subscribe)

        return SyncStream(self, self._call(make()), handover)

    def book(
        self, symbol: str, depth: int | None = 10, throttle: int | str | None = None, *, maxsize: int = 10_000, handover: int = 64
    ) -> SyncStream[Book]:
        """A blocking iterator of the checksum-verified order book; see :meth:`tickwire.Client.book`.
        Each item is a copy (:meth:`Book.copy`): the maintained book keeps changing on the loop's
        thread, so a script may keep the books it was given."""

        async def make() -> BookStream:
            return self._client.book(symbol, depth, throttle, maxsize=maxsize)

        return SyncStream(self, _copies(self._call(make())), handover)

    def candles(self, topic: str, history: int = 500, *, before: float | None = None, timeout: float | None = None) -> CandleList:
        """Closed candles, oldest first; see :meth:`tickwire.Client.candles`."""
        return self._call(self._client.candles(topic, history, before=before, timeout=timeout))  # type: ignore[no-any-return]

    def candle_stream(self, topic: str, history: int = 500, *, maxsize: int = 10_000, handover: int = 1024) -> SyncStream[Candle]:
        """A blocking iterator of candles, history then live; see :meth:`tickwire.Client.candle_stream`."""

        async def make() -> CandleStream:
            return self._client.candle_stream(topic, history, maxsize=maxsize)

        return SyncStream(self, self._call(make()), handover)

    def events(self, maxsize: int = 10_000, handover: int = 1024) -> SyncStream[Event]:
        """A blocking iterator of every event from now on; see :meth:`tickwire.Client.events`."""

        async def make() -> EventStream:
            return self._client.events(maxsize)

        return SyncStream(self, self._call(make()), handover)

    def close(self) -> None:
        """Closes the connection, ends every stream, stops and joins the background thread."""
        if self._closed:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._client.close(), self._loop).result()
        finally:
            self._closed = True
            self._stop_loop()

    def _stop_loop(self) -> None:
        async def drain() -> None:
            # Let the pump tasks see their streams end before the loop stops.
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(drain(), self._loop).result()
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncClient:
        return self.connect()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort for a forgotten client
        if not getattr(self, "_closed", True) and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)


async def _copies(books: BookStream) -> AsyncIterator[Book]:
    async for book in books:
        yield book.copy()
