"""What a sweep solves: the swept axes with their values in model units, the grid of points,
the readout times, the outputs, and the plain-data identity (spec) a resumed sweep must match.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np

from degranulation.errors import ModelError, UnitError
from degranulation.network import Model, Species, UnitValue
from degranulation.typing import QuantityLike
from degranulation.units import as_written

if TYPE_CHECKING:
    import pint

    from degranulation.codegen import CompiledOde
    from degranulation.protocols import Event, ProtocolLike
    from degranulation.solvers import Solver
    from degranulation.state_events import CompiledEvents

SweepMode = Literal["product", "zip"]
STEADY: Final = "steady"
CHUNKS: Final = 64  # a sweep is cut into about this many chunks (tasks, files)
MAX_DOSES: Final = 1_000_000  # most values geomspace makes


def geomspace(start: QuantityLike, stop: QuantityLike, num: int) -> pint.Quantity:
    """``num`` values evenly spaced on a log scale, with units (in ``start``'s unit).

    Parameters
    ----------
    start, stop : str or Quantity
        E.g. ``"1 pM"`` and ``"10 uM"``; ``stop`` is converted to ``start``'s unit.
    num : int
        Number of values, from 2 to :data:`MAX_DOSES`.

    Raises
    ------
    UnitError
        For values without units, of different dimensions, or not positive.
    ValueError
        For ``num`` outside 2 … :data:`MAX_DOSES`.

    Examples
    --------
    >>> import degranulation as dg
    >>> doses = dg.geomspace("1 pM", "10 nM", 5)
    >>> [round(float(v), 6) for v in doses.magnitude], str(doses.units)
    ([1.0, 10.0, 100.0, 1000.0, 10000.0], 'picomolar')
    """
    from degranulation.units import parse_unit, registry

    first, last = UnitValue.parse(start), UnitValue.parse(stop)
    begin = registry().Quantity(first.value, parse_unit(first.unit))
    end = registry().Quantity(last.value, parse_unit(last.unit))
    if begin.dimensionality != end.dimensionality:
        raise UnitError(
            f"'{first}' and '{last}' have different dimensions",
            hint="give both ends in compatible units, e.g. '1 pM' and '10 uM'",
        )
    end = end.to(begin.units)
    if not (begin.magnitude > 0 and end.magnitude > 0 and math.isfinite(end.magnitude)):
        raise UnitError(
            f"geomspace needs positive, finite ends; got '{first}' and '{last}'",
            hint="use a list of values to include zero",
        )
    if not isinstance(num, int) or isinstance(num, bool) or not 2 <= num <= MAX_DOSES:
        raise ValueError(f"num must be an integer from 2 to {MAX_DOSES}, got {num!r}")
    return registry().Quantity(np.geomspace(float(begin.magnitude), float(end.magnitude), num), begin.units)


@dataclass(frozen=True, eq=False)
class _Axis:
    """One swept name: where it goes (a parameter or a species' initial value) and its values."""

    name: str
    is_species: bool
    index: int
    values: np.ndarray  # in the model's units
    shown: np.ndarray  # as given, in ``unit``
    unit: str


@dataclass(frozen=True, eq=False)
class _Output:
    """One variable of the result: a species or an observable, and its unit."""

    name: str
    is_species: bool
    index: int
    unit: str
    long_name: str


@dataclass(frozen=True, eq=False)
class _Plan:
    """Everything a worker needs to solve any chunk (pickled once per worker)."""

    compiled: CompiledOde
    solver: Solver
    is_batched: bool
    batch: int
    chunk_size: int
    times: np.ndarray  # integration outputs, model time unit, from 0
    keep: np.ndarray  # which of ``times`` are reported
    is_steady: bool
    base_p: np.ndarray
    base_x0: np.ndarray
    axes: tuple[_Axis, ...]
    points: np.ndarray  # point × axis: index into each axis's values
    outputs: tuple[_Output, ...]
    events: tuple[Event, ...]
    state_events: CompiledEvents | None = None  # the model's events triggered by the state

    @property
    def n_points(self) -> int:
        return len(self.points)

    @property
    def n_chunks(self) -> int:
        return -(-self.n_points // self.chunk_size)

    def chunk_points(self, chunk: int) -> range:
        return range(chunk * self.chunk_size, min((chunk + 1) * self.chunk_size, self.n_points))


def _make_plan(
    model: Model,
    compiled: CompiledOde,
    grid: Mapping[str, Any],
    *,
    t: Any,
    at: Any,
    observe: str | Sequence[str] | None,
    mode: SweepMode,
    params: Mapping[str, Any] | None,
    initial: Mapping[str, Any] | None,
    protocol: ProtocolLike,
    solver: str | Solver | None,
    rtol: float | None,
    atol: float | str | None,
    points: int,
    batch: int | None,
) -> _Plan:
    from degranulation.batching import default_batch
    from degranulation.protocols import protocol_steps, resolve
    from degranulation.simulation import absolute_tolerance, initial_state, parameter_vector
    from degranulation.solvers import solver_from
    from degranulation.state_events import compile_events

    if mode not in ("product", "zip"):
        raise ValueError(f"unknown mode '{mode}'; expected 'product' or 'zip'")
    if not grid:
        raise ValueError("the grid is empty; give at least one name and its values")
    fixed = set(params or {}) | set(initial or {})
    axes = tuple(_axis(model, compiled, str(name), values, fixed) for name, values in grid.items())
    indices = _grid_points(axes, mode)
    times, keep, is_steady = _readout_times(model, t, at, points)
    p = parameter_vector(model, compiled, params or {})
    options = solver_from(
        _default_solver(solver, compiled), rtol=rtol, atol=absolute_tolerance(model, compiled, atol, p)
    )
    state_events = compile_events(model, compiled)
    # a stacked solve would stop every point at any one's event: points with events go one by one
    is_batched = options.name in ("LSODA", "CVODE") and state_events is None
    if batch is not None and (not isinstance(batch, int) or batch < 1):
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    if batch not in (None, 1) and state_events is not None:
        raise ValueError(
            f"batch={batch}: model '{model.id}' has events triggered by the state, so each point is "
            "solved alone (its events fire at its own times)"
        )
    if batch not in (None, 1) and not is_batched:
        raise ValueError(
            f"batch={batch} needs solver='LSODA' or 'CVODE'; {options.name} solves one point at a time"
        )
    size = (batch or default_batch(compiled.n_species, len(indices))) if is_batched else 1
    per_chunk = size * max(1, round(len(indices) / (size * CHUNKS)))
    return _Plan(
        compiled=compiled,
        solver=options,
        is_batched=is_batched,
        batch=size,
        chunk_size=per_chunk,
        times=times,
        keep=keep,
        is_steady=is_steady,
        base_p=p,
        base_x0=initial_state(model, compiled, initial or {}),
        axes=axes,
        points=indices,
        outputs=_outputs(model, compiled, observe, {a.name for a in axes}),
        events=resolve(model, compiled, protocol_steps(model, protocol)),
        state_events=state_events,
    )


def _default_solver(solver: str | Solver | None, compiled: CompiledOde) -> str | Solver:
    if solver is not None:
        return solver
    from degranulation.solvers import default_solver

    return default_solver(compiled.n_species)


def _axis(model: Model, compiled: CompiledOde, name: str, values: Any, fixed: set[str]) -> _Axis:
    from degranulation.values import internal_value

    species, parameters = list(compiled.species), list(compiled.parameters)
    if name in fixed:
        raise ValueError(f"'{name}' is both swept and set in params/initial; sweep it or fix it")
    is_species = name in species
    if not is_species and name not in parameters:
        close = difflib.get_close_matches(name, species + parameters, n=1)
        hint = f"did you mean '{close[0]}'?" if close else "sweep a parameter, compartment or species"
        raise ModelError(
            f"cannot sweep '{name}': model '{model.id}' has no parameter, compartment or "
            "species of that name",
            location=f"grid.{name}",
            hint=hint,
        )
    shown, unit = _magnitudes(name, values)
    unit = as_written(unit, _model_unit(model, name))
    try:
        factor = internal_value(model, name, UnitValue(1.0, unit))
    except UnitError as exc:
        raise UnitError(exc.message, location=f"grid.{name}", hint=exc.hint) from None
    internal = shown * factor
    if not np.all(np.isfinite(internal)):
        raise UnitError(f"values for '{name}' must be finite", location=f"grid.{name}")
    if is_species and np.any(internal < 0):
        raise ModelError(f"initial values for '{name}' must not be negative", location=f"grid.{name}")
    index = species.index(name) if is_species else parameters.index(name)
    return _Axis(name=name, is_species=is_species, index=index, values=internal, shown=shown, unit=unit)


def _model_unit(model: Model, name: str) -> str:
    record = model.by_id[name]
    for field_name in ("initial", "value", "size"):  # species, parameter, compartment
        if hasattr(record, field_name):
            return str(getattr(record, field_name).unit)
    return ""


def _magnitudes(name: str, values: Any) -> tuple[np.ndarray, str]:
    """Values given for one name, as magnitudes in one unit (the first value's)."""
    from degranulation.units import parse_unit, registry

    if hasattr(values, "magnitude") and hasattr(values, "units") and np.ndim(values.magnitude) == 1:
        shown = np.asarray(values.magnitude, dtype=float)
        unit = f"{values.units:~C}" or "dimensionless"
    elif isinstance(values, str) or not isinstance(values, Sequence | np.ndarray) or np.ndim(values) != 1:
        hint = "e.g. ['1 nM', '10 nM'] or dg.geomspace('1 pM', '10 uM', 41)"
        raise UnitError(
            f"grid values for '{name}' must be a list of values with units",
            location=f"grid.{name}",
            hint=hint,
        )
    else:
        try:
            parsed = [UnitValue.parse(v) for v in values]
        except UnitError as exc:
            raise UnitError(exc.message, location=f"grid.{name}", hint=exc.hint) from None
        if not parsed:
            raise ValueError(f"grid values for '{name}' are empty")
        unit = parsed[0].unit
        target = parse_unit(unit)
        try:
            shown = np.array(
                [registry().Quantity(v.value, parse_unit(v.unit)).to(target).magnitude for v in parsed],
                dtype=float,
            )
        except Exception as exc:  # pint's DimensionalityError: mixed dimensions in one axis
            raise UnitError(
                f"grid values for '{name}' mix dimensions ({exc})", location=f"grid.{name}"
            ) from None
    if len(shown) == 0:
        raise ValueError(f"grid values for '{name}' are empty")
    return shown, unit


def _grid_points(axes: Sequence[_Axis], mode: SweepMode) -> np.ndarray:
    """Point × axis index table, in C order of the result's dimensions."""
    sizes = [len(a.values) for a in axes]
    if mode == "zip":
        if len(set(sizes)) > 1:
            listed = ", ".join(f"{a.name}: {len(a.values)}" for a in axes)
            raise ValueError(f"mode='zip' needs value lists of one length; got {listed}")
        return np.repeat(np.arange(sizes[0])[:, None], len(axes), axis=1)
    return np.stack(np.unravel_index(np.arange(math.prod(sizes)), sizes), axis=1)


def _readout_times(model: Model, t: Any, at: Any, points: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Integration output times (solves start at 0), which of them are read out, and steady or not."""
    from degranulation.simulation import output_times

    if isinstance(at, str) and at == STEADY:
        if t is None:
            raise ValueError("at='steady' needs a horizon t to integrate to, e.g. t='10 h'")
        end = output_times(model, t, 2)[-1]
        return np.array([0.0, end / 2, end]), np.array([2]), True
    if at is None:
        if t is None:
            raise ValueError("give t (time courses to this end time) or at (readout times or 'steady')")
        times = output_times(model, t, points)
        return times, np.arange(len(times)), False
    if t is not None:
        raise ValueError("give either t (time courses) or at (readout times), not both")
    try:
        readouts = output_times(model, [at] if _is_scalar_time(at) else at)
    except UnitError as exc:
        raise UnitError(exc.message, location="at", hint=exc.hint) from None
    return readouts, np.arange(len(readouts)), False


def _is_scalar_time(at: Any) -> bool:
    return isinstance(at, str) or (hasattr(at, "magnitude") and np.ndim(at.magnitude) == 0)


def _outputs(
    model: Model, compiled: CompiledOde, observe: str | Sequence[str] | None, swept: set[str]
) -> tuple[_Output, ...]:
    from degranulation.results import species_unit

    everything = [*compiled.species, *compiled.observables]
    names = [observe] if isinstance(observe, str) else list(observe or everything)
    outputs = []
    for name in names:
        record = model.by_id.get(name)
        if isinstance(record, Species):
            shown = f"{name}_readout" if name in swept else name
            outputs.append(
                _Output(
                    shown,
                    True,
                    compiled.species.index(name),
                    species_unit(model, record),
                    record.label or name,
                )
            )
        elif name in compiled.observables:
            observable = model.observables[compiled.observables.index(name)]
            outputs.append(
                _Output(
                    name,
                    False,
                    compiled.observables.index(name),
                    observable.unit,
                    observable.description or name,
                )
            )
        else:
            choices = [*compiled.species, *compiled.observables]
            close = difflib.get_close_matches(str(name), choices, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"choose from {', '.join(choices[:12])}"
            raise ModelError(
                f"cannot observe '{name}': not a species or observable of '{model.id}'",
                location="observe",
                hint=hint,
            )
    if len({o.name for o in outputs}) < len(outputs):
        raise ValueError("observe names a variable twice")
    return tuple(outputs)


def _spec(model: Model, plan: _Plan, *, grid_mode: str, given: dict[str, Any]) -> dict[str, Any]:
    """Plain-data identity of a sweep: a resumed sweep must have exactly this."""

    def text(value: Any) -> Any:
        if value is None or isinstance(value, str | int | float):
            return value
        if isinstance(value, Mapping):
            return {str(k): text(v) for k, v in value.items()}
        if isinstance(value, Sequence):
            return [text(v) for v in value]
        return str(value)

    return {
        "model_hash": model.content_hash,
        "grid": {a.name: {"unit": a.unit, "values": [repr(float(v)) for v in a.shown]} for a in plan.axes},
        "mode": grid_mode,
        "times": [repr(float(v)) for v in plan.times],
        "observe": [o.name for o in plan.outputs],
        "solver": plan.solver.describe(),
        "batch": plan.batch,
        "chunk_size": plan.chunk_size,
        **{k: text(v) for k, v in given.items()},
    }
