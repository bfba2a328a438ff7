"""The solver contract, and the solvers that implement it: SciPy's ``BDF``, ``Radau`` and
``LSODA``, and SUNDIALS ``CVODE``.

Everything that integrates a model (:func:`degranulation.simulation.integrate`, stacked sweep
points in :mod:`degranulation.batching`, forward sensitivities and the fit and PEtab
problems) drives a solver through one method, :meth:`Solver.solve_segment`: integrate one
smooth stretch between protocol steps and report where it got to. A solver is a frozen
option object; it holds no state between segments.

Rules for implementers (as SciPy's ``OdeSolver`` states its own):

1. Subclass :class:`Solver` as a frozen, keyword-only dataclass; set the class variable
   ``name`` (the spelling users pass as ``solver="NAME"``) and implement ``solve_segment``.
   Extra options are extra fields with defaults; :func:`solver_from` keeps them.
2. ``solve_segment(fun, jac, t0, y0, t1, t_eval, events)`` integrates ``dy/dt = fun(t, y)``
   from ``t0`` (where ``y`` is ``y0``) to ``t1 > t0``. ``fun`` and ``jac`` take the model's
   time; integrate in the segment's own time ``t - t0`` so that a segment that starts late
   (``t0 = 300 s``) still resolves a fast transient (steps of 1e-10 s would drown in the
   rounding of ``t0``).
3. ``jac(t, y)`` is a SciPy sparse matrix (``Solver.is_sparse`` False: densify it), or the
   packed banded matrix LSODA takes when the solver's ``lower`` and ``upper`` are set.
4. ``t_eval`` is increasing and lies in ``(t0, t1)``; :attr:`Segment.values` holds the states
   there as columns, for those before the segment's end (all of them unless an event stopped
   it). The state at ``t1`` itself is :attr:`Segment.y`.
5. ``events`` are :class:`EventFunction`\\ s ``g(t, y)`` with a direction. The segment stops at
   the first root of any of them in ``(t0, t1]`` (a root at ``t0`` itself is not one), and
   reports its time (to the solver's interpolation accuracy, bracketed to machine precision),
   the state there and which function it was (:attr:`Segment.event`).
6. On failure (the solver gives up, arithmetic fails, the state stops being finite) raise
   :class:`SegmentFailure` with the message, the time reached and the state there; nothing
   else. Callers turn it into a :class:`~degranulation.errors.SimulationError` naming species.
7. Report the counters ``nfev``, ``njev``, ``nlu`` and ``steps`` of the segment (0 for one the
   solver does not count).
8. A solver that cannot locate event roots raises
   :class:`~degranulation.errors.UnsupportedFeatureError` when given events.

Examples
--------
Exponential decay ``y' = -k y`` crosses ``y = 1/2`` at ``ln 2 / k``:

>>> import math, numpy as np, scipy.sparse
>>> from degranulation.solvers import BDF, EventFunction
>>> k = 0.3
>>> segment = BDF(rtol=1e-10, atol=1e-12).solve_segment(
...     lambda t, y: -k * y, lambda t, y: scipy.sparse.csr_array([[-k]]), 0.0, np.array([1.0]), 10.0,
...     np.array([1.0]), events=[EventFunction(lambda t, y: y[0] - 0.5, direction=-1)])
>>> abs(segment.t - math.log(2) / k) < 1e-8, segment.event, segment.values.shape
(True, 0, (1, 1))
"""

from __future__ import annotations

import abc
import dataclasses
import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

Fun = Callable[[float, np.ndarray], np.ndarray]
Jac = Callable[[float, np.ndarray], Any]
COUNTERS = ("nfev", "njev", "nlu", "steps")
NOT_FINITE = "the state is no longer finite"  # a SegmentFailure's message when it is not


@dataclass(frozen=True)
class EventFunction:
    """A function ``g(t, y)`` whose roots end a segment: ``direction`` +1 counts only roots where
    ``g`` rises through 0, -1 only where it falls, 0 (the default) both."""

    g: Callable[[float, np.ndarray], float]
    direction: int = 0

    def __post_init__(self) -> None:
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"direction must be -1, 0 or 1, got {self.direction!r}")


@dataclass(frozen=True)
class Segment:
    """What :meth:`Solver.solve_segment` returns: where the segment ended (``t1``, or the first
    event root), the state there, the states at the requested output times before that (as
    columns), the counters and which event function stopped it (None if none did)."""

    t: float
    y: np.ndarray
    values: np.ndarray
    counters: Mapping[str, int]
    event: int | None = None


class SegmentFailure(Exception):
    """A solver stopped at ``t`` (the model's time) in state ``y``."""

    def __init__(self, message: str, t: float, y: np.ndarray) -> None:
        super().__init__(message)
        self.t, self.y = t, y

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.t, self.y)


#: Default work limit: evaluations of the right-hand side in one simulation (every segment,
#: every stacked point together). A badly scaled problem (amounts near 1e150) can make a solver
#: call the right-hand side forever without advancing; the limit ends it in a SimulationError
#: naming the time reached. Raise it per solver, e.g. ``dg.LSODA(max_evaluations=10**8)``.
MAX_EVALUATIONS = 1_000_000


@dataclass(frozen=True, kw_only=True)
class Solver(abc.ABC):
    """Options of an ODE solver, and the segment integration they define (see the module's
    rules). Subclasses: :class:`BDF`, :class:`Radau`, :class:`LSODA`, :class:`CVODE`."""

    rtol: float = 1e-6
    atol: float | tuple[float, ...] = 1e-9  # one number, or one per state (model units)
    max_step: float = math.inf
    first_step: float | None = None
    max_evaluations: int = MAX_EVALUATIONS
    #: The solver integrates at ``rtol/tighten`` and ``atol/tighten``: it bounds each step's
    #: error, and errors carried from step to step add up, so that a result would miss the
    #: requested tolerance by up to 385 times (BDF) at ``tighten=1``. Each solver's default
    #: is the smallest round factor that keeps every bundled model and reference network within
    #: 10 times ``rtol·|x| + atol`` of a tight reference (benchmarks/test_accuracy.py).
    tighten: float = 1.0

    name: ClassVar[str] = ""
    is_sparse: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not isinstance(self.max_evaluations, int) or self.max_evaluations < 1:
            name, value = type(self).__name__, self.max_evaluations
            raise ValueError(f"{name}: max_evaluations must be a positive integer, got {value!r}")
        for option in ("rtol", "atol", "max_step", "tighten"):
            value = getattr(self, option)
            numbers = value if option == "atol" and isinstance(value, tuple) else (value,)
            if not numbers or not all(
                isinstance(v, int | float) and v > 0 and not math.isnan(v) for v in numbers
            ):
                raise ValueError(f"{type(self).__name__}: {option} must be a positive number, got {value!r}")
        if not self.tighten >= 1:  # below 1 it would loosen the requested tolerances
            raise ValueError(f"{type(self).__name__}: tighten must be at least 1, got {self.tighten!r}")
        if not self.rtol < 1:  # a relative error of 100 % or more controls nothing
            raise ValueError(f"{type(self).__name__}: rtol must be below 1, got {self.rtol!r}")

    @abc.abstractmethod
    def solve_segment(
        self,
        fun: Fun,
        jac: Jac,
        t0: float,
        y0: np.ndarray,
        t1: float,
        t_eval: np.ndarray,
        events: Sequence[EventFunction] = (),
    ) -> Segment:
        """Integrate from ``t0`` to ``t1`` (or the first event root), as the module's rules say.

        Raises
        ------
        SegmentFailure
            Where the solver stopped, with its message.
        """

    @property
    def absolute(self) -> float | np.ndarray:
        """``atol`` as solvers take it: a number, or an array over the states."""
        return np.asarray(self.atol, dtype=float) if isinstance(self.atol, tuple) else self.atol

    def step_tolerances(self) -> tuple[float, float | np.ndarray]:
        """The relative and absolute tolerances each step is held to: the requested ones over
        ``tighten``, the relative one no tighter than SciPy accepts (100 machine epsilons)."""
        rtol = max(self.rtol / self.tighten, 100 * np.finfo(float).eps)
        return rtol, self.absolute / self.tighten

    def for_states(self, size: int) -> Solver:
        """These options for a state vector ``size`` long that repeats the model's states
        (stacked points, or a state followed by its sensitivities): a per-state ``atol`` is
        repeated to match."""
        if not isinstance(self.atol, tuple) or len(self.atol) == size:
            return self
        return dataclasses.replace(self, atol=tuple(np.resize(np.asarray(self.atol), size).tolist()))

    def describe(self) -> dict[str, Any]:
        """Options as plain data, for provenance (strict JSON: an unlimited ``max_step`` is None)."""
        return {
            "method": self.name,
            "rtol": self.rtol,
            "atol": list(self.atol) if isinstance(self.atol, tuple) else self.atol,
            "max_step": self.max_step if math.isfinite(self.max_step) else None,
            "first_step": self.first_step,
            "max_evaluations": self.max_evaluations,
            "tighten": self.tighten,
        }


@dataclass(frozen=True, kw_only=True)
class ScipySolver(Solver):
    """A SciPy ``OdeSolver`` stepped from Python: each step is checked for a finite state,
    outputs and event roots come from the step's dense output."""

    def make(self, fun: Fun, jac: Jac, t0: float, y0: np.ndarray, t_bound: float) -> Any:
        """The SciPy ``OdeSolver`` for this problem."""
        import scipy.integrate

        method = getattr(scipy.integrate, self.name)
        jacobian = jac if self.is_sparse else (lambda t, y: jac(t, y).toarray())
        return method(fun, t0, y0, t_bound, jac=jacobian, **self._scipy_options())

    def _scipy_options(self) -> dict[str, Any]:
        rtol, atol = self.step_tolerances()
        options: dict[str, Any] = {"rtol": rtol, "atol": atol, "max_step": self.max_step}
        if self.first_step is not None:
            options["first_step"] = self.first_step
        return options

    def solve_segment(
        self,
        fun: Fun,
        jac: Jac,
        t0: float,
        y0: np.ndarray,
        t1: float,
        t_eval: np.ndarray,
        events: Sequence[EventFunction] = (),
    ) -> Segment:
        """Step SciPy's solver from ``t0`` to ``t1`` in local time (see the module's rules)."""
        try:
            ode = self.make(
                lambda tau, y: fun(t0 + tau, y), lambda tau, y: jac(t0 + tau, y), 0.0, y0, t1 - t0
            )
        except (ValueError, ArithmeticError, RuntimeError) as exc:  # RuntimeError: singular LU (SciPy)
            raise SegmentFailure(f"the solver could not start: {exc}", t0, np.asarray(y0)) from None
        local = np.asarray(t_eval, dtype=float) - t0
        values = np.empty((len(y0), len(local)))
        filled, steps = 0, 0
        g_old = _event_values(events, t0, ode.y)
        root: tuple[float, int] | None = None
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            while ode.status == "running" and root is None:
                t_old, y_old = ode.t, ode.y.copy()
                try:
                    message = ode.step()
                except (FloatingPointError, ArithmeticError, ValueError, RuntimeError) as exc:
                    raise SegmentFailure(f"arithmetic failed ({exc})", t0 + ode.t, ode.y) from None
                steps += 1
                if ode.status == "failed":
                    raise SegmentFailure(str(message), t0 + ode.t, ode.y)
                if not np.all(np.isfinite(ode.y)):  # reported where it last was finite
                    raise SegmentFailure(NOT_FINITE, t0 + t_old, y_old)
                dense = None
                if events:
                    g_new = _event_values(events, t0 + ode.t, ode.y)
                    crossed = _crossed(events, g_old, g_new)
                    g_old = g_new
                    if crossed:
                        dense = ode.dense_output()
                        root = _first_root(events, crossed, dense, t0, t_old, ode.t)
                end = root[0] if root else ode.t
                upto = int(np.searchsorted(local, end, side="left" if root else "right"))
                if upto > filled:
                    values[:, filled:upto] = (dense if dense is not None else ode.dense_output())(
                        local[filled:upto]
                    )
                    filled = upto
        counters = {name: int(getattr(ode, name)) for name in COUNTERS[:3]} | {"steps": steps}
        if root is None:
            return Segment(t1, np.array(ode.y, dtype=float), values, counters)
        assert dense is not None  # a root was found in this step's dense output
        tau, index = root
        return Segment(t0 + tau, np.asarray(dense(tau), dtype=float), values[:, :filled], counters, index)


def _event_values(events: Sequence[EventFunction], t: float, y: np.ndarray) -> np.ndarray:
    return np.array([float(event.g(t, y)) for event in events])


def _crossed(events: Sequence[EventFunction], g_old: np.ndarray, g_new: np.ndarray) -> list[int]:
    """Event functions whose sign changed over a step in their direction (a value of 0 at the
    step's start is not a crossing: a segment that starts on a root does not stop there)."""
    up, down = (g_old < 0) & (g_new >= 0), (g_old > 0) & (g_new <= 0)
    return [
        i
        for i, event in enumerate(events)
        if (up[i] and event.direction >= 0) or (down[i] and event.direction <= 0)
    ]


def _first_root(
    events: Sequence[EventFunction],
    crossed: Sequence[int],
    dense: Callable[[float], np.ndarray],
    t0: float,
    t_old: float,
    t_new: float,
) -> tuple[float, int]:
    """The earliest root (local time) among the crossed functions, bracketed by Brent's method
    on the step's dense output, and which function it belongs to."""
    from scipy.optimize import brentq

    roots = []
    for i in crossed:

        def g(tau: float, event: EventFunction = events[i]) -> float:
            return float(event.g(t0 + tau, dense(tau)))

        a, b = g(t_old), g(t_new)
        # The interpolant may disagree in sign with the step's ends by rounding: then the step's end.
        bracketed = a * b <= 0
        root = brentq(g, t_old, t_new, xtol=4 * np.finfo(float).eps) if bracketed else t_new
        roots.append((float(root), i))
    return min(roots)


@dataclass(frozen=True, kw_only=True)
class BDF(ScipySolver):
    """Variable-order BDF (SciPy), sparse analytic Jacobian. The default above
    :data:`LARGE_MODEL` species: fast for large stiff networks.

    Examples
    --------
    >>> from degranulation.solvers import BDF
    >>> BDF(rtol=1e-8, atol=1e-8).describe()["method"]
    'BDF'
    """

    tighten: float = 100.0

    name: ClassVar[str] = "BDF"

    def make(self, fun: Fun, jac: Jac, t0: float, y0: np.ndarray, t_bound: float) -> Any:
        """SciPy's ``BDF`` stepper, its difference table cleaned."""
        ode = super().make(fun, jac, t0, y0, t_bound)
        # SciPy's BDF leaves its difference rows 2+ as np.empty garbage and subtracts them in
        # the first step: NaN bits would raise in the step at random.
        ode.D[2:] = 0.0
        return ode


@dataclass(frozen=True, kw_only=True)
class Radau(ScipySolver):
    """Implicit Runge-Kutta Radau IIA of order 5 (SciPy), sparse analytic Jacobian."""

    name: ClassVar[str] = "Radau"


@dataclass(frozen=True, kw_only=True)
class LSODA(ScipySolver):
    """LSODA (SciPy, switches between Adams and BDF), dense analytic Jacobian; LSODA's packed
    banded one when ``lower`` and ``upper`` are set (stacked sweep points). The default up to
    :data:`LARGE_MODEL` species."""

    tighten: float = 30.0

    name: ClassVar[str] = "LSODA"
    is_sparse: ClassVar[bool] = False
    lower: int | None = None
    upper: int | None = None

    def make(self, fun: Fun, jac: Jac, t0: float, y0: np.ndarray, t_bound: float) -> Any:
        """SciPy's ``LSODA`` stepper (``jac`` gives the packed bands when they are set)."""
        if self.lower is None or self.upper is None:
            return super().make(fun, jac, t0, y0, t_bound)
        import scipy.integrate

        return scipy.integrate.LSODA(
            fun, t0, y0, t_bound, jac=jac, lband=self.lower, uband=self.upper, **self._scipy_options()
        )


@dataclass(frozen=True, kw_only=True)
class CVODE(Solver):
    """SUNDIALS CVODE (variable-order BDF, weighted RMS error norm) through scikit-sundae, the
    ``sundials`` extra. It integrates each stretch between protocol steps in compiled code,
    with a dense analytic Jacobian, or a banded one computed by CVODE when ``lower`` and
    ``upper`` are set (stacked sweep points). Event roots are CVODE's own root finding.

    Examples
    --------
    >>> import degranulation as dg
    >>> ds = dg.simulate("ige_fceri_crosslinking", t="600 s", points=3, solver=dg.CVODE(rtol=1e-9, atol=1e-6))
    >>> round(float(ds["RecDim"].pint.magnitude[-1]))
    338825
    """

    tighten: float = 300.0

    name: ClassVar[str] = "CVODE"
    lower: int | None = None
    upper: int | None = None

    def solve_segment(
        self,
        fun: Fun,
        jac: Jac,
        t0: float,
        y0: np.ndarray,
        t1: float,
        t_eval: np.ndarray,
        events: Sequence[EventFunction] = (),
    ) -> Segment:
        """Integrate from ``t0`` to ``t1`` in CVODE, in local time (see the module's rules).

        Raises
        ------
        SegmentFailure
            Where CVODE stopped, with its message.
        ImportError
            Without scikit-sundae.
        """
        try:
            from sksundae.cvode import CVODE as Integrator
        except ImportError:
            raise ImportError(
                "solver 'CVODE' needs scikit-sundae: pip install 'degranulation[sundials]'"
            ) from None

        def rhs(tau: float, y: np.ndarray, yp: np.ndarray) -> None:
            yp[:] = fun(t0 + tau, y)

        options = self._options(jac, t0) | _cvode_events(events, t0)
        # Three or more times make CVODE report exactly there (two would report every step).
        local = np.asarray(t_eval, dtype=float) - t0
        inner = local if len(local) else np.array([0.5 * (t1 - t0)])
        span = np.concatenate([[0.0], inner, [t1 - t0]])
        # An overflow reaches CVODE as inf and fails its step: reported below, not warned.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            result = Integrator(rhs, **options).solve(span, np.asarray(y0, dtype=float))
        if not result.success:
            raise SegmentFailure(str(result.message), t0 + float(result.t[-1]), np.asarray(result.y[-1]))
        states = np.asarray(result.y, dtype=float)
        if not np.all(np.isfinite(states)):
            raise SegmentFailure(NOT_FINITE, t0 + float(result.t[-1]), states[-1])
        counters = {"nfev": int(result.nfev), "njev": int(result.njev), "nlu": 0, "steps": 0}
        t_events = np.asarray(getattr(result, "t_events", None) or [], dtype=float)
        if not events or not len(t_events):
            values = states[1 : 1 + len(local)].T if len(local) else np.empty((len(y0), 0))
            return Segment(t1, states[-1].copy(), values, counters)
        tau = float(t_events[0])
        reached = min(int(np.searchsorted(local, tau, side="left")), len(states) - 2)
        index = int(np.flatnonzero(np.asarray(result.i_events)[0])[0])
        y = np.asarray(result.y_events, dtype=float)[0].copy()
        return Segment(t0 + tau, y, states[1 : 1 + reached].T.reshape(len(y0), reached), counters, index)

    def _options(self, jac: Jac, t0: float) -> dict[str, Any]:
        rtol, atol = self.step_tolerances()
        options: dict[str, Any] = {"rtol": rtol, "atol": atol, "max_num_steps": 10**7}
        if self.lower is not None and self.upper is not None:
            options |= {"linsolver": "band", "lband": self.lower, "uband": self.upper}
        else:
            import scipy.sparse

            def jacobian(tau: float, y: np.ndarray, yp: np.ndarray, out: np.ndarray) -> None:
                matrix = jac(t0 + tau, y)
                out[:, :] = matrix.toarray() if scipy.sparse.issparse(matrix) else matrix

            options |= {"linsolver": "dense", "jacfn": jacobian}
        if math.isfinite(self.max_step):
            options["max_step"] = self.max_step
        if self.first_step is not None:
            options["first_step"] = self.first_step
        return options


def _cvode_events(events: Sequence[EventFunction], t0: float) -> dict[str, Any]:
    """scikit-sundae's ``eventsfn`` for ``events``: every root is terminal."""
    if not events:
        return {}

    def eventsfn(tau: float, y: np.ndarray, out: np.ndarray) -> None:
        out[:] = [event.g(t0 + tau, y) for event in events]

    eventsfn.terminal = [True] * len(events)  # type: ignore[attr-defined]
    eventsfn.direction = [event.direction for event in events]  # type: ignore[attr-defined]
    return {"eventsfn": eventsfn, "num_events": len(events)}


SOLVERS: dict[str, type[Solver]] = {"BDF": BDF, "Radau": Radau, "LSODA": LSODA, "CVODE": CVODE}

#: Species up to which the default solver is LSODA, above which it is BDF. At their default
#: ``tighten`` LSODA took 0.98 s over the 21 cases of benchmarks/test_accuracy.py (up to
#: 354 species) and BDF 2.94 s, each case faster with LSODA; but a dose sweep of the
#: 354-species ``fceri_faeder2003``, stacked for LSODA, took 3 times BDF's one point at a time.
LARGE_MODEL = 100


def default_solver(n_species: int) -> str:
    """The solver used when none is named: LSODA (dense Jacobian) for a model of up to
    :data:`LARGE_MODEL` species, else BDF (sparse Jacobian).

    Examples
    --------
    >>> default_solver(8), default_solver(354)
    ('LSODA', 'BDF')
    """
    return "LSODA" if n_species <= LARGE_MODEL else "BDF"


def solver_from(
    solver: str | Solver, *, rtol: float | None = None, atol: float | tuple[float, ...] | None = None
) -> Solver:
    """Turn ``"BDF"`` (or an option object) into an option object, with tolerances applied;
    every other option (LSODA's and CVODE's bands included) is kept.

    Raises
    ------
    ValueError
        For an unknown name, listing the choices.

    Examples
    --------
    >>> solver_from(LSODA(lower=2, upper=3), rtol=1e-4)
    LSODA(rtol=0.0001, atol=1e-09, max_step=inf, first_step=None, max_evaluations=1000000, tighten=30.0,
          lower=2, upper=3)
    """
    if isinstance(solver, str):
        if solver not in SOLVERS:
            close = difflib.get_close_matches(solver, list(SOLVERS), n=1, cutoff=0.3)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"unknown solver '{solver}'{hint}; expected one of {', '.join(SOLVERS)}")
        solver = SOLVERS[solver]()
    if not isinstance(solver, Solver):
        raise TypeError(f"solver must be a name or BDF/Radau/LSODA/CVODE options, got {solver!r}")
    changes: dict[str, Any] = {k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None}
    return dataclasses.replace(solver, **changes) if changes else solver


def solver_for_fits(
    solver: str | Solver, *, rtol: float | None, atol: float | tuple[float, ...] | None
) -> Solver:
    """As :func:`solver_from`, for a fit's states and sensitivities: a solver given by name
    integrates at the fit's own tolerances (``tighten=1``). A fit's ``rtol`` (1e-8 by default)
    is already 100 times a simulation's, chosen for the optimiser's steps, and the solver's
    accuracy factor would multiply the cost of every evaluation (PEtab's Boehm 2014: BDF 109
    against 263 ms, CVODE 38 against 90 ms, for a negative log-likelihood that agrees to
    1e-6); an option object keeps the factor it was given.

    Examples
    --------
    >>> [solver_for_fits(s, rtol=1e-8, atol=None).tighten for s in ("BDF", BDF())]
    [1.0, 100.0]
    """
    options = solver_from(solver, rtol=rtol, atol=atol)
    return dataclasses.replace(options, tighten=1.0) if isinstance(solver, str) else options
