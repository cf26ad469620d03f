"""The client follows the shared wire contract (protocol.json, generated from protocol/src): its
error and close-code tables, the one close-code policy, the subprotocols and the topic grammar.

The TypeScript SDK's tests (client/ts/test/close-codes.test.ts) check the same decisions against
the same file, so both SDKs agree on every code.
"""

from __future__ import annotations

import ast
import json
from importlib.resources import files
from pathlib import Path

import pytest

import tickwire
from tickwire import CLOSE_CODES, ERROR_CODES, SUBPROTOCOLS, TickwireError, is_valid_subscription, is_valid_topic, should_reconnect
from tickwire.errors import close_name

SHARED = json.loads(files("tickwire").joinpath("protocol.json").read_text(encoding="utf-8"))


def _unknown_samples() -> list[tuple[int, bool]]:
    """Codes no table names: a few in each tickwire range, and elsewhere."""
    listed = {c["code"] for c in SHARED["closeCodes"]}
    out = [
        (code, r["reconnect"])
        for r in SHARED["closeCodeRanges"]
        for code in (r["first"], r["first"] + 3, (r["first"] + r["last"]) // 2, r["last"])
        if code not in listed
    ]
    out += [(code, SHARED["unknownCloseCodeReconnects"]) for code in (999, 1004, 1015, 1016, 2000, 3000, 3499, 3500, 3999, 5000)]
    return out


def test_tables_are_protocol_json() -> None:
    assert {code: e["reconnect"] for code, e in SHARED["errorCodes"].items()} == ERROR_CODES
    assert {c["code"]: (c["name"], c["reconnect"]) for c in SHARED["closeCodes"] if c["sent"]} == CLOSE_CODES
    assert {p["format"]: p["subprotocol"] for p in SHARED["subprotocols"]} == SUBPROTOCOLS
    assert "bad_topic" in ERROR_CODES and 4008 in CLOSE_CODES


def test_every_listed_close_code_follows_the_table() -> None:
    assert len(SHARED["closeCodes"]) > 10
    for c in SHARED["closeCodes"]:
        assert should_reconnect(c["code"]) is c["reconnect"], c
        assert close_name(c["code"]) == c["name"]


def test_unknown_close_codes_follow_their_range() -> None:
    samples = _unknown_samples()
    assert {r for _, r in samples} == {True, False}
    for code, reconnect in samples:
        assert should_reconnect(code) is reconnect, code


def test_should_reconnect() -> None:
    assert [c for c in (1000, 1001, 1009, 4001, 4002, 4008, 4029) if should_reconnect(c)] == [1001, 4001, 4002, 4008, 4029]
    assert all(should_reconnect(c) for c in (None, 1005, 1006, 1011, 1012, 1013, 1014, 4000, 4003, 4499))
    assert not any(should_reconnect(c) for c in (1002, 1003, 1007, 1008, 1010, 4500, 4999))


@pytest.mark.parametrize(
    "name, topic, subscription",
    [
        ("trade.BTC-USD", True, True),
        ("quote.AAPL@100ms", False, True),
        ("quote.AAPL@1000ms", False, True),
        ("quote.AAPL@2ms", False, False),
        ("trade.btc-usd", False, False),
        ("trade.BTC-USD\n", False, False),
        ("user.alice.orders", True, True),
        ("user.alice.orders@100ms", False, False),
        ("sys.announce", True, True),
        ("sys.other", False, False),
        ("trade.", False, False),
        ("trade." + "A" * 32, True, True),
        ("trade." + "A" * 33, False, False),
        ("user." + "a" * 64 + "." + "b" * 32, True, True),
    ],
)
def test_topic_grammar(name: str, topic: bool, subscription: bool) -> None:
    assert is_valid_topic(name) is topic
    assert is_valid_subscription(name) is subscription


def test_protocol_json_is_package_data() -> None:
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"protocol.json"' in pyproject


def test_streams_do_not_import_the_client() -> None:
    """_streams.py knows its client through the StreamOwner protocol only (no import cycle)."""
    tree = ast.parse(Path(tickwire.__file__).with_name("_streams.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert "client" not in imported and "tickwire.client" not in imported, imported


def test_tickwire_error() -> None:
    e = TickwireError("bad_topic", "invalid topic name(s)", ["trade.btc"])
    assert (e.code, e.msg, e.topics, e.retry) == ("bad_topic", "invalid topic name(s)", ("trade.btc",), False)
    assert "trade.btc" in str(e)
