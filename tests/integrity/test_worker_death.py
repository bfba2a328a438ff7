"""Worker processes die with their parent: a sweep or fit killed outright (SIGKILL, so no
clean-up of its own runs) leaves no worker behind (issue 16)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")

# Enough doses, one per chunk, that the two workers are still busy when the parent is killed.
SWEEP = [
    "sweep", "ige_fceri_crosslinking", "--vary", "L", "--from", "1e3molecule", "--to", "1e9molecule",
    "--num", "2000", "--batch", "1", "--solver", "BDF", "--at", "10min", "--observe", "RecDim",
    "--workers", "2",
]  # fmt: skip


def _workers(pid: int) -> set[int]:
    """Children of ``pid`` forked from it (same command line: not a helper such as a tracker)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return set()
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                same = (entry / "cmdline").read_bytes() == command
            except OSError:
                continue
            if int(fields[1]) == pid and same:
                found.add(int(entry.name))
    return found


def _is_running(pid: int) -> bool:
    """Alive and not a zombie (a dead child that its new parent has not reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_workers_of_a_killed_sweep_die_with_it(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "degranulation", *SWEEP, "-o", str(tmp_path / "dr.nc")]
    parent = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    workers: set[int] = set()
    try:
        assert _wait(lambda: len(_workers(parent.pid)) >= 2, 120), "the sweep started no workers"
        time.sleep(1.0)  # let them take up their chunks
        workers = _workers(parent.pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert _wait(lambda: not any(_is_running(pid) for pid in workers), 5.0), (
            f"workers {sorted(pid for pid in workers if _is_running(pid))} outlived their parent"
        )
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid in workers:  # clean up after a failure: only the processes this test started
            if _is_running(pid):
                os.kill(pid, signal.SIGKILL)
