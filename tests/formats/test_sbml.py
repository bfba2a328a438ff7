"""SBML import and export (degranulation.formats.sbml), the ``convert`` command and SBML files in
``load_model``.

References no one here wrote: the SBML Test Suite's case descriptions (units of each case,
``tests/data/sbml_test_suite``), closed-form solutions, and libRoadRunner
simulating our SBML.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from data_files import DATA, unpacked

import degranulation as dg
from degranulation.cli import main
from degranulation.errors import ModelFileError, UnsupportedFeatureError
from degranulation.formats.sbml import import_sbml
from degranulation.formats.units import Unit, UnitInference, unit_from_definition
from degranulation.library import list_models
from degranulation.network import Protocol, Step, UnitValue
from degranulation.units import UnitSystem, registry

try:
    import libsbml
except ImportError:  # every test here is skipped (requires_sbml)
    libsbml = None
pytestmark = pytest.mark.requires_sbml

CASES = DATA / "sbml_test_suite" / "cases"
# Generated networks (thousands of reactions) take most of a minute: slow.
LIBRARY = [
    pytest.param(info.id, marks=pytest.mark.slow) if info.path.stat().st_size > 100_000 else info.id
    for info in list_models()
]


def quantity(value: UnitValue):
    return registry().Quantity(value.value, value.unit)


def case(number: str) -> Path:
    path = CASES / number / f"{number}-sbml.xml"
    if not path.is_file():
        pytest.fail(f"SBML test suite case missing at {path}")
    return path


def sbml_document(
    *, reactions: list[tuple[str, str, str, str]], species: dict[str, float], parameters: dict[str, float]
) -> libsbml.SBMLDocument:
    """A unit-less Level 3 model in a 1 L compartment 'c': reactions are (id, reactant, product, law)."""
    document = libsbml.SBMLDocument(3, 2)
    model = document.createModel()
    model.setId("made_here")
    compartment = model.createCompartment()
    compartment.setId("c")
    compartment.setSize(1.0)
    compartment.setSpatialDimensions(3)
    compartment.setConstant(True)
    for sid, amount in species.items():
        s = model.createSpecies()
        s.setId(sid)
        s.setCompartment("c")
        s.setInitialAmount(amount)
        s.setHasOnlySubstanceUnits(False)
        s.setBoundaryCondition(False)
        s.setConstant(False)
    for pid, value in parameters.items():
        p = model.createParameter()
        p.setId(pid)
        p.setValue(value)
        p.setConstant(True)
    for rid, reactant, product, law in reactions:
        r = model.createReaction()
        r.setId(rid)
        r.setReversible(False)
        for create, name in ((r.createReactant, reactant), (r.createProduct, product)):
            if name:
                reference = create()
                reference.setSpecies(name)
                reference.setStoichiometry(1)
                reference.setConstant(True)
        r.createKineticLaw().setMath(libsbml.parseL3Formula(law))
    return document


def write(document: libsbml.SBMLDocument, path: Path) -> Path:
    assert libsbml.writeSBMLToFile(document, str(path))
    return path


# -- reading --------------------------------------------------------------------------------------


def test_unit_less_case_uses_mole_litre_second() -> None:
    """Case 00001 declares no units; its description gives S1 = 1.5e-4 mole in 1 litre and
    k1 = 1 second^-1 for the rate law k1*S1*compartment."""
    model = dg.read_sbml(case("00001"))
    assert model.units == UnitSystem(time="s", concentration="mol/L", amount="mol")
    s1 = quantity(model.get_species("S1").initial)
    assert s1.to("mol/L").magnitude == pytest.approx(1.5e-4, rel=1e-12)
    assert quantity(model.get_parameter("k1").value) == registry().Quantity(1.0, "1/s")
    assert quantity(model.compartments[0].size).to("L").magnitude == pytest.approx(1.0)


def test_inferred_second_order_unit() -> None:
    """Case 00010: k1 in k1*S1*S2*compartment is 3.5 litre mole^-1 second^-1 (case description)."""
    model = dg.read_sbml(case("00010"))
    k1 = quantity(model.get_parameter("k1").value)
    assert k1.to("L/(mol*s)").magnitude == pytest.approx(3.5, rel=1e-12)


def test_bare_numbers_that_need_a_unit_become_parameters() -> None:
    """Case 00888: rate rule dS3/dt = 1.5 * exp(time)^-1. The 1.5 must be a concentration per
    time and time must enter exp() as a number of seconds; both become parameters."""
    model = dg.load_model(case("00888"))
    made = {p.id: quantity(p.value) for p in model.parameters if p.id.startswith("rate_rule_S3")}
    units = sorted(str(q.to_base_units().units) for q in made.values())
    assert units == ["1 / second", "mole / meter ** 3 / second"]
    rate = next(q for q in made.values() if q.check("[substance]/[length]**3/[time]"))
    assert rate.to("mol/(L*s)").magnitude == pytest.approx(1.5)
    # dS3/dt = 1.5 exp(-t)  =>  S3(t) = 1.5 (1 - exp(-t))  (S3(0) = 0, 1 L)
    ds = dg.simulate(model, t="2 s", points=5, rtol=1e-10, atol=1e-14)
    expected = 1.5 * (1 - np.exp(-np.linspace(0, 2, 5)))
    np.testing.assert_allclose(ds["S3"].pint.to("mol/L").pint.magnitude, expected, rtol=1e-7)


def test_reserved_ids_are_renamed_and_simulate(tmp_path: Path) -> None:
    """Ids that are reserved here ('S', Python's 'lambda') are renamed; first-order decay
    S(t) = S0 exp(-lambda t) checks the renamed model."""
    document = sbml_document(
        reactions=[("decay", "S", "", "lambda * S * c")], species={"S": 2.0}, parameters={"lambda": 0.5}
    )
    imported = import_sbml(write(document, tmp_path / "decay.xml"))
    assert imported.ids["S"] == "S_" and imported.ids["lambda"] == "lambda_"
    ds = dg.simulate(imported.model, t="4 s", points=5, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(
        ds["S_"].pint.to("mol/L").pint.magnitude, 2.0 * np.exp(-0.5 * np.arange(5)), rtol=1e-7
    )


def test_every_unsupported_construct_is_listed_once(tmp_path: Path) -> None:
    document = sbml_document(
        reactions=[("r", "A", "", "k * A * c * factorial(2)")],
        species={"A": 1.0},
        parameters={"k": 1.0, "p": 0.0, "q": 0.0},
    )
    model = document.getModel()
    model.getCompartment(0).setSpatialDimensions(2)
    rule = model.createRateRule()
    rule.setVariable("p")
    rule.setMath(libsbml.parseL3Formula("1"))
    model.getParameter("p").setConstant(False)
    event = model.createEvent()
    event.setId("low_A")
    event.setUseValuesFromTriggerTime(True)
    trigger = event.createTrigger()
    trigger.setInitialValue(True)
    trigger.setPersistent(True)
    trigger.setMath(libsbml.parseL3Formula("A < 0.5"))
    assignment = event.createEventAssignment()
    assignment.setVariable("q")
    assignment.setMath(libsbml.parseL3Formula("1"))
    model.getParameter("q").setConstant(False)
    with pytest.raises(UnsupportedFeatureError) as info:
        dg.read_sbml(write(document, tmp_path / "bad.xml"))
    features = info.value.features
    assert len(features) == 4, features
    for expected in (
        "2 spatial dimensions",
        "rate rule for parameter 'p'",
        "'factorial' in math",
        "event 'low_A' assigns parameter 'q'",  # a species level triggers it: only species may be set
    ):
        assert sum(expected in f for f in features) == 1, (expected, features)


def test_fixed_time_events_become_a_protocol(tmp_path: Path) -> None:
    """An event at time >= 2 that sets A to 3 is a protocol step; A decays with k = 1/s
    before and after: A(4 s) = 3 exp(-2)."""
    document = sbml_document(
        reactions=[("r", "A", "", "k * A * c")], species={"A": 1.0}, parameters={"k": 1.0}
    )
    event = document.getModel().createEvent()
    event.setUseValuesFromTriggerTime(True)
    trigger = event.createTrigger()
    trigger.setInitialValue(True)
    trigger.setPersistent(True)
    trigger.setMath(libsbml.parseL3Formula("time >= 2"))
    assignment = event.createEventAssignment()
    assignment.setVariable("A")
    assignment.setMath(libsbml.parseL3Formula("3"))
    model = dg.load_model(write(document, tmp_path / "pulse.xml"))
    (step,) = model.get_protocol(model.default_protocol).steps
    assert (step.action, step.target, step.at, step.value) == (
        "set",
        "A",
        UnitValue(2.0, "s"),
        UnitValue(3.0, "mol/L"),
    )
    ds = dg.simulate(model, t=["0 s", "1 s", "4 s"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ds["A"].pint.magnitude, [1.0, math.exp(-1), 3 * math.exp(-2)], rtol=1e-7)


def test_unit_definitions() -> None:
    """A minute written as 60 seconds keeps its factor; named 'min' it becomes pint's minute."""
    document = libsbml.SBMLDocument(3, 2)
    definition = document.createModel().createUnitDefinition()
    definition.setId("per_minute")
    unit = definition.createUnit()
    unit.setKind(libsbml.UNIT_KIND_SECOND)
    unit.setExponent(-1)
    unit.setScale(0)
    unit.setMultiplier(60)
    assert unit_from_definition(definition) == Unit(1 / 60, "1/s")
    definition.setName("1/min")
    assert unit_from_definition(definition) == Unit(1.0, "1/min")
    definition.setName("1/h")  # a name that disagrees with the definition is ignored
    assert unit_from_definition(definition) == Unit(1 / 60, "1/s")


def test_unit_inference_leaves_free_names_dimensionless() -> None:
    """k * S must be mol/s with S in mol: k is 1/s. In a * b * S = mol/s only the product is
    fixed: the first unknown takes the unit, the other stays dimensionless."""
    from degranulation.expressions import parse_expression

    known = {"S": Unit(1.0, "mol")}
    inference = UnitInference(known, ["k", "a", "b"])
    inference.require(parse_expression("k*S").expr, Unit(1.0, "mol/s"), "first")
    inference.require(parse_expression("a*b*S").expr, Unit(1.0, "mmol/s"), "second")
    solved = inference.solve()
    np.testing.assert_allclose(solved["k"], [0, 0, 0, -1, 0, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(solved["a"], [-3, 0, 0, -1, 0, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(solved["b"], np.zeros(8), atol=1e-12)


def test_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such SBML file"):
        dg.read_sbml(tmp_path / "missing.xml")
    broken = tmp_path / "broken.xml"
    broken.write_text("<sbml><model></sbml>", encoding="utf-8")
    with pytest.raises(ModelFileError, match="not valid SBML"):
        dg.read_sbml(broken)


def test_missing_libsbml_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "libsbml", None)
    with pytest.raises(ImportError, match=r"degranulation\[sbml\]"):
        dg.read_sbml(case("00001"))


@pytest.mark.slow
def test_bionetgen_sbml_export_reproduces_bionetgen(tmp_path: Path) -> None:
    """BioNetGen's own SBML export of fceri_ji (354 species, 3680 reactions) imports and
    reproduces BioNetGen's CVODE trajectories (fceri_ji.gdat, rtol = atol = 1e-8)."""
    folder = DATA / "bionetgen" / "fceri_ji"
    # Stored gzipped; Lig_tot etc. only feed initial assignments.
    model = dg.read_sbml(unpacked(folder / "fceri_ji_sbml.xml", tmp_path))
    assert (len(model.species), len(model.reactions)) == (354, 3680)
    with (folder / "fceri_ji.gdat").open() as handle:
        names = handle.readline().split()[2:]
    reference = np.loadtxt(folder / "fceri_ji.gdat")
    ds = dg.simulate(model, t=registry().Quantity(reference[:, 0], "s"), rtol=1e-8, atol=1e-8)
    for k, name in enumerate(names, start=1):  # BioNetGen counts molecules in a 1 L compartment
        ours = ds[name].pint.to("molecule/L").pint.magnitude
        np.testing.assert_allclose(ours, reference[:, k], rtol=1e-6, atol=1e-6, err_msg=name)


# -- writing and round trips -------------------------------------------------------------------------


def _same(a, b, names, rtol: float) -> None:
    """|a - b| <= rtol (|a| + max|a|) for each variable, in a's units."""
    for name in names:
        x = np.asarray(a[name].data.magnitude)
        y = np.asarray(b[name].data.to(a[name].data.units).magnitude)
        np.testing.assert_array_less(
            np.abs(x - y), rtol * (np.abs(x) + np.abs(x).max()) + 1e-300, err_msg=name
        )


@pytest.mark.parametrize("model_id", LIBRARY)
def test_library_model_round_trip(model_id: str, tmp_path: Path) -> None:
    """TOML -> SBML -> TOML simulates as the original (default protocol included). The
    solver sees the same numbers; only the order of floating-point operations in the
    rewritten rate laws differs, hence the scale term of the tolerance."""
    original = dg.load_model(model_id)
    xml = dg.write_sbml(original, tmp_path / f"{model_id}.xml")
    assert main(["convert", str(xml), str(tmp_path / "back.toml")]) == 0
    back = dg.load_model(tmp_path / "back.toml")
    assert back.species_ids == original.species_ids
    assert [r.id for r in back.reactions] == [r.id for r in original.reactions]
    assert {o.id for o in back.observables} == {o.id for o in original.observables}
    # One atol for both: the default follows each species' initial value, and the export writes
    # a clamp at t = 0 into the initial value, so the two defaults would differ.
    a = dg.simulate(original, t="30 min", points=31, atol=1e-10)
    b = dg.simulate(back, t="30 min", points=31, atol=1e-10)
    _same(a, b, list(a.data_vars), rtol=1e-9)


@pytest.mark.requires_roadrunner
@pytest.mark.parametrize("model_id", LIBRARY)
def test_roadrunner_reproduces_our_trajectories(model_id: str, tmp_path: Path) -> None:
    """libRoadRunner (an independent SBML simulator) given our SBML matches our solution to
    1e-6 relative; values below 1e-9 of a variable's range, or 100 times the solvers'
    absolute tolerance, are solver noise."""
    import roadrunner

    model = dg.load_model(model_id)
    xml = dg.write_sbml(model, tmp_path / f"{model_id}.xml")
    times = np.linspace(0.0, 1799.0, 31)  # seconds; protocol steps fall on whole minutes
    ours = dg.simulate(model, t=registry().Quantity(times, "s"), rtol=1e-10, atol=1e-12)
    runner = roadrunner.RoadRunner(str(xml))
    runner.integrator.relative_tolerance = 1e-10
    runner.integrator.absolute_tolerance = 1e-12
    amounts = {s.id for s in model.species if quantity(s.initial).check("[substance]")}
    selections = [s if s in amounts else f"[{s}]" for s in model.species_ids]
    model_times = registry().Quantity(times, "s").to(model.units.time).magnitude
    theirs = runner.simulate(times=[float(t) for t in model_times], selections=selections)
    for k, name in enumerate(model.species_ids):  # SBML values are in the model's units
        x = np.asarray(ours[name].pint.magnitude)
        np.testing.assert_array_less(
            np.abs(x - theirs[:, k]), 1e-6 * np.abs(x) + 1e-9 * np.abs(x).max() + 1e-10, err_msg=name
        )


def test_late_clamp_cannot_be_written(tmp_path: Path) -> None:
    model = dg.load_model("ige_fceri_crosslinking")
    clamp = Step(UnitValue(5.0, "min"), "clamp", "L", UnitValue(1e5, "molecule"))
    model = model.replace(protocols=(Protocol("late", (clamp,)),), default_protocol="late")
    with pytest.raises(UnsupportedFeatureError, match="clamp"):
        dg.write_sbml(model, tmp_path / "clamp.xml")
    assert dg.write_sbml(model, tmp_path / "plain.xml", protocol="none").is_file()


# -- command line and library ------------------------------------------------------------------------


def test_convert_and_simulate_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", "ige_fceri_crosslinking", str(tmp_path / "ige.sbml")]) == 0
    assert main(["simulate", str(tmp_path / "ige.sbml"), "--t-end", "1min", "--points", "2"]) == 0
    assert capsys.readouterr().out.startswith("time [s],L [molecule]")
    # 01779's event changes a compartment's size, which a model cannot hold
    assert main(["convert", str(case("01779")), str(tmp_path / "out.toml")]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "event 'E0'" in error[0]
    assert main(["convert", "ige_fceri_crosslinking", str(tmp_path / "out.net")]) == 1
