"""pandas helpers (tickwire.frames)."""

from __future__ import annotations

import math

import pandas as pd

from tickwire import Gap, Quote, Trade
from tickwire.frames import quotes_frame, ticks_frame, trades_frame

T1 = Trade(topic="trade.BTC-USD", seq=7, ts=1_700_000_000_000.0, px=100.5, qty=0.25, side="b")
T2 = Trade(topic="trade.BTC-USD", seq=8, ts=1_700_000_000_250.0, px=100.75, qty=1.0, side="s")
Q1 = Quote(topic="quote.BTC-USD", seq=3, ts=1_700_000_000_100.0, bid=100.4, bsz=2.0, ask=100.6, asz=3.0)
GAP = Gap(topic="trade.BTC-USD", expected=9, got=12, reason="overflow")


def test_trades_to_a_frame_indexed_by_utc_time() -> None:
    df = trades_frame([T1, GAP, Q1, T2])
    assert list(df.columns) == ["topic", "seq", "ts", "px", "qty", "side"]
    assert list(df.seq) == [7, 8]
    assert str(df.seq.dtype) == "int64"
    assert list(df.px) == [100.5, 100.75]
    assert df.index[0] == pd.Timestamp("2023-11-14 22:13:20", tz="UTC")
    assert df.index[1] - df.index[0] == pd.Timedelta(milliseconds=250)
    assert df.index.name == "time"


def test_mixed_ticks_get_the_union_of_columns_and_events_are_skipped() -> None:
    df = ticks_frame([T1, Q1, GAP, T2])
    assert list(df.columns) == ["topic", "seq", "ts", "px", "qty", "side", "bid", "bsz", "ask", "asz"]
    assert len(df) == 3
    quote_row = df[df.topic == "quote.BTC-USD"].iloc[0]
    assert quote_row.bid == 100.4 and math.isnan(quote_row.px)
    assert list(quotes_frame([T1, Q1]).columns) == ["topic", "seq", "ts", "bid", "bsz", "ask", "asz"]


def test_an_empty_input_gives_an_empty_frame_with_the_columns() -> None:
    assert list(ticks_frame([]).columns) == ["topic", "seq", "ts", "px", "qty", "side"]
    assert len(quotes_frame([GAP])) == 0
