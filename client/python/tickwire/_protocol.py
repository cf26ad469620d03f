"""The wire contract, as generated from the gateway's protocol tables into ``protocol.json``.

``protocol.json`` ships inside this package (``npm run docs:protocol`` writes it; a TypeScript
test fails when it is stale), so the close-code policy, the error table, the subprotocols and the
topic grammar here are the gateway's own, never a hand-made copy.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from typing import Any

__all__ = ["PROTOCOL", "close_reconnects", "is_valid_topic", "is_valid_subscription"]

#: The parsed protocol.json.
PROTOCOL: dict[str, Any] = json.loads(files(__package__).joinpath("protocol.json").read_text(encoding="utf-8"))

_CLOSE: dict[int, bool] = {c["code"]: c["reconnect"] for c in PROTOCOL["closeCodes"]}
_RANGES: list[tuple[int, int, bool]] = [(r["first"], r["last"], r["reconnect"]) for r in PROTOCOL["closeCodeRanges"]]
_UNKNOWN_RECONNECTS: bool = PROTOCOL["unknownCloseCodeReconnects"]

_TOPICS = PROTOCOL["topics"]
_MARKET = re.compile(_TOPICS["marketPattern"])
_USER = re.compile(_TOPICS["userPattern"])
_ANNOUNCE: str = _TOPICS["announceTopic"]
_MAX_TOPIC_LENGTH: int = _TOPICS["maxTopicLength"]
_THROTTLE: dict[str, int] = _TOPICS["throttleIntervals"]


def close_reconnects(code: int | None) -> bool:
    """The protocol's close-code policy (docs/protocol.md, "Close codes"), the same as the
    TypeScript SDK's ``closeCodeReconnects``: a listed code by its entry, a code in a tickwire
    range (4000-4499 reconnect, 4500-4999 stop) by its range, anything else reconnects. ``None``
    (the link dropped without a close frame) reconnects."""
    if code is None:
        return True
    known = _CLOSE.get(code)
    if known is not None:
        return known
    for first, last, reconnect in _RANGES:
        if first <= code <= last:
            return reconnect
    return _UNKNOWN_RECONNECTS


def is_valid_topic(name: object) -> bool:
    """Whether ``name`` is a topic of the grammar (market, private user channel, or the broadcast)."""
    if not isinstance(name, str) or len(name) > _MAX_TOPIC_LENGTH:
        return False
    return bool(_MARKET.fullmatch(name) or _USER.fullmatch(name)) or name == _ANNOUNCE


def is_valid_subscription(name: object) -> bool:
    """Whether ``name`` may be subscribed to: a topic, or a throttled view ``<market topic>@<interval>``."""
    if not isinstance(name, str):
        return False
    base, at, suffix = name.partition("@")
    if not at:
        return is_valid_topic(name)
    return suffix in _THROTTLE and len(base) <= _MAX_TOPIC_LENGTH and _MARKET.fullmatch(base) is not None
