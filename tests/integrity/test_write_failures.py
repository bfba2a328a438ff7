"""A write that fails (a folder that takes no files, a full disk) is one line naming the path,
exit 1, and leaves no partial file behind; a file is replaced only once its new content is on
disk (issue 16)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

import degranulation as dg
from degranulation.cli import main
from degranulation.errors import DataError

ROOT = Path(__file__).resolve().parents[2]
SIMULATE = ["simulate", "ige_fceri_crosslinking", "--t-end", "1min", "--points", "3"]
SWEEP = ["sweep", "ige_fceri_crosslinking", "--vary", "L", "--values", "1e4molecule,1e6molecule",
         "--at", "1min", "--observe", "RecDim"]  # fmt: skip


def _unwritable(tmp_path, kind):
    """A destination folder that refuses new files: read-only, or in fact a file."""
    if kind == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    return blocker


def _leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if ".partial" in p.name)


@pytest.mark.parametrize("kind", ["read-only", "not-a-folder"])
@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["convert", "ige_fceri_crosslinking"], "m.toml"),
        (["convert", "ige_fceri_crosslinking"], "m.xml"),
        ([*SIMULATE, "-o"], "run.csv"),
        ([*SIMULATE, "-o"], "run.nc"),
        ([*SWEEP, "-o"], "dr.nc"),
    ],
)
def test_writing_into_a_place_that_takes_no_files(tmp_path, capsys, kind, argv, name):
    target = _unwritable(tmp_path, kind) / name
    code = main([*argv, str(target)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(target.parent) in err


@pytest.mark.parametrize("kind", ["read-only", "not-a-folder"])
def test_a_plot_that_cannot_be_written(tmp_path, capsys, kind):
    target = _unwritable(tmp_path, kind) / "dr.png"
    code = main([*SWEEP, "-o", str(tmp_path / "dr.nc"), "--plot", str(target)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.splitlines()[-1].startswith(f"degranulation: error: cannot write '{target}'")
    assert "Traceback" not in err and not _leftovers(tmp_path)


@pytest.mark.parametrize("name", ["run.csv", "run.nc", "run.json"])
def test_a_full_disk_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch, capsys, name):
    target = tmp_path / name
    target.write_text("old result")

    def full(descriptor):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)  # the data reach the disk at fsync: it is full
    code = main([*SIMULATE, "-o", str(target)])
    err = capsys.readouterr().err
    assert code == 1
    assert err == f"degranulation: error: cannot write '{target}': No space left on device\n"
    assert target.read_text() == "old result" and not _leftovers(tmp_path)


def test_results_are_on_disk_before_they_replace_the_old_file(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append("replace") or real_replace(a, b))
    dg.save(dg.simulate("ige_fceri_crosslinking", t="1 min", points=3), tmp_path / "run.nc")
    assert events == ["fsync", "replace", "fsync"]  # the file, the rename, the folder's entry


def test_save_names_the_path_it_cannot_write(tmp_path):
    ds = dg.simulate("ige_fceri_crosslinking", t="1 min", points=3)
    target = tmp_path / "a-folder.csv"
    target.mkdir()
    with pytest.raises(DataError, match=f"cannot write '{target}'"):
        dg.save(ds, target)
    assert not _leftovers(tmp_path)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_csv_to_standard_output_on_a_full_device():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with open("/dev/full", "w") as full:
        run = subprocess.run(
            [sys.executable, "-m", "degranulation", *SIMULATE],
            stdout=full, stderr=subprocess.PIPE, text=True, env=env, timeout=120,
        )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert run.stderr == "degranulation: error: cannot write 'standard output': No space left on device\n"
