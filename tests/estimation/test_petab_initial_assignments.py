"""Initial assignments to constant parameters from parameters the PEtab tables set (issue 12;
the pattern of COPASI exports such as Laske_PLOSComputBiol2019's ``ModelValue_80 = k_syn_P``).

The model: A (1 mol/L at t0) decays at rate k_eff, where the initial assignment is
``k_eff = 2*k``; each condition sets k, so A(5) = exp(-2·k·5) (closed form). Before, the import
took k_eff = 2·(SBML k) once, so PEtab refused the problem rather than give every condition
the file's rate.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("petab")
libsbml = pytest.importorskip("libsbml")

from sbml_models import one_compartment  # noqa: E402

import degranulation as dg  # noqa: E402
from degranulation.formats.sbml import import_sbml  # noqa: E402
from degranulation.units import registry  # noqa: E402


def _model(path: Path) -> None:
    document, model = one_compartment("assigned_rate", "C", dimensions=None)
    species = model.createSpecies()
    for setter, value in [("setId", "A"), ("setCompartment", "C"), ("setInitialConcentration", 1.0)]:
        getattr(species, setter)(value)
    for flag in ("setHasOnlySubstanceUnits", "setBoundaryCondition", "setConstant"):
        getattr(species, flag)(False)
    for name, value in (("k", 0.3), ("k_eff", 0.0)):
        parameter = model.createParameter()
        parameter.setId(name)
        parameter.setValue(value)
        parameter.setConstant(True)
    model.createInitialAssignment().setSymbol("k_eff")
    model.getInitialAssignment("k_eff").setMath(libsbml.parseL3Formula("2 * k"))
    reaction = model.createReaction()
    reaction.setId("decay")
    reaction.setReversible(False)
    reactant = reaction.createReactant()
    reactant.setSpecies("A")
    reactant.setStoichiometry(1)
    reactant.setConstant(True)
    reaction.createKineticLaw().setMath(libsbml.parseL3Formula("k_eff * A * C"))
    libsbml.writeSBMLToFile(document, str(path))


def test_the_assigned_parameter_follows_a_value_set_later(tmp_path: Path) -> None:
    _model(tmp_path / "model.xml")
    model = import_sbml(tmp_path / "model.xml").model
    assert [(o.id, o.expr) for o in model.observables] == [("k_eff", "2*k")]
    times = np.linspace(0.0, 5.0, 6)
    result = dg.simulate(
        model, t=registry().Quantity(times, "s"), params={"k": "0.1 1/s"}, rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(result["A"].pint.to("mol/L").pint.magnitude, np.exp(-0.2 * times), rtol=1e-6)


def test_each_condition_sets_the_parameter_the_initial_assignment_uses(tmp_path: Path) -> None:
    _model(tmp_path / "model.xml")
    (tmp_path / "conditions.tsv").write_text("conditionId\tk\nslow\t0.1\nfast\t0.4\n")
    (tmp_path / "measurements.tsv").write_text(
        "observableId\tsimulationConditionId\ttime\tmeasurement\nobs_A\tslow\t5\t0.5\nobs_A\tfast\t5\t0.5\n"
    )
    (tmp_path / "observables.tsv").write_text("observableId\tobservableFormula\tnoiseFormula\nobs_A\tA\t1\n")
    (tmp_path / "parameters.tsv").write_text(
        "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\n"
    )
    (tmp_path / "problem.yaml").write_text(
        "format_version: 1\nparameter_file: parameters.tsv\nproblems:\n- condition_files: [conditions.tsv]\n"
        "  measurement_files: [measurements.tsv]\n  observable_files: [observables.tsv]\n"
        "  sbml_files: [model.xml]\n"
    )
    table = dg.read_petab(tmp_path / "problem.yaml").simulate().table
    simulated = dict(zip(table["simulationConditionId"], table["simulation"], strict=True))
    expected = {c: math.exp(-2 * k * 5) for c, k in (("slow", 0.1), ("fast", 0.4))}
    np.testing.assert_allclose([simulated[c] for c in expected], list(expected.values()), rtol=1e-5)
