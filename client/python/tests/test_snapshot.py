"""``await client.snapshot(...)`` (GET /v1/snapshot) against the real gateway."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from tickwire import Client, Quote, Snapshot, Snapshots, TickwireError, Trade
from tickwire._snapshot import snapshot_endpoint

from .conftest import GatewayFactory, GatewayProcess, until

SECRET = "test-secret-that-is-at-least-32-bytes-long!"


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def hs256(claims: dict[str, object]) -> str:
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps({**claims, "exp": int(time.time()) + 600}).encode())
    sig = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(sig)}"


def test_endpoint_from_the_websocket_url() -> None:
    assert snapshot_endpoint("wss://h.example/v1/?access_token=T") == (
        "https://h.example/v1/snapshot",
        {"Authorization": "Bearer T"},
    )
    assert snapshot_endpoint("ws://127.0.0.1:9001/v1") == ("http://127.0.0.1:9001/v1/snapshot", {})


async def test_snaps_keyed_by_topic_without_connecting(gateway: GatewayProcess) -> None:
    client = Client(gateway.url)
    topics = ["trade.BTC-USD", "quote.ETH-USD", "trade.DOGE-USDT", "nope"]

    async def both() -> Snapshots | None:
        s = await client.snapshot(topics)
        return s if {"trade.BTC-USD", "quote.ETH-USD"} <= s.snaps.keys() else None

    snap = await until(both, "snaps of trade.BTC-USD and quote.ETH-USD")
    btc = snap.snaps["trade.BTC-USD"]
    assert isinstance(btc, Snapshot) and isinstance(btc.tick, Trade)
    assert btc.epoch == gateway.epoch and btc.seq > 0 and btc.tick.seq == btc.seq
    assert isinstance(snap.snaps["quote.ETH-USD"].tick, Quote)
    assert {t: e.code for t, e in snap.errors.items()} == {"trade.DOGE-USDT": "unknown_symbol", "nope": "bad_topic"}
    assert client.subscriptions == ()


async def test_entitlements_and_refusals(gateway_factory: GatewayFactory) -> None:
    gw = gateway_factory.start(0, "--auth-mode", "jwt", "--jwt-secret", SECRET)
    token = hs256({"sub": "alice", "topics": ["trade.*"]})
    client = Client(f"{gw.url}?access_token={token}")

    async def btc() -> Snapshots | None:
        s = await client.snapshot("trade.BTC-USD", ["quote.BTC-USD"])
        return s if "trade.BTC-USD" in s.snaps else None

    snap = await until(btc, "a snap of trade.BTC-USD")
    assert snap.errors["quote.BTC-USD"].code == "forbidden"
    with pytest.raises(TickwireError) as ei:
        await Client(gw.url).snapshot("trade.BTC-USD")
    assert ei.value.code == "unauthorized"
