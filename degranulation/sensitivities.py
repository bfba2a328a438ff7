"""Forward sensitivities ``∂x/∂θ`` of states and observables, solved together with the states.

For ``dx/dt = f(x, p, t)`` the sensitivities ``S = ∂x/∂θ`` obey ``dS/dt = J·S + ∂f/∂θ``,
with ``J`` and ``∂f/∂p`` the sparse exact derivatives that :mod:`degranulation.codegen`
generates from the SymPy system. States and sensitivities form one augmented system solved by
SciPy's BDF; its Newton matrix is the block diagonal ``I ⊗ J`` (the coupling term
``∂(J·S)/∂x`` is left out, which changes only the Newton iteration, not the solution).
Each column is carried as ``|θ|·∂x/∂θ`` so that it has the state's scale and the state's
tolerances apply to it.

Protocol steps act on the sensitivities as on the states: ``set`` and ``clamp`` of a species
make its value independent of θ (its rows become zero), ``add`` keeps them, a clamped species
stays frozen, and a parameter that a step ``set``\\ s no longer depends on θ from then on.
Events triggered by the state (:mod:`degranulation.state_events`) end a stretch at their
trigger's root, where the sensitivities jump by the standard formula (see
:func:`integrate_sensitivities`), the time's own dependence on θ included; the root's and the
assignments' derivatives are generated from the SymPy expressions too. Events with a delay
are refused (:func:`state_events_for_sensitivities`).
Observables' derivatives ``∂g/∂x``, ``∂g/∂p`` come from the same SymPy expressions.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from degranulation.codegen import GeneratedCode
from degranulation.errors import ModelError
from degranulation.network import Model
from degranulation.typing import QuantityLike, TimeSpec

if TYPE_CHECKING:
    import scipy.sparse
    import xarray

    from degranulation.codegen import CompiledOde
    from degranulation.protocols import Event, ProtocolLike
    from degranulation.solvers import Solver
    from degranulation.state_events import CompiledEvents, EventDerivatives

INITIAL_SUFFIX = ".initial"


@dataclass(frozen=True)
class Target:
    """Something sensitivities are taken with respect to: a parameter (or compartment size),
    or a species' initial value (``name`` is then ``"Ag.initial"``)."""

    name: str
    is_initial: bool
    index: int  # into the parameter vector, or into the state for initial values


def targets(model: Model, compiled: CompiledOde, names: Sequence[str]) -> tuple[Target, ...]:
    """Resolve names (``"k_on"``, ``"cell"``, ``"Ag.initial"`` or ``"Ag"``) into targets.

    Raises
    ------
    ModelError
        For an unknown name (with the closest known one) or a name given twice.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.codegen import compile_model
    >>> model = dg.load_model("ige_fceri_crosslinking")
    >>> [t.name for t in targets(model, compile_model(model), ["kp1", "R"])]
    ['kp1', 'R.initial']
    """
    parameters = {name: k for k, name in enumerate(compiled.parameters)}
    species = {name: i for i, name in enumerate(compiled.species)}
    found: list[Target] = []
    for name in names:
        base = name.removesuffix(INITIAL_SUFFIX)
        if name in parameters and not name.endswith(INITIAL_SUFFIX):
            found.append(Target(name, False, parameters[name]))
        elif base in species:
            found.append(Target(base + INITIAL_SUFFIX, True, species[base]))
        else:
            known = list(parameters) + [s + INITIAL_SUFFIX for s in species]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "name a parameter, or 'Species.initial'"
            raise ModelError(f"model '{model.id}' has no parameter or species '{name}'", hint=hint)
    seen = [t.name for t in found]
    for name in seen:
        if seen.count(name) > 1:
            raise ModelError(f"'{name}' is named twice", hint="name each parameter once")
    return tuple(found)


@dataclass(frozen=True)
class SensitivityTrajectory:
    """States and their sensitivities at the output times, in the model's units.

    ``s[i, j, k]`` is ``∂x_i/∂θ_j`` at ``t[k]`` (state unit per unit of ``θ_j``). Where the
    model's events set parameters, ``p_t`` holds the parameters at each output time and
    ``dp_t[l, j, k]`` is ``∂p_l/∂θ_j`` there (None otherwise: the parameters are ``p`` throughout).
    """

    t: np.ndarray
    x: np.ndarray  # species × times
    s: np.ndarray  # species × targets × times
    p: np.ndarray
    counters: dict[str, int]
    p_t: np.ndarray | None = None  # parameters × times
    dp_t: np.ndarray | None = None  # parameters × targets × times

    @property
    def parameters(self) -> np.ndarray:
        """The parameters as observables take them: ``p``, or ``p_t`` where events change them."""
        return self.p if self.p_t is None else self.p_t


@dataclass(frozen=True)
class StateEvents:
    """A model's events (:mod:`degranulation.state_events`) as forward sensitivities follow
    them: the compiled events and the derivatives of their roots and assignments."""

    compiled: CompiledEvents
    derivatives: EventDerivatives


def state_events_for_sensitivities(model: Model, compiled: CompiledOde) -> StateEvents | None:
    """The events of ``model`` for :func:`integrate_sensitivities` (None if it has none).

    Raises
    ------
    UnsupportedFeatureError
        For an event with a delay: the time it executes would depend on θ through the delay
        too, which the jumps here do not follow (a gradient would be silently wrong).
    """
    from degranulation.errors import UnsupportedFeatureError
    from degranulation.state_events import compile_events, event_derivatives

    events = compile_events(model, compiled)
    if events is None:
        return None
    delayed = [event.id for event in model.events if event.delay]
    if delayed:
        raise UnsupportedFeatureError(
            f"sensitivities do not follow events with a delay (model '{model.id}' has '{delayed[0]}')",
            features=[f"event '{delayed[0]}' with a delay in sensitivities"],
            file=model.source,
        )
    return StateEvents(events, event_derivatives(model, compiled))


def integrate_sensitivities(
    compiled: CompiledOde,
    times: np.ndarray,
    x0: np.ndarray,
    p: np.ndarray,
    solver: Solver,
    events: Sequence[Event] = (),
    wrt: Sequence[Target] = (),
    state_events: StateEvents | None = None,
) -> SensitivityTrajectory:
    """Solve states and forward sensitivities together, restarting at every protocol step and
    at every root of ``state_events``' triggers, where the sensitivities jump.

    Outputs are right-continuous at event times, as in
    :func:`degranulation.simulation.integrate`; ``compiled`` needs ``dfdp``
    (``compile_model(model, sensitivities=True)``).

    At an event that a root of ``g(x, p, t) = 0`` triggers at ``τ``, assigning ``x⁺ = h(x⁻, p, t)``,
    ``dτ/dθ = -(g_x·s⁻ + g_p·∂p/∂θ)/(g_x·f⁻ + g_t)`` and
    ``s⁺ = h_x·s⁻ + h_p·∂p/∂θ - (f⁺ - h_x·f⁻ - h_t)·dτ/dθ`` (untouched species: ``h_x`` the
    identity). Events executed one after another at ``τ`` (cascades) compose; at a fixed time
    (the start, a protocol step) ``dτ/dθ = 0``. Events that set parameters carry ``∂p/∂θ``.

    Raises
    ------
    SimulationError
        On solver failure or a non-finite state, with the time reached; or where an event's
        root is tangent (``g_x·f + g_t = 0``), so that its time has no derivative.

    Examples
    --------
    >>> import numpy as np, degranulation as dg
    >>> from degranulation.codegen import compile_model
    >>> model = dg.load_model("ige_fceri_crosslinking")
    >>> ode = compile_model(model, sensitivities=True)
    >>> run = integrate_sensitivities(ode, np.array([0.0, 60.0]), ode.default_initial,
    ...                               ode.default_parameters, dg.BDF(), wrt=targets(model, ode, ["kp2"]))
    >>> run.s.shape
    (4, 1, 2)
    """
    from degranulation.protocols import apply
    from degranulation.simulation import _segment
    from degranulation.solvers import COUNTERS, EventFunction
    from degranulation.state_events import EventQueue

    n, m = compiled.n_species, len(wrt)
    solver = solver.for_states(n * (m + 1))  # a per-species atol holds for its sensitivities too
    x = np.array(x0, dtype=float)
    p = np.array(p, dtype=float)
    # Column j holds |θ_j|·∂x/∂θ_j (θ_j's own scale; 1 where θ_j is zero), and so does dp.
    values = np.array([x[t.index] if t.is_initial else p[t.index] for t in wrt], dtype=float)
    column_scale = np.where(values != 0.0, np.abs(values), 1.0)
    s = np.zeros((n, m))
    dp = np.zeros((len(p), m))  # ∂p/∂θ: a parameter a step or event sets changes its row
    for j, target in enumerate(wrt):
        (s if target.is_initial else dp)[target.index, j] = column_scale[j]
    frozen = np.zeros(n, dtype=bool)
    out = np.empty((n * (m + 1), len(times)))
    counters = dict.fromkeys(COUNTERS, 0)
    pending = sorted((e for e in events if e.t <= times[-1]), key=lambda e: e.t)
    jumps = _Jumps(compiled, state_events, m) if state_events is not None else None
    queue = (
        EventQueue(state_events.compiled, compiled.species, jumps if m else None)
        if state_events is not None
        else None
    )
    varying = state_events is not None and state_events.compiled.sets_parameters
    p_t = np.empty((len(p), len(times))) if varying else None
    dp_t = np.empty((len(p), m, len(times))) if varying else None
    t = 0.0  # the model's initial time, as in simulation.integrate
    filled = 0
    root: int | None = None
    while True:
        for event in (e for e in pending if e.t == t):
            before = x[event.index] if event.is_species else 0.0
            apply([event], x, p, frozen)
            if not event.is_species:
                dp[event.index, :] = 0.0  # θ no longer acts once a step sets it
            elif event.action in ("set", "clamp") or x[event.index] != before + event.value:
                s[event.index, :] = 0.0  # a value set (or an add clipped at zero) is independent of θ
        pending = [e for e in pending if e.t > t]
        if queue is not None and jumps is not None:
            s, dp = jumps.update(queue, t, x, p, s, dp, frozen, root)
        y = np.concatenate([x, s.T.ravel()])
        begin = filled
        while filled < len(times) and times[filled] <= t:
            out[:, filled] = y
            filled += 1
        _record(p_t, dp_t, p, dp, begin, filled)
        if filled == len(times):
            break
        stop = pending[0].t if pending else float(times[-1])
        roots: list[EventFunction] = []
        if queue is not None:
            stop = min(stop, queue.next_time())
            roots = queue.root_functions(t, x, p)
        fun, jac = _augmented(compiled, p, frozen, m, dp)
        begin = filled
        y, filled, t, root = _segment(
            compiled, solver, fun, jac, t, stop, y, times, out, filled, counters, roots
        )
        _record(p_t, dp_t, p, dp, begin, filled)
        x, s = y[:n].copy(), y[n:].reshape(m, n).T.copy()
    sens = out[n:].reshape(m, n, len(times)).transpose(1, 0, 2) / column_scale[None, :, None]
    if dp_t is not None:
        dp_t = dp_t / column_scale[None, :, None]
    return SensitivityTrajectory(np.asarray(times, dtype=float), out[:n], sens, p, counters, p_t, dp_t)


def _record(
    p_t: np.ndarray | None, dp_t: np.ndarray | None, p: np.ndarray, dp: np.ndarray, begin: int, end: int
) -> None:
    """Keep the parameters and their sensitivities at outputs ``begin:end`` (where events set them)."""
    if p_t is not None and dp_t is not None:
        p_t[:, begin:end] = p[:, None]
        dp_t[:, :, begin:end] = dp[:, :, None]


class _Jumps:
    """The sensitivities' jumps where events execute (the listener of an
    :class:`~degranulation.state_events.EventQueue`; see :func:`integrate_sensitivities`).

    Between :meth:`update`'s start and end it carries the total derivatives of the state and
    parameters along the event time, ``D = s + f·dτ/dθ`` and ``∂p/∂θ``: an assignment replaces
    its targets' rows by ``h_x·D + h_p·∂p/∂θ + h_t·dτ/dθ``, and ``s⁺ = D - f⁺·dτ/dθ`` at the end.
    """

    def __init__(self, compiled: CompiledOde, events: StateEvents, m: int) -> None:
        self.compiled = compiled
        self.events = events
        self.n = compiled.n_species
        self.total = np.zeros((self.n, m))
        self.dp = np.zeros((0, m))
        self.tau = np.zeros(m)
        self.changed = False

    def update(
        self,
        queue: Any,
        t: float,
        x: np.ndarray,
        p: np.ndarray,
        s: np.ndarray,
        dp: np.ndarray,
        frozen: np.ndarray,
        root: int | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run ``queue``'s update at ``t`` (changing ``x`` and ``p`` in place) and return the
        sensitivities ``s`` and ``∂p/∂θ`` after it."""
        if not s.shape[1]:  # no sensitivities: the states alone
            queue.update(t, x, p, root)
            return s, dp
        if root is None:  # a fixed time (the start, a protocol step): dτ/dθ = 0
            self.tau = np.zeros(s.shape[1])
            self.total = s.copy()
        else:
            f_before = self._rate(t, x, p, frozen)
            self.tau = self._event_time(t, x, p, s, dp, f_before, root)
            self.total = s + np.outer(f_before, self.tau)
        self.dp = dp.copy()
        self.changed = False
        queue.update(t, x, p, root)
        if not self.changed:
            return s, dp
        if root is None:
            return self.total, self.dp
        return self.total - np.outer(self._rate(t, x, p, frozen), self.tau), self.dp

    def _rate(self, t: float, x: np.ndarray, p: np.ndarray, frozen: np.ndarray) -> np.ndarray:
        """``f(x, p, t)`` with the clamps in force."""
        fun = self.compiled.functions(p, frozen if frozen.any() else None)[0]
        return np.asarray(fun(t, x), dtype=float)

    def _event_time(
        self,
        t: float,
        x: np.ndarray,
        p: np.ndarray,
        s: np.ndarray,
        dp: np.ndarray,
        f: np.ndarray,
        root: int,
    ) -> np.ndarray:
        """``dτ/dθ`` of a root of comparison ``root // 2`` (roots come in rising/falling pairs)."""
        from degranulation.errors import SimulationError

        n = self.n
        gradient = self.events.derivatives.module.root_gradients(x, p, t)[root // 2]
        gx, gp, gt = gradient[:n], gradient[n:-1], gradient[-1]
        rate = float(gx @ f + gt)
        if not np.isfinite(rate) or rate == 0.0:
            raise SimulationError(
                f"an event's trigger is met tangentially at t = {t:.6g} (it touches zero without "
                "crossing), so the event's time has no derivative",
                t_fail=float(t),
                hint="sensitivities need triggers that the state crosses",
            )
        return np.asarray(-(gx @ s + gp @ dp) / rate, dtype=float)

    def fired(self, event: int, t: float, x: np.ndarray, p: np.ndarray) -> Any:
        """What an assignment computed at firing (``use_values_from_trigger_time``) is taken from."""
        if not self.events.compiled.use_trigger_values[event]:
            return None
        return x.copy(), p.copy(), self.total.copy(), self.dp.copy()

    def assigned(self, event: int, t: float, x: np.ndarray, p: np.ndarray, context: Any) -> None:
        """Replace the rows of event ``event``'s targets (executing now) by their derivatives."""
        n = self.n
        xs, ps, total, dp = context if context is not None else (x, p, self.total, self.dp)
        gradient = getattr(self.events.derivatives.module, f"assign_gradient_{event}")(xs, ps, t)
        rows = gradient[:, :n] @ total + gradient[:, n:-1] @ dp + np.outer(gradient[:, -1], self.tau)
        for target, row in zip(self.events.compiled.targets[event], rows, strict=True):
            if target < n:
                self.total[target] = row
            else:
                self.dp[target - n] = row
        self.changed = True


def _augmented(
    compiled: CompiledOde, p: np.ndarray, frozen: np.ndarray, m: int, dp: np.ndarray
) -> tuple[Any, Any]:
    """``fun``/``jac`` of ``[x, S]`` for one smooth stretch (fixed ``p``, ``∂p/∂θ`` and clamps)."""
    import scipy.sparse

    n = compiled.n_species
    fun_x, jac_x = compiled.functions(p, frozen if frozen.any() else None)
    if m == 0:
        return fun_x, jac_x
    identity = scipy.sparse.identity(m + 1, format="csc")
    # The entries of ∂f/∂p times ∂p/∂θ, each scattered straight into dS/dt (clamped rows
    # dropped): cheaper than building a sparse matrix per call.
    by_parameter: dict[int, list[tuple[int, float]]] = {}
    for k, j in zip(*np.nonzero(dp), strict=True):
        by_parameter.setdefault(int(k), []).append((int(j), float(dp[k, j])))
    picked_list, cols_list, weights_list = [], [], []
    for e, (i, k) in enumerate(zip(compiled.dfdp_rows, compiled.dfdp_cols, strict=True)):
        if not frozen[i]:
            for j, weight in by_parameter.get(int(k), ()):
                picked_list.append(e)
                cols_list.append(j)
                weights_list.append(weight)
    picked = np.array(picked_list, dtype=np.int64)
    rows = compiled.dfdp_rows[picked]
    cols = np.array(cols_list, dtype=np.int64)
    weights = np.array(weights_list, dtype=float)
    dfdp = compiled.module.dfdp
    p_list = p.tolist()

    product = compiled.jacobian_product(p, frozen if frozen.any() else None)

    def sensitivity_rhs(t: float, x: np.ndarray, s: np.ndarray) -> np.ndarray:
        ds = product(t, x, s)
        if len(picked):
            # Python floats evaluate the generated scalar expressions several times faster.
            values = np.asarray(dfdp(x.tolist(), p_list, t), dtype=float)
            np.add.at(ds, (rows, cols), values[picked] * weights)
        return np.asarray(ds)

    def fun(t: float, y: np.ndarray) -> np.ndarray:
        x = y[:n]
        return np.concatenate([fun_x(t, x), sensitivity_rhs(t, x, y[n:].reshape(m, n).T).T.ravel()])

    pattern = scipy.sparse.csc_array(
        (np.ones(len(compiled.jac_indices)), compiled.jac_indices, compiled.jac_indptr), shape=(n, n)
    )
    groups = _column_groups(pattern)

    def jac(t: float, y: np.ndarray) -> Any:
        x, s = y[:n], y[n:].reshape(m, n).T
        block = jac_x(t, x)
        coupling = _coupling(sensitivity_rhs, t, x, s, pattern, groups)
        lower = scipy.sparse.hstack([coupling, scipy.sparse.csr_array((n * m, n * m))])
        upper = scipy.sparse.csr_array((n, n * (m + 1)))
        return scipy.sparse.kron(identity, block, format="csc") + scipy.sparse.vstack(
            [upper, lower], format="csc"
        )

    return fun, jac


def _coupling(
    rhs: Any,
    t: float,
    x: np.ndarray,
    s: np.ndarray,
    pattern: scipy.sparse.csc_array,
    groups: list[np.ndarray],
) -> scipy.sparse.csr_array:
    """``∂(J·S + ∂f/∂θ)/∂x`` by forward differences: the Newton matrix's coupling block.

    Only the Newton iteration uses it (the sensitivities themselves stay exact); without it
    the iteration converges slowly on stiff models and the solver takes many more steps.
    Its sparsity is the Jacobian's (a second derivative of a rate is non-zero only where the
    first is), so columns that share no row are perturbed together (Curtis–Powell–Reid).
    """
    import scipy.sparse

    n, m = s.shape
    base = rhs(t, x, s)
    typical = max(float(np.abs(x).max(initial=0.0)), 1e-300) * 1e-3
    steps = 1.5e-8 * np.maximum(np.abs(x), typical)
    rows, cols, values = [], [], []
    for group in groups:
        shifted = x.copy()
        shifted[group] += steps[group]
        change = rhs(t, shifted, s) - base  # n × m
        for k in group:
            touched = pattern.indices[pattern.indptr[k] : pattern.indptr[k + 1]]
            for j in range(m):
                rows.append(j * n + touched)
                cols.append(np.full(len(touched), k))
                values.append(change[touched, j] / steps[k])
    return scipy.sparse.csr_array(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(m * n, n)
    )


def _column_groups(pattern: scipy.sparse.csc_array) -> list[np.ndarray]:
    """Greedy grouping of columns so that no two columns of a group share a row."""
    n = pattern.shape[1]
    groups: list[list[int]] = []
    used: list[set[int]] = []
    for k in range(n):
        rows = set(pattern.indices[pattern.indptr[k] : pattern.indptr[k + 1]].tolist())
        for group, taken in zip(groups, used, strict=True):
            if not rows & taken:
                group.append(k)
                taken |= rows
                break
        else:
            groups.append([k])
            used.append(rows)
    return [np.array(g, dtype=np.int64) for g in groups]


@dataclass(frozen=True, eq=False)
class ObservableDerivatives(GeneratedCode):
    """``∂g/∂x`` and ``∂g/∂p`` of a model's observables, generated from their SymPy forms.

    Picklable: holds the generated source and loads it on first use.
    """

    key: str
    source: str
    x_rows: np.ndarray
    x_cols: np.ndarray
    p_rows: np.ndarray
    p_cols: np.ndarray
    factors: np.ndarray
    n_species: int
    n_parameters: int
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _module_prefix = "degranulation_observables"

    def derivatives(self, x: np.ndarray, p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Dense ``∂g/∂x`` (observables × species × times) and ``∂g/∂p`` (observables ×
        parameters × times), in the observables' declared units."""
        n_obs, n_t = len(self.factors), len(t)
        gx = np.zeros((n_obs, self.n_species, n_t))
        gp = np.zeros((n_obs, self.n_parameters, n_t))
        if len(self.x_rows):
            np.add.at(gx, (self.x_rows, self.x_cols), self.module.dx(x, p, t))
        if len(self.p_rows):
            np.add.at(gp, (self.p_rows, self.p_cols), self.module.dp(x, p, t))
        return gx * self.factors[:, None, None], gp * self.factors[:, None, None]


_OBSERVABLE_CACHE: dict[str, ObservableDerivatives] = {}


def observable_derivatives(model: Model, compiled: CompiledOde) -> ObservableDerivatives:
    """Generate (once per compiled model) the derivatives of ``model``'s observables."""
    if compiled.key in _OBSERVABLE_CACHE:
        return _OBSERVABLE_CACHE[compiled.key]
    import sympy

    from degranulation.codegen import _Printer
    from degranulation.expressions import parse_expression, symbol
    from degranulation.symbolic import derivative_of

    species = [symbol(s) for s in compiled.species]
    parameters = [symbol(q) for q in compiled.parameters]
    names = {s: f"x[{i}]" for i, s in enumerate(species)}
    names.update({s: f"p[{k}]" for k, s in enumerate(parameters)})
    printer = _Printer(names)
    entries: dict[str, list[tuple[int, int, sympy.Expr]]] = {"dx": [], "dp": []}
    for row, observable in enumerate(model.observables):
        expr = parse_expression(observable.expr).expr
        for kind, group in (("dx", species), ("dp", parameters)):
            for col, name in enumerate(group):
                if name in expr.free_symbols:
                    derivative = derivative_of(expr, name)
                    if derivative != 0:
                        entries[kind].append((row, col, derivative))
    body = []
    for kind, found in entries.items():
        printed = [printer.doprint(e) for _, _, e in found]
        value = f"numpy.array(numpy.broadcast_arrays({', '.join(printed)}, t))[:-1]" if printed else "None"
        body.append(f"def {kind}(x, p, t):\n    return {value}\n")
    imports = "\n".join(f"import {module}" for module in sorted({"numpy", *printer.module_imports}))
    source = f'"""Generated by degranulation.sensitivities; do not edit."""\n{imports}\n\n\n' + "\n\n".join(
        body
    )

    def index(kind: str, position: int) -> np.ndarray:
        return np.array([entry[position] for entry in entries[kind]], dtype=np.int64)

    derivatives = ObservableDerivatives(
        key=compiled.key,
        source=source,
        x_rows=index("dx", 0),
        x_cols=index("dx", 1),
        p_rows=index("dp", 0),
        p_cols=index("dp", 1),
        factors=np.asarray(compiled.observable_factors, dtype=float),
        n_species=compiled.n_species,
        n_parameters=len(compiled.parameters),
    )
    _OBSERVABLE_CACHE[compiled.key] = derivatives
    return derivatives


def observable_sensitivities(
    derivatives: ObservableDerivatives, run: SensitivityTrajectory, wrt: Sequence[Target]
) -> np.ndarray:
    """``∂g/∂θ`` (observables × targets × times) from a run's state sensitivities (and its
    parameters' where events set them)."""
    gx, gp = derivatives.derivatives(run.x, run.parameters, run.t)
    result = np.einsum("oit,ijt->ojt", gx, run.s)
    if run.dp_t is not None:
        return result + np.einsum("okt,kjt->ojt", gp, run.dp_t)
    for j, target in enumerate(wrt):
        if not target.is_initial:
            result[:, j, :] += gp[:, target.index, :]
    return result


def simulate_sensitivities(
    model: Model | str | Path,
    t: TimeSpec = "100 s",
    *,
    wrt: Sequence[str],
    params: Mapping[str, QuantityLike] | None = None,
    initial: Mapping[str, QuantityLike] | None = None,
    protocol: ProtocolLike = None,
    solver: str | Solver = "BDF",
    rtol: float | None = None,
    atol: float | str | None = None,
    points: int = 101,
    cache_dir: str | Path | bool | None = None,
) -> xarray.Dataset:
    """Time courses and their sensitivities to relative changes of parameters or initial values.

    Parameters
    ----------
    model : Model, str or Path
        A model, a bundled model id, or a path to a model file.
    t : str, Quantity or sequence
        End time or output times, as in :func:`degranulation.simulate`.
    wrt : sequence of str
        Parameters, compartment sizes or initial values (``"Ag.initial"``).

    Returns
    -------
    xarray.Dataset
        What :func:`degranulation.simulate` returns, plus ``<id>_sensitivity`` (``time`` ×
        ``parameter``) for every species and observable: ``θ·∂y/∂θ``, the change of ``y``
        per relative change of ``θ``, in ``y``'s unit (zero where ``θ`` is zero).

    Other Parameters
    ----------------
    params, initial, protocol, solver, rtol, atol, points, cache_dir
        As in :func:`degranulation.simulate`.

    Examples
    --------
    >>> import degranulation as dg
    >>> ds = dg.simulate_sensitivities("ige_fceri_crosslinking", t="60 s", wrt=["kp1", "kp2"], points=3)
    >>> ds["RecDim_sensitivity"].sizes["parameter"]
    2
    """
    from degranulation.codegen import compile_model
    from degranulation.library import as_model
    from degranulation.protocols import protocol_steps, resolve
    from degranulation.results import make_dataset, quantify
    from degranulation.simulation import (
        Trajectory,
        absolute_tolerance,
        initial_state,
        output_times,
        parameter_vector,
    )
    from degranulation.solvers import solver_from

    model = as_model(model)
    compiled = compile_model(model, sensitivities=True, cache_dir=cache_dir)
    state_events = state_events_for_sensitivities(model, compiled)
    wanted = targets(model, compiled, wrt)
    times = output_times(model, t, points)
    p = parameter_vector(model, compiled, params or {})
    x0 = initial_state(model, compiled, initial or {})
    events = resolve(model, compiled, protocol_steps(model, protocol))
    options = solver_from(solver, rtol=rtol, atol=absolute_tolerance(model, compiled, atol, p))
    run = integrate_sensitivities(compiled, times, x0, p, options, events, wanted, state_events)
    dataset = make_dataset(model, compiled, Trajectory(run.t, run.x, run.p, run.counters, run.p_t), {})
    theta = np.array([x0[w.index] if w.is_initial else p[w.index] for w in wanted])
    relative = {
        **{s: run.s[i] for i, s in enumerate(compiled.species)},
        **dict(
            zip(
                compiled.observables,
                observable_sensitivities(observable_derivatives(model, compiled), run, wanted),
                strict=True,
            )
        ),
    }
    import xarray as xr

    extra = xr.Dataset(
        {
            f"{name}_sensitivity": (
                ("time", "parameter"),
                (values * theta[:, None]).T,
                {"units": str(dataset[name].pint.units), "long_name": f"θ·∂{name}/∂θ"},
            )
            for name, values in relative.items()
        },
        coords={"parameter": [w.name for w in wanted]},
    )
    return xr.merge([dataset, quantify(extra)], combine_attrs="override")
