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


@dataclass(frozen=True, kw_only=True)
class _Solver:
    rtol: float = 1e-6
    atol: float | tuple[float, ...] = 1e-9  # one number, or one per state (model units)
    max_step: float = math.inf
    first_step: float | None = None

    name: ClassVar[str] = ""
    is_sparse: ClassVar[bool] = True

    def __post_init__(self) -> None:
        for option in ("rtol", "atol", "max_step"):
            value = getattr(self, option)
            numbers = value if option == "atol" and isinstance(value, tuple) else (value,)
            if not numbers or not all(
                isinstance(v, int | float) and v > 0 and not math.isnan(v) for v in numbers
            ):
                raise ValueError(f"{type(self).__name__}: {option} must be a positive number, got {value!r}")

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
        options: dict[str, Any] = {"rtol": self.rtol, "atol": self.absolute, "max_step": self.max_step}
        if self.first_step is not None:
            options["first_step"] = self.first_step
        return method(fun, t0, y0, t_bound, jac=jacobian, **options)

    def describe(self) -> dict[str, Any]:
        """Options as plain data, for provenance."""
        return {
            "method": self.name,
            "rtol": self.rtol,
            "atol": list(self.atol) if isinstance(self.atol, tuple) else self.atol,
            "max_step": self.max_step,
            "first_step": self.first_step,
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
    """LSODA (SciPy, switches between Adams and BDF), dense analytic Jacobian."""

    name: ClassVar[str] = "LSODA"
    is_sparse: ClassVar[bool] = False


SOLVERS: dict[str, type[_Solver]] = {"BDF": BDF, "Radau": Radau, "LSODA": LSODA}
Solver = BDF | Radau | LSODA


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
    return {k: getattr(solver, k) for k in ("rtol", "atol", "max_step", "first_step")}
