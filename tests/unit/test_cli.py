"""The command line: listing, showing, validating and simulating, with files out."""

from __future__ import annotations

import json

import pytest

import degranulation as dg
from degranulation.cli import main


def test_models_lists_the_library(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ige_fceri_crosslinking") or "ige_fceri_crosslinking" in out


def test_models_show(capsys):
    assert main(["models", "show", "ige_fceri_crosslinking"]) == 0
    out = capsys.readouterr().out
    assert "kp1" in out and "1/(molecule*s)" in out and "doi:10.4049/jimmunol.170.7.3769" in out


def test_validate_json(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "x"\n[parameters]\nk = "1 1/ss"\n')
    assert main(["validate", "ige_fceri_crosslinking", str(bad), "--format", "json"]) == 1
    reports = json.loads(capsys.readouterr().out)
    assert [r["errors"] for r in reports] == [0, 1]
    assert reports[1]["issues"][0]["code"] == "U104"
    assert reports[1]["issues"][0]["location"] == "parameters.k.value"


def test_simulate_writes_each_format(tmp_path, capsys):
    for suffix in (".nc", ".csv", ".json"):
        path = tmp_path / f"run{suffix}"
        args = [
            "simulate",
            "ige_fceri_crosslinking",
            "--set",
            "kp2=5e-4/molecule/s",
            "--set",
            "L=3e6molecule",
            "--t-end",
            "2min",
            "--points",
            "3",
            "-o",
            str(path),
        ]
        assert main(args) == 0
        assert path.stat().st_size > 0
    ds = dg.load(tmp_path / "run.nc")
    assert ds.sizes["time"] == 3
    assert ds["L"].pint.magnitude[0] == pytest.approx(3e6)
    assert json.loads(ds.attrs["parameters"])["kp2"] == "0.0005 1/molecule/s"
    assert capsys.readouterr().err == ""


def test_simulate_to_stdout(capsys):
    assert (
        main(
            [
                "simulate",
                "ige_fceri_crosslinking",
                "--t-end",
                "1min",
                "--points",
                "2",
                "--solver",
                "LSODA",
                "--rtol",
                "1e-8",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("time [s],L [molecule]")
    assert len(lines) == 3


def test_atol_takes_a_number_or_an_amount(capsys):
    args = ["simulate", "ige_fceri_crosslinking", "--t-end", "1min", "--points", "2"]
    assert main([*args, "--atol", "1e-3molecule"]) == 0
    assert main([*args, "--atol", "1e-3"]) == 0
    capsys.readouterr()
    assert main([*args, "--atol", "1s"]) == 2
    assert "atol: '1s' is [time]" in capsys.readouterr().err


def test_simulate_a_model_file_with_a_protocol(tmp_path, capsys):
    model = dg.load_model("ige_fceri_crosslinking")
    from degranulation.network import Protocol, Step, UnitValue

    washout = Protocol("washout", (Step(UnitValue(1, "min"), "set", "L", UnitValue(0, "molecule")),))
    path = dg.write_model(
        model.replace(protocols=(washout,), default_protocol="washout"), tmp_path / "m.toml"
    )
    assert main(["simulate", str(path), "--t-end", "2min", "--points", "3"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert float(rows[2].split(",")[1]) == 0.0  # L washed out at 1 min
    assert main(["simulate", str(path), "--t-end", "2min", "--points", "3", "--protocol", "none"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert float(rows[2].split(",")[1]) > 0.0
