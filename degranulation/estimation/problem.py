"""The fit problem: free parameters, readouts, conditions, the :class:`Problem` protocol every
fittable problem follows, and :class:`FitProblem`, the problem :func:`make_problem` builds from a
model and assay data (residuals, Jacobians, closed-form scale/offset nuisance parameters)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypeVar

import numpy as np

from degranulation.errors import SimulationError
from degranulation.network import Model

if TYPE_CHECKING:
    from degranulation.codegen import CompiledOde
    from degranulation.protocols import Event
    from degranulation.sensitivities import ObservableDerivatives, StateEvents, Target
    from degranulation.solvers import Solver

_P = TypeVar("_P")
NoiseModel = Literal["sd", "additive", "proportional"]
NOISE_MODELS: Final = ("sd", "additive", "proportional")


@dataclass(frozen=True)
class FreeParameter:
    """One estimated quantity: bounds and nominal value in the model's units, and the scale
    the optimiser works on; ``unit`` is how results are reported (as the model writes it)."""

    name: str
    unit: str
    scale: Literal["lin", "log", "log10"]
    lower: float
    upper: float
    nominal: float
    per_unit: float  # internal value of 1 ``unit``

    def to_optimizer(self, value: np.ndarray | float) -> Any:
        """Model value(s) → optimiser coordinate ``φ``."""
        if self.scale == "log":
            return np.log(value)
        return np.log10(value) if self.scale == "log10" else value

    def from_optimizer(self, phi: np.ndarray | float) -> Any:
        """Optimiser coordinate ``φ`` → model value(s)."""
        if self.scale == "log":
            return np.exp(phi)
        return 10.0**phi if self.scale == "log10" else phi

    @property
    def bounds(self) -> tuple[float, float]:
        """Bounds in optimiser coordinates."""
        return float(self.to_optimizer(self.lower)), float(self.to_optimizer(self.upper))


@dataclass(frozen=True)
class Readout:
    """How one observable (or species) is compared with data."""

    name: str
    is_species: bool
    index: int
    unit: str  # unit of the data values compared (the model's unit unless scaled)
    model_unit: str
    noise: NoiseModel
    sigma: float  # noise constant (SD in ``unit`` for additive, fraction for proportional)
    is_sigma_estimated: bool
    has_scale: bool = False
    has_offset: bool = False


@dataclass(frozen=True)
class Condition:
    """One simulation: parameters and initial state (with condition columns applied), protocol
    events, output times, and the measurements it predicts."""

    label: str
    p: np.ndarray
    x0: np.ndarray
    events: tuple[Event, ...]
    times: np.ndarray
    rows: np.ndarray  # measurement indices
    time_index: np.ndarray  # per measurement: position in ``times``
    readout: np.ndarray  # per measurement: index into ``FitProblem.readouts``


class Problem(Protocol):
    """What :func:`fit`, :func:`degranulation.profile_likelihood` and the checkpoint store need
    of an estimation problem. :class:`FitProblem` (assay data) and
    :class:`degranulation.PetabProblem` implement it.

    Rules for implementers:

    1. ``free`` lists the estimated parameters; the optimiser works in their coordinates
       ``φ`` (:meth:`FreeParameter.to_optimizer`) within ``bounds``. :func:`parameter_names`,
       :func:`optimizer_bounds` and :func:`model_values` give ``names``, ``bounds`` and
       ``values`` from ``free``.
    2. ``residuals(φ)`` gives the residual vector (``n_residuals`` long; its first
       ``len(data)`` entries belong to the measurements) and, unless ``jacobian=False``, its
       Jacobian ``∂r/∂φ``; it raises :class:`~degranulation.errors.SimulationError` where the
       model cannot be simulated. ``cost(φ)`` is ``½ Σ r²``, infinite there
       (:func:`half_squared_residuals`).
    3. ``predict(φ)`` gives the predictions of the measurements; ``noise(φ)`` their ``σ``;
       ``negative_log_likelihood(φ)`` the data's ``−ln L``.
    4. ``fix(name, value)`` is a copy estimating one parameter fewer (profiles);
       ``with_sigma`` a copy with some readouts' noise constants replaced
       (:func:`with_noise_constants`); ``curves(φ)`` model time courses for plots.
    5. ``data``, ``base_sigma``, ``times``, ``readout_of``, ``labels`` (per measurement),
       ``readouts``, ``model``, ``compiled`` and ``solver`` describe the fit for results and
       checkpoints. Problems are picklable (worker processes get a copy).
    """

    # Read-only members (dataclass fields in both implementations).
    @property
    def model(self) -> Model: ...
    @property
    def compiled(self) -> CompiledOde: ...
    @property
    def free(self) -> tuple[FreeParameter, ...]: ...
    @property
    def readouts(self) -> tuple[Readout, ...]: ...
    @property
    def data(self) -> np.ndarray: ...
    @property
    def base_sigma(self) -> np.ndarray: ...
    @property
    def readout_of(self) -> np.ndarray: ...
    @property
    def times(self) -> np.ndarray: ...
    @property
    def labels(self) -> tuple[str, ...]: ...
    @property
    def solver(self) -> Solver: ...

    @property
    def names(self) -> tuple[str, ...]: ...
    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]: ...
    @property
    def n_residuals(self) -> int: ...
    def values(self, phi: np.ndarray) -> np.ndarray: ...
    def predict(self, phi: np.ndarray, *, jacobian: bool = True) -> Prediction: ...
    def residuals(
        self, phi: np.ndarray, *, jacobian: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]: ...
    def cost(self, phi: np.ndarray) -> float: ...
    def noise(self, phi: np.ndarray) -> np.ndarray: ...
    def negative_log_likelihood(self, phi: np.ndarray) -> float: ...
    def fix(self, name: str, value: float) -> Problem: ...
    def with_sigma(self, sigma: Mapping[str, float]) -> Problem: ...
    def curves(self, phi: np.ndarray, points: int = 200) -> list[tuple[str, str, np.ndarray, np.ndarray]]: ...


def parameter_names(free: Sequence[FreeParameter]) -> tuple[str, ...]:
    """Names of the estimated parameters, in order."""
    return tuple(f.name for f in free)


def optimizer_bounds(free: Sequence[FreeParameter]) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the estimated parameters in optimiser coordinates."""
    pairs = np.array([f.bounds for f in free], dtype=float).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def model_values(free: Sequence[FreeParameter], phi: np.ndarray) -> np.ndarray:
    """Model values (internal units) of the estimated parameters at optimiser coordinates ``φ``."""
    return np.array([f.from_optimizer(v) for f, v in zip(free, phi, strict=True)], dtype=float)


def half_squared_residuals(problem: Problem, phi: np.ndarray) -> float:
    """``½ Σ r²`` at ``φ`` (infinite where the model cannot be simulated)."""
    try:
        r, _ = problem.residuals(np.asarray(phi, dtype=float), jacobian=False)
    except SimulationError:
        return math.inf
    value = 0.5 * float(r @ r)
    return value if math.isfinite(value) else math.inf


def with_noise_constants(problem: _P, sigma: Mapping[str, float]) -> _P:
    """A copy of a dataclass ``problem`` with the noise constants of some readouts replaced."""
    readouts = tuple(dataclasses.replace(r, sigma=sigma.get(r.name, r.sigma)) for r in problem.readouts)  # type: ignore[attr-defined]
    return dataclasses.replace(problem, readouts=readouts)  # type: ignore[type-var]


@dataclass(frozen=True, eq=False)
class FitProblem:
    """Everything a fit to assay data needs, as plain arrays in the model's units; picklable
    for workers. It implements :class:`Problem`.

    Build one with :func:`make_problem`; pass it to :func:`fit` in place of a model.
    """

    model: Model
    compiled: CompiledOde
    derivatives: ObservableDerivatives
    free: tuple[FreeParameter, ...]
    targets: tuple[Target, ...]
    conditions: tuple[Condition, ...]
    readouts: tuple[Readout, ...]
    data: np.ndarray  # measured values, in each readout's ``unit``
    base_sigma: np.ndarray  # σ_i / (noise constant of the row's readout)
    readout_of: np.ndarray  # per measurement
    times: np.ndarray  # per measurement, model time unit
    labels: tuple[str, ...]  # per measurement: condition label
    solver: Solver
    # the time unit the data were written in (results report times in it); None: the model's
    data_time_unit: str | None = field(default=None, kw_only=True)
    # the model's events triggered by the state, and their derivatives (None: it has none)
    state_events: StateEvents | None = field(default=None, kw_only=True)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the estimated parameters, in order."""
        return parameter_names(self.free)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds in optimiser coordinates."""
        return optimizer_bounds(self.free)

    @property
    def sigma(self) -> np.ndarray:
        """``σ_i`` of every measurement."""
        constants = np.array([r.sigma for r in self.readouts])
        return self.base_sigma * constants[self.readout_of]

    def values(self, phi: np.ndarray) -> np.ndarray:
        """Model values (internal units) of the estimated parameters at ``φ``."""
        return model_values(self.free, phi)

    def predict(self, phi: np.ndarray, *, jacobian: bool = True) -> Prediction:
        """Predictions ``ŷ`` for every measurement at ``φ`` and, if asked, ``∂ŷ/∂φ``.

        Raises
        ------
        SimulationError
            If a condition cannot be simulated.
        """
        from degranulation.sensitivities import integrate_sensitivities, observable_sensitivities

        theta = self.values(phi)
        n, m = len(self.data), len(self.free)
        y = np.empty(n)
        dy = np.zeros((n, m))
        wrt = self.targets if jacobian else ()
        for condition in self.conditions:
            p, x0 = condition.p.copy(), condition.x0.copy()
            for target, value in zip(self.targets, theta, strict=True):
                (x0 if target.is_initial else p)[target.index] = value
            run = integrate_sensitivities(
                self.compiled, condition.times, x0, p, self.solver, condition.events, wrt, self.state_events
            )
            observed = self.compiled.observe(run.x, run.parameters, run.t)
            d_observed = observable_sensitivities(self.derivatives, run, wrt) if jacobian else None
            for row, k, r in zip(condition.rows, condition.time_index, condition.readout, strict=True):
                readout = self.readouts[r]
                source = run.x if readout.is_species else observed
                y[row] = source[readout.index, k]
                if jacobian:
                    sens = run.s if readout.is_species else d_observed
                    assert sens is not None  # d_observed is computed with the Jacobian
                    dy[row] = sens[readout.index, :, k]
        if jacobian:
            dy *= np.array([_chain_factor(f, v) for f, v in zip(self.free, theta, strict=True)])
        scaled, d_scaled, nuisance = self._apply_nuisance(y, dy if jacobian else None)
        return Prediction(y=scaled, dy=d_scaled, model=y, nuisance=nuisance)

    def _apply_nuisance(
        self, y: np.ndarray, dy: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None, dict[str, float]]:
        weights = 1.0 / self.sigma**2
        y_out = y.copy()
        dy_out = None if dy is None else dy.copy()
        found: dict[str, float] = {}
        for r, readout in enumerate(self.readouts):
            if not (readout.has_scale or readout.has_offset):
                continue
            rows = self.readout_of == r
            coefficients, fitted, d_fitted = _linear_nuisance(
                y[rows],
                None if dy is None else dy[rows],
                self.data[rows],
                weights[rows],
                readout.has_scale,
                readout.has_offset,
            )
            y_out[rows] = fitted
            if dy_out is not None:
                dy_out[rows] = d_fitted
            if readout.has_scale:
                found[f"scale_{readout.name}"] = coefficients[0]
            if readout.has_offset:
                found[f"offset_{readout.name}"] = coefficients[-1]
        return y_out, dy_out, found

    def residuals(self, phi: np.ndarray, *, jacobian: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Weighted residuals ``(ŷ − d)/σ`` and their Jacobian ``∂r/∂φ`` at ``φ``."""
        prediction = self.predict(phi, jacobian=jacobian)
        sigma = self.sigma
        r = (prediction.y - self.data) / sigma
        jac = None if prediction.dy is None else prediction.dy / sigma[:, None]
        return r, jac

    def cost(self, phi: np.ndarray) -> float:
        """``½ Σ r²`` at ``φ`` (infinite where the model cannot be simulated)."""
        return half_squared_residuals(self, phi)

    @property
    def n_residuals(self) -> int:
        """Length of the residual vector :meth:`residuals` returns."""
        return len(self.data)

    def noise(self, phi: np.ndarray) -> np.ndarray:
        """``σ_i`` of every measurement at ``φ`` (here independent of ``φ``)."""
        return self.sigma

    def negative_log_likelihood(self, phi: np.ndarray) -> float:
        """``−ln L`` of the data at ``φ`` under Gaussian noise with the problem's ``σ_i``."""
        r, _ = self.residuals(np.asarray(phi, dtype=float), jacobian=False)
        sigma = self.noise(phi)
        return 0.5 * float(r @ r) + float(np.sum(np.log(sigma))) + 0.5 * len(r) * math.log(2 * math.pi)

    def curves(self, phi: np.ndarray, points: int = 200) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
        """Model time courses at ``φ`` for plotting: ``(condition, readout, t, y)`` for every
        readout measured in a condition, ``t`` in the model's time unit, ``y`` in the data's
        unit (scale and offset applied)."""
        from degranulation.simulation import integrate

        theta = self.values(phi)
        nuisance = self.predict(phi, jacobian=False).nuisance
        found = []
        for condition in self.conditions:
            p, x0 = condition.p.copy(), condition.x0.copy()
            for target, value in zip(self.targets, theta, strict=True):
                (x0 if target.is_initial else p)[target.index] = value
            times = np.linspace(0.0, float(condition.times[-1]), points)
            events = self.state_events.compiled if self.state_events is not None else None
            run = integrate(self.compiled, times, x0, p, self.solver, condition.events, events)
            observed = self.compiled.observe(run.x, run.p if run.p_t is None else run.p_t, run.t)
            for r in dict.fromkeys(condition.readout.tolist()):
                readout = self.readouts[r]
                y = (run.x if readout.is_species else observed)[readout.index]
                y = y * nuisance.get(f"scale_{readout.name}", 1.0) + nuisance.get(
                    f"offset_{readout.name}", 0.0
                )
                found.append((condition.label, readout.name, times, y))
        return found

    def with_sigma(self, sigma: Mapping[str, float]) -> FitProblem:
        """A copy with the noise constants of some readouts replaced."""
        return with_noise_constants(self, sigma)

    def fix(self, name: str, value: float) -> FitProblem:
        """A copy that estimates one parameter fewer, holding ``name`` at model value ``value``
        (used by profile likelihood)."""
        k = self.names.index(name)
        target = self.targets[k]
        conditions = []
        for condition in self.conditions:
            p, x0 = condition.p.copy(), condition.x0.copy()
            (x0 if target.is_initial else p)[target.index] = value
            conditions.append(dataclasses.replace(condition, p=p, x0=x0))
        return dataclasses.replace(
            self,
            free=self.free[:k] + self.free[k + 1 :],
            targets=self.targets[:k] + self.targets[k + 1 :],
            conditions=tuple(conditions),
        )


@dataclass(frozen=True)
class Prediction:
    """Model predictions for the measurements (after scale/offset) and ``∂ŷ/∂φ``."""

    y: np.ndarray
    dy: np.ndarray | None
    model: np.ndarray  # before scale and offset
    nuisance: dict[str, float]


def _chain_factor(free: FreeParameter, value: float) -> float:
    """``∂θ/∂φ`` at model value ``θ``."""
    if free.scale == "lin":
        return 1.0
    return value * math.log(10.0) if free.scale == "log10" else value


def _linear_nuisance(
    y: np.ndarray, dy: np.ndarray | None, d: np.ndarray, w: np.ndarray, has_scale: bool, has_offset: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Weighted least-squares ``s``/``o`` for ``s·y + o ≈ d``, the fitted values, and their
    total derivative (including ``∂s/∂θ``, ``∂o/∂θ``)."""
    columns = ([y] if has_scale else []) + ([np.ones_like(y)] if has_offset else [])
    design = np.column_stack(columns)
    normal = design.T @ (w[:, None] * design)
    rhs = design.T @ (w * d)
    inverse = np.linalg.pinv(normal)
    c = inverse @ rhs
    fitted = design @ c
    if dy is None:
        return c, fitted, None
    d_fitted = np.empty_like(dy)
    for j in range(dy.shape[1]):
        d_design = np.column_stack(
            ([dy[:, j]] if has_scale else []) + ([np.zeros_like(y)] if has_offset else [])
        )
        d_normal = d_design.T @ (w[:, None] * design) + design.T @ (w[:, None] * d_design)
        dc = inverse @ (d_design.T @ (w * d) - d_normal @ c)
        d_fitted[:, j] = d_design @ c + design @ dc
    return c, fitted, d_fitted
