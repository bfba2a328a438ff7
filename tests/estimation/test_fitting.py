"""fit(): sensitivity Jacobians, noise models, scale/offset readouts, conditions and protocols,
failures inside a fit, parallel starts, outputs, the CLI, and the Harmon 2017 data."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from synthetic_crosslinking import CROSSLINKING, KP1, simulate_data

import degranulation as dg
from degranulation.cli import main
from degranulation.estimation import optimise
from degranulation.estimation.measurements import make_problem
from degranulation.library import models_folder


def test_jacobian_matches_central_differences_with_scale_and_offset():
    frame = simulate_data(seed=1)
    frame["value [dimensionless]"] = 2.5 * frame.pop("value [molecule]") + 1000.0  # arbitrary units
    frame = frame.drop(columns="sd [molecule]")
    problem = make_problem(
        CROSSLINKING,
        frame,
        estimate=["kp1", "kp2", "R"],
        scale=["RecDim"],
        offset=["RecDim"],
        sigma={"RecDim": "500 dimensionless"},
        rtol=1e-10,
    )
    phi = np.array([math.log10(1.1 * KP1), math.log10(1e-7), 3.5e5])  # slow crosslinking: kp2 matters
    _, jacobian = problem.residuals(phi)
    for k, step in enumerate([1e-4, 1e-4, 10.0]):
        shift = np.zeros(3)
        shift[k] = step
        plus, _ = problem.residuals(phi + shift, jacobian=False)
        minus, _ = problem.residuals(phi - shift, jacobian=False)
        difference = (plus - minus) / (2 * step)
        np.testing.assert_allclose(
            jacobian[:, k],
            difference,
            rtol=1e-4,
            atol=1e-6 * np.abs(difference).max(),
            err_msg=problem.names[k],
        )


def test_scale_and_offset_are_recovered_exactly_from_noise_free_data():
    frame = simulate_data(sd_fraction=0.0, sd_floor=0.0, seed=2)
    frame["value [dimensionless]"] = 2.5e-3 * frame.pop("value [molecule]") + 40.0
    frame = frame.drop(columns="sd [molecule]")
    # Noise-free data: the optimum is the truth and the cost is zero (up to solver error).
    result = dg.fit(
        CROSSLINKING,
        frame,
        estimate={"kp1": {"bounds": ["1e-11 1/(molecule*s)", "1e-9 1/(molecule*s)"]}},
        scale=["RecDim"],
        offset=["RecDim"],
        sigma={"RecDim": "1 dimensionless"},
        n_starts=2,
        seed=0,
        rtol=1e-10,
    )
    assert result.parameters["kp1"].magnitude == pytest.approx(KP1, rel=1e-5)
    assert result.nuisance["scale_RecDim"].to("1/molecule").magnitude == pytest.approx(2.5e-3, rel=1e-5)
    assert result.nuisance["offset_RecDim"].to("dimensionless").magnitude == pytest.approx(40.0, abs=1e-3)


def test_given_sd_residuals_and_information_criteria():
    frame = simulate_data(seed=3)
    result = dg.fit(CROSSLINKING, frame, estimate=["kp1"], n_starts=1, seed=0, rtol=1e-8)
    problem = result.problem
    np.testing.assert_allclose(problem.sigma, frame["sd [molecule]"].to_numpy())
    np.testing.assert_allclose(result.residuals, (result.predictions - problem.data) / problem.sigma)
    assert result.cost == pytest.approx(0.5 * np.sum(result.residuals**2))
    # Gaussian likelihood with known SDs: -2 log L = 2·cost + 2·Σ log σ + n·log(2π).
    n = len(frame)
    minus_two_log_l = 2 * result.cost + 2 * np.sum(np.log(problem.sigma)) + n * math.log(2 * math.pi)
    assert result.aic == pytest.approx(2 * 1 + minus_two_log_l)
    assert result.bic == pytest.approx(math.log(n) * 1 + minus_two_log_l)


@pytest.mark.parametrize(("noise", "truth"), [("additive", 3000.0), ("proportional", 0.08)])
def test_noise_constants_are_estimated(noise, truth):
    frame = simulate_data(sd_fraction=0.0, sd_floor=0.0, doses=(6e6, 3e6, 1.5e6, 0.75e6), seed=4)
    rng = np.random.default_rng(5)
    values = frame["value [molecule]"].to_numpy()
    sd = truth if noise == "additive" else truth * np.abs(values)
    frame["value [molecule]"] = values + rng.normal(0.0, sd, size=len(values))
    frame = frame.drop(columns="sd [molecule]")
    result = dg.fit(CROSSLINKING, frame, estimate=["kp1"], noise=noise, n_starts=1, seed=0, rtol=1e-8)
    unit = "molecule" if noise == "additive" else "dimensionless"
    # 28 measurements: the estimate's relative standard error is about 1/sqrt(2·27) = 14 %.
    assert result.nuisance["sigma_RecDim"].to(unit).magnitude == pytest.approx(truth, rel=0.35)


def test_conditions_and_protocols_become_separate_simulations():
    data = dg.read_assay(models_folder() / "data" / "harmon2017_beta_hex.csv")
    problem = make_problem("harmon2017_fceri_degranulation", data, estimate=["kdegran"])
    assert [c.label for c in problem.conditions] == [
        "first_pulse",
        "gap_5min",
        "gap_30min",
        "gap_60min",
        "gap_120min",
        "gap_240min",
    ]
    gap_30 = problem.conditions[2]
    # pulse_30min: antigen off at 5 min, back on with released β-hex reset at 35 min (model units: min).
    assert [(e.t, e.action) for e in gap_30.events] == [(5.0, "set"), (35.0, "set"), (35.0, "set")]
    np.testing.assert_array_equal(gap_30.times, [0.0, 40.0])


def test_condition_columns_are_checked():
    frame = simulate_data(seed=6)
    frame["kp1 [1/(molecule*s)]"] = KP1
    with pytest.raises(dg.DataError, match="being estimated") as caught:
        make_problem(CROSSLINKING, frame, estimate=["kp1"])
    assert caught.value.location == "column 'kp1 [1/(molecule*s)]'"
    frame = simulate_data(seed=6).rename(columns={"L [molecule]": "Lig [molecule]"})
    with pytest.raises(dg.DataError, match="condition column 'Lig' is not a parameter"):
        make_problem(CROSSLINKING, frame, estimate=["kp1"])
    frame = simulate_data(seed=6).rename(columns={"L [molecule]": "L [s]"})
    with pytest.raises(dg.DataError, match="'L' needs") as caught:
        make_problem(CROSSLINKING, frame, estimate=["kp1"])
    assert caught.value.location == "row 0, column 'L [s]'"


def test_bounds_and_scales_come_from_the_model_file_or_the_call():
    problem = make_problem(
        CROSSLINKING, simulate_data(seed=7), estimate={"kp1": None, "R": None, "kp2": {"scale": "lin"}}
    )
    kp1, receptors, kp2 = problem.free
    # kp1: the model file's estimate table (1e-12 … 1e-8, log10).
    assert (kp1.scale, kp1.lower, kp1.upper) == ("log10", pytest.approx(1e-12), pytest.approx(1e-8))
    # R: not a rate constant, no table: lin, 0 … 10 × 4e5.
    assert (receptors.scale, receptors.lower, receptors.upper) == ("lin", 0.0, pytest.approx(4e6))
    assert kp2.scale == "lin"
    with pytest.raises(dg.ModelError, match="positive bounds"):
        make_problem(
            CROSSLINKING,
            simulate_data(seed=7),
            estimate={"kp1": {"bounds": ["0 1/(molecule*s)", "1 1/(molecule*s)"]}},
        )
    with pytest.raises(dg.UnitError):
        make_problem(CROSSLINKING, simulate_data(seed=7), estimate={"kp1": {"bounds": ["1 s", "2 s"]}})


@pytest.fixture(scope="module")
def fragile():
    # A is made at k_in·sqrt(1 - k/k_max) and decays at k: for k > k_max = 1 1/min the rate is
    # the square root of a negative number and the model cannot be simulated at all.
    return (
        dg.ModelBuilder("fragile", units={"time": "min", "concentration": "uM", "amount": "nmol"})
        .compartment("well", "1 uL")
        .species("A", "0 uM", compartment="well")
        .parameter("k", "0.2 1/min")
        .parameter("k_max", "1 1/min")
        .parameter("k_in", "1 uM/min")
        .reaction("0 -> A", "k_in * well * sqrt(1 - k/k_max)")
        .reaction("A -> 0", "mass_action(k)")
        .build()
    )


def test_a_failed_simulation_is_a_large_residual_not_a_crash(fragile):
    t = np.array([1.0, 2.0, 5.0, 10.0])
    a = math.sqrt(0.8) / 0.2 * (1 - np.exp(-0.2 * t))  # exact A(t) for k = 0.2 1/min
    frame = pd.DataFrame({"observable": "A", "time [min]": t, "value [uM]": a, "sd [uM]": 0.01 * a})
    result = dg.fit(
        fragile, frame, estimate={"k": {"bounds": ["0.01 1/min", "10 1/min"]}}, n_starts=4, seed=0
    )
    assert any(s.is_failed for s in result.starts)
    assert result.success
    assert result.parameters["k"].magnitude == pytest.approx(0.2, rel=1e-4)
    with pytest.raises(dg.FitError, match="could not be simulated"):
        dg.fit(fragile, frame, estimate={"k": {"bounds": ["2 1/min", "10 1/min"]}}, n_starts=2, seed=0)


class _Rosenbrock:
    """Rosenbrock's function as residuals; its minimum is (1, 1)."""

    residuals = staticmethod(lambda x: np.array([10 * (x[1] - x[0] ** 2), 1 - x[0]]))
    jacobian = staticmethod(lambda x: np.array([[-20 * x[0], 10.0], [-1.0, 0.0]]))


def test_a_run_that_has_not_converged_is_restarted_within_its_budget(monkeypatch):
    # Restarts renew SciPy's Jacobian scaling (see optimise._least_squares); rounds of 5
    # evaluations must still reach the minimum, and never spend more than the budget.
    monkeypatch.setattr(optimise, "ROUND", 5)
    bounds = (np.full(2, -5.0), np.full(2, 5.0))
    solution, nfev, _ = optimise._least_squares(_Rosenbrock(), np.array([-1.2, 1.0]), bounds, 500)
    assert solution.status > 0 and nfev > 5  # converged, after at least one restart
    np.testing.assert_allclose(solution.x, [1.0, 1.0], atol=1e-6)
    solution, nfev, _ = optimise._least_squares(_Rosenbrock(), np.array([-1.2, 1.0]), bounds, 12)
    assert solution.status == 0 and nfev <= 12


def test_parallel_starts_give_the_same_result():
    frame = simulate_data(seed=8)
    serial = dg.fit(CROSSLINKING, frame, estimate=["kp1"], n_starts=2, seed=3, rtol=1e-8)
    parallel = dg.fit(CROSSLINKING, frame, estimate=["kp1"], n_starts=2, seed=3, rtol=1e-8, workers=2)
    np.testing.assert_array_equal([s.final for s in serial.starts], [s.final for s in parallel.starts])
    assert [s.initial.tolist() for s in serial.starts] != [[0.0], [0.0]]


@pytest.mark.requires_dask
def test_dask_cluster_gives_the_same_result():
    import distributed

    frame = simulate_data(seed=8)
    serial = dg.fit(CROSSLINKING, frame, estimate=["kp1"], n_starts=2, seed=3, rtol=1e-8)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_dask = dg.fit(
            CROSSLINKING, frame, estimate=["kp1"], n_starts=2, seed=3, rtol=1e-8, scheduler=client
        )
    np.testing.assert_array_equal([s.final for s in serial.starts], [s.final for s in on_dask.starts])


def test_designs_and_outputs():
    frame = simulate_data(seed=9)
    result = dg.fit(CROSSLINKING, frame, estimate=["kp1", "R"], n_starts=3, seed=1, design="sobol", rtol=1e-8)
    ds = result.to_dataset()
    assert ds.sizes == {"start": 3, "bound": 2, "measurement": len(frame)}
    assert str(ds["kp1"].pint.units) == "1 / molecule / second"
    assert (
        ds["R.initial_ci"].pint.magnitude[0]
        < ds["R.initial"].pint.magnitude
        < ds["R.initial_ci"].pint.magnitude[1]
    )
    assert int(ds.attrs["best_start"]) == int(np.argmin(ds["cost"].values))
    payload = result.to_json()
    assert set(payload["parameters"]["kp1"]) == {"value", "unit", "ci_low", "ci_high", "identifiability"}
    assert {"cost", "n_starts", "success"} <= set(payload)
    assert payload["n_starts"] == 3 and payload["parameters"]["R.initial"]["unit"] == "molecule"


@pytest.mark.requires_plot
def test_cli_writes_fit_json_and_a_plot(tmp_path, capsys):
    path = models_folder() / "data" / "crosslinking_synthetic.csv"
    out = tmp_path / "fit.json"
    plot = tmp_path / "fit.png"
    arguments = [
        "fit",
        CROSSLINKING,
        str(path),
        "--estimate",
        "kp1",
        "--starts",
        "2",
        "--seed",
        "0",
        "-o",
        str(out),
        "--plot",
        str(plot),
    ]
    assert main(arguments) == 0
    payload = json.loads(out.read_text())
    assert payload["parameters"]["kp1"]["unit"] == "1/(molecule*s)"
    assert (
        payload["parameters"]["kp1"]["ci_low"]
        < payload["parameters"]["kp1"]["value"]
        < payload["parameters"]["kp1"]["ci_high"]
    )
    assert payload["n_starts"] == 2 and payload["success"] is True
    assert plot.stat().st_size > 10_000
    # Not a terminal: one line per finished start, then a summary (no progress bar).
    err = capsys.readouterr().err.splitlines()
    assert [line.split(":")[1] for line in err] == [" fit"] * 3
    assert err[0].startswith("degranulation: fit: start 1 finished (1/2): cost ")
    assert err[2].startswith("degranulation: fit: 2/2 starts converged in ")


def test_cli_reports_bad_data_on_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("observable,time [min],value [molecule]\nRecDimer,1,2\n")
    assert main(["fit", CROSSLINKING, str(bad), "--estimate", "kp1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 2, column 'observable'" in err[0] and "RecDim" in err[0]
    assert main(["fit", CROSSLINKING, str(bad)]) == 2  # --estimate is required


@pytest.mark.slow
def test_harmon_2017_multistart_reaches_the_published_cost():
    # Harmon et al. 2017 fitted 15 rate constants to the six β-hex points of Fig. 4 (biology.md
    # D3.1; bounds 0.01×–100× the initial guesses, PyBNF model_fit.conf). From a space-filling
    # design over those bounds around the published values, multistart least squares must reach
    # a cost no worse than the published parameter set's own.
    model = dg.load_model("harmon2017_fceri_degranulation")
    data = dg.read_assay(models_folder() / "data" / "harmon2017_beta_hex.csv")
    names = [
        "koff",
        "kase",
        "pase",
        "kp_Syk",
        "km_Syk",
        "kp_Ship1",
        "km_Ship1",
        "ksynth1",
        "kpten",
        "kdegran",
        "kdegX",
        "k_Xon",
        "k_Xoff",
        "kp_x",
        "km_x",
    ]
    estimate = {}
    for name in names:
        value = model.get_parameter(name).value
        estimate[name] = {
            "bounds": [f"{value.value / 100} {value.unit}", f"{value.value * 100} {value.unit}"],
            "scale": "log10",
        }
    problem = make_problem(model, data, estimate=estimate, rtol=1e-6)
    published = problem.cost(np.array([f.to_optimizer(f.nominal) for f in problem.free]))
    # ½χ² of the published fit from biology.md's independent re-implementation (D3.1 table):
    # ½·Σ((data − model)/SD)² = 1.031.
    assert published == pytest.approx(1.031, abs=0.02)
    result = dg.fit(problem, n_starts=2, seed=0, workers=2, max_nfev=30)
    assert result.cost <= published


def _decay_in_seconds():
    return (
        dg.ModelBuilder("decay", units={"time": "s", "concentration": "uM", "amount": "nmol"})
        .compartment("well", "100 uL")
        .species("A", "2 uM", compartment="well")
        .species("B", "0 uM", compartment="well")
        .parameter("k", "0.005 1/s")
        .reaction("A -> B", "mass_action(k)")
        .observable("left", "A / (A + B)", "percent")
        .build()
    )


def test_to_dataset_gives_data_and_prediction_units_and_the_data_time_unit():
    """Issue 15: data and prediction had no units, times were in the model's unit."""
    t_min = np.array([0.5, 1.0, 2.0, 4.0, 8.0])
    a_nM = 2000.0 * np.exp(-0.3 * t_min) * np.array([1.01, 0.99, 1.02, 0.98, 1.0])
    frame = pd.DataFrame({"observable": "A", "time [min]": t_min, "value [nM]": a_nM, "sd [nM]": 50.0})
    result = dg.fit(_decay_in_seconds(), frame, estimate=["k"], n_starts=1, seed=0, rtol=1e-10)
    ds = result.to_dataset()
    assert str(ds["data"].pint.units) == "micromolar"  # the species' unit in the model
    np.testing.assert_allclose(ds["data"].pint.to("nM").pint.magnitude, a_nM, rtol=1e-12)
    np.testing.assert_allclose(ds["sigma"].pint.to("nM").pint.magnitude, 50.0, rtol=1e-12)
    assert str(ds["measured_time"].pint.units) == "minute"  # as the data were written
    np.testing.assert_allclose(ds["measured_time"].pint.magnitude, t_min, rtol=1e-12)
    k = result.parameters["k"].to("1/min").magnitude
    closed_form = 2.0 * np.exp(-k * t_min)  # A(t) = A0·exp(-k t), in uM
    np.testing.assert_allclose(ds["prediction"].pint.to("uM").pint.magnitude, closed_form, rtol=1e-7)
    assert list(ds["observable"].values) == ["A"] * 5


def test_to_dataset_with_readouts_of_different_units_lists_them():
    t_min = np.array([1.0, 2.0, 4.0])
    remaining = np.exp(-0.3 * t_min)
    amounts = pd.DataFrame({"observable": "A", "time [min]": t_min, "value [uM]": 2.0 * remaining})
    fractions = pd.DataFrame({"observable": "left", "time [min]": t_min, "value [percent]": 100 * remaining})
    result = dg.fit(_decay_in_seconds(), [amounts, fractions], estimate=["k"], n_starts=1, seed=0, rtol=1e-10)
    ds = result.to_dataset()
    assert ds["data"].attrs["value_units"] == "A: uM, left: percent"
    np.testing.assert_allclose(ds["data"].values, [*(2.0 * remaining), *(100 * remaining)], rtol=1e-12)
    np.testing.assert_allclose(result.parameters["k"].to("1/min").magnitude, 0.3, rtol=1e-6)
