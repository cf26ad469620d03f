"""Exponential reconnect backoff with jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

__all__ = ["Backoff"]

Jitter = Literal["full", "equal", "none"]


@dataclass(frozen=True)
class Backoff:
    """Delay before reconnect attempt ``n`` (0-based): ``cap(n) = min(max, initial * factor**n)``.

    With ``jitter="full"`` (the default, as recommended for many clients reconnecting to the same
    server at once) the delay is uniform in ``[0, cap(n)]``; ``"equal"`` gives
    ``cap/2 + uniform(0, cap/2)``; ``"none"`` gives ``cap(n)`` exactly. All values are seconds.

    >>> Backoff(initial=0.25, max=10, factor=2, jitter="none").delay(3)
    2.0
    """

    initial: float = 0.25
    max: float = 10.0
    factor: float = 2.0
    jitter: Jitter = "full"

    def __post_init__(self) -> None:
        if not self.initial > 0:
            raise ValueError("Backoff.initial must be > 0")
        if self.max < self.initial:
            raise ValueError("Backoff.max must be >= initial")
        if self.factor < 1:
            raise ValueError("Backoff.factor must be >= 1")
        if self.jitter not in ("full", "equal", "none"):
            raise ValueError(f"Backoff.jitter must be 'full', 'equal' or 'none', not {self.jitter!r}")

    def cap(self, attempt: int) -> float:
        """The un-jittered delay of attempt ``attempt`` (never above ``max``)."""
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        try:
            return min(self.max, self.initial * self.factor**attempt)
        except OverflowError:
            return self.max

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The jittered delay before attempt ``attempt``; ``rng`` defaults to the ``random`` module."""
        cap = self.cap(attempt)
        r = rng if rng is not None else random
        if self.jitter == "full":
            return r.uniform(0.0, cap)
        if self.jitter == "equal":
            return cap / 2 + r.uniform(0.0, cap / 2)
        return cap
