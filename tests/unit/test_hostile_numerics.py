"""Hostile numbers (issue 16): sizes from the API that would allocate without end, solvers that
never return, results that go negative or are not resolved, and Hill fits of curves with no
dose dependence or an EC50 beyond the doses."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import xarray as xr

import degranulation as dg
from degranulation import hill
from degranulation.cli import main
from degranulation.errors import ResultWarning

MODEL = """format = "degranulation-model/1"
id = "decay"
title = "A -> B"
cell_type = "test"
references = []

[units]
time = "s"
concentration = "nM"

[compartments]
cell = {{ size = "1 pL" }}

[species]
A = {{ initial = "{initial}", compartment = "cell" }}
B = {{ initial = "0 molecule", compartment = "cell" }}

[parameters]
k = "{k}"

[[reactions]]
id = "r"
equation = "A -> B"
rate = "{rate}"
"""


def model_file(tmp_path, initial="10 molecule", k="1 1/s", rate="mass_action(k)"):
    path = tmp_path / "decay.toml"
    path.write_text(MODEL.format(initial=initial, k=k, rate=rate))
    return path


# -- sizes -----------------------------------------------------------------------------------


def test_simulate_points_beyond_the_limit_is_a_value_error():
    with pytest.raises(ValueError, match="from 2 to 1000000"):
        dg.simulate("ige_fceri_crosslinking", t="1 min", points=10**14)


def test_geomspace_num_beyond_the_limit_is_a_value_error():
    with pytest.raises(ValueError, match="from 2 to 1000000"):
        dg.geomspace("1 pM", "1 uM", 10**14)


# -- work limit --------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["LSODA", "BDF", "Radau"])
def test_huge_amounts_end_in_a_simulation_error(tmp_path, solver):
    """A(0) = 1e150 molecule with a flat atol of 1e-9 molecule (the default before atol was
    scaled per species): LSODA used to call the right-hand side at t = 0 forever (it now
    stops after STALLED calls that do not advance); BDF and Radau overflow. Either way a
    SimulationError naming the time reached, in seconds."""
    path = model_file(tmp_path, initial="1e150 molecule")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # SciPy's own overflow warnings
        with pytest.raises(dg.SimulationError, match="solver failed at t = 0") as caught:
            dg.simulate(path, t="10 s", solver=solver, atol=1e-9)
    assert caught.value.t_fail == 0.0


@pytest.mark.parametrize("solver", ["LSODA", "BDF", "Radau"])
def test_huge_amounts_simulate_with_the_default_atol(tmp_path, solver):
    """The default atol follows each species' own scale, so the same model solves: A decays as
    1e150·e^(-t) (closed form)."""
    path = model_file(tmp_path, initial="1e150 molecule")
    ds = dg.simulate(path, t="10 s", points=3, solver=solver)
    np.testing.assert_allclose(ds["A"].pint.magnitude, 1e150 * np.exp(-np.array([0.0, 5.0, 10.0])), rtol=1e-4)
    assert ds.attrs["status"] == "ok"


def test_huge_amounts_in_a_sweep_fail_their_points(tmp_path):
    """The sweep default (LSODA for small models) marks the points failed, with the reason."""
    path = model_file(tmp_path, initial="1e150 molecule")
    dr = dg.dose_response(path, vary="k", doses=["1 1/s", "2 1/s"], observe="B", at="1 s")
    assert dr["status"].values.tolist() == ["failed", "failed"]
    assert "the solver is stuck" in str(dr["message"].values[0])


@pytest.mark.parametrize("solver", ["BDF", "LSODA", "CVODE"])
def test_max_evaluations_limits_every_solver(solver):
    options = dg.solvers.SOLVERS[solver](max_evaluations=30)
    if solver == "CVODE":
        pytest.importorskip("sksundae")
    with pytest.raises(dg.SimulationError, match="evaluated 30 times") as caught:
        dg.simulate("ige_fceri_crosslinking", t="600 s", solver=options)
    assert 0 <= caught.value.t_fail < 600
    assert "max_evaluations=10**8" in str(caught.value)


def test_max_evaluations_must_be_positive():
    with pytest.raises(ValueError, match="max_evaluations must be a positive integer"):
        dg.BDF(max_evaluations=0)


# -- signs and resolution of results ---------------------------------------------------------


def test_a_result_that_goes_negative_is_flagged(tmp_path):
    """A zero-order sink (rate k = 1 molecule/s, whatever A is): A = 10 - t molecule exactly,
    -10 molecule at 20 s; far beyond atol, so a warning and status 'negative'."""
    path = model_file(tmp_path, k="1 molecule/s", rate="k")
    with pytest.warns(ResultWarning, match=r"species 'A' went negative, down to -10 molecule"):
        ds = dg.simulate(path, t="20 s", points=5)
    assert ds.attrs["status"] == "negative"
    np.testing.assert_allclose(ds["A"].pint.magnitude, [10, 5, 0, -5, -10], atol=1e-6)


def test_an_initial_value_below_atol_is_flagged(tmp_path):
    """1e-20 molecule is below the default atol (1e-9 in the model's unit, molecule): the
    solver does not resolve A (BDF returned -1.3e-22 at 15 s with no warning)."""
    path = model_file(tmp_path, initial="1e-20 molecule")
    with pytest.warns(ResultWarning, match=r"'A' \(1e-20 molecule\) is below the absolute tolerance"):
        ds = dg.simulate(path, t="20 s", points=5, atol=1e-9)  # the flat default before
    assert ds.attrs["status"] == "below_atol"
    # The default atol now follows A's own scale: resolved, and nothing to flag.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResultWarning)
        ds = dg.simulate(path, t="20 s", points=5)
    np.testing.assert_allclose(
        ds["A"].pint.magnitude, 1e-20 * np.exp(-np.linspace(0, 20, 5)), rtol=1e-4, atol=1e-26
    )
    assert ds.attrs["status"] == "ok"
    # With the suggested atol the decay e^(-t) (closed form) is right to within that atol, and
    # nothing is flagged (a dip to -1e-24, inside atol, is the solver's error control at work).
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResultWarning)
        ds = dg.simulate(path, t="20 s", points=5, atol=1e-23, rtol=1e-8)
    np.testing.assert_allclose(
        ds["A"].pint.magnitude, 1e-20 * np.exp(-np.linspace(0, 20, 5)), rtol=1e-4, atol=1e-23
    )
    assert ds.attrs["status"] == "ok"


def test_simulate_cli_json_carries_the_status(tmp_path, capsys):
    path = model_file(tmp_path, k="1 molecule/s", rate="k")
    code = main(["simulate", str(path), "--t-end", "20s", "--points", "3", "-o", str(tmp_path / "r.json")])
    assert code == 0
    # The CLI prints the package's warnings as one line each on stderr.
    assert "warning: species 'A' went negative" in capsys.readouterr().err
    assert json.loads((tmp_path / "r.json").read_text())["attrs"]["status"] == "negative"


def test_a_well_behaved_result_is_ok():
    ds = dg.simulate("ige_fceri_crosslinking", t="600 s", points=3)
    assert ds.attrs["status"] == "ok"


# -- Hill fits -------------------------------------------------------------------------------


def curve(values, doses):
    return xr.DataArray(
        values,
        dims="L",
        coords={"L": ("L", doses, {"units": "nM"})},
        attrs={"units": "molecule"},
        name="total",
    )


def test_a_flat_readout_has_no_dose_dependence():
    """A conserved total (400 000 receptors) with solver noise of 1e-9 relative: it used to be
    fitted to the noise and overflow (10**log_ec50) in a traceback."""
    doses = np.geomspace(1e-3, 1e3, 13)
    noise = np.random.default_rng(0).standard_normal(13) * 4e-4
    with pytest.raises(dg.FitError, match="no dose dependence"):
        dg.hill_fit(curve(4e5 + noise, doses))
    fits = hill.fit_curves(
        xr.Dataset({"total": curve(4e5 + noise, doses), "status": ("L", ["ok"] * 13)}), "L"
    )
    assert "no dose dependence" in fits["total"]


def test_an_ec50_beyond_the_doses_is_a_bound():
    """The rising start of a Hill curve with EC50 = 100 nM, dosed only up to 10 nM: the fit
    puts the EC50 beyond the doses; that is reported as 'EC50 > 10 nM', with the one-sided
    interval [10 nM, inf), not as a measurement with a tight interval."""
    doses = np.geomspace(0.01, 10, 13)
    values = 1e5 * doses / (100 + doses)
    fit = dg.hill_fit(curve(values, doses))
    assert fit.extrapolated
    assert fit.ec50_bound == "> 10 nM"
    assert fit.ec50.to("nM").magnitude > 10
    assert fit.ec50_ci[0].to("nM").magnitude == pytest.approx(10)
    assert math.isinf(fit.ec50_ci[1].magnitude)
    assert fit.to_dict()["ec50_bound"] == "> 10 nM"


def test_an_ec50_inside_the_doses_is_a_measurement():
    doses = np.geomspace(0.01, 100, 13)
    fit = dg.hill_fit(curve(1e5 * doses / (1 + doses), doses))
    assert not fit.extrapolated and fit.ec50_bound is None
    assert fit.ec50.to("nM").magnitude == pytest.approx(1, rel=1e-6)  # the curve's own EC50


def test_sweep_cli_prints_an_extrapolated_ec50_as_a_bound(tmp_path, capsys):
    """Singly bound LR keeps rising past the largest dose (1e9 molecule): its fitted EC50
    (3e11) used to be printed as a measurement with a tight interval."""
    args = ["sweep", "ige_fceri_crosslinking", "--vary", "L", "--from", "1e3molecule", "--to", "1e9molecule"]
    code = main([*args, "--num", "7", "--at", "10min", "--observe", "LR", "-o", str(tmp_path / "dr.nc")])
    out = capsys.readouterr().out
    assert code == 0
    assert "EC50 > 1e+09 molec (extrapolated)" in out


def test_an_interval_beyond_float_range_is_infinite_not_an_overflow(monkeypatch):
    """A standard error of 1e3 decades (a fit the data barely constrain) gives an interval
    10**(c ± 2000): infinite ends, where 10.0**2000 used to raise OverflowError."""
    doses = np.geomspace(0.01, 100, 13)
    monkeypatch.setattr(hill, "_interval", lambda center, spread, dof, level: (center - 2e3, center + 2e3))
    fit = dg.hill_fit(curve(1e5 * doses / (1 + doses), doses))
    assert fit.ec50_ci[0].magnitude == 0 and math.isinf(fit.ec50_ci[1].magnitude)
