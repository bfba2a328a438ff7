"""Profile likelihood: confidence intervals for fitted parameters and flags for parameters
the data do not determine.

The profile of parameter ``θ_k`` is the least cost over all other parameters with ``θ_k``
held fixed. With Gaussian noise, ``2·(cost − cost_min)`` is asymptotically χ² with one degree
of freedom, so the interval at level ``α`` is where the profile stays below
``cost_min + χ²₁(α)/2`` (Raue et al. 2009, Bioinformatics 25:1923). A profile that does not
rise above that threshold on one side before reaching the parameter's bound marks the
parameter as practically non-identifiable; the interval then extends to the bound.
Profiles are traced in optimiser coordinates (``log10 θ`` for log-scaled parameters), each
point re-optimised from its neighbour with the same bounded least squares as the fit.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from degranulation.errors import DegranulationWarning, ModelError
from degranulation.estimation.optimise import optimize
from degranulation.estimation.problem import Problem
from degranulation.estimation.result import FitResult
from degranulation.parallel import as_completed
from degranulation.typing import Scheduler

if TYPE_CHECKING:
    import pint
    import xarray


@dataclass(frozen=True, kw_only=True)
class Profile:
    """One parameter's profile.

    Attributes
    ----------
    values : numpy.ndarray
        Parameter values (in ``unit``), increasing; the best estimate is among them.
    cost : numpy.ndarray
        Least cost over the other parameters at each value.
    ci_low, ci_high : float
        Interval ends in ``unit`` (a bound where the profile stays below the threshold).
    is_closed_low, is_closed_high : bool
        Whether the profile crossed the threshold on that side.
    """

    name: str
    unit: str
    values: np.ndarray
    cost: np.ndarray
    ci_low: float
    ci_high: float
    is_closed_low: bool
    is_closed_high: bool

    @property
    def is_identifiable(self) -> bool:
        """Both ends of the interval are set by the data, not by the bounds."""
        return self.is_closed_low and self.is_closed_high


@dataclass(frozen=True, kw_only=True)
class ProfileResult:
    """Profiles of the estimated parameters, their intervals and identifiability."""

    level: float
    threshold: float  # cost increase that bounds the interval
    cost: float  # the fit's cost
    profiles: dict[str, Profile]
    is_improved: bool  # some profile point had a lower cost than the fit

    @property
    def confidence_intervals(self) -> dict[str, tuple[pint.Quantity, pint.Quantity]]:
        """Profile-likelihood interval of each parameter, with units."""
        from degranulation.units import parse_unit, registry

        ureg = registry()
        return {
            name: (ureg.Quantity(p.ci_low, parse_unit(p.unit)), ureg.Quantity(p.ci_high, parse_unit(p.unit)))
            for name, p in self.profiles.items()
        }

    @property
    def non_identifiable(self) -> tuple[str, ...]:
        """Parameters whose profile stays below the threshold up to a bound."""
        return tuple(name for name, p in self.profiles.items() if not p.is_identifiable)

    def to_dataset(self) -> xarray.Dataset:
        """Profiles as a Dataset: ``<name>`` and ``<name>_cost`` along ``profile_point``
        (padded with NaN), the interval as ``<name>_ci`` along ``bound``."""
        import xarray as xr

        length = max(len(p.values) for p in self.profiles.values())
        variables: dict[str, Any] = {}
        for name, p in self.profiles.items():
            pad = length - len(p.values)
            attrs = {"units": p.unit, "is_identifiable": int(p.is_identifiable)}
            variables[name] = (("profile_point",), np.pad(p.values, (0, pad), constant_values=np.nan), attrs)
            variables[f"{name}_cost"] = (("profile_point",), np.pad(p.cost, (0, pad), constant_values=np.nan))
            variables[f"{name}_ci"] = (("bound",), [p.ci_low, p.ci_high], attrs)
        return xr.Dataset(
            variables,
            coords={"bound": ["low", "high"]},
            attrs={"level": self.level, "threshold": self.threshold, "cost": self.cost},
        )


def profile_likelihood(
    fit: FitResult,
    names: str | Sequence[str] | None = None,
    *,
    level: float = 0.95,
    max_steps: int = 30,
    workers: int = 1,
    scheduler: Scheduler = None,
) -> ProfileResult:
    """Trace the profile likelihood of fitted parameters and read off confidence intervals.

    Parameters
    ----------
    fit : FitResult
        A result of :func:`degranulation.fit`.
    names : str or sequence of str, optional
        The parameter, or parameters, to profile (default: all estimated ones).
    level : float
        Confidence level of the intervals.

    Returns
    -------
    ProfileResult

    Raises
    ------
    ModelError
        For a name the fit did not estimate (listing those it did).

    Other Parameters
    ----------------
    max_steps : int
        Most profile points on each side of the estimate.
    workers, scheduler
        Profile parameters in parallel, as :func:`degranulation.fit` runs its starts.

    Notes
    -----
    Noise constants that the fit estimated are held at their estimates.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.library import models_folder
    >>> data = models_folder() / "data" / "crosslinking_synthetic.csv"
    >>> result = dg.fit("ige_fceri_crosslinking", data, estimate=["kp1", "kp2"], n_starts=2, seed=1)
    >>> profiles = dg.profile_likelihood(result)
    >>> profiles.non_identifiable   # crosslinking is too fast for these data to time it
    ('kp2',)
    """
    from scipy.stats import chi2

    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    chosen = list(fit.names if names is None else [names] if isinstance(names, str) else names)
    unknown = [name for name in chosen if name not in fit.names]
    if unknown:
        raise ModelError(
            f"cannot profile {', '.join(map(repr, unknown))}: not estimated by this fit",
            location="names",
            hint=f"profile one or more of the estimated parameters: {', '.join(fit.names)}",
        )
    threshold = 0.5 * float(chi2.ppf(level, 1))
    steps = np.sqrt(np.diag(fit.covariance))
    jobs = [
        (
            fit.problem,
            fit.best,
            fit.cost,
            fit.names.index(name),
            threshold,
            float(steps[fit.names.index(name)]),
            max_steps,
        )
        for name in chosen
    ]
    traced = {
        profile.name: profile
        for _, (profile, _) in as_completed(_profile_job, jobs, workers=workers, scheduler=scheduler)
    }
    lowest = min((float(p.cost.min()) for p in traced.values()), default=fit.cost)
    is_improved = lowest < fit.cost - 1e-6 * max(1.0, fit.cost)
    if is_improved:
        warnings.warn(
            f"a profile found a lower cost ({lowest:.6g}) than the fit ({fit.cost:.6g}); "
            "the fit stopped at a local optimum: refit with more starts",
            DegranulationWarning,
            stacklevel=2,
        )
    return ProfileResult(
        level=level,
        threshold=threshold,
        cost=fit.cost,
        profiles={name: traced[name] for name in chosen},
        is_improved=is_improved,
    )


def _profile_job(job: tuple[Problem, np.ndarray, float, int, float, float, int]) -> tuple[Profile, None]:
    problem, best, cost, k, threshold, se, max_steps = job
    free = problem.free[k]
    lower, upper = free.bounds
    span = upper - lower
    first = 0.5 * se if math.isfinite(se) and se > 0 else span / 20
    first = min(max(first, span * 1e-4), span / 5)
    sides = [
        _side(problem, best, cost, k, direction, threshold, first, max_steps) for direction in (-1.0, 1.0)
    ]
    (low_phi, low_cost, low_end, low_closed), (high_phi, high_cost, high_end, high_closed) = sides
    phi = np.concatenate([low_phi[::-1], [best[k]], high_phi])
    costs = np.concatenate([low_cost[::-1], [cost], high_cost])
    to_unit = free.from_optimizer
    profile = Profile(
        name=free.name,
        unit=free.unit,
        values=to_unit(phi) / free.per_unit,
        cost=costs,
        ci_low=float(to_unit(low_end)) / free.per_unit,
        ci_high=float(to_unit(high_end)) / free.per_unit,
        is_closed_low=low_closed,
        is_closed_high=high_closed,
    )
    return profile, None


def _side(
    problem: Problem,
    best: np.ndarray,
    cost: float,
    k: int,
    direction: float,
    threshold: float,
    step: float,
    max_steps: int,
) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """Walk from the optimum in one direction until the cost rises by ``threshold`` or the
    bound is reached. Returns the points, their costs, the interval end and whether the
    threshold was crossed."""
    free = problem.free[k]
    bound = free.bounds[1] if direction > 0 else free.bounds[0]
    rest = np.delete(best, k)
    position, previous = float(best[k]), 0.0
    points: list[float] = []
    costs: list[float] = []
    smallest = (free.bounds[1] - free.bounds[0]) * 1e-9
    while len(points) < max_steps and abs(bound - position) > smallest:
        trial = position + direction * step
        trial = min(trial, bound) if direction > 0 else max(trial, bound)
        fixed = problem.fix(free.name, float(free.from_optimizer(trial)))
        result = optimize(fixed, rest)
        rise = result.cost - cost
        if rise - previous > threshold and step > abs(bound - best[k]) * 1e-4 and math.isfinite(rise):
            step /= 2  # overshot: come closer so the crossing is located finely
            continue
        points.append(trial)
        costs.append(result.cost)
        if rise > threshold:
            # √rise is linear in the parameter where the profile is quadratic, so interpolating
            # it between the bracketing points places the crossing exactly in that case.
            low, high = math.sqrt(max(previous, 0.0)), math.sqrt(rise)
            weight = (math.sqrt(threshold) - low) / (high - low) if high > low else 1.0
            return np.array(points), np.array(costs), position + weight * (trial - position), True
        if rise - previous < 0.1 * threshold:
            step *= 2
        position, previous, rest = trial, rise, result.final
    return np.array(points), np.array(costs), bound, False
