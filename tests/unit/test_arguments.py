"""Public arguments spelled alike across functions: ``cache_dir`` wherever code is generated,
``level`` for confidence levels (the old ``confidence`` still works, with a warning)."""

import math
import warnings

import numpy as np
import pytest
import xarray as xr

import degranulation as dg
from degranulation.estimation.measurements import make_problem


def _decay(rate: str) -> dg.Model:
    # A model of its own per test (its rate constant differs), so that no earlier test has
    # compiled it in this process and compiling writes the cache file.
    return (
        dg.ModelBuilder("decay", units={"time": "s", "concentration": "nM", "amount": "molecule"})
        .compartment("cell", "1 pL")
        .species("A", "1000 molecule", compartment="cell")
        .species("B", "0 molecule", compartment="cell")
        .parameter("k", rate)
        .reaction("A -> B", "mass_action(k)")
        .build()
    )


def test_simulate_sensitivities_uses_cache_dir(tmp_path):
    ds = dg.simulate_sensitivities(_decay("0.0123 1/s"), t="10 s", wrt=["k"], points=3, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    # A(t) = 1000 exp(-k t): k ∂A/∂k = -k t A
    a = 1000 * math.exp(-0.123)
    np.testing.assert_allclose(float(ds["A_sensitivity"].pint.magnitude[-1, 0]), -0.123 * a, rtol=1e-4)


def test_fit_and_make_problem_use_cache_dir(tmp_path):
    model = _decay("0.0234 1/s")
    import pandas as pd

    times = [2.0, 5.0, 10.0]
    frame = pd.DataFrame(
        {
            "observable": ["A"] * 3,
            "time [s]": times,
            "value [molecule]": [1000 * math.exp(-0.05 * t) for t in times],
            "sd [molecule]": [1.0] * 3,
        }
    )
    make_problem(model, frame, estimate=["k"], cache_dir=tmp_path / "problem")
    assert len(list((tmp_path / "problem").glob("*.npz"))) == 1
    result = dg.fit(
        _decay("0.0345 1/s"), frame, estimate=["k"], n_starts=1, seed=0, cache_dir=tmp_path / "fit"
    )
    assert len(list((tmp_path / "fit").glob("*.npz"))) == 1
    assert abs(result.parameters["k"].to("1/s").magnitude - 0.05) < 1e-5  # the data's rate


def _hill_curve() -> xr.DataArray:
    x = np.geomspace(0.01, 100, 21)
    noise = np.random.default_rng(0).normal(0, 0.05, x.size)  # a non-zero interval
    y = 2 + 8 * x**1.5 / (1 + x**1.5) + noise
    return xr.DataArray(y, dims="Ag", coords={"Ag": ("Ag", x, {"units": "nM"})}, attrs={"units": "percent"})


def test_hill_fit_takes_level_and_the_old_confidence_with_a_warning():
    curve = _hill_curve()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new spelling warns about nothing
        new = dg.hill_fit(curve, level=0.8)
    with pytest.warns(DeprecationWarning, match=r"hill_fit\(confidence=...\) is deprecated: use level="):
        old = dg.hill_fit(curve, confidence=0.8)
    assert old.ec50_ci == new.ec50_ci and new.confidence == 0.8
    wider = dg.hill_fit(curve, level=0.99)
    assert wider.ec50_ci[0] < new.ec50_ci[0] < new.ec50_ci[1] < wider.ec50_ci[1]


def test_solver_base_class_is_public():
    from degranulation.solvers import Solver

    assert all(isinstance(s, Solver) for s in (dg.BDF(), dg.Radau(), dg.LSODA(), dg.CVODE()))


def test_read_petab_uses_cache_dir(tmp_path):
    pytest.importorskip("petab")
    dg.write_sbml(_decay("0.0456 1/s"), tmp_path / "model.xml")
    tables = {
        "conditions": "conditionId\tconditionName\nc\tc\n",
        "observables": "observableId\tobservableFormula\tnoiseFormula\nleft\tA\t1\n",
        "parameters": "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\n"
        "k\tlog10\t1e-3\t1\t0.0456\t1\n",
        "measurements": "observableId\tsimulationConditionId\ttime\tmeasurement\nleft\tc\t10\t600\n",
    }
    for name, text in tables.items():
        (tmp_path / f"{name}.tsv").write_text(text)
    (tmp_path / "problem.yaml").write_text(
        "format_version: 1\nparameter_file: parameters.tsv\nproblems:\n- sbml_files: [model.xml]\n"
        "  condition_files: [conditions.tsv]\n  measurement_files: [measurements.tsv]\n"
        "  observable_files: [observables.tsv]\n"
    )
    problem = dg.read_petab(tmp_path / "problem.yaml", cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    # A(10 s) = 1000 exp(-0.456) at the nominal k
    np.testing.assert_allclose(problem.predict(problem.nominal).y, [1000 * math.exp(-0.456)], rtol=1e-6)
