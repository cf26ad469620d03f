"""Wire encodings of protocol v1: msgpack, JSON, msgpack with shared per-frame deflate, compact msgpack
(also with shared deflate and preset dictionaries).

Pure functions, no I/O: :func:`get_codec` gives the codec of a format, whose ``encode`` turns a
client message into one WebSocket frame and ``decode`` one server frame back into a dict.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack

from ._compact import CompactError, expand_compact
from ._protocol import PROTOCOL

__all__ = ["Codec", "get_codec", "FORMATS", "SUBPROTOCOLS", "DecodeError"]

Frame = bytes | str

FLAG_PLAIN = 0x00
FLAG_DEFLATE = 0x01


class DecodeError(ValueError):
    """A server frame could not be decoded in the negotiated encoding."""


def _pack(msg: dict[str, Any]) -> bytes:
    return msgpack.packb(msg, use_bin_type=True)


def _unpack(data: bytes | memoryview) -> Any:
    return msgpack.unpackb(data, raw=False)


def _decode_msgpack(frame: Frame | memoryview) -> Any:
    if isinstance(frame, str):
        raise DecodeError("text frame on a msgpack connection")
    return _unpack(frame)


def _decode_deflate(frame: Frame) -> Any:
    """``0x00`` + msgpack, or ``0x01`` + raw-DEFLATE(msgpack) (RFC 1951, no zlib header)."""
    if isinstance(frame, str):
        raise DecodeError("text frame on a msgpack+deflate connection")
    if not frame:
        raise DecodeError("empty frame")
    flag = frame[0]
    body = memoryview(frame)[1:]
    if flag == FLAG_PLAIN:
        return _unpack(body)
    if flag == FLAG_DEFLATE:
        return _unpack(zlib.decompress(body, -15))
    raise DecodeError(f"unknown frame flag byte 0x{flag:02x}")


def _decode_compact(frame: Frame | memoryview) -> Any:
    """msgpack whose market ``data`` may be integer columns, expanded to the ticks msgpack carries."""
    value = _decode_msgpack(frame)
    if not isinstance(value, dict):
        return value
    try:
        return expand_compact(value)
    except CompactError as e:
        raise DecodeError(str(e)) from e


# Preset dictionaries of msgpack-compact+deflate, by flag byte (protocol.json, generated from the gateway's).
_DICTIONARIES: dict[int, bytes] = {d["flag"]: bytes.fromhex(d["hex"]) for d in PROTOCOL["deflateDictionaries"]}


def _decode_compact_deflate(frame: Frame) -> Any:
    """``0x00`` + a compact frame, or flag ``n`` + raw DEFLATE of one with preset dictionary ``n``."""
    if isinstance(frame, str):
        raise DecodeError("text frame on a msgpack-compact+deflate connection")
    if not frame:
        raise DecodeError("empty frame")
    flag = frame[0]
    body = memoryview(frame)[1:]
    if flag == FLAG_PLAIN:
        return _decode_compact(body)
    zdict = _DICTIONARIES.get(flag)
    if zdict is None:
        raise DecodeError(f"unknown frame flag byte 0x{flag:02x}")
    d = zlib.decompressobj(wbits=-15, zdict=zdict)
    return _decode_compact(d.decompress(body) + d.flush())


def _encode_json(msg: dict[str, Any]) -> str:
    return json.dumps(msg, separators=(",", ":"))


def _decode_json(frame: Frame) -> Any:
    return json.loads(frame)


@dataclass(frozen=True)
class Codec:
    """One wire format: the subprotocol that selects it, and its frame encoder/decoder."""

    name: str
    subprotocol: str
    binary: bool
    encode: Callable[[dict[str, Any]], Frame]
    _decode: Callable[[Frame], Any]

    def decode(self, frame: Frame) -> dict[str, Any]:
        """Decodes one server frame; raises :class:`DecodeError` unless it is one map."""
        try:
            value = self._decode(frame)
        except DecodeError:
            raise
        except Exception as e:  # msgpack, zlib and json each raise their own types
            raise DecodeError(f"undecodable {self.name} frame: {e}") from e
        if not isinstance(value, dict):
            raise DecodeError(f"a server frame must be a map, got {type(value).__name__}")
        return value


# How each format is framed here; its subprotocol and frame type come from protocol.json, in the
# gateway's negotiation order. Client -> server frames on msgpack+deflate are plain msgpack, with
# no flag byte.
_FRAMING: dict[str, tuple[Callable[[dict[str, Any]], Frame], Callable[[Frame], Any]]] = {
    "msgpack": (_pack, _decode_msgpack),
    "json": (_encode_json, _decode_json),
    "msgpack+deflate": (_pack, _decode_deflate),
    "msgpack-compact": (_pack, _decode_compact),
    "msgpack-compact+deflate": (_pack, _decode_compact_deflate),
}

_CODECS = {p["format"]: Codec(p["format"], p["subprotocol"], p["binary"], *_FRAMING[p["format"]]) for p in PROTOCOL["subprotocols"]}

#: The accepted ``format`` values of :class:`~tickwire.Client`.
FORMATS: tuple[str, ...] = tuple(_CODECS)
#: format -> WebSocket subprotocol.
SUBPROTOCOLS: dict[str, str] = {k: c.subprotocol for k, c in _CODECS.items()}


def get_codec(fmt: str) -> Codec:
    """The codec of ``fmt`` (``"msgpack"``, ``"json"``, ``"msgpack+deflate"``, ``"msgpack-compact"``
    or ``"msgpack-compact+deflate"``)."""
    try:
        return _CODECS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}") from None


def encode_server_frame(msg: dict[str, Any], fmt: str, *, compress: bool | None = None) -> Frame:
    """Encodes a *server* message the way the gateway does (used by tests and fake servers).

    For ``msgpack+deflate``, ``compress=None`` compresses only when that makes the frame smaller,
    like the gateway; ``True``/``False`` force the ``0x01``/``0x00`` framing.
    """
    if fmt == "json":
        return _encode_json(msg)
    raw = _pack(msg)
    if fmt == "msgpack":
        return raw
    if fmt != "msgpack+deflate":
        raise ValueError(f"unknown format {fmt!r}")
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = c.compress(raw) + c.flush()
    if compress is None:
        compress = len(deflated) < len(raw)
    return bytes([FLAG_DEFLATE]) + deflated if compress else bytes([FLAG_PLAIN]) + raw
