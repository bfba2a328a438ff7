"""Model files: reading, writing back exactly, the builder making the same model."""

from __future__ import annotations

import pytest

import degranulation as dg
from degranulation.errors import ModelFileError, ModelValidationError
from degranulation.formats.toml import dumps_model, loads_model
from degranulation.network import UnitValue

MINIMAL = """
format = "degranulation-model/1"
id = "binding"
default_protocol = "pulse"
[units]
time = "s"
concentration = "nM"
amount = "molecule"
[compartments]
medium = { size = "1 uL", label = "well" }
[species]
L = { initial = "1 nM", compartment = "medium" }
R = { initial = "4 nM", compartment = "medium", boundary = false }
LR = "0 nM"
[parameters]
k_on = { value = "1e6 1/(M*s)", status = "measured", source = "made up", estimate = { bounds = ["1e4 1/(M*s)", "1e8 1/(M*s)"] } }
k_off = "0.01 1/s"
[[reactions]]
id = "bind"
equation = "L + R <-> LR"
rate = "mass_action(k_on, k_off)"
[observables]
bound = { expr = "LR", unit = "nM" }
[protocols.pulse]
steps = [{ at = "1 min", set = { L = "0 nM" }, add = { R = "1 nM" } }, { at = "2 min", release = ["L"] }]
"""


def test_reads_every_section():
    model = loads_model(MINIMAL)
    assert model.get_species("R").initial == UnitValue(4.0, "nM")
    assert model.get_species("LR").compartment is None
    assert model.get_parameter("k_on").estimate.bounds[1] == UnitValue(1e8, "1/(M*s)")
    assert model.get_parameter("k_on").estimate.scale == "log10"
    assert model.reactions[0].reactants == (("L", 1), ("R", 1))
    assert [(s.action, s.target) for s in model.get_protocol("pulse").steps] == [
        ("set", "L"),
        ("add", "R"),
        ("release", "L"),
    ]


def test_write_then_read_is_exact(tmp_path):
    model = loads_model(MINIMAL)
    again = loads_model(dumps_model(model))
    assert again == model
    assert again.content_hash == model.content_hash
    bundled = dg.load_model("ige_fceri_crosslinking")
    path = dg.write_model(bundled, tmp_path / "copy.toml")
    assert dg.load_model(path) == bundled


def test_content_hash_ignores_source_but_not_values():
    model = loads_model(MINIMAL)
    assert loads_model(MINIMAL, file="elsewhere.toml").content_hash == model.content_hash
    changed = model.replace(title="other")
    assert changed.content_hash != model.content_hash


def test_builder_makes_the_same_model_as_the_file():
    built = (
        dg.ModelBuilder("binding", units={"time": "s", "concentration": "nM", "amount": "molecule"})
        .compartment("medium", "1 uL", label="well")
        .species("L", "1 nM", compartment="medium")
        .species("R", "4 nM", compartment="medium")
        .species("LR", "0 nM")
        .parameter(
            "k_on",
            "1e6 1/(M*s)",
            status="measured",
            source="made up",
            estimate={"bounds": ["1e4 1/(M*s)", "1e8 1/(M*s)"]},
        )
        .parameter("k_off", "0.01 1/s")
        .reaction("L + R <-> LR", "mass_action(k_on, k_off)", id="bind")
        .observable("bound", "LR", "nM")
        .build(validate=False)
    )
    from_file = loads_model(MINIMAL).replace(protocols=(), default_protocol="")
    assert built == from_file


def test_builder_accepts_pint_quantities():
    ureg = pytest.importorskip("degranulation.units").registry()
    model = (
        dg.ModelBuilder("decay")
        .compartment("cell", ureg.Quantity(1.0, "pL"))
        .species("A", ureg.Quantity(5.0, "nM"), compartment="cell")
        .parameter("k", ureg.Quantity(2.0, "1/min"))
        .reaction("A -> 0", "mass_action(k)")
        .build()
    )
    assert dg.simulate(model, t="1 min", points=2)["A"].pint.magnitude[-1] == pytest.approx(
        5.0 * 2.718281828459045**-2, rel=1e-4
    )


def test_toml_syntax_error_is_located():
    with pytest.raises(ModelFileError) as caught:
        loads_model('id = "x"\n[species\n', file="bad.toml")
    assert caught.value.location == "line 2"
    assert caught.value.file == "bad.toml"


def test_structure_errors_are_collected():
    with pytest.raises(ModelValidationError) as caught:
        loads_model("id = 3\nspecis = 1\n[parameters]\nk = 1\n")
    codes = sorted(issue.code for issue in caught.value.issues)
    assert codes == ["F002", "F003", "F005"]
