"""Simulate time: the analytic sparse Jacobian with BDF (the default) against LSODA with the
dense analytic Jacobian and against BDF with SciPy's finite-difference Jacobian (the
baseline), all through ``scipy.integrate.solve_ivp`` with the same compiled right-hand side,
in the same process; plus ``dg.simulate`` end to end.

Models: ``ige_fceri_crosslinking`` (4 species) and ``fceri_faeder2003`` (354 species, 3680
reactions: BioNetGen's fceri_ji, whose numbers DESIGN.md quotes), 0–600 s, 61 output times,
rtol = atol = 1e-8 as in DESIGN.md. Each strategy's time is the best of the rounds; ratios
are baseline time / strategy time, so > 1 means faster than finite differences.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.integrate

import degranulation as dg
from degranulation.codegen import compile_model

RTOL = ATOL = 1e-8
T_END_S = 600.0
SMOKE_T_END_S = 10.0  # under --benchmark-disable: the same code paths, a fraction of the time


def strategies(ode):
    fun, jac = ode.functions(ode.default_parameters)
    return fun, {
        "bdf_sparse_analytic": {"method": "BDF", "jac": jac},
        "lsoda_dense_analytic": {"method": "LSODA", "jac": lambda t, x: jac(t, x).toarray()},
        "bdf_finite_difference": {"method": "BDF"},  # the baseline
    }


def best_time(call, rounds: int):
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return min(times), result


@pytest.mark.parametrize("model_id", ["ige_fceri_crosslinking", "fceri_faeder2003"])
def test_simulate_jacobian_strategies(benchmark, model_id: str) -> None:
    model = dg.load_model(model_id)
    ode = compile_model(model, cache_dir=False)
    fun, options = strategies(ode)
    rounds, t_end = (1, SMOKE_T_END_S) if benchmark.disabled else (3, T_END_S)
    t_eval = np.linspace(0.0, t_end, 61)
    seconds, finals = {}, {}
    for name, option in options.items():
        seconds[name], solution = best_time(
            lambda option=option: scipy.integrate.solve_ivp(
                fun, (0.0, t_end), ode.default_initial, t_eval=t_eval, rtol=RTOL, atol=ATOL, **option
            ),
            rounds,
        )
        assert solution.success, (name, solution.message)
        finals[name] = solution.y[:, -1]
    simulate_s, ds = best_time(
        lambda: dg.simulate(model, t=f"{t_end} s", points=61, rtol=RTOL, atol=ATOL, cache_dir=False), rounds
    )
    benchmark.pedantic(
        scipy.integrate.solve_ivp,
        args=(fun, (0.0, t_end), ode.default_initial),
        kwargs={"t_eval": t_eval, "rtol": RTOL, "atol": ATOL, **options["bdf_sparse_analytic"]},
        rounds=rounds,
    )
    baseline = seconds["bdf_finite_difference"]
    numbers = {f"{name}_s": value for name, value in seconds.items()}
    numbers |= {f"speedup_{name}": baseline / value for name, value in seconds.items()}
    numbers["dg_simulate_s"] = simulate_s
    benchmark.extra_info.update(numbers)
    print("\n" + "\n".join(f"  {model_id} {name}: {value:.4g}" for name, value in numbers.items()))
    # Smoke checks: the three strategies reach the same state, and so does dg.simulate.
    scale = np.abs(ode.default_initial).max()
    for name, final in finals.items():
        np.testing.assert_allclose(
            final, finals["bdf_sparse_analytic"], rtol=1e-5, atol=1e-6 * scale, err_msg=name
        )
    end_state = np.array([np.asarray(ds[s].pint.magnitude)[-1] for s in ode.species])
    np.testing.assert_allclose(end_state, finals["bdf_sparse_analytic"], rtol=1e-5, atol=1e-6 * scale)
