"""Hostile PEtab problems, assay files and fits (issue 16): each is refused with a located
DataError (CLI exit 1) or fails as a fit (exit 3) — never a traceback, never "success" on
tables that should not be fitted.

The problem is the one in :func:`degranulation.read_petab`'s docstring (the library's
crosslinking model exported as SBML, two doses), with one cell changed per case.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import degranulation as dg
from degranulation.cli import main
from degranulation.errors import UnitWarning

pytest.importorskip("petab.v1")

YAML = (
    "format_version: 1\nparameter_file: parameters.tsv\nproblems:\n- sbml_files: [model.xml]\n"
    "  condition_files: [conditions.tsv]\n  measurement_files: [measurements.tsv]\n"
    "  observable_files: [observables.tsv]\n"
)
MEASUREMENTS = "observableId\tsimulationConditionId\ttime\tmeasurement\n"


@pytest.fixture(scope="module")
def sbml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sbml") / "model.xml"
    dg.write_sbml(dg.load_model("ige_fceri_crosslinking"), path)
    return path


def make(
    folder: Path,
    sbml: Path,
    *,
    formula: str = "RecDim",
    noise: str = "2000",
    conditions: str = "conditionId\tL\nhigh\t6e6\nlow\t1.5e6\n",
    measurements: str = MEASUREMENTS + "dimers\thigh\t30\t36000\ndimers\tlow\t30\t9500\n",
    yaml: str = YAML,
) -> Path:
    tables = {
        "conditions": conditions,
        "observables": f"observableId\tobservableFormula\tnoiseFormula\ndimers\t{formula}\t{noise}\n",
        "parameters": "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\n"
        "kp1\tlog10\t1e-12\t1e-8\t1e-10\t1\n",
        "measurements": measurements,
    }
    (folder / "model.xml").write_bytes(sbml.read_bytes())
    for name, text in tables.items():
        (folder / f"{name}.tsv").write_text(text)
    (folder / "problem.yaml").write_text(yaml)
    return folder / "problem.yaml"


def fit_cli(problem: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["fit", str(problem), "--starts", "1", "--seed", "0", "-o", str(problem.parent / "fit.json")])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


BAD_YAML = {
    "problems_mapping": ("problems: {a: 1}\n", "'problems' is dict"),
    "problems_number": ("problems: 3\n", "'problems' is int"),
    "problems_text": ("problems: [abc]\n", "not a list of problems"),
}


@pytest.mark.parametrize("case", sorted(BAD_YAML))
def test_problems_that_are_not_a_list_of_problems(case, sbml, tmp_path, capsys):
    text, expected = BAD_YAML[case]
    problem = make(tmp_path, sbml, yaml="format_version: 1\nparameter_file: parameters.tsv\n" + text)
    with pytest.raises(dg.DataError, match=expected) as caught:
        dg.read_petab(problem)
    assert caught.value.file == str(problem) and caught.value.location == "problems"
    assert fit_cli(problem, capsys)[0] == 1


def test_no_parameter_file(sbml, tmp_path, capsys):
    problem = make(tmp_path, sbml, yaml=YAML.replace("parameter_file: parameters.tsv\n", ""))
    with pytest.raises(dg.DataError, match="no 'parameter_file'") as caught:
        dg.read_petab(problem)
    assert caught.value.location == "parameter_file"
    code, err = fit_cli(problem, capsys)
    assert code == 1 and "add 'parameter_file: parameters.tsv'" in err


BAD_FORMULAS = {
    "division_by_zero": ("RecDim/0", "not a finite number"),
    "unknown_function": ("factorial(3)*RecDim", "Unknown function"),
    "comparison": ("RecDim > 1", "is a comparison, not a number"),
    "deep_parentheses": ("(" * 1000 + "RecDim" + ")" * 1000, "nests parentheses 1000 deep"),
}


@pytest.mark.parametrize("case", sorted(BAD_FORMULAS))
def test_observable_formulas_refused_with_their_location(case, sbml, tmp_path, capsys):
    formula, expected = BAD_FORMULAS[case]
    problem = make(tmp_path, sbml, formula=formula)
    with pytest.raises(dg.DataError, match=expected) as caught:
        dg.read_petab(problem)
    assert caught.value.location == "observables[dimers].observableFormula"
    code, err = fit_cli(problem, capsys)
    assert code == 1 and err.count("\n") == 1 and "observables[dimers].observableFormula" in err


def test_sign_is_supported_with_its_derivative(sbml, tmp_path):
    """sign(x)*x is |x| = x for the (positive) dimer count: the same fit as plain x, to the
    optimiser's precision; sign's derivative (a Dirac delta at 0) is taken as 0."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain = dg.fit(dg.read_petab(make(tmp_path / "a", sbml)), n_starts=1, seed=0)
    signed = dg.fit(
        dg.read_petab(make(tmp_path / "b", sbml, formula="sign(RecDim)*RecDim")), n_starts=1, seed=0
    )
    assert signed.success
    assert signed.parameters["kp1"].magnitude == pytest.approx(plain.parameters["kp1"].magnitude, rel=1e-6)
    assert signed.cost == pytest.approx(plain.cost, rel=1e-6, abs=1e-9)


def test_moderately_nested_formula_is_read(sbml, tmp_path):
    problem = make(tmp_path, sbml, formula="(" * 100 + "RecDim" + ")" * 100)
    assert dg.read_petab(problem).names == ("kp1",)


REFUSED_TABLES = {
    "negative_initial_amount": (
        {"conditions": "conditionId\tL\nhigh\t-6e6\nlow\t1.5e6\n"},
        "conditions[high].L",
        "is negative",
    ),
    "negative_time": (
        {"measurements": MEASUREMENTS + "dimers\thigh\t-30\t36000\ndimers\tlow\t30\t9500\n"},
        "measurements row 1, time",
        "time -30 is negative",
    ),
    "overflowing_measurement": (
        {"measurements": MEASUREMENTS + "dimers\thigh\t30\t1e308\ndimers\tlow\t30\t9500\n"},
        "measurements row 1, measurement",
        "too large to fit",
    ),
    "empty_measurements": ({"measurements": MEASUREMENTS}, None, "the measurement table has no rows"),
}


@pytest.mark.parametrize("case", sorted(REFUSED_TABLES))
def test_tables_that_were_fitted_with_success_are_refused(case, sbml, tmp_path, capsys):
    changes, location, expected = REFUSED_TABLES[case]
    problem = make(tmp_path, sbml, **changes)
    with pytest.raises(dg.DataError, match=expected) as caught:
        dg.read_petab(problem)
    assert caught.value.location == location
    code, err = fit_cli(problem, capsys)
    assert code == 1 and expected in err
    assert not (tmp_path / "fit.json").exists()


def test_negative_noise_is_refused(sbml, tmp_path, capsys):
    problem = make(tmp_path, sbml, noise="-2000")
    with pytest.raises(dg.DataError, match="σ of measurement row 1 is -2000") as caught:
        dg.fit(dg.read_petab(problem), n_starts=1, seed=0)
    assert caught.value.location == "observables[dimers].noiseFormula"
    assert fit_cli(problem, capsys)[0] == 1


def test_a_cost_that_overflows_is_a_failed_fit_not_a_success(sbml, tmp_path, capsys):
    """Data small enough to pass the reader but a σ so small that ½Σr² exceeds float64:
    (1e140/1e-20)² = 1e320 > 1.8e308."""
    problem = make(
        tmp_path,
        sbml,
        noise="1e-20",
        measurements=MEASUREMENTS + "dimers\thigh\t30\t1e140\ndimers\tlow\t30\t9500\n",
    )
    with pytest.raises(dg.FitError, match="cost is not a finite number"):
        dg.fit(dg.read_petab(problem), n_starts=1, seed=0)
    code, err = fit_cli(problem, capsys)
    # Progress lines come first; the failure itself is one line, and the last.
    errors = [line for line in err.splitlines() if line.startswith("degranulation: error:")]
    assert code == 3 and len(errors) == 1 and err.splitlines()[-1] == errors[0]
    assert "Traceback" not in err
    assert not (tmp_path / "fit.json").exists()


def test_latin1_assay_file_gets_a_located_message(tmp_path, capsys):
    path = tmp_path / "assay.csv"
    path.write_bytes("observable,time [min],value [percent]\n# 1 µM\nrelease,1,2\n".encode("latin-1"))
    with pytest.raises(dg.DataError, match="not UTF-8") as caught:
        dg.read_assay(path)
    assert caught.value.file == str(path) and caught.value.location == "line 2"
    assert "save the file as UTF-8" in str(caught.value)
    code = main(["fit", "ige_fceri_crosslinking", str(path), "--estimate", "kp1"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "line 2" in err


def test_assay_value_that_would_overflow_is_refused(tmp_path):
    path = tmp_path / "assay.csv"
    path.write_text("observable,time [min],value [percent]\nrelease,1,2\nrelease,2,1e300\n")
    with pytest.raises(dg.DataError, match="too large to fit") as caught:
        dg.read_assay(path)
    assert caught.value.location == "line 3, column 'value [percent]'"


def test_a_model_whose_units_disagree_is_simulated_as_written(tmp_path):
    """The SBML law k*A (A a concentration, k in 1/s) lacks the compartment factor: the model
    is read with SBML's numbers as written and one UnitWarning, dn_A/dt = -k[A] in c = 2 L, so
    [A](t) = 0.5·exp(-k t / 2) (closed form); strict_units refuses the problem."""
    libsbml = pytest.importorskip("libsbml")
    document = libsbml.readSBMLFromString(
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">'
        '<model id="m"><listOfUnitDefinitions><unitDefinition id="per_second"><listOfUnits>'
        '<unit kind="second" exponent="-1" scale="0" multiplier="1"/></listOfUnits></unitDefinition>'
        '</listOfUnitDefinitions><listOfCompartments><compartment id="c" size="2" '
        'spatialDimensions="3" constant="true"/></listOfCompartments><listOfSpecies><species id="A" '
        'compartment="c" initialAmount="1" hasOnlySubstanceUnits="false" boundaryCondition="false" '
        'constant="false"/></listOfSpecies><listOfParameters><parameter id="k" value="1" '
        'units="per_second" constant="true"/></listOfParameters><listOfReactions><reaction id="r" '
        'reversible="false"><listOfReactants><speciesReference species="A" stoichiometry="1" '
        'constant="true"/></listOfReactants><kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML">'
        "<apply><times/><ci>k</ci><ci>A</ci></apply></math></kineticLaw></reaction></listOfReactions>"
        "</model></sbml>"
    )
    assert libsbml.writeSBMLToFile(document, str(tmp_path / "model.xml"))
    tables = {
        "conditions": "conditionId\nonly\n",
        "observables": "observableId\tobservableFormula\tnoiseFormula\nA_obs\tA\t0.01\n",
        "parameters": "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\n"
        "k\tlin\t0.01\t10\t1\t1\n",
        "measurements": MEASUREMENTS + "A_obs\tonly\t2\t0.18\nA_obs\tonly\t4\t0.07\n",
    }
    for name, text in tables.items():
        (tmp_path / f"{name}.tsv").write_text(text)
    (tmp_path / "problem.yaml").write_text(YAML)
    with pytest.warns(UnitWarning) as caught:
        problem = dg.read_petab(tmp_path / "problem.yaml")
    assert len(caught) == 1 and "reaction 'r': 'mol/(L*s)' vs 'mol/s'" in str(caught[0].message)
    simulated = problem.simulate({"k": 1.0}).table["simulation"].to_numpy()
    np.testing.assert_allclose(simulated, 0.5 * np.exp(-np.array([2.0, 4.0]) / 2), rtol=1e-6)
    with pytest.raises(dg.UnsupportedFeatureError, match="units that do not agree in reaction 'r'"):
        dg.read_petab(tmp_path / "problem.yaml", strict_units=True)
