"""The fit checkpoint (``fit.json.starts.jsonl``) has integrity: each line carries its start's
index and a checksum, so a garbled, incomplete, altered or repeated line is found and reported
with its file and line (exit 1, a data error), and it is removed only once ``fit.json`` is on
disk (issue 16)."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

import degranulation as dg
import degranulation.estimation.optimise
from degranulation.cli import main
from degranulation.errors import DataError
from degranulation.library import models_folder

DATA = models_folder() / "data" / "crosslinking_synthetic.csv"
ARGS = [
    "ige_fceri_crosslinking",
    str(DATA),
    "--estimate",
    "kp1",
    "--estimate",
    "R",
    "--starts",
    "2",
    "--seed",
    "0",
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A checkpoint of the CLI's two-start fit, every start finished (kept, as the CLI keeps it)."""
    checkpoint = tmp_path_factory.mktemp("fit") / "fit.json.starts.jsonl"
    dg.fit(
        "ige_fceri_crosslinking",
        dg.read_assay(DATA),
        estimate=["kp1", "R"],
        n_starts=2,
        seed=0,
        checkpoint=checkpoint,
        keep_checkpoint=True,
    )
    assert len(checkpoint.read_text().splitlines()) == 3  # the header and two starts
    return checkpoint


@pytest.fixture
def checkpoint(finished, tmp_path):
    return shutil.copy(finished, tmp_path / "fit.json.starts.jsonl")


@pytest.fixture
def no_new_starts(monkeypatch):
    """Fail the test if a start is optimised again."""

    def refuse(problem, phi, index, **kwargs):
        raise AssertionError(f"start {index} ran again")

    monkeypatch.setattr(degranulation.estimation.optimise, "optimize", refuse)


def _edit(path, number, edit):
    lines = path.read_text().splitlines(keepends=True)
    lines[number - 1] = edit(lines[number - 1])
    path.write_text("".join(lines))


def _resume(checkpoint, capsys):
    code = main(["fit", *ARGS, "-o", str(checkpoint.parent / "fit.json"), "--resume"])
    return code, capsys.readouterr().err


def test_a_garbled_line_is_a_data_error_naming_file_and_line(checkpoint, capsys):
    _edit(checkpoint, 2, lambda line: line[:20] + "#garbage#" + line[20:])
    code, err = _resume(checkpoint, capsys)
    assert code == 1, err  # a data error, not 2 ("usage")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"{checkpoint}: line 2: not a JSON record" in err


def test_a_line_missing_a_key_is_the_same_clean_error(checkpoint, capsys):
    def drop_cost(line):
        record = json.loads(line)
        del record["cost"]
        return json.dumps(record) + "\n"

    _edit(checkpoint, 3, drop_cost)
    code, err = _resume(checkpoint, capsys)
    assert code == 1, err
    assert f"{checkpoint}: line 3: the record lacks 'cost'" in err


def test_an_altered_value_fails_its_checksum(checkpoint):
    def cheaper(line):
        record = json.loads(line)
        record["cost"] /= 2
        return json.dumps(record) + "\n"

    _edit(checkpoint, 2, cheaper)
    with pytest.raises(DataError, match="line 2: the record does not match its checksum"):
        dg.fit("ige_fceri_crosslinking", dg.read_assay(DATA), estimate=["kp1", "R"], n_starts=2, seed=0,
               checkpoint=checkpoint, resume=True)  # fmt: skip


def test_a_repeated_line_counts_once(checkpoint, capsys, no_new_starts):
    lines = checkpoint.read_text().splitlines(keepends=True)
    checkpoint.write_text("".join([*lines, lines[1]]))  # start 0 stored twice
    code, err = _resume(checkpoint, capsys)
    assert code == 0, err
    assert json.loads((checkpoint.parent / "fit.json").read_text())["n_starts"] == 2  # not 3
    assert not checkpoint.exists()  # complete and written: the checkpoint is gone


def test_a_relabelled_line_fails_its_checksum(checkpoint):
    lines = checkpoint.read_text().splitlines(keepends=True)
    other = json.loads(lines[2])  # start 1 ...
    other["index"] = 0  # ... relabelled as start 0, its checksum kept
    checkpoint.write_text("".join([*lines, json.dumps(other) + "\n"]))
    with pytest.raises(DataError, match="line 4: the record does not match its checksum"):
        dg.fit("ige_fceri_crosslinking", dg.read_assay(DATA), estimate=["kp1", "R"], n_starts=2, seed=0,
               checkpoint=checkpoint, resume=True)  # fmt: skip


def _store(checkpoint):
    from degranulation.estimation.checkpoint import StartStore, problem_fingerprint
    from degranulation.estimation.measurements import make_problem

    problem = make_problem("ige_fceri_crosslinking", dg.read_assay(DATA), estimate=["kp1", "R"])
    spec = {"problem": problem_fingerprint(problem), "n_starts": 2, "design": "lhs", "seed": 0}
    return StartStore(checkpoint, spec)


def test_a_start_stored_twice_with_different_results_is_refused(checkpoint):
    store = _store(checkpoint)
    start = store.start(None, resume=True)[1][0]
    store.write(dataclasses.replace(start, cost=2 * start.cost))
    with pytest.raises(DataError, match="line 4: start 0 is stored twice, with different results"):
        _store(checkpoint).start(None, resume=True)


def test_an_index_out_of_range_is_refused(checkpoint):
    store = _store(checkpoint)
    start = store.start(None, resume=True)[1][0]
    store.write(dataclasses.replace(start, index=7))  # a valid line, for a start that does not exist
    with pytest.raises(DataError, match=r"line 4: start index 7 is not one of 0\.\.1"):
        _store(checkpoint).start(None, resume=True)


def test_the_checkpoint_outlives_a_failed_write_of_fit_json(checkpoint, capsys, no_new_starts):
    output = checkpoint.parent / "fit.json"
    output.mkdir()  # fit.json cannot be written: a folder is in the way
    code, err = _resume(checkpoint, capsys)
    assert code == 1 and f"cannot write '{output}'" in err
    assert len(checkpoint.read_text().splitlines()) == 3  # every finished start is kept
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["fit.json", "fit.json.starts.jsonl"]
    output.rmdir()
    code, err = _resume(checkpoint, capsys)  # and resuming runs no start again
    assert code == 0, err
    assert json.loads(output.read_text())["n_starts"] == 2
    assert not checkpoint.exists()
