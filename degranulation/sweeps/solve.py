"""Solving one chunk of a sweep's points: stacked (LSODA, CVODE) or one by one, each point's
readout or why it has none (failed, not at steady state).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from degranulation.errors import SimulationError
from degranulation.sweeps.plan import _Plan

STEADY_TOLERANCE: Final = 100  # solver tolerances a steady state may still move by (see _not_steady)
OK, FAILED, NOT_STEADY = "ok", "failed", "not_steady"


@dataclass(frozen=True, eq=False)
class _Part:
    """Results of one chunk: values (point × output × readout), status and message per point."""

    start: int
    values: np.ndarray
    status: list[str] = field(default_factory=list)
    message: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Failure:
    """Why a point has no values: its status and message."""

    status: str
    message: str


def _solve_chunk(plan: _Plan, chunk: int) -> _Part:
    """Solve the points of one chunk (in batches when the solver is LSODA)."""
    selected = plan.chunk_points(chunk)
    values = np.full((len(selected), len(plan.outputs), len(plan.keep)), np.nan)
    status, message = [OK] * len(selected), [""] * len(selected)
    for first in range(selected.start, selected.stop, plan.batch):
        members = range(first, min(first + plan.batch, selected.stop))
        inputs = [_inputs(plan, point) for point in members]
        results = _solve_stacked(plan, inputs) if plan.is_batched else [_solve_one(plan, *i) for i in inputs]
        for point, result in zip(members, results, strict=True):
            row = point - selected.start
            if isinstance(result, _Failure):
                status[row], message[row] = result.status, result.message
            else:
                values[row] = result
    return _Part(selected.start, values, status, message)


def _inputs(plan: _Plan, point: int) -> tuple[np.ndarray, np.ndarray]:
    p, x0 = plan.base_p.copy(), plan.base_x0.copy()
    for axis, k in zip(plan.axes, plan.points[point], strict=True):
        (x0 if axis.is_species else p)[axis.index] = axis.values[k]
    return p, x0


def _solve_one(plan: _Plan, p: np.ndarray, x0: np.ndarray) -> np.ndarray | _Failure:
    from degranulation.simulation import integrate

    try:
        trajectory = integrate(plan.compiled, plan.times, x0, p, plan.solver, plan.events, plan.state_events)
    except SimulationError as exc:
        return _Failure(FAILED, str(exc))
    # parameters that events change are taken at each output time
    parameters = trajectory.p if trajectory.p_t is None else trajectory.p_t[:, plan.keep]
    return _readout(plan, trajectory.x, parameters)


def _solve_stacked(plan: _Plan, inputs: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray | _Failure]:
    """Points solved as one stacked system; if that fails, each alone, so only the failing
    points are marked."""
    from degranulation.batching import StackedOde, stacked_solver
    from degranulation.simulation import integrate

    stacked = StackedOde(plan.compiled, len(inputs))
    p = np.concatenate([p for p, _ in inputs])
    y0 = stacked.stack(np.stack([x0 for _, x0 in inputs]))
    # integrate needs only what StackedOde provides of a CompiledOde (species, functions).
    ode: Any = stacked
    try:
        trajectory = integrate(
            ode, plan.times, y0, p, stacked_solver(plan.solver, stacked), stacked.shift(plan.events)
        )
    except SimulationError as exc:
        if len(inputs) == 1:
            return [_Failure(FAILED, str(exc))]
        return [result for single in inputs for result in _solve_stacked(plan, [single])]
    states = stacked.unstack(trajectory.x)
    final_p = trajectory.p.reshape(len(inputs), -1)
    return [_readout(plan, states[b], final_p[b]) for b in range(len(inputs))]


def _readout(plan: _Plan, x: np.ndarray, p: np.ndarray) -> np.ndarray | _Failure:
    """Kept outputs (output × readout) of one solved point, or why it is not at steady state."""
    if plan.is_steady:
        reason = _not_steady(plan, x)
        if reason:
            return _Failure(NOT_STEADY, reason)
    kept = x[:, plan.keep]
    times = plan.times[plan.keep]
    observed = plan.compiled.observe(kept, p, times)
    return np.stack([kept[o.index] if o.is_species else observed[o.index] for o in plan.outputs])


def _not_steady(plan: _Plan, x: np.ndarray) -> str:
    """Empty if no species moved by more than ``STEADY_TOLERANCE`` solver tolerances
    (``rtol·|x| + atol``) over the second half of the horizon; otherwise which one did.

    For relaxation to a steady state the remaining distance is at most that movement. The
    factor leaves room for the solver's global error, which its local tolerance does not
    bound: at steady state with rtol = 1e-10 LSODA's state still wanders by a few tolerances.
    """
    half, end = x[:, -2], x[:, -1]
    moved = np.abs(end - half)
    limit = STEADY_TOLERANCE * (plan.solver.rtol * np.abs(end) + plan.solver.absolute)
    if np.all(moved <= limit):
        return ""
    worst = int(np.argmax(moved / limit))
    horizon = float(plan.times[-1])
    return (
        f"not at steady state by t = {horizon:.6g}: '{plan.compiled.species[worst]}' moved by "
        f"{moved[worst]:.3g} over its second half (limit {limit[worst]:.3g}); "
        "integrate longer (larger t)"
    )
