"""The old module path degranulation.io.sweep_store warns and re-exports degranulation.sweeps.store."""

from __future__ import annotations

import importlib
import sys

import pytest

from degranulation.sweeps import store


def test_the_old_sweep_store_path_warns_and_re_exports(monkeypatch):
    monkeypatch.delitem(sys.modules, "degranulation.io.sweep_store", raising=False)
    with pytest.warns(
        DeprecationWarning, match="degranulation.io.sweep_store moved to degranulation.sweeps.store"
    ):
        old = importlib.import_module("degranulation.io.sweep_store")
    for name in old.__all__:
        assert getattr(old, name) is getattr(store, name)
    assert set(old.__all__) >= {"SweepStore", "checksum"}
