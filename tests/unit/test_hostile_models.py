"""Hostile and broken model input (issue 16): one sign-and-size rule wherever a value enters,
limits that refuse hostile input cheaply with a located error, BOMs accepted, BioNetGen errors
located. SBML cases are in ``tests/formats/test_sbml_hostile.py``; model-file messages in the golden
corpus ``tests/errors``."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest

import degranulation as dg
from degranulation import limits
from degranulation.errors import ExpressionError, ModelFileError, ModelWarning, ResultWarning
from degranulation.expressions import parse_expression
from degranulation.formats.bngnet import read_bngnet
from degranulation.network import parse_equation

NET = "begin parameters\n 1 k 0.5\nend parameters\nbegin species\n 1 X() 5\n 2 Y() 0\nend species\n"


def binding(k_on: str = "1e6 1/(M*s)", k_off: str = "0.01 1/s", size: str = "1 uL") -> dg.ModelBuilder:
    return (
        dg.ModelBuilder("binding", units={"time": "s", "concentration": "nM"})
        .compartment("medium", size)
        .species("L", "1 nM", compartment="medium")
        .species("R", "4 nM", compartment="medium")
        .species("LR", "0 nM", compartment="medium")
        .parameter("k_on", k_on)
        .parameter("k_off", k_off)
        .reaction("L + R <-> LR", "mass_action(k_on, k_off)", id="bind")
    )


# -- one rule for signs and sizes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "location", "message"),
    [
        ({"k_off": "-0.01 1/s"}, "parameters.k_off.value", "rate constant 'k_off' = '-0.01 1/s' is negative"),
        ({"k_on": "nan 1/(M*s)"}, "parameters.k_on.value", "is not finite"),
        (
            {"size": "0 uL"},
            "compartments.medium.size",
            "size '0.0 uL' of compartment 'medium' must be positive",
        ),
        ({"size": "-1 uL"}, "compartments.medium.size", "must be positive"),
    ],
)
def test_builder_refuses_bad_signs_and_sizes(changes, location, message):
    with pytest.raises(dg.ModelValidationError) as raised:
        binding(**changes).build()
    (issue,) = raised.value.issues
    assert issue.location == location
    assert message in issue.message


@pytest.mark.parametrize(
    ("where", "name", "value", "message"),
    [
        ("params", "k_off", "-1 1/s", "rate constant 'k_off' = '-1.0 1/s' is negative"),
        ("params", "medium", "0 uL", "size '0.0 uL' of compartment 'medium' must be positive"),
        ("params", "medium", "-2 uL", "must be positive"),
        ("initial", "L", "-1 nM", "initial value '-1.0 nM' is negative"),
    ],
)
def test_overrides_follow_the_same_rule(where, name, value, message):
    model = binding().build()
    with pytest.raises(dg.ModelError, match=message) as raised:
        dg.simulate(model, t="1 s", **{where: {name: value}})
    assert raised.value.location == f"{where}.{name}"


def test_a_negative_parameter_that_is_not_a_rate_constant_is_a_warning():
    model = (
        binding()
        .parameter("shift", "-0.5 nM")
        .reaction("LR -> L + R", "k_off * medium * (LR + shift)", id="leak")
        .build(validate=False)
    )
    with pytest.warns(ModelWarning, match=r"warning\[V403\] parameters.shift.value: parameter 'shift'"):
        assert [i.code for i in dg.validate(model)] == ["V403"]
    with pytest.warns(ModelWarning, match=r"V403\] params.shift"):
        dg.simulate(model, t="1 s", params={"shift": "-1 nM"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)  # no V403 when positive
        with pytest.warns(ResultWarning, match="'LR'"):  # (the leak then drives LR below 0: flagged)
            dg.simulate(model, t="1 s", params={"shift": "1 nM"})


def test_wrong_rate_constant_unit_is_typeable_and_names_the_reaction():
    with pytest.raises(dg.ModelValidationError) as raised:
        binding(k_on="1 1/s").build()
    (issue,) = raised.value.issues
    assert issue.location == "reactions[0].rate"
    assert issue.message.startswith("reaction 'bind': forward rate constant 'k_on'")
    # L + R in nM: nM/s = k * nM**2, so k is per nM per second in the model's units.
    assert issue.hint == "give the constant in 1/(nM*s) (or that times a volume)"
    assert dg.validate(binding(k_on="1 1/(nM*s)").build()) == []  # the hint's unit is accepted


# -- limits ----------------------------------------------------------------------------------


def test_deep_parentheses_give_a_short_message():
    with pytest.raises(ExpressionError) as raised:
        parse_expression("(" * 3000 + "x" + ")" * 3000)
    assert str(raised.value).startswith(f"expression is nested more than {limits.MAX_DEPTH} levels deep")
    assert len(str(raised.value)) < 200
    with pytest.raises(ExpressionError, match="nested more than"):
        parse_expression("exp(" * (limits.MAX_DEPTH + 1) + "x" + ")" * (limits.MAX_DEPTH + 1))
    # A long sum is one level, as it is built as one: an observable over many species.
    assert len(parse_expression(" + ".join(f"x{i}" for i in range(2000))).expr.args) == 2000


def test_equation_coefficients_are_bounded():
    assert parse_equation("1000000 A -> B")[0] == (("A", 1000000),)
    with pytest.raises(ExpressionError, match="larger than 1e"):
        parse_equation("1000001 A -> B")
    with pytest.raises(ExpressionError, match="larger than 1e"):
        parse_equation("9" * 5000 + " A -> B")


def test_model_files_over_the_size_limit_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.toml"
    path.write_text('id = "x"\n' + "# padding\n" * 50, encoding="utf-8")
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 100)
    with pytest.raises(ModelFileError, match="the limit is 0 MiB") as raised:
        dg.load_model(path)
    assert raised.value.file == str(path)
    net = tmp_path / "big.net"
    net.write_text(NET + "# padding\n" * 20, encoding="utf-8")
    with pytest.raises(ModelFileError, match="BioNetGen network is"):
        read_bngnet(net)


# -- BOMs and encodings ----------------------------------------------------------------------


def test_toml_with_a_byte_order_mark_is_read(tmp_path):
    plain = Path(dg.list_models()[0].path).read_text(encoding="utf-8")
    path = tmp_path / "bom.toml"
    path.write_text(plain, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert dg.load_model(path) == dg.load_model(dg.list_models()[0].path).replace(source=str(path))


def test_net_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "bom.net"
    path.write_text(NET + "begin reactions\n 1 1 2 k\nend reactions\n", encoding="utf-8-sig")
    model = read_bngnet(path)
    assert model.reactions[0].equation == "S1 -> S2"


def test_a_file_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('id = "x"\ntitle = "Mastzelle größer"\n'.encode("latin-1"))
    with pytest.raises(ModelFileError, match="not UTF-8") as raised:
        dg.load_model(path)
    assert raised.value.location == "line 2"


# -- BioNetGen: located errors and bounded inlining ------------------------------------------


@pytest.mark.parametrize(
    ("text", "location", "message"),
    [
        (NET, "line 8", "no 'reactions' block"),
        (NET + "begin reactions\n 1 1 2 kx\nend reactions\n", "line 9", "unknown name 'kx'"),
        (NET.replace("0.5", "0.5\n 2 q q+1"), "line 3", "defined in terms of itself"),
    ],
)
def test_every_net_error_names_file_and_line(tmp_path, text, location, message):
    path = tmp_path / "bad.net"
    path.write_text(text + ("begin reactions\n 1 1 2 q\nend reactions\n" if "2 q q" in text else ""))
    with pytest.raises(ModelFileError) as raised:
        read_bngnet(path)
    assert raised.value.file == str(path)
    assert raised.value.location == location
    assert message in raised.value.message


def test_doubling_derived_parameters_are_refused_at_once(tmp_path):
    # p_i = p_{i-1} + p_{i-1}, 40 deep: inlined, the rate would be 2**40 terms long.
    lines = [" 1 p0 2", *(f" {i + 1} p{i} p{i - 1}+p{i - 1}" for i in range(1, 41))]
    text = NET.replace(" 1 k 0.5", "\n".join(lines)) + "begin reactions\n 1 1 2 p40\nend reactions\n"
    path = tmp_path / "doubling.net"
    path.write_text(text)
    start = time.perf_counter()
    with pytest.raises(ModelFileError, match="grows to more than 20000 characters") as raised:
        read_bngnet(path)
    assert time.perf_counter() - start < 10
    assert raised.value.location.startswith("line ")


def test_long_chains_of_definitions_are_refused_cleanly(tmp_path):
    lines = [" 1 p0 2", *(f" {i + 1} p{i} p{i - 1}+1" for i in range(1, 3001))]
    text = NET.replace(" 1 k 0.5", "\n".join(lines)) + "begin reactions\n 1 1 2 p3000\nend reactions\n"
    path = tmp_path / "chain.net"
    path.write_text(text)
    with pytest.raises(ModelFileError, match=f"definitions nest more than {limits.MAX_DEPTH} deep"):
        read_bngnet(path)
