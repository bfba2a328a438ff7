"""Events triggered by the state (:class:`~degranulation.network.ModelEvent`): their generated
functions, and the rules that run them during a simulation (SBML Level 3's semantics).

Each comparison ``a ⋚ b`` in a trigger becomes a root function ``g = a - b`` (comparisons
with the same difference, up to sign, share one); the solver stops where any ``g`` crosses
zero (:class:`~degranulation.solvers.EventFunction`), and every trigger is evaluated from the
signs of the ``g``\\ s there. At a root the ``g`` that crossed is taken on the side it crossed
to (at the root it is zero to rounding, on either side), and stays so until it moves clearly
away: that is how a trigger ``x < 0.5`` fires at ``x = 0.5`` and a restart there does not fire
it again.

An event fires when its trigger turns from false to true (before the start it holds
``initial_value``). Its delay and, with ``use_values_from_trigger_time``, its assignments are
evaluated then; it executes after the delay. Events due at one time execute one at a time, the
highest ``priority`` first (none: last; ties in the model's order), and every trigger is
evaluated again after each, so that events an assignment triggers join the queue (cascades)
and a non-persistent event whose trigger turned false leaves it.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from degranulation.codegen import GeneratedCode
from degranulation.errors import SimulationError
from degranulation.network import parameter_targets
from degranulation.solvers import EventFunction

if TYPE_CHECKING:
    import sympy

    from degranulation.codegen import CompiledOde
    from degranulation.network import Model

#: A root function within this fraction of its operands' size of zero is on the side it last
#: crossed to (root finding leaves it zero to rounding, on either side).
SIDE_TOLERANCE: Final = 1e-9
#: Event executions at one time that mean events trigger each other without end.
MAX_CASCADE: Final = 10_000


@dataclass(frozen=True, eq=False)
class CompiledEvents(GeneratedCode):
    """The generated functions of a model's events and what the event loop needs to run them.

    The module has ``roots(x, p, t)`` and ``scales(x, p, t)`` (``g = a - b`` and ``|a| + |b|`` of
    each distinct comparison), ``triggers(g)`` (each event's trigger from the ``g``\\ s),
    ``delays(x, p, t)``, ``priorities(x, p, t)`` (NaN where an event has none) and
    ``assign_<k>(x, p, t)`` (event k's assigned values, in its targets' order).

    Examples
    --------
    >>> import numpy as np
    >>> from degranulation.codegen import compile_model
    >>> from degranulation.network import Model, ModelEvent, Parameter, Species, UnitValue
    >>> from degranulation.state_events import compile_events
    >>> model = Model("decay", species=(Species("x", UnitValue(1.0, "molecule")),),
    ...     parameters=(Parameter("half", UnitValue(0.5, "molecule")),),
    ...     events=(ModelEvent("reset", "x < half", (("x", "2*half"),)),))
    >>> events = compile_events(model, compile_model(model, cache_dir=False))
    >>> events.module.roots(np.array([0.25]), np.array([0.5]), 0.0)
    array([-0.25])
    """

    ids: tuple[str, ...]
    targets: tuple[tuple[int, ...], ...]  # each event's targets: species i as i, parameter k as n + k
    persistent: tuple[bool, ...]
    initial_value: tuple[bool, ...]
    use_trigger_values: tuple[bool, ...]
    n_roots: int
    sets_parameters: bool
    source: str
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, init=False)
    _module_prefix = "degranulation_events"

    def assignments(self, event: int, x: np.ndarray, p: np.ndarray, t: float) -> np.ndarray:
        """Event ``event``'s assigned values at ``(x, p, t)``."""
        return np.asarray(getattr(self.module, f"assign_{event}")(x, p, t), dtype=float)


def compile_events(model: Model, compiled: CompiledOde) -> CompiledEvents | None:
    """The compiled events of a validated model (None if it has none); kept in memory per model.

    Raises
    ------
    ModelError
        For an assignment to anything but a species (see :mod:`degranulation.validation`).
    """
    if not model.events:
        return None
    key = f"{model.content_hash}:{compiled.key}"
    if key not in _MEMORY:
        _MEMORY[key] = _compile(model, compiled.species, compiled.parameters)
    return _MEMORY[key]


_MEMORY: dict[str, CompiledEvents] = {}


def _names(species: tuple[str, ...], parameters: tuple[str, ...]) -> dict[Any, str]:
    """How generated code names each species (``x[i]``) and parameter (``p[k]``)."""
    from degranulation.expressions import symbol

    names = {symbol(s): f"x[{i}]" for i, s in enumerate(species)}
    names.update({symbol(name): f"p[{k}]" for k, name in enumerate(parameters)})
    return names


def _compile(model: Model, species: tuple[str, ...], parameters: tuple[str, ...]) -> CompiledEvents:
    import sympy

    from degranulation.codegen import _printer_class
    from degranulation.expressions import parse_condition, parse_expression

    names = _names(species, parameters)
    differences: dict[sympy.Expr, int] = {}
    triggers = [_signs_of(parse_condition(e.trigger).expr, differences) for e in model.events]
    names.update({sympy.Symbol(f"g_{k}", real=True): f"g[{k}]" for k in range(len(differences))})
    printer = _printer_class()(names)
    differences_list = list(differences)
    functions = {
        "roots": ("x, p, t", differences_list),
        "scales": ("x, p, t", [_size(d) for d in differences_list]),
        "triggers": ("g", triggers),
        "delays": (
            "x, p, t",
            [parse_expression(e.delay).expr if e.delay else sympy.nan for e in model.events],
        ),
        "priorities": (
            "x, p, t",
            [parse_expression(e.priority).expr if e.priority else sympy.nan for e in model.events],
        ),
    }
    for k, event in enumerate(model.events):
        functions[f"assign_{k}"] = ("x, p, t", [parse_expression(text).expr for _, text in event.assignments])
    position = {name: i for i, name in enumerate((*species, *parameters))}
    return CompiledEvents(
        ids=tuple(e.id for e in model.events),
        targets=tuple(tuple(position[target] for target, _ in e.assignments) for e in model.events),
        persistent=tuple(e.persistent for e in model.events),
        initial_value=tuple(e.initial_value for e in model.events),
        use_trigger_values=tuple(e.use_values_from_trigger_time for e in model.events),
        n_roots=len(differences),
        sets_parameters=bool(parameter_targets(model)),
        source=_source(printer, functions),
    )


@dataclass(frozen=True, eq=False)
class EventDerivatives(GeneratedCode):
    """Derivatives of a model's event roots and assignments, for the sensitivities' jumps at
    events (:mod:`degranulation.sensitivities`), generated from the same SymPy expressions as
    :class:`CompiledEvents`.

    The module has ``root_gradients(x, p, t)`` (roots × ``n + n_p + 1``: each ``g``'s
    derivatives with respect to the species, the parameters and time, in the order of
    :class:`CompiledEvents`' ``roots``) and ``assign_gradient_<k>(x, p, t)`` (event k's
    targets × ``n + n_p + 1``).

    Examples
    --------
    >>> import numpy as np
    >>> from degranulation.codegen import compile_model
    >>> from degranulation.network import Model, ModelEvent, Parameter, Species, UnitValue
    >>> model = Model("decay", species=(Species("x", UnitValue(1.0, "molecule")),),
    ...     parameters=(Parameter("half", UnitValue(0.5, "molecule")),),
    ...     events=(ModelEvent("reset", "x < half", (("x", "2*half"),)),))
    >>> derivatives = event_derivatives(model, compile_model(model, cache_dir=False))
    >>> derivatives.module.root_gradients(np.array([0.25]), np.array([0.5]), 0.0)
    array([[ 1., -1.,  0.]])
    >>> derivatives.module.assign_gradient_0(np.array([0.25]), np.array([0.5]), 0.0)
    array([[0., 2., 0.]])
    """

    source: str
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, init=False)
    _module_prefix = "degranulation_event_derivatives"


def event_derivatives(model: Model, compiled: CompiledOde) -> EventDerivatives:
    """The generated derivatives of a validated model's events (see :class:`EventDerivatives`);
    kept in memory per model."""
    key = f"derivatives:{model.content_hash}:{compiled.key}"
    if key not in _MEMORY_DERIVATIVES:
        _MEMORY_DERIVATIVES[key] = _derivatives(model, compiled.species, compiled.parameters)
    return _MEMORY_DERIVATIVES[key]


_MEMORY_DERIVATIVES: dict[str, EventDerivatives] = {}


def _derivatives(model: Model, species: tuple[str, ...], parameters: tuple[str, ...]) -> EventDerivatives:
    from degranulation.codegen import _printer_class
    from degranulation.expressions import TIME, parse_condition, parse_expression, symbol
    from degranulation.symbolic import derivative_of

    names = _names(species, parameters)
    printer = _printer_class()(names)
    variables = [*(symbol(s) for s in species), *(symbol(q) for q in parameters), TIME]
    differences: dict[sympy.Expr, int] = {}
    for event in model.events:  # numbered as in _compile
        _signs_of(parse_condition(event.trigger).expr, differences)

    def matrix(name: str, exprs: list[sympy.Expr]) -> str:
        lines = [f"def {name}(x, p, t):", f"    out = numpy.zeros(({len(exprs)}, {len(variables)}))"]
        lines.append("    with numpy.errstate(all='ignore'):")
        for row, expr in enumerate(exprs):
            for col, variable in enumerate(variables):
                if expr.has_free(variable):
                    derivative = derivative_of(expr, variable)
                    if derivative != 0:
                        lines.append(f"        out[{row}, {col}] = {printer.doprint(derivative)}")
        if len(lines) == 3:
            lines.pop()  # constant: no entry to fill
        lines.append("    return out\n")
        return "\n".join(lines)

    body = [matrix("root_gradients", list(differences))]
    for k, event in enumerate(model.events):
        body.append(
            matrix(f"assign_gradient_{k}", [parse_expression(text).expr for _, text in event.assignments])
        )
    header = "\n".join(f"import {module}" for module in sorted({"numpy", *printer.module_imports}))
    return EventDerivatives(
        source=f'"""Generated by degranulation.state_events; do not edit."""\n{header}\n\n\n'
        + "\n\n".join(body)
    )


def _signs_of(condition: sympy.Basic, differences: dict[sympy.Expr, int]) -> sympy.Basic:
    """``condition`` with each comparison ``a ⋚ b`` written as ``±g_k ⋚ 0`` (``g_k = ±(a - b)``,
    one ``g_k`` per difference up to sign, numbered in ``differences``)."""
    import sympy

    if isinstance(condition, sympy.core.relational.Relational):
        difference = sympy.expand(condition.lhs - condition.rhs)
        sign = 1
        if -difference in differences:
            difference, sign = -difference, -1
        k = differences.setdefault(difference, len(differences))
        return condition.func(sign * sympy.Symbol(f"g_{k}", real=True), 0)
    if isinstance(condition, sympy.logic.boolalg.BooleanAtom):
        return condition
    return condition.func(*(_signs_of(part, differences) for part in condition.args))


def _size(difference: sympy.Expr) -> sympy.Expr:
    """``Σ |term|`` of a difference: the scale its zero is judged against."""
    import sympy

    return sympy.Add(*(sympy.Abs(term) for term in sympy.Add.make_args(difference)))


def _source(printer: Any, functions: dict[str, tuple[str, list[Any]]]) -> str:
    body = []
    for name, (arguments, exprs) in functions.items():
        printed = [printer.doprint(e) for e in exprs]
        values = (
            "numpy.array([" + ", ".join(f"float({text})" for text in printed) + "], dtype=float)"
            if printed
            else "numpy.zeros(0)"
        )
        body.append(
            f"def {name}({arguments}):\n    with numpy.errstate(all='ignore'):\n        return {values}\n"
        )
    imports = sorted({"numpy", *printer.module_imports})
    header = "\n".join(f"import {module}" for module in imports)
    return f'"""Generated by degranulation.state_events; do not edit."""\n{header}\n\n\n' + "\n\n".join(body)


@dataclass(order=True)
class _Pending:
    """An event that fired and waits to execute (ordered by time, then firing order)."""

    time: float
    sequence: int
    event: int = field(compare=False)
    values: np.ndarray | None = field(compare=False)  # computed when it fired, or None
    context: Any = field(compare=False, default=None)  # what a listener kept when it fired


class EventQueue:
    """The state of a simulation's events: the triggers' last values, the comparisons that
    just crossed, and the events waiting to execute. :func:`~degranulation.simulation.integrate`
    calls :meth:`root_functions` for each segment and :meth:`update` where one ends.

    A ``listener`` (forward sensitivities, :mod:`degranulation.sensitivities`) hears of every
    firing and execution: ``fired(event, t, x, p)`` returns what it keeps until the event
    executes, and ``assigned(event, t, x, p, context)`` runs just before the assignment, with the
    state and parameters as they are then."""

    def __init__(self, events: CompiledEvents, species: Sequence[str], listener: Any = None) -> None:
        self.events = events
        self.species = tuple(species)
        self.listener = listener
        self.previous = np.array(events.initial_value, dtype=bool)
        self.crossed: dict[int, float] = {}  # comparison -> the side it crossed to (±1)
        self.pending: list[_Pending] = []
        self.counter = itertools.count()
        self._memo: tuple[float, bytes, np.ndarray] | None = None

    def next_time(self) -> float:
        """When the next waiting event executes (inf if none waits)."""
        return self.pending[0].time if self.pending else math.inf

    def root_functions(self, t0: float, x: np.ndarray, p: np.ndarray) -> list[EventFunction]:
        """Two functions per comparison (rising, falling) for a segment from ``t0`` in state
        ``x``; at ``t0`` each takes the side it is on there (see the module's notes)."""
        start = self._sides(t0, x, p)
        module = self.events.module
        n = len(self.species)

        def g(k: int) -> Callable[[float, np.ndarray], float]:
            def value(t: float, y: np.ndarray) -> float:
                if t == t0:
                    return float(start[k])
                key = y.tobytes()
                if self._memo is None or self._memo[0] != t or self._memo[1] != key:
                    self._memo = (t, key, module.roots(y[:n], p, t))
                return float(self._memo[2][k])

            return value

        return [EventFunction(g(k), d) for k in range(self.events.n_roots) for d in (1, -1)]

    def update(self, t: float, x: np.ndarray, p: np.ndarray, root: int | None = None) -> None:
        """At time ``t`` (the start, a segment's end or a root of function ``root`` of
        :meth:`root_functions`): fire the events whose triggers turned true, cancel what no longer
        holds, and execute the events due, changing ``x`` and ``p`` in place."""
        self._memo = None
        if root is not None:
            self.crossed[root // 2] = 1.0 if root % 2 == 0 else -1.0
        self._evaluate(t, x, p)
        for _ in range(MAX_CASCADE):
            due = [item for item in self.pending if item.time <= t]
            if not due:
                return
            item = self._first(due, t, x, p)
            self.pending.remove(item)
            heapq.heapify(self.pending)
            values = item.values if item.values is not None else self.events.assignments(item.event, x, p, t)
            if self.listener is not None:
                self.listener.assigned(item.event, t, x, p, item.context)
            self._assign(item.event, values, t, x, p)
            self._evaluate(t, x, p)
        raise SimulationError(
            f"events executed {MAX_CASCADE} times at t = {t:.6g} without end: they trigger each other",
            t_fail=float(t),
            state=dict(zip(self.species, map(float, x), strict=False)),
            hint="check the events' triggers and assignments",
        )

    def _sides(self, t: float, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Each comparison's ``g``: as computed, or ±1 where it just crossed and is still zero."""
        module = self.events.module
        g = np.array(module.roots(x, p, t), dtype=float)
        scale = np.array(module.scales(x, p, t), dtype=float)
        for k, side in list(self.crossed.items()):
            if abs(g[k]) > SIDE_TOLERANCE * scale[k]:
                del self.crossed[k]  # clearly on one side now
            else:
                g[k] = side
        return g

    def _evaluate(self, t: float, x: np.ndarray, p: np.ndarray) -> None:
        events = self.events
        now = np.asarray(events.module.triggers(self._sides(t, x, p)), dtype=float) != 0
        fired = np.flatnonzero(now & ~self.previous)
        self.pending = [item for item in self.pending if events.persistent[item.event] or now[item.event]]
        heapq.heapify(self.pending)
        self.previous = now
        if not len(fired):
            return
        delays = np.asarray(events.module.delays(x, p, t), dtype=float)
        for k in fired:
            delay = 0.0 if math.isnan(delays[k]) else float(delays[k])
            if not delay >= 0:
                raise SimulationError(
                    f"event '{events.ids[k]}' fired at t = {t:.6g} with the delay {delay:g}, "
                    "which is not >= 0",
                    t_fail=float(t),
                    state=dict(zip(self.species, map(float, x), strict=False)),
                    hint="make the delay expression non-negative",
                )
            values = events.assignments(int(k), x, p, t) if events.use_trigger_values[k] else None
            context = self.listener.fired(int(k), t, x, p) if self.listener is not None else None
            heapq.heappush(self.pending, _Pending(t + delay, next(self.counter), int(k), values, context))

    def _first(self, due: list[_Pending], t: float, x: np.ndarray, p: np.ndarray) -> _Pending:
        """The due event with the highest priority (no priority: lowest; ties: model order)."""
        priorities = np.asarray(self.events.module.priorities(x, p, t), dtype=float)

        def rank(item: _Pending) -> tuple[float, int, int]:
            priority = priorities[item.event]
            return (-math.inf if math.isnan(priority) else -priority, item.event, item.sequence)

        return min(due, key=rank)

    def _assign(self, event: int, values: np.ndarray, t: float, x: np.ndarray, p: np.ndarray) -> None:
        if not np.all(np.isfinite(values)):
            raise SimulationError(
                f"event '{self.events.ids[event]}' assigns a value that is not finite at t = {t:.6g}",
                t_fail=float(t),
                state=dict(zip(self.species, map(float, x), strict=False)),
                hint="check the event's assignments for divisions by zero or overflow",
            )
        n = len(self.species)
        for target, value in zip(self.events.targets[event], values, strict=True):
            if target < n:
                x[target] = value
            else:
                p[target - n] = value
