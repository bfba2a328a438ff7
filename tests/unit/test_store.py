"""Results on disk keep their units and provenance."""

from __future__ import annotations

import json

import numpy as np
import pytest

import degranulation as dg
from degranulation.errors import DataError


@pytest.fixture(scope="module")
def result():
    return dg.simulate("ige_fceri_crosslinking", t="2 min", points=5)


def test_netcdf_round_trip_keeps_units_and_attrs(result, tmp_path):
    path = dg.save(result, tmp_path / "run.nc")
    loaded = dg.load(path)
    for name in result.data_vars:
        assert loaded[name].pint.units == result[name].pint.units
        np.testing.assert_array_equal(loaded[name].pint.magnitude, result[name].pint.magnitude)
    assert loaded["time"].pint.units == result["time"].pint.units
    assert loaded.attrs["model_hash"] == result.attrs["model_hash"]
    assert loaded.attrs["model_toml"] == result.attrs["model_toml"]
    assert list(tmp_path.iterdir()) == [path]  # the temporary file was moved into place


def test_csv_has_units_in_headers(result, tmp_path):
    text = dg.save(result, tmp_path / "run.csv").read_text()
    header, first, *_ = text.splitlines()
    assert header.split(",")[:3] == ["time [s]", "L [molecule]", "R [molecule]"]
    assert header.endswith("crosslinked [percent]")
    assert [float(v) for v in first.split(",")][:3] == [0.0, 6e6, 4e5]


def test_json_output(result, tmp_path):
    data = json.loads(dg.save(result, tmp_path / "run.json").read_text())
    assert data["time"]["unit"] == "s"
    assert data["variables"]["RecDim"]["unit"] == "molecule"
    assert len(data["variables"]["RecDim"]["values"]) == 5
    assert data["attrs"]["model_id"] == "ige_fceri_crosslinking"


def test_converted_units_are_written_as_converted(result, tmp_path):
    converted = result.assign(L=result["L"].pint.to("mol"))
    header = dg.save(converted, tmp_path / "run.csv").read_text().splitlines()[0]
    assert "L [mole]" in header


def test_unknown_format_and_bad_file(result, tmp_path):
    with pytest.raises(DataError, match="cannot write"):
        dg.save(result, tmp_path / "run.xlsx")
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    with pytest.raises(DataError, match="cannot read"):
        dg.load(bad)


# -- round trips (issue 15: CSV and JSON were written but could not be read back) --------------


@pytest.mark.parametrize("suffix", [".csv", ".json", ".nc"])
def test_every_format_round_trips_values_and_units(result, tmp_path, suffix):
    loaded = dg.load(dg.save(result, tmp_path / f"run{suffix}"))
    assert list(loaded.data_vars) == list(result.data_vars)
    for name in result.variables:
        assert loaded[name].pint.units == result[name].pint.units, name
        # floats are written with repr, so they come back bit for bit
        np.testing.assert_array_equal(loaded[name].pint.magnitude, result[name].pint.magnitude)


def _dose_response_like():
    """A sweep-shaped result: one dose dimension, a scalar readout time, text columns, a NaN."""
    import xarray as xr

    from degranulation.results import quantify

    plain = xr.Dataset(
        {
            "RecDim": ("L", [1.5e3, np.nan, 4.0e5], {"units": "molecule"}),
            "status": ("L", ["ok", "failed", "ok"]),
        },
        coords={"L": ("L", [1e4, 1e6, 1e8], {"units": "molecule"}), "time": ((), 600.0, {"units": "s"})},
        attrs={"model_id": "ige_fceri_crosslinking"},
    )
    return quantify(plain)


def test_json_keeps_dims_scalar_coordinates_and_failed_points(tmp_path):
    dr = _dose_response_like()
    path = dg.save(dr, tmp_path / "dr.json")
    json.loads(path.read_text(), parse_constant=pytest.fail)  # strict JSON: no NaN literal
    loaded = dg.load(path)
    assert loaded["RecDim"].dims == ("L",) and loaded["time"].dims == ()
    assert float(loaded["time"].pint.to("min").pint.magnitude) == 10.0
    np.testing.assert_array_equal(loaded["RecDim"].pint.magnitude, [1.5e3, np.nan, 4.0e5])
    assert str(loaded["L"].pint.units) == "molecule"
    assert list(loaded["status"].values) == ["ok", "failed", "ok"]
    assert loaded.attrs["model_id"] == "ige_fceri_crosslinking"


def test_csv_of_a_sweep_is_a_table_along_its_dimension(tmp_path):
    path = dg.save(_dose_response_like(), tmp_path / "dr.csv")
    assert path.read_text().splitlines() == [
        "L [molecule],time [second],RecDim [molecule],status",
        "10000.0,600.0,1500.0,ok",
        "1000000.0,600.0,nan,failed",
        "100000000.0,600.0,400000.0,ok",
    ]
    loaded = dg.load(path)
    assert loaded["RecDim"].dims == ("L",) and str(loaded["L"].pint.units) == "molecule"
    np.testing.assert_array_equal(loaded["time"].pint.magnitude, [600.0] * 3)  # repeated per row


def test_csv_of_two_dimensions_is_a_long_table_read_back_along_both(tmp_path):
    """Issue 13 (scenarios): a row per (L, time) point, L varying slowest; a variable along L
    only is repeated on its rows and read back along both dimensions."""
    import xarray as xr

    from degranulation.results import quantify

    two = quantify(
        xr.Dataset(
            {
                "y": (("L", "time"), np.arange(6.0).reshape(2, 3), {"units": "nM"}),
                "status": ("L", ["ok", "failed"]),
            },
            coords={
                "L": ("L", [1.0, 2.0], {"units": "nM"}),
                "time": ("time", [0.0, 1.0, 2.0], {"units": "s"}),
            },
        )
    )
    path = dg.save(two, tmp_path / "two.csv")
    assert path.read_text().splitlines()[:3] == [
        "L [nanomolar],time [second],y [nanomolar],status",
        "1.0,0.0,0.0,ok",
        "1.0,1.0,1.0,ok",
    ]
    loaded = dg.load(path)
    assert loaded["y"].dims == ("L", "time") and str(loaded["y"].pint.units) == "nanomolar"
    np.testing.assert_array_equal(loaded["y"].pint.magnitude, two["y"].pint.magnitude)
    np.testing.assert_array_equal(loaded["time"].pint.magnitude, [0.0, 1.0, 2.0])
    assert loaded["status"].dims == ("L", "time") and loaded["status"].values[:, 0].tolist() == [
        "ok",
        "failed",
    ]


def test_csv_refuses_a_dataset_without_dimensions(tmp_path):
    import xarray as xr

    with pytest.raises(DataError, match="no dimension") as caught:
        dg.save(xr.Dataset({"y": ((), 1.0)}), tmp_path / "none.csv")
    assert ".nc or .json" in caught.value.hint


@pytest.mark.parametrize("verb", ["save", "load"])
def test_unknown_suffix_lists_the_supported_ones(result, tmp_path, verb):
    path = tmp_path / "run.parquet"
    path.write_text("")
    call = (lambda: dg.save(result, path)) if verb == "save" else (lambda: dg.load(path))
    with pytest.raises(DataError, match=r"unknown format '\.parquet'") as caught:
        call()
    assert caught.value.hint == "use one of .nc, .csv, .json"


# -- the NetCDF engine (issue 15: h5netcdf >= 1.8 without h5py made every .nc write fail) -------


@pytest.mark.parametrize(
    ("importable", "engine"),
    [
        ({"h5netcdf", "h5py", "netCDF4"}, "h5netcdf"),
        ({"h5netcdf", "netCDF4"}, "netcdf4"),  # h5netcdf without h5py cannot write
        ({"h5netcdf"}, None),
        ({"h5py", "netCDF4"}, "netcdf4"),
        (set(), None),
    ],
)
def test_engine_needs_every_module_it_imports(monkeypatch, importable, engine):
    import sys
    import types

    from degranulation.store import netcdf4_engine

    for module in ("h5netcdf", "h5py", "netCDF4"):
        # a module set to None in sys.modules raises ImportError on import
        monkeypatch.setitem(sys.modules, module, types.ModuleType(module) if module in importable else None)
    assert netcdf4_engine() == engine


def test_h5netcdf_without_h5py_falls_back_to_netcdf3(monkeypatch, result, tmp_path):
    import sys
    import types

    monkeypatch.setitem(sys.modules, "h5netcdf", types.ModuleType("h5netcdf"))  # found, but ...
    monkeypatch.setitem(sys.modules, "h5py", None)  # ... its writer is missing
    monkeypatch.setitem(sys.modules, "netCDF4", None)
    path = dg.save(result, tmp_path / "run.nc")
    assert path.read_bytes()[:3] == b"CDF"  # NetCDF3, SciPy's writer
    np.testing.assert_array_equal(dg.load(path)["RecDim"].pint.magnitude, result["RecDim"].pint.magnitude)
    hdf5 = tmp_path / "netcdf4.nc"
    hdf5.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(DataError, match="needs h5netcdf with h5py") as caught:
        dg.load(hdf5)
    assert "degranulation[netcdf]" in caught.value.hint


def test_netcdf4_write_and_read_with_the_netcdf_extra(result, tmp_path):
    from degranulation.store import netcdf4_engine

    if netcdf4_engine() is None:
        pytest.skip("needs the netcdf extra (h5netcdf with h5py, or netCDF4)")
    path = dg.save(result, tmp_path / "run.nc")
    assert path.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    loaded = dg.load(path)
    for name in result.variables:
        assert loaded[name].pint.units == result[name].pint.units
        np.testing.assert_array_equal(loaded[name].pint.magnitude, result[name].pint.magnitude)
    assert loaded.attrs["model_toml"] == result.attrs["model_toml"]
