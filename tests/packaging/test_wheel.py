"""The built wheel ships the model library and the typing marker, and works once unpacked.

The wheel is built offline with the installed hatchling (``--no-isolation``; both ``build``
and ``hatchling`` are in the ``test`` extra), then unpacked as an installer would do and
imported in a fresh interpreter with the source checkout out of reach.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.requires_build

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (path,) = out.glob("degranulation-*.whl")
    return path


def test_wheel_contains_the_model_library_and_py_typed(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert "degranulation/py.typed" in names
        assert "degranulation/models/ige_fceri_crosslinking.toml" in names
        for model in sorted((ROOT / "models").glob("*.toml")):
            packaged = f"degranulation/models/{model.name}"
            assert packaged in names, packaged
            assert archive.read(packaged) == model.read_bytes(), f"{packaged} differs from models/"
    assert not any(name.startswith(("tests/", "benchmarks/")) for name in names)


def test_unpacked_wheel_loads_its_bundled_model(wheel: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "site")
    script = (
        "import degranulation as dg, pathlib, sys\n"
        "assert pathlib.Path(dg.__file__).is_relative_to(sys.argv[1]), dg.__file__\n"
        "assert 'ige_fceri_crosslinking' in [m.id for m in dg.list_models()]\n"
        "print(len(dg.load_model('ige_fceri_crosslinking').reactions))\n"
    )
    # The unpacked wheel comes first on the path, ahead of the editable install of the checkout.
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "site")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"  # capture and crosslink (models/ige_fceri_crosslinking.toml)
