"""Hostile and broken inputs (model files, SBML, PEtab tables, assay CSV, command lines) give a
result or a clean error with the documented exit code: never another exception, never a hang,
never input run as code (issue 16). Strategies: :mod:`degranulation.testing.strategies`."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import degranulation as dg
from conftest import FUZZ, TALLY, outcome
from degranulation.cli import main
from degranulation.codegen import compile_model
from degranulation.testing import strategies as hostile

PETAB = Path(__file__).resolve().parents[1] / "data" / "petab_test_suite" / "0001"


@pytest.fixture(scope="module", autouse=True)
def warm():
    """Import what the examples use before any time limit runs (a cold import takes seconds)."""
    import libsbml  # noqa: F401
    import petab.v1  # noqa: F401
    import sympy  # noqa: F401

    dg.simulate("ige_fceri_crosslinking", t="1 s", points=2)


def _compile_and_simulate(model: dg.Model) -> None:
    compiled = compile_model(model, cache_dir=False)
    fun, _ = compiled.functions(compiled.default_parameters)
    fun(0.0, compiled.default_initial)  # runs the generated code
    dg.simulate(model, t="1 s", points=3, cache_dir=False)


@FUZZ
@given(text=hostile.model_file_texts())
def test_model_files(in_tmp, text):
    path = in_tmp / "model.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    model = outcome("model file", lambda: dg.load_model(path))
    if isinstance(model, dg.Model):
        outcome("model file simulated", lambda: _compile_and_simulate(model))


def _sbml(in_tmp, document):
    path = in_tmp / "model.xml"
    path.write_text(document, encoding="utf-8")
    model = outcome("sbml", lambda: dg.load_model(path))
    if isinstance(model, dg.Model):
        outcome("sbml simulated", lambda: _compile_and_simulate(model))


@FUZZ
@given(document=hostile.sbml_documents())
def test_sbml_documents(in_tmp, document):
    _sbml(in_tmp, document)


def _assay(in_tmp, content):
    path = in_tmp / "assay.csv"
    path.write_bytes(content)
    outcome("assay csv", lambda: dg.read_assay(path))


@FUZZ
@given(content=hostile.assay_csv_bytes())
def test_assay_csv(in_tmp, content):
    _assay(in_tmp, content)


_PETAB_NAMES = st.sampled_from(["A", "B", "a0", "k1", "obs_a", "time", "noiseParameter1_obs_a"])


def _petab_problem(in_tmp, formula, noise, time, value):
    folder = Path(shutil.copytree(PETAB, Path(tempfile.mkdtemp(dir=in_tmp)) / "problem"))
    (folder / "_observables.tsv").write_text(
        f"observableId\tobservableFormula\tnoiseFormula\nobs_a\t{formula}\t{noise}\n", encoding="utf-8"
    )
    (folder / "_measurements.tsv").write_text(
        f"observableId\tsimulationConditionId\ttime\tmeasurement\nobs_a\tc0\t{time}\t{value}\n",
        encoding="utf-8",
    )
    return folder / "_0001.yaml"


def _petab(in_tmp, formula, noise, time, value):
    path = _petab_problem(in_tmp, formula, noise, time, value)
    problem = outcome("petab", lambda: dg.read_petab(path))
    if not isinstance(problem, Exception):
        outcome("petab simulated", problem.simulate)


@FUZZ
@given(
    time=st.sampled_from(["0", "10", "1e308", "nan", "inf", "x", ""]),
    value=st.sampled_from(["0.7", "-1", "1e308", "nan", "", "x"]),
)
def test_petab_tables(in_tmp, time, value):
    _petab(in_tmp, "A", "0.5", time, value)


@FUZZ
@given(formula=hostile.expressions(_PETAB_NAMES), noise=hostile.expressions(_PETAB_NAMES))
def test_petab_formulas(in_tmp, formula, noise):
    _petab(in_tmp, formula, noise, "10", "0.7")


@FUZZ
@given(argv=hostile.cli_arguments())
def test_cli_arguments(in_tmp, capsys, argv):
    def run() -> int:
        try:
            return main(argv)
        except SystemExit as exc:  # --help
            return int(exc.code or 0)

    code = outcome("cli", run, seconds=60.0, tally=False)
    TALLY[f"cli: exit {code}"] += 1
    err = capsys.readouterr().err
    assert code in (0, 1, 2, 3), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code:
        assert err.strip(), (argv, code)


def test_a_petab_time_that_is_not_a_number_is_located(in_tmp):
    """Found by test_petab_tables: petab's lint passes a time of 'x', which reached NumPy."""
    with pytest.raises(dg.DataError, match=r"measurement table, row 2: time 'x' is not a number"):
        dg.read_petab(_petab_problem(in_tmp, "A", "0.5", "x", "0.7"))
