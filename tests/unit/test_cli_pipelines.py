"""The command line in pipelines: results on stdout, strict JSON, --version, solver names in any
case, missing optional extras reported before any work, and warnings kept off stderr."""

from __future__ import annotations

import json
import sys
import warnings

import pytest

import degranulation as dg
import degranulation.estimation.optimise
import degranulation.simulation
import degranulation.sweeps
from degranulation.cli import main
from degranulation.errors import ModelWarning
from degranulation.solvers import SOLVERS

SIMULATE = ["simulate", "ige_fceri_crosslinking", "--t-end", "1min", "--points", "3"]


def _reject_constant(name):
    raise ValueError(f"not strict JSON: {name}")


def strict(text: str):
    """Parse JSON the way strict parsers do: NaN and Infinity are errors."""
    return json.loads(text, parse_constant=_reject_constant)


def test_results_go_to_stdout_as_csv_or_json(capsys):
    assert main([*SIMULATE, "-o", "-"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("time [s],L [molecule]") and len(rows) == 4
    assert main([*SIMULATE, "-o", "-", "--format", "json"]) == 0
    payload = strict(capsys.readouterr().out)
    assert payload["time"]["unit"] == "s" and payload["time"]["values"] == [0.0, 30.0, 60.0]
    assert payload["time"]["dims"] == ["time"]
    # The same numbers as the CSV (both written from one dataset, full precision).
    assert payload["variables"]["L"]["values"] == [float(row.split(",")[1]) for row in rows[1:]]


@pytest.mark.parametrize(
    "arguments", [["-o", "-", "--format", "nc"], ["-o", "run.csv", "--format", "json"], ["-o", "run.txt"]]
)
def test_impossible_outputs_are_usage_errors(capsys, arguments):
    assert main([*SIMULATE, *arguments]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    if "nc" in arguments:
        assert "NetCDF cannot be written to stdout" in err


def test_json_files_are_strict(tmp_path, capsys):
    path = tmp_path / "run.json"
    assert main([*SIMULATE, "-o", str(path)]) == 0
    payload = strict(path.read_text())
    # Provenance is JSON text inside the file; an unlimited max_step was written as Infinity.
    solver = strict(payload["attrs"]["solver"])
    assert solver["method"] == "LSODA" and solver["max_step"] is None  # the default for 8 species


def test_validate_json_is_strict(capsys):
    assert main(["validate", "ige_fceri_crosslinking", "--format", "json"]) == 0
    assert strict(capsys.readouterr().out)[0]["errors"] == 0


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"degranulation {dg.__version__}"


def test_solver_names_in_any_case_and_help_lists_every_solver(capsys):
    assert main(["simulate", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert all(name in help_text for name in SOLVERS) and "CVODE" in help_text
    assert "exit codes:" in help_text and "4 a sweep in which no point succeeded" in help_text
    assert main([*SIMULATE, "--solver", "lsoda"]) == 0
    lower = capsys.readouterr().out
    assert main([*SIMULATE, "--solver", "LSODA"]) == 0
    assert capsys.readouterr().out == lower
    assert main([*SIMULATE, "--solver", "euler"]) == 2
    assert "unknown solver 'euler'; expected one of BDF, Radau, LSODA, CVODE" in capsys.readouterr().err


def test_cvode_by_its_lower_case_name(capsys):
    pytest.importorskip("sksundae")
    assert main([*SIMULATE, "--solver", "cvode"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("time [s],L [molecule]") and len(rows) == 4


@pytest.fixture
def no_work(monkeypatch):
    """Make every computation fail loudly: a missing extra must be reported before any of it."""

    def forbidden(*args, **kwargs):
        raise AssertionError("computed before checking the optional extras")

    monkeypatch.setattr(degranulation.simulation, "simulate", forbidden)
    monkeypatch.setattr(degranulation.sweeps, "dose_response", forbidden)
    monkeypatch.setattr(degranulation.estimation.optimise, "fit", forbidden)


SWEEP = [
    "sweep",
    "ige_fceri_crosslinking",
    "--vary",
    "L",
    "--values",
    "1e3molecule,1e6molecule",
    "--at",
    "1min",
]


@pytest.mark.parametrize(
    ("missing", "arguments", "extra"),
    [
        ("matplotlib", [*SWEEP, "-o", "dr.nc", "--plot", "dr.png"], "plot"),
        ("distributed", [*SWEEP, "-o", "dr.nc", "--scheduler", "tcp://127.0.0.1:1"], "dask"),
        ("sksundae", [*SIMULATE, "--solver", "CVODE"], "sundials"),
        (
            "matplotlib",
            ["fit", "ige_fceri_crosslinking", "a.csv", "--estimate", "kp1", "--plot", "f.png"],
            "plot",
        ),
    ],
)
def test_missing_extras_are_reported_before_any_work(
    monkeypatch, tmp_path, capsys, no_work, missing, arguments, extra
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, missing, None)  # `import missing` now raises ImportError
    assert main(arguments) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert f"pip install 'degranulation[{extra}]'" in err


def test_a_broken_netcdf_engine_is_reported_before_any_work(monkeypatch, tmp_path, capsys, no_work):
    import xarray as xr

    def no_engine(*args, **kwargs):
        raise ImportError("No module named 'h5py'")  # as h5netcdf >= 1.8 without h5py did

    monkeypatch.setattr(xr.Dataset, "to_netcdf", no_engine)
    assert main([*SIMULATE, "-o", str(tmp_path / "run.nc")]) == 2
    err = capsys.readouterr().err
    assert "No module named 'h5py'" in err and "pip install 'degranulation[netcdf]'" in err


def _warning_simulate(original):
    def simulate(*args, **kwargs):
        warnings.warn("overflow encountered in exp", RuntimeWarning, stacklevel=1)  # as generated code
        warnings.warn("parameter 'km1' is negative\n  (a rate constant)", ModelWarning, stacklevel=1)
        return original(*args, **kwargs)

    return simulate


def test_warnings_are_one_line_and_python_ones_only_with_verbose(monkeypatch, capsys):
    monkeypatch.setattr(
        degranulation.simulation, "simulate", _warning_simulate(degranulation.simulation.simulate)
    )
    assert main(SIMULATE) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == ["degranulation: warning: parameter 'km1' is negative; (a rate constant)"]
    assert main([*SIMULATE, "-v"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith(
        "degranulation: warning: RuntimeWarning: overflow encountered in exp ("
    )
    assert not any("warnings.warn" in line for line in err)  # never the source-line form
