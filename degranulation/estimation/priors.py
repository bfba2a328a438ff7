"""Parameter priors (PEtab's ``objectivePriorType``) as least-squares residuals.

A fit minimises ``½ Σ r²``. A prior with density ``p`` adds ``−ln p(θ)`` to the objective,
which makes it a negative log-posterior. Least squares needs that term as ``½ r²`` with a real
``r``, so each prior contributes one residual

    r = √(2 (f(v) − f_min))

where ``f = −ln p`` (up to a constant), ``v`` is the parameter on the prior's scale and
``f_min`` the least ``f`` within the parameter's bounds. Normal priors use the exact linear
residual ``(v − μ)/σ`` instead. The gradient of the objective, ``r ∂r/∂v = f'(v)``, is exact
for every kind, also where ``r = 0``.

PEtab v1's types: ``uniform``, ``normal``, ``laplace``, ``logNormal``, ``logLaplace`` act on
the parameter's linear value, with ``log`` the natural logarithm; ``parameterScaleUniform``,
``parameterScaleNormal`` and ``parameterScaleLaplace`` act on the value on its
``parameterScale``, which is the optimiser's coordinate ``φ``. A uniform prior whose support
holds the bounds is a constant: it adds no residual.

Examples
--------
>>> import numpy as np
>>> prior = Prior("normal", 1.0, 0.5, scale="lin", lower=0.0, upper=10.0)
>>> r, dr = prior.residual(2.0)
>>> float(r), float(dr)
(2.0, 2.0)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from degranulation.errors import UnsupportedFeatureError

KINDS: Final = (
    "uniform",
    "normal",
    "laplace",
    "logNormal",
    "logLaplace",
    "parameterScaleUniform",
    "parameterScaleNormal",
    "parameterScaleLaplace",
)
Scale = Literal["lin", "log", "log10"]


@dataclass(frozen=True)
class Prior:
    """One parameter's objective prior.

    Parameters
    ----------
    kind : str
        One of PEtab's prior types (:data:`KINDS`).
    a, b : float
        The prior's two parameters as PEtab writes them (``objectivePriorParameters``, "a;b"):
        lower and upper bound for uniform priors, location and scale (σ, or the Laplace
        scale b) otherwise; for ``logNormal`` and ``logLaplace`` those of ``ln θ``.
    scale : {"lin", "log", "log10"}
        The parameter's ``parameterScale``: the optimiser works on this scale.
    lower, upper : float
        The parameter's bounds (linear values).
    """

    kind: str
    a: float
    b: float
    scale: Scale
    lower: float
    upper: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UnsupportedFeatureError(
                f"unknown prior type '{self.kind}' (PEtab 1 has {', '.join(KINDS)})",
                features=[f"objectivePriorType {self.kind}"],
            )
        if not (math.isfinite(self.a) and math.isfinite(self.b)):
            raise ValueError(f"{self.kind} prior parameters must be finite, not {self.a};{self.b}")
        if self.kind.endswith("Uniform") or self.kind == "uniform":
            low, high = self._bounds_on_prior_scale()
            if not (self.a <= low and high <= self.b):
                raise UnsupportedFeatureError(
                    f"a {self.kind} prior on [{self.a:g}, {self.b:g}] narrower than the parameter's "
                    "bounds: set the bounds to the prior's support",
                    features=[f"objectivePriorType {self.kind} narrower than the bounds"],
                )
        elif self.b <= 0:
            raise ValueError(f"the scale of a {self.kind} prior must be positive, not {self.b:g}")
        if self.kind.startswith("log") and self.lower < 0:
            raise ValueError(f"a {self.kind} prior needs a parameter >= 0; its lower bound is {self.lower:g}")
        if self.kind == "logLaplace" and self.b > 1 and self.lower <= 0:
            raise UnsupportedFeatureError(
                f"a logLaplace prior with scale {self.b:g} > 1 is unbounded at θ = 0, which least "
                "squares cannot hold: give the parameter a positive lower bound",
                features=["objectivePriorType logLaplace with scale > 1 and lower bound 0"],
            )

    @property
    def is_constant(self) -> bool:
        """Uniform priors containing the bounds add nothing to the objective."""
        return self.kind in ("uniform", "parameterScaleUniform")

    @property
    def is_normal(self) -> bool:
        """Normal priors on the prior scale: the residual is linear there."""
        return self.kind in ("normal", "parameterScaleNormal")

    def _bounds_on_prior_scale(self) -> tuple[float, float]:
        return self._prior_value(self.lower), self._prior_value(self.upper)

    def _prior_value(self, theta: float) -> float:
        """The parameter's value where the prior is defined (linear, or on its scale)."""
        if not self.kind.startswith("parameterScale"):
            return theta
        with np.errstate(divide="ignore"):
            if self.scale == "log":
                return float(np.log(theta))
            return float(np.log10(theta)) if self.scale == "log10" else theta

    def _f(self, v: float) -> tuple[float, float]:
        """``f(v) = −ln p(v)`` up to a constant, and ``f'(v)``."""
        kind = self.kind.removeprefix("parameterScale").lower()
        mu, s = self.a, self.b
        if kind == "normal":
            return 0.5 * ((v - mu) / s) ** 2, (v - mu) / s**2
        if kind == "laplace":
            return abs(v - mu) / s, float(np.sign(v - mu)) / s
        u = math.log(v) if v > 0 else -math.inf  # logNormal, logLaplace: u = ln θ, plus the ln θ Jacobian
        if kind == "lognormal":
            return u + 0.5 * ((u - mu) / s) ** 2, (1.0 + (u - mu) / s**2) / v
        return u + abs(u - mu) / s, (1.0 + float(np.sign(u - mu)) / s) / v

    @functools.cached_property
    def _f_min(self) -> float:
        """The least ``f`` within the bounds: at a bound or at a stationary point inside."""
        low, high = self._bounds_on_prior_scale()
        kind = self.kind.removeprefix("parameterScale").lower()
        mu, s = self.a, self.b
        inner = {
            "normal": [mu],
            "laplace": [mu],
            "lognormal": [math.exp(mu - s**2)],  # d/du [u + (u−μ)²/2s²] = 0
            "loglaplace": [math.exp(mu)],
        }[kind]
        positive = kind.startswith("log")  # f → +∞ at θ → 0 for the others of these kinds
        candidates = [c for c in (low, high, *inner) if low <= c <= high and math.isfinite(c)]
        values = [self._f(c)[0] for c in candidates if not (positive and c <= 0)]
        return min(values)

    def residual(self, phi: float) -> tuple[float, float]:
        """``r`` and ``∂r/∂φ`` at the optimiser coordinate ``φ`` (the parameter's scale)."""
        theta = _from_scale(phi, self.scale)
        v = self._prior_value(theta)
        dv_dphi = _d_prior_value(phi, theta, self.scale, self.kind.startswith("parameterScale"))
        if self.is_constant:
            return 0.0, 0.0
        if self.is_normal:
            return (v - self.a) / self.b, dv_dphi / self.b
        f, df = self._f(v)
        r = math.sqrt(max(2.0 * (f - self._f_min), 0.0))
        return r, (df * dv_dphi / r if r > 0 else 0.0)

    def negative_log_density(self, theta: float) -> float:
        """``−ln p(θ)`` with every constant, as PEtab and SciPy define the density."""
        v = self._prior_value(theta)
        kind = self.kind.removeprefix("parameterScale").lower()
        mu, s = self.a, self.b
        if kind == "uniform":
            return math.log(s - mu)
        if kind in ("normal", "lognormal"):
            return self._f(v)[0] + 0.5 * math.log(2 * math.pi * s**2)
        return self._f(v)[0] + math.log(2 * s)


def prior_residuals(
    priors: Sequence[Prior | None], phi: np.ndarray, *, jacobian: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """The residuals of the non-constant ``priors`` (one per free parameter, ``None`` for
    none) at optimiser coordinates ``φ``, and their Jacobian ``∂r/∂φ``."""
    rows = [k for k, prior in enumerate(priors) if prior is not None and not prior.is_constant]
    r = np.empty(len(rows))
    jac = np.zeros((len(rows), len(phi))) if jacobian else None
    for row, k in enumerate(rows):
        prior = priors[k]
        assert prior is not None
        r[row], slope = prior.residual(float(phi[k]))
        if jac is not None:
            jac[row, k] = slope
    return r, jac


def count(priors: Sequence[Prior | None]) -> int:
    """How many residuals :func:`prior_residuals` gives."""
    return sum(prior is not None and not prior.is_constant for prior in priors)


def _from_scale(phi: float, scale: Scale) -> float:
    if scale == "log":
        return math.exp(phi)
    return 10.0**phi if scale == "log10" else phi


def _d_prior_value(phi: float, theta: float, scale: Scale, on_scale: bool) -> float:
    """``∂v/∂φ``: 1 when the prior is on the parameter's scale, else ``∂θ/∂φ``."""
    if on_scale or scale == "lin":
        return 1.0
    return theta if scale == "log" else theta * math.log(10)
