"""SBML Level 2/3 core semantics the importer writes out (issue 12): a reaction id in math is
the reaction's rate, a negative stoichiometry puts a species on the other side, math a Level 3
Version 2 file leaves out has no effect, conditions and numbers interchange, ``factorial`` of a
constant is its number, and a rule that sets a stoichiometry to a constant is that number.

Each model is built here with libsbml, without units (mol, L, s), in a compartment ``c`` of
1 L, and checked against the closed form of its ODE; the SBML Test Suite's cases for the same
constructs (01227-01306, 01422-01516, 01235-01657, 01204, 00957, 00971) run with the suite's
expected values in ``tests/reference/test_sbml_suite.py``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from sbml_models import event as sbml_event
from sbml_models import one_compartment

import degranulation as dg
from degranulation.errors import UnsupportedFeatureError
from degranulation.formats.sbml import import_sbml

try:
    import libsbml
except ImportError:  # every test here is skipped (requires_sbml)
    libsbml = None
pytestmark = pytest.mark.requires_sbml

K = 0.5  # 1/s, the decay constant of A
A0 = 2.0  # mol/L
TIMES = np.arange(5.0)  # s


def decay(*, parameters: dict[str, float] | None = None) -> tuple[libsbml.SBMLDocument, libsbml.Model]:
    """A Level 3 Version 2 model: A (2 mol/L in c = 1 L) decays by reaction J0, rate k*A*c with
    k = 0.5/s; ``parameters`` are more parameters, not constant (rules or events set them)."""
    document, model = one_compartment("semantics")
    species(model, "A", A0)
    parameter(model, "k", K, constant=True)
    for pid, value in (parameters or {}).items():
        parameter(model, pid, value, constant=False)
    reaction(model, "J0", [("A", 1.0)], [], "k * A * c")
    return document, model


def species(model: libsbml.Model, sid: str, initial: float) -> None:
    s = model.createSpecies()
    s.setId(sid)
    s.setCompartment("c")
    s.setInitialConcentration(initial)
    s.setHasOnlySubstanceUnits(False)
    s.setBoundaryCondition(False)
    s.setConstant(False)


def parameter(model: libsbml.Model, pid: str, value: float, *, constant: bool) -> None:
    p = model.createParameter()
    p.setId(pid)
    p.setValue(value)
    p.setConstant(constant)


def reaction(
    model: libsbml.Model,
    rid: str,
    reactants: list[tuple[str, float]],
    products: list[tuple[str, float]],
    law: str,
) -> libsbml.Reaction:
    r = model.createReaction()
    r.setId(rid)
    r.setReversible(False)
    for create, side in ((r.createReactant, reactants), (r.createProduct, products)):
        for name, stoichiometry in side:
            reference = create()
            reference.setSpecies(name)
            reference.setStoichiometry(stoichiometry)
            reference.setConstant(True)
    r.createKineticLaw().setMath(libsbml.parseL3Formula(law))
    return r


def rule(model: libsbml.Model, variable: str, formula: str | None) -> None:
    """An assignment rule; ``None`` leaves its math out (Level 3 Version 2 allows it)."""
    created = model.createAssignmentRule()
    created.setVariable(variable)
    if formula is not None:
        created.setMath(libsbml.parseL3Formula(formula))


def run(document: libsbml.SBMLDocument, tmp_path: Path) -> tuple[dg.Model, object]:
    path = tmp_path / "model.xml"
    assert libsbml.writeSBMLToFile(document, str(path))
    model = import_sbml(path).model
    ds = dg.simulate(model, t=f"{TIMES[-1]} s", points=len(TIMES), rtol=1e-10, atol=1e-12)
    return model, ds


def values(ds: object, name: str, unit: str) -> np.ndarray:
    return ds[name].pint.to(unit).pint.magnitude  # type: ignore[index]


def a_of_t() -> np.ndarray:
    """A(t) = A0 exp(-k t), the closed form of dA/dt = -k A."""
    return A0 * np.exp(-K * TIMES)


def test_a_reaction_id_in_math_is_its_rate(tmp_path: Path) -> None:
    """p = J0 is J0's rate k·A·c = 0.5·2·exp(-0.5 t) mol/s; J1 changes no species (no
    reactants or products, rate 3 mol/s), so it is no reaction of the model, yet q = J1 + J0
    is its rate plus J0's."""
    document, model = decay(parameters={"p": 0.0, "q": 0.0})
    reaction(model, "J1", [], [], "3")
    rule(model, "p", "J0")
    rule(model, "q", "J1 + J0")
    imported, ds = run(document, tmp_path)
    assert [r.id for r in imported.reactions] == ["J0"]
    rate = K * a_of_t() * 1.0
    np.testing.assert_allclose(values(ds, "p", "mol/s"), rate, rtol=1e-7)
    np.testing.assert_allclose(values(ds, "q", "mol/s"), 3.0 + rate, rtol=1e-7)
    np.testing.assert_allclose(values(ds, "A", "mol/L"), a_of_t(), rtol=1e-7)


def test_a_negative_stoichiometry_is_the_other_side(tmp_path: Path) -> None:
    """J1 has reactant B of stoichiometry -2 and reactant C of 0, rate 0.25 mol/s: B gains
    2·0.25 mol/s, dB/dt = 0.5 mol/(L·s) in 1 L, so B = 1 + 0.5 t; C keeps its 3 mol/L."""
    document, model = decay()
    species(model, "B", 1.0)
    species(model, "C", 3.0)
    reaction(model, "J1", [("B", -2.0), ("C", 0.0)], [], "0.25")
    imported, ds = run(document, tmp_path)
    assert {r.id: r.equation for r in imported.reactions}["J1"] == "0 -> 2 B"
    np.testing.assert_allclose(values(ds, "B", "mol/L"), 1.0 + 0.5 * TIMES, rtol=1e-8)
    np.testing.assert_allclose(values(ds, "C", "mol/L"), 3.0, rtol=1e-12)


def test_math_left_out_has_no_effect(tmp_path: Path) -> None:
    """Level 3 Version 2: an assignment rule without math leaves p at 3; an event at t >= 1
    sets A to 4 and skips its assignment to d without math (d stays 7); an event without a
    trigger never fires. So A = 2 exp(-0.5 t) before 1 s and 4 exp(-0.5 (t - 1)) after."""
    document, model = decay(parameters={"p": 3.0, "d": 7.0})
    rule(model, "p", None)
    event = sbml_event(model, "E0", "time >= 1")
    event.createEventAssignment().setVariable("d")
    assignment = event.createEventAssignment()
    assignment.setVariable("A")
    assignment.setMath(libsbml.parseL3Formula("4"))
    untriggered = model.createEvent()
    untriggered.setId("E1")
    untriggered.setUseValuesFromTriggerTime(True)
    never = untriggered.createEventAssignment()
    never.setVariable("A")
    never.setMath(libsbml.parseL3Formula("100"))
    imported, ds = run(document, tmp_path)
    assert {p.id: p.value.value for p in imported.parameters if p.id in ("p", "d")} == {"p": 3.0, "d": 7.0}
    expected = np.where(TIMES < 1.0, a_of_t(), 4.0 * np.exp(-K * (TIMES - 1.0)))
    np.testing.assert_allclose(values(ds, "A", "mol/L"), expected, rtol=1e-6)


def test_conditions_and_numbers_interchange(tmp_path: Path) -> None:
    """p = 2·(A > 1) is 2 while A > 1, then 0; z = piecewise(3, piecewise(true, A <= 1,
    false), 7) takes a piecewise of conditions as its condition: 7 while A > 1, then 3.
    A = 2 exp(-0.5 t) falls below 1 at t = 2 ln 2 ≈ 1.39 s."""
    document, model = decay(parameters={"p": 0.0, "z": 0.0})
    rule(model, "p", "2 * (A > 1)")
    rule(model, "z", "piecewise(3, piecewise(true, A <= 1, false), 7)")
    _, ds = run(document, tmp_path)
    above = a_of_t() > 1.0
    np.testing.assert_allclose(values(ds, "p", "dimensionless"), np.where(above, 2.0, 0.0))
    np.testing.assert_allclose(values(ds, "z", "dimensionless"), np.where(above, 7.0, 3.0))


def test_factorial_of_a_constant_is_its_number(tmp_path: Path) -> None:
    """factorial(4) = 24 and factorial(2.5) = Γ(3.5) = 15√π/8; A decays at k·factorial(1)."""
    document, model = decay(parameters={"p": 0.0, "g": 0.0})
    rule(model, "p", "factorial(4)")
    rule(model, "g", "factorial(2.5)")
    model.getReaction("J0").getKineticLaw().setMath(libsbml.parseL3Formula("k * A * c * factorial(1)"))
    _, ds = run(document, tmp_path)
    np.testing.assert_allclose(values(ds, "p", "dimensionless"), 24.0, rtol=1e-14)
    np.testing.assert_allclose(values(ds, "g", "dimensionless"), 15 * math.sqrt(math.pi) / 8, rtol=1e-14)
    np.testing.assert_allclose(values(ds, "A", "mol/L"), a_of_t(), rtol=1e-7)


def test_factorial_of_a_value_that_changes_is_refused(tmp_path: Path) -> None:
    document, model = decay(parameters={"p": 0.0})
    rule(model, "p", "factorial(A)")
    path = tmp_path / "model.xml"
    assert libsbml.writeSBMLToFile(document, str(path))
    with pytest.raises(UnsupportedFeatureError) as raised:
        import_sbml(path)
    assert raised.value.features == ("'factorial(A)' in math (assignment rule for 'p')",)


def stoichiometry_rule(formula: str) -> libsbml.SBMLDocument:
    """J1 makes B (from 0) at 0.25 mol/s with the stoichiometry of species reference 'sr',
    which an assignment rule sets to ``formula``."""
    document, model = decay(parameters={"two": 2.0})
    model.getParameter("two").setConstant(True)
    species(model, "B", 0.0)
    made = reaction(model, "J1", [], [("B", 1.0)], "0.25")
    made.getProduct(0).setId("sr")
    made.getProduct(0).setConstant(False)
    rule(model, "sr", formula)
    return document


def test_a_stoichiometry_rule_of_constants_is_that_number(tmp_path: Path) -> None:
    """sr = two + 1 = 3 at all times: dB/dt = 3·0.25 mol/(L·s), B = 0.75 t."""
    imported, ds = run(stoichiometry_rule("two + 1"), tmp_path)
    assert {r.id: r.equation for r in imported.reactions}["J1"] == "0 -> 3 B"
    np.testing.assert_allclose(values(ds, "B", "mol/L"), 0.75 * TIMES, rtol=1e-8, atol=1e-12)


def test_a_stoichiometry_that_changes_in_time_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.xml"
    assert libsbml.writeSBMLToFile(stoichiometry_rule("1 + time"), str(path))
    with pytest.raises(UnsupportedFeatureError) as raised:
        import_sbml(path)
    assert raised.value.features == ("assignment rule for stoichiometry 'sr'",)
