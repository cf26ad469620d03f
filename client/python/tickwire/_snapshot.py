"""``GET /v1/snapshot``: each topic's current snap over plain HTTP, without a WebSocket.

The request runs in a worker thread (``urllib``), so the package needs no HTTP dependency and the
event loop is never blocked.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import TickwireError
from .models import Snapshot, tick_from_wire


@dataclass(frozen=True, slots=True)
class Snapshots:
    """What :meth:`~tickwire.Client.snapshot` returns: the snaps keyed by topic, and for every topic
    without one the server's reason (``bad_topic``, ``forbidden``, ``unknown_symbol``, ``no_data``)."""

    snaps: dict[str, Snapshot] = field(default_factory=dict)
    errors: dict[str, TickwireError] = field(default_factory=dict)


def http_endpoint(ws_url: str, name: str) -> tuple[str, dict[str, str]]:
    """``ws(s)://H/v1?access_token=T`` and ``name`` -> (``http(s)://H/v1/<name>``,
    ``{"Authorization": "Bearer T"}``): the gateway's HTTP endpoints sit beside its WebSocket path
    and take the same token."""
    u = urllib.parse.urlsplit(ws_url)
    scheme = {"ws": "http", "wss": "https"}.get(u.scheme, u.scheme)
    token = urllib.parse.parse_qs(u.query).get("access_token", [None])[0]
    path = u.path.rstrip("/") + "/" + name
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return urllib.parse.urlunsplit((scheme, u.netloc, path, "", "")), headers


def snapshot_endpoint(ws_url: str) -> tuple[str, dict[str, str]]:
    """``ws(s)://H/v1?access_token=T`` -> (``http(s)://H/v1/snapshot``, ``{"Authorization": "Bearer T"}``)."""
    return http_endpoint(ws_url, "snapshot")


def _get(url: str, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Accept": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _parse(status: int, body: bytes, topics: list[str]) -> Snapshots:
    try:
        doc: Any = json.loads(body)
    except ValueError:
        raise TickwireError("protocol_error", f"HTTP {status}, not JSON: {body[:200]!r}", topics) from None
    if status != 200 or not isinstance(doc, dict) or not isinstance(doc.get("snaps"), dict):
        code = doc.get("code") if isinstance(doc, dict) else None
        msg = doc.get("msg") if isinstance(doc, dict) else None
        raise TickwireError(str(code or f"http_{status}"), str(msg or f"HTTP {status}"), topics)
    out = Snapshots()
    for topic, s in doc["snaps"].items():
        tick = tick_from_wire(topic, int(s["seq"]), s["data"])
        out.snaps[topic] = Snapshot(topic, str(s["epoch"]), int(s["seq"]), tick, src=s.get("src"), off=s.get("off"))
    for topic, e in (doc.get("errors") or {}).items():
        out.errors[topic] = TickwireError(str(e.get("code")), str(e.get("msg", "")), (topic,))
    return out


async def fetch_snapshot(ws_url: str, topics: Iterable[str], timeout: float) -> Snapshots:
    names = list(dict.fromkeys(topics))
    url, headers = snapshot_endpoint(ws_url)
    query = urllib.parse.urlencode({"topics": ",".join(names)}, safe=",")
    status, body = await asyncio.to_thread(_get, f"{url}?{query}", headers, timeout)
    return _parse(status, body, names)
