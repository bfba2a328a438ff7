"""Golden error messages: every bad model file and bad command line gets its located, stable
message and exit code, and none of them executes anything.

Each ``cases/NAME.toml`` is validated with ``degranulation validate``; each ``cli/NAME.args``
(one argument per line; ``{here}`` is this folder) is run as a command line. The exit code and
stderr/stdout are compared with ``NAME.expected.txt``. After an intended change of wording,
regenerate with ``UPDATE_GOLDEN=1 python -m pytest tests/errors`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import degranulation as dg
from degranulation.cli import main

HERE = Path(__file__).resolve().parent
CASES = sorted((HERE / "cases").glob("*.toml"))
CLI_CASES = sorted((HERE / "cli").glob("*.args"))
UPDATE = bool(os.environ.get("UPDATE_GOLDEN"))
WARNING_ONLY = {"unused_parameter", "negative_parameter"}


def check_golden(expected_path: Path, text: str) -> None:
    if UPDATE:
        expected_path.write_text(text, encoding="utf-8")
    assert expected_path.is_file(), f"no golden file {expected_path.name}; run with UPDATE_GOLDEN=1"
    assert text == expected_path.read_text(encoding="utf-8")


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(args)
    captured = capsys.readouterr()
    return f"exit: {code}\n--- stderr\n{captured.err}--- stdout\n{captured.out}"


def test_corpus_is_large_enough():
    assert len(CASES) + len(CLI_CASES) >= 25
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_bad_model_file(case, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything a case managed to execute would land here
    text = run(["validate", str(case)], capsys).replace(str(case), case.name)
    check_golden(case.with_suffix(".expected.txt"), text)
    assert list(tmp_path.iterdir()) == []
    expected_code = 0 if case.stem in WARNING_ONLY else 1
    assert text.startswith(f"exit: {expected_code}\n")
    if case.stem not in WARNING_ONLY:
        with pytest.raises(dg.ModelError):
            dg.load_model(case)
    # Every reported line names the file and a location or a code.
    for line in text.split("--- stderr\n")[1].split("--- stdout")[0].splitlines():
        assert line.startswith("degranulation: error:") or case.name in line


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda p: p.stem)
def test_bad_command_line(case, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = [a.replace("{here}", str(HERE / "cli")) for a in case.read_text().splitlines()]
    text = run(args, capsys).replace(str(HERE / "cli"), "{here}")
    check_golden(case.with_suffix(".expected.txt"), text)
    assert not text.startswith("exit: 0"), "a bad command line must fail"
    assert "Traceback" not in text
    assert list(tmp_path.iterdir()) == []
