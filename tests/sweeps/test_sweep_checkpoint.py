"""Sweep chunks (``dr.nc.parts/chunk-N.nc``) have integrity: each names its chunk and sweep
and carries a checksum, so a stray file, a chunk copied over another or an altered one is
reported instead of resumed silently; the folder goes only once ``dr.nc`` is on disk (issue 16)."""

from __future__ import annotations

import shutil

import pytest
import xarray as xr

import degranulation as dg
from degranulation.cli import main
from degranulation.errors import DataError
from degranulation.sweeps.store import SweepStore

DOSES = ["1e4 molecule", "1e5 molecule", "1e6 molecule", "1e7 molecule"]
OPTIONS = {"vary": "L", "doses": DOSES, "observe": "RecDim", "at": "10 min", "batch": 2}  # two chunks


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """The chunk folder of a sweep that stopped before writing its result, and the full result."""
    folder = tmp_path_factory.mktemp("sweep")
    complete = dg.dose_response("ige_fceri_crosslinking", output=folder / "dr.nc", **OPTIONS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SweepStore, "finish", lambda self, result: None)  # killed before the end
        dg.dose_response("ige_fceri_crosslinking", output=folder / "stopped.nc", **OPTIONS)
    parts = folder / "stopped.nc.parts"
    assert sorted(p.name for p in parts.glob("chunk-*.nc")) == ["chunk-000000.nc", "chunk-000001.nc"]
    return parts, complete


@pytest.fixture
def parts(interrupted, tmp_path):
    return shutil.copytree(interrupted[0], tmp_path / "dr.nc.parts")


def _resume(parts):
    return dg.dose_response("ige_fceri_crosslinking", output=parts.parent / "dr.nc", resume=True, **OPTIONS)


def test_an_intact_folder_resumes_to_the_same_result(parts, interrupted):
    resumed = _resume(parts)
    xr.testing.assert_identical(
        resumed["RecDim"].pint.dequantify(), interrupted[1]["RecDim"].pint.dequantify()
    )
    assert not parts.exists()


def test_a_stray_chunk_file_is_a_clean_error(parts):
    (parts / "chunk-abc.nc").write_bytes(b"not a chunk")
    with pytest.raises(DataError, match=r"chunk-abc\.nc' is not a chunk file of this sweep"):
        _resume(parts)


def test_a_stray_chunk_file_is_exit_1_in_the_cli(tmp_path, monkeypatch, capsys):
    argv = ["sweep", "ige_fceri_crosslinking", "--vary", "L", "--values", "1e4molecule,1e5molecule",
            "--at", "10min", "--observe", "RecDim", "--batch", "1",
            "-o", str(tmp_path / "dr.nc")]  # fmt: skip
    with monkeypatch.context() as patch:
        patch.setattr(SweepStore, "finish", lambda self, result: None)  # killed before the end
        assert main(argv) == 0
    (tmp_path / "dr.nc.parts" / "chunk-abc.nc").write_bytes(b"")
    capsys.readouterr()
    code = main([*argv, "--resume"])
    err = capsys.readouterr().err
    assert code == 1, err  # a data error, not 2 ("usage")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "chunk-abc.nc' is not a chunk file of this sweep" in err


def test_a_chunk_copied_over_another_is_refused(parts):
    shutil.copy(parts / "chunk-000000.nc", parts / "chunk-000001.nc")
    with pytest.raises(DataError, match=r"chunk-000001\.nc' holds chunk 0, not chunk 1"):
        _resume(parts)


def test_an_altered_chunk_fails_its_checksum(parts):
    path = parts / "chunk-000001.nc"
    with xr.open_dataset(path) as opened:
        part = opened.load()
    part["RecDim"] = part["RecDim"] * 2
    path.unlink()
    part.to_netcdf(path)
    with pytest.raises(DataError, match=r"chunk-000001\.nc' does not match its checksum"):
        _resume(parts)


def test_a_chunk_of_another_sweep_is_refused(parts, tmp_path):
    other = dict(OPTIONS, doses=["2e4 molecule", "2e5 molecule", "2e6 molecule", "2e7 molecule"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SweepStore, "finish", lambda self, result: None)
        dg.dose_response("ige_fceri_crosslinking", output=tmp_path / "other.nc", **other)
    shutil.copy(tmp_path / "other.nc.parts" / "chunk-000001.nc", parts / "chunk-000001.nc")
    with pytest.raises(DataError, match=r"chunk-000001\.nc' belongs to another sweep"):
        _resume(parts)


def test_the_chunks_outlive_a_failed_write_of_the_result(parts, interrupted):
    (parts.parent / "dr.nc").mkdir()  # the result cannot be written: a folder is in the way
    with pytest.raises(DataError, match="cannot write"):
        _resume(parts)
    assert len(list(parts.glob("chunk-*.nc"))) == 2
    assert not list(parts.parent.glob(".*partial"))  # no half-written file left behind
    (parts.parent / "dr.nc").rmdir()
    _resume(parts)
    assert (parts.parent / "dr.nc").exists() and not parts.exists()
