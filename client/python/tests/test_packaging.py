"""The package as a user installs it: a wheel, in a fresh virtualenv, streaming from the gateway."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import GatewayProcess

PKG = Path(__file__).resolve().parents[1]
REPO = PKG.parents[1]
SCRIPT = """
import sys
from tickwire.sync import SyncClient
with SyncClient(sys.argv[1]) as client:
    stream = client.stream("trade.BTC-USD")
    ticks = [next(stream) for _ in range(20)]
print(ticks[-1].seq - ticks[0].seq, ticks[0].datetime.year)
"""


def run(*args: object, cwd: Path, timeout: float = 300) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_wheel_installs_in_a_fresh_venv_and_the_sync_api_streams(gateway: GatewayProcess, tmp_path: Path) -> None:
    def status() -> str:
        return run("git", "status", "--porcelain", "--untracked-files=all", "--", PKG, cwd=REPO)

    # A build directory from an earlier run would hide this run's: start without one.
    shutil.rmtree(PKG / "build", ignore_errors=True)
    before = status()
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "-w",
        tmp_path / "dist",
        PKG,
        cwd=tmp_path,
    )
    wheels = list((tmp_path / "dist").glob("tickwire-*.whl"))
    assert len(wheels) == 1, wheels
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    py = venv / "bin" / "python"
    run(py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheels[0], cwd=tmp_path)
    # Imported from the venv, not from the checkout.
    assert run(py, "-c", "import tickwire; print(tickwire.__file__)", cwd=tmp_path).startswith(str(venv))
    assert run(py, "-c", SCRIPT, gateway.url, cwd=tmp_path, timeout=120).split() == ["19", str(dt.datetime.now(dt.timezone.utc).year)]
    # Building left nothing in the checkout that git would pick up (build/ and egg-info are ignored).
    assert status() == before
