"""Property tests: conservation laws of random mass-action networks (exact left null space of
the stoichiometry, constant totals along simulated trajectories) and non-negative states."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given

from degranulation.codegen import CompiledOde, compile_model
from degranulation.errors import SimulationError
from degranulation.network import Model
from degranulation.results import Trajectory
from degranulation.simulation import integrate
from degranulation.solvers import BDF
from degranulation.testing.strategies import networks, state_scale

RTOL = 1e-8
#: Simulated time: long enough for the fastest reactions (up to ~1/s at typical states) to run
#: to completion, short enough that autocatalytic networks rarely reach a finite-time blow-up.
HORIZON_S = 10.0


def _stoichiometry(model: Model) -> np.ndarray:
    """``N`` written out from the equations (boundary species' rows are zero)."""
    index = {s.id: i for i, s in enumerate(model.species)}
    matrix = np.zeros((len(model.species), len(model.reactions)), dtype=np.int64)
    for j, reaction in enumerate(model.reactions):
        for name, coefficient in reaction.reactants:
            matrix[index[name], j] -= coefficient
        for name, coefficient in reaction.products:
            matrix[index[name], j] += coefficient
    matrix[[s.boundary for s in model.species], :] = 0
    return matrix


@given(model=networks(n_species=(1, 8), n_reactions=(0, 8)))
def test_conservation_laws_are_a_basis_of_the_left_null_space(model: Model) -> None:
    stoichiometry = _stoichiometry(model)
    laws = np.array(compile_model(model, cache_dir=False).conservation_laws, dtype=np.int64)
    n_species = len(model.species)
    expected = n_species - (np.linalg.matrix_rank(stoichiometry) if stoichiometry.size else 0)
    assert len(laws) == expected  # as many laws as the left null space has dimensions
    if expected:
        assert not np.any(laws @ stoichiometry)  # exact integer arithmetic: lᵀN = 0
        assert np.linalg.matrix_rank(laws) == expected  # independent, so a basis


def _simulate(model: Model) -> tuple[CompiledOde, Trajectory, float]:
    """Integrate from the model's initial state with tight tolerances; skip runs whose exact
    solution blows up (finite-time blow-up is a property of some autocatalytic networks)."""
    compiled = compile_model(model, cache_dir=False)
    atol = 1e-12 * float(state_scale(compiled).min())
    times = np.linspace(0.0, model.units.magnitude(HORIZON_S, "s"), 21)
    try:
        trajectory = integrate(
            compiled, times, compiled.default_initial, compiled.default_parameters, BDF(rtol=RTOL, atol=atol)
        )
    except SimulationError as failure:
        state = np.array(list(failure.state.values()))
        assume(np.max(np.abs(state) / state_scale(compiled)) < 1e6)  # not a blow-up: a failure
        raise
    return compiled, trajectory, atol


@given(model=networks(n_species=(2, 6)))
def test_conserved_totals_stay_constant_along_trajectories(model: Model) -> None:
    compiled, trajectory, atol = _simulate(model)
    amounts = compiled.amounts(trajectory.x, trajectory.p)
    amount_atol = compiled.amounts(np.full((len(model.species), 1), atol), trajectory.p)[:, 0]
    for law in np.array(compiled.conservation_laws, dtype=float):
        total = law @ amounts
        # The solver keeps each species within ~atol + rtol·|a|; a conserved total may drift by
        # the sum of those errors and no more.
        bound = 100 * np.abs(law) @ (amount_atol + RTOL * np.abs(amounts).max(axis=1))
        assert np.all(np.abs(total - total[0]) <= bound)


@given(model=networks(n_species=(2, 6)))
def test_states_stay_non_negative(model: Model) -> None:
    # Mass action: a species at zero has no consuming flux, so the exact solution stays >= 0;
    # the numerical one may dip below by the solver's error tolerance only.
    _, trajectory, atol = _simulate(model)
    tolerance = 10 * (atol + RTOL * np.abs(trajectory.x).max(axis=1, keepdims=True))
    assert np.all(trajectory.x >= -tolerance)
