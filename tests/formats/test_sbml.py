"""SBML import and export (degranulation.formats.sbml), the ``convert`` command and SBML files in
``load_model``.

References no one here wrote: the SBML Test Suite's case descriptions (units of each case,
``tests/data/sbml_test_suite``), closed-form solutions, and libRoadRunner
simulating our SBML.
"""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from data_files import DATA, unpacked
from sbml_models import event as sbml_event
from sbml_models import one_compartment

import degranulation as dg
from degranulation.cli import main
from degranulation.errors import ModelFileError, UnitWarning, UnsupportedFeatureError
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
    document, model = one_compartment("made_here")
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
        reactions=[("r", "A", "", "k * A * c * delay(A, 1)")],
        species={"A": 1.0},
        parameters={"k": 1.0, "p": 0.0, "q": 0.0},
    )
    model = document.getModel()
    constraint = model.createConstraint()
    constraint.setMath(libsbml.parseL3Formula("A >= 0"))
    rule = model.createAlgebraicRule()  # (rate rules for compartments and parameters import)
    rule.setMath(libsbml.parseL3Formula("p - 1"))
    model.getParameter("p").setConstant(False)
    event = sbml_event(model, "low_A", "A < 0.5", initial_value=True)
    assignment = event.createEventAssignment()
    assignment.setVariable("q")
    assignment.setMath(libsbml.parseL3Formula("1"))
    model.getParameter("q").setConstant(False)
    with pytest.raises(UnsupportedFeatureError) as info:
        dg.read_sbml(write(document, tmp_path / "bad.xml"))
    features = info.value.features
    # the event (a species level setting a parameter) imports since state events exist
    assert len(features) == 3, features
    for expected in ("1 constraint(s)", "algebraic rule", "'delay' in math"):
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
    # a clamp at t = 0 into the initial value, so the two defaults would differ. BDF: its steps
    # do not change with the rounding of reordered rate laws; LSODA's switch between its
    # methods can, which moves the result within the tolerance (4e-9 relative), not to 1e-9.
    a = dg.simulate(original, t="30 min", points=31, solver="BDF", atol=1e-10)
    b = dg.simulate(back, t="30 min", points=31, solver="BDF", atol=1e-10)
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


def test_compartment_dimensions_survive_a_round_trip(tmp_path: Path) -> None:
    """A membrane (an area), a fibre (a length) and a compartment without a size are written
    with spatialDimensions 2, 1 and 0 and read back as they were. Receptors on the membrane
    bind a ligand clamped at L0 = 10 nM: [LR] = R0 k L0 / (k L0 + k_off) (1 - exp(-(k L0 +
    k_off) t)), and F and P decay as exp(-k t) (closed forms of the linear ODEs), in the file
    read back too."""
    model = (
        dg.ModelBuilder("shapes", units={"time": "s", "concentration": "nM", "amount": "molecule"})
        .compartment("medium", "1 uL")
        .compartment("membrane", "1000 um**2")
        .compartment("fibre", "2 um")
        .compartment("point", "1 dimensionless")
        .species("L", "10 nM", compartment="medium", boundary=True)
        .species("R", "400 molecule/um**2", compartment="membrane")
        .species("LR", "0 molecule/um**2", compartment="membrane")
        .species("F", "10 molecule/um", compartment="fibre")
        .species("P", "5 molecule", compartment="point")
        .parameter("k_on", "1e6 1/(M*s)")
        .parameter("k_off", "0.01 1/s")
        .parameter("k", "0.01 1/s")
        .reaction("L + R <-> LR", "mass_action(k_on, k_off)", id="bind")
        .reaction("F -> 0", "mass_action(k)", id="f_decay")
        .reaction("P -> 0", "k * P", id="p_decay")
        .build()
    )
    path = dg.write_sbml(model, tmp_path / "shapes.xml")
    written = libsbml.readSBMLFromFile(str(path)).getModel()
    spatial = {c.getId(): c.getSpatialDimensions() for c in written.getListOfCompartments()}
    assert spatial == {"medium": 3, "membrane": 2, "fibre": 1, "point": 0}
    assert not written.getCompartment("point").isSetSize()
    back = dg.read_sbml(path)
    sizes = {c.id: quantity(c.size) for c in back.compartments}
    assert sizes["membrane"].to("um**2").magnitude == pytest.approx(1000.0, rel=1e-12)
    assert sizes["fibre"].to("um").magnitude == pytest.approx(2.0, rel=1e-12)
    assert sizes["point"].to("dimensionless").magnitude == 1.0
    t = np.linspace(0.0, 300.0, 7)
    rate = 1e6 * 10e-9 + 0.01
    for each in (model, back):
        ds = dg.simulate(each, t="300 s", points=7, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(
            ds["LR"].pint.to("molecule/um**2").pint.magnitude,
            400.0 * 1e6 * 10e-9 / rate * (1.0 - np.exp(-rate * t)),
            rtol=1e-7,
        )
        decay = np.exp(-0.01 * t)
        np.testing.assert_allclose(ds["F"].pint.to("molecule/um").pint.magnitude, 10 * decay, rtol=1e-7)
        np.testing.assert_allclose(ds["P"].pint.to("molecule").pint.magnitude, 5 * decay, rtol=1e-7)


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
    # 00951's parameters have the values inf, -inf and NaN, which a model cannot hold
    assert main(["convert", str(case("00951")), str(tmp_path / "out.toml")]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "parameter 'P' has the value inf" in error[0]
    assert main(["convert", "ige_fceri_crosslinking", str(tmp_path / "out.net")]) == 1


# -- units that disagree: SBML's numbers as written, one UnitWarning; strict_units refuses -------


def _unit_definition(
    model: libsbml.Model, uid: str, kind: int, exponent: int, multiplier: float = 1.0
) -> None:
    definition = model.createUnitDefinition()
    definition.setId(uid)
    unit = definition.createUnit()
    unit.setKind(kind)
    unit.setExponent(exponent)
    unit.setScale(0)
    unit.setMultiplier(multiplier)


def _missing_volume(tmp_path: Path) -> Path:
    """A = 1 mol (a concentration species) in c = 2 L decays by the law k*A with k declared in
    1/s: the law is a concentration per time where SBML needs substance per time (the classic
    missing compartment factor)."""
    document = sbml_document(reactions=[("r", "A", "", "k * A")], species={"A": 1.0}, parameters={"k": 1.0})
    model = document.getModel()
    model.getCompartment(0).setSize(2.0)
    _unit_definition(model, "per_second", libsbml.UNIT_KIND_SECOND, -1)
    model.getParameter("k").setUnits("per_second")
    return write(document, tmp_path / "missing_volume.xml")


def _one_unit_warning(caught: list[warnings.WarningMessage]) -> str:
    found = [str(w.message) for w in caught if issubclass(w.category, UnitWarning)]
    assert len(found) == 1, found
    assert "\n" not in found[0]
    return found[0]


def test_a_rate_law_whose_units_disagree_is_simulated_as_written(tmp_path: Path) -> None:
    """SBML takes k*A as the extent rate whatever its units (as libRoadRunner and COPASI do):
    dn_A/dt = -k[A], so [A] = 0.5 M · exp(-k t / 2 L) with k = 1 and V = 2 (closed form)."""
    path = _missing_volume(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = dg.load_model(path)
        ds = dg.simulate(model, t="4 s", points=5, rtol=1e-10, atol=1e-14)
    message = _one_unit_warning(caught)
    assert "reaction 'r': 'mol/(L*s)' vs 'mol/s'" in message and "strict_units=True" in message
    assert not model.units_enforced
    expected = 0.5 * np.exp(-np.linspace(0.0, 4.0, 5) / 2.0)
    np.testing.assert_allclose(ds["A"].pint.to("mol/L").pint.magnitude, expected, rtol=1e-7)


def test_strict_units_refuses_a_model_whose_units_disagree(tmp_path: Path) -> None:
    path = _missing_volume(tmp_path)
    for read in (dg.read_sbml, dg.load_model):
        with pytest.raises(UnsupportedFeatureError) as info:
            read(path, strict_units=True)
        assert list(info.value.features) == ["units that do not agree in reaction 'r'"]
    # SBML Test Suite 01564: 1*sin(0), 1*tan(0), 1*plus() are read as dimensionless rates
    with pytest.raises(UnsupportedFeatureError, match="reaction 'J32', reaction 'J34', reaction 'J51'"):
        import_sbml(case("01564"), strict_units=True)


def test_a_parameter_in_a_unit_of_another_size_is_taken_as_written(tmp_path: Path) -> None:
    """k = 0.5 declared in 1/min, law k*A*c in a model timed in seconds: the numbers disagree by
    a factor 60, and SBML uses 0.5 as written, per second: [A] = exp(-0.5 t) (closed form)."""
    document = sbml_document(
        reactions=[("r", "A", "", "k * A * c")], species={"A": 1.0}, parameters={"k": 0.5}
    )
    model = document.getModel()
    _unit_definition(model, "per_minute", libsbml.UNIT_KIND_SECOND, -1, multiplier=60.0)
    model.getParameter("k").setUnits("per_minute")
    path = write(document, tmp_path / "per_minute.xml")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        imported = import_sbml(path)
        ds = dg.simulate(imported.model, t="2 s", points=5, rtol=1e-10, atol=1e-14)
    message = _one_unit_warning(caught)
    assert "reaction 'r'" in message and "parameter 'k' is in '0.016666666666666666 1/s'" in message
    assert str(imported.model.get_parameter("k").value) == "0.5 1/s"
    expected = np.exp(-0.5 * np.linspace(0.0, 2.0, 5))
    np.testing.assert_allclose(ds["A"].pint.to("mol/L").pint.magnitude, expected, rtol=1e-7)


def test_a_compartment_declared_dimensionless_is_taken_in_litres(tmp_path: Path) -> None:
    """c declared 'dimensionless' (as in several PEtab benchmark models): its size is taken in
    the model's volume unit; law k*A*c, k = 1 inferred 1/s: [A] = exp(-t) (closed form)."""
    document = sbml_document(
        reactions=[("r", "A", "", "k * A * c")], species={"A": 1.0}, parameters={"k": 1.0}
    )
    document.getModel().getCompartment(0).setUnits("dimensionless")
    path = write(document, tmp_path / "dimensionless_volume.xml")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = dg.load_model(path)
        ds = dg.simulate(model, t="2 s", points=5, rtol=1e-10, atol=1e-14)
    message = _one_unit_warning(caught)
    assert (
        "compartment 'c' in 'dimensionless', which is not a volume unit: its numbers are taken in 'L'"
        in message
    )
    np.testing.assert_allclose(
        ds["A"].pint.to("mol/L").pint.magnitude, np.exp(-np.linspace(0.0, 2.0, 5)), rtol=1e-7
    )
    with pytest.raises(UnsupportedFeatureError, match="not a volume unit"):
        dg.read_sbml(path, strict_units=True)


def test_units_that_disagree_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One warning line and exit 0; with --strict-units one error line and exit 1."""
    path = str(_missing_volume(tmp_path))
    assert main(["simulate", path, "--t-end", "1s", "--points", "2"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("time [s],A [mol/L]")
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "warning:" in lines[0] and "reaction 'r': 'mol/(L*s)' vs 'mol/s'" in lines[0]
    assert main(["simulate", path, "--t-end", "1s", "--points", "2", "--strict-units"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "units that do not agree in reaction 'r'" in lines[0]


def test_a_model_whose_units_disagree_is_not_written_as_a_model_file(tmp_path: Path) -> None:
    """A model file enforces units, and as one the law k*A would gain the volume factor: [A]
    would decay as exp(-k t), not exp(-k t / 2). SBML keeps the numbers as written."""
    with pytest.warns(UnitWarning):
        model = dg.read_sbml(_missing_volume(tmp_path))
    with pytest.raises(dg.ModelError, match="units that disagree"):
        dg.write_model(model, tmp_path / "copy.toml")
    assert not (tmp_path / "copy.toml").exists()
    dg.write_sbml(model, tmp_path / "copy.xml")
    with pytest.warns(UnitWarning):
        again = dg.load_model(tmp_path / "copy.xml")
    ds = dg.simulate(again, t="4 s", points=5, rtol=1e-10, atol=1e-14)
    expected = 0.5 * np.exp(-np.linspace(0.0, 4.0, 5) / 2.0)
    np.testing.assert_allclose(ds["A"].pint.to("mol/L").pint.magnitude, expected, rtol=1e-7)


def test_a_model_timed_in_hours_whose_units_disagree_runs_in_hours(tmp_path: Path) -> None:
    """The model's time unit is 3600 s (a unit definition without a pint name, as in the PEtab
    benchmark models Weber_BMC2015 and Giordano_Nature2020): it is named 'h', so SBML's numbers
    stay as written: [A] = 0.5 · exp(-k t / 2) with t in hours (closed form)."""
    path = _missing_volume(tmp_path)
    document = libsbml.readSBMLFromFile(str(path))
    model = document.getModel()
    _unit_definition(model, "hour", libsbml.UNIT_KIND_SECOND, 1, multiplier=3600.0)
    _unit_definition(model, "per_hour", libsbml.UNIT_KIND_SECOND, -1, multiplier=3600.0)
    model.setTimeUnits("hour")
    model.getParameter("k").setUnits("per_hour")
    write(document, path)
    with pytest.warns(UnitWarning) as caught:
        model = dg.load_model(path)
    assert len(caught) == 1 and model.units.time == "h"
    ds = dg.simulate(model, t="4 h", points=5, rtol=1e-10, atol=1e-14)
    expected = 0.5 * np.exp(-np.linspace(0.0, 4.0, 5) / 2.0)
    np.testing.assert_allclose(ds["A"].pint.to("mol/L").pint.magnitude, expected, rtol=1e-7)
