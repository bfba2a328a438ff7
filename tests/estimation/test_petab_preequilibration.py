"""Conditions that share a preequilibration settle once per evaluation (issue 13: the PEtab
collection's Raimundez_PCB2020 has 171 simulation conditions after 4 preequilibrations).

PEtab test-suite case 0009 (vendored in tests/data/petab_test_suite, BSD-3) is ``A <=> B``
with mass action (k1 forward, k2 = 0.6 back), A0 = a0 = 1, B0 = b0 = 0, preequilibrated at
k1 = 0.3. Here a second simulation condition, k1 = 0.1, is added after the same
preequilibration. Closed form: the steady state is A* = T·k2/(0.3 + k2) with T = a0 + b0, and
then A(t) = T·k2/(k1 + k2) + (A* − T·k2/(k1 + k2))·exp(−(k1 + k2)·t).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from data_files import DATA

import degranulation as dg
from degranulation.estimation.petab.problem import PetabProblem

pytestmark = [
    pytest.mark.requires_petab,
    pytest.mark.filterwarnings(r"ignore::DeprecationWarning:petab\..*"),
]

CASE = DATA / "petab_test_suite" / "0009"


def _problem(folder: Path) -> Path:
    for file in CASE.iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    conditions = folder / "_conditions.tsv"
    conditions.write_text(conditions.read_text().rstrip("\n") + "\nc1\t0.1\n")
    measurements = folder / "_measurements.tsv"
    rows = measurements.read_text().rstrip("\n").splitlines()
    rows += [row.replace("\tc0\t", "\tc1\t") for row in rows[1:]]
    measurements.write_text("\n".join(rows) + "\n")
    return folder / "_0009.yaml"


def _closed_form(k1: float, t: float, k2: float = 0.6, total: float = 1.0) -> float:
    settled = total * k2 / (0.3 + k2)
    final = total * k2 / (k1 + k2)
    return final + (settled - final) * math.exp(-(k1 + k2) * t)


def test_shared_preequilibration_settles_once_and_each_condition_is_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    problem = dg.read_petab(_problem(tmp_path))
    calls = []
    settle = PetabProblem._settle

    def counted(self: PetabProblem, *args: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        return settle(self, *args)

    monkeypatch.setattr(PetabProblem, "_settle", counted)
    table = problem.simulate().table
    assert len(calls) == 1  # two conditions, one preequilibration
    for condition, k1 in (("c0", 0.8), ("c1", 0.1)):
        rows = table[table["simulationConditionId"] == condition]
        expected = [_closed_form(k1, t) for t in rows["time"]]
        np.testing.assert_allclose(rows["simulation"], expected, rtol=1e-5)
    calls.clear()
    phi = problem.nominal + 0.1
    _, jacobian = problem.residuals(phi)
    assert len(calls) == 1
    # each condition's sensitivities start from the one settled state's: central differences
    step = 1e-6
    for j in range(len(phi)):
        shift = np.eye(len(phi))[j] * step
        plus, _ = problem.residuals(phi + shift, jacobian=False)
        minus, _ = problem.residuals(phi - shift, jacobian=False)
        np.testing.assert_allclose(jacobian[:, j], (plus - minus) / (2 * step), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("chosen", ["BDF", "Radau"])
def test_a_preequilibration_bdf_cannot_finish_is_settled_by_lsoda(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chosen: str
) -> None:
    """Raimundez_PCB2020's BDF crawls past t = 1e5 in a preequilibration until its evaluation
    limit; LSODA settles it. Here the chosen solver is made to fail the settle: after BDF,
    LSODA's steady state gives the closed form; Radau's failure is the user's solver's, and
    stays an error."""
    settle_with = PetabProblem._settle_with
    used: list[str] = []
    given: list[dg.Solver] = []

    def failing(self: PetabProblem, solver: dg.Solver, *args: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        used.append(type(solver).__name__)
        given.append(solver)
        if type(solver).__name__ == chosen:
            raise dg.SimulationError("the right-hand side was evaluated 1000000 times", t_fail=1e5)
        return settle_with(self, solver, *args)

    monkeypatch.setattr(PetabProblem, "_settle_with", failing)
    problem = dg.read_petab(_problem(tmp_path), solver=chosen)
    if chosen == "Radau":
        with pytest.raises(dg.SimulationError, match="1000000 times"):
            problem.simulate()
        assert used == ["Radau"]
        return
    table = problem.simulate().table
    assert used == ["BDF", "LSODA"]
    # "The same tolerances and limits": every option but the method, the fit's tighten included.
    assert {k: v for k, v in given[1].describe().items() if k != "method"} == {
        k: v for k, v in given[0].describe().items() if k != "method"
    }
    for condition, k1 in (("c0", 0.8), ("c1", 0.1)):
        rows = table[table["simulationConditionId"] == condition]
        np.testing.assert_allclose(rows["simulation"], [_closed_form(k1, t) for t in rows["time"]], rtol=1e-5)
