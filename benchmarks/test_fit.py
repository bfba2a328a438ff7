"""Fitting time: one residual-plus-Jacobian evaluation with forward sensitivities against the
same Jacobian by central finite differences (the baseline: 2 extra solves per parameter), and
a whole synthetic-data fit with 5 starts.

Models: ``ige_fceri_crosslinking`` (4 species; the checked-in synthetic data, 2 conditions,
kp1 and kp2) and ``harmon2017_fceri_degranulation`` (23 species; the six Harmon 2017 β-hex
conditions, 15 published rate constants). rtol = 1e-6, the automatic atol. Times are the
best of the rounds; ``speedup_gradient`` is finite-difference time / sensitivity time. The
smoke run (``--benchmark-disable``) checks that both Jacobians agree.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import degranulation as dg
from degranulation.estimation.measurements import make_problem
from degranulation.library import models_folder

HARMON = [
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
CASES = {
    "ige_fceri_crosslinking": ("crosslinking_synthetic.csv", ["kp1", "kp2"]),
    "harmon2017_fceri_degranulation": ("harmon2017_beta_hex.csv", HARMON),
}


def best_time(call, rounds):
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return min(times), result


def finite_difference_jacobian(problem, phi, step=1e-3):
    columns = []
    for k in range(len(phi)):
        shift = np.zeros(len(phi))
        shift[k] = step
        plus, _ = problem.residuals(phi + shift, jacobian=False)
        minus, _ = problem.residuals(phi - shift, jacobian=False)
        columns.append((plus - minus) / (2 * step))
    return np.column_stack(columns)


@pytest.mark.parametrize("model_id", list(CASES))
def test_gradient_sensitivities_vs_finite_differences(benchmark, model_id):
    file, names = CASES[model_id]
    if benchmark.disabled and model_id.startswith("harmon"):
        names = names[:2]  # smoke run: the same code path, a fraction of the time
    problem = make_problem(model_id, models_folder() / "data" / file, estimate=names, rtol=1e-6)
    phi = np.array([f.to_optimizer(f.nominal) for f in problem.free])
    rounds = 1 if benchmark.disabled else 3
    residual_s, _ = best_time(lambda: problem.residuals(phi, jacobian=False), rounds)
    sensitivity_s, (_, jacobian) = best_time(lambda: problem.residuals(phi), rounds)
    difference_s, difference = best_time(lambda: finite_difference_jacobian(problem, phi), rounds)
    benchmark.pedantic(problem.residuals, args=(phi,), rounds=rounds)
    numbers = {
        "residuals_only_s": residual_s,
        "sensitivity_gradient_s": sensitivity_s,
        "finite_difference_gradient_s": difference_s,
        "speedup_gradient": difference_s / sensitivity_s,
        "n_parameters": len(names),
    }
    benchmark.extra_info.update(numbers)
    print("\n" + "\n".join(f"  {model_id} {k}: {v:.4g}" for k, v in numbers.items()))
    scale = np.abs(difference).max()
    np.testing.assert_allclose(jacobian, difference, rtol=1e-2, atol=1e-3 * scale)


def test_synthetic_fit_five_starts(benchmark):
    data = models_folder() / "data" / "crosslinking_synthetic.csv"
    starts = 2 if benchmark.disabled else 5

    def run():
        return dg.fit(
            "ige_fceri_crosslinking", data, estimate=["kp1", "R"], n_starts=starts, seed=0, rtol=1e-6
        )

    seconds, result = best_time(run, 1)
    benchmark.pedantic(run, rounds=1)
    evaluations = sum(s.nfev for s in result.starts)
    numbers = {
        "fit_s": seconds,
        "n_starts": starts,
        "evaluations": evaluations,
        "per_evaluation_s": seconds / evaluations,
    }
    benchmark.extra_info.update(numbers)
    print("\n" + "\n".join(f"  fit {k}: {v:.4g}" for k, v in numbers.items()))
    assert result.success
