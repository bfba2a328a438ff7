"""Results at the default tolerances are as accurate as the tolerances say (issue 13).

A solver bounds each step's error; a result carries the error of every step before it. So each
solver integrates at its own ``tighten`` factor below the requested tolerances, and the result
is judged at the requested ones: ``|x − exact| ≤ 10·(rtol·|exact| + atol)`` (issue 13's bound),
as benchmarks/test_accuracy.py checks on every bundled model and reference network.

Reference: the closed form of consecutive first-order reactions A → B → C with B(0) = C(0) = 0,
B(t) = A0·k1/(k2 − k1)·(exp(−k1 t) − exp(−k2 t)), C = A0 − A − B (Bateman, 1910). Without the
factor, BDF misses it by 13–15 times (measured for each rate pair below), so the check can fail.
"""

from __future__ import annotations

import numpy as np
import pytest

import degranulation as dg

RTOL = 1e-6  # dg.simulate's default
BOUND = 10.0


def chain(k1: float, k2: float) -> dg.Model:
    return (
        dg.ModelBuilder("chain", units={"time": "s", "concentration": "uM", "amount": "nmol"})
        .compartment("well", "100 uL")
        .species("A", "1 uM", compartment="well")
        .species("B", "0 uM", compartment="well")
        .species("C", "0 uM", compartment="well")
        .parameter("k1", f"{k1} 1/s")
        .parameter("k2", f"{k2} 1/s")
        .reaction("A -> B", "mass_action(k1)")
        .reaction("B -> C", "mass_action(k2)")
        .build()
    )


def exact(k1: float, k2: float, t: np.ndarray) -> np.ndarray:
    a = np.exp(-k1 * t)
    b = k1 / (k2 - k1) * (np.exp(-k1 * t) - np.exp(-k2 * t))
    return np.array([a, b, 1.0 - a - b])


def tolerance_ratio(ds, reference: np.ndarray) -> float:
    # The default atol: 1e-3·rtol of each species' scale, 1 uM for all three here.
    values = np.array([ds[s].pint.magnitude for s in "ABC"])
    return float(np.max(np.abs(values - reference) / (RTOL * np.abs(reference) + 1e-3 * RTOL)))


@pytest.mark.parametrize("k1, k2, end", [(1.0, 0.01, 1000.0), (1.0, 1e-4, 1e5)])
@pytest.mark.parametrize("solver", ["BDF", "LSODA", "Radau"])
def test_default_tolerances_hold_against_the_closed_form(
    solver: str, k1: float, k2: float, end: float
) -> None:
    t = np.linspace(0.0, end, 101)
    ds = dg.simulate(chain(k1, k2), t=[f"{x} s" for x in t], solver=solver)
    assert tolerance_ratio(ds, exact(k1, k2, t)) <= BOUND


def test_without_tightening_bdf_misses_the_bound() -> None:
    """The factor is what meets the bound: BDF(tighten=1) at the same tolerances does not."""
    t = np.linspace(0.0, 1000.0, 101)
    loose = dg.simulate(chain(1.0, 0.01), t=[f"{x} s" for x in t], solver=dg.BDF(tighten=1.0, atol=1e-9))
    assert tolerance_ratio(loose, exact(1.0, 0.01, t)) > BOUND
    assert dg.BDF().tighten == 100 and dg.LSODA().tighten == 30 and dg.Radau().tighten == 1
