from __future__ import annotations

import random

import pytest

from tickwire import Backoff


def test_defaults() -> None:
    b = Backoff()
    assert (b.initial, b.max, b.factor, b.jitter) == (0.25, 10.0, 2.0, "full")


def test_cap_grows_exponentially_up_to_max() -> None:
    b = Backoff(initial=0.25, max=10, factor=2)
    assert [b.cap(n) for n in range(8)] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert b.cap(10_000) == 10.0  # no OverflowError


def test_full_jitter_is_uniform_below_the_cap() -> None:
    b = Backoff(initial=0.25, max=10, factor=2, jitter="full")
    rng = random.Random(42)
    for n in range(12):
        samples = [b.delay(n, rng) for _ in range(2000)]
        cap = b.cap(n)
        assert all(0.0 <= s <= cap for s in samples)
        assert min(samples) < 0.05 * cap and max(samples) > 0.95 * cap
        assert abs(sum(samples) / len(samples) - cap / 2) < 0.05 * cap


def test_equal_and_no_jitter() -> None:
    rng = random.Random(1)
    eq = Backoff(initial=1, max=8, jitter="equal")
    for n in range(6):
        assert all(eq.cap(n) / 2 <= eq.delay(n, rng) <= eq.cap(n) for _ in range(200))
    none = Backoff(initial=1, max=8, factor=3, jitter="none")
    assert [none.delay(n) for n in range(4)] == [1, 3, 8, 8]


@pytest.mark.parametrize(
    "kw",
    [{"initial": 0}, {"initial": 1, "max": 0.5}, {"factor": 0.5}, {"jitter": "half"}],
)
def test_invalid(kw: dict) -> None:
    with pytest.raises(ValueError):
        Backoff(**kw)


def test_negative_attempt() -> None:
    with pytest.raises(ValueError):
        Backoff().cap(-1)
