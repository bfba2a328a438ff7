"""Unit parsing, the model unit system and hints for case slips."""

from __future__ import annotations

import math

import pytest

from degranulation.errors import UnitError
from degranulation.units import UnitSystem, case_hint, dimensionality, parse_unit, split_quantity, to_quantity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1e6 1/(M*s)", (1e6, "1/(M*s)")),
        ("2e6/M/s", (2e6, "1/M/s")),
        ("10ng/mL", (10.0, "ng/mL")),
        ("30min", (30.0, "min")),
        (" 4e5 molecule ", (4e5, "molecule")),
        ("-1.5e-3 nM", (-1.5e-3, "nM")),
    ],
)
def test_split_quantity(text, expected):
    assert split_quantity(text) == expected


def test_non_finite_numbers_parse_so_validation_can_report_them():
    assert math.isnan(split_quantity("nan nM")[0])
    assert split_quantity("inf s")[0] == math.inf


def test_no_number_is_an_error_with_a_hint():
    with pytest.raises(UnitError, match="not a number with a unit") as caught:
        split_quantity("nM")
    assert "1 nM" in caught.value.hint


def test_unknown_unit_suggests_a_close_one():
    with pytest.raises(UnitError, match="unknown unit") as caught:
        parse_unit("molecul")
    assert caught.value.hint == "did you mean 'molecule'?"


@pytest.mark.parametrize("text", ["__import__('os')", "m**1000000", "nM; rm -rf", "a" * 300])
def test_unit_text_is_not_code(text):
    with pytest.raises(UnitError):
        parse_unit(text)


def test_bare_numbers_have_no_unit():
    with pytest.raises(UnitError, match="has no unit") as caught:
        to_quantity(5.0)
    assert "dimensionless" in caught.value.hint


def test_case_hint_for_nanometre():
    assert case_hint("nm", dimensionality("nM")) == "nanomolar is 'nM'"
    assert case_hint("s", dimensionality("nM")) is None


def test_unit_system_is_coherent():
    system = UnitSystem(time="min", concentration="nM", amount="molecule")
    assert system.magnitude(1.0, "1/s") == pytest.approx(60.0)
    assert system.magnitude(1.0, "uM") == pytest.approx(1000.0)
    # volume = molecule/nM: 1 L holds 6.022e14 molecule per nM
    assert system.magnitude(1.0, "L") == pytest.approx(6.02214076e14)
    # a second-order constant: 1/(M*s) → per nM per min
    assert system.magnitude(1.0, "1/(M*s)") == pytest.approx(60e-9)
    assert system.unit_text(dimensionality("nM")) == "nM"


def test_unit_system_checks_its_units():
    with pytest.raises(UnitError, match="expected a concentration unit") as caught:
        UnitSystem(concentration="nm").check()
    assert caught.value.hint == "nanomolar is 'nM'"
    UnitSystem(time="h", concentration="mM", amount="umol").check()


def test_results_build_no_second_registry_and_leave_pint_xarray_set_up():
    """pint-xarray's import would build pint's application registry (issue 13: half a second
    of a short run); results use ours, and the application registry stays unbuilt until used,
    then set up as pint-xarray sets it up (force_ndarray_like), so quantify() without a
    registry works as it would without us."""
    import subprocess
    import sys

    script = """
import degranulation as dg, pint, xarray as xr
from pint.registry import LazyRegistry
ds = dg.simulate("ige_fceri_crosslinking", t="1 min", points=3)
print(isinstance(pint.get_application_registry().get(), LazyRegistry), str(ds["L"].pint.units))
plain = xr.Dataset({"a": ("x", [1.0, 2.0], {"units": "m"})}).pint.quantify()
print(str(plain["a"].pint.units), pint.get_application_registry().force_ndarray_like)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "molecule", "meter", "True"]
