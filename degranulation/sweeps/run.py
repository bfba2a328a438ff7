"""``sweep``, ``dose_response`` and ``hill_fit``: a model solved over a grid of inputs.

The model is compiled once; the compiled form (plain arrays, picklable) travels to worker
processes or Dask workers once, and each task is a *chunk* of points. Within a chunk, points
are solved ``batch`` at a time as one stacked system (:mod:`degranulation.batching`) when
the solver is LSODA or CVODE, or one by one otherwise. Which points share a stacked solve depends only
on the grid and ``batch``, so results are identical whatever ``workers`` or ``scheduler``
run them. Finished chunks are written under the output path as they arrive
(:mod:`degranulation.io.sweep_store`), so an interrupted sweep resumes where it stopped. A
point whose solve fails gets status ``"failed"``, its message, and NaN values; the sweep
goes on.
"""

from __future__ import annotations

import difflib
import json
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np

from degranulation.errors import DataError, FitError, ModelError, SimulationError, UnitError
from degranulation.network import Model, Species, UnitValue
from degranulation.parallel import as_completed, check_workers
from degranulation.typing import QuantityArray, QuantityLike, Scheduler, TimeSpec

if TYPE_CHECKING:
    import pint
    import xarray

    from degranulation.codegen import CompiledOde
    from degranulation.protocols import Event, ProtocolLike
    from degranulation.solvers import Solver

SweepMode = Literal["product", "zip"]
Progress = Callable[[int, int], None]
STEADY: Final = "steady"
LARGE_MODEL: Final = 100  # species; above this the default solver is BDF, one point per solve
STEADY_TOLERANCE: Final = 100  # solver tolerances a steady state may still move by (see _not_steady)
CHUNKS: Final = 64  # a sweep is cut into about this many chunks (tasks, files)
MAX_DOSES: Final = 1_000_000  # most values geomspace makes
FLAT: Final = 1e-4  # a curve whose range is below this fraction of its size has no dose dependence
OK, FAILED, NOT_STEADY = "ok", "failed", "not_steady"


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

    @property
    def n_points(self) -> int:
        return len(self.points)

    @property
    def n_chunks(self) -> int:
        return -(-self.n_points // self.chunk_size)

    def chunk_points(self, chunk: int) -> range:
        return range(chunk * self.chunk_size, min((chunk + 1) * self.chunk_size, self.n_points))


@dataclass(frozen=True, eq=False)
class _Part:
    """Results of one chunk: values (point × output × readout), status and message per point."""

    start: int
    values: np.ndarray
    status: list[str] = field(default_factory=list)
    message: list[str] = field(default_factory=list)


def sweep(
    model: Model | str | Path,
    grid: Mapping[str, QuantityArray],
    *,
    t: TimeSpec | None = None,
    at: TimeSpec | None = None,
    observe: str | Sequence[str] | None = None,
    mode: SweepMode = "product",
    params: Mapping[str, QuantityLike] | None = None,
    initial: Mapping[str, QuantityLike] | None = None,
    protocol: ProtocolLike = None,
    output: str | Path | None = None,
    resume: bool = False,
    workers: int = 1,
    scheduler: Scheduler = None,
    solver: str | Solver | None = None,
    rtol: float | None = None,
    atol: float | str | None = None,
    points: int = 101,
    batch: int | None = None,
    progress: Progress | None = None,
    cache_dir: str | Path | bool | None = None,
) -> xarray.Dataset:
    """Solve a model at every point of a grid of parameters and initial values.

    Parameters
    ----------
    model : Model, str or Path
        A model, a bundled model id, or a path to a model file.
    grid : mapping of str to values
        Swept names (a parameter, a compartment, or a species, meaning its initial value) to
        their values with units: ``{"L": dg.geomspace("1 pM", "10 uM", 41)}`` or
        ``{"km1": ["0.01 1/s", "0.1 1/s"]}``.
    t : str, Quantity or sequence, optional
        For time courses (``at=None``): the end time or the output times, as in
        :func:`degranulation.simulate`. For ``at="steady"``: the horizon to integrate to.
    at : str, Quantity, sequence or "steady", optional
        Read out at one time (``"30 min"``; no time dimension), at several times
        (``["10 min", "30 min"]``; a ``time`` dimension), or at steady state (``"steady"``:
        the state at ``t``, kept where no species moved by more than 100 solver tolerances
        over the second half of ``t``; otherwise the point gets status ``"not_steady"``).
        None gives full time courses.
    observe : str or list of str, optional
        Species and observables to keep (default: all). A swept species' value is called
        ``<id>_readout``, since ``<id>`` names the swept initial value.
    mode : {"product", "zip"}
        Every combination of the values (one dimension per swept name), or the values
        taken together (all of one length; one dimension ``point``).
    params, initial : mapping, optional
        Fixed overrides for every point, as in :func:`degranulation.simulate`.
    protocol : str, list or None
        Steps applied during every run, as in :func:`degranulation.simulate` (None: the
        model's default protocol). Steps act after the swept values are set, so a step that
        sets a swept name overrides its value from then on; pass ``protocol="none"`` to run
        without the model's default steps.
    output : str or Path, optional
        A ``.nc`` file for the result. Finished chunks are stored under
        ``<output>.parts/`` as they finish and removed once the result is written. (A fit, which
        writes no result file, names its progress file ``checkpoint=``; both resume with
        ``resume=True``.)
    resume : bool
        Continue the interrupted sweep stored under ``output`` without recomputing its
        finished points.
    workers : int
        Worker processes on this machine (1: solve in this process).
    scheduler : str or distributed.Client, optional
        A Dask scheduler address (``"tcp://host:8786"``) or client: the chunks are solved on
        that cluster (needs ``pip install 'degranulation[dask]'``).

    Returns
    -------
    xarray.Dataset
        One dimension per swept name (or ``point`` for ``mode="zip"``) with the values as
        given (units kept), plus ``time`` for time courses or several readout times; one
        variable per observed species or observable, quantified with pint-xarray;
        ``status`` (``"ok"``, ``"failed"``, ``"not_steady"``) and ``message`` per point.

    Other Parameters
    ----------------
    solver : {"LSODA", "CVODE", "BDF", "Radau"}, solver options, or None
        None chooses LSODA for models of up to 100 species and BDF for larger ones. With
        LSODA or CVODE (the ``sundials`` extra; the fastest for small models), points are
        solved ``batch`` at a time as one stacked system with a banded Jacobian, each held
        to the tolerances; with BDF or Radau one at a time.
    rtol, atol : float, optional
        Tolerances; ``atol`` as in :func:`degranulation.simulate` (a number in model units, or
        an amount or concentration for every species, converted with the model's compartment
        sizes).
    points : int
        Output times of a time course when ``t`` is an end time.
    batch : int, optional
        Points per stacked solve (default: up to 64, fewer for large models or
        short sweeps). Results depend on it only within solver tolerance.
    progress : callable, optional
        Called as ``progress(points_done, points_total)`` after each chunk.
    cache_dir : path, None or False
        Compiled-model cache (see :func:`degranulation.codegen.compile_model`).

    Raises
    ------
    ModelError, UnitError
        For unknown names or values with the wrong units.
    DataError
        If ``output`` holds an unfinished sweep and ``resume`` is false, or a different one.

    Examples
    --------
    >>> import degranulation as dg
    >>> ds = dg.sweep("ige_fceri_crosslinking", {"kp2": ["1e-4 1/(molecule*s)", "2.5e-4 1/(molecule*s)"],
    ...                                          "L": ["1e5 molecule", "6e6 molecule"]},
    ...               at="10 min", observe="RecDim")
    >>> dict(ds.sizes), ds.status.values.ravel().tolist()
    ({'kp2': 2, 'L': 2}, ['ok', 'ok', 'ok', 'ok'])
    """
    from degranulation.codegen import compile_model
    from degranulation.library import as_model

    model = as_model(model)
    if resume and output is None:
        raise ValueError("resume=True needs the output path of the interrupted sweep")
    output = None if output is None else Path(output)
    if output is not None and output.suffix.lower() != ".nc":
        raise DataError(
            f"a sweep is written to NetCDF; '{output.name}' does not end in .nc",
            hint="name the output e.g. 'dr.nc'",
        )
    check_workers(workers, scheduler)
    compiled = compile_model(model, cache_dir=cache_dir)
    plan = _make_plan(
        model,
        compiled,
        grid,
        t=t,
        at=at,
        observe=observe,
        mode=mode,
        params=params,
        initial=initial,
        protocol=protocol,
        solver=solver,
        rtol=rtol,
        atol=atol,
        points=points,
        batch=batch,
    )
    spec = _spec(
        model,
        plan,
        grid_mode=mode,
        given={"params": params, "initial": initial, "protocol": protocol, "at": at, "t": t},
    )
    if resume and output is not None:
        finished = _finished_result(output, spec)
        if finished is not None:
            return finished
    parts = _run(
        plan, spec, output=output, resume=resume, workers=workers, scheduler=scheduler, progress=progress
    )
    result = _dataset(model, plan, parts, mode=mode, at=at, spec=spec)
    if output is not None:
        from degranulation.io.sweep_store import SweepStore

        SweepStore(output, spec).finish(result)
    return result


def dose_response(
    model: Model | str | Path,
    vary: str,
    doses: QuantityArray,
    *,
    observe: str | Sequence[str] | None = None,
    at: TimeSpec | None = None,
    t: TimeSpec | None = None,
    params: Mapping[str, QuantityLike] | None = None,
    initial: Mapping[str, QuantityLike] | None = None,
    protocol: ProtocolLike = None,
    output: str | Path | None = None,
    resume: bool = False,
    workers: int = 1,
    scheduler: Scheduler = None,
    solver: str | Solver | None = None,
    rtol: float | None = None,
    atol: float | str | None = None,
    points: int = 101,
    batch: int | None = None,
    progress: Progress | None = None,
    cache_dir: str | Path | bool | None = None,
) -> xarray.Dataset:
    """A one-factor sweep: ``observe`` at time ``at`` (or steady state) against ``doses`` of ``vary``.

    Same as ``sweep(model, {vary: doses}, ...)``; see :func:`sweep` for every argument.

    Examples
    --------
    >>> import degranulation as dg
    >>> dr = dg.dose_response("ige_fceri_crosslinking", vary="L", doses=dg.geomspace("1e4 molecule",
    ...                       "1e7 molecule", 4), observe="RecDim", at="10 min")
    >>> dr["RecDim"].dims, dr["RecDim"].pint.units == dr["L"].pint.units
    (('L',), True)
    """
    return sweep(
        model,
        {vary: doses},
        t=t,
        at=at,
        observe=observe,
        params=params,
        initial=initial,
        protocol=protocol,
        output=output,
        resume=resume,
        workers=workers,
        scheduler=scheduler,
        solver=solver,
        rtol=rtol,
        atol=atol,
        points=points,
        batch=batch,
        progress=progress,
        cache_dir=cache_dir,
    )


def _finished_result(output: Path, spec: dict[str, Any]) -> xarray.Dataset | None:
    """The complete result of this very sweep, if ``output`` already holds it."""
    from degranulation.io.store import load
    from degranulation.io.sweep_store import SweepStore

    if SweepStore(output, spec).folder.exists() or not output.exists():
        return None
    result = load(output)
    return result if json.loads(result.attrs.get("sweep", "{}")) == spec else None


# --- the plan: what to solve ---------------------------------------------------------------


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
    is_batched = options.name in ("LSODA", "CVODE")
    if batch is not None and (not isinstance(batch, int) or batch < 1):
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
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
    )


def _default_solver(solver: str | Solver | None, compiled: CompiledOde) -> str | Solver:
    if solver is not None:
        return solver
    return "LSODA" if compiled.n_species <= LARGE_MODEL else "BDF"


def _axis(model: Model, compiled: CompiledOde, name: str, values: Any, fixed: set[str]) -> _Axis:
    from degranulation.kinetics import internal_value

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
    unit = _as_written(unit, _model_unit(model, name))
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


def _as_written(unit: str, written: str) -> str:
    """``written`` if it is the same unit as ``unit`` (so 'nM' stays 'nM', not pint's
    'nanomolar'), else ``unit``."""
    from degranulation.units import parse_unit

    try:
        return written if written and parse_unit(written) == parse_unit(unit) else unit
    except UnitError:
        return unit


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


# --- solving -------------------------------------------------------------------------------


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
        trajectory = integrate(plan.compiled, plan.times, x0, p, plan.solver, plan.events)
    except SimulationError as exc:
        return _Failure(FAILED, str(exc))
    return _readout(plan, trajectory.x, trajectory.p)


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


# --- running: here, in processes, or on Dask ------------------------------------------------


def _run(
    plan: _Plan,
    spec: dict[str, Any],
    *,
    output: Path | None,
    resume: bool,
    workers: int,
    scheduler: Scheduler,
    progress: Progress | None,
) -> dict[int, _Part]:
    """Solve every chunk not already stored, storing each as it finishes."""
    parts: dict[int, _Part] = {}
    store = None
    if output is not None:
        from degranulation.io.sweep_store import SweepStore

        store = SweepStore(output, spec)
        for chunk in store.start(resume=resume):
            parts[chunk] = _part_from_dataset(store.read(chunk), plan)
    todo = [chunk for chunk in range(plan.n_chunks) if chunk not in parts]
    done = sum(len(part.status) for part in parts.values())
    if progress is not None:
        progress(done, plan.n_points)
    for chunk, part in _execute(plan, todo, workers, scheduler):
        parts[chunk] = part
        if store is not None:
            store.write(chunk, _part_dataset(part, plan))
        done += len(part.status)
        if progress is not None:
            progress(done, plan.n_points)
    return parts


def _execute(plan: _Plan, todo: list[int], workers: int, scheduler: Scheduler) -> Iterator[tuple[int, _Part]]:
    preload = ("degranulation.sweeps", "degranulation.codegen", "scipy.integrate")
    finished = as_completed(
        _solve_chunk, todo, workers=workers, scheduler=scheduler, shared=plan, preload=preload
    )
    return ((todo[i], part) for i, part in finished)


# --- results -------------------------------------------------------------------------------


def _part_dataset(part: _Part, plan: _Plan) -> xarray.Dataset:
    """One chunk as plain data, for its file."""
    import xarray as xr

    point = np.arange(part.start, part.start + len(part.status))
    variables: dict[str, Any] = {
        o.name: (("point", "readout"), part.values[:, k, :]) for k, o in enumerate(plan.outputs)
    }
    variables["status"] = ("point", np.array(part.status, dtype=str))
    variables["message"] = ("point", np.array(part.message, dtype=str))
    return xr.Dataset(variables, coords={"point": point})


def _part_from_dataset(dataset: xarray.Dataset, plan: _Plan) -> _Part:
    values = np.stack([dataset[o.name].values for o in plan.outputs], axis=1)
    return _Part(
        int(dataset["point"].values[0]),
        values.reshape(len(dataset["point"]), len(plan.outputs), len(plan.keep)),
        [str(s) for s in dataset["status"].values],
        [str(s) for s in dataset["message"].values],
    )


def _dataset(
    model: Model, plan: _Plan, parts: dict[int, _Part], *, mode: SweepMode, at: Any, spec: dict[str, Any]
) -> xarray.Dataset:
    """The quantified result Dataset from every chunk's part."""
    import xarray as xr

    from degranulation.io.model_file import dumps_model
    from degranulation.results import quantify, version

    ordered = [parts[chunk] for chunk in range(plan.n_chunks)]
    values = np.concatenate([part.values for part in ordered])
    status = np.array([s for part in ordered for s in part.status], dtype=str)
    message = np.array([m for part in ordered for m in part.message], dtype=str)
    if mode == "zip":
        dims: tuple[str, ...] = ("point",)
        coords: dict[str, Any] = {a.name: ("point", a.shown, _unit_attrs(a.unit)) for a in plan.axes}
    else:
        dims = tuple(a.name for a in plan.axes)
        coords = {a.name: (a.name, a.shown, _unit_attrs(a.unit)) for a in plan.axes}
    shape = tuple(len(a.values) for a in plan.axes) if mode == "product" else (plan.n_points,)
    time_unit = model.units.time
    readouts = plan.times[plan.keep]
    has_time_dim = not plan.is_steady and not (at is not None and _is_scalar_time(at))
    if has_time_dim:
        coords["time"] = ("time", readouts, _unit_attrs(time_unit))
    elif not plan.is_steady:
        coords["time"] = ((), readouts[0], _unit_attrs(time_unit))
    variables: dict[str, Any] = {}
    for k, out in enumerate(plan.outputs):
        data = values[:, k, :].reshape(*shape, len(plan.keep))
        attrs = {
            **_unit_attrs(out.unit),
            "long_name": out.long_name,
            "kind": "species" if out.is_species else "observable",
        }
        variables[out.name] = ((*dims, "time"), data, attrs) if has_time_dim else (dims, data[..., 0], attrs)
    variables["status"] = (dims, status.reshape(shape))
    variables["message"] = (dims, message.reshape(shape))
    attrs = {
        "model_id": model.id,
        "model_title": model.title,
        "model_hash": model.content_hash,
        "model_toml": dumps_model(model),
        "readout": "steady state" if plan.is_steady else ("time course" if at is None else "at times"),
        "sweep": json.dumps(spec, sort_keys=True),
        "degranulation_version": version(),
    }
    return quantify(xr.Dataset(variables, coords=coords, attrs=attrs))


def _unit_attrs(unit: str) -> dict[str, str]:
    """CF ``units``, and the unit as written so a saved file says 'nM', not 'nanomolar'."""
    return {"units": unit, "units_as_written": unit}


# --- Hill fits -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class HillFit:
    """A Hill (four-parameter logistic) fit of a dose–response curve.

    For a bell-shaped curve (it rises above, then falls below, its half-maximal level) the
    Hill fit describes the rising side, and ``peak_dose``, ``peak`` and ``half_max_doses``
    describe the bell.

    Attributes
    ----------
    shape : {"increasing", "decreasing", "bell"}
    ec50 : Quantity
        Dose of half-maximal effect: the EC50, or the IC50 of a decreasing curve.
    ec50_ci : (Quantity, Quantity)
        Its ``confidence`` interval (from the fit's covariance, on log dose).
    n : float
        Hill coefficient (steepness, positive for both directions).
    bottom, top : Quantity
        The lower and upper plateaus.
    peak_dose, peak : Quantity or None
        Where a bell-shaped curve peaks and its height.
    half_max_doses : (Quantity, Quantity) or None
        The doses either side of the peak where the response is halfway between the
        curve's minimum and its peak.
    extrapolated : bool
        The fitted EC50 lies outside the dosed range: it is an extrapolation, not a
        measurement. ``ec50_ci`` is then the honest one-sided interval (the largest dose
        to infinity, or 0 to the smallest dose) and ``ec50_bound`` says so in words.
    ec50_bound : str or None
        For an extrapolated EC50, the bound the data support, e.g. ``"> 10 µM"``.
    """

    shape: Literal["increasing", "decreasing", "bell"]
    ec50: Any
    ec50_ci: tuple[Any, Any]
    n: float
    bottom: Any
    top: Any
    peak_dose: Any = None
    peak: Any = None
    half_max_doses: tuple[Any, Any] | None = None
    confidence: float = 0.95
    extrapolated: bool = False
    ec50_bound: str | None = None

    def response(self, dose: Any) -> Any:
        """The fitted curve at ``dose`` (a Quantity, scalar or array), in the response's unit.

        For a bell-shaped curve this is the fit of its rising side.

        Examples
        --------
        >>> import numpy as np, xarray as xr, degranulation as dg
        >>> x = np.geomspace(0.01, 100, 9)
        >>> curve = xr.DataArray(x / (1 + x), dims="Ag", coords={"Ag": ("Ag", x, {"units": "nM"})},
        ...                      attrs={"units": "dimensionless"})
        >>> fit = dg.hill_fit(curve)
        >>> round(float(fit.response(dg.geomspace("1 nM", "1 nM", 2)).magnitude[0]), 6)
        0.5
        """
        ratio = (dose.to(self.ec50.units).magnitude / self.ec50.magnitude) ** self.n
        if self.shape == "decreasing":
            ratio = 1 / ratio
        span = (self.top - self.bottom).to(self.bottom.units)
        return self.bottom + span * (ratio / (1 + ratio))

    def to_dict(self) -> dict[str, Any]:
        """Plain data: magnitudes with their units."""

        def entry(q: Any) -> Any:
            return None if q is None else {"value": float(q.magnitude), "unit": f"{q.units:~C}"}

        return {
            "shape": self.shape,
            "ec50": entry(self.ec50),
            "ec50_ci": [entry(q) for q in self.ec50_ci],
            "n": self.n,
            "bottom": entry(self.bottom),
            "top": entry(self.top),
            "peak_dose": entry(self.peak_dose),
            "peak": entry(self.peak),
            "half_max_doses": (
                None if self.half_max_doses is None else [entry(q) for q in self.half_max_doses]
            ),
            "confidence": self.confidence,
            "extrapolated": self.extrapolated,
            "ec50_bound": self.ec50_bound,
        }


def hill_fit(
    curve: xarray.DataArray,
    dim: str | None = None,
    *,
    dose: xarray.DataArray | None = None,
    level: float = 0.95,
    confidence: float | None = None,
) -> HillFit:
    """Fit a Hill curve to a dose–response: EC50 (or IC50) with its confidence interval, Hill
    coefficient, bottom and top; for a bell-shaped curve also its peak and half-maximal doses.

    Parameters
    ----------
    curve : xarray.DataArray
        One-dimensional response along the dose dimension (e.g. ``dr["RecDim"]``), with
        units (quantified or in a ``units`` attribute).
    dim : str, optional
        The dose dimension (default: the curve's only dimension).
    dose : xarray.DataArray, optional
        Dose values along ``dim`` to use instead of its coordinate, e.g. the free ligand
        read out by the sweep.
    level : float
        Confidence level of the EC50 interval (``level``, as in :func:`degranulation.fit` and
        :func:`degranulation.profile_likelihood`; the old name ``confidence`` still works,
        with a DeprecationWarning).

    Returns
    -------
    HillFit

    Raises
    ------
    FitError
        For fewer than four usable points (positive dose, finite response), a curve with no
        dose dependence (its range is below :data:`FLAT` of its magnitude: e.g. a conserved
        total), or a fit that does not converge or has no finite EC50.

    Notes
    -----
    The model is ``y = bottom + (top - bottom) / (1 + (EC50/x)**n)`` (``(x/IC50)**n`` for a
    decreasing curve), fitted on log dose with :func:`scipy.optimize.curve_fit`. The peak of
    a bell is located on a cubic spline through the points in log dose.

    Examples
    --------
    >>> import numpy as np, xarray as xr, degranulation as dg
    >>> x = np.geomspace(0.01, 100, 21)
    >>> curve = xr.DataArray(2 + 8 * x**1.5 / (1 + x**1.5), dims="Ag",
    ...                      coords={"Ag": ("Ag", x, {"units": "nM"})}, attrs={"units": "percent"})
    >>> fit = dg.hill_fit(curve)
    >>> fit.shape, f"{fit.ec50:.4f~P}", round(fit.n, 4), f"{fit.top:.4f~P}"
    ('increasing', '1.0000 nM', 1.5, '10.0000 %')
    """
    from scipy.interpolate import CubicSpline

    from degranulation._deprecation import renamed

    confidence = renamed(level, confidence, old="confidence", new="level", function="hill_fit")
    x, y, dose_unit, unit, name = _curve_values(curve, dim, dose)
    quantity = _quantity_maker()
    u = np.log10(x)
    low, high = float(np.min(y)), float(np.max(y))
    top_index = int(np.argmax(y))
    level = low + (high - low) / 2
    is_bell = 0 < top_index < len(y) - 1 and y[:top_index].min() < level and y[top_index + 1 :].min() < level
    peak_dose = peak = half = None
    if is_bell:
        spline = CubicSpline(u, y)
        where, height = _spline_peak(spline, u, top_index)
        level = low + (height - low) / 2
        crossings = spline.solve(level, extrapolate=False)
        left, right = crossings[crossings < where], crossings[crossings > where]
        peak_dose, peak = quantity(10**where, dose_unit), quantity(height, unit)
        if len(left) and len(right):
            half = (quantity(10 ** left.max(), dose_unit), quantity(10 ** right.min(), dose_unit))
        u, y = u[: top_index + 1], y[: top_index + 1]
    if len(u) < 4:
        raise FitError(
            f"the rising side of bell-shaped '{name}' has {len(u)} points; a Hill fit needs 4",
            hint="add doses below the peak",
        )
    bottom, top, log_ec50, n, spread = _fit_logistic(u, y, name)
    shape: Literal["increasing", "decreasing", "bell"] = (
        "bell" if is_bell else ("increasing" if (top - bottom) * n > 0 else "decreasing")
    )
    ci = _interval(log_ec50, spread, len(u) - 4, confidence)
    bound = None
    if not u[0] <= log_ec50 <= u[-1]:  # beyond the doses: only a one-sided bound is measured
        edge = u[-1] if log_ec50 > u[-1] else u[0]
        bound = f"{'>' if log_ec50 > u[-1] else '<'} {10**edge:.4g} {quantity(1, dose_unit).units:~P}"
        ci = (edge, math.inf) if log_ec50 > u[-1] else (-math.inf, edge)
    return HillFit(
        shape=shape,
        ec50=quantity(10**log_ec50, dose_unit),
        ec50_ci=(quantity(_exp10(ci[0]), dose_unit), quantity(_exp10(ci[1]), dose_unit)),
        extrapolated=bound is not None,
        ec50_bound=bound,
        n=abs(n),
        bottom=quantity(min(bottom, top), unit),
        top=quantity(max(bottom, top), unit),
        peak_dose=peak_dose,
        peak=peak,
        half_max_doses=half,
        confidence=confidence,
    )


def fit_curves(result: xarray.Dataset, dim: str) -> dict[str, HillFit | str]:
    """A Hill fit of every readout of a sweep that is a curve along ``dim`` alone, or why
    there is none (points that failed are left out).

    Examples
    --------
    >>> import degranulation as dg
    >>> dr = dg.dose_response("ige_fceri_crosslinking", vary="L", observe="RecDim", at="10 min",
    ...                       doses=dg.geomspace("1e3 molecule", "1e9 molecule", 13))
    >>> fits = dg.sweeps.fit_curves(dr, "L")
    >>> fits["RecDim"].shape, f"{fits['RecDim'].ec50.to('molecule').magnitude:.3g}"
    ('increasing', '2.12e+06')
    """
    fits: dict[str, HillFit | str] = {}
    for name, variable in result.data_vars.items():
        if name in ("status", "message") or variable.dims != (dim,):
            continue
        try:
            fits[str(name)] = hill_fit(variable.where(result["status"] == OK), dim)
        except FitError as exc:
            fits[str(name)] = exc.message
    return fits


def _quantity_maker() -> Callable[[float, str], Any]:
    from degranulation.units import parse_unit, registry

    return lambda value, unit: registry().Quantity(float(value), parse_unit(unit))


def _curve_values(
    curve: xarray.DataArray, dim: str | None, dose: xarray.DataArray | None
) -> tuple[np.ndarray, np.ndarray, str, str, str]:
    """Positive doses and finite responses, sorted by dose, with both units."""
    name = str(curve.name or "response")
    dim = dim or (str(curve.dims[0]) if curve.ndim == 1 else None)
    if dim is None or curve.ndim != 1 or dim not in curve.dims:
        raise ValueError(
            f"hill_fit needs a one-dimensional curve along the dose dimension; '{name}' has "
            f"dimensions {curve.dims}",
        )
    dose_array = curve[dim] if dose is None else dose
    x, dose_unit = _magnitude_and_unit(dose_array)
    y, unit = _magnitude_and_unit(curve)
    if x.shape != y.shape:
        raise ValueError(f"dose has {x.size} values but '{name}' has {y.size}")
    usable = np.isfinite(x) & np.isfinite(y) & (x > 0)
    order = np.argsort(x[usable])
    x, y = x[usable][order], y[usable][order]
    if len(x) < 4:
        raise FitError(
            f"'{name}' has {len(x)} usable points (positive dose, finite value); a Hill fit needs 4"
        )
    if np.any(np.diff(x) == 0):
        raise FitError(
            f"'{name}' has repeated doses", hint="fit one curve at a time (select the other dimensions)"
        )
    if float(np.ptp(y)) <= FLAT * float(np.max(np.abs(y))):
        raise FitError(
            f"no dose dependence: '{name}' is flat, varying by {float(np.ptp(y)):.3g} around {y[0]:.6g}, "
            f"less than {FLAT:g} of its size (a conserved total?); there is no EC50 to fit",
            hint="choose a readout that responds to the dose (sweep --observe NAME)",
        )
    return x, y, dose_unit, unit, name


def _magnitude_and_unit(array: xarray.DataArray) -> tuple[np.ndarray, str]:
    data = array.data
    if hasattr(data, "magnitude") and hasattr(data, "units"):
        written = str(array.attrs.get("units_as_written", ""))
        unit = _as_written(f"{data.units:~C}" or "dimensionless", written)
        return np.asarray(data.magnitude, dtype=float), unit
    declared = array.attrs.get("units")
    if declared is None:
        raise UnitError(f"'{array.name}' has no unit", hint="quantify it, or set attrs['units']")
    return np.asarray(data, dtype=float), str(declared)


def _spline_peak(spline: Any, u: np.ndarray, k: int) -> tuple[float, float]:
    """Maximum of the spline between the sample points either side of sample ``k``."""
    slope = spline.derivative()
    candidates = [u[k], *[r for r in slope.roots(extrapolate=False) if u[k - 1] <= r <= u[k + 1]]]
    heights = [float(spline(c)) for c in candidates]
    best = int(np.argmax(heights))
    return float(candidates[best]), heights[best]


def _fit_logistic(u: np.ndarray, y: np.ndarray, name: str) -> tuple[float, float, float, float, float]:
    """Fit ``bottom + (top - bottom) / (1 + 10**(n (log_ec50 - u)))``; n < 0 for decreasing
    curves. Returns bottom, top, log_ec50, n and the standard error of log_ec50."""
    from scipy.optimize import OptimizeWarning, curve_fit

    low, span = float(y.min()), float(np.ptp(y))
    scaled = (y - low) / span  # fit on 0..1 so the plateaus and the slope are on one scale

    def logistic(v: np.ndarray, bottom: float, top: float, log_ec50: float, n: float) -> np.ndarray:
        return bottom + (top - bottom) / (1 + 10 ** np.clip(n * (log_ec50 - v), -300, 300))

    rising = scaled[-1] >= scaled[0]
    middle = float(np.interp(0.5, scaled if rising else scaled[::-1], u if rising else u[::-1]))
    guess = [float(scaled[0]), float(scaled[-1]), middle, 1.0 if rising else -1.0]
    try:
        with warnings.catch_warnings():  # an exact fit has no covariance: its interval is NaN
            warnings.simplefilter("ignore", OptimizeWarning)
            best, covariance = curve_fit(logistic, u, scaled, p0=guess, maxfev=20000)
    except (RuntimeError, ValueError) as exc:
        raise FitError(
            f"the Hill fit of '{name}' did not converge: {exc}",
            hint="check that the doses span the rise of the curve",
        ) from None
    spread = float(np.sqrt(covariance[2, 2])) if np.isfinite(covariance[2, 2]) else math.nan
    bottom, top, log_ec50, n = (float(v) for v in best)
    if not (np.all(np.isfinite(best)) and abs(log_ec50) < 300 and n != 0):
        raise FitError(
            f"no dose dependence a Hill curve describes: the fit of '{name}' has no finite EC50 "
            f"(log10 EC50 = {log_ec50:.3g})",
            hint="check that the doses span the rise of the curve",
        )
    return low + span * bottom, low + span * top, log_ec50, n, spread


def _exp10(value: float) -> float:
    """``10**value``, infinite (not an OverflowError) beyond float range: a wide interval."""
    with np.errstate(over="ignore"):
        return float(np.power(10.0, value))


def _interval(center: float, spread: float, dof: int, confidence: float) -> tuple[float, float]:
    from scipy.stats import t as student

    if dof < 1 or not math.isfinite(spread):
        return math.nan, math.nan
    half = float(student.ppf((1 + confidence) / 2, dof)) * spread
    return center - half, center + half
