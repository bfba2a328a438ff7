"""Generated Jacobians stay finite where rate laws are defined (issue 12).

References: SciPy's ``solve_ivp`` on the same equations written by hand, with its own
finite-difference Jacobian; closed forms for a floor-rate model.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from scipy.integrate import solve_ivp

import degranulation as dg
from degranulation import codegen
from degranulation.codegen import compile_model
from degranulation.symbolic import build_system, derivative_of

ALPHA, K, N, DELTA = 2.0, 0.5, 2.5, 0.3  # uM/min, uM, 1, 1/min


@pytest.fixture(scope="module")
def repressilator():
    """mRNA M_i made at alpha/(1 + (P_{i-1}/K)^n), proteins P_i from M_i; everything from 0."""
    b = (
        dg.ModelBuilder("repressilator", units={"time": "min", "concentration": "uM"})
        .compartment("cell", "1 pL")
        .parameter("alpha", f"{ALPHA} uM/min")
        .parameter("K", f"{K} uM")
        .parameter("n", f"{N}")
        .parameter("delta", f"{DELTA} 1/min")
    )
    for i, previous in ((1, 3), (2, 1), (3, 2)):
        b = (
            b.species(f"M{i}", "0 uM", compartment="cell")
            .species(f"P{i}", "0 uM", compartment="cell")
            .reaction(f"-> M{i}", f"cell*alpha/(1 + (P{previous}/K)**n)")
            .reaction(f"M{i} ->", "mass_action(delta)")
            .reaction(f"M{i} -> M{i} + P{i}", "mass_action(delta)")
            .reaction(f"P{i} ->", "mass_action(delta)")
        )
    return b.build()


def _by_hand(t, y):
    m, p = y[:3], y[3:]
    repressor = np.maximum(p[[2, 0, 1]], 0.0)
    return np.concatenate([ALPHA / (1 + (repressor / K) ** N) - DELTA * m, DELTA * m - DELTA * p])


def test_power_rule_jacobian_is_finite_at_zero(repressilator):
    compiled = compile_model(repressilator, cache_dir=False)
    _, jac = compiled.functions(compiled.default_parameters, None)
    matrix = jac(0.0, np.zeros(6)).toarray()
    assert np.all(np.isfinite(matrix))
    x, n = sympy.symbols("x n")
    assert derivative_of(x**n, x) == n * x ** (n - 1)


@pytest.mark.parametrize("small_jacobian", [100, 0])  # entry by entry; as a sparse matrix
def test_jacobian_and_its_product_match_differences_of_the_hand_written_model(
    repressilator, monkeypatch, small_jacobian
):
    # Sensitivities use jacobian_product (both of its ways, by codegen.SMALL_JACOBIAN), the
    # solvers the sparse Jacobian: both must be the derivative of _by_hand, here by central
    # differences.
    monkeypatch.setattr(codegen, "SMALL_JACOBIAN", small_jacobian)
    compiled = compile_model(repressilator, cache_dir=False)
    order = [compiled.species.index(name) for name in ("M1", "M2", "M3", "P1", "P2", "P3")]
    x = np.array([0.3, 1.1, 0.7, 0.9, 0.2, 1.6])
    h = 1e-6
    expected = np.column_stack(
        [(_by_hand(0.0, x + h * e) - _by_hand(0.0, x - h * e)) / (2 * h) for e in np.eye(6)]
    )
    state = np.empty(6)
    state[order] = x
    p = compiled.default_parameters
    sparse = compiled.functions(p)[1](0.0, state).toarray()[np.ix_(order, order)]
    np.testing.assert_allclose(sparse, expected, rtol=1e-7, atol=1e-9)
    s = np.random.default_rng(0).normal(size=(6, 3))  # rows in the model's species order
    product = compiled.jacobian_product(p)(0.0, state, s)[order]
    np.testing.assert_allclose(product, expected @ s[order], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("solver", ["BDF", "Radau"])
def test_hill_model_from_zero_matches_solve_ivp(repressilator, solver):
    # Was: "solver failed at t = 0 ... Factor is exactly singular" (n*x**n/x is NaN at x = 0).
    times = np.linspace(0, 40, 9)
    ds = dg.simulate(repressilator, t="40 min", points=9, solver=solver, rtol=1e-9, atol=1e-12)
    reference = solve_ivp(
        _by_hand, (0, 40), np.zeros(6), method="LSODA", t_eval=times, rtol=1e-11, atol=1e-13
    )
    for k, name in enumerate(["M1", "M2", "M3", "P1", "P2", "P3"]):
        np.testing.assert_allclose(ds[name].pint.magnitude, reference.y[k], rtol=1e-6, atol=1e-9)


def test_undifferentiable_jacobian_hint_does_not_send_to_another_solver():
    # d sqrt(A)/dA is infinite at A = 0: no stiff solver helps, and the hint must say so.
    model = (
        dg.ModelBuilder("root", units={"time": "min", "concentration": "uM"})
        .compartment("cell", "1 pL")
        .species("A", "0 uM", compartment="cell")
        .species("B", "1 uM", compartment="cell")
        .parameter("k", "1 uM/min")
        .parameter("K", "1 uM")
        .reaction("B -> A", "cell*k*(A/K)**0.5")
        .build()
    )
    for solver in ("BDF", "Radau"):
        with pytest.raises(dg.SimulationError) as caught:
            dg.simulate(model, t="1 min", solver=solver, cache_dir=False)
        assert "Radau" not in caught.value.hint
        assert "Jacobian is not a number" in caught.value.hint and "A" in caught.value.hint


@pytest.fixture(scope="module")
def stairs():
    """A -> B at k·K·floor(A/K): from A = 3.5 K, linear pieces down to A = K, then stops."""
    return (
        dg.ModelBuilder("stairs", units={"time": "min", "concentration": "uM"})
        .compartment("cell", "1 pL")
        .species("A", "3.5 uM", compartment="cell")
        .species("B", "0 uM", compartment="cell")
        .parameter("k", "1 1/min")
        .parameter("K", "1 uM")
        .reaction("A -> B", "cell*k*K*floor(A/K) + 0*cell*k*K*ceil(A/K)")
        .build()
    )


def test_floor_and_ceil_have_zero_derivative(stairs):
    # Was: the printer raised on Derivative(floor(...)) (_print_Derivative_floor).
    system = build_system(stairs)
    assert not any(e.has(sympy.Derivative, sympy.Subs) for e in [*system.jac.values(), *system.dfdp.values()])
    compiled = compile_model(stairs, sensitivities=True, cache_dir=False)
    assert np.all(
        np.isfinite(compiled.dfdp(0.0, compiled.default_initial, compiled.default_parameters).toarray())
    )
    # Closed form (k = K = 1): slope -3 until A = 3 (t = 1/6), -2 until A = 2 (t = 2/3),
    # -1 until A = 1 (t = 5/3), then 0.
    ds = dg.simulate(stairs, t=["0 min", "0.1 min", "0.5 min", "1 min", "3 min"], rtol=1e-10, atol=1e-12)
    expected = [3.5, 3.2, 3 - 2 * (0.5 - 1 / 6), 2 - (1 - 2 / 3), 1.0]
    np.testing.assert_allclose(ds["A"].pint.magnitude, expected, rtol=1e-6)
