"""Fit results: :class:`StartResult` (one local optimisation), :class:`FitResult` (the outcome
of :func:`~degranulation.estimation.optimise.fit`), Fisher intervals and identifiability flags."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from degranulation.estimation.problem import Problem

if TYPE_CHECKING:
    import pint
    import xarray


DEFAULT_LEVEL: Final = 0.95


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
        time_unit = getattr(problem, "data_time_unit", None) or problem.model.units.time
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
