"""Deprecated: moved to :mod:`degranulation.estimation.checkpoint` (re-exports only)."""

import warnings

from degranulation.estimation.checkpoint import (
    RECORD_KEYS,
    StartStore,
    problem_fingerprint,
)

warnings.warn(
    "degranulation.io.fit_store moved to degranulation.estimation.checkpoint",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "RECORD_KEYS",
    "StartStore",
    "problem_fingerprint",
]
