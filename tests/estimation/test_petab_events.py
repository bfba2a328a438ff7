"""PEtab problems with SBML events (issue 12): an event's time or values that the PEtab tables
change must never be silently left at the SBML value.

The model: A decays at rate k; an event at ``time >= t_ins`` sets A = 10, so
A(5) = 10·exp(-k·(5 - t_ins)) (closed form).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("petab")
libsbml = pytest.importorskip("libsbml")

import degranulation as dg  # noqa: E402


def _model(path: Path) -> None:
    document = libsbml.SBMLDocument(3, 2)
    model = document.createModel()
    model.setId("insulin_step")
    compartment = model.createCompartment()
    compartment.setId("C")
    compartment.setSize(1.0)
    compartment.setConstant(True)
    species = model.createSpecies()
    species.setId("A")
    species.setCompartment("C")
    species.setInitialConcentration(0.0)
    species.setHasOnlySubstanceUnits(False)
    species.setBoundaryCondition(False)
    species.setConstant(False)
    for name, value in (("k", 0.3), ("t_ins", 2.0)):
        parameter = model.createParameter()
        parameter.setId(name)
        parameter.setValue(value)
        parameter.setConstant(True)
    reaction = model.createReaction()
    reaction.setId("decay")
    reaction.setReversible(False)
    reactant = reaction.createReactant()
    reactant.setSpecies("A")
    reactant.setStoichiometry(1)
    reactant.setConstant(True)
    reaction.createKineticLaw().setMath(libsbml.parseL3Formula("k * A * C"))
    event = model.createEvent()
    event.setId("insulin")
    event.setUseValuesFromTriggerTime(True)
    trigger = event.createTrigger()
    trigger.setInitialValue(False)
    trigger.setPersistent(True)
    trigger.setMath(libsbml.parseL3Formula("time >= t_ins"))
    assignment = event.createEventAssignment()
    assignment.setVariable("A")
    assignment.setMath(libsbml.parseL3Formula("10"))
    libsbml.writeSBMLToFile(document, str(path))


def _problem(folder: Path, conditions: str, parameter: str = "k\tlin\t0\t10\t0.3\t0\n") -> Path:
    _model(folder / "model.xml")
    (folder / "conditions.tsv").write_text(conditions)
    ids = [line.split("\t")[0] for line in conditions.splitlines()[1:]]
    (folder / "measurements.tsv").write_text(
        "observableId\tsimulationConditionId\ttime\tmeasurement\n"
        + "".join(f"obs_A\t{c}\t5\t1.0\n" for c in ids)
    )
    (folder / "observables.tsv").write_text("observableId\tobservableFormula\tnoiseFormula\nobs_A\tA\t1\n")
    (folder / "parameters.tsv").write_text(
        "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\n" + parameter
    )
    (folder / "problem.yaml").write_text(
        "format_version: 1\nparameter_file: parameters.tsv\nproblems:\n- condition_files: [conditions.tsv]\n"
        "  measurement_files: [measurements.tsv]\n  observable_files: [observables.tsv]\n"
        "  sbml_files: [model.xml]\n"
    )
    return folder / "problem.yaml"


def test_event_time_set_by_the_condition_table_is_refused(tmp_path: Path) -> None:
    # Was: both conditions stepped at the SBML t_ins = 2, so c_late's A(5) came out
    # 10·exp(-0.9) = 4.07 instead of 10·exp(-0.3) = 7.41, without a warning.
    path = _problem(tmp_path, "conditionId\tt_ins\nc_early\t2\nc_late\t4\n")
    with pytest.raises(dg.UnsupportedFeatureError) as refused:
        dg.read_petab(path)
    assert any("insulin" in f and "t_ins" in f for f in refused.value.features)


def test_events_the_tables_leave_alone_keep_their_time(tmp_path: Path) -> None:
    path = _problem(tmp_path, "conditionId\tk\nslow\t0.1\nfast\t0.3\n", "t_ins\tlin\t0\t10\t2\t0\n")
    table = dg.read_petab(path).simulate().table
    expected = {c: 10 * math.exp(-k * (5 - 2.0)) for c, k in (("slow", 0.1), ("fast", 0.3))}
    simulated = dict(zip(table["simulationConditionId"], table["simulation"], strict=True))
    np.testing.assert_allclose([simulated[c] for c in expected], list(expected.values()), rtol=1e-5)
