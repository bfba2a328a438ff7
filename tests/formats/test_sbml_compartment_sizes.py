"""SBML compartments whose size changes (a rate rule, an assignment rule, an event): the size
is a model variable or an observable, and the species in it are held as amounts, so that a
growing compartment dilutes them.

References no one here wrote: closed forms of the small models below (SBML's semantics:
reactions change amounts, a concentration is its amount over its compartment's size), and
libRoadRunner simulating the same files. The SBML Test Suite's cases (00052 … 01780, in
tests/reference/test_sbml_suite.py) check the same against the suite's expected values.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import degranulation as dg
from degranulation.formats.sbml import import_sbml
from degranulation.units import registry

try:
    import libsbml
except ImportError:  # every test here is skipped (requires_sbml)
    libsbml = None
pytestmark = pytest.mark.requires_sbml

TIMES = np.linspace(0.0, 10.0, 21)  # s
K_GROWTH, K_LOSS, RISE = 0.1, 0.3, 0.25  # 1/s, 1/s, mol/(L*s)
K_DECAY = 0.2  # 1/s, in the event model


def _document(model_id: str) -> tuple[Any, Any]:
    """An SBML L3V2 document in mol, L and s, with parameters k_g, k, r, k_d and V0 (1 L)."""
    document = libsbml.SBMLDocument(3, 2)
    model = document.createModel()
    model.setId(model_id)
    model.setSubstanceUnits("mole")
    model.setVolumeUnits("litre")
    model.setTimeUnits("second")
    model.setExtentUnits("mole")
    per_second = model.createUnitDefinition()
    per_second.setId("per_second")
    _unit(per_second, libsbml.UNIT_KIND_SECOND, -1)
    molar_rate = model.createUnitDefinition()
    molar_rate.setId("molar_per_second")
    _unit(molar_rate, libsbml.UNIT_KIND_MOLE, 1)
    _unit(molar_rate, libsbml.UNIT_KIND_LITRE, -1)
    _unit(molar_rate, libsbml.UNIT_KIND_SECOND, -1)
    for pid, value, units in (
        ("k_g", K_GROWTH, "per_second"),
        ("k", K_LOSS, "per_second"),
        ("r", RISE, "molar_per_second"),
        ("k_d", K_DECAY, "per_second"),
        ("V0", 1.0, "litre"),
    ):
        parameter = model.createParameter()
        parameter.setId(pid)
        parameter.setValue(value)
        parameter.setUnits(units)
        parameter.setConstant(True)
    return document, model


def _unit(definition: Any, kind: int, exponent: int) -> None:
    part = definition.createUnit()
    part.setKind(kind)
    part.setExponent(exponent)
    part.setScale(0)
    part.setMultiplier(1)


def _compartment(model: Any, size: float | None) -> None:
    compartment = model.createCompartment()
    compartment.setId("C")
    compartment.setSpatialDimensions(3)
    compartment.setUnits("litre")
    compartment.setConstant(False)
    if size is not None:
        compartment.setSize(size)


def _species(
    model: Any, sid: str, *, concentration: float | None = None, amount: float | None = None
) -> None:
    species = model.createSpecies()
    species.setId(sid)
    species.setCompartment("C")
    species.setHasOnlySubstanceUnits(False)
    species.setBoundaryCondition(False)
    species.setConstant(False)
    if concentration is not None:
        species.setInitialConcentration(concentration)
    else:
        species.setInitialAmount(amount)


def _loss(model: Any, sid: str, rate: str) -> None:
    """The reaction ``sid -> 0`` at the extent rate ``rate``."""
    reaction = model.createReaction()
    reaction.setId(f"loss_{sid}")
    reaction.setReversible(False)
    reactant = reaction.createReactant()
    reactant.setSpecies(sid)
    reactant.setStoichiometry(1)
    reactant.setConstant(True)
    reaction.createKineticLaw().setMath(libsbml.parseL3Formula(rate))


def _write(document: Any, path: Path) -> Path:
    assert libsbml.writeSBMLToFile(document, str(path))
    return path


def growing_file(path: Path) -> Path:
    """C grows as dC/dt = k_g·C from 1 L; X (2 M) only dilutes, A (1 M) is lost at the extent
    rate k·[A]·C, and a rate rule raises [B] (0.5 M) by r."""
    document, model = _document("growing")
    _compartment(model, 1.0)
    _species(model, "X", concentration=2.0)
    _species(model, "A", concentration=1.0)
    _species(model, "B", concentration=0.5)
    _loss(model, "A", "k * A * C")
    for variable, formula in (("C", "k_g * C"), ("B", "r")):
        rule = model.createRateRule()
        rule.setVariable(variable)
        rule.setMath(libsbml.parseL3Formula(formula))
    return _write(document, path)


def ruled_file(path: Path) -> Path:
    """C = V0·(1 + k_g·t) by an assignment rule (no size declared); X starts at 2 mol and is
    lost at the extent rate k·[X]·C."""
    document, model = _document("ruled")
    _compartment(model, None)
    _species(model, "X", amount=2.0)
    _loss(model, "X", "k * X * C")
    rule = model.createAssignmentRule()
    rule.setVariable("C")
    rule.setMath(libsbml.parseL3Formula("V0 * (1 + k_g * time)"))
    return _write(document, path)


def event_file(path: Path) -> Path:
    """C = 1 L; X (1 M) is lost at the extent rate k_d·[X]·C. When [X] falls below 0.5 M an
    event sets C to 4 L; at t = 5 s another sets [X] to 0.2 M and C to 0.5 L together."""
    document, model = _document("resized")
    _compartment(model, 1.0)
    _species(model, "X", concentration=1.0)
    _loss(model, "X", "k_d * X * C")
    for eid, trigger, assignments in (
        ("grow", "X < 0.5", (("C", "4"),)),
        ("reset", "time >= 5", (("X", "0.2"), ("C", "0.5"))),
    ):
        event = model.createEvent()
        event.setId(eid)
        event.setUseValuesFromTriggerTime(True)
        condition = event.createTrigger()
        condition.setMath(libsbml.parseL3Formula(trigger))
        condition.setPersistent(True)
        condition.setInitialValue(True)
        for target, formula in assignments:
            assignment = event.createEventAssignment()
            assignment.setVariable(target)
            assignment.setMath(libsbml.parseL3Formula(formula))
    return _write(document, path)


def _simulate(path: Path, times: np.ndarray = TIMES) -> Any:
    model = import_sbml(path).model
    return dg.simulate(model, t=registry().Quantity(times, "s"), rtol=1e-10, atol=1e-14)


def _values(dataset: Any, name: str, unit: str) -> np.ndarray:
    return np.asarray(dataset[name].pint.to(unit).pint.magnitude)


def _event_closed_form(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The event model's size (L) and [X] (M): the amount n = exp(-k_d·t) mol until t = 5 s,
    where it becomes 0.2 M times the size before the event (4 L), then decays from there."""
    grown = math.log(2.0) / K_DECAY  # [X] = n/1 L reaches 0.5 M
    size = np.where(times < grown, 1.0, 4.0)
    size = np.where(times >= 5.0, 0.5, size)
    amount = np.where(times < 5.0, np.exp(-K_DECAY * times), 0.2 * 4.0 * np.exp(-K_DECAY * (times - 5.0)))
    return size, amount / size


def test_a_growing_compartment_dilutes_its_species(tmp_path: Path) -> None:
    """Closed forms: C = exp(k_g·t) L, [X] = 2·exp(-k_g·t) M (amount kept), [A] =
    exp(-(k + k_g)·t) M (amount exp(-k·t) mol), [B] = 0.5 + r·t M (the rate rule sets the
    concentration, whatever the size)."""
    path = growing_file(tmp_path / "growing.xml")
    model = import_sbml(path).model
    assert {s.id: (s.compartment, s.variable) for s in model.species} == {
        "X_amount": ("C_amounts", False),
        "A_amount": ("C_amounts", False),
        "B_amount": ("C_amounts", False),
        "C": (None, True),
    }
    assert {o.id: o.expr for o in model.observables} == {
        "X": "X_amount/C",
        "A": "A_amount/C",
        "B": "B_amount/C",
    }
    dataset = _simulate(path)
    np.testing.assert_allclose(_values(dataset, "C", "L"), np.exp(K_GROWTH * TIMES), rtol=1e-8)
    np.testing.assert_allclose(_values(dataset, "X", "M"), 2.0 * np.exp(-K_GROWTH * TIMES), rtol=1e-8)
    np.testing.assert_allclose(_values(dataset, "A", "M"), np.exp(-(K_LOSS + K_GROWTH) * TIMES), rtol=1e-7)
    np.testing.assert_allclose(_values(dataset, "A_amount", "mol"), np.exp(-K_LOSS * TIMES), rtol=1e-7)
    np.testing.assert_allclose(_values(dataset, "B", "M"), 0.5 + RISE * TIMES, rtol=1e-8)


def test_an_assignment_rule_sets_the_size(tmp_path: Path) -> None:
    """C = 1 + k_g·t L (an observable); the amount of X is 2·exp(-k·t) mol, so [X] =
    2·exp(-k·t)/(1 + k_g·t) M (closed form)."""
    path = ruled_file(tmp_path / "ruled.xml")
    model = import_sbml(path).model
    assert [s.id for s in model.species] == ["X_amount"]
    assert {o.id for o in model.observables} == {"C", "X"}
    dataset = _simulate(path)
    size = 1.0 + K_GROWTH * TIMES
    np.testing.assert_allclose(_values(dataset, "C", "L"), size, rtol=1e-10)
    np.testing.assert_allclose(_values(dataset, "X", "M"), 2.0 * np.exp(-K_LOSS * TIMES) / size, rtol=1e-7)


def test_an_event_resizes_the_compartment_keeping_amounts(tmp_path: Path) -> None:
    """A new size keeps the amount (so [X] drops fourfold at ln 2/k_d s); setting [X] and the
    size together sets the amount with the size before the event (0.2 M · 4 L = 0.8 mol, so
    [X] = 1.6 M in 0.5 L, as SBML Test Suite case 01779). Closed form in between."""
    path = event_file(tmp_path / "resized.xml")
    dataset = _simulate(path)
    size, concentration = _event_closed_form(TIMES)
    np.testing.assert_allclose(_values(dataset, "C", "L"), size, rtol=1e-12)
    np.testing.assert_allclose(_values(dataset, "X", "M"), concentration, rtol=1e-7)


@pytest.mark.requires_roadrunner
@pytest.mark.parametrize("build", [growing_file, ruled_file, event_file])
def test_roadrunner_agrees(build: Any, tmp_path: Path) -> None:
    """libRoadRunner, simulating the same file, gives the same sizes and concentrations."""
    roadrunner = pytest.importorskip("roadrunner")
    path = build(tmp_path / "model.xml")
    document = libsbml.readSBMLFromFile(str(path))  # kept: its model dies with it
    species = [s.getId() for s in document.getModel().getListOfSpecies()]
    runner = roadrunner.RoadRunner(str(path))
    runner.integrator.relative_tolerance = 1e-10
    runner.integrator.absolute_tolerance = 1e-14
    theirs = runner.simulate(times=[float(t) for t in TIMES], selections=["C"] + [f"[{s}]" for s in species])
    ours = _simulate(path)
    np.testing.assert_allclose(_values(ours, "C", "L"), theirs[:, 0], rtol=1e-7, err_msg="C")
    for k, sid in enumerate(species, start=1):
        np.testing.assert_allclose(_values(ours, sid, "M"), theirs[:, k], rtol=1e-6, atol=1e-12, err_msg=sid)
