"""pandas helpers (``pip install "tickwire[pandas]"``): ticks to DataFrames.

::

    from tickwire.sync import SyncClient
    from tickwire.frames import ticks_frame

    with SyncClient("ws://127.0.0.1:9001/v1") as client:
        stream = client.stream("trade.BTC-USD", "trade.ETH-USD")
        ticks = [next(stream) for _ in range(1000)]
    df = ticks_frame(ticks)          # one row per tick, index: time (UTC)
    df.groupby("topic").px.describe()

Trades and quotes of several topics may be mixed: the frame has the union of their columns
(``px``/``qty``/``side`` for trades, ``bid``/``bsz``/``ask``/``asz`` for quotes; missing ones
are NaN). Events (snapshots, resyncs, gaps) in the input are skipped: a frame is data, and a
``Resync`` between two rows is visible as a jump in ``seq`` within a topic.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .models import Candle, Quote, Trade

if TYPE_CHECKING:  # pragma: no cover
    import pandas

    from ._book import Book

__all__ = ["ticks_frame", "trades_frame", "quotes_frame", "candles_frame", "book_frame"]

_TRADE_COLUMNS = ("topic", "seq", "ts", "px", "qty", "side")
_QUOTE_COLUMNS = ("topic", "seq", "ts", "bid", "bsz", "ask", "asz")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as e:  # pragma: no cover - exercised only without pandas
        raise ImportError('tickwire DataFrames (to_frame, tickwire.frames) need pandas: pip install "tickwire[pandas]"') from e
    return pandas


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pandas.DataFrame:
    pd = _pandas()
    df = pd.DataFrame(rows, columns=list(columns))
    df["seq"] = df["seq"].astype("int64")
    # ts is epoch milliseconds on the wire; the index is the same instant as a UTC timestamp.
    df.index = pd.to_datetime(df["ts"], unit="ms", utc=True)
    df.index.name = "time"
    return df


def ticks_frame(items: Iterable[Any]) -> pandas.DataFrame:
    """Trades and quotes (any mix, any topics) to one DataFrame indexed by tick time (UTC)."""
    rows: list[dict[str, Any]] = []
    has_trade = has_quote = False
    for it in items:
        if isinstance(it, Trade):
            has_trade = True
            rows.append({c: getattr(it, c) for c in _TRADE_COLUMNS})
        elif isinstance(it, Quote):
            has_quote = True
            rows.append({c: getattr(it, c) for c in _QUOTE_COLUMNS})
    columns = _TRADE_COLUMNS if not has_quote else _QUOTE_COLUMNS if not has_trade else _TRADE_COLUMNS + _QUOTE_COLUMNS[3:]
    return _frame(rows, columns)


def trades_frame(items: Iterable[Any]) -> pandas.DataFrame:
    """Only the trades of ``items``: columns topic, seq, ts, px, qty, side."""
    return _frame([{c: getattr(t, c) for c in _TRADE_COLUMNS} for t in items if isinstance(t, Trade)], _TRADE_COLUMNS)


def quotes_frame(items: Iterable[Any]) -> pandas.DataFrame:
    """Only the quotes of ``items``: columns topic, seq, ts, bid, bsz, ask, asz."""
    return _frame([{c: getattr(q, c) for c in _QUOTE_COLUMNS} for q in items if isinstance(q, Quote)], _QUOTE_COLUMNS)


_CANDLE_COLUMNS = ("t", "o", "h", "l", "c", "v", "q", "n", "x")


def candles_frame(items: Iterable[Any]) -> pandas.DataFrame:
    """Candles (history or stream) to a DataFrame indexed by bucket open time (UTC), columns
    ``t o h l c v q n x`` (``n`` int64, ``x`` bool). Other items are skipped."""
    pd = _pandas()
    rows = [{c: getattr(k, c) for c in _CANDLE_COLUMNS} for k in items if isinstance(k, Candle)]
    df = pd.DataFrame(rows, columns=list(_CANDLE_COLUMNS))
    df["n"] = df["n"].astype("int64")
    df["x"] = df["x"].astype("bool")
    df.index = pd.to_datetime(df["t"], unit="ms", utc=True)
    df.index.name = "time"
    return df


def book_frame(book: Book) -> pandas.DataFrame:
    """An order book's levels: bids best first, then asks best first; columns ``side`` (``bid`` /
    ``ask``), ``level`` (0 = best), ``px``, ``qty`` and ``cum_qty`` (cumulative size from the best
    level, what a depth chart plots)."""
    pd = _pandas()
    rows: list[dict[str, Any]] = []
    for side, levels in (("bid", book.bids), ("ask", book.asks)):
        cum = 0.0
        for i, (px, qty) in enumerate(levels):
            cum += qty
            rows.append({"side": side, "level": i, "px": px, "qty": qty, "cum_qty": cum})
    df = pd.DataFrame(rows, columns=["side", "level", "px", "qty", "cum_qty"])
    df["level"] = df["level"].astype("int64")
    return df
