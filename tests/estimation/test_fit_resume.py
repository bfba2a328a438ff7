"""An interrupted multistart fit loses no finished start: each is written to the checkpoint file
as it finishes, and a resumed fit runs only the others and ends where an uninterrupted one does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from synthetic_crosslinking import CROSSLINKING, simulate_data

import degranulation as dg
import degranulation.estimation.optimise
from degranulation.cli import main
from degranulation.estimation.checkpoint import StartStore, problem_fingerprint
from degranulation.estimation.measurements import make_problem

OPTIONS = {"estimate": ["kp1", "R"], "n_starts": 4, "seed": 3, "rtol": 1e-8}

# A fit that kills its own process (SIGKILL: no clean-up runs) once two starts have finished.
KILLED_FIT = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from synthetic_crosslinking import CROSSLINKING, simulate_data
import degranulation as dg

def progress(done, total, start):
    if done == 2:
        os.kill(os.getpid(), signal.SIGKILL)

dg.fit(CROSSLINKING, simulate_data(seed=4), checkpoint={checkpoint!r}, progress=progress, **{options!r})
"""


@pytest.fixture(scope="module")
def uninterrupted() -> dg.FitResult:
    return dg.fit(CROSSLINKING, simulate_data(seed=4), **OPTIONS)


def test_a_killed_fit_resumes_without_rerunning_finished_starts(tmp_path, monkeypatch, uninterrupted):
    checkpoint = tmp_path / "fit.json.starts.jsonl"
    tests = str(Path(__file__).parents[1])  # where synthetic_crosslinking.py lives
    script = KILLED_FIT.format(tests=tests, checkpoint=str(checkpoint), options=OPTIONS)
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    lines = checkpoint.read_text().splitlines()
    assert len(lines) == 1 + 2  # the header, then the two finished starts
    stored = {json.loads(line)["index"] for line in lines[1:]}

    ran = []
    original = degranulation.estimation.optimise.optimize

    def counting(problem, phi, index, **kwargs):
        ran.append(index)
        return original(problem, phi, index, **kwargs)

    monkeypatch.setattr(degranulation.estimation.optimise, "optimize", counting)
    resumed = dg.fit(CROSSLINKING, simulate_data(seed=4), checkpoint=checkpoint, resume=True, **OPTIONS)
    assert sorted(ran) == sorted(set(range(4)) - stored)  # only the starts that had not finished
    assert [s.cost for s in resumed.starts] == [s.cost for s in uninterrupted.starts]
    np.testing.assert_array_equal(resumed.best, uninterrupted.best)
    assert resumed.parameters["kp1"] == uninterrupted.parameters["kp1"]
    assert not checkpoint.exists()  # complete: the checkpoint is gone


def test_a_line_cut_short_is_dropped_and_its_start_run_again(tmp_path, uninterrupted):
    checkpoint = tmp_path / "starts.jsonl"
    first = uninterrupted.starts[0]
    problem = make_problem(
        CROSSLINKING, simulate_data(seed=4), estimate=OPTIONS["estimate"], rtol=OPTIONS["rtol"]
    )
    spec = {"problem": problem_fingerprint(problem), "n_starts": 4, "design": "lhs", "seed": 3}
    points = np.array([s.initial for s in uninterrupted.starts])
    StartStore(checkpoint, spec).start(points, resume=False)
    StartStore(checkpoint, spec).write(first)
    with checkpoint.open("a") as handle:
        handle.write('{"index": 1, "initial": [0.1')  # killed while writing start 1
    resumed = dg.fit(CROSSLINKING, simulate_data(seed=4), checkpoint=checkpoint, resume=True, **OPTIONS)
    assert [s.cost for s in resumed.starts] == [s.cost for s in uninterrupted.starts]


def test_a_stored_fit_is_not_overwritten_or_mixed_up(tmp_path):
    checkpoint = tmp_path / "starts.jsonl"
    data = simulate_data(seed=4)
    with pytest.raises(KeyboardInterrupt):
        dg.fit(CROSSLINKING, data, checkpoint=checkpoint, progress=_interrupt, **OPTIONS)
    with pytest.raises(dg.DataError, match="an unfinished fit is stored"):
        dg.fit(CROSSLINKING, data, checkpoint=checkpoint, **OPTIONS)
    with pytest.raises(dg.DataError, match="differs from this one in: seed"):
        dg.fit(CROSSLINKING, data, checkpoint=checkpoint, resume=True, **{**OPTIONS, "seed": 4})
    with pytest.raises(dg.DataError, match="differs from this one in: problem"):
        dg.fit(CROSSLINKING, simulate_data(seed=5), checkpoint=checkpoint, resume=True, **OPTIONS)
    with pytest.raises(ValueError, match="resume=True needs the checkpoint"):
        dg.fit(CROSSLINKING, data, resume=True, **OPTIONS)


def _interrupt(done, total, start):
    raise KeyboardInterrupt


def test_cli_resume_needs_an_output(capsys):
    assert main(["fit", CROSSLINKING, "data.csv", "--estimate", "kp1", "--resume"]) == 2
    assert "--resume needs -o" in capsys.readouterr().err
