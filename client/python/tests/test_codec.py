"""The three framings, against hand-made frames and the gateway's shared wire fixtures."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

import msgpack
import pytest

from tickwire import BookChange, Candle, DecodeError, Quote, Stats, Trade, get_codec
from tickwire.codec import FORMATS, SUBPROTOCOLS, encode_server_frame
from tickwire.models import tick_from_wire

REPO = Path(__file__).resolve().parents[3]
WIRE_FIXTURES = REPO / "docs" / "fixtures" / "wire.json"

UPD = {
    "op": "upd",
    "topic": "trade.BTC-USD",
    "seq": 1043,
    "data": [{"ts": 1795687880465.0, "px": 65000.0, "qty": 0.5, "side": "b"}] * 30,
}


def test_formats_and_subprotocols() -> None:
    assert FORMATS == ("msgpack", "json", "msgpack+deflate", "msgpack-compact", "msgpack-compact+deflate")
    assert SUBPROTOCOLS == {
        "msgpack": "tickwire.v1.msgpack",
        "json": "tickwire.v1.json",
        "msgpack+deflate": "tickwire.v1.msgpack+deflate",
        "msgpack-compact": "tickwire.v1.msgpack-compact",
        "msgpack-compact+deflate": "tickwire.v1.msgpack-compact+deflate.d1",
    }
    with pytest.raises(ValueError):
        get_codec("cbor")


def test_msgpack_roundtrip_and_client_frames() -> None:
    c = get_codec("msgpack")
    frame = c.encode({"op": "sub", "id": 1, "topics": ["trade.BTC-USD"]})
    assert isinstance(frame, bytes) and c.binary
    assert msgpack.unpackb(frame, raw=False) == {"op": "sub", "id": 1, "topics": ["trade.BTC-USD"]}
    assert c.decode(msgpack.packb(UPD)) == UPD


def test_msgpack_rejects_text_non_maps_and_garbage() -> None:
    c = get_codec("msgpack")
    with pytest.raises(DecodeError, match="text frame"):
        c.decode('{"op":"hb"}')
    with pytest.raises(DecodeError, match="must be a map"):
        c.decode(msgpack.packb([1, 2]))
    with pytest.raises(DecodeError):
        c.decode(b"\xc1")
    with pytest.raises(DecodeError):
        c.decode(msgpack.packb({"op": "hb"}) + b"\x00")  # trailing bytes: not one value


def test_json() -> None:
    c = get_codec("json")
    frame = c.encode({"op": "ping", "id": -3})
    assert isinstance(frame, str) and not c.binary
    assert json.loads(frame) == {"op": "ping", "id": -3}
    assert c.decode(json.dumps(UPD)) == UPD
    assert c.decode(json.dumps(UPD).encode()) == UPD  # bytes are accepted too
    with pytest.raises(DecodeError):
        c.decode("{not json")
    with pytest.raises(DecodeError, match="must be a map"):
        c.decode("[1]")


def test_deflate_plain_and_compressed_frames() -> None:
    c = get_codec("msgpack+deflate")
    raw = msgpack.packb(UPD)
    # 0x00: msgpack as is.
    assert c.decode(b"\x00" + raw) == UPD
    # 0x01: raw DEFLATE (no zlib header), compressed independently of other frames.
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    assert c.decode(b"\x01" + z.compress(raw) + z.flush()) == UPD
    # The helper the fake server uses produces both framings.
    assert encode_server_frame(UPD, "msgpack+deflate", compress=False)[0] == 0x00
    compressed = encode_server_frame(UPD, "msgpack+deflate")
    assert compressed[0] == 0x01 and len(compressed) < len(raw)
    small = encode_server_frame({"op": "pong", "id": 3}, "msgpack+deflate")
    assert small[0] == 0x00  # compressing would not make it smaller
    assert c.decode(compressed) == UPD and c.decode(small) == {"op": "pong", "id": 3}


def test_deflate_client_frames_are_plain_msgpack() -> None:
    frame = get_codec("msgpack+deflate").encode({"op": "ping", "id": 1})
    assert msgpack.unpackb(frame, raw=False) == {"op": "ping", "id": 1}


def test_deflate_bad_frames() -> None:
    c = get_codec("msgpack+deflate")
    with pytest.raises(DecodeError, match="empty"):
        c.decode(b"")
    with pytest.raises(DecodeError, match="flag byte 0x02"):
        c.decode(b"\x02" + msgpack.packb({"op": "hb"}))
    with pytest.raises(DecodeError):
        c.decode(b"\x01not deflate")
    with pytest.raises(DecodeError):
        c.decode(b"\x01" + zlib.compress(msgpack.packb({"op": "hb"})))  # zlib header: not raw
    with pytest.raises(DecodeError, match="text frame"):
        c.decode("x")


def test_float64_values_decode_as_float() -> None:
    # The gateway writes every tick number as float64, integral ones too (0xcb + 8 bytes).
    frame = b"\x84" + msgpack.packb("ts") + b"\xcb" + struct.pack(">d", 1795687880463.0)
    frame += msgpack.packb("px") + b"\xcb" + struct.pack(">d", 65000.0)
    frame += msgpack.packb("qty") + b"\xcb" + struct.pack(">d", 2.0)
    frame += msgpack.packb("side") + msgpack.packb("s")
    d = get_codec("msgpack").decode(frame)
    t = tick_from_wire("trade.BTC-USD", 7, d)
    assert t == Trade("trade.BTC-USD", 7, 1795687880463.0, 65000.0, 2.0, "s")
    assert all(isinstance(x, float) for x in (t.ts, t.px, t.qty))


def test_tick_from_wire_kinds() -> None:
    q = tick_from_wire("quote.ETH-USD@100ms", 3, {"ts": 1, "bid": 1, "bsz": 2, "ask": 3, "asz": 4})
    assert q == Quote("quote.ETH-USD@100ms", 3, 1.0, 1.0, 2.0, 3.0, 4.0)
    assert isinstance(q.bid, float)  # JSON integers become floats too
    with pytest.raises(KeyError):
        tick_from_wire("trade.X", 1, {"ts": 1.0})
    with pytest.raises(ValueError):
        tick_from_wire("level3.X", 1, {})


def _fixtures() -> list[dict]:
    if not WIRE_FIXTURES.exists():
        return []
    return json.loads(WIRE_FIXTURES.read_text())["fixtures"]


def _at(obj: object, path: str) -> object:
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]  # type: ignore[index]
    return obj


@pytest.mark.parametrize("fx", _fixtures(), ids=lambda fx: fx["name"])
def test_gateway_wire_fixtures(fx: dict) -> None:
    """Every frame in the gateway's generated fixtures decodes to its documented message."""
    fmt = next(k for k, v in SUBPROTOCOLS.items() if v == fx["subprotocol"])
    raw = bytes.fromhex(fx["hex"])
    if fx["direction"] == "server":
        codec = get_codec(fmt)
        msg = codec.decode(raw if codec.binary else raw.decode())
        assert msg == fx["message"]
        for path in fx.get("floats", []):
            assert isinstance(_at(msg, path), float), path
    else:
        # Client frames: what the gateway expects; ours must decode to the same message.
        ours = get_codec(fmt).encode(fx["message"])
        if fmt == "json":
            assert json.loads(raw) == json.loads(ours) == fx["message"]
        else:
            assert msgpack.unpackb(raw, raw=False) == msgpack.unpackb(ours, raw=False) == fx["message"]


def test_tick_from_wire_books_candles_stats() -> None:
    snap = tick_from_wire("book.X:10", 4, {"ts": 1, "bids": [[2, 3]], "asks": [], "cs": 7, "tick": 0.5, "lot": 1})
    assert snap == BookChange("book.X:10", 4, 1.0, ((2.0, 3.0),), (), 7, stale=False, snapshot=True, tick=0.5, lot=1.0)
    ch = tick_from_wire("book.X@100ms", 5, {"ts": 2, "b": [], "a": [[3, 0]], "cs": 0, "stale": True})
    assert ch == BookChange("book.X@100ms", 5, 2.0, (), ((3.0, 0.0),), 0, stale=True)
    wire = {"t": 60000, "o": 1, "h": 2, "l": 0.5, "c": 1.5, "v": 3, "q": 4.5, "n": 2, "x": True}
    assert tick_from_wire("candle.1m.X", 3, wire) == Candle("candle.1m.X", 3, 60000.0, 1.0, 2.0, 0.5, 1.5, 3.0, 4.5, 2, True)
    assert tick_from_wire("candle.1m.X", 4, {**wire, "x": False}).x is False
    st = {"ts": 9, "last": 101, "open": 100, "high": 102, "low": 99, "v": 5, "q": 500, "chg": 1, "chgPct": 1.0, "n": 42}
    assert tick_from_wire("stats.X", 2, st) == Stats("stats.X", 2, 9.0, 101.0, 100.0, 102.0, 99.0, 5.0, 500.0, 1.0, 1.0, 42)
    with pytest.raises(KeyError):
        tick_from_wire("candle.1m.X", 1, {"t": 1})
    with pytest.raises(KeyError):
        tick_from_wire("book.X", 1, {})  # a known kind, a map without its fields
    with pytest.raises(ValueError):
        tick_from_wire("user.alice.orders", 1, {"ts": 1.0})  # free-form kinds have no tick class


def _same_types(a: object, b: object) -> bool:
    """Equal, and the same Python type at every leaf (a float stays a float)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_types(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_types(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def test_compact_fixtures_decode_to_the_objects_msgpack_gives() -> None:
    """Compact frames of the shared fixtures: the very dicts (types included) the msgpack frames decode to."""
    by_name = {fx["name"]: fx for fx in _fixtures()}
    compact = [fx for fx in _fixtures() if fx["subprotocol"] == SUBPROTOCOLS["msgpack-compact"] and fx["direction"] == "server"]
    assert len(compact) >= 10
    paired = 0
    for fx in compact:
        ours = get_codec("msgpack-compact").decode(bytes.fromhex(fx["hex"]))
        twin = by_name.get(fx["name"].replace("msgpack-compact/", "msgpack/", 1))
        expected = get_codec("msgpack").decode(bytes.fromhex(twin["hex"])) if twin else None
        if expected is not None:
            assert _same_types(ours, expected), fx["name"]
            paired += 1
        assert ours == fx["message"], fx["name"]
    assert paired >= 8
    columns = msgpack.unpackb(bytes.fromhex(by_name["msgpack-compact/server/upd-trades"]["hex"]), raw=False)["data"]
    assert columns[:2] == [100, 10000]  # really columns, in the fixture symbol's units


def test_compact_keeps_floats_and_rejects_malformed_columns() -> None:
    c = get_codec("msgpack-compact")
    frame = {"op": "upd", "topic": "trade.X", "seq": 1, "data": [100, 10, [1795687880463, 5], [650000, -1], [15, 1], "bs"]}
    msg = c.decode(msgpack.packb(frame))
    assert msg["data"] == [
        {"ts": 1795687880463.0, "px": 6500.0, "qty": 1.5, "side": "b"},
        {"ts": 1795687880468.0, "px": 6499.99, "qty": 0.1, "side": "s"},
    ]
    assert all(isinstance(t["ts"], float) and isinstance(t["px"], float) for t in msg["data"])
    for broken in (
        [0, 10, *frame["data"][2:]],
        [*frame["data"][:5], "bx"],
        [*frame["data"][:3], [1], *frame["data"][4:]],
        frame["data"][:5],
    ):
        with pytest.raises(DecodeError, match="malformed compact data"):
            c.decode(msgpack.packb({**frame, "data": broken}))
    # The msgpack form (a value off its grid, a free-form kind) passes through unchanged.
    plain = {"op": "upd", "topic": "user.a.b", "seq": 1, "data": [{"px": 0.333}]}
    assert c.decode(msgpack.packb(plain)) == plain


def test_the_reference_decoder_in_the_protocol_doc_decodes_every_compact_fixture() -> None:
    """docs/protocol.md's Python reference decoder (Compact encoding) is run as printed, on the shared fixtures."""
    doc = (REPO / "docs" / "protocol.md").read_text()
    section = doc[doc.index("## Compact encoding") :]
    source = section[section.index("```python") + len("```python") : section.index("```", section.index("```python") + 3)]
    assert len([line for line in source.splitlines() if line.strip()]) <= 30
    scope: dict[str, Any] = {}
    exec(compile(source, "protocol.md", "exec"), scope)
    compact = [fx for fx in _fixtures() if fx["subprotocol"] == SUBPROTOCOLS["msgpack-compact"] and fx["direction"] == "server"]
    assert compact
    for fx in compact:
        assert scope["decode_compact"](bytes.fromhex(fx["hex"])) == fx["message"], fx["name"]


def _compact_deflate_fixtures() -> list[dict[str, Any]]:
    sub = SUBPROTOCOLS["msgpack-compact+deflate"]
    return [fx for fx in _fixtures() if fx["subprotocol"] == sub and fx["direction"] == "server"]


def test_compact_deflate_fixtures_decode_to_what_compact_gives() -> None:
    """Every msgpack-compact+deflate fixture: the same dict as its msgpack-compact twin; most are deflated."""
    by_name = {fx["name"]: fx for fx in _fixtures()}
    frames = _compact_deflate_fixtures()
    assert len(frames) >= 10
    flags = set()
    for fx in frames:
        raw = bytes.fromhex(fx["hex"])
        flags.add(raw[0])
        ours = get_codec("msgpack-compact+deflate").decode(raw)
        twin = by_name[fx["name"].replace("msgpack-compact+deflate/", "msgpack-compact/", 1)]
        assert _same_types(ours, get_codec("msgpack-compact").decode(bytes.fromhex(twin["hex"]))), fx["name"]
        assert ours == fx["message"], fx["name"]
    assert {0, 1, 2, 3, 4} <= flags  # stored, and each of the four dictionaries


def test_compact_deflate_stored_deflated_and_bad_flags() -> None:
    from tickwire._protocol import PROTOCOL

    c = get_codec("msgpack-compact+deflate")
    frame = {"op": "upd", "topic": "trade.X", "seq": 1, "data": [100, 10, [1795687880463, 5], [650000, -1], [15, 1], "bs"]}
    packed = msgpack.packb(frame)
    expected = get_codec("msgpack-compact").decode(packed)
    assert c.decode(b"\x00" + packed) == expected
    trade_dict = next(bytes.fromhex(d["hex"]) for d in PROTOCOL["deflateDictionaries"] if d["name"] == "trade")
    z = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=trade_dict)
    deflated = z.compress(packed) + z.flush()
    assert c.decode(b"\x02" + deflated) == expected
    try:  # the quote dictionary does not inflate a trade frame to it
        wrong = c.decode(b"\x03" + deflated)
    except DecodeError:
        wrong = None
    assert wrong != expected
    with pytest.raises(DecodeError, match="flag byte 0x09"):
        c.decode(b"\x09" + deflated)
    with pytest.raises(DecodeError, match="text frame"):
        c.decode("text")


def test_the_compact_deflate_decoder_in_the_protocol_doc_inflates_every_fixture() -> None:
    """docs/protocol.md's ≤ 10-line Python inflater (Compact with shared deflate), run as printed, then the compact decoder."""
    from tickwire._protocol import PROTOCOL

    doc = (REPO / "docs" / "protocol.md").read_text()
    section = doc[doc.index("## Compact with shared deflate") :]
    source = section[section.index("```python") + len("```python") : section.index("```", section.index("```python") + 3)]
    assert len([line for line in source.splitlines() if line.strip()]) <= 10
    scope: dict[str, Any] = {}
    exec(compile(source, "protocol.md", "exec"), scope)
    dictionaries = {d["flag"]: bytes.fromhex(d["hex"]) for d in PROTOCOL["deflateDictionaries"]}
    for fx in _compact_deflate_fixtures():
        inner = scope["inflate_compact"](bytes.fromhex(fx["hex"]), dictionaries)
        assert get_codec("msgpack-compact").decode(bytes(inner)) == fx["message"], fx["name"]


def test_the_protocol_doc_lists_the_dictionary_bytes() -> None:
    from tickwire._protocol import PROTOCOL

    doc = (REPO / "docs" / "protocol.md").read_text()
    section = doc[doc.index("<summary>The dictionaries, hex (version d1)") :]
    flat = "".join(section[: section.index("</details>")].split())
    for d in PROTOCOL["deflateDictionaries"]:
        assert d["hex"] in flat, d["name"]
