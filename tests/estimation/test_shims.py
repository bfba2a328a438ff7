"""The old import paths of the estimation modules (before the move to
``degranulation.estimation``) still work: each warns once that it moved and re-exports the very
objects of its new home."""

from __future__ import annotations

import importlib
import sys

import pytest

import degranulation.estimation as estimation

#: old module → its new home (for ``degranulation.fitting``, the package re-exporting them all)
SHIMS = {
    "degranulation.fitting": "degranulation.estimation",
    "degranulation.profiles": "degranulation.estimation.profiles",
    "degranulation.io.assay": "degranulation.estimation.assay",
    "degranulation.io.fit_store": "degranulation.estimation.checkpoint",
    "degranulation.io.petab": "degranulation.estimation.petab",
}


def _home(new: str, name: str) -> object:
    """Where ``name`` is defined now: ``degranulation.fitting`` was split across several modules."""
    if new == "degranulation.estimation" and name not in estimation.__all__:
        for module in ("problem", "measurements", "result", "optimise"):
            found = importlib.import_module(f"degranulation.estimation.{module}")
            if hasattr(found, name):
                return getattr(found, name)
        raise AssertionError(f"{name} is in no module of degranulation.estimation")
    return getattr(importlib.import_module(new), name)


@pytest.mark.parametrize(("old", "new"), SHIMS.items())
def test_an_old_path_warns_and_re_exports(old: str, new: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, old, raising=False)  # a fresh import, so that it warns
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        shim = importlib.import_module(old)
    assert shim.__all__
    for name in shim.__all__:
        assert getattr(shim, name) is _home(new, name), name
