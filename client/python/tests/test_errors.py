"""The client's error and close-code tables agree with the gateway's (protocol/src/errors.ts)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tickwire import CLOSE_CODES, ERROR_CODES, TickwireError, should_reconnect

ERRORS_TS = Path(__file__).resolve().parents[3] / "gateway" / "src" / "protocol" / "errors.ts"


def test_tables_match_the_gateway() -> None:
    src = ERRORS_TS.read_text()
    errors_block = src[src.index("ERROR_CODES") : src.index("CLOSE_CODES")]
    ts_errors = {m[0]: m[1] == "true" for m in re.findall(r"^\s+(\w+): \{ reconnect: (true|false)", errors_block, re.M)}
    assert ts_errors == ERROR_CODES
    close_block = src[src.index("export const CLOSE_CODES") :]
    ts_close = {
        int(code): (name, flag == "true")
        for name, code, flag in re.findall(r"^\s+(\w+): \{ code: (\d+), reconnect: (true|false)", close_block, re.M)
    }
    assert ts_close == CLOSE_CODES


def test_should_reconnect() -> None:
    assert [c for c in (1000, 1001, 1009, 4001, 4002, 4008, 4029) if should_reconnect(c)] == [1001, 4001, 4002, 4008, 4029]
    assert all(should_reconnect(c) for c in (None, 1005, 1006, 1011, 1012, 1013))
    assert not any(should_reconnect(c) for c in (1002, 1003, 1007, 1008, 4000, 4003, 4999))


def test_tickwire_error() -> None:
    e = TickwireError("bad_topic", "invalid topic name(s)", ["trade.btc"])
    assert (e.code, e.msg, e.topics, e.retry) == ("bad_topic", "invalid topic name(s)", ("trade.btc",), False)
    assert "trade.btc" in str(e)
