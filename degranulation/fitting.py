"""Deprecated: moved to :mod:`degranulation.estimation` (re-exports only)."""

import warnings

from degranulation.estimation.measurements import (
    make_problem,
)
from degranulation.estimation.optimise import (
    DESIGNS,
    FAILED_RESIDUAL,
    MAX_STARTS,
    Design,
    fit,
    optimize,
    run_starts,
    start_points,
)
from degranulation.estimation.problem import (
    NOISE_MODELS,
    Condition,
    FitProblem,
    FreeParameter,
    NoiseModel,
    Prediction,
    Problem,
    Readout,
    half_squared_residuals,
    model_values,
    optimizer_bounds,
    parameter_names,
    with_noise_constants,
)
from degranulation.estimation.result import (
    DEFAULT_LEVEL,
    IDENTIFIABLE_DECADES,
    FitResult,
    StartResult,
    fisher_intervals,
    identifiability,
)

warnings.warn("degranulation.fitting moved to degranulation.estimation", DeprecationWarning, stacklevel=2)

__all__ = [
    "DEFAULT_LEVEL",
    "DESIGNS",
    "FAILED_RESIDUAL",
    "IDENTIFIABLE_DECADES",
    "MAX_STARTS",
    "NOISE_MODELS",
    "Condition",
    "Design",
    "FitProblem",
    "FitResult",
    "FreeParameter",
    "NoiseModel",
    "Prediction",
    "Problem",
    "Readout",
    "StartResult",
    "fisher_intervals",
    "fit",
    "half_squared_residuals",
    "identifiability",
    "make_problem",
    "model_values",
    "optimize",
    "optimizer_bounds",
    "parameter_names",
    "run_starts",
    "start_points",
    "with_noise_constants",
]
