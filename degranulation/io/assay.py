"""Deprecated: moved to :mod:`degranulation.estimation.assay` (re-exports only)."""

import warnings

from degranulation.estimation.assay import (
    MAX_DATA_MAGNITUDE,
    AssayData,
    read_assay,
)

warnings.warn(
    "degranulation.io.assay moved to degranulation.estimation.assay", DeprecationWarning, stacklevel=2
)

__all__ = [
    "MAX_DATA_MAGNITUDE",
    "AssayData",
    "read_assay",
]
