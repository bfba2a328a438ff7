"""PEtab problems with SBML events (issue 12): an event's time or values that the PEtab tables
change must never be silently left at the SBML value, and the gradient follows the events.

The model: A decays at rate k; an event at ``time >= t_ins`` sets A = 10, so
A(5) = 10·exp(-k·(5 - t_ins)) (closed form). The state-triggered variant starts at A = 1 and
resets A to 1 whenever ``A < h``: A(t) = exp(-k·(t mod T)) with period T = ln(1/h)/k (closed
form). Gradients are checked against central finite differences of the objective.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("petab")
libsbml = pytest.importorskip("libsbml")

from sbml_models import event as sbml_event  # noqa: E402
from sbml_models import one_compartment  # noqa: E402

import degranulation as dg  # noqa: E402


def _model(
    path: Path,
    trigger: str = "time >= t_ins",
    value: str = "10",
    initial: float = 0.0,
    h: float = 0.5,
    target: str = "A",
) -> None:
    document, model = one_compartment("insulin_step", "C", dimensions=None)
    species = model.createSpecies()
    species.setId("A")
    species.setCompartment("C")
    species.setInitialConcentration(initial)
    species.setHasOnlySubstanceUnits(False)
    species.setBoundaryCondition(False)
    species.setConstant(False)
    for name, number in (("k", 0.3), ("t_ins", 2.0), ("h", h)):
        parameter = model.createParameter()
        parameter.setId(name)
        parameter.setValue(number)
        parameter.setConstant(name != target)
    reaction = model.createReaction()
    reaction.setId("decay")
    reaction.setReversible(False)
    reactant = reaction.createReactant()
    reactant.setSpecies("A")
    reactant.setStoichiometry(1)
    reactant.setConstant(True)
    reaction.createKineticLaw().setMath(libsbml.parseL3Formula("k * A * C"))
    event = sbml_event(model, "insulin", trigger)
    assignment = event.createEventAssignment()
    assignment.setVariable(target)
    assignment.setMath(libsbml.parseL3Formula(value))
    libsbml.writeSBMLToFile(document, str(path))


def _problem(
    folder: Path,
    conditions: str,
    parameter: str = "k\tlin\t0\t10\t0.3\t0\n",
    times: tuple[float, ...] = (5.0,),
    observable: str = "A",
    **model: Any,
) -> Path:
    _model(folder / "model.xml", **model)
    (folder / "conditions.tsv").write_text(conditions)
    ids = [line.split("\t")[0] for line in conditions.splitlines()[1:]]
    (folder / "measurements.tsv").write_text(
        "observableId\tsimulationConditionId\ttime\tmeasurement\n"
        + "".join(f"obs_A\t{c}\t{t:g}\t1.0\n" for c in ids for t in times)
    )
    (folder / "observables.tsv").write_text(
        f"observableId\tobservableFormula\tnoiseFormula\nobs_A\t{observable}\t1\n"
    )
    (folder / "parameters.tsv").write_text(
        "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\n" + parameter
    )
    (folder / "problem.yaml").write_text(
        "format_version: 1\nparameter_file: parameters.tsv\nproblems:\n- condition_files: [conditions.tsv]\n"
        "  measurement_files: [measurements.tsv]\n  observable_files: [observables.tsv]\n"
        "  sbml_files: [model.xml]\n"
    )
    return folder / "problem.yaml"


def _llh(values: list[float]) -> float:
    """PEtab's log-likelihood of measurements 1.0 with σ = 1 (normal noise)."""
    return sum(-0.5 * math.log(2 * math.pi) - 0.5 * (v - 1.0) ** 2 for v in values)


def _check_gradient(problem: Any, phi: np.ndarray) -> None:
    """The objective's gradient (Jᵀr from forward sensitivities) against central differences."""
    r, jacobian = problem.residuals(phi)
    gradient = jacobian.T @ r
    differences = []
    for j in range(len(phi)):
        step = np.zeros(len(phi))
        step[j] = 1e-5 * max(1.0, abs(phi[j]))
        differences.append((problem.cost(phi + step) - problem.cost(phi - step)) / (2 * step[j]))
    np.testing.assert_allclose(gradient, differences, rtol=1e-4, atol=1e-8)


def test_event_time_set_by_the_condition_table_follows_it(tmp_path: Path) -> None:
    # Was: both conditions stepped at the SBML t_ins = 2, so c_late's A(5) came out
    # 10·exp(-0.9) = 4.07 instead of 10·exp(-0.3) = 7.41, without a warning; then refused.
    path = _problem(tmp_path, "conditionId\tt_ins\nc_early\t2\nc_late\t4\n", "k\tlin\t0\t10\t0.3\t1\n")
    problem = dg.read_petab(path, rtol=1e-10, atol=1e-12)
    result = problem.simulate()
    expected = {c: 10 * math.exp(-0.3 * (5 - t_ins)) for c, t_ins in (("c_early", 2.0), ("c_late", 4.0))}
    simulated = dict(zip(result.table["simulationConditionId"], result.table["simulation"], strict=True))
    np.testing.assert_allclose([simulated[c] for c in expected], list(expected.values()), rtol=1e-6)
    assert result.llh == pytest.approx(_llh(list(expected.values())), rel=1e-6)
    _check_gradient(problem, problem.nominal)


def test_gradient_follows_an_estimated_event_time(tmp_path: Path) -> None:
    """t_ins is an estimated parameter per condition: ∂A(5)/∂t_ins = k·A(5) comes only from
    the event time's own derivative (the jump's dτ/dθ term)."""
    path = _problem(
        tmp_path,
        "conditionId\tt_ins\nc_early\tt_early\nc_late\tt_late\n",
        "k\tlin\t0\t10\t0.3\t1\nt_early\tlin\t0\t5\t2\t1\nt_late\tlin\t0\t5\t4\t1\n",
    )
    problem = dg.read_petab(path, rtol=1e-10, atol=1e-12)
    assert problem.names == ("k", "t_early", "t_late")
    prediction = problem.predict(problem.nominal)
    a5 = [10 * math.exp(-0.3 * (5 - t_ins)) for t_ins in (2.0, 4.0)]
    np.testing.assert_allclose(prediction.y, a5, rtol=1e-6)
    closed = [[-(5 - 2.0) * a5[0], 0.3 * a5[0], 0.0], [-(5 - 4.0) * a5[1], 0.0, 0.3 * a5[1]]]
    np.testing.assert_allclose(prediction.dy, closed, rtol=1e-6, atol=1e-9)
    _check_gradient(problem, problem.nominal)


def test_state_triggered_event_in_a_petab_fit(tmp_path: Path) -> None:
    """``A < h`` resets A to 1 (was refused: 'triggered by the state in fits'); A(t) = exp(-k·(t
    mod T)), T = ln(1/h)/k, for k and h per condition and estimated."""
    path = _problem(
        tmp_path,
        "conditionId\th\nc_half\t0.5\nc_third\th_third\n",
        "k\tlin\t0\t10\t0.3\t1\nh_third\tlin\t0.1\t0.9\t0.3\t1\n",
        times=(1.0, 3.0, 5.0),
        trigger="A < h",
        value="1",
        initial=1.0,
    )
    problem = dg.read_petab(path, rtol=1e-10, atol=1e-12)
    expected = [math.exp(-0.3 * (t % (math.log(1 / h) / 0.3))) for h in (0.5, 0.3) for t in (1.0, 3.0, 5.0)]
    result = problem.simulate()
    np.testing.assert_allclose(result.table["simulation"], expected, rtol=1e-6)
    assert result.llh == pytest.approx(_llh(expected), rel=1e-6)
    _check_gradient(problem, problem.nominal)


def test_observable_of_a_parameter_an_event_sets(tmp_path: Path) -> None:
    """``A < h`` doubles k (at T = ln 2/k); the observable k·A reads k at each time:
    k·exp(-k·t) before T, 2k·0.5·exp(-2k·(t - T)) after (closed form); k is estimated."""
    path = _problem(
        tmp_path,
        "conditionId\th\nc1\t0.5\n",
        "k\tlin\t0\t10\t0.3\t1\n",
        times=(1.0, 5.0),
        observable="k * A",
        trigger="A < h",
        value="2 * k",
        initial=1.0,
        target="k",
    )
    problem = dg.read_petab(path, rtol=1e-10, atol=1e-12)
    k, switch = 0.3, math.log(2) / 0.3
    expected = [k * math.exp(-k * 1.0), 2 * k * 0.5 * math.exp(-2 * k * (5.0 - switch))]
    np.testing.assert_allclose(problem.simulate().table["simulation"], expected, rtol=1e-6)
    _check_gradient(problem, problem.nominal)


def test_events_the_tables_leave_alone_keep_their_time(tmp_path: Path) -> None:
    path = _problem(tmp_path, "conditionId\tk\nslow\t0.1\nfast\t0.3\n", "t_ins\tlin\t0\t10\t2\t0\n")
    table = dg.read_petab(path).simulate().table
    expected = {c: 10 * math.exp(-k * (5 - 2.0)) for c, k in (("slow", 0.1), ("fast", 0.3))}
    simulated = dict(zip(table["simulationConditionId"], table["simulation"], strict=True))
    np.testing.assert_allclose([simulated[c] for c in expected], list(expected.values()), rtol=1e-5)
