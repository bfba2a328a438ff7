"""The validated-model cache (issue 13): a model file read again is not validated again, unless
its content changed; entries are private data files; a damaged one is reported and rebuilt,
never trusted and never fatal."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

import degranulation as dg
from degranulation import checked, user_cache, validation
from degranulation.errors import CacheWarning, ModelValidationError, ModelWarning, UnusedName
from degranulation.library import model_path

BUNDLED = model_path("ige_fceri_crosslinking").read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    """Nothing validated in this process yet, and no folder warned about."""
    monkeypatch.setattr(checked, "_MEMORY", {})
    monkeypatch.setattr(user_cache, "_WARNED", set())


@pytest.fixture
def runs(monkeypatch):
    """The models validation really ran on (a cache hit adds none)."""
    checked_models = []
    original = validation.find_issues
    monkeypatch.setattr(validation, "find_issues", lambda m: checked_models.append(m) or original(m))
    return checked_models


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.toml"
    path.write_text(BUNDLED, encoding="utf-8")
    return path


def load_fresh(path, cache):
    """load_model as a new process would: nothing remembered in memory."""
    checked._MEMORY.clear()
    return dg.load_model(path, cache_dir=cache)


def entries(cache):
    return sorted(cache.glob("*.json"))


def test_a_model_read_again_is_not_validated_again(model_file, tmp_path, runs):
    cache = tmp_path / "cache"
    first = load_fresh(model_file, cache)
    assert len(runs) == 1
    (entry,) = entries(cache)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert not stat.S_IMODE(entry.stat().st_mode) & 0o077
    again = load_fresh(model_file, cache)
    assert len(runs) == 1  # from the cache
    assert again.content_hash == first.content_hash
    load_fresh(model_file, cache)
    dg.simulate(again, t="1 min", points=2, cache_dir=cache)  # simulate's own check: a hit too
    assert len(runs) == 1


def test_a_changed_model_file_is_validated_again(model_file, tmp_path, runs):
    cache = tmp_path / "cache"
    load_fresh(model_file, cache)
    negative = BUNDLED.replace('value = "2.5e-4 1/(molecule*s)"', 'value = "-2.5e-4 1/(molecule*s)"')
    model_file.write_text(negative)
    for _ in range(2):  # errors are never stored: checked each time
        with pytest.raises(ModelValidationError) as caught:
            load_fresh(model_file, cache)
        assert [issue.location for issue in caught.value.issues] == ["parameters.kp2.value"]
    assert len(runs) == 3 and len(entries(cache)) == 1


def test_different_content_is_a_miss_and_a_comment_is_not(model_file, tmp_path, runs):
    cache = tmp_path / "cache"
    load_fresh(model_file, cache)
    model_file.write_text(BUNDLED + "\n# a comment changes the file, not the model\n", encoding="utf-8")
    load_fresh(model_file, cache)
    assert len(runs) == 1
    model_file.write_text(BUNDLED.replace('"4e5 molecule"', '"5e5 molecule"'), encoding="utf-8")
    assert load_fresh(model_file, cache).species[1].initial.value == 5e5
    assert len(runs) == 2 and len(entries(cache)) == 2


def test_warnings_are_reported_again_from_the_cache(model_file, tmp_path, runs):
    cache = tmp_path / "cache"
    text = BUNDLED.replace("[parameters]\n", '[parameters]\nk_unused = { value = "1 1/s" }\n')
    model_file.write_text(text, encoding="utf-8")
    reported = []
    for _ in range(2):
        with pytest.warns(ModelWarning, match="k_unused") as caught:
            load_fresh(model_file, cache)
        reported.append([str(w.message) for w in caught])
        issues = checked.find_issues(dg.load_model(model_file, validate=False), cache_dir=cache)
        assert [type(i) for i in issues] == [UnusedName]
        assert issues[0].file == str(model_file) and issues[0].code == "N301"
    assert len(runs) == 1
    assert reported[0] == reported[1]


def test_a_change_to_the_package_is_a_miss(model_file, tmp_path, runs, monkeypatch):
    cache = tmp_path / "cache"
    load_fresh(model_file, cache)
    monkeypatch.setattr(checked, "source_digest", lambda: "edited checks")
    load_fresh(model_file, cache)
    assert len(runs) == 2


RECORD = {"kind": "UnusedName", "code": "N301", "severity": "warning", "location": "parameters.k"}
RECORD |= {"column": None, "message": "unused", "hint": None}


def forged(text, records):
    """The entry with other records and a checksum that matches them."""
    entry = json.loads(text)
    return json.dumps({**entry, "issues": records, "checksum": checked._checksum(records)})


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: "",
        lambda text: text[: len(text) // 2],
        lambda text: "\xff\xfe not json",
        lambda text: text.replace('"issues": []', '"issues": [1]'),
        lambda text: forged(text, [{"kind": "os.system"}]),
        lambda text: forged(text, [{**RECORD, "severity": "fatal"}]),
        lambda text: forged(text, [{**RECORD, "column": "3"}]),
        lambda text: forged(text, "no list"),
    ],
)
def test_a_damaged_entry_is_rebuilt_with_a_warning(model_file, tmp_path, runs, damage):
    cache = tmp_path / "cache"
    load_fresh(model_file, cache)
    (entry,) = entries(cache)
    entry.write_text(damage(entry.read_text()), encoding="utf-8", errors="surrogateescape")
    with pytest.warns(CacheWarning, match="damaged"):
        load_fresh(model_file, cache)
    assert len(runs) == 2
    load_fresh(model_file, cache)  # rebuilt whole: no warning, no validation
    assert len(runs) == 2


def test_an_entry_that_hides_an_error_is_not_trusted(model_file, tmp_path, runs):
    """A valid model's entry copied under the key of a model with errors is another key's."""
    cache = tmp_path / "cache"
    load_fresh(model_file, cache)
    (entry,) = entries(cache)
    model_file.write_text(BUNDLED.replace('"1.4 pL"', '"-1.4 pL"'), encoding="utf-8")
    bad = dg.load_model(model_file, validate=False)
    checked._MEMORY.clear()
    with pytest.raises(ModelValidationError):
        checked.validate(bad, cache_dir=False)
    key = next(iter(checked._MEMORY))
    entry.rename(cache / f"{key}.json")
    with pytest.warns(CacheWarning, match="damaged"), pytest.raises(ModelValidationError) as caught:
        load_fresh(model_file, cache)
    assert [issue.code for issue in caught.value.issues] == ["V402"]


def test_an_entry_writable_by_others_is_ignored(model_file, tmp_path, runs):
    cache = tmp_path / "cache"
    load_fresh(model_file, cache)
    (entry,) = entries(cache)
    os.chmod(entry, 0o666)
    with pytest.warns(CacheWarning, match="writable by others"):
        load_fresh(model_file, cache)
    assert len(runs) == 2


def test_no_disk_cache_when_disabled(model_file, tmp_path, runs):
    cache = tmp_path / "cache"
    load_fresh(model_file, False)
    load_fresh(model_file, False)
    assert len(runs) == 2 and not cache.exists()


@pytest.mark.parametrize("model", ["ige_fceri_crosslinking", "harmon2017_fceri_degranulation"])
def test_a_fresh_run_with_filled_caches_does_not_import_sympy(tmp_path, model):
    """What the cache is for: the CLI's usual run reads, solves and writes without SymPy (the
    second model has a default protocol, whose steps are checked without it too)."""
    script = (
        "import sys\n"
        "from degranulation.cli import main\n"
        f"code = main(['simulate', {model!r}, '--t-end', '1min', '--points', '2', '-o', '-'])\n"
        "print(code, 'sympy' in sys.modules, file=sys.stderr)\n"
    )
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    outcomes = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
        )
        assert done.returncode == 0, done.stderr
        outcomes.append((done.stderr.split()[-2:], done.stdout))
    assert outcomes[0][0] == ["0", "True"]  # the first run validates and compiles
    assert outcomes[1][0] == ["0", "False"]
    assert outcomes[1][1] == outcomes[0][1]  # the same numbers
