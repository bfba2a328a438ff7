"""The fuzzing suite's harness: bounded examples, a time limit per example, a canary against
executed input, and a tally of outcomes by class (issue 16).

``DEGRANULATION_FUZZ_EXAMPLES`` sets the examples per test (default 10: the whole suite stays
within about a minute on two cores); ``DEGRANULATION_FUZZ_REPORT`` names a JSON file that
receives the tally (see ``benchmarks/test_fuzz.py`` for the long run).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

from degranulation.errors import DegranulationError

EXAMPLES = int(os.environ.get("DEGRANULATION_FUZZ_EXAMPLES", "10"))
#: Per-test settings: no deadline (the time limit below bounds an example), no example database,
#: and in short runs no shrinking, so that a slow failure cannot stretch the suite.
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=EXAMPLES <= 10,  # the CI run is the same every time
    phases=[Phase.explicit, Phase.generate] + ([Phase.shrink] if EXAMPLES > 10 else []),
    suppress_health_check=list(HealthCheck),
)
TALLY: collections.Counter[str] = collections.Counter()


class Hang(BaseException):
    """An example ran past its time limit (a BaseException: no ``except Exception`` swallows it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcome(kind: str, call: Callable[[], Any], *, seconds: float = 20.0, tally: bool = True) -> Any:
    """Run ``call``: a result, or a clean :class:`DegranulationError` (returned, tallied under
    ``kind`` unless ``tally`` is false); any other exception, a hang or a canary (input that ran
    as code) fails the test."""
    try:
        with time_limit(seconds), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # warnings are allowed; pytest would raise ours
            result = call()
        what = "result"
    except DegranulationError as exc:
        result, what = exc, f"refused ({type(exc).__name__})"
    if tally:
        TALLY[f"{kind}: {what}"] += 1
    assert not Path("CANARY").exists(), "input ran as code: the canary file exists"
    return result


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in a fresh folder, where a payload that runs would leave ``CANARY``."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY:
        return
    terminalreporter.section("fuzz outcomes")
    for key, count in sorted(TALLY.items()):
        terminalreporter.write_line(f"{count:6d}  {key}")
    report = os.environ.get("DEGRANULATION_FUZZ_REPORT")
    if report:
        Path(report).write_text(
            json.dumps({"examples_per_test": EXAMPLES, "outcomes": dict(TALLY)}, indent=1)
        )
