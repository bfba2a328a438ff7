"""Solver option objects (``BDF``, ``Radau``, ``LSODA``) and the SciPy solver each one makes.

BDF and Radau get the sparse analytic Jacobian; LSODA gets it dense (SciPy's LSODA takes no
sparse matrix).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

#: Default work limit: evaluations of the right-hand side in one simulation (every segment,
#: every stacked point together). A badly scaled problem (amounts near 1e150) can make a solver
#: call the right-hand side forever without advancing; the limit ends it in a SimulationError
#: naming the time reached. Raise it per solver, e.g. ``dg.LSODA(max_evaluations=10**8)``.
MAX_EVALUATIONS = 1_000_000


@dataclass(frozen=True, kw_only=True)
class _Solver:
    rtol: float = 1e-6
    atol: float | tuple[float, ...] = 1e-9  # one number, or one per state (model units)
    max_step: float = math.inf
    first_step: float | None = None
    max_evaluations: int = MAX_EVALUATIONS

    name: ClassVar[str] = ""
    is_sparse: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not isinstance(self.max_evaluations, int) or self.max_evaluations < 1:
            name, value = type(self).__name__, self.max_evaluations
            raise ValueError(f"{name}: max_evaluations must be a positive integer, got {value!r}")
        for option in ("rtol", "atol", "max_step"):
            value = getattr(self, option)
            numbers = value if option == "atol" and isinstance(value, tuple) else (value,)
            if not numbers or not all(
                isinstance(v, int | float) and v > 0 and not math.isnan(v) for v in numbers
            ):
                raise ValueError(f"{type(self).__name__}: {option} must be a positive number, got {value!r}")
        if not self.rtol < 1:  # a relative error of 100 % or more controls nothing
            raise ValueError(f"{type(self).__name__}: rtol must be below 1, got {self.rtol!r}")

    @property
    def absolute(self) -> float | np.ndarray:
        """``atol`` as SciPy takes it: a number, or an array over the states."""
        return np.asarray(self.atol, dtype=float) if isinstance(self.atol, tuple) else self.atol

    def for_states(self, size: int) -> _Solver:
        """These options for a state vector ``size`` long that repeats the model's states
        (stacked points, or a state followed by its sensitivities): a per-state ``atol`` is
        repeated to match."""
        if not isinstance(self.atol, tuple) or len(self.atol) == size:
            return self
        return dataclasses.replace(self, atol=tuple(np.resize(np.asarray(self.atol), size).tolist()))

    def make(
        self,
        fun: Callable[[float, np.ndarray], np.ndarray],
        jac: Callable[[float, np.ndarray], Any],
        t0: float,
        y0: np.ndarray,
        t_bound: float,
    ) -> Any:
        """The SciPy ``OdeSolver`` for this problem."""
        import scipy.integrate

        method = getattr(scipy.integrate, self.name)
        jacobian = jac if self.is_sparse else (lambda t, y: jac(t, y).toarray())
        return method(fun, t0, y0, t_bound, jac=jacobian, **self._scipy_options())

    def _scipy_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"rtol": self.rtol, "atol": self.absolute, "max_step": self.max_step}
        if self.first_step is not None:
            options["first_step"] = self.first_step
        return options

    def describe(self) -> dict[str, Any]:
        """Options as plain data, for provenance."""
        return {
            "method": self.name,
            "rtol": self.rtol,
            "atol": list(self.atol) if isinstance(self.atol, tuple) else self.atol,
            "max_step": self.max_step,
            "first_step": self.first_step,
            "max_evaluations": self.max_evaluations,
        }


@dataclass(frozen=True, kw_only=True)
class BDF(_Solver):
    """Variable-order BDF (SciPy), sparse analytic Jacobian. The default: fast for stiff networks.

    Examples
    --------
    >>> from degranulation.solvers import BDF
    >>> BDF(rtol=1e-8, atol=1e-8).describe()["method"]
    'BDF'
    """

    name: ClassVar[str] = "BDF"


@dataclass(frozen=True, kw_only=True)
class Radau(_Solver):
    """Implicit Runge-Kutta Radau IIA of order 5 (SciPy), sparse analytic Jacobian."""

    name: ClassVar[str] = "Radau"


@dataclass(frozen=True, kw_only=True)
class LSODA(_Solver):
    """LSODA (SciPy, switches between Adams and BDF), dense analytic Jacobian; LSODA's packed
    banded one when ``lower`` and ``upper`` are set (stacked sweep points)."""

    name: ClassVar[str] = "LSODA"
    is_sparse: ClassVar[bool] = False
    lower: int | None = None
    upper: int | None = None

    def make(
        self,
        fun: Callable[[float, np.ndarray], np.ndarray],
        jac: Callable[[float, np.ndarray], Any],
        t0: float,
        y0: np.ndarray,
        t_bound: float,
    ) -> Any:
        """SciPy's ``LSODA`` stepper (``jac`` gives the packed bands when they are set)."""
        if self.lower is None or self.upper is None:
            return super().make(fun, jac, t0, y0, t_bound)
        import scipy.integrate

        return scipy.integrate.LSODA(
            fun, t0, y0, t_bound, jac=jac, lband=self.lower, uband=self.upper, **self._scipy_options()
        )


class SegmentFailure(Exception):
    """A solver that integrates a whole stretch at once stopped at ``t`` (local time) in ``y``."""

    def __init__(self, message: str, t: float, y: np.ndarray) -> None:
        super().__init__(message)
        self.t, self.y = t, y


@dataclass(frozen=True, kw_only=True)
class CVODE(_Solver):
    """SUNDIALS CVODE (variable-order BDF, weighted RMS error norm) through scikit-sundae, the
    ``sundials`` extra. It integrates each stretch between protocol steps in compiled code,
    with a dense analytic Jacobian, or a banded one computed by CVODE when ``lower`` and
    ``upper`` are set (stacked sweep points).

    Examples
    --------
    >>> import degranulation as dg
    >>> ds = dg.simulate("ige_fceri_crosslinking", t="600 s", points=3, solver=dg.CVODE(rtol=1e-9, atol=1e-6))
    >>> round(float(ds["RecDim"].pint.magnitude[-1]))
    338825
    """

    name: ClassVar[str] = "CVODE"
    lower: int | None = None
    upper: int | None = None

    def solve_segment(
        self,
        fun: Callable[[float, np.ndarray], np.ndarray],
        jac: Callable[[float, np.ndarray], Any],
        t_end: float,
        y0: np.ndarray,
        wanted: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
        """Integrate from 0 to ``t_end``: the state there, the states at ``wanted`` (in
        ``(0, t_end)``, as columns) and the counters.

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

        def rhs(t: float, y: np.ndarray, yp: np.ndarray) -> None:
            yp[:] = fun(t, y)

        options: dict[str, Any] = {"rtol": self.rtol, "atol": self.absolute, "max_num_steps": 10**7}
        if self.lower is not None and self.upper is not None:
            options |= {"linsolver": "band", "lband": self.lower, "uband": self.upper}
        else:

            def jacobian(t: float, y: np.ndarray, yp: np.ndarray, out: np.ndarray) -> None:
                matrix = jac(t, y)
                out[:, :] = matrix.toarray() if hasattr(matrix, "toarray") else matrix

            options |= {"linsolver": "dense", "jacfn": jacobian}
        if math.isfinite(self.max_step):
            options["max_step"] = self.max_step
        if self.first_step is not None:
            options["first_step"] = self.first_step
        # Three or more times make CVODE report exactly there (two would report every step).
        inner = np.asarray(wanted, dtype=float) if len(wanted) else np.array([0.5 * t_end])
        span = np.concatenate([[0.0], inner, [t_end]])
        result = Integrator(rhs, **options).solve(span, np.asarray(y0, dtype=float))
        if not result.success:
            raise SegmentFailure(str(result.message), float(result.t[-1]), np.asarray(result.y[-1]))
        states = np.asarray(result.y, dtype=float)
        values = states[1 : 1 + len(wanted)].T if len(wanted) else np.empty((len(y0), 0))
        return states[-1].copy(), values, {"nfev": int(result.nfev), "njev": int(result.njev), "nlu": 0}


SOLVERS: dict[str, type[_Solver]] = {"BDF": BDF, "Radau": Radau, "LSODA": LSODA, "CVODE": CVODE}
Solver = BDF | Radau | LSODA | CVODE


def solver_from(
    solver: str | _Solver, *, rtol: float | None = None, atol: float | tuple[float, ...] | None = None
) -> _Solver:
    """Turn ``"BDF"`` (or an option object) into an option object, with tolerances applied.

    Raises
    ------
    ValueError
        For an unknown name, listing the choices.
    """
    if isinstance(solver, str):
        if solver not in SOLVERS:
            close = difflib.get_close_matches(solver, list(SOLVERS), n=1, cutoff=0.3)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"unknown solver '{solver}'{hint}; expected one of {', '.join(SOLVERS)}")
        solver = SOLVERS[solver]()
    if not isinstance(solver, _Solver):
        raise TypeError(f"solver must be a name or BDF/Radau/LSODA options, got {solver!r}")
    changes = {k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None}
    return type(solver)(**{**_options(solver), **changes}) if changes else solver


def _options(solver: _Solver) -> dict[str, Any]:
    return {k: getattr(solver, k) for k in ("rtol", "atol", "max_step", "first_step", "max_evaluations")}
