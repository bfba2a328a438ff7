"""The stiff Robertson problem (Robertson 1966; reference values from Hairer & Wanner,
Solving ODEs II, §IV.1): y1(40) = 0.7158, y2(40) = 9.185e-6, y3(40) = 0.2842."""

from __future__ import annotations

import numpy as np
import pytest

import degranulation as dg


@pytest.fixture(scope="module")
def robertson():
    return (
        dg.ModelBuilder("robertson", units={"time": "s", "concentration": "M", "amount": "mol"})
        .compartment("flask", "1 L")
        .species("A", "1 M", compartment="flask")
        .species("B", "0 M", compartment="flask")
        .species("C", "0 M", compartment="flask")
        .parameter("k1", "0.04 1/s")
        .parameter("k2", "3e7 1/(M*s)")
        .parameter("k3", "1e4 1/(M*s)")
        .reaction("A -> B", "mass_action(k1)")
        .reaction("2 B -> B + C", "mass_action(k2)")
        .reaction("B + C -> A + C", "mass_action(k3)")
        .build()
    )


@pytest.mark.parametrize("solver", ["BDF", "Radau", "LSODA"])
def test_robertson_at_t40(robertson, solver):
    ds = dg.simulate(robertson, t=["0 s", "40 s"], solver=solver, rtol=1e-8, atol=1e-12)
    final = [float(ds[name].pint.to("M").pint.magnitude[-1]) for name in "ABC"]
    np.testing.assert_allclose(final, [0.7158, 9.185e-6, 0.2842], rtol=2e-4)
    # A + B + C = 1 M is the problem's conservation law.
    assert sum(final) == pytest.approx(1.0, rel=1e-8)
