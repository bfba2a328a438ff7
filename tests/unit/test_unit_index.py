"""Bare numbers select in a coordinate's own unit (issue 15: ``ds.sel(time=600)`` raised
DimensionalityError); strings and quantities select by value in any compatible unit."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import degranulation as dg
from degranulation.results import quantify
from degranulation.units import registry


@pytest.fixture(scope="module")
def result():
    return dg.simulate("ige_fceri_crosslinking", t="10 min", points=11)  # every 60 s


def test_bare_numbers_are_in_the_time_unit(result):
    last = result["RecDim"].isel(time=-1)
    assert str(result["time"].pint.units) == "second"
    for label in (600, 600.0, np.float64(600), "600", "10 min", registry().Quantity(10, "min")):
        picked = result["RecDim"].sel(time=label)
        assert picked.pint.units == last.pint.units
        assert float(picked.pint.magnitude) == float(last.pint.magnitude), label


def test_slices_lists_and_methods(result):
    np.testing.assert_array_equal(result.sel(time=slice(0, 120))["time"].pint.magnitude, [0, 60, 120])
    np.testing.assert_array_equal(result.sel(time=slice("1 min", "2 min"))["time"].pint.magnitude, [60, 120])
    np.testing.assert_array_equal(result.sel(time=[60, 180])["time"].pint.magnitude, [60, 180])
    assert float(result.sel(time=61, method="nearest")["time"].pint.magnitude) == 60
    labels = xr.DataArray([120.0, 240.0], dims="point")
    np.testing.assert_array_equal(result.sel(time=labels)["time"].pint.magnitude, [120, 240])
    assert result.isel(time=slice(0, 3)).sel(time=120)["RecDim"].size == 1  # kept through isel


def test_wrong_or_missing_labels_still_fail(result):
    with pytest.raises(Exception, match="Cannot convert indexers"):
        result.sel(time="10 nM")
    with pytest.raises(KeyError):
        result.sel(time=601)


def test_any_quantified_coordinate_reads_bare_numbers_in_its_unit():
    doses = quantify(
        xr.Dataset(
            {"RecDim": ("L", [1.0, 2.0, 3.0], {"units": "molecule"})},
            coords={"L": ("L", [1e4, 1e6, 1e8], {"units": "molecule"})},
        )
    )
    assert float(doses["RecDim"].sel(L=1e6).pint.magnitude) == 2.0
    assert float(doses["RecDim"].sel(L="1e8 molecule").pint.magnitude) == 3.0
