"""A steady-state dose response from ``dg.dose_response`` against the closed-form equilibrium of
bivalent ligand / monovalent receptor crosslinking (biology.md §1.2, Dembo & Goldstein 1978):
with x = 2·K1·L_free and κ = Kx·R_T the crosslinked fraction is φ(x) = κ·x·r² with
r = [−(1+x) + √((1+x)² + 4κx)]/(2κx); its peak is at x = 1 with height (√(1+κ) − 1)²/κ.

The closed form is stated in *free* ligand. The sweep varies the total ligand L (the species'
initial amount) and reads the free ligand at steady state (``L_readout``), so depletion of
ligand by receptors (R_T = 4e5 per cell, comparable to the doses near the peak) is accounted
for exactly rather than assumed negligible.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import degranulation as dg

KP1, KP2 = 1.32845238e-10, 2.5e-4  # ige_fceri_crosslinking, per molecule per s (per ligand site)
KM1, KM2 = 1e-3, 1.0  # off-rates set for this test, 1/s (the published model has none)
R_TOTAL = 4e5  # receptors per cell in the model


def phi(x: np.ndarray, kappa: float) -> np.ndarray:
    r = (-(1 + x) + np.sqrt((1 + x) ** 2 + 4 * kappa * x)) / (2 * kappa * x)
    return kappa * x * r**2


@pytest.fixture(scope="module")
def response():
    # Total ligand over five decades around the peak (L_free = 1/(2 K1) = 3.76e6 per cell);
    # 1e7 s is long enough for the slowest mode (ligand release from dimers, ~2e-5 /s) at
    # the lowest dose: every point must pass the sweep's own steady-state check.
    return dg.dose_response(
        "ige_fceri_crosslinking",
        vary="L",
        doses=dg.geomspace("1e4 molecule", "1e9 molecule", 41),
        observe=["crosslinked", "L"],
        at="steady",
        t="1e7 s",
        params={"km1": f"{KM1} 1/s", "km2": f"{KM2} 1/s"},
        rtol=1e-10,
        atol=1e-6,
    )


def test_every_point_reaches_steady_state(response):
    assert response["status"].values.tolist() == ["ok"] * 41
    assert response.attrs["readout"] == "steady state"


def test_whole_curve_matches_closed_form(response):
    k1, kappa = KP1 / KM1, KP2 / KM2 * R_TOTAL
    x = 2 * k1 * response["L_readout"].pint.to("molecule").values
    simulated = response["crosslinked"].pint.to("dimensionless").values
    assert np.max(np.abs(simulated - phi(x, kappa))) < 1e-8


def test_hill_fit_finds_the_closed_form_peak(response):
    k1, kappa = KP1 / KM1, KP2 / KM2 * R_TOTAL
    fit = dg.hill_fit(response["crosslinked"].pint.to("dimensionless"), dose=response["L_readout"])
    assert fit.shape == "bell"
    # Peak at 2·K1·L_free = 1, height (√(1+κ)−1)²/κ (= 0.819 for κ = 100), both within 1e-4.
    assert 2 * k1 * fit.peak_dose.to("molecule").magnitude == pytest.approx(1.0, abs=1e-4)
    phi_max = (math.sqrt(1 + kappa) - 1) ** 2 / kappa
    assert fit.peak.to("dimensionless").magnitude == pytest.approx(phi_max, abs=1e-4)
    # Half-maximal doses: where φ is halfway between the curve's minimum and its peak; φ is
    # symmetric in log x, so they sit symmetrically about x = 1.
    low, high = (2 * k1 * q.to("molecule").magnitude for q in fit.half_max_doses)
    level = (response["crosslinked"].pint.to("dimensionless").values.min() + fit.peak.magnitude) / 2
    assert phi(np.array([low, high]), kappa) == pytest.approx([level, level], abs=1e-4)
    assert math.log10(low) == pytest.approx(-math.log10(high), abs=1e-3)


@pytest.mark.requires_sundials
def test_stacked_cvode_matches_the_closed_form_too():
    response = dg.dose_response(
        "ige_fceri_crosslinking",
        vary="L",
        doses=dg.geomspace("1e4 molecule", "1e9 molecule", 11),
        observe=["crosslinked", "L"],
        at="steady",
        t="1e7 s",
        params={"km1": f"{KM1} 1/s", "km2": f"{KM2} 1/s"},
        solver="CVODE",
        rtol=1e-10,
        atol=1e-6,
    )
    assert response["status"].values.tolist() == ["ok"] * 11
    k1, kappa = KP1 / KM1, KP2 / KM2 * R_TOTAL
    x = 2 * k1 * response["L_readout"].pint.to("molecule").values
    simulated = response["crosslinked"].pint.to("dimensionless").values
    assert np.max(np.abs(simulated - phi(x, kappa))) < 1e-8
