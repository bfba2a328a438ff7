"""Moved to :mod:`degranulation.sweeps.store`; this path re-exports it, with a DeprecationWarning."""

import warnings

from degranulation.sweeps.store import CHUNK_NAME, SPEC_FILE, SweepStore, checksum

warnings.warn(
    "degranulation.io.sweep_store moved to degranulation.sweeps.store", DeprecationWarning, stacklevel=2
)

__all__ = ["CHUNK_NAME", "SPEC_FILE", "SweepStore", "checksum"]
