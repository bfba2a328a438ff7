"""The module paths the model layer moved from (issue 11) still work: each old path warns
that it moved and hands out the very objects of the new home."""

from __future__ import annotations

import importlib
import sys

import pytest


def _import_fresh(name: str, monkeypatch: pytest.MonkeyPatch):
    """Import ``name`` anew (an earlier import, e.g. by doctest collection, would not warn)."""
    monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.warns(DeprecationWarning, match=rf"{name} moved to degranulation\."):
        return importlib.import_module(name)


def test_io_model_file_moved_to_formats_toml_and_schema(monkeypatch):
    from degranulation import schema
    from degranulation.formats import toml

    old = _import_fresh("degranulation.io.model_file", monkeypatch)
    assert old.read_model is toml.read_model
    assert old.dumps_model is toml.dumps_model
    assert old.model_from_dict is schema.model_from_dict
    assert old.parse_steps is schema.parse_steps


def test_io_sbml_moved_to_formats_sbml(monkeypatch):
    from degranulation.formats import sbml

    old = _import_fresh("degranulation.io.sbml", monkeypatch)
    assert (old.read_sbml, old.write_sbml, old.import_sbml) == (
        sbml.read_sbml,
        sbml.write_sbml,
        sbml.import_sbml,
    )
    assert old.SbmlImport is sbml.SbmlImport


def test_io_bngnet_moved_to_formats_bngnet(monkeypatch):
    from degranulation.formats import bngnet

    old = _import_fresh("degranulation.io.bngnet", monkeypatch)
    assert (old.read_bngnet, old.loads_bngnet, old.read_gdat) == (
        bngnet.read_bngnet,
        bngnet.loads_bngnet,
        bngnet.read_gdat,
    )


def test_io_store_moved_to_store(monkeypatch):
    from degranulation import store

    old = _import_fresh("degranulation.io.store", monkeypatch)
    assert (old.save, old.load, old.json_text, old.FORMATS) == (
        store.save,
        store.load,
        store.json_text,
        store.FORMATS,
    )
