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
