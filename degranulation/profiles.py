"""Deprecated: moved to :mod:`degranulation.estimation.profiles` (re-exports only)."""

import warnings

from degranulation.estimation.profiles import (
    Profile,
    ProfileResult,
    profile_likelihood,
)

warnings.warn(
    "degranulation.profiles moved to degranulation.estimation.profiles", DeprecationWarning, stacklevel=2
)

__all__ = [
    "Profile",
    "ProfileResult",
    "profile_likelihood",
]
