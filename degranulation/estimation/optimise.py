"""``fit``: estimate parameters from assay data by bounded least squares with sensitivity
Jacobians, multistart, noise models and scale/offset readouts.

The problem is ``min ½ Σ r_i²`` with ``r_i = (ŷ_i(θ) − d_i)/σ_i`` over the measurements of
every condition (each distinct protocol and set of condition columns is one simulation). The
optimiser (SciPy ``least_squares``, trust-region reflective) works on ``φ = log10 θ`` or
``φ = θ`` per parameter, within bounds, and gets ``∂r/∂φ`` from forward sensitivities
(:mod:`degranulation.sensitivities`), never from finite differences.

Noise models give ``σ_i``: ``"sd"`` the data's ``sd`` column; ``"additive"`` a constant per
readout; ``"proportional"`` a fraction of the measured value. Constants not given are
estimated (maximum likelihood, alternated with the fit until they settle). Readouts in
arbitrary units take a scale factor and/or an offset, ``ŷ = s·y + o``; these are solved for
in closed form at every step (weighted linear least squares) and enter the Jacobian through
their derivatives, so each profile and interval accounts for them.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypeVar

import numpy as np

from degranulation.errors import DataError, FitError, ModelError, SimulationError, UnitError
from degranulation.io.assay import AssayData
from degranulation.network import Estimate, Model, Species, UnitValue
from degranulation.parallel import as_completed
from degranulation.typing import QuantityLike, Scheduler

if TYPE_CHECKING:
    import pint
    import xarray

    from degranulation.codegen import CompiledOde
    from degranulation.protocols import Event, ProtocolLike
    from degranulation.sensitivities import ObservableDerivatives, Target
    from degranulation.solvers import Solver

_P = TypeVar("_P")
NoiseModel = Literal["sd", "additive", "proportional"]
Design = Literal["lhs", "sobol"]
NOISE_MODELS: Final = ("sd", "additive", "proportional")
DESIGNS: Final = ("lhs", "sobol")
#: Residual given to every measurement when the model cannot be simulated at a point.
FAILED_RESIDUAL: Final = 1e6
MAX_STARTS: Final = 100_000  # most multistart runs one fit makes
DEFAULT_LEVEL: Final = 0.95
_DEFAULT_SPAN: Final = 1e3  # default bounds: value/1000 … value·1000 (log10), 0 … 10·value (lin)


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
                self.compiled, condition.times, x0, p, self.solver, condition.events, wrt
            )
            observed = self.compiled.observe(run.x, run.p, run.t)
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
            run = integrate(self.compiled, times, x0, p, self.solver, condition.events)
            observed = self.compiled.observe(run.x, run.p, run.t)
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


# ---------------------------------------------------------------------------------------------
# Building a problem


def make_problem(
    model: Model | str | Path,
    data: AssayData | str | Path | Sequence[AssayData | str | Path] | Any,
    *,
    estimate: Sequence[str] | Mapping[str, Estimate | Mapping[str, Any] | None],
    noise: NoiseModel | Mapping[str, NoiseModel] | None = None,
    sigma: Mapping[str, QuantityLike] | None = None,
    scale: Iterable[str] = (),
    offset: Iterable[str] = (),
    protocols: Mapping[str, ProtocolLike] | None = None,
    solver: str | Solver = "BDF",
    rtol: float | None = 1e-8,
    atol: float | str | None = None,
    cache_dir: str | Path | bool | None = None,
) -> FitProblem:
    """Turn a model, assay data and the choice of parameters into a :class:`FitProblem`.

    Parameters are as in :func:`fit`.

    Raises
    ------
    DataError
        For data that do not fit the model (unknown readouts or condition columns, wrong
        units, a condition column that sets an estimated parameter), located by row and column.
    ModelError, UnitError
        For unknown parameter names, bad bounds or scales.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.library import models_folder
    >>> data = dg.read_assay(models_folder() / "data" / "crosslinking_synthetic.csv")
    >>> problem = make_problem("ige_fceri_crosslinking", data, estimate=["kp1", "kp2"])
    >>> problem.names, len(problem.conditions)
    (('kp1', 'kp2'), 2)
    """
    from degranulation.codegen import compile_model
    from degranulation.library import as_model
    from degranulation.sensitivities import observable_derivatives, targets
    from degranulation.simulation import absolute_tolerance
    from degranulation.solvers import solver_from

    model = as_model(model)
    datasets = _datasets(data)
    compiled = compile_model(model, sensitivities=True, cache_dir=cache_dir)
    names = list(estimate)
    wanted = targets(model, compiled, names)
    free = tuple(
        _free_parameter(model, target, _estimate_spec(estimate, name))
        for target, name in zip(wanted, names, strict=True)
    )
    scaled, offsets = set(scale), set(offset)
    readouts, data_values, base, readout_of, times, conditions, labels = _measurements(
        model, compiled, datasets, wanted, noise, sigma or {}, scaled, offsets, protocols or {}
    )
    tolerance = absolute_tolerance(model, compiled, atol, compiled.default_parameters)
    if tolerance is None:
        # Absolute tolerance well below the largest amount in any condition (the solver's
        # default, 1e-9 in model units, is needlessly tight for molecules per cell and makes
        # the sensitivities' Newton iterations struggle).
        largest = max((float(np.abs(c.x0).max(initial=0.0)) for c in conditions), default=1.0)
        tolerance = 1e-3 * (rtol or 1e-6) * max(largest, 1e-300) if largest > 0 else None
    return FitProblem(
        model=model,
        compiled=compiled,
        derivatives=observable_derivatives(model, compiled),
        free=free,
        targets=wanted,
        conditions=conditions,
        readouts=readouts,
        data=data_values,
        base_sigma=base,
        readout_of=readout_of,
        times=times,
        labels=labels,
        solver=solver_from(solver, rtol=rtol, atol=tolerance),
        data_time_unit=datasets[0].time_unit,
    )


def _datasets(data: Any) -> list[AssayData]:
    from degranulation.io.assay import read_assay

    if isinstance(data, AssayData):
        return [data]
    if isinstance(data, str | Path) or hasattr(data, "columns"):
        return [read_assay(data)]
    if isinstance(data, Sequence) and data:
        return [d if isinstance(d, AssayData) else read_assay(d) for d in data]
    raise DataError(
        f"expected assay data (a file, a DataFrame or read_assay's result), got {type(data).__name__}"
    )


def _estimate_spec(estimate: Any, name: str) -> Estimate | Mapping[str, Any] | None:
    return estimate.get(name) if isinstance(estimate, Mapping) else None


def _free_parameter(model: Model, target: Target, spec: Estimate | Mapping[str, Any] | None) -> FreeParameter:
    from degranulation.kinetics import internal_value, name_dimension
    from degranulation.units import TIME

    base = target.name.removesuffix(".initial") if target.is_initial else target.name
    record = model.by_id.get(base)
    where = f"estimate.{target.name}"
    if isinstance(record, Species):
        written = record.initial
    elif record is not None and hasattr(record, "value"):
        written = record.value
    else:
        written = record.size  # type: ignore[union-attr]
    nominal = internal_value(model, base, written)
    declared = getattr(record, "estimate", None)
    if spec is None:
        spec = declared
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"bounds", "scale"}
        if unknown:
            raise ModelError(
                f"unknown estimate option(s) {sorted(unknown)}",
                location=where,
                hint="give 'bounds' (two values with units) and/or 'scale' ('log10' or 'lin')",
            )
        bounds = spec.get("bounds")
        scale = spec.get("scale")
    elif isinstance(spec, Estimate):
        bounds, scale = spec.bounds, spec.scale
    else:
        bounds, scale = None, None
    if scale is None:
        is_rate = dict(name_dimension(model, base)).get(TIME, 0) < 0
        scale = "log10" if is_rate else "lin"
    if scale not in ("log10", "lin"):
        raise ModelError(f"unknown scale '{scale}'", location=f"{where}.scale", hint="use 'log10' or 'lin'")
    if bounds is None:
        if not nominal > 0:
            raise ModelError(
                f"'{target.name}' is {written} and has no bounds to estimate it within",
                location=where,
                hint="give bounds, e.g. estimate={name: {'bounds': [low, high]}}",
            )
        bounds_internal = (
            (nominal / _DEFAULT_SPAN, nominal * _DEFAULT_SPAN) if scale == "log10" else (0.0, 10 * nominal)
        )
    else:
        if len(bounds) != 2:
            raise ModelError("bounds must be two values", location=f"{where}.bounds")
        try:
            bounds_internal = tuple(internal_value(model, base, UnitValue.parse(b)) for b in bounds)  # type: ignore[assignment]
        except UnitError as exc:
            raise UnitError(exc.message, location=f"{where}.bounds", hint=exc.hint) from None
    lower, upper = bounds_internal
    if not (math.isfinite(lower) and math.isfinite(upper) and lower < upper):
        raise ModelError(
            f"bounds of '{target.name}' must be finite with lower < upper", location=f"{where}.bounds"
        )
    if scale == "log10" and lower <= 0:
        raise ModelError(
            f"log10 scale needs positive bounds for '{target.name}'",
            location=f"{where}.bounds",
            hint="use scale 'lin' or a positive lower bound",
        )
    per_unit = internal_value(model, base, UnitValue(1.0, written.unit))
    return FreeParameter(target.name, written.unit, scale, lower, upper, nominal, per_unit)  # type: ignore[arg-type]  # checked above


def _measurements(
    model: Model,
    compiled: CompiledOde,
    datasets: list[AssayData],
    wanted: tuple[Target, ...],
    noise: NoiseModel | Mapping[str, NoiseModel] | None,
    sigma: Mapping[str, Any],
    scaled: set[str],
    offsets: set[str],
    protocols: Mapping[str, ProtocolLike],
) -> tuple[
    tuple[Readout, ...],
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    tuple[Condition, ...],
    tuple[str, ...],
]:
    """Readouts, data in readout units, base σ, and the conditions (grouped simulations)."""
    from degranulation.protocols import protocol_steps, resolve

    readout_names = list(dict.fromkeys(name for data in datasets for name in data.observable))
    for name in (*scaled, *offsets, *sigma):
        if name not in readout_names:
            raise DataError(
                f"'{name}' is not a readout in the data", hint=f"readouts: {', '.join(readout_names)}"
            )
    readouts: list[Readout] = []
    values, base, readout_of, times, keys, locations = [], [], [], [], [], []
    estimated = {t.name for t in wanted} | {t.name.removesuffix(".initial") for t in wanted if t.is_initial}
    for data in datasets:
        converted, sd = data.readout_values(model, any_unit=sorted(scaled))
        overrides = _condition_overrides(model, compiled, data, estimated)
        for row, name in enumerate(data.observable):
            if name not in [r.name for r in readouts]:
                readouts.append(
                    _readout(model, compiled, name, data, sd is not None, noise, sigma, scaled, offsets)
                )
            r = [x.name for x in readouts].index(name)
            readout = readouts[r]
            if readout.is_species is False and name in scaled and data.value_unit != readout.unit:
                raise data.error(
                    row,
                    data.header("value"),
                    f"'{name}' has a scale factor, so all its values "
                    f"need one unit; found '{data.value_unit}' and '{readout.unit}'",
                )
            values.append(converted[row])
            if readout.noise == "sd":
                if sd is None:
                    raise data.error(
                        None,
                        "sd",
                        "noise model 'sd' needs an sd column",
                        hint="add 'sd [unit]' or use noise='additive'",
                    )
                base.append(sd[row])
            elif readout.noise == "proportional":
                if converted[row] == 0:
                    raise data.error(
                        row,
                        data.header("value"),
                        "a proportional noise model cannot weight a zero value",
                        hint="use noise='additive' or an sd column for this readout",
                    )
                base.append(abs(converted[row]))
            else:
                base.append(1.0)
            readout_of.append(r)
            times.append(model.units.magnitude(float(data.time[row]), data.time_unit))
            protocol = data.protocol[row] if data.protocol is not None else None
            keys.append((protocol, overrides[row]))
            locations.append((data, row))
    conditions = []
    labels = [""] * len(values)
    for key in dict.fromkeys(keys):
        protocol, override = key
        rows = np.array([i for i, k in enumerate(keys) if k == key], dtype=np.int64)
        data, first = locations[rows[0]]
        try:
            steps = protocol_steps(model, protocols.get(protocol, protocol) if protocol is not None else None)
            events = resolve(model, compiled, steps)
        except (ModelError, UnitError) as exc:
            raise data.error(first, "protocol", exc.message, hint=exc.hint) from None
        p, x0 = compiled.default_parameters.copy(), compiled.default_initial.copy()
        for is_initial, index, value in override:
            (x0 if is_initial else p)[index] = value
        row_times = np.array([times[i] for i in rows])
        grid = np.unique(np.concatenate([[0.0], row_times]))
        label = _label(data, first, protocol, override, compiled)
        for i in rows:
            labels[i] = label
        conditions.append(
            Condition(
                label=label,
                p=p,
                x0=x0,
                events=events,
                times=grid,
                rows=rows,
                time_index=np.searchsorted(grid, row_times),
                readout=np.array([readout_of[i] for i in rows]),
            )
        )
    return (
        tuple(readouts),
        np.array(values),
        np.array(base),
        np.array(readout_of, dtype=np.int64),
        np.array(times),
        tuple(conditions),
        tuple(labels),
    )


def _label(
    data: AssayData, row: int, protocol: str | None, override: tuple[Any, ...], compiled: CompiledOde
) -> str:
    if data.label is not None:
        return data.label[row]
    parts = [protocol] if protocol else []
    parts += [f"{name}={values[row]:g} {unit}" for name, (values, unit) in data.conditions.items()]
    return ", ".join(parts) or "default"


def _condition_overrides(
    model: Model, compiled: CompiledOde, data: AssayData, estimated: set[str]
) -> list[tuple[tuple[bool, int, float], ...]]:
    """Per row, the (is_initial, index, internal value) set by the condition columns."""
    from degranulation.kinetics import internal_value

    parameters = {name: k for k, name in enumerate(compiled.parameters)}
    species = {name: i for i, name in enumerate(compiled.species)}
    columns = []
    for name, (values, unit) in data.conditions.items():
        header = f"{name} [{unit}]"
        base = name.removesuffix(".initial")
        if name in estimated or (base in estimated and base in species):
            raise data.error(
                None,
                header,
                f"column '{header}' sets '{name}', which is being estimated",
                hint="estimate it or set it per condition, not both",
            )
        if name in parameters:
            is_initial, index = False, parameters[name]
        elif base in species:
            is_initial, index = True, species[base]
        else:
            import difflib

            close = difflib.get_close_matches(base, [*parameters, *species], n=1)
            raise data.error(
                None,
                header,
                f"condition column '{name}' is not a parameter, compartment or species of model '{model.id}'",
                hint=f"did you mean '{close[0]}'?" if close else "name a parameter or species",
            )
        converted = []
        for row, value in enumerate(values):
            try:
                converted.append(internal_value(model, base, UnitValue(float(value), unit)))
            except UnitError as exc:
                raise data.error(row, header, exc.message, hint=exc.hint) from None
        if is_initial and min(converted) < 0:
            raise data.error(int(np.argmin(converted)), header, "an initial value cannot be negative")
        columns.append((is_initial, index, converted))
    return [
        tuple((is_initial, index, values[row]) for is_initial, index, values in columns)
        for row in range(len(data))
    ]


def _readout(
    model: Model,
    compiled: CompiledOde,
    name: str,
    data: AssayData,
    has_sd: bool,
    noise: NoiseModel | Mapping[str, NoiseModel] | None,
    sigma: Mapping[str, Any],
    scaled: set[str],
    offsets: set[str],
) -> Readout:
    from degranulation.results import species_unit

    kind = noise.get(name) if isinstance(noise, Mapping) else noise
    kind = kind or ("sd" if has_sd else "additive")
    if kind not in NOISE_MODELS:
        raise FitError(
            f"unknown noise model '{kind}' for '{name}'", hint=f"use one of {', '.join(NOISE_MODELS)}"
        )
    is_species = name in compiled.species
    index = compiled.species.index(name) if is_species else compiled.observables.index(name)
    model_unit = species_unit(model, model.get_species(name)) if is_species else model.by_id[name].unit  # type: ignore[union-attr]
    unit = data.value_unit if name in scaled else model_unit
    constant, is_estimated = 1.0, kind != "sd"
    if name in sigma:
        constant, is_estimated = _sigma_value(sigma[name], kind, unit, name), False
    return Readout(
        name,
        is_species,
        index,
        unit,
        model_unit,
        kind,
        constant,
        is_estimated,
        name in scaled,
        name in offsets,
    )


def _sigma_value(value: Any, kind: NoiseModel, unit: str, name: str) -> float:
    from degranulation.units import parse_unit, registry

    if kind == "sd":
        raise FitError(
            f"sigma for '{name}' is given but its noise model is 'sd'",
            hint="choose noise='additive' or 'proportional' for it",
        )
    parsed = UnitValue.parse(value)
    target = "dimensionless" if kind == "proportional" else unit
    try:
        number = float(
            registry().Quantity(parsed.value, parse_unit(parsed.unit)).to(parse_unit(target)).magnitude
        )
    except Exception:  # pint's DimensionalityError
        raise UnitError(
            f"sigma '{parsed}' for '{name}' is not in units of {target}",
            location=f"sigma.{name}",
            hint="a proportional sigma is a fraction ('10 percent')" if kind == "proportional" else None,
        ) from None
    if not number > 0:
        raise UnitError(f"sigma for '{name}' must be positive", location=f"sigma.{name}")
    return number


# ---------------------------------------------------------------------------------------------
# Optimisation


@dataclass(frozen=True, kw_only=True)
class StartResult:
    """One local optimisation: where it started and ended (optimiser coordinates), its cost."""

    index: int
    initial: np.ndarray
    final: np.ndarray
    cost: float
    is_success: bool
    is_failed: bool  # the model could not be simulated at the end point
    message: str
    nfev: int
    njev: int


class _Objective:
    """Residuals and Jacobian for ``least_squares``, computed together once per point."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.point: np.ndarray | None = None
        self.value: tuple[np.ndarray, np.ndarray] | None = None
        self.failures = 0

    def evaluate(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.point is None or not np.array_equal(phi, self.point):
            n, m = self.problem.n_residuals, len(phi)
            try:
                with np.errstate(all="ignore"):
                    r, jac = self.problem.residuals(phi)
                assert jac is not None  # residuals give the Jacobian by default
                if not (np.all(np.isfinite(r)) and np.all(np.isfinite(jac))):
                    raise SimulationError("the model gave non-finite values")
            except SimulationError:
                self.failures += 1
                r, jac = np.full(n, FAILED_RESIDUAL), np.zeros((n, m))
            self.point, self.value = phi.copy(), (r, jac)  # type: ignore[assignment]
        assert self.value is not None
        return self.value

    def residuals(self, phi: np.ndarray) -> np.ndarray:
        return self.evaluate(phi)[0]

    def jacobian(self, phi: np.ndarray) -> np.ndarray:
        return self.evaluate(phi)[1]


def optimize(
    problem: Problem, phi0: np.ndarray, index: int = 0, *, max_nfev: int | None = None
) -> StartResult:
    """One bounded least-squares run (``trf``) from ``φ0``; a failure to simulate is a large
    residual, not an exception."""
    from scipy.optimize import least_squares

    lower, upper = problem.bounds
    start = np.clip(np.asarray(phi0, dtype=float), lower, upper)
    objective = _Objective(problem)
    if len(start) == 0:
        r = objective.residuals(start)
        return StartResult(
            index=index,
            initial=start,
            final=start,
            cost=0.5 * float(r @ r),
            is_success=True,
            is_failed=bool(np.all(r == FAILED_RESIDUAL)),
            message="nothing to estimate",
            nfev=1,
            njev=0,
        )
    solution = least_squares(
        objective.residuals,
        start,
        jac=objective.jacobian,
        bounds=(lower, upper),
        method="trf",
        x_scale="jac",
        max_nfev=max_nfev,
    )
    r = objective.residuals(solution.x)
    is_failed = bool(np.all(r == FAILED_RESIDUAL))
    return StartResult(
        index=index,
        initial=start,
        final=np.asarray(solution.x),
        cost=0.5 * float(r @ r),
        is_success=bool(solution.success) and not is_failed,
        is_failed=is_failed,
        message="the model could not be simulated here" if is_failed else str(solution.message),
        nfev=int(solution.nfev),
        njev=int(solution.njev or 0),
    )


def start_points(
    problem: Problem, n_starts: int, *, design: Design = "lhs", seed: int | None = None
) -> np.ndarray:
    """``n_starts`` points (rows) spread over the bounds in optimiser coordinates.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.library import models_folder
    >>> data = models_folder() / "data" / "crosslinking_synthetic.csv"
    >>> problem = make_problem("ige_fceri_crosslinking", data, estimate=["kp1", "kp2"])
    >>> start_points(problem, 4, seed=0).shape
    (4, 2)
    """
    from scipy.stats import qmc

    if design not in DESIGNS:
        raise ValueError(f"unknown design '{design}'; expected one of {', '.join(DESIGNS)}")
    if not isinstance(n_starts, int) or isinstance(n_starts, bool) or not 1 <= n_starts <= MAX_STARTS:
        raise ValueError(f"n_starts must be an integer from 1 to {MAX_STARTS}, got {n_starts!r}")
    lower, upper = problem.bounds
    m = len(lower)
    if m == 0:
        return np.zeros((n_starts, 0))
    sampler = qmc.LatinHypercube(d=m, rng=seed) if design == "lhs" else qmc.Sobol(d=m, rng=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Sobol prefers powers of two; any n is valid
        unit = sampler.random(n_starts)
    return np.asarray(qmc.scale(unit, lower, upper))


def run_starts(
    problem: Problem,
    points: np.ndarray,
    *,
    workers: int = 1,
    scheduler: Scheduler = None,
    progress: Callable[[int, int, StartResult], None] | None = None,
    max_nfev: int | None = None,
    finished: Sequence[StartResult] = (),
    record: Callable[[StartResult], None] | None = None,
) -> list[StartResult]:
    """Optimise from every point: in this process, in ``workers`` processes, or on a Dask
    cluster (``scheduler``: a ``distributed.Client`` or its address). Starts in ``finished``
    (by index) are not run again; ``record`` sees each new one as it finishes."""
    results = list(finished)
    done = {s.index for s in results}
    tasks = [(problem, phi, i, max_nfev) for i, phi in enumerate(points) if i not in done]
    for _, result in as_completed(_start_job, tasks, workers=workers, scheduler=scheduler):
        if record is not None:
            record(result)
        results.append(result)
        if progress is not None:
            progress(len(results), len(points), result)
    return sorted(results, key=lambda s: s.index)


def _start_job(job: tuple[Problem, np.ndarray, int, int | None]) -> StartResult:
    problem, phi, index, max_nfev = job
    return optimize(problem, phi, index, max_nfev=max_nfev)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, kw_only=True)
class FitResult:
    """The outcome of :func:`fit`.

    Attributes
    ----------
    parameters : dict of str to pint.Quantity
        Best estimates, in the units the model writes them in.
    confidence_intervals : dict of str to (Quantity, Quantity)
        At ``level``; from the Fisher information (``ci_method="fisher"``) unless replaced by
        profile-likelihood intervals (:meth:`with_intervals`).
    nuisance : dict of str to pint.Quantity
        Fitted ``scale_<readout>``, ``offset_<readout>`` and estimated ``sigma_<readout>``.
    cost : float
        ``½ Σ r²`` at the best estimate: the quantity minimised (with a noise model that
        depends on the parameters, ``r`` includes its terms; see
        :meth:`Problem.residuals`).
    residuals, predictions, sigma : numpy.ndarray
        Per measurement at the best estimate: ``(ŷ − d)/σ``, ``ŷ`` and ``σ``.
    success : bool
        The best start converged and could be simulated.
    starts : tuple of StartResult
        Every local run, in start order.
    aic, bic : float
        ``2k + 2·NLL`` and ``k·ln n + 2·NLL`` (``NLL`` from
        :meth:`Problem.negative_log_likelihood`, ``k`` counting the estimated
        parameters, scales, offsets and noise constants).
    """

    problem: Problem = field(repr=False)
    best: np.ndarray
    parameters: dict[str, pint.Quantity]
    confidence_intervals: dict[str, tuple[pint.Quantity, pint.Quantity]]
    nuisance: dict[str, pint.Quantity]
    cost: float
    success: bool
    starts: tuple[StartResult, ...]
    level: float
    ci_method: str
    covariance: np.ndarray  # in optimiser coordinates
    residuals: np.ndarray
    predictions: np.ndarray
    sigma: np.ndarray  # σ_i of each measurement at the best estimate
    aic: float
    bic: float
    n_data: int
    n_parameters: int

    @property
    def n_starts(self) -> int:
        """Number of local runs."""
        return len(self.starts)

    @property
    def names(self) -> tuple[str, ...]:
        """Estimated parameters, in order."""
        return self.problem.names

    def with_intervals(
        self, intervals: Mapping[str, tuple[Any, Any]], method: str, level: float
    ) -> FitResult:
        """A copy whose confidence intervals come from elsewhere (e.g. profile likelihood)."""
        return dataclasses.replace(self, confidence_intervals=dict(intervals), ci_method=method, level=level)

    def summary(self) -> str:
        """A few lines: each estimate with its interval, then cost, AIC and starts."""
        lines = [f"{'parameter':18s} {'value':>12s}  {'ci_low':>12s} {'ci_high':>12s}  unit"]
        for name, value in self.parameters.items():
            low, high = self.confidence_intervals[name]
            lines.append(
                f"{name:18s} {value.magnitude:12.5g}  {low.magnitude:12.5g} {high.magnitude:12.5g}  "
                f"{self.problem.free[self.names.index(name)].unit}"
            )
        for name, value in self.nuisance.items():
            lines.append(f"{name:18s} {value.magnitude:12.5g}  {'':12s} {'':12s}  {value.units:~}")
        converged = sum(s.is_success for s in self.starts)
        lines.append(
            f"cost {self.cost:.6g}, AIC {self.aic:.4g}, BIC {self.bic:.4g}, n = {self.n_data}; "
            f"{converged}/{self.n_starts} starts converged ({self.ci_method} intervals at {self.level:g})"
        )
        return "\n".join(lines)

    def curves(self, points: int = 200) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
        """Fitted model time courses for plotting: ``(condition, readout, t, y)`` for every
        readout measured in a condition, ``t`` in the model's time unit, ``y`` in the data's
        unit (scale and offset applied); see :meth:`Problem.curves`."""
        return self.problem.curves(self.best, points)

    def to_json(self) -> dict[str, Any]:
        """The ``fit.json`` content: per parameter ``value``, ``unit``, ``ci_low``, ``ci_high``
        and ``identifiability`` (see :func:`identifiability`); plus ``cost``, ``n_starts``,
        ``success``, every start (``starts``: index, cost, success, parameter values), the
        parameters' ``correlation`` and a few more facts. Non-finite numbers are None (with
        ``ci_status`` saying why for an interval end)."""
        parameters = {}
        for k, (name, value) in enumerate(self.parameters.items()):
            low, high = self.confidence_intervals[name]
            flag, reason = identifiability(low.magnitude, high.magnitude)
            parameters[name] = {
                "value": float(value.magnitude),
                "unit": self.problem.free[k].unit,
                "ci_low": _json_number(low.magnitude),
                "ci_high": _json_number(high.magnitude),
                "identifiability": flag,
            }
            if reason:
                parameters[name]["identifiability_reason"] = reason
            if not (math.isfinite(low.magnitude) and math.isfinite(high.magnitude)):
                parameters[name]["ci_status"] = "not estimable: the data do not bound this parameter"
        return {
            "model": self.problem.model.id,
            "parameters": parameters,
            "nuisance": {
                k: {"value": _json_number(v.magnitude), "unit": f"{v.units:~}"}
                for k, v in self.nuisance.items()
            },
            "cost": _json_number(self.cost),
            "n_starts": self.n_starts,
            "success": self.success,
            "ci_method": self.ci_method,
            "level": self.level,
            "aic": _json_number(self.aic),
            "bic": _json_number(self.bic),
            "n_data": self.n_data,
            "correlation": {"parameters": list(self.names), "matrix": self.correlation().tolist()},
            "starts": [self._start_json(start) for start in self.starts],
        }

    def _start_json(self, start: StartResult) -> dict[str, Any]:
        values = {
            free.name: _json_number(float(free.from_optimizer(start.final[k])) / free.per_unit)
            for k, free in enumerate(self.problem.free)
        }
        return {
            "index": start.index,
            "cost": _json_number(start.cost),
            "success": start.is_success,
            "message": start.message,
            "nfev": start.nfev,
            "parameters": values,
        }

    def correlation(self) -> np.ndarray:
        """Correlation of the estimates (optimiser coordinates, from the Fisher information);
        NaN for a parameter the data do not constrain.

        Examples
        --------
        >>> import degranulation as dg
        >>> from degranulation.library import models_folder
        >>> data = models_folder() / "data" / "crosslinking_synthetic.csv"
        >>> result = dg.fit("ige_fceri_crosslinking", data, estimate=["kp1", "R"], n_starts=1, seed=0)
        >>> c = result.correlation()
        >>> c.shape, float(c[0, 0]), bool(abs(c[0, 1]) <= 1)
        ((2, 2), 1.0, True)
        """
        covariance = np.asarray(self.covariance, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(np.diag(covariance))
            correlation = covariance / np.outer(sd, sd)
        correlation[~np.isfinite(correlation)] = np.nan
        np.fill_diagonal(correlation, np.where(np.isfinite(sd) & (sd > 0), 1.0, np.nan))
        return np.clip(correlation, -1.0, 1.0)

    def to_dataset(self) -> xarray.Dataset:
        """The fit as a Dataset: for each parameter its estimate (with units), its interval
        (dim ``bound``) and each start's initial and final value (dim ``start``); per-start
        ``cost``, ``is_success``, ``nfev``; per measurement the data, prediction, ``sigma`` and
        residual, with the coordinates ``observable``, ``condition`` and ``measured_time`` (in
        the data's time unit).

        ``data``, ``prediction`` and ``sigma`` carry the readouts' unit (an observable's
        declared unit, or the data's for a scaled readout). When readouts of different units
        are fitted together no single unit fits, and they stay plain numbers with each
        readout's unit listed in their ``value_units`` attribute (``"RecDim: molecule,
        release: percent"``).
        """
        import xarray as xr

        from degranulation.results import quantify
        from degranulation.units import parse_unit, registry

        problem = self.problem
        variables: dict[str, Any] = {}
        for k, free in enumerate(problem.free):
            attrs = {"units": free.unit, "scale": free.scale}
            initial = free.from_optimizer(np.array([s.initial[k] for s in self.starts])) / free.per_unit
            final = free.from_optimizer(np.array([s.final[k] for s in self.starts])) / free.per_unit
            low, high = self.confidence_intervals[free.name]
            variables[free.name] = ((), float(self.parameters[free.name].magnitude), attrs)
            variables[f"{free.name}_ci"] = (
                ("bound",),
                [float(low.magnitude), float(high.magnitude)],
                {**attrs, "method": self.ci_method, "level": self.level},
            )
            variables[f"{free.name}_initial"] = (("start",), initial, attrs)
            variables[f"{free.name}_final"] = (("start",), final, attrs)
        variables["cost"] = (("start",), [s.cost for s in self.starts], {"units": "dimensionless"})
        variables["is_success"] = (("start",), [s.is_success for s in self.starts])
        variables["nfev"] = (("start",), [s.nfev for s in self.starts])
        readout_names = [problem.readouts[r].name for r in problem.readout_of]
        units = [problem.readouts[r].unit for r in problem.readout_of]
        distinct = dict(zip(readout_names, units, strict=True))  # readout -> unit
        if len({parse_unit(u) for u in distinct.values()}) == 1:
            value_attrs = {"units": units[0]}
        else:
            value_attrs = {"value_units": ", ".join(f"{name}: {unit}" for name, unit in distinct.items())}
        variables["data"] = (("measurement",), problem.data, value_attrs)
        variables["prediction"] = (("measurement",), self.predictions, value_attrs)
        variables["residual"] = (
            ("measurement",),
            self.residuals,
            {"units": "dimensionless", "long_name": "(prediction - data) / sigma"},
        )
        variables["sigma"] = (("measurement",), self.sigma, value_attrs)
        time_unit = problem.data_time_unit or problem.model.units.time
        times = registry().Quantity(problem.times, problem.model.units.time).to(time_unit).magnitude
        dataset = xr.Dataset(
            variables,
            coords={
                "start": np.arange(self.n_starts),
                "bound": ["low", "high"],
                "measurement": np.arange(len(problem.data)),
                "observable": (("measurement",), readout_names),
                "condition": (("measurement",), list(problem.labels)),
                "measured_time": (("measurement",), times, {"units": time_unit}),
            },
        )
        dataset.attrs.update(
            {
                "model_id": problem.model.id,
                "model_hash": problem.model.content_hash,
                "cost": _json_number(self.cost),
                "aic": _json_number(self.aic),
                "bic": _json_number(self.bic),
                "n_data": self.n_data,
                "n_parameters": self.n_parameters,
                "success": int(self.success),
                "best_start": int(np.argmin([s.cost for s in self.starts])),
            }
        )
        for name, value in self.nuisance.items():
            dataset[name] = ((), float(value.magnitude), {"units": f"{value.units:~C}" or "dimensionless"})
        return quantify(dataset)


def _json_number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


IDENTIFIABLE_DECADES: Final = 2.0  # wider intervals than this mean the data hardly fix the value


def identifiability(ci_low: float, ci_high: float) -> tuple[str, str]:
    """Flag a parameter by its confidence interval: ``("identifiable", "")``, or
    ``("practically non-identifiable", why)`` when the interval is unbounded, reaches zero, or
    spans more than two decades (the data then hardly constrain the value).

    Examples
    --------
    >>> identifiability(0.103, 37.8)   # Harmon et al. 2017's kase, profile interval
    ('practically non-identifiable', 'the interval spans 2.6 decades')
    >>> identifiability(1.2e-10, 2.3e-10)
    ('identifiable', '')
    """
    if not (math.isfinite(ci_low) and math.isfinite(ci_high)):
        return "practically non-identifiable", "the interval is unbounded"
    if ci_low <= 0 < ci_high:
        return "practically non-identifiable", "the interval reaches zero"
    if ci_low > 0:
        decades = math.log10(ci_high / ci_low)
        if decades > IDENTIFIABLE_DECADES:
            return "practically non-identifiable", f"the interval spans {decades:.2g} decades"
    return "identifiable", ""


def fisher_intervals(
    problem: Problem, phi: np.ndarray, jacobian: np.ndarray, level: float = DEFAULT_LEVEL
) -> tuple[dict[str, tuple[float, float]], np.ndarray]:
    """Wald intervals from the Fisher information ``JᵀJ`` at ``φ``: ``φ ± z·se`` in optimiser
    coordinates (so log-scale intervals are asymmetric in the parameter), clipped to the
    bounds; a direction the data do not constrain gives the whole bound range.
    Returns model-unit intervals and the covariance of ``φ``."""
    from scipy.stats import chi2

    information = jacobian.T @ jacobian
    # Parameters that take a sizeable part in a direction the data do not constrain
    # (structurally or numerically) have no finite Wald interval; judged on the
    # information scaled to unit diagonal, so the parameters' units do not matter.
    norms = np.sqrt(np.diag(information))
    scaled = information / np.outer(np.where(norms > 0, norms, 1.0), np.where(norms > 0, norms, 1.0))
    eigenvalues, vectors = np.linalg.eigh(scaled)
    null = eigenvalues <= 1e-10 * max(float(eigenvalues.max(initial=0.0)), 1e-300)
    unconstrained = (np.sum(vectors[:, null] ** 2, axis=1) > 1e-2) | (norms == 0)
    covariance = np.linalg.pinv(information, hermitian=True)
    covariance[unconstrained, :] = covariance[:, unconstrained] = 0.0
    covariance[unconstrained, unconstrained] = np.inf
    z = math.sqrt(chi2.ppf(level, 1))
    lower, upper = problem.bounds
    intervals = {}
    for k, free in enumerate(problem.free):
        half = z * math.sqrt(covariance[k, k])
        low, high = max(phi[k] - half, lower[k]), min(phi[k] + half, upper[k])
        intervals[free.name] = (float(free.from_optimizer(low)), float(free.from_optimizer(high)))
    return intervals, covariance


def fit(
    model: Model | str | Path | Problem,
    data: Any = None,
    *,
    estimate: Sequence[str] | Mapping[str, Any] | None = None,
    n_starts: int = 10,
    seed: int | None = None,
    design: Design = "lhs",
    noise: NoiseModel | Mapping[str, NoiseModel] | None = None,
    sigma: Mapping[str, QuantityLike] | None = None,
    scale: Iterable[str] = (),
    offset: Iterable[str] = (),
    protocols: Mapping[str, ProtocolLike] | None = None,
    level: float = DEFAULT_LEVEL,
    workers: int = 1,
    scheduler: Scheduler = None,
    solver: str | Solver = "BDF",
    rtol: float | None = 1e-8,
    atol: float | str | None = None,
    max_nfev: int | None = None,
    progress: Callable[[int, int, StartResult], None] | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    cache_dir: str | Path | bool | None = None,
    keep_checkpoint: bool = False,
) -> FitResult:
    """Estimate parameters from assay data: multistart bounded least squares with
    sensitivity-based Jacobians.

    Parameters
    ----------
    model : Model, str, Path or Problem
        A model (or bundled id, or model file), or a ready :class:`Problem` (a
        :class:`FitProblem` or a PEtab problem; then ``data`` and the problem options stay unset).
    data : AssayData, path, DataFrame or sequence of them
        Measurements (:func:`degranulation.read_assay`); several tables are fitted together.
    estimate : sequence of str, or mapping
        Parameters, compartment sizes or initial values (``"Ag.initial"``) to estimate. A
        mapping may give each ``{"bounds": [low, high], "scale": "log10" | "lin"}`` (values with
        units); otherwise the model file's ``estimate`` table applies, and failing that log10
        scale for rate constants (lin for the rest) within 1/1000…1000× the model's value
        (0…10× on lin scale).
    n_starts : int
        Local optimisations, started from a space-filling ``design`` over the bounds.
    seed : int, optional
        Makes the start points reproducible.

    Returns
    -------
    FitResult

    Other Parameters
    ----------------
    design : {"lhs", "sobol"}
        Latin hypercube or scrambled Sobol start points (``scipy.stats.qmc``).
    noise : {"sd", "additive", "proportional"} or mapping by readout
        Default: ``"sd"`` when the data have an ``sd`` column, else ``"additive"``.
    sigma : mapping, optional
        Noise constants by readout: an SD with units (additive) or a fraction such as
        ``"10 percent"`` (proportional). Those not given are estimated.
    scale, offset : iterable of str
        Readouts fitted as ``s·y + o`` (arbitrary-unit data); ``s`` and ``o`` are estimated.
    protocols : mapping, optional
        Protocols the data's ``protocol`` column names, beyond those in the model file, by
        that name (plural, unlike :func:`degranulation.simulate`'s ``protocol``: each row of
        the data picks its own).
    level : float
        Confidence level of the intervals (Fisher information; see
        :func:`degranulation.profile_likelihood` for profile intervals).
    workers : int
        Processes for the starts; ``scheduler`` (a ``distributed.Client`` or an address)
        sends them to a Dask cluster instead.
    solver, rtol, atol
        ODE solver and tolerances for states and sensitivities (``atol`` as in
        :func:`degranulation.simulate`; default ``1e-3·rtol`` times the largest initial
        value, in model units). ``rtol`` defaults to 1e-8, tighter than a simulation's
        (the solver's own 1e-6): the optimiser's steps and the Fisher intervals rest on
        the sensitivities, whose error follows the solver's, and a Jacobian off by 1e-6
        stalls least squares near the optimum.
    cache_dir : path, None or False
        Compiled-model cache, as in :func:`degranulation.simulate`.
    max_nfev : int, optional
        Most model evaluations per start (default: SciPy's, 100 per parameter).
    progress : callable, optional
        Called as ``progress(done, total, start_result)`` after each start.
    checkpoint : path, optional
        A file that every finished start is written to as it finishes (JSON lines, removed
        when the fit completes), so that an interrupted fit loses no finished start. (A sweep
        writes its result to ``output=`` and keeps its progress beside it.)
    resume : bool
        Continue the interrupted fit stored in ``checkpoint``: its start points are reused and
        its finished starts are not run again.
    keep_checkpoint : bool
        Leave ``checkpoint`` in place when the fit completes, for a caller that removes it
        once it has stored the result (the CLI does after writing ``fit.json``), so that a
        failure to store the result loses no finished start.

    Raises
    ------
    DataError
        Data that do not fit the model (located by row and column); a ``checkpoint`` that holds
        an unfinished fit (without ``resume``) or another fit.
    FitError
        If no start could simulate the model.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.library import models_folder
    >>> data = dg.read_assay(models_folder() / "data" / "crosslinking_synthetic.csv")
    >>> result = dg.fit("ige_fceri_crosslinking", data, estimate=["kp1", "R"], n_starts=2, seed=0)
    >>> result.success, f"{result.parameters['kp1'].magnitude:.2e}", result.problem.free[1].unit
    (True, '1.67e-10', 'molecule')
    """
    if not isinstance(model, Model | str | Path):  # a Problem
        if data is not None or estimate is not None:
            raise TypeError("pass either a FitProblem, or a model with data and estimate=[...]")
        problem = model
    else:
        if estimate is None:
            raise TypeError("fit() needs estimate=[...]: the parameters to estimate")
        problem = make_problem(
            model,
            data,
            estimate=estimate,
            noise=noise,
            sigma=sigma,
            scale=scale,
            offset=offset,
            protocols=protocols,
            solver=solver,
            rtol=rtol,
            atol=atol,
            cache_dir=cache_dir,
        )
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    points = start_points(problem, n_starts, design=design, seed=seed)
    store = None
    finished: list[StartResult] = []
    if checkpoint is not None:
        from degranulation.io.fit_store import StartStore, problem_fingerprint

        spec = {"problem": problem_fingerprint(problem), "n_starts": n_starts, "design": design, "seed": seed}
        store = StartStore(checkpoint, spec)
        points, finished = store.start(points, resume=resume)
    elif resume:
        raise ValueError("resume=True needs the checkpoint file of the interrupted fit")
    starts = run_starts(
        problem,
        points,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        max_nfev=max_nfev,
        finished=finished,
        record=None if store is None else store.write,
    )
    best = min(starts, key=lambda s: s.cost)
    if best.is_failed:
        raise FitError(
            f"the model could not be simulated from any of the {n_starts} starts",
            hint="check the bounds for extreme values, or the solver tolerances",
        )
    if not math.isfinite(best.cost):
        raise FitError(
            f"the cost is not a finite number ({best.cost}) at any of the {n_starts} starts",
            hint="rescale the data or the noise so that (prediction - data)/sd stays below 1e150",
        )
    problem, best = _estimate_noise(problem, best)
    result = _result(problem, best, starts, level)
    if store is not None and not keep_checkpoint:
        store.finish()
    return result


def _estimate_noise(problem: Problem, best: StartResult, rounds: int = 10) -> tuple[Problem, StartResult]:
    """Alternate maximum-likelihood noise constants with re-optimisation until they settle."""
    estimated = [r for r in problem.readouts if r.is_sigma_estimated]
    if not estimated:
        return problem, best
    for _ in range(rounds):
        prediction = problem.predict(best.final, jacobian=False)
        new = {}
        for index, r in enumerate(problem.readouts):
            if not r.is_sigma_estimated:
                continue
            rows = problem.readout_of == index
            relative = (prediction.y[rows] - problem.data[rows]) / problem.base_sigma[rows]
            dof = max(rows.sum() - len(problem.free) * rows.sum() / len(problem.data), 1.0)
            new[r.name] = max(math.sqrt(float(relative @ relative) / dof), 1e-300)
        old = {r.name: r.sigma for r in problem.readouts}
        problem = problem.with_sigma(new)
        if all(abs(new[k] - old[k]) <= 1e-4 * new[k] for k in new):
            break
        best = optimize(problem, best.final, best.index)
    final = optimize(problem, best.final, best.index) if len(estimated) > 1 else best
    return problem, dataclasses.replace(final, cost=problem.cost(final.final))


def _result(problem: Problem, best: StartResult, starts: list[StartResult], level: float) -> FitResult:
    from degranulation.units import parse_unit, registry

    ureg = registry()
    # Both with sensitivities: the same integration, so residuals match predictions exactly.
    prediction = problem.predict(best.final, jacobian=True)
    every, jacobian = problem.residuals(best.final)
    assert jacobian is not None  # residuals() gives it unless told not to
    n = len(problem.data)
    residuals = every[:n]  # the data's (any further ones belong to a parameter-dependent noise model)
    intervals, covariance = fisher_intervals(problem, best.final, jacobian, level)
    values = problem.values(best.final)
    parameters = {
        f.name: ureg.Quantity(v / f.per_unit, parse_unit(f.unit))
        for f, v in zip(problem.free, values, strict=True)
    }
    cis = {
        f.name: (
            ureg.Quantity(low / f.per_unit, parse_unit(f.unit)),
            ureg.Quantity(high / f.per_unit, parse_unit(f.unit)),
        )
        for f, (low, high) in ((f, intervals[f.name]) for f in problem.free)
    }
    nuisance: dict[str, Any] = {}
    for readout in problem.readouts:
        ratio = f"({readout.unit})/({readout.model_unit})"
        if readout.has_scale:
            nuisance[f"scale_{readout.name}"] = ureg.Quantity(
                prediction.nuisance[f"scale_{readout.name}"], parse_unit(ratio)
            )
        if readout.has_offset:
            nuisance[f"offset_{readout.name}"] = ureg.Quantity(
                prediction.nuisance[f"offset_{readout.name}"], parse_unit(readout.unit)
            )
        if readout.is_sigma_estimated:
            unit = "dimensionless" if readout.noise == "proportional" else readout.unit
            nuisance[f"sigma_{readout.name}"] = ureg.Quantity(readout.sigma, parse_unit(unit))
    cost = 0.5 * float(every @ every)
    k = len(problem.free) + sum(r.has_scale + r.has_offset + r.is_sigma_estimated for r in problem.readouts)
    nll = problem.negative_log_likelihood(best.final)
    return FitResult(
        problem=problem,
        best=best.final,
        parameters=parameters,
        confidence_intervals=cis,
        nuisance=nuisance,
        cost=cost,
        success=best.is_success,
        starts=tuple(starts),
        level=level,
        ci_method="fisher",
        covariance=covariance,
        residuals=residuals,
        predictions=prediction.y,
        sigma=problem.noise(best.final),
        aic=2 * k + 2 * nll,
        bic=k * math.log(n) + 2 * nll,
        n_data=n,
        n_parameters=k,
    )
