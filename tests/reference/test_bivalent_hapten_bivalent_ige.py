"""bivalent_hapten_bivalent_ige (biology.md M2) against closed forms no one here wrote.

- Homogeneous IgE, free hapten held fixed: the equilibrium fraction of sites in bridges is
  φ = κ x r², x = 2 K1 L, r the root of 1 = r + x r + κ x r² (biology.md §1.2-1.3, Dembo &
  Goldstein 1978): a bell curve symmetric in log x with its peak at x = 1 of height
  (√(1+κ) − 1)²/κ.
- Two IgE populations (Goldstein & Wofsy 1980): the equilibrium solves the two site balances
  with detailed balance, found here by root-finding; the bell becomes asymmetric.
- Excess monovalent hapten dissolves bridges at rate 2·k_off (Dembo et al. 1978): with every
  freed site captured at once, a bridge can only lose one of its two bonds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import fsolve

import degranulation as dg

K_ON, K_OFF_A, K_OFF_B, K_X = 8e6, 0.14, 1.4e-3, 4.333e-6  # the model file's values


@pytest.fixture(scope="module")
def model():
    return dg.load_model("bivalent_hapten_bivalent_ige")


def equilibrium_crosslinked(model, hapten_nM, sites_a, sites_b=0.0):
    """Simulated fraction of sites in bridges, free hapten clamped, at steady state.

    Run for 3e6 s (30 relaxation times): a hapten bridging two high-affinity sites leaves only
    when both bonds break before it re-bridges (effective off-rate ~ k_off_b²/(k_x·sites)
    ≈ 1e-5 1/s).
    """
    ds = dg.simulate(
        model,
        t="3e6 s",
        points=2,
        initial={"Fa": f"{sites_a} molecule", "Fb": f"{sites_b} molecule"},
        protocol=[{"at": "0 s", "clamp": {"L0": f"{hapten_nM} nM"}}],
        rtol=1e-9,
        atol=1e-4,  # molecules; amounts are ~1e5 per cell
    )
    return float(ds["crosslinked_sites"].pint.to("dimensionless").pint.magnitude[-1])


def phi_homogeneous(x, kappa):
    r = (-(1 + x) + math.sqrt((1 + x) ** 2 + 4 * kappa * x)) / (2 * kappa * x)
    return kappa * x * r * r


def test_homogeneous_bell_matches_closed_form_and_is_symmetric(model):
    sites = 2e5
    k1 = K_ON / K_OFF_A * 1e-9  # per nM
    kappa = K_X / K_OFF_A * sites
    xs = np.geomspace(1e-2, 1e2, 9)
    simulated = [equilibrium_crosslinked(model, x / (2 * k1), sites) for x in xs]
    expected = [phi_homogeneous(x, kappa) for x in xs]
    np.testing.assert_allclose(simulated, expected, rtol=1e-6)
    np.testing.assert_allclose(simulated, simulated[::-1], rtol=1e-6)  # φ(x) = φ(1/x)
    assert max(simulated) == simulated[4]  # peak at x = 1 ...
    near = [equilibrium_crosslinked(model, x / (2 * k1), sites) for x in (0.97, 1.03)]
    assert max(near) < simulated[4]  # ... to within 3 %
    assert simulated[4] == pytest.approx((math.sqrt(1 + kappa) - 1) ** 2 / kappa, rel=1e-6)


def phi_heterogeneous(hapten_nM, sites_a, sites_b):
    """Equilibrium with two IgE populations (detailed balance), by root-finding."""
    L = hapten_nM * 1e-9
    ka, kb = K_ON / K_OFF_A, K_ON / K_OFF_B

    def species(fa, fb):
        l1a, l1b = 2 * ka * L * fa, 2 * kb * L * fb
        l2aa = K_X / (2 * K_OFF_A) * l1a * fa
        l2ab = K_X / K_OFF_B * l1a * fb
        l2bb = K_X / (2 * K_OFF_B) * l1b * fb
        return l1a, l1b, l2aa, l2ab, l2bb

    def balance(free):
        fa, fb = np.exp(free)
        l1a, l1b, l2aa, l2ab, l2bb = species(fa, fb)
        return [
            math.log((fa + l1a + 2 * l2aa + l2ab) / sites_a),
            math.log((fb + l1b + 2 * l2bb + l2ab) / sites_b),
        ]

    fa, fb = np.exp(fsolve(balance, [math.log(sites_a / 2), math.log(sites_b / 2)], xtol=1e-13))
    _, _, l2aa, l2ab, l2bb = species(fa, fb)
    return 2 * (l2aa + l2ab + l2bb) / (sites_a + sites_b)


def test_heterogeneous_ige_matches_equilibrium_and_breaks_symmetry(model):
    # Goldstein & Wofsy 1980: half the sites bind 100-fold tighter; the crosslinking curve is
    # no longer symmetric about its peak.
    sites_a = sites_b = 1e5
    doses = np.geomspace(1e-3, 1e4, 15)  # nM
    simulated = np.array([equilibrium_crosslinked(model, d, sites_a, sites_b) for d in doses])
    expected = np.array([phi_heterogeneous(d, sites_a, sites_b) for d in doses])
    np.testing.assert_allclose(simulated, expected, rtol=1e-5)
    peak = int(np.argmax(simulated))
    assert 0 < peak < len(doses) - 1  # still bell-shaped
    # Asymmetry: equal steps (in log dose) either side of the peak give unequal responses.
    below, above = simulated[peak - 4], simulated[peak + 4]
    assert abs(below - above) / simulated[peak] > 0.1


def test_excess_monovalent_hapten_dissolves_bridges_at_twice_k_off(model):
    # Dembo et al. 1978 (qualitative); rate 2·k_off for the equivalent-site model when every
    # freed site is captured at once. A 1 mM chase keeps free sites near 3 per cell, so
    # re-bridging (k_x·free sites ≈ 1e-5 1/s) is negligible while bridges are many.
    times = np.concatenate([[0.0], np.linspace(300, 330, 61)])
    ds = dg.simulate(
        model,
        t=[f"{t} s" for t in times],
        protocol=[{"at": "300 s", "add": {"Hm": "1 mM"}}],
        rtol=1e-10,
        atol=1e-8,
    )
    bridges = ds["bridges"].pint.magnitude
    assert bridges[1] > 4e4  # near the crosslinking optimum when the chase starts
    window = (times >= 301) & (times <= 315)  # after the chase has occupied the free sites (ms)
    rate = -np.polyfit(times[window], np.log(bridges[window]), 1)[0]
    assert rate == pytest.approx(2 * K_OFF_A, rel=0.005)
    assert bridges[-1] < 1e-3 * bridges[1]
