"""Hill fits (degranulation.hill) of curves with known parameters: the generating EC50, Hill
coefficient and plateaus recovered, the interval's coverage, and bad curves refused."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import degranulation as dg
from degranulation.errors import FitError, UnitError


def logistic_curve(ec50, n, bottom, top, *, decreasing=False):
    x = np.geomspace(ec50 / 1000, ec50 * 1000, 25)
    ratio = (x / ec50) ** n
    y = bottom + (top - bottom) * (1 / (1 + ratio) if decreasing else ratio / (1 + ratio))
    coords = {"Ag": ("Ag", x, {"units": "nM"})}
    return xr.DataArray(y, dims="Ag", coords=coords, attrs={"units": "percent"}, name="release")


@pytest.mark.parametrize("decreasing", [False, True])
def test_hill_fit_recovers_known_parameters(decreasing):
    fit = dg.hill_fit(logistic_curve(3.0, 2.2, 5.0, 80.0, decreasing=decreasing))
    assert fit.shape == ("decreasing" if decreasing else "increasing")
    assert fit.ec50.to("nM").magnitude == pytest.approx(3.0, rel=1e-6)
    assert fit.n == pytest.approx(2.2, rel=1e-6)
    assert fit.bottom.to("percent").magnitude == pytest.approx(5.0, abs=1e-5)
    assert fit.top.to("percent").magnitude == pytest.approx(80.0, abs=1e-5)
    low, high = (q.to("nM").magnitude for q in fit.ec50_ci)
    assert low == pytest.approx(3.0, rel=1e-6) and high == pytest.approx(3.0, rel=1e-6)  # no noise
    assert fit.peak is None
    assert fit.to_dict()["ec50"]["unit"] == "nM"


def test_hill_fit_confidence_interval_has_its_coverage():
    # With Gaussian noise the 95 % interval must contain the true EC50 in about 95 % of
    # repeated experiments (fixed seed: 100 experiments, binomial sd 2.2 %).
    curve = logistic_curve(3.0, 1.0, 0.0, 100.0)
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(100):
        noisy = (curve + rng.normal(0, 2.0, curve.size)).assign_attrs(units="percent")
        low, high = (q.to("nM").magnitude for q in dg.hill_fit(noisy).ec50_ci)
        hits += low <= 3.0 <= high
    assert 88 <= hits < 100


def test_hill_fit_errors():
    flat = logistic_curve(1.0, 1.0, 5.0, 5.0)
    with pytest.raises(FitError, match="flat"):
        dg.hill_fit(flat)
    with pytest.raises(FitError, match="4"):
        dg.hill_fit(logistic_curve(1.0, 1.0, 0.0, 1.0)[:3])
    with pytest.raises(UnitError, match="no unit"):
        dg.hill_fit(logistic_curve(1.0, 1.0, 0.0, 1.0).assign_attrs(units=None).drop_attrs())
