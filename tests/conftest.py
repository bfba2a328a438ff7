"""Shared fixtures: paths to the reference data, small models, Hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
#: Reference data laid beside the checkout (../shared/reference), read-only.
REFERENCE = ROOT.parent / "shared" / "reference"

settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def reference() -> Path:
    """Folder of reference data (BioNetGen, SBML test suite, biology notes)."""
    if not REFERENCE.is_dir():
        pytest.fail(f"reference data missing at {REFERENCE}; it ships beside the checkout as shared/")
    return REFERENCE


@pytest.fixture
def write_model(tmp_path: Path):
    """Write model-file text to a temporary file and return its path."""

    def write(text: str, name: str = "model.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
