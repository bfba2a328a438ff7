"""kinetic_proofreading_dimer (biology.md M4) against its closed-form steady state.

- McKeithan / Hlavacek et al. 2001: at steady state D_i = D_0·q^i (i < N), D_N = D_(N-1)·k_p/(2 k_off)
  and the fully modified fraction is D_N/ΣD = q^N with q = k_p/(k_p + 2 k_off), N = 5
  (biology.md §2.5).
- Total dimers at steady state do not depend on the modifications: they solve the binding
  equilibrium LR = 2 K1 L R, ΣD = k_on2/(2 k_off) LR R with receptor and ligand conservation,
  found here by root-finding.
- Torigoe, Inman & Metzger 1998: lowering k_off raises late signals (D5) much more than it
  raises the number of dimers.
"""

from __future__ import annotations

import pytest
from scipy.optimize import brentq

import degranulation as dg

N_A = 6.02214076e23
MEDIUM = 1e-9  # L per cell
R_T, L_T = 3e5, 6.02214076e23 * 1e-12 * MEDIUM  # receptors; 1 pM ligand in 1 nL, per cell
K_ON1 = 1e7 / (N_A * MEDIUM)  # per molecule per s
K_ON2 = 3.333e-6


@pytest.fixture(scope="module")
def model():
    return dg.load_model("kinetic_proofreading_dimer")


def steady_state(model, k_off, k_p):
    ds = dg.simulate(
        model,
        t="1e5 s",
        points=2,
        params={"k_off": f"{k_off} 1/s", "k_p": f"{k_p} 1/s"},
        protocol="none",
        rtol=1e-10,
        atol=1e-10,
    )
    return {name: float(ds[name].pint.magnitude[-1]) for name in [*(f"D{i}" for i in range(6)), "dimers"]}


@pytest.mark.parametrize(("k_off", "k_p"), [(0.1, 0.4), (0.05, 0.4), (0.5, 0.4), (0.1, 2.0)])
def test_steady_state_is_the_proofreading_closed_form(model, k_off, k_p):
    state = steady_state(model, k_off, k_p)
    q = k_p / (k_p + 2 * k_off)
    assert state["D5"] / state["dimers"] == pytest.approx(q**5, rel=1e-6)
    for i in range(1, 5):
        assert state[f"D{i}"] / state["D0"] == pytest.approx(q**i, rel=1e-6)
    assert state["D5"] / state["D4"] == pytest.approx(k_p / (2 * k_off), rel=1e-6)


def dimers_closed_form(k_off):
    """ΣD from the binding equilibrium with depletion of ligand and receptors."""
    k1, kx = K_ON1 / k_off, K_ON2 / (2 * k_off)

    def receptor_balance(r):
        free_ligand = L_T / (1 + 2 * k1 * r + 2 * k1 * kx * r * r)
        lr = 2 * k1 * free_ligand * r
        return r + lr + 2 * kx * lr * r - R_T

    r = brentq(receptor_balance, 0.0, R_T, xtol=1e-12, rtol=1e-14)
    free_ligand = L_T / (1 + 2 * k1 * r + 2 * k1 * kx * r * r)
    return kx * 2 * k1 * free_ligand * r * r


@pytest.mark.parametrize("k_off", [0.1, 0.05, 0.5])
def test_total_dimers_match_binding_equilibrium(model, k_off):
    assert steady_state(model, k_off, 0.4)["dimers"] == pytest.approx(dimers_closed_form(k_off), rel=1e-6)


def test_lower_off_rate_raises_late_signal_disproportionately(model):
    # Torigoe 1998 (qualitative): halving k_off from 0.1 to 0.05 1/s multiplies the fully
    # modified dimers by (q'/q)^5 = 1.2^5 = 2.49 on top of the change in dimer number.
    fast, slow = steady_state(model, 0.1, 0.4), steady_state(model, 0.05, 0.4)
    dimer_gain = slow["dimers"] / fast["dimers"]
    signal_gain = slow["D5"] / fast["D5"]
    assert signal_gain / dimer_gain == pytest.approx(1.2**5, rel=1e-6)
    assert signal_gain > 2 * dimer_gain


def test_benchmark_scale_about_twenty_signalling_dimers(model):
    # PyBNF benchmark notes: with the default parameters the fully modified dimer count is
    # "about 20" per cell at 600 s.
    ds = dg.simulate(model, t="600 s", points=2, protocol="none", rtol=1e-10, atol=1e-10)
    assert 15 < float(ds["signalling_dimers"].pint.magnitude[-1]) < 30
