"""SBML rate rules for parameters: read as model variables (``Species(variable=True)``),
written back as parameters with rate rules.

References no one here wrote: the SBML Test Suite's cases with such rules (their expected
values, in tests/reference/test_sbml_suite.py; case 00891's structure here), libRoadRunner
simulating the SBML we write, and closed forms (``p = p0·exp(-k·t)``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_files import DATA

import degranulation as dg
from degranulation.formats.sbml import import_sbml
from degranulation.network import UnitValue
from degranulation.units import registry

try:
    import libsbml
except ImportError:  # every test here is skipped (requires_sbml)
    libsbml = None
pytestmark = pytest.mark.requires_sbml

TIMES = np.linspace(0.0, 30.0, 7)  # s


def variables_model() -> dg.Model:
    """A decaying stimulus p (nM) and its integral s (1/min in a model timed in minutes),
    which drives the loss of a chemical A."""
    return (
        dg.ModelBuilder("variables", units={"time": "min", "concentration": "nM"})
        .compartment("c", "1 pL")
        .species("A", "10 nM", compartment="c")
        .species("p", "2 nM", variable=True, label="stimulus")
        .species("s", "0 1/s", variable=True)
        .parameter("k", "0.1 1/s")
        .parameter("K", "1 nM")
        .reaction("0 -> p", "-k*p", id="p_decay")
        .reaction("0 -> s", "k**2*p/K", id="s_rise")
        .reaction("A -> 0", "mass_action(s)", id="A_loss")
        .observable("twice_p", "2*p", "nM")
        .build()
    )


def test_a_parameter_rate_rule_is_a_model_variable() -> None:
    """Case 00891: dk1/dt = -k1·k3·t, dk2/dt = k1·k3·t on parameters (no species)."""
    model = import_sbml(DATA / "sbml_test_suite" / "cases" / "00891" / "00891-sbml.xml").model
    assert {s.id: s.variable for s in model.species} == {"k1": True, "k2": True}
    assert [(r.equation, r.description) for r in model.reactions] == [
        ("0 -> k1", "SBML rate rule for parameter 'k1'"),
        ("0 -> k2", "SBML rate rule for parameter 'k2'"),
    ]
    assert [p.id for p in model.parameters] == ["k3"]
    dg.validate(model)


def test_a_rate_rule_without_units_gives_the_parameter_its_unit(tmp_path: Path) -> None:
    """dp/dt = -k·p with k in 1/s and p declared without a unit: p is dimensionless, and the
    simulation is the closed form."""
    document = libsbml.SBMLDocument(3, 2)
    model = document.createModel()
    model.setId("rule")
    model.setTimeUnits("second")
    for pid, value, units, constant in (("k", 0.1, "per_second", True), ("p", 2.0, "", False)):
        parameter = model.createParameter()
        parameter.setId(pid)
        parameter.setValue(value)
        parameter.setConstant(constant)
        if units:
            parameter.setUnits(units)
    unit = model.createUnitDefinition()
    unit.setId("per_second")
    part = unit.createUnit()
    part.setKind(libsbml.UNIT_KIND_SECOND)
    part.setExponent(-1)
    part.setScale(0)
    part.setMultiplier(1)
    rule = model.createRateRule()
    rule.setVariable("p")
    rule.setMath(libsbml.parseL3Formula("-k * p"))
    path = tmp_path / "rule.xml"
    assert libsbml.writeSBMLToFile(document, str(path))
    imported = import_sbml(path)
    assert imported.model.get_species("p").initial == UnitValue(2.0, "dimensionless")
    dataset = dg.simulate(imported.model, t=registry().Quantity(TIMES, "s"), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(dataset["p"].pint.magnitude, 2.0 * np.exp(-0.1 * TIMES), rtol=1e-7)


def test_variables_round_trip_through_sbml(tmp_path: Path) -> None:
    """Written as parameters with rate rules named by their reactions, read back as the same
    variables, reactions and values (in the model's coherent units), simulating alike."""
    original = variables_model()
    xml = dg.write_sbml(original, tmp_path / "variables.xml")
    document = libsbml.readSBMLFromFile(str(xml))
    rules = {r.getVariable(): r.getIdAttribute() for r in document.getModel().getListOfRules() if r.isRate()}
    assert rules == {"p": "p_decay", "s": "s_rise"}
    assert document.getModel().getSpecies("p") is None
    back = import_sbml(xml).model
    assert {s.id: s.variable for s in back.species} == {"A": False, "p": True, "s": True}
    assert back.get_species("p").label == "stimulus"
    assert sorted(r.id for r in back.reactions) == sorted(r.id for r in original.reactions)
    for name in ("p", "s"):
        given, read = original.get_species(name).initial, back.get_species(name).initial
        assert registry().Quantity(read.value, read.unit).to(given.unit).magnitude == pytest.approx(
            given.value
        )
    a = dg.simulate(original, t="5 min", points=11, atol=1e-12)
    b = dg.simulate(back, t="5 min", points=11, atol=1e-12)
    for name in a.data_vars:
        x = np.asarray(a[name].pint.magnitude)
        y = np.asarray(b[name].pint.to(a[name].pint.units).pint.magnitude)
        np.testing.assert_allclose(y, x, rtol=1e-9, atol=1e-15, err_msg=name)


@pytest.mark.requires_roadrunner
def test_roadrunner_reproduces_a_model_with_variables(tmp_path: Path) -> None:
    """libRoadRunner, given the SBML we write, matches our trajectories (values in the model's
    units: nM, 1/min); and p follows the closed form 2·exp(-0.1·t) nM."""
    import roadrunner

    model = variables_model()
    xml = dg.write_sbml(model, tmp_path / "variables.xml")
    minutes = np.linspace(0.0, 2.0, 9)
    ours = dg.simulate(model, t=registry().Quantity(minutes, "min"), rtol=1e-10, atol=1e-14)
    runner = roadrunner.RoadRunner(str(xml))
    runner.integrator.relative_tolerance = 1e-10
    runner.integrator.absolute_tolerance = 1e-14
    theirs = runner.simulate(times=[float(t) for t in minutes], selections=["[A]", "p", "s", "twice_p"])
    for k, name in enumerate(["A", "p", "s", "twice_p"]):
        x = np.asarray(ours[name].pint.magnitude)
        np.testing.assert_allclose(theirs[:, k], x, rtol=1e-7, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(theirs[:, 1], 2.0 * np.exp(-6.0 * minutes), rtol=1e-7, atol=1e-14)


def test_a_parameter_with_two_rules_is_refused(tmp_path: Path) -> None:
    """A rate rule and an assignment rule for one parameter (invalid SBML) cannot both hold."""
    document = libsbml.SBMLDocument(3, 2)
    model = document.createModel()
    model.setId("two_rules")
    for pid, constant in (("p", False), ("k", True)):
        parameter = model.createParameter()
        parameter.setId(pid)
        parameter.setValue(1.0)
        parameter.setConstant(constant)
    rate = model.createRateRule()
    rate.setVariable("p")
    rate.setMath(libsbml.parseL3Formula("-k * p"))
    assignment = model.createAssignmentRule()
    assignment.setVariable("p")
    assignment.setMath(libsbml.parseL3Formula("2 * k"))
    path = tmp_path / "two_rules.xml"
    assert libsbml.writeSBMLToFile(document, str(path))
    with pytest.raises(dg.UnsupportedFeatureError) as caught:
        import_sbml(path)
    assert list(caught.value.features) == ["more than one rule for 'p' (which SBML does not allow)"]
