"""The tests' condition wait (conftest.until): returns the value, names what timed out."""

from __future__ import annotations

import pytest

from .conftest import until


async def test_until_returns_the_first_truthy_value() -> None:
    n = {"polls": 0}

    def pred() -> int:
        n["polls"] += 1
        if n["polls"] == 1:
            raise RuntimeError("not yet")
        return n["polls"] if n["polls"] >= 3 else 0

    assert await until(pred, "three polls", interval=0.001) == 3

    async def apred() -> str:
        return "ok"

    assert await until(apred, "async ok") == "ok"


async def test_until_names_what_it_waited_for() -> None:
    with pytest.raises(AssertionError, match=r"timed out after 0.05 s waiting for 3 acks \(last value: 0\)"):
        await until(lambda: 0, "3 acks", timeout=0.05)
