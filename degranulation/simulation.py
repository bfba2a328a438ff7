"""``simulate``: solve a model's ODEs with SciPy's stiff solvers and return a unit-aware Dataset.

The solver is stepped here rather than through ``solve_ivp`` so that a failure reports the
time it reached and the state there, and a non-finite state stops the run at once instead
of producing a silent NaN result.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from degranulation.errors import ConservationWarning, ModelError, ResultWarning, SimulationError, UnitError
from degranulation.network import Model, Species, Step, UnitValue
from degranulation.results import Trajectory
from degranulation.solvers import (
    COUNTERS,
    NOT_FINITE,
    EventFunction,
    SegmentFailure,
    Solver,
    default_solver,
    solver_from,
)
from degranulation.typing import QuantityLike, TimeSpec

if TYPE_CHECKING:
    import xarray

    from degranulation.codegen import CompiledOde
    from degranulation.protocols import Event, ProtocolLike
    from degranulation.state_events import CompiledEvents

DEFAULT_POINTS = 101
#: Evaluations of the right-hand side in a row at one time that mean a solver is stuck (an
#: implicit step needs a few; LSODA on amounts near 1e150 calls without end).
STALLED = 10_000
#: Most output times one simulation returns (a result holds points × variables floats).
MAX_POINTS = 1_000_000


def simulate(
    model: Model | str | Path,
    t: TimeSpec = "100 s",
    *,
    params: Mapping[str, QuantityLike] | None = None,
    initial: Mapping[str, QuantityLike] | None = None,
    protocol: ProtocolLike = None,
    solver: str | Solver | None = None,
    rtol: float | None = None,
    atol: float | str | None = None,
    points: int = DEFAULT_POINTS,
    cache_dir: str | Path | bool | None = None,
) -> xarray.Dataset:
    """Simulate a model and return its time course as an ``xarray.Dataset`` with units.

    Parameters
    ----------
    model : Model, str or Path
        A model, a bundled model id, or a path to a model file.
    t : str, Quantity or sequence
        End time (``"30 min"``, from 0 with ``points`` evenly spaced outputs) or the output
        times (``["0 s", "10 s", "1 min"]`` or a pint Quantity array), increasing.
    params : mapping, optional
        Parameter or compartment-size overrides in any compatible unit,
        e.g. ``{"k_on": "2e6 1/(M*s)"}``.
    initial : mapping, optional
        Initial-value overrides by species id, e.g. ``{"L": "10 nM"}``.
    protocol : str, list or None
        Steps applied during the run: a protocol name from the model file, a list like
        ``[{"at": "5 min", "set": {"Ag": "0 nM"}}, {"at": "10 min", "clamp": {"Ca": "1 uM"}}]``
        (actions ``set``, ``add``, ``clamp``, ``release``), or ``"none"``. None (the default)
        applies the model's ``default_protocol`` if it declares one.

    Returns
    -------
    xarray.Dataset
        Dimension ``time``; one variable per species and per observable, quantified with
        pint-xarray; provenance in ``attrs``.

    Other Parameters
    ----------------
    solver : {"BDF", "Radau", "LSODA", "CVODE"}, solver options, or None
        ``dg.BDF(rtol=..., atol=...)`` etc. BDF and Radau use the sparse analytic Jacobian,
        LSODA and CVODE a dense one. None (the default): LSODA for a model of up to 100
        species, else BDF (:func:`~degranulation.solvers.default_solver`). Each steps at its
        own factor below the tolerances (``tighten``) so that the result meets them.
    rtol : float, optional
        Override the solver's relative tolerance.
    atol : float or str, optional
        Override its absolute tolerance: a number is in each species' model unit; an amount
        or a concentration (``"1e-3 molecule"``, ``"1 pM"``) holds for every species, converted
        through its compartment's size (see :func:`absolute_tolerance`). By default (with the
        solver given by name) each species' own scale sets it (see :func:`default_atol`).
    points : int
        Number of output times when ``t`` is an end time, from 2 to :data:`MAX_POINTS`
        (1 000 000).
    cache_dir : path, None or False
        Where compiled and validated models are kept (see
        :func:`degranulation.codegen.compile_model` and :mod:`degranulation.checked`).

    Raises
    ------
    SimulationError
        If the solver fails or the state stops being finite; names the time reached.
    UnitError, ModelError
        For overrides with the wrong unit or unknown names.
    ValueError
        For ``points`` outside 2 … :data:`MAX_POINTS`, or output times that are not finite,
        increasing and >= 0.

    Examples
    --------
    >>> import degranulation as dg
    >>> ds = dg.simulate("ige_fceri_crosslinking", t="600 s", points=11, rtol=1e-9, atol=1e-6)
    >>> round(float(ds["RecDim"].pint.magnitude[-1]))   # receptors in dimers per cell
    338825
    """
    from degranulation.library import as_model
    from degranulation.results import make_dataset

    model = as_model(model, cache_dir=cache_dir)
    setup = prepare(model, t, protocol=protocol, points=points, cache_dir=cache_dir)
    p = parameter_vector(model, setup.compiled, params or {})
    x0 = initial_state(model, setup.compiled, initial or {})
    run = setup.run(p, x0, solver=solver, rtol=rtol, atol=atol)
    provenance = {
        "status": run.status,
        **setup.provenance(params, initial),
        "solver": json.dumps(run.solver.describe()),
        "counters": json.dumps(run.trajectory.counters),
    }
    return make_dataset(model, setup.compiled, run.trajectory, provenance)


@dataclass(frozen=True)
class Run:
    """One solved run: its trajectory, the solver options it was solved with, and its status
    (see :func:`check_signs`)."""

    trajectory: Trajectory
    solver: Solver
    status: str


@dataclass(frozen=True)
class Setup:
    """What every run of one model with one protocol and output times shares, so that many
    runs (:func:`degranulation.simulate_scenarios`) check and compile the model once and are
    solved exactly as :func:`simulate` solves one."""

    model: Model
    compiled: CompiledOde
    times: np.ndarray
    steps: tuple[Step, ...]
    events: tuple[Event, ...]
    state_events: CompiledEvents | None

    def run(
        self, p: np.ndarray, x0: np.ndarray, *, solver: str | Solver | None, rtol: float | None, atol: Any
    ) -> Run:
        """Solve from ``x0`` with parameters ``p`` (arguments as for :func:`simulate`).

        Raises
        ------
        SimulationError
            If the solver fails.
        """
        model, compiled = self.model, self.compiled
        solver = default_solver(compiled.n_species) if solver is None else solver
        options = solver_from(solver, rtol=rtol, atol=absolute_tolerance(model, compiled, atol, p))
        if atol is None and isinstance(solver, str):  # a solver object keeps its own atol
            options = solver_from(options, atol=default_atol(x0, options.rtol))
        trajectory = integrate(compiled, self.times, x0, p, options, self.events, self.state_events)
        if not self.steps and self.state_events is None:  # steps and events change totals on purpose
            check_conservation(compiled, trajectory, options)
        return Run(trajectory, options, check_signs(model, compiled, trajectory, x0, options))

    def provenance(
        self, params: Mapping[str, Any] | None, initial: Mapping[str, Any] | None
    ) -> dict[str, str]:
        """The protocol, parameters and initial values of a result, as JSON text attributes."""
        return {
            "protocol": json.dumps([_step_text(step) for step in self.steps]),
            "parameters": json.dumps(_given(self.model, params), sort_keys=True),
            "initial": json.dumps(_given(self.model, initial, species=True), sort_keys=True),
        }


def prepare(
    model: Model, t: TimeSpec, *, protocol: ProtocolLike, points: int, cache_dir: str | Path | bool | None
) -> Setup:
    """Check and compile ``model`` and resolve its output times, protocol and events
    (arguments as for :func:`simulate`)."""
    from degranulation.codegen import compile_model
    from degranulation.protocols import protocol_steps, resolve
    from degranulation.state_events import compile_events

    check_model(model, cache_dir=cache_dir)
    compiled = compile_model(model, cache_dir=cache_dir)
    times = output_times(model, t, points)
    steps = tuple(protocol_steps(model, protocol))
    return Setup(
        model=model,
        compiled=compiled,
        times=times,
        steps=steps,
        events=resolve(model, compiled, steps),
        state_events=compile_events(model, compiled),
    )


def output_times(model: Model, t: Any, points: int = DEFAULT_POINTS) -> np.ndarray:
    """Output times as floats in the model's time unit, checked increasing and from >= 0."""
    if isinstance(t, str) or _is_scalar_quantity(t):
        end = _time_value(model, t, "t")
        if not (end > 0 and math.isfinite(end)):
            raise UnitError(f"end time {t!r} must be positive and finite", location="t")
        if not isinstance(points, int) or isinstance(points, bool) or not 2 <= points <= MAX_POINTS:
            raise ValueError(f"points must be an integer from 2 to {MAX_POINTS}, got {points!r}")
        return np.linspace(0.0, end, points)
    if hasattr(t, "units") and hasattr(t, "magnitude"):
        values = np.array([_time_value(model, v, "t") for v in t])
    elif isinstance(t, Sequence) and not isinstance(t, str):
        values = np.array([_time_value(model, v, f"t[{i}]") for i, v in enumerate(t)])
    else:
        raise UnitError(f"t={t!r} has no unit", location="t", hint="write t='30 min' or t=['0 s', '60 s']")
    if values.size > MAX_POINTS:
        raise ValueError(f"{values.size} output times: at most {MAX_POINTS}")
    if values.size < 1 or not np.all(np.isfinite(values)) or np.any(np.diff(values) <= 0) or values[0] < 0:
        raise ValueError("output times must be finite, >= 0 and strictly increasing")
    return values


def _is_scalar_quantity(value: Any) -> bool:
    return hasattr(value, "units") and hasattr(value, "magnitude") and np.ndim(value.magnitude) == 0


def _time_value(model: Model, value: Any, location: str) -> float:
    from degranulation.units import dimensionality

    try:
        given = UnitValue.parse(value)
        if dict(dimensionality(given.unit)) != {"[time]": 1}:
            problem = "has no unit" if not given.unit else "is not a time"
            raise UnitError(f"'{given}' {problem}", hint="write e.g. '30 min', '600 s' or '2 h'")
    except UnitError as exc:
        raise exc.with_location(location=location) from None
    return model.units.magnitude(given.value, given.unit)


def default_atol(x0: np.ndarray, rtol: float) -> tuple[float, ...] | None:
    """The absolute tolerance used when none is given: for each species ``1e-3·rtol`` times its
    own scale, the largest magnitude it starts at in ``x0`` (one state, or one per row for
    several conditions); a species that starts at 0 takes the smallest non-zero scale of the
    model, which is all the model says about it. None (the solver's own) if every value is 0.

    One tolerance for all species, scaled to the largest, lets a small species (7e-6 next to
    3.75e7) be resolved only to the larger's absolute error.

    Examples
    --------
    >>> import numpy as np
    >>> from degranulation.simulation import default_atol
    >>> [f"{v:.3g}" for v in default_atol(np.array([3.75e7, 7e-6, 0.0]), 1e-6)]
    ['0.0375', '7e-15', '7e-15']
    """
    scale = np.abs(np.atleast_2d(np.asarray(x0, dtype=float))).max(axis=0)
    nonzero = scale[scale > 0]
    if not nonzero.size:
        return None
    return tuple(float(v) for v in 1e-3 * rtol * np.maximum(scale, nonzero.min()))


def absolute_tolerance(
    model: Model, compiled: CompiledOde, atol: Any, p: np.ndarray
) -> float | tuple[float, ...] | None:
    """The solver's ``atol``: a number as it is (each species' model unit), or an amount or a
    concentration converted for every species through its compartment's size in ``p``.

    ``"1e-3 molecule"`` is 1e-3 molecule for an amount species and 1e-3 molecule divided by its
    compartment's volume for a concentration species, so one physical tolerance suits a model
    that mixes molecules per cell with nM in the medium.

    Raises
    ------
    UnitError
        For a unit that is neither an amount nor a concentration, a value that is not positive,
        or a concentration for a species that has no compartment.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.codegen import compile_model
    >>> model = dg.load_model("ige_fceri_crosslinking")
    >>> ode = compile_model(model)
    >>> # Its species are molecules in a 1.4 pL cell: 1 pM there is 0.843 molecule.
    >>> [f"{v:.3g}" for v in absolute_tolerance(model, ode, "1 pM", ode.default_parameters)]
    ['0.843', '0.843', '0.843', '0.843']
    """
    from degranulation.dimensions import species_dimension
    from degranulation.units import dimensionality, format_dimension

    if atol is None or (isinstance(atol, int | float) and not isinstance(atol, bool)):
        return atol
    try:
        given = UnitValue.parse(atol)
    except UnitError as exc:
        raise exc.with_location(location="atol") from None
    dim = dict(dimensionality(given.unit))
    is_amount = dim == {"[substance]": 1}
    value = model.units.magnitude(given.value, given.unit)
    if not (is_amount or dim == {"[substance]": 1, "[length]": -3}) or not (
        value > 0 and math.isfinite(value)
    ):
        raise UnitError(
            f"'{atol}' is {format_dimension(dimensionality(given.unit))}; an absolute tolerance must be "
            "a positive amount or concentration (or a number in model units)",
            location="atol",
            hint="e.g. atol='1e-3 molecule' or atol='1 pM'",
        )
    position = {name: k for k, name in enumerate(compiled.parameters)}
    tolerances = []
    for name, size_index in zip(compiled.species, compiled.amount_factors, strict=True):
        record = model.get_species(name)
        if record.variable and species_dimension(record) != dimensionality(given.unit):
            raise UnitError(
                f"'{atol}' is {format_dimension(dimensionality(given.unit))}, but the model variable "
                f"'{name}' is {format_dimension(species_dimension(record))}",
                location="atol",
                hint="give atol as a number: each state's tolerance in its model unit",
            )
        if size_index >= 0:  # a concentration state, in the compartment of size p[size_index]
            tolerances.append(value / p[size_index] if is_amount else value)
        elif is_amount or record.variable:
            tolerances.append(value)
        else:  # an amount state: the concentration's amount in its compartment
            compartment = record.compartment
            if compartment is None:
                raise UnitError(
                    f"'{atol}' is a concentration, but species '{name}' has no compartment",
                    location="atol",
                    hint="give atol as an amount, e.g. '1e-3 molecule'",
                )
            tolerances.append(value * p[position[compartment]])
    return tuple(float(v) for v in tolerances)


def parameter_vector(model: Model, compiled: CompiledOde, params: Mapping[str, Any]) -> np.ndarray:
    """The parameter vector with overrides (parameters or compartment sizes) applied."""
    p = compiled.default_parameters.copy()
    position = {name: k for k, name in enumerate(compiled.parameters)}
    for name, value in params.items():
        if name not in position:
            raise _unknown(model, name, "parameter or compartment", position, "params")
        p[position[name]] = override_value(model, name, value, f"params.{name}")
    return p


def initial_state(model: Model, compiled: CompiledOde, initial: Mapping[str, Any]) -> np.ndarray:
    """The initial state with overrides applied."""
    x0 = compiled.default_initial.copy()
    position = {name: i for i, name in enumerate(compiled.species)}
    for name, value in initial.items():
        if name not in position:
            raise _unknown(model, name, "species", position, "initial")
        x0[position[name]] = override_value(model, name, value, f"initial.{name}")
    return x0


def override_value(model: Model, name: str, value: Any, location: str) -> float:
    """``value`` given for ``name`` (a species, parameter or compartment) in the model's units,
    its unit and sign checked; errors name ``location``.

    Raises
    ------
    UnitError, ModelIssue
        For a value without a fitting unit, not finite, or of a sign ``name`` cannot take.
    """
    from degranulation.values import check_value, internal_value

    try:
        given = UnitValue.parse(value)
        number = internal_value(model, name, given)
    except UnitError as exc:
        raise UnitError(exc.message, location=location, hint=exc.hint) from None
    if not math.isfinite(number):  # a UnitError, as before the sign rule (its callers catch that)
        raise UnitError(f"value {value!r} for '{name}' is not finite", location=location)
    check_value(model, name, number, str(given), location)
    return number


def name_hint(name: str, choices: Sequence[str] | Mapping[str, Any]) -> str:
    """The hint for a name that is not among ``choices``: the closest one, else the first few.

    Examples
    --------
    >>> from degranulation.simulation import name_hint
    >>> name_hint("kp", ["kp1", "km1"]), name_hint("zz", ["kp1", "km1"])
    ("did you mean 'kp1'?", 'known: kp1, km1')
    """
    import difflib

    known = list(choices)
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean '{close[0]}'?" if close else f"known: {', '.join(known[:12])}"


def _unknown(model: Model, name: str, kind: str, choices: Mapping[str, int], where: str) -> ModelError:
    hint = name_hint(name, choices)
    record = model.by_id.get(name)
    if isinstance(record, Species) and where == "params":
        hint = f"'{name}' is a species: pass it in initial={{...}}"
    elif record is not None and where == "initial":
        hint = f"'{name}' is not a species: pass it in params={{...}}"
    return ModelError(f"unknown {kind} '{name}' in model '{model.id}'", location=where, hint=hint)


def _step_text(step: Step) -> dict[str, str]:
    entry = {"at": str(step.at), "action": step.action, "target": step.target}
    if step.value is not None:
        entry["value"] = str(step.value)
    return entry


def _given(model: Model, overrides: Mapping[str, Any] | None, *, species: bool = False) -> dict[str, str]:
    if species:
        values = {s.id: str(s.initial) for s in model.species}
    else:
        values = {p.id: str(p.value) for p in model.parameters}
        values.update({c.id: str(c.size) for c in model.compartments})
    values.update({k: str(UnitValue.parse(v)) for k, v in (overrides or {}).items()})
    return values


def integrate(
    compiled: CompiledOde,
    times: np.ndarray,
    x0: np.ndarray,
    p: np.ndarray,
    solver: Solver,
    events: Sequence[Event] = (),
    state_events: CompiledEvents | None = None,
) -> Trajectory:
    """Solve from t = 0 (where ``x0`` is), restarting at every protocol step and at every root
    of ``state_events``' triggers (see :mod:`degranulation.state_events`); outputs at ``times``.

    An output at an event's time reports the state after the event (right-continuous). Output
    times need not include 0: the state at 10 s is that of a solve from 0 either way.

    Raises
    ------
    SimulationError
        On solver failure or a non-finite state, with the time reached and the state there.
    """
    from degranulation.protocols import apply
    from degranulation.state_events import EventQueue

    x = np.array(x0, dtype=float)
    p = np.array(p, dtype=float)
    frozen = np.zeros(len(x), dtype=bool)
    out = np.empty((len(x), len(times)))
    counters = dict.fromkeys(COUNTERS, 0)
    pending = sorted((e for e in events if e.t <= times[-1]), key=lambda e: e.t)
    queue = EventQueue(state_events, compiled.species) if state_events is not None else None
    # parameters at each output time, where events change them (observables depend on them)
    p_t = (
        np.empty((len(p), len(times))) if state_events is not None and state_events.sets_parameters else None
    )
    t = 0.0  # the model's initial time (event and output times are >= 0)
    filled = 0
    root: int | None = None
    while True:
        apply([e for e in pending if e.t == t], x, p, frozen)
        pending = [e for e in pending if e.t > t]
        if queue is not None:
            queue.update(t, x, p, root)
        begin = filled
        while filled < len(times) and times[filled] <= t:
            out[:, filled] = x
            filled += 1
        if p_t is not None:
            p_t[:, begin:filled] = p[:, None]
        if filled == len(times):
            return Trajectory(times, out, p, counters, p_t)
        stop = pending[0].t if pending else float(times[-1])
        roots: list[EventFunction] = []
        if queue is not None:
            stop = min(stop, queue.next_time())
            roots = queue.root_functions(t, x, p)
        fun, jac = compiled.functions(p, frozen if frozen.any() else None)
        begin = filled
        x, filled, t, root = _segment(
            compiled, solver, fun, jac, t, stop, x, times, out, filled, counters, roots
        )
        if p_t is not None:
            p_t[:, begin:filled] = p[:, None]


def _segment(
    compiled: CompiledOde,
    solver: Solver,
    fun: Callable[[float, np.ndarray], np.ndarray],
    jac: Callable[[float, np.ndarray], Any],
    t0: float,
    t1: float,
    x: np.ndarray,
    times: np.ndarray,
    out: np.ndarray,
    filled: int,
    counters: dict[str, int],
    events: Sequence[EventFunction] = (),
) -> tuple[np.ndarray, int, float, int | None]:
    """Integrate one smooth stretch, filling outputs strictly before ``t1`` (or before the first
    root of ``events``); return the state where it ended, the outputs filled, the time it ended
    and the event function whose root ended it (None at ``t1``).

    ``x`` may extend the state (forward sensitivities follow it); failures report the species.
    """
    upto = int(np.searchsorted(times, np.nextafter(t1, -np.inf), side="right"))
    limited = _limited(fun, solver.max_evaluations - counters["nfev"])
    try:
        segment = solver.solve_segment(limited, jac, t0, x, t1, times[filled:upto], events)
    except WorkLimit as exc:
        raise _failure(compiled, str(exc), exc.t, exc.y) from None
    except SegmentFailure as exc:
        reason = str(exc)
        # A state that stopped being finite may have stepped into rates that are not numbers.
        until = t1 if reason == NOT_FINITE else exc.t
        reason += _undefined_rates(compiled, fun, exc.t, exc.y, until)
        raise _failure(compiled, reason, exc.t, exc.y, jac) from None
    upto = filled + segment.values.shape[1]
    out[:, filled:upto] = segment.values
    for name in counters:
        counters[name] += segment.counters.get(name, 0)
    return segment.y, upto, segment.t, segment.event


class WorkLimit(Exception):
    """The right-hand side was evaluated ``max_evaluations`` times, or the solver is stuck
    (see :data:`degranulation.solvers.MAX_EVALUATIONS`); ``t`` and ``y`` say where."""

    def __init__(self, message: str, t: float, y: np.ndarray) -> None:
        super().__init__(message)
        self.t, self.y = t, y


def _limited(
    fun: Callable[[float, np.ndarray], np.ndarray], budget: int
) -> Callable[[float, np.ndarray], np.ndarray]:
    """``fun`` that raises :class:`WorkLimit` once called more than ``budget`` times, or
    :data:`STALLED` times in a row at one time: a solver stuck inside one step (LSODA on
    amounts near 1e150) only ever calls back, at the time it cannot leave."""
    calls = repeats = 0
    last = math.nan

    def counted(t: float, y: np.ndarray) -> np.ndarray:
        nonlocal calls, repeats, last
        calls += 1
        repeats = repeats + 1 if t == last else 0
        last = t
        if repeats >= STALLED:
            raise WorkLimit(
                f"the solver is stuck: it evaluated the right-hand side {repeats} times without advancing; "
                "the problem may be badly scaled (amounts near 1e150?): give the amounts in larger units",
                t,
                y,
            )
        if calls > budget:
            raise WorkLimit(
                f"the right-hand side was evaluated {budget} times (the solver's max_evaluations) without "
                "finishing; raise the limit, e.g. solver=dg.BDF(max_evaluations=10**8)",
                t,
                y,
            )
        return fun(t, y)

    return counted


def check_conservation(compiled: CompiledOde, trajectory: Trajectory, solver: Solver) -> None:
    """Warn (ConservationWarning) if a conserved total drifts more than the tolerances allow.

    The allowance for each law is ``100·(rtol·Σ|l_i·a_i| + Σ|l_i|·atol_i·V_i)``: the solver's own
    error control, in amounts (``V_i`` is 1 for amount species), so totals that are zero are
    judged by ``atol`` alone.
    """
    if not compiled.conservation_laws:
        return
    laws = np.array(compiled.conservation_laws, dtype=float)
    amounts = compiled.amounts(trajectory.x, trajectory.p)
    sizes = compiled.amounts(np.ones((len(compiled.species), 1)), trajectory.p)[:, 0]
    totals = laws @ amounts
    allowed = 100 * (
        solver.rtol * (np.abs(laws) @ np.abs(amounts)) + (np.abs(laws) @ (solver.absolute * sizes))[:, None]
    )
    excess = np.abs(totals - totals[:, :1]) / allowed
    worst = np.unravel_index(np.argmax(excess), excess.shape)
    if excess[worst] > 1:
        law = " + ".join(
            f"{c}*{name}"
            for c, name in zip(compiled.conservation_laws[worst[0]], compiled.species, strict=True)
            if c
        )
        change = abs(totals[worst] - totals[worst[0], 0])
        warnings.warn(
            f"conserved total {law} changed by {change:.3g} (from {totals[worst[0], 0]:.6g}) by "
            f"t = {trajectory.t[worst[1]]:g}, more than the tolerances allow; tighten rtol/atol",
            ConservationWarning,
            stacklevel=4,
        )


def check_model(model: Model, *, cache_dir: str | Path | bool | None = None) -> None:
    """Refuse a model with errors (``load_model`` checks what it reads, but a ``Model`` built
    or imported in Python may be given as it is: a group named like a species would otherwise
    shadow it in the results). Each model's content is checked once (see
    :mod:`degranulation.checked`; ``cache_dir`` as for :func:`simulate`).

    Raises
    ------
    ModelValidationError
        Grouping the model's errors (warnings are left to :func:`~degranulation.validation.validate`).
    """
    from degranulation.checked import find_issues
    from degranulation.errors import settle

    errors = [issue for issue in find_issues(model, cache_dir=cache_dir) if issue.severity == "error"]
    settle(errors, model.source or f"model '{model.id}'")


def check_signs(
    model: Model, compiled: CompiledOde, trajectory: Trajectory, x0: np.ndarray, solver: Solver
) -> str:
    """Warn (ResultWarning) about species the tolerances do not vouch for, and return the
    result's status: ``"ok"``, or ``"negative"`` and/or ``"below_atol"`` (comma-separated).

    ``negative``: a species went below ``-atol`` (its absolute tolerance) — a rate law that
    consumes what is not there, or tolerances too loose. Values between ``-atol`` and 0 are the
    solver's error control at work and are left as they are (not clipped, which would break
    conservation by the same amount): they are within what was asked for. ``below_atol``: a
    nonzero initial value smaller than ``atol``, which the solver does not resolve.
    """
    from degranulation.results import species_unit

    n = len(compiled.species)
    given = np.asarray(solver.absolute, dtype=float)
    atol = np.full(n, float(given)) if given.ndim == 0 else given[:n]
    lowest = trajectory.x[:n].min(axis=1, initial=0.0)
    status = []
    chemical = np.array([not model.get_species(name).variable for name in compiled.species], dtype=bool)
    negative = np.flatnonzero((lowest < -atol) & chemical)  # a model variable may be negative
    if len(negative):
        i = negative[np.argmin(lowest[negative] / atol[negative])]
        name = compiled.species[i]
        unit = species_unit(model, model.by_id[name])
        others = f" (and {len(negative) - 1} more species)" if len(negative) > 1 else ""
        warnings.warn(
            f"species '{name}'{others} went negative, down to {lowest[i]:.3g} {unit}, beyond its absolute "
            f"tolerance {atol[i]:.3g} {unit}: check the rate laws, or tighten rtol/atol",
            ResultWarning,
            stacklevel=4,
        )
        status.append("negative")
    small = np.flatnonzero((x0[:n] != 0) & (np.abs(x0[:n]) < atol))
    if len(small):
        i = small[0]
        name = compiled.species[i]
        unit = species_unit(model, model.by_id[name])
        names = ", ".join(f"'{compiled.species[k]}'" for k in small[:5])
        warnings.warn(
            f"the initial value of {names} ({x0[i]:.3g} {unit}{f' for {name!r}' if len(small) > 1 else ''}) "
            "is below the absolute "
            f"tolerance {atol[i]:.3g} {unit}, so the solver does not resolve it; give a smaller atol, "
            f"e.g. atol={abs(x0[i]) * 1e-3:.1g}",
            ResultWarning,
            stacklevel=4,
        )
        status.append("below_atol")
    return ", ".join(status) or "ok"


def _undefined_rates(
    compiled: CompiledOde,
    fun: Callable[[float, np.ndarray], np.ndarray],
    t: float,
    y: np.ndarray,
    until: float,
) -> str:
    """Which species' rates of change are not numbers at the finite state ``y`` at, or just
    after, ``t`` (where the solver gave up, its steps having failed), or, with ``until`` later
    than ``t``, from the first time up to ``until`` where some are (found by bisection: LSODA
    accepts a step whose error estimate is not a number and reports the state only when it
    is no longer finite), as a clause ('' if all are numbers)."""

    def undefined(when: float) -> np.ndarray:
        with np.errstate(all="ignore"):
            try:
                return ~np.isfinite(np.asarray(fun(when, y), dtype=float)[: len(compiled.species)])
            except (ArithmeticError, ValueError):
                return np.zeros(len(compiled.species), dtype=bool)

    if not np.all(np.isfinite(y)):
        return ""
    bad, where = undefined(t) | undefined(t + 1e-9 * max(1.0, abs(t))), "there"
    if not bad.any() and until > t and undefined(until).any():
        lo, hi = t, until
        for _ in range(60):  # to the rounding of the times
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if undefined(mid).any() else (mid, hi)
        bad, where = undefined(hi), f"from t = {hi:.6g} on"
    names = [name for name, flag in zip(compiled.species, bad, strict=False) if flag]
    if not names:
        return ""
    return (
        f"; the rate of change of {', '.join(names[:5])}{' …' if len(names) > 5 else ''} is not a number "
        f"{where} (a piecewise with no true condition and no 'otherwise', or log, sqrt or a division "
        "outside its domain)"
    )


def _failure(
    compiled: CompiledOde,
    message: str,
    t: float,
    y: np.ndarray,
    jac: Callable[[float, np.ndarray], Any] | None = None,
) -> SimulationError:
    state = {name: float(v) for name, v in zip(compiled.species, y, strict=False)}
    hint = "check the parameters for extreme values, or tighten rtol/atol or try solver='Radau'"
    if "is not a number" in message:  # from _undefined_rates: no solver can step there
        hint = "make the rate laws defined there (an 'otherwise' branch, or guard log, sqrt and divisions)"
    elif jac is not None and (undefined := _undefined_jacobian(compiled, jac, t, y)):
        hint = (
            f"the Jacobian is not a number there (derivatives by {undefined}); every stiff solver "
            "uses it, so another solver will not help: write the rate laws so they are differentiable there"
        )
    return SimulationError(
        f"solver failed at t = {t:.6g}: {message}", t_fail=float(t), state=state, hint=hint
    )


def _undefined_jacobian(
    compiled: CompiledOde, jac: Callable[[float, np.ndarray], Any], t: float, y: np.ndarray
) -> str:
    """The species whose Jacobian columns hold a non-number at ``y`` ('' if none)."""
    import scipy.sparse

    with np.errstate(all="ignore"):
        try:
            matrix = scipy.sparse.csc_array(jac(t, y))
        except (ArithmeticError, ValueError):
            return ""
    bad = np.unique(np.repeat(np.arange(matrix.shape[1]), np.diff(matrix.indptr))[~np.isfinite(matrix.data)])
    names = [compiled.species[k] for k in bad if k < len(compiled.species)]
    return ", ".join(names[:5]) + (" …" if len(names) > 5 else "")
