"""``tickwire.v1.msgpack-compact``: column ``data`` back to the ticks the msgpack subprotocol carries.

A market upd or snap may carry ``data = [px_scale, qty_scale, *columns]`` (docs/protocol.md,
"Compact encoding"): integers in the symbol's units, timestamps and prices as a first value then
differences. A price is ``n / px_scale``; Python's int / int is correctly rounded, so this is the
exact float the gateway was given. Everything else is returned unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import accumulate
from typing import Any

__all__ = ["expand_compact", "CompactError"]


class CompactError(ValueError):
    """Column data that does not follow the compact encoding."""


def _ints(col: Any, name: str, n: int) -> list[int]:
    if not isinstance(col, list) or len(col) != n or not all(type(v) is int for v in col):
        raise CompactError(f"malformed compact data: {name}")
    return col


def _summed(col: Any, name: str, n: int) -> list[int]:
    return list(accumulate(_ints(col, name, n)))


def _levels(flat: Any, ps: int, qs: int, name: str) -> list[list[float]]:
    if not isinstance(flat, list) or len(flat) % 2 or not all(type(v) is int for v in flat):
        raise CompactError(f"malformed compact data: {name}")
    pxs = accumulate(flat[0::2])
    return [[px / ps, qty / qs] for px, qty in zip(pxs, flat[1::2], strict=False)]


def _trade(cols: list[Any], n: int, ps: int, qs: int) -> list[dict[str, Any]]:
    ts, px, qty, side = (*cols, None, None, None, None)[:4]
    ts, px, qty = _summed(ts, "ts", n), _summed(px, "px", n), _ints(qty, "qty", n)
    if not isinstance(side, str) or len(side) != n or side.strip("bs"):
        raise CompactError("malformed compact data: side")
    return [{"ts": float(ts[i]), "px": px[i] / ps, "qty": qty[i] / qs, "side": side[i]} for i in range(n)]


def _quote(cols: list[Any], n: int, ps: int, qs: int) -> list[dict[str, Any]]:
    ts, bid, bsz, ask, asz = (*cols, None, None, None, None, None)[:5]
    ts, bid, bsz, spread, asz = (
        _summed(ts, "ts", n),
        _summed(bid, "bid", n),
        _ints(bsz, "bsz", n),
        _ints(ask, "ask", n),
        _ints(asz, "asz", n),
    )
    return [
        {"ts": float(ts[i]), "bid": bid[i] / ps, "bsz": bsz[i] / qs, "ask": (bid[i] + spread[i]) / ps, "asz": asz[i] / qs} for i in range(n)
    ]


def _book(cols: list[Any], n: int, ps: int, qs: int) -> list[dict[str, Any]]:
    ts, b, a, cs = (*cols, None, None, None, None)[:4]
    ts, cs = _summed(ts, "ts", n), _ints(cs, "cs", n)
    for side, name in ((b, "b"), (a, "a")):
        if not isinstance(side, list) or len(side) != n:
            raise CompactError(f"malformed compact data: {name}")
    return [{"ts": float(ts[i]), "b": _levels(b[i], ps, qs, "b"), "a": _levels(a[i], ps, qs, "a"), "cs": cs[i]} for i in range(n)]


# Per kind (the topic up to its first "."), in the column order of the kind's entry.
_EXPAND: dict[str, Callable[[list[Any], int, int, int], list[dict[str, Any]]]] = {"trade": _trade, "quote": _quote, "book": _book}


def expand_compact(msg: dict[str, Any]) -> dict[str, Any]:
    """``msg`` with column ``data`` expanded (a list of ticks for upd, one tick for snap); raises :class:`CompactError`."""
    data = msg.get("data")
    if msg.get("op") not in ("upd", "snap") or not isinstance(data, list) or not data or type(data[0]) is not int:
        return msg  # not columns: the msgpack form (free-form kinds, values off their grid) or no tick message
    topic = msg.get("topic")
    expand = _EXPAND.get(topic.split(".", 1)[0]) if isinstance(topic, str) else None
    if expand is None:
        raise CompactError(f"malformed compact data: no column form for topic {topic!r}")
    ps, qs, *cols = data
    if type(qs) is not int or ps <= 0 or qs <= 0:
        raise CompactError("malformed compact data: scales")
    n = len(cols[0]) if cols and isinstance(cols[0], list) else 0
    if n == 0 or (msg["op"] == "snap" and n != 1):
        raise CompactError("malformed compact data: ts")
    ticks = expand(cols, n, ps, qs)
    return {**msg, "data": ticks[0] if msg["op"] == "snap" else ticks}
