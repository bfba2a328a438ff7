"""Compartments whose size is a volume, an area or a length, or that have no size (issue 12):
species are concentrations per their compartment's size, checked like volumes always were.
SBML's own cases of 0, 1 and 2 spatial dimensions run in ``tests/reference/test_sbml_suite.py``."""

from __future__ import annotations

import numpy as np
import pytest

import degranulation as dg
from degranulation.formats.toml import loads_model

K_ON, K_OFF, L0, R0 = 1e6, 0.01, 10.0, 400.0  # 1/(M*s), 1/s, nM, molecule/um**2


def membrane(
    receptor: str = f"{R0} molecule/um**2", area: str = "1000 um**2", bound: str = "0 molecule/um**2"
) -> dg.ModelBuilder:
    """A ligand clamped at L0 in the medium binds receptors on a membrane of that area."""
    return (
        dg.ModelBuilder("membrane", units={"time": "s", "concentration": "nM", "amount": "molecule"})
        .compartment("medium", "1 uL")
        .compartment("surface", area)
        .species("L", f"{L0} nM", compartment="medium", boundary=True)
        .species("R", receptor, compartment="surface")
        .species("LR", bound, compartment="surface")
        .parameter("k_on", f"{K_ON} 1/(M*s)")
        .parameter("k_off", f"{K_OFF} 1/s")
        .reaction("L + R <-> LR", "mass_action(k_on, k_off)", id="bind")
    )


def test_binding_on_a_surface_matches_the_closed_form() -> None:
    """With L clamped, d[LR]/dt = k_on L0 [R] - k_off [LR] per area, [R] + [LR] = R0:
    [LR](t) = R0 k_on L0 / (k_on L0 + k_off) (1 - exp(-(k_on L0 + k_off) t)) (closed form of the
    linear ODE); the membrane's area cancels, so a ten-fold area gives the same densities."""
    t = np.linspace(0.0, 300.0, 7)
    rate = K_ON * L0 * 1e-9 + K_OFF
    expected = R0 * K_ON * L0 * 1e-9 / rate * (1.0 - np.exp(-rate * t))
    for area in ("1000 um**2", "1e4 um**2"):
        ds = dg.simulate(membrane(area=area).build(), t="300 s", points=7, rtol=1e-10, atol=1e-12)
        bound = ds["LR"].pint.to("molecule/um**2").pint.magnitude
        np.testing.assert_allclose(bound, expected, rtol=1e-7, atol=1e-9)
        total = (ds["R"] + ds["LR"]).pint.to("molecule/um**2").pint.magnitude
        np.testing.assert_allclose(total, R0, rtol=1e-9)  # conservation of receptors


def test_a_model_file_takes_areas_lengths_and_sizeless_compartments() -> None:
    """A line of 2 um holding 10 molecule/um decays at 0.1/s: 20 exp(-0.1 t) molecules;
    a compartment without a size holds amounts (closed form of first-order decay)."""
    model = loads_model(
        """
id = "shapes"
[compartments]
fibre = "2 um"
point = "1 dimensionless"
[species]
A = { initial = "10 molecule/um", compartment = "fibre" }
B = { initial = "5 molecule", compartment = "point" }
[parameters]
k = "0.1 1/s"
[[reactions]]
equation = "A -> 0"
rate = "mass_action(k)"
[[reactions]]
equation = "B -> 0"
rate = "k * B"
"""
    )
    dg.validate(model)
    ds = dg.simulate(model, t="10 s", points=3, rtol=1e-10, atol=1e-12)
    t = np.array([0.0, 5.0, 10.0])
    np.testing.assert_allclose(
        ds["A"].pint.to("molecule/um").pint.magnitude, 10 * np.exp(-0.1 * t), rtol=1e-7
    )
    np.testing.assert_allclose(ds["B"].pint.to("molecule").pint.magnitude, 5 * np.exp(-0.1 * t), rtol=1e-7)


@pytest.mark.parametrize(
    ("receptor", "message", "hint"),
    [
        # a volume concentration on a surface: named, with both ways out
        ("400 nM", "a concentration per [length] ** 3", "give it per area (e.g. in 'molecule/um**2')"),
        ("400 molecule/um", "a concentration per [length]", "compartment 'surface'"),
        # the typo '1 nm' for '1 nM' is a length, neither amount nor concentration
        ("1 nm", "expected a concentration per its compartment's size", None),
    ],
)
def test_a_concentration_that_does_not_fit_its_compartment_is_refused(
    receptor: str, message: str, hint: str | None
) -> None:
    with pytest.raises(dg.ModelValidationError) as raised:
        membrane(receptor=receptor).build()
    (issue,) = raised.value.issues
    assert issue.code == "U102" and issue.location == "species.R.initial"
    assert message in issue.message and "[substance] / [length] ** 2" in issue.message
    assert hint is None or hint in (issue.hint or "")


def test_the_nm_typo_in_a_volume_still_gets_its_hint() -> None:
    with pytest.raises(dg.ModelValidationError) as raised:
        membrane().species("L", "1 nm", compartment="medium").build()
    (issue,) = raised.value.issues
    assert issue.code == "U102" and issue.location == "species.L.initial"
    assert issue.hint == "nanomolar is 'nM'"


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ("1 nM", "expected a volume ([length] ** 3), an area ([length] ** 2) or a length ([length])"),
        ("2 dimensionless", "a compartment without a size (0 spatial dimensions)"),
    ],
)
def test_a_size_that_is_no_size_is_refused(size: str, message: str) -> None:
    with pytest.raises(dg.ModelValidationError) as raised:
        membrane(area=size, receptor="400 molecule", bound="0 molecule").build()
    (issue,) = raised.value.issues
    assert issue.code == "U105" and issue.location == "compartments.surface.size"
    assert message in issue.message


def test_an_amount_in_a_sizeless_compartment_is_refused_as_a_concentration() -> None:
    with pytest.raises(dg.ModelValidationError) as raised:
        membrane(area="1 dimensionless", receptor="1 nM", bound="0 molecule").build()
    (issue,) = raised.value.issues
    assert issue.code == "U102"
    assert "compartment 'surface' has no size (0 spatial dimensions)" in issue.message
