"""The synchronous client (tickwire.sync) against the real gateway, and the datetime accessors."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tickwire import Gap, Quote, TickwireError, Trade
from tickwire.sync import SyncClient

from .conftest import GatewayProcess
from .test_gateway import assert_continuous


def wait_until(pred: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Polls a condition (never a fixed sleep standing in for one)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def test_a_script_iterates_ticks_without_asyncio(gateway: GatewayProcess) -> None:
    with SyncClient(gateway.url) as client:
        stream = client.stream("trade.BTC-USD", "quote.BTC-USD")
        ticks = [next(stream) for _ in range(300)]
        assert client.ping() >= 0
    assert {type(t) for t in ticks} == {Trade, Quote}
    assert_continuous(ticks)
    now = dt.datetime.now(dt.timezone.utc)
    for t in ticks:
        assert t.datetime.tzinfo is dt.timezone.utc
        assert abs((now - t.datetime).total_seconds()) < 120


def test_close_ends_every_stream_and_joins_the_thread(gateway: GatewayProcess) -> None:
    before = {t.name for t in threading.enumerate()}
    client = SyncClient(gateway.url).connect()
    assert "tickwire-client" in {t.name for t in threading.enumerate()} - before
    ticks = client.stream("trade.ETH-USD")
    events = client.events()
    next(ticks)
    client.close()
    assert list(ticks) == [] or all(isinstance(t, Trade) for t in ticks)
    with pytest.raises(StopIteration):
        next(ticks)
    # The events stream ends after the status change to closed.
    assert any(getattr(e, "state", None) is not None for e in events)
    assert "tickwire-client" not in {t.name for t in threading.enumerate()} - before
    with pytest.raises(Exception, match="closed"):
        client.subscribe("trade.BTC-USD")


def test_a_slow_script_loses_nothing_silently(gateway: GatewayProcess) -> None:
    with SyncClient(gateway.url) as client:
        stream = client.stream("trade.BTC-USD", "quote.BTC-USD", maxsize=50, events=True, handover=10)
        next(stream)
        # The script is busy elsewhere: the bounded async stream overflows behind it...
        wait_until(lambda: stream.dropped > 0, "an overflow in the stream")
        items = [stream.get(timeout=10) for _ in range(200)]
    # ...which it is told about (a Gap), and everything else it gets is consecutive.
    assert any(isinstance(i, Gap) and i.reason == "overflow" for i in items)
    assert_continuous(items)


def test_errors_reach_the_script(gateway: GatewayProcess) -> None:
    with SyncClient(gateway.url) as client:
        with pytest.raises(TickwireError):
            next(client.stream("not a topic"))
        with pytest.raises(TickwireError):
            client.subscribe("trade.btc-usd")
        assert client.subscribe("quote.AAPL") == ["quote.AAPL"]


def test_datetime_is_the_exact_utc_millisecond() -> None:
    t = Trade(topic="trade.X", seq=1, ts=1_700_000_000_123.0, px=1.0, qty=1.0, side="b")
    assert t.datetime == dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=dt.timezone.utc)
    q = Quote(topic="quote.X", seq=1, ts=0.0, bid=1.0, bsz=1.0, ask=2.0, asz=1.0)
    assert q.datetime == dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
