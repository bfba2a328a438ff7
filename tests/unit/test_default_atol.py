"""Default absolute tolerance (issue 12): right for species of any magnitude.

Reference: the same model solved at rtol 1e-12 with a negligible atol. Was: one atol for every
species (1e-9 in model units for simulate; 1e-3·rtol·largest initial value for fits and PEtab),
so a species at 7e-6 beside one at 3.75e7 was resolved to 6e-5 (BDF) or 3e-4 (LSODA) relative.
"""

from __future__ import annotations

import numpy as np
import pytest

import degranulation as dg
from degranulation.errors import ResultWarning
from degranulation.simulation import default_atol


@pytest.fixture(scope="module")
def scales():
    # Big (3.75e7 nM) slowly feeds Small (7e-6 nM, steady state 7.5e-6 nM) and decays.
    return (
        dg.ModelBuilder("scales", units={"time": "s", "concentration": "nM"})
        .compartment("well", "1 uL")
        .species("Big", "3.75e7 nM", compartment="well")
        .species("Small", "7e-6 nM", compartment="well")
        .parameter("k1", "1e-13 1/s")
        .parameter("k2", "0.5 1/s")
        .parameter("k3", "0.01 1/s")
        .reaction("Big -> Big + Small", "mass_action(k1)")
        .reaction("Small ->", "mass_action(k2)")
        .reaction("Big ->", "mass_action(k3)")
        .build()
    )


@pytest.mark.parametrize("solver", ["BDF", "LSODA", "Radau"])
def test_default_tolerance_resolves_a_tiny_species_beside_a_huge_one(scales, solver):
    reference = dg.simulate(scales, t="200 s", points=41, rtol=1e-12, atol=1e-24)
    ours = dg.simulate(scales, t="200 s", points=41, solver=solver)  # rtol 1e-6, default atol
    for name in ("Big", "Small"):
        np.testing.assert_allclose(ours[name].values, reference[name].values, rtol=10 * 1e-6)


def test_default_atol_follows_each_species_scale_and_explicit_atol_wins(scales):
    assert default_atol(np.array([[3.75e7, 7e-6, 0.0], [1e7, 1e-5, 0.0]]), 1e-6) == pytest.approx(
        (3.75e-2, 1e-14, 7e-15)
    )
    assert default_atol(np.zeros(3), 1e-6) is None
    with pytest.warns(ResultWarning, match="'Small'"):  # an explicit atol too loose for it is flagged
        ds = dg.simulate(scales, t="1 s", points=2, atol=1e-3)
    assert '"atol": 0.001' in ds.attrs["solver"]
