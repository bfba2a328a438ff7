"""Deprecated: moved to :mod:`degranulation.estimation.petab` (re-exports only)."""

import warnings

from degranulation.estimation.petab import (
    NOISE_OFFSET,
    STEADY_STATE_TIME,
    PetabCondition,
    PetabProblem,
    PetabSimulation,
    read_petab,
)

warnings.warn(
    "degranulation.io.petab moved to degranulation.estimation.petab", DeprecationWarning, stacklevel=2
)

__all__ = [
    "NOISE_OFFSET",
    "STEADY_STATE_TIME",
    "PetabCondition",
    "PetabProblem",
    "PetabSimulation",
    "read_petab",
]
