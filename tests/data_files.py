"""The reference data the tests carry: ``tests/data/``, one folder per source, each with a
README (where it came from, version, what was copied) and its licence. Nothing in the tests
reads outside the repository."""

from __future__ import annotations

import gzip
from pathlib import Path

#: tests/data: BioNetGen networks and trajectories, SBML Test Suite cases, EARM, PEtab cases.
DATA = Path(__file__).resolve().parent / "data"


def read_text(path: Path) -> str:
    """The text of ``path``, or of ``path.gz`` where only the compressed file is stored."""
    if path.is_file():
        return path.read_text(encoding="utf-8")
    return gzip.decompress(path.with_name(path.name + ".gz").read_bytes()).decode("utf-8")


def unpacked(path: Path, folder: Path) -> Path:
    """``path`` itself, or ``path.gz`` decompressed into ``folder`` (for readers that take a path)."""
    if path.is_file():
        return path
    target = folder / path.name
    target.write_text(read_text(path), encoding="utf-8")
    return target
