"""Exceptions, and the protocol's error and close-code tables (mirroring
``protocol/src/errors.ts`` and docs/protocol.md)."""

from __future__ import annotations

import asyncio
from typing import Optional, Sequence

__all__ = [
    "TickwireException",
    "TickwireError",
    "ClosedError",
    "ConnectionLostError",
    "ERROR_CODES",
    "CLOSE_CODES",
    "should_reconnect",
]

#: ``err`` codes -> whether sending the same request again can succeed.
ERROR_CODES: dict[str, bool] = {
    "bad_frame": False,
    "bad_request": False,
    "unknown_op": False,
    "bad_topic": False,
    "too_many_topics": False,
    "forbidden": False,
    "too_many_subscriptions": False,
    "too_many_waiting": False,
    "rate_limited": True,
}

#: tickwire's close codes -> (name, reconnect?). Source of truth: protocol/src/errors.ts.
CLOSE_CODES: dict[int, tuple[str, bool]] = {
    1000: ("normal", False),
    1001: ("going_away", True),
    1009: ("message_too_big", False),
    4001: ("token_expired", True),
    4002: ("max_lifetime", True),
    4008: ("slow_consumer", True),
    4029: ("rate_limited", True),
}

# Standard RFC 6455 codes tickwire does not send itself but a client can still see.
_RETRYABLE_STANDARD = {
    1005,  # no status code in the close frame
    1006,  # abnormal closure: the link dropped without a close frame
    1011,  # server internal error
    1012,  # service restart
    1013,  # try again later
    1014,  # bad gateway (proxy)
}


def should_reconnect(code: Optional[int]) -> bool:
    """Whether a connection closed with ``code`` should be re-established.

    tickwire's table decides for its codes (1001, 4001, 4002, 4008, 4029: yes; 1000 and 1009: no). Transient
    standard codes (1005, 1006, 1011-1014) are retried; any other code, including application
    codes (4000-4999) this client does not know, stops reconnecting: a server that says "no" in a
    way we do not understand is not hammered.
    """
    if code is None:
        return True
    known = CLOSE_CODES.get(code)
    if known is not None:
        return known[1]
    return code in _RETRYABLE_STANDARD


def close_name(code: Optional[int]) -> str:
    """A short name for a close code (``"going_away"``, ``"abnormal"``, ``"4003"`` ...)."""
    if code is None or code == 1006:
        return "abnormal"
    known = CLOSE_CODES.get(code)
    return known[0] if known else str(code)


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

    def __init__(self, reason: str, code: Optional[int] = None) -> None:
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

    def __init__(self, kind: str, reason: str, status: Optional[int] = None) -> None:
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
