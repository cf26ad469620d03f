"""The asyncio tickwire client.

Structure (one :class:`Client` = one logical subscription session over successive WebSocket
connections):

* ``_run`` is the connection state machine, in one task::

      idle --connect()--> connecting --handshake ok--> open
      open --link lost / retryable close--> reconnecting --backoff, handshake ok--> open
      connecting|reconnecting --handshake failed, retryable--> (same state, next attempt after backoff)
      any --terminal close code / refused handshake / reconnect disabled / close()--> closed

  Every transition goes through ``_set_state``, which checks it against ``_TRANSITIONS`` and
  publishes a :class:`StatusChange` event.
* While a connection is open, ``_serve`` is its only reader: it decodes each frame, runs it
  through the :class:`Sequencer` (per-topic epoch and seq: resume positions, duplicate drop,
  gap and resync detection) and dispatches ticks into the bounded queue of every
  :class:`Stream` watching the topic. Dispatch never awaits, so a slow consumer never slows the
  connection down (see :class:`Stream` for what happens to a consumer that does not drain).
* Per connection, a watchdog task reconnects when no frame (data or ``hb``) arrived for
  ``heartbeat_timeout`` seconds, and gap-recovery tasks re-subscribe topics whose seq jumped.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from ._book import BookStream, book_topic
from ._candles import CandleList, CandleStream, fetch_candles
from ._sequencer import Item, Sequencer
from ._snapshot import Snapshots, fetch_snapshot
from ._streams import EventStream, Stream
from .backoff import Backoff
from .codec import FORMATS, DecodeError, get_codec
from .errors import ClosedError, ConnectError, ConnectionLostError, ConnectTimeoutError, TickwireError, close_name, should_reconnect
from .models import TICK_TYPES, Event, Gap, ResyncReason, State, StatusChange

__all__ = ["Client"]

log = logging.getLogger("tickwire")


_TRANSITIONS: dict[State, frozenset[State]] = {
    State.IDLE: frozenset({State.CONNECTING, State.CLOSED}),
    State.CONNECTING: frozenset({State.CONNECTING, State.OPEN, State.CLOSED}),
    State.OPEN: frozenset({State.RECONNECTING, State.CLOSED}),
    State.RECONNECTING: frozenset({State.RECONNECTING, State.OPEN, State.CLOSED}),
    State.CLOSED: frozenset(),
}

_DEFAULT_BACKOFF = Backoff()
_UNSET: Any = object()


@dataclass
class _Pending:
    """A request waiting for its ``ack``/``pong``/``err``."""

    kind: str  # "sub" (user), "unsub" (user), "resub", "internal" (gap recovery), "ping"
    topics: tuple[str, ...]
    fut: asyncio.Future[Any]
    #: A ``bad_topic`` err for a request that also had valid topics: raised once the ack arrives.
    error: TickwireError | None = None


@dataclass
class _Connection:
    """State of one WebSocket connection; dropped as a whole when the connection ends."""

    ws: ClientConnection
    last_rx: float
    pending: dict[int, _Pending] = field(default_factory=dict)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    #: Why the client itself ended this connection (watchdog, reconnect()); None otherwise.
    cause: str | None = None
    reconnect_now: bool = False
    received: bool = False


class Client:
    """An asyncio client for one tickwire gateway URL (``ws://HOST:PORT/v1``).

    >>> async with Client("ws://127.0.0.1:9001/v1") as client:        # doctest: +SKIP
    ...     async for tick in client.stream("trade.BTC-USD"):
    ...         print(tick.seq, tick.px)

    Parameters:
        url: the gateway's WebSocket endpoint.
        format: ``"msgpack"`` (default), ``"json"``, ``"msgpack+deflate"``, ``"msgpack-compact"``
            (market ticks as integer columns, decoded to the same objects) or ``"msgpack-compact+deflate"``
            (those frames deflated once for all subscribers with preset dictionaries); selects the
            WebSocket subprotocol ``tickwire.v1.<format>`` (``tickwire.v1.msgpack-compact+deflate.d1``).
        reconnect: the :class:`Backoff` between reconnection attempts (exponential, full jitter
            by default), or ``None`` to never reconnect by itself (the first lost connection
            closes the client; an explicit :meth:`reconnect` still works).
        heartbeat_timeout: seconds without any frame from the server (the gateway sends ``hb``
            every ``heartbeatIntervalMs``, 2 s by default) after which the link is treated as
            dead and the client reconnects. Keep it at least twice the server's interval.
        connect_timeout: how long :meth:`connect` (and ``async with``) waits for the first open
            connection (default 10 s), retrying transient failures (refused, no answer, HTTP
            5xx/429) with backoff meanwhile, before giving up with :class:`ConnectTimeoutError`
            (an ``asyncio.TimeoutError``) naming the last failure; ``None`` waits forever.
        retry: ``"fail-fast"`` (default): before the first open connection, an answer that
            retrying cannot fix (an HTTP server that is not a tickwire endpoint, e.g. a wrong
            path; a token or origin refused with 401/403) raises :class:`ConnectError` at once
            with the reason. ``"forever"``: for long-lived clients, every failure is retried
            with backoff (combine with ``connect_timeout=None`` to wait until the gateway is up).
        request_timeout: how long :meth:`subscribe`, :meth:`unsubscribe` and :meth:`ping`
            wait for the server's answer on an open connection (``asyncio.TimeoutError``).
        open_timeout: timeout of one WebSocket handshake.
        max_topics_per_request: requests naming more topics are split (the gateway's
            ``maxTopicsPerRequest``, 256 by default).
        permessage_deflate: offer the standard per-connection ``permessage-deflate`` extension
            (off by default; ``format="msgpack+deflate"`` is the cheaper shared compression).
    """

    def __init__(
        self,
        url: str,
        format: str = "msgpack",
        *,
        reconnect: Backoff | None = _DEFAULT_BACKOFF,
        heartbeat_timeout: float = 4.0,
        connect_timeout: float | None = 10.0,
        request_timeout: float = 10.0,
        open_timeout: float = 10.0,
        max_topics_per_request: int = 256,
        permessage_deflate: bool = False,
        retry: str = "fail-fast",
    ) -> None:
        if format not in FORMATS:
            raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
        if reconnect is not None and not isinstance(reconnect, Backoff):
            raise TypeError("reconnect must be a Backoff or None")
        if not heartbeat_timeout > 0:
            raise ValueError("heartbeat_timeout must be > 0")
        if retry not in ("fail-fast", "forever"):
            raise ValueError(f"retry must be 'fail-fast' or 'forever', not {retry!r}")
        if max_topics_per_request < 1:
            raise ValueError("max_topics_per_request must be >= 1")
        self.url = url
        self.format = format
        self._codec = get_codec(format)
        self._backoff = reconnect
        self._hb_timeout = float(heartbeat_timeout)
        self._connect_timeout = connect_timeout
        self._retry = retry
        #: Why the last attempt failed before opening (for connect()'s exception).
        self._last_failure: _Failure | None = None
        self._request_timeout = request_timeout
        self._open_timeout = open_timeout
        self._max_topics = max_topics_per_request
        self._compression = "deflate" if permessage_deflate else None

        self._state = State.IDLE
        self._status = StatusChange(State.IDLE, State.IDLE)
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: _Connection | None = None
        self._closing = False
        self._close_exc: ClosedError | None = None
        self._ever_open = False

        self._seq = Sequencer()
        #: Topics the server acknowledged and the user did not unsubscribe: resubscribed on reconnect.
        self._desired: dict[str, None] = {}
        #: topic -> last request id issued when the user unsubscribed it (older sub acks are stale).
        self._unsub_mark: dict[str, int] = {}
        self._last_id = 0

        self._by_topic: dict[str, list[Stream]] = {}
        self._streams: list[Stream] = []
        self._event_streams: list[EventStream] = []

    # ------------------------------------------------------------------------- public API

    @property
    def state(self) -> State:
        """The connection state: idle, connecting, open, reconnecting or closed."""
        return self._state

    @property
    def status(self) -> StatusChange:
        """The latest :class:`StatusChange` (state, and why the last connection ended)."""
        return self._status

    @property
    def subprotocol(self) -> str:
        """The WebSocket subprotocol this client asks for."""
        return self._codec.subprotocol

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Topics currently subscribed (acknowledged, not unsubscribed); resubscribed on reconnect."""
        return tuple(self._desired)

    async def connect(self, *, timeout: float | str | None = "default", retry: str | None = None) -> Client:
        """Starts the connection and waits until it is open.

        ``timeout`` (seconds; ``None`` waits forever) and ``retry`` (``"fail-fast"`` or
        ``"forever"``) override the client's ``connect_timeout`` (default 10 s) and ``retry``
        (default ``"fail-fast"``).

        Raises :class:`ConnectError` (a :class:`ClosedError`) when the first connection cannot
        be made, with ``kind`` and a clear message: ``"connection refused at ws://…"``,
        ``"HTTP 200 from ws://…/ is not a tickwire endpoint; the path is /v1"``,
        ``"authentication refused at ws://… (HTTP 401): <the gateway's reason>"``;
        :class:`ConnectTimeoutError` (also an ``asyncio.TimeoutError``) when nothing opened
        within the timeout (``"no answer within 2s from ws://…"``, or the last refusal);
        :class:`ClosedError` on a terminal close code. In every case the client is closed.
        Called (with the client's defaults) by ``async with``.
        """
        if self._state is not State.IDLE:
            raise RuntimeError("connect() may be called once per Client")
        if retry is not None:
            if retry not in ("fail-fast", "forever"):
                raise ValueError(f"retry must be 'fail-fast' or 'forever', not {retry!r}")
            self._retry = retry
        if timeout != "default":
            if isinstance(timeout, str) or (timeout is not None and not timeout > 0):
                raise ValueError(f"timeout must be a number of seconds > 0 or None, not {timeout!r}")
            self._connect_timeout = timeout
        self._set_state(State.CONNECTING)
        self._task = asyncio.create_task(self._run(), name=f"tickwire-client {self.url}")
        try:
            if self._connect_timeout is None:
                await self._wait_open()
            else:
                await asyncio.wait_for(self._wait_open(), self._connect_timeout)
        except asyncio.TimeoutError:
            f = self._last_failure
            t = f"{self._connect_timeout:g}s"
            if f is None or f.kind == "timeout":
                exc = ConnectTimeoutError("timeout", f"no answer within {t} from {self.url}")
            else:
                exc = ConnectTimeoutError(f.kind, f"{f.reason} (gave up after {t})", f.status)
            self._close_exc = exc
            await self._shutdown()
            raise exc from None
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        """Closes the connection (code 1000) and stops reconnecting. Idempotent.

        Streams and event iterators end normally (``StopAsyncIteration``) after yielding what
        they had buffered; later operations raise :class:`ClosedError`.
        """
        await self._shutdown()

    async def __aenter__(self) -> Client:
        return await self.connect()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def subscribe(self, *topics: str | Iterable[str]) -> list[str]:
        """Subscribes to ``topics`` and waits for the server's ``ack``; returns the acked topics.

        Waits for the connection to be open first; a request interrupted by a lost connection is
        sent again on the next one. Subscribing to a topic already subscribed is harmless (the
        server acknowledges it and sends nothing again). Subscribed topics are resubscribed
        automatically after a reconnect, resuming from the last tick seen (``since``).

        Raises :class:`TickwireError` when the server answers ``err`` (``bad_topic`` with the
        offending names in ``.topics``: the valid topics of the same call are still subscribed;
        ``too_many_topics``, ``bad_request`` ...), :class:`ClosedError` when the client is closed.
        """
        names = _topics(topics)
        acked: list[str] = []
        bad: list[TickwireError] = []
        for chunk in _chunks(names, self._max_topics):
            try:
                acked.extend(await self._request_retrying({"op": "sub", "topics": chunk}, "sub", chunk))
            except TickwireError as e:
                if e.code != "bad_topic":
                    raise
                bad.append(e)
        if bad:
            raise TickwireError("bad_topic", bad[0].msg, [t for e in bad for t in e.topics])
        return acked

    async def unsubscribe(self, *topics: str | Iterable[str]) -> None:
        """Unsubscribes from ``topics``. They are no longer delivered (ticks already queued in a
        stream stay there) nor resubscribed after a reconnect; subscribing again later starts
        with a fresh snapshot. Unsubscribing a topic that is not subscribed does nothing.

        Raises :class:`TickwireError` for invalid topic names.
        """
        names = _topics(topics)
        for t in names:
            self._desired.pop(t, None)
            self._seq.forget(t)
            self._unsub_mark[t] = self._last_id
        conn = self._conn
        if conn is None or self._state is not State.OPEN:
            return  # nothing to tell a server we are not connected to: the reconnect skips them
        for chunk in _chunks(names, self._max_topics):
            try:
                await self._request(conn, {"op": "unsub", "topics": chunk}, "unsub", chunk)
            except ConnectionLostError:
                return

    async def ping(self) -> float:
        """Sends an application-level ``ping`` and returns the round-trip time in seconds.

        Raises :class:`ConnectionLostError` when the connection drops before the ``pong``.
        """
        conn = await self._wait_open()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await self._request(conn, {"op": "ping"}, "ping", ())
        return loop.time() - t0

    async def snapshot(self, *topics: str | Iterable[str], timeout: float | None = None) -> Snapshots:
        """Each topic's current snap in one HTTP request (``GET /v1/snapshot``, derived from ``url``:
        ``ws(s)://H/v1`` -> ``http(s)://H/v1/snapshot``, its ``access_token`` sent as
        ``Authorization: Bearer``), without connecting. Returns the snaps keyed by topic, and in
        ``errors`` the topics the gateway could not answer; a refused request (token, limit) raises
        :class:`TickwireError` (``unauthorized``, ``too_many_topics``)."""
        return await fetch_snapshot(self.url, _topics(topics), self._request_timeout if timeout is None else timeout)

    async def reconnect(self) -> None:
        """Drops the current connection and reconnects at once (no backoff). Subscriptions resume
        from the last tick seen, as after any reconnect. Does nothing when not connected."""
        conn = self._conn
        if conn is None:
            return
        conn.cause = "reconnect requested"
        conn.reconnect_now = True
        try:
            await conn.ws.close(1000, "reconnecting")
        except Exception:  # pragma: no cover - closing a broken link
            conn.ws.transport.abort()

    def stream(
        self,
        *topics: str | Iterable[str],
        maxsize: int = 10_000,
        events: bool = False,
        subscribe: bool = True,
    ) -> Stream:
        """An async iterator of the ticks of ``topics`` (:class:`Trade`, :class:`Quote`,
        :class:`BookChange`, :class:`Candle` or :class:`Stats`, by topic kind), oldest first: the
        snapshot's tick, then every following tick. (Order books are easier with :meth:`book`,
        which applies and verifies the change sets.)

        The stream is registered at once (ticks arriving before the iteration starts are kept);
        on the first iteration it subscribes to ``topics`` (unless ``subscribe=False``), raising
        :class:`TickwireError` for invalid names. Leaving the stream does not unsubscribe.

        Per topic, consecutive ticks have consecutive ``seq`` numbers, except where a
        :class:`Resync`, :class:`Moved` or :class:`Gap` event says otherwise (reported on :meth:`events`, and
        yielded inline, just before the tick they concern, when ``events=True``; with
        ``events=True`` the :class:`Snapshot` events are yielded too). Throttled topics
        (``quote.X@100ms``) skip seqs by design.

        At most ``maxsize`` items wait in the stream: when the consumer falls that far behind,
        the oldest ticks are dropped and a ``Gap(reason="overflow")`` event reports it — never
        silently (see :class:`Stream`). The iteration ends when the client is closed with
        :meth:`close`, and raises :class:`ClosedError` when it closed for any other reason.
        """
        return Stream(self, tuple(_topics(topics)), maxsize, events, subscribe)

    def events(self, maxsize: int = 10_000) -> EventStream:
        """An async iterator of every event from now on: :class:`StatusChange`,
        :class:`Snapshot`, :class:`Resync`, :class:`Moved` and :class:`Gap`. Registered at once; it ends after the
        ``StatusChange`` to ``closed``. Bounded by ``maxsize`` (oldest events dropped, logged)."""
        return EventStream(self, maxsize)

    def book(self, symbol: str, depth: int | None = 10, throttle: int | str | None = None, *, maxsize: int = 10_000) -> BookStream:
        """An async iterator of the maintained order book of ``symbol``:

        >>> async for book in client.book("BTC-USD", depth=10):        # doctest: +SKIP
        ...     print(book.seq, book.best_bid, book.best_ask, book.spread)

        ``depth``: 10 (default), 25 or 100 levels (topic ``book.<SYMBOL>:<depth>``), or None for
        every level the gateway keeps (``book.<SYMBOL>``). ``throttle``: None for every change
        set, or 100, 250, 500, 1000 ms for a view that merges each interval into one change set
        (``…@100ms``). The topic is subscribed on the first iteration, like :meth:`stream`.

        Yields the same :class:`Book` object after each snapshot or change set applied, and only
        when its checksum (``cs``, the top 10 levels) verified: on a mismatch, a seq gap, or when
        this consumer fell ``maxsize`` change sets behind, the book re-subscribes by itself and
        yields again once a fresh snapshot replaced it (a :class:`Resync` with reason
        ``checksum`` or ``gap`` on :meth:`events`). Resume, reconnects and the other guarantees
        are those of :meth:`stream`. ``book.stale`` is True (and the book empty) while the
        gateway reports the upstream book invalid.
        """
        topic = book_topic(symbol, depth, throttle)
        return BookStream(self, Stream(self, (topic,), maxsize, True, True))

    async def candles(self, topic: str, history: int = 500, *, before: float | None = None, timeout: float | None = None) -> CandleList:
        """The last ``history`` closed candles of ``topic`` (``candle.<1s|1m|5m|15m|1h|1d>.<SYMBOL>``),
        oldest first, from ``GET /v1/candles`` (derived from ``url`` and authenticated as
        :meth:`snapshot`), without connecting; before the bucket opening at ``before`` (epoch ms)
        when given. A :class:`CandleList` (a list of :class:`Candle`, with ``.to_frame()``). Fewer
        when the gateway keeps fewer; more than 1000 are fetched in several requests. A refusal
        raises :class:`TickwireError` with the gateway's code (``bad_topic``, ``unauthorized``,
        ``forbidden`` ...)."""
        return await fetch_candles(self.url, topic, history, before, self._request_timeout if timeout is None else timeout)

    def candle_stream(self, topic: str, history: int = 500, *, maxsize: int = 10_000) -> CandleStream:
        """An async iterator of the candles of ``topic``: the last ``history`` closed candles, oldest
        first, then live updates of the current candle and each next one, in one ordered stream.

        >>> async for c in client.candle_stream("candle.1m.BTC-USD", history=100):   # doctest: +SKIP
        ...     print(c.datetime, c.o, c.h, c.l, c.c, c.v, "closed" if c.x else "open")

        On the first iteration it subscribes to ``topic`` and then fetches the history (as
        :meth:`candles`), so nothing closes unseen between the two. Bucket times ``t`` never
        decrease and no closed bucket is yielded twice; the current bucket is yielded again on
        each update (the same ``t``), and a last time with ``x=True`` when it closes. After a
        :class:`Resync` of the topic the history is fetched again, and the candles that closed
        meanwhile are yielded before the live ones.
        """

        async def fetch(limit: int, before: float | None) -> CandleList:
            return await self.candles(topic, limit, before=before)

        return CandleStream(Stream(self, (topic,), maxsize, True, True), fetch, history)

    # ---------------------------------------------------------------- streams bookkeeping

    def _attach_stream(self, s: Stream) -> None:
        self._streams.append(s)
        for t in s.topics:
            self._by_topic.setdefault(t, []).append(s)
        if self._state is State.CLOSED:
            s._end(self._close_exc)

    def _detach_stream(self, s: Stream) -> None:
        if s in self._streams:
            self._streams.remove(s)
        for t in s.topics:
            lst = self._by_topic.get(t)
            if lst and s in lst:
                lst.remove(s)
                if not lst:
                    del self._by_topic[t]

    def _attach_events(self, q: EventStream) -> None:
        self._event_streams.append(q)
        if self._state is State.CLOSED:
            q._end(None)

    def _detach_events(self, q: EventStream) -> None:
        if q in self._event_streams:
            self._event_streams.remove(q)

    def _emit_event(self, ev: Event) -> None:
        for q in self._event_streams:
            q._put(ev)

    # ---------------------------------------------------------------------- state machine

    def _set_state(
        self,
        state: State,
        reason: str | None = None,
        code: int | None = None,
        attempt: int = 0,
        delay: float | None = None,
    ) -> None:
        prev = self._state
        if state not in _TRANSITIONS[prev]:
            raise AssertionError(f"tickwire: illegal state transition {prev.value} -> {state.value}")
        self._state = state
        self._status = StatusChange(state, prev, reason, code, attempt, delay)
        if state is State.OPEN:
            log.info("tickwire: connected to %s (%s)", self.url, self.subprotocol)
        elif state is State.CLOSED and self._close_exc is None:
            log.info("tickwire: closed by client")
        elif reason is not None:
            log.warning("tickwire: %s: %s%s", state.value, reason, f"; retrying in {delay:.2f}s" if delay is not None else "")
        self._emit_event(self._status)
        ev, self._changed = self._changed, asyncio.Event()
        ev.set()

    async def _wait_open(self) -> _Connection:
        while True:
            if self._state is State.OPEN and self._conn is not None:
                return self._conn
            if self._state is State.CLOSED:
                e = self._close_exc
                if isinstance(e, ConnectError):
                    raise ConnectError(e.kind, e.reason, e.status)
                raise ClosedError(e.reason, e.code) if e is not None else ClosedError("client closed")
            if self._state is State.IDLE:
                raise RuntimeError("client not connected: use 'async with Client(...)' or 'await client.connect()'")
            ev = self._changed
            await ev.wait()

    async def _run(self) -> None:
        """The connection loop (see the module docstring for the state diagram)."""
        attempt = 0
        try:
            while True:
                code: int | None = None
                immediate = False
                try:
                    ws = await connect(
                        self.url,
                        subprotocols=[self._codec.subprotocol],  # type: ignore[list-item]
                        open_timeout=self._open_timeout,
                        ping_interval=None,  # liveness is the hb watchdog's job
                        close_timeout=2,
                        max_size=2**24,
                        compression=self._compression,
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    failure = _handshake_failure(e, self.url)
                    reason = failure.reason
                    self._last_failure = failure
                    if failure.fatal or (failure.terminal and self._retry != "forever"):
                        self._close_exc = ConnectError(failure.kind, reason, failure.status) if not self._ever_open else ClosedError(reason)
                        self._set_state(State.CLOSED, reason)
                        return
                else:
                    negotiated = ws.subprotocol
                    if negotiated != self._codec.subprotocol and not (negotiated is None and self.format == "msgpack"):
                        await ws.close(1002, "subprotocol not accepted")
                        self._terminal(f"server did not accept subprotocol {self._codec.subprotocol} (got {negotiated!r})")
                        return
                    conn = _Connection(ws, asyncio.get_running_loop().time())
                    reason, code = await self._serve(conn)
                    if conn.received:
                        attempt = 0  # a connection that delivered frames resets the backoff
                    if self._closing:
                        return
                    if conn.reconnect_now:
                        immediate = True
                    elif not should_reconnect(code):
                        self._terminal(reason, code)
                        return
                if self._backoff is None and not immediate:
                    self._terminal(f"{reason}; reconnecting is disabled", code)
                    return
                delay = 0.0 if immediate or self._backoff is None else self._backoff.delay(attempt)
                if not immediate:
                    attempt += 1
                self._set_state(State.RECONNECTING if self._ever_open else State.CONNECTING, reason, code, attempt, delay)
                if delay > 0:
                    await asyncio.sleep(delay)
        finally:
            if self._state is not State.CLOSED:
                self._set_state(State.CLOSED, "closed by client" if self._close_exc is None else self._close_exc.reason)
            self._finish()

    def _terminal(self, reason: str, code: int | None = None) -> None:
        self._close_exc = ClosedError(reason, code)
        self._set_state(State.CLOSED, reason, code)

    def _finish(self) -> None:
        for s in list(self._streams):
            s._end(self._close_exc)
        for q in list(self._event_streams):
            q._end(None)

    async def _shutdown(self) -> None:
        self._closing = True
        task = self._task
        if task is None:
            if self._state is not State.CLOSED:
                self._set_state(State.CLOSED, "closed by client")
                self._finish()
            return
        conn = self._conn
        if conn is not None:
            try:
                await asyncio.wait_for(conn.ws.close(1000, "client closing"), 3)
            except Exception:
                conn.ws.transport.abort()
        if not task.done():
            task.cancel()
        await asyncio.wait([task])

    # ------------------------------------------------------------------- one connection

    async def _serve(self, conn: _Connection) -> tuple[str, int | None]:
        """Runs one open connection until it ends; returns (reason, close code)."""
        ws = conn.ws
        try:
            # Resubscribe first, so these frames precede anything else sent on the connection.
            desired = list(self._desired)
            for chunk in _chunks(desired, self._max_topics):
                msg: dict[str, Any] = {"op": "sub", "topics": chunk}
                since = self._seq.since(chunk)
                if since:
                    msg["since"] = since
                _, fut = await self._send_request(conn, msg, "resub", chunk)
                fut.add_done_callback(self._resub_done)
            self._conn = conn
            self._ever_open = True
            self._set_state(State.OPEN)
            self._spawn(conn, self._watchdog(conn))
            loop = asyncio.get_running_loop()
            decode = self._codec.decode
            while True:
                raw = await ws.recv()
                conn.last_rx = loop.time()
                conn.received = True
                try:
                    self._on_message(conn, decode(raw))
                except DecodeError as e:
                    log.warning("tickwire: dropping a server frame: %s", e)
                except Exception:
                    log.exception("tickwire: could not handle a server frame")
        except (ConnectionClosed, ConnectionLostError):
            pass
        finally:
            self._conn = None
            for t in list(conn.tasks):
                t.cancel()
            for p in conn.pending.values():
                if not p.fut.done():
                    p.fut.set_exception(ConnectionLostError("connection lost"))
            conn.pending.clear()
            if ws.protocol.close_code is None:  # left by an exception other than a close
                ws.transport.abort()
        # ws.protocol: the sans-I/O state, whose close_code/close_reason exist in every websockets >= 13
        code = ws.protocol.close_code
        if conn.cause is not None:
            return conn.cause, code
        why = ws.protocol.close_reason
        if code is None or code == 1006:
            return "connection lost (no close frame)", 1006
        return f"closed by server: {code} {close_name(code)}" + (f" ({why})" if why else ""), code

    def _spawn(self, conn: _Connection, coro: Any) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        conn.tasks.add(t)
        t.add_done_callback(conn.tasks.discard)

    async def _watchdog(self, conn: _Connection) -> None:
        loop = asyncio.get_running_loop()
        timeout = self._hb_timeout
        while True:
            remaining = conn.last_rx + timeout - loop.time()
            if remaining <= 0:
                conn.cause = f"no frame from the server for {timeout:g}s (heartbeat timeout)"
                conn.ws.transport.abort()
                return
            await asyncio.sleep(remaining)

    # ----------------------------------------------------------------------- dispatch

    def _on_message(self, conn: _Connection, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        if op == "upd":
            topic = msg["topic"]
            off = msg.get("off")
            items = self._seq.on_upd(topic, int(msg["seq"]), msg["data"], off if isinstance(off, int) else None)
            if items:
                self._deliver(conn, topic, items)
        elif op == "snap":
            topic = msg["topic"]
            if topic not in self._desired:
                return  # unsubscribed meanwhile
            src, off = msg.get("src"), msg.get("off")
            pos_ok = isinstance(src, str) and isinstance(off, int)
            items = self._seq.on_snap(
                topic,
                str(msg["epoch"]),
                int(msg["seq"]),
                msg["data"],
                bool(msg.get("resync")),
                src if pos_ok else None,
                off if pos_ok else None,
            )
            self._deliver(conn, topic, items)
        elif op == "hb":
            pass
        elif op == "shutdown":
            # The gateway is draining and closes with 1001 shortly. Leave now and reconnect with
            # no backoff: the gateway flushed before the notice, subscriptions resume, and a load
            # balancer routes the new connection to an instance that is not draining.
            conn.cause = f"server shutting down: {msg.get('msg') or 'notice'}"
            conn.reconnect_now = True
            self._spawn(conn, conn.ws.close(1000, "server shutting down"))
        elif op == "ack":
            self._on_ack(conn, msg)
        elif op == "pong":
            p = conn.pending.pop(msg.get("id"), None)  # type: ignore[arg-type]
            if p is not None and not p.fut.done():
                p.fut.set_result(None)
        elif op == "err":
            self._on_err(conn, msg)
        else:
            log.debug("tickwire: ignoring unknown op %r", op)

    def _deliver(self, conn: _Connection, topic: str, items: list[Item]) -> None:
        streams = self._by_topic.get(topic)
        for item in items:
            if isinstance(item, TICK_TYPES):
                if streams:
                    for s in streams:
                        s._put(item)
                continue
            self._emit_event(item)
            if streams:
                for s in streams:
                    if s.include_events:
                        s._put(item)
            if isinstance(item, Gap):
                log.warning("tickwire: %s: seq gap (expected %d, got %d); re-subscribing", topic, item.expected, item.got)
                self._spawn(conn, self._recover(conn, topic))

    def _on_ack(self, conn: _Connection, msg: dict[str, Any]) -> None:
        rid = msg.get("id")
        p = conn.pending.pop(rid, None)  # type: ignore[arg-type]
        if p is None:
            return
        topics = [t for t in msg.get("topics") or [] if isinstance(t, str)]
        if p.kind == "sub":
            for t in topics:
                # A sub acked after the user unsubscribed the topic is stale: keep it out.
                if self._unsub_mark.get(t, -1) < rid:  # type: ignore[operator]
                    self._desired[t] = None
        if p.fut.done():
            return
        if p.error is not None:
            p.fut.set_exception(p.error)
        else:
            p.fut.set_result(topics)

    def _on_err(self, conn: _Connection, msg: dict[str, Any]) -> None:
        err = TickwireError(str(msg.get("code")), str(msg.get("msg", "")), [str(t) for t in msg.get("topics") or []])
        rid = msg.get("id")
        p = conn.pending.get(rid) if isinstance(rid, int) else None  # type: ignore[arg-type]
        if p is None:
            log.warning("tickwire: server error: %s", err)
            return
        if err.code == "bad_topic" and any(not _named(t, err.topics) for t in p.topics):
            p.error = err  # the server acks the valid topics of the same request next
            return
        del conn.pending[rid]  # type: ignore[arg-type]
        if not p.fut.done():
            p.fut.set_exception(err)

    def _resub_done(self, fut: asyncio.Future[Any]) -> None:
        if fut.cancelled():
            return
        e = fut.exception()
        if e is None or isinstance(e, ConnectionLostError):
            return
        log.warning("tickwire: resubscription failed: %s", e)
        if isinstance(e, TickwireError):
            for t in e.topics:
                self._desired.pop(t, None)

    def _resync(self, topic: str, reason: ResyncReason) -> None:
        """A consumer found the topic's state wrong (a book checksum): re-subscribe it for a fresh
        snapshot, which comes with ``Resync(reason)``; upds are ignored until then. Without an open
        connection the reconnect's subscription (without ``since``) does it."""
        if not self._seq.invalidate(topic, reason):
            return
        log.warning("tickwire: %s: re-subscribing (%s)", topic, reason.value)
        conn = self._conn
        if conn is not None and self._state is State.OPEN:
            self._spawn(conn, self._recover(conn, topic))

    async def _recover(self, conn: _Connection, topic: str) -> None:
        """Gap recovery: unsub + sub; the new snapshot restarts the topic (a Resync event)."""
        try:
            await self._request(conn, {"op": "unsub", "topics": [topic]}, "internal", (topic,))
            if topic in self._desired and self._conn is conn:
                await self._request(conn, {"op": "sub", "topics": [topic]}, "internal", (topic,))
        except ConnectionLostError:
            pass  # the reconnect resubscribes it without `since`, which gives the same snapshot
        except Exception as e:
            log.warning("tickwire: could not re-subscribe %s after a gap: %s", topic, e)

    # ----------------------------------------------------------------------- requests

    async def _send_request(
        self, conn: _Connection, msg: dict[str, Any], kind: str, topics: Iterable[str]
    ) -> tuple[int, asyncio.Future[Any]]:
        """Registers the request (before sending, so the answer cannot overtake it) and sends it."""
        self._last_id += 1
        rid = self._last_id
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        conn.pending[rid] = _Pending(kind, tuple(topics), fut)
        frame = self._codec.encode({"op": msg["op"], "id": rid, **{k: v for k, v in msg.items() if k != "op"}})
        try:
            await conn.ws.send(frame)
        except ConnectionClosed:
            conn.pending.pop(rid, None)
            raise ConnectionLostError("connection lost") from None
        return rid, fut

    async def _request(self, conn: _Connection, msg: dict[str, Any], kind: str, topics: Iterable[str]) -> Any:
        rid, fut = await self._send_request(conn, msg, kind, topics)
        try:
            return await asyncio.wait_for(fut, self._request_timeout)
        except asyncio.TimeoutError:
            if kind != "sub":  # a late sub ack must still record the subscription the server made
                conn.pending.pop(rid, None)
            raise

    async def _request_retrying(self, msg: dict[str, Any], kind: str, topics: list[str]) -> Any:
        while True:
            conn = await self._wait_open()
            try:
                return await self._request(conn, msg, kind, topics)
            except ConnectionLostError:
                continue  # send it again on the next connection


# --------------------------------------------------------------------------- helpers


def _topics(args: tuple[str | Iterable[str], ...]) -> list[str]:
    """Flattens ``("a", "b")`` or ``(["a", "b"],)`` into a de-duplicated list, order kept."""
    out: dict[str, None] = {}
    for a in args:
        if isinstance(a, str):
            out[a] = None
        else:
            for t in a:
                if not isinstance(t, str):
                    raise TypeError(f"topics must be strings, got {type(t).__name__}")
                out[t] = None
    return list(out)


def _chunks(items: list[str], n: int) -> list[list[str]]:
    return [items[i : i + n] for i in range(0, len(items), n)]


def _named(topic: str, names: tuple[str, ...]) -> bool:
    """Whether the server's err names ``topic`` (it cuts names to 64 characters)."""
    return any(topic == n or (len(n) >= 64 and topic.startswith(n)) for n in names)


@dataclass
class _Failure:
    """Why one attempt failed before opening (see :class:`ConnectError` for the kinds)."""

    kind: str
    reason: str
    #: Retrying the same request cannot succeed: stop, unless retry="forever".
    terminal: bool
    status: int | None = None
    #: Never retried, whatever ``retry`` says (an invalid URL).
    fatal: bool = False


def _handshake_failure(e: Exception, url: str) -> _Failure:
    """Classifies an exception raised while opening a connection."""
    if isinstance(e, InvalidStatus):
        status = e.response.status_code
        raw = bytes(e.response.body or b"").decode("utf-8", "replace")
        ctype = e.response.headers.get("Content-Type", "") or ""
        # The gateway's refusals are short plain text; a web page's HTML says nothing useful here.
        body = "" if "html" in ctype.lower() or raw.lstrip().startswith("<") else " ".join(raw.split())[:300]
        if status in (401, 403):
            return _Failure("auth", f"authentication refused at {url} (HTTP {status})" + (f": {body}" if body else ""), True, status)
        if status >= 500 or status in (408, 429):
            return _Failure("failed", f"upgrade refused: HTTP {status}" + (f": {body}" if body else ""), False, status)
        if status < 400 or status in (404, 405):
            return _Failure("not_tickwire", f"HTTP {status} from {url} is not a tickwire endpoint; the path is /v1", True, status)
        return _Failure("failed", f"upgrade refused: HTTP {status}" + (f": {body}" if body else ""), True, status)
    if isinstance(e, (InvalidURI, ValueError, TypeError)):
        return _Failure("failed", f"invalid URL or options: {e}", True, fatal=True)
    # Several addresses (localhost: ::1 and 127.0.0.1) all refusing come as one OSError listing them.
    if isinstance(e, ConnectionRefusedError) or (isinstance(e, OSError) and f"[Errno {errno.ECONNREFUSED}]" in str(e)):
        return _Failure("refused", f"connection refused at {url}", False)
    if isinstance(e, asyncio.TimeoutError):
        return _Failure("timeout", f"cannot connect: no answer from {url} (handshake timeout)", False)
    if isinstance(e, (OSError, EOFError)):
        return _Failure("failed", f"cannot connect: {e or type(e).__name__}", False)
    # Any other handshake problem (an invalid HTTP answer, the peer closing mid-handshake ...)
    # may be transient: a proxy or a gateway that is still starting.
    return _Failure("failed", f"handshake failed: {type(e).__name__}: {e}", False)
