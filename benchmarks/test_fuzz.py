"""The fuzzing suite (tests/fuzz) at length: many examples per strategy, shrinking on, and the
outcomes tallied by class (results, and refusals by error class) for the record (issue 16).

``DEGRANULATION_FUZZ_LONG`` sets the examples per test (default 300); the smoke run
(``--benchmark-disable``) uses 10, as CI's test run does. A failure of the suite fails this test
with its report; the tally is printed and stored in the benchmark's ``extra_info``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_fuzz_at_length(benchmark, request, tmp_path):
    examples = (
        10
        if request.config.getoption("benchmark_disable")
        else int(os.environ.get("DEGRANULATION_FUZZ_LONG", "300"))
    )
    report = tmp_path / "fuzz.json"
    env = {
        **os.environ,
        "DEGRANULATION_FUZZ_EXAMPLES": str(examples),
        "DEGRANULATION_FUZZ_REPORT": str(report),
    }
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "tests" / "fuzz")]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=6 * 3600)

    finished = benchmark.pedantic(run, rounds=1, iterations=1)
    assert finished.returncode == 0, finished.stdout[-5000:] + finished.stderr[-2000:]
    outcomes = json.loads(report.read_text())["outcomes"]
    benchmark.extra_info.update({"examples_per_test": examples, "outcomes": outcomes})
    print(f"\nfuzz: {examples} examples per test, {sum(outcomes.values())} inputs")
    for key, count in sorted(outcomes.items()):
        print(f"{count:8d}  {key}")
