"""Exceptions, and the protocol's error and close-code tables (loaded from protocol.json, which
is generated from ``protocol/src/errors.ts``; docs/protocol.md describes them)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ._protocol import PROTOCOL, close_reconnects

__all__ = [
    "TickwireException",
    "TickwireError",
    "ClosedError",
    "ConnectionLostError",
    "ERROR_CODES",
    "CLOSE_CODES",
    "should_reconnect",
]

#: ``err`` codes -> whether sending the same request again can succeed (from protocol.json).
ERROR_CODES: dict[str, bool] = {code: e["reconnect"] for code, e in PROTOCOL["errorCodes"].items()}

#: The close codes the gateway sends -> (name, reconnect?) (from protocol.json).
CLOSE_CODES: dict[int, tuple[str, bool]] = {c["code"]: (c["name"], c["reconnect"]) for c in PROTOCOL["closeCodes"] if c["sent"]}

_CLOSE_NAMES: dict[int, str] = {c["code"]: c["name"] for c in PROTOCOL["closeCodes"]}


def should_reconnect(code: int | None) -> bool:
    """Whether a connection closed with ``code`` should be re-established (with backoff).

    The protocol's one policy, shared with the TypeScript SDK through protocol.json: the gateway's
    codes by its table (1001, 4001, 4002, 4008, 4029: yes; 1000 and 1009: no); RFC 6455 codes by
    theirs (1005, 1006, 1011-1014: yes; the client-fault codes 1002, 1003, 1007, 1008, 1010: no);
    an application code this client does not know by its range (4000-4499: yes, 4500-4999: no);
    anything else, and ``None`` (no close frame), yes: backoff bounds the cost of a retry.
    """
    return close_reconnects(code)


def close_name(code: int | None) -> str:
    """A short name for a close code (``"going_away"``, ``"abnormal"``, ``"4003"`` ...)."""
    if code is None:
        return "abnormal"
    return _CLOSE_NAMES.get(code, str(code))


class TickwireException(Exception):
    """Base class of every exception this package raises."""


class TickwireError(TickwireException):
    """The server answered a request with ``{op: "err"}``.

    ``code`` is one of :data:`ERROR_CODES` (``bad_topic``, ``bad_request`` ...), ``msg`` is the
    server's human-readable text and ``topics`` the offending topic names when the error is about
    topics (else an empty tuple).
    """

    def __init__(self, code: str, msg: str, topics: Sequence[str] = ()) -> None:
        self.code = code
        self.msg = msg
        self.topics: tuple[str, ...] = tuple(topics)
        super().__init__(f"{code}: {msg}" + (f" (topics: {', '.join(self.topics)})" if self.topics else ""))

    @property
    def retry(self) -> bool:
        """Whether sending the same request again can succeed (False for every v1 code)."""
        return ERROR_CODES.get(self.code, False)


class ClosedError(TickwireException):
    """The client is closed and will not reconnect.

    Raised by operations on a closed client, and by stream iteration when the client closed for a
    reason other than :meth:`~tickwire.Client.close` (a terminal close code such as 1000 or 1009,
    a refused handshake, or reconnecting disabled). ``code`` is the close code when there was one.
    """

    def __init__(self, reason: str, code: int | None = None) -> None:
        self.reason = reason
        self.code = code
        super().__init__(reason if code is None else f"{reason} (close code {code})")


class ConnectError(ClosedError):
    """The first connection could not be made; the client is closed.

    ``kind`` says why: ``"refused"`` (nothing listens at the URL), ``"not_tickwire"`` (an HTTP
    server answered, e.g. a wrong path: the endpoint is ``/v1``), ``"auth"`` (the gateway refused
    the token or origin with 401/403; its reason is in the message), ``"timeout"`` (no answer),
    ``"failed"`` (anything else). ``status`` is the HTTP status of a refused upgrade.
    """

    def __init__(self, kind: str, reason: str, status: int | None = None) -> None:
        self.kind = kind
        self.status = status
        super().__init__(reason)


class ConnectTimeoutError(ConnectError, asyncio.TimeoutError):
    """No connection opened within the connect timeout (also an ``asyncio.TimeoutError``).

    ``kind`` is what the last attempt ran into: ``"timeout"`` when nothing answered at all,
    ``"refused"`` or ``"failed"`` when the attempts were refused until the time ran out.
    """


class ConnectionLostError(TickwireException):
    """The connection dropped while a :meth:`~tickwire.Client.ping` was waiting for its answer.

    The client reconnects by itself; the ping can simply be tried again.
    """
