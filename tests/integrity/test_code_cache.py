"""The compiled-model cache runs generated code, so it is loaded only when it can be trusted:
a private folder (0700), entries owned by this user and writable by no one else, made for
their key and matching their checksum. Anything else is rebuilt, never run, never fatal
(issue 16)."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

import degranulation as dg
from degranulation import codegen, user_cache
from degranulation.errors import CacheWarning

MODEL = dg.load_model("ige_fceri_crosslinking")


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    """No model compiled in this process yet, and no folder warned about."""
    monkeypatch.setattr(codegen, "_MEMORY", {})
    monkeypatch.setattr(user_cache, "_WARNED", set())


@pytest.fixture
def entry(tmp_path):
    """A cache with one entry, for MODEL."""
    compiled = codegen.compile_model(MODEL, cache_dir=tmp_path / "cache")
    codegen._MEMORY.clear()
    return tmp_path / "cache" / f"{compiled.key}.npz"


def _compile_and_run(folder):
    """Compile (from the cache if it is trusted) and evaluate the right-hand side once."""
    codegen._MEMORY.clear()
    compiled = codegen.compile_model(MODEL, cache_dir=folder)
    fun, _ = compiled.functions(compiled.default_parameters)
    return compiled, fun(0.0, compiled.default_initial)


def _is_reused(entry, monkeypatch) -> bool:
    """Whether compiling MODEL now takes the entry as it is (no symbolic build)."""
    import degranulation.symbolic

    built = []
    original = degranulation.symbolic.build_system
    monkeypatch.setattr(degranulation.symbolic, "build_system", lambda m: built.append(m) or original(m))
    _compile_and_run(entry.parent)
    return not built


def test_the_folder_is_private_and_a_sound_entry_is_reused(entry, monkeypatch):
    assert stat.S_IMODE(entry.parent.stat().st_mode) == 0o700
    assert not stat.S_IMODE(entry.stat().st_mode) & 0o077
    assert _is_reused(entry, monkeypatch)
    assert not list(entry.parent.glob("*.tmp"))  # no temporary file left


@pytest.mark.parametrize("size", [0, 100, "half"])
def test_an_empty_or_truncated_entry_is_rebuilt(entry, monkeypatch, size):
    reference = _compile_and_run(entry.parent)[1]
    content = entry.read_bytes()
    entry.write_bytes(content[: len(content) // 2 if size == "half" else size])
    assert not _is_reused(entry, monkeypatch)
    np.testing.assert_array_equal(_compile_and_run(entry.parent)[1], reference)
    assert _is_reused(entry, monkeypatch)  # rebuilt whole


def _tamper(entry, marker):
    """Insert code into the entry's source (keeping its stated checksum) that leaves ``marker``."""
    with np.load(entry) as data:
        contents = {name: data[name] for name in data.files}
    meta = json.loads(str(contents["meta"]))
    meta["source"] = f"open({str(marker)!r}, 'w').close()\n" + meta["source"]
    contents["meta"] = np.array(json.dumps(meta, sort_keys=True))
    with entry.open("wb") as handle:
        np.savez(handle, **contents)


def test_a_tampered_entry_is_never_run(entry, tmp_path, monkeypatch):
    marker = tmp_path / "tampered-code-ran"
    _tamper(entry, marker)
    compiled, _ = _compile_and_run(entry.parent)
    assert not marker.exists()
    assert "tampered-code-ran" not in compiled.source
    assert _is_reused(entry, monkeypatch) and not marker.exists()  # replaced by a sound entry


def test_an_entry_made_for_another_key_is_not_used(entry, monkeypatch):
    other = entry.with_name("0" * 64 + ".npz")
    entry.rename(other)  # a sound entry, under another model's name
    assert codegen._read_cache(entry.parent, other.stem) is None


def test_a_world_writable_entry_is_ignored_with_one_warning(entry, tmp_path, monkeypatch):
    marker = tmp_path / "foreign-code-ran"
    _tamper(entry, marker)
    os.chmod(entry, 0o666)
    with pytest.warns(CacheWarning, match="writable by others"):
        _compile_and_run(entry.parent)
    assert not marker.exists()
    os.chmod(entry, 0o666)
    _compile_and_run(entry.parent)  # no second warning (pytest turns one into an error)
    assert not marker.exists()


def test_an_entry_of_another_user_is_ignored(entry, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "getuid", lambda: entry.stat().st_uid + 1)
    built = []
    original = codegen.compile_system
    monkeypatch.setattr(codegen, "compile_system", lambda *a, **k: built.append(1) or original(*a, **k))
    with pytest.warns(CacheWarning, match="owned by another user"):
        _compile_and_run(entry.parent)
    assert built  # rebuilt, not loaded


def test_code_generated_by_other_package_source_is_not_reused(entry, monkeypatch):
    """An editable install changed since the entry was made (same version, other code) misses:
    the entry's key no longer matches, so the model is built again, not run from stale code."""
    assert _is_reused(entry, monkeypatch)
    monkeypatch.setattr(codegen, "source_digest", lambda: "edited code generator")
    assert not _is_reused(entry, monkeypatch)
