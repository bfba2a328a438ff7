"""Sweeps: grids with units, readouts, failures recorded, identical results on processes and
Dask, and resuming a sweep killed half-way without recomputing its finished points."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr

import degranulation as dg
from degranulation.errors import DataError, ModelError, UnitError
from degranulation.results import dequantify
from degranulation.sweeps import run as sweep_run

MODEL = "ige_fceri_crosslinking"
DOSES = ["1e5 molecule", "1e6 molecule", "6e6 molecule"]


def test_geomspace_keeps_units():
    doses = dg.geomspace("1 pM", "10 uM", 8)
    assert str(doses.units) == "picomolar"
    assert doses.magnitude[0] == pytest.approx(1.0) and doses.magnitude[-1] == pytest.approx(1e7)
    assert np.allclose(np.diff(np.log10(doses.magnitude)), 1.0)
    with pytest.raises(UnitError, match="different dimensions"):
        dg.geomspace("1 pM", "1 s", 3)
    with pytest.raises(UnitError, match="no unit"):
        dg.geomspace(1.0, "1 nM", 3)


def test_product_grid_matches_simulate_point_by_point():
    # With BDF each point is one plain solve: exactly what simulate computes with the same
    # tolerances (given here: a sweep's default atol is one for the grid, simulate's per run).
    grid = {"kp2": ["1e-4 1/(molecule*s)", "2.5e-4 1/(molecule*s)"], "L": DOSES}
    ds = dg.sweep(MODEL, grid, at=["1 min", "10 min"], observe=["RecDim", "R"], solver="BDF", atol=1e-6)
    assert dict(ds.sizes) == {"kp2": 2, "L": 3, "time": 2}
    assert ds["RecDim"].dims == ("kp2", "L", "time")
    assert str(ds["L"].pint.units) == "molecule" and str(ds["time"].pint.units) == "second"
    assert ds["time"].pint.magnitude.tolist() == [60.0, 600.0]
    one = dg.simulate(
        MODEL,
        t=["0 s", "1 min", "10 min"],
        params={"kp2": "1e-4 1/(molecule*s)"},
        initial={"L": "1e6 molecule"},
        solver="BDF",
        atol=1e-6,
    )
    assert ds["RecDim"].isel(kp2=0, L=1).pint.magnitude.tolist() == one["RecDim"].pint.magnitude[1:].tolist()


@pytest.mark.parametrize("solver", ["LSODA", pytest.param("CVODE", marks=pytest.mark.requires_sundials)])
def test_batched_solves_agree_with_simulate_within_tolerance(solver):
    # Stacked points (banded LSODA, or CVODE with its tolerances divided by √batch) each stay
    # within the tolerances of a lone BDF solve.
    ds = dg.dose_response(
        MODEL, "L", DOSES, at="10 min", observe="RecDim", solver=solver, rtol=1e-10, atol=1e-6
    )
    assert json.loads(ds.attrs["sweep"])["solver"]["method"] == solver
    assert ds["RecDim"].dims == ("L",) and float(ds["time"].pint.magnitude) == 600.0
    for k, dose in enumerate(DOSES):
        one = dg.simulate(MODEL, t="10 min", points=2, initial={"L": dose}, rtol=1e-10, atol=1e-6)
        expected = float(one["RecDim"].pint.magnitude[-1])
        assert float(ds["RecDim"].pint.magnitude[k]) == pytest.approx(expected, rel=1e-7)


def test_zip_mode_has_one_point_dimension_and_time_courses():
    ds = dg.sweep(
        MODEL,
        {"kp1": ["1e-10 1/(molecule*s)", "2e-10 1/(molecule*s)"], "L": DOSES[:2]},
        mode="zip",
        t="60 s",
        points=4,
        observe="RecDim",
    )
    assert ds["RecDim"].dims == ("point", "time") and ds.sizes["time"] == 4
    assert str(ds["kp1"].pint.units) == "1 / molecule / second"
    with pytest.raises(ValueError, match="one length"):
        dg.sweep(MODEL, {"kp1": ["1e-10 1/(molecule*s)"], "L": DOSES}, mode="zip", t="1 s")


def test_sweeping_an_observed_species_renames_its_readout():
    ds = dg.dose_response(MODEL, "L", DOSES, at="1 min", observe=["L", "R"])
    assert set(ds.data_vars) == {"L_readout", "R", "status", "message"}
    assert (ds["L_readout"].pint.magnitude < ds["L"].pint.magnitude).all()


@pytest.mark.parametrize(
    ("grid", "options", "error", "match"),
    [
        ({"kp3": DOSES}, {"at": "1 min"}, ModelError, "did you mean 'kp[12]'"),
        ({"L": [1e5, 1e6]}, {"at": "1 min"}, UnitError, "no unit"),
        ({"L": ["1 s", "2 s"]}, {"at": "1 min"}, UnitError, "grid.L"),
        ({"L": DOSES}, {"at": "1 min", "observe": "RecDimm"}, ModelError, "did you mean 'RecDim'"),
        ({"L": DOSES}, {"at": "1 min", "t": "2 min"}, ValueError, "not both"),
        ({"L": DOSES}, {}, ValueError, "give t"),
        ({"L": DOSES}, {"at": "steady"}, ValueError, "horizon"),
        ({"L": DOSES}, {"at": "1 min", "workers": 2, "scheduler": "tcp://x:1"}, ValueError, "not both"),
        ({"L": DOSES}, {"at": "1 min", "solver": "BDF", "batch": 4}, ValueError, "LSODA"),
        ({"L": DOSES}, {"at": "1 min", "initial": {"L": "1 molecule"}}, ValueError, "both swept"),
    ],
)
def test_bad_input_is_named(grid, options, error, match):
    with pytest.raises(error, match=match):
        dg.sweep(MODEL, grid, **options)


def test_a_failing_point_is_recorded_and_the_sweep_goes_on():
    # A negative capture rate makes free ligand grow without bound: that solve must fail.
    rates = ["1e-10 1/(molecule*s)", "-1e-3 1/(molecule*s)", "3e-10 1/(molecule*s)"]
    ds = dg.sweep(MODEL, {"kp1": rates}, at="10 min", observe="RecDim", rtol=1e-8, atol=1e-6)
    assert ds["status"].values.tolist() == ["ok", "failed", "ok"]
    assert "solver failed" in str(ds["message"].values[1]) and ds["message"].values[0] == ""
    values = ds["RecDim"].pint.magnitude
    assert np.isnan(values[1]) and np.isfinite(values[[0, 2]]).all()
    # The others are what they are without the failing point beside them.
    alone = dg.sweep(MODEL, {"kp1": [rates[2]]}, at="10 min", observe="RecDim", rtol=1e-8, atol=1e-6)
    assert values[2] == alone["RecDim"].pint.magnitude[0]


def test_steady_state_that_is_not_reached_is_flagged():
    ds = dg.dose_response(
        MODEL, "L", DOSES, at="steady", t="1 s", observe="RecDim", params={"km1": "1e-3 1/s", "km2": "1 1/s"}
    )
    assert set(ds["status"].values.tolist()) == {"not_steady"}
    assert "integrate longer" in str(ds["message"].values[0])
    assert np.isnan(ds["RecDim"].pint.magnitude).all()


GRID = {"L": [f"{v:.6g} molecule" for v in np.geomspace(1e4, 1e8, 12)]}
OPTIONS = {"at": ["30 s", "5 min"], "observe": ["RecDim", "crosslinked"], "batch": 3}


def test_workers_give_identical_results():
    serial = dg.sweep(MODEL, GRID, **OPTIONS)
    parallel = dg.sweep(MODEL, GRID, workers=2, **OPTIONS)
    xr.testing.assert_identical(dequantify(serial), dequantify(parallel))


@pytest.mark.slow  # starting a LocalCluster takes seconds
@pytest.mark.requires_dask
def test_dask_local_cluster_gives_identical_results():
    import distributed

    serial = dg.sweep(MODEL, GRID, **OPTIONS)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        on_address = dg.sweep(MODEL, GRID, scheduler=cluster.scheduler_address, **OPTIONS)
        with distributed.Client(cluster) as client:
            on_client = dg.sweep(MODEL, GRID, scheduler=client, **OPTIONS)
    xr.testing.assert_identical(dequantify(serial), dequantify(on_address))
    xr.testing.assert_identical(dequantify(serial), dequantify(on_client))


KILLED_RUN = """
import os, signal, sys
import degranulation as dg
grid, options = {grid!r}, {options!r}

def progress(done, total):
    if done >= total // 2:  # half-way: die at once, as a crash or an OOM kill would
        os.kill(os.getpid(), signal.SIGKILL)

dg.sweep({model!r}, grid, output=sys.argv[1], progress=progress, **options)
"""


def test_sweep_killed_half_way_resumes_without_recomputing(tmp_path, monkeypatch):
    output = tmp_path / "dr.nc"
    script = KILLED_RUN.format(grid=GRID, options=OPTIONS, model=MODEL)
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(script), str(output)], capture_output=True)
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()
    parts = tmp_path / "dr.nc.parts"
    stored = sorted(parts.glob("chunk-*.nc"))
    assert not output.exists() and len(stored) == 2  # 12 points in chunks of 3: killed at 6
    stamps = {path.name: path.stat().st_mtime_ns for path in stored}

    with pytest.raises(DataError, match="resume"):
        dg.sweep(MODEL, GRID, output=output, **OPTIONS)
    with pytest.raises(DataError, match="differs from this one in: grid"):
        dg.sweep(MODEL, {"L": GRID["L"][:-1]}, output=output, resume=True, **OPTIONS)

    solved = []
    original = sweep_run._solve_chunk

    def counting(plan, chunk):
        solved.append(chunk)
        return original(plan, chunk)

    monkeypatch.setattr(sweep_run, "_solve_chunk", counting)
    resumed = dg.sweep(MODEL, GRID, output=output, resume=True, **OPTIONS)
    assert solved == [2, 3]  # the finished chunks 0 and 1 were read, not solved
    assert {path.name: path.stat().st_mtime_ns for path in stored if path.exists()} in ({}, stamps)
    assert output.exists() and not parts.exists()

    monkeypatch.setattr(sweep_run, "_solve_chunk", original)
    uninterrupted = dg.sweep(MODEL, GRID, output=tmp_path / "whole.nc", **OPTIONS)
    xr.testing.assert_identical(dequantify(resumed), dequantify(uninterrupted))
    xr.testing.assert_identical(dequantify(dg.load(output)), dequantify(dg.load(tmp_path / "whole.nc")))
    # Resuming a finished sweep reads its result back and solves nothing.
    solved.clear()
    again = dg.sweep(MODEL, GRID, output=output, resume=True, **OPTIONS)
    assert solved == [] and json.loads(again.attrs["sweep"]) == json.loads(resumed.attrs["sweep"])


def test_output_must_be_netcdf(tmp_path):
    with pytest.raises(DataError, match=r"\.nc"):
        dg.sweep(MODEL, GRID, output=tmp_path / "dr.csv", **OPTIONS)
