"""``degranulation simulate MODEL --scenarios FILE`` (issue 13): one process, one result with a
``scenario`` dimension holding the numbers of separate ``simulate --set`` runs (the reference);
bad scenario files are usage errors (exit 2) in one line naming the file, row and column;
exit 4 when no scenario succeeded, as a sweep with no successful point."""

from __future__ import annotations

import json

import numpy as np
import pytest

import degranulation as dg
from degranulation.cli import main

MODEL = "ige_fceri_crosslinking"
RUN = ["--t-end", "2min", "--points", "4"]
CSV = "scenario,L [molecule],kp2\nlow_dose,1e5,\nfast_dimers,3e6,5e-4/molecule/s\n"


@pytest.fixture
def scenario_file(tmp_path):
    path = tmp_path / "scenarios.csv"
    path.write_text(CSV)
    return path


def test_a_batch_file_holds_the_numbers_of_separate_runs(tmp_path, scenario_file, capsys):
    common = ["--set", "km2=0.02/s"]
    assert (
        main(
            [
                "simulate",
                MODEL,
                "--scenarios",
                str(scenario_file),
                *common,
                *RUN,
                "-o",
                str(tmp_path / "b.nc"),
            ]
        )
        == 0
    )
    batch = dg.load(tmp_path / "b.nc")
    separate = {
        "low_dose": ["--set", "L=1e5molecule"],
        "fast_dimers": ["--set", "L=3e6molecule", "--set", "kp2=5e-4/molecule/s"],
    }
    for name, settings in separate.items():
        out = tmp_path / f"{name}.nc"
        assert main(["simulate", MODEL, *common, *settings, *RUN, "-o", str(out)]) == 0
        alone = dg.load(out)
        for variable in alone.data_vars:
            np.testing.assert_allclose(
                batch[variable].sel(scenario=name).pint.magnitude,
                alone[variable].pint.magnitude,
                rtol=1e-8,
                atol=0,
            )
    assert batch["status"].values.tolist() == ["ok", "ok"]
    assert capsys.readouterr().err == ""


def test_a_batch_to_stdout_as_csv_or_json(scenario_file, capsys):
    assert main(["simulate", MODEL, "--scenarios", str(scenario_file), *RUN, "-o", "-"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("scenario,time [s],L_initial [molecule],kp2 [1/molecule/s],L [molecule]")
    assert (
        len(rows) == 1 + 2 * 4 and rows[1].startswith("low_dose,0.0,") and rows[-1].startswith("fast_dimers,")
    )
    assert (
        main(["simulate", MODEL, "--scenarios", str(scenario_file), *RUN, "-o", "-", "--format", "json"]) == 0
    )
    payload = json.loads(capsys.readouterr().out)
    assert payload["variables"]["RecDim"]["dims"] == ["scenario", "time"]
    assert payload["coords"]["scenario"]["values"] == ["low_dose", "fast_dimers"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("scenario,kp9\na,1/s\n", "line 2, column 'kp9': model 'ige_fceri_crosslinking' has no parameter"),
        ("scenario,L\na,1e5 s\n", "line 2, column 'L': '100000.0 s' is [time]"),
        ("scenario,L [molecule]\na,1e5 parsecs\n", "line 2, column 'L'"),
        ("", "the scenario file is empty"),
        ("scenario,L\na,1e5 molecule\na,1e6 molecule\n", "line 3: scenario name 'a' is used again"),
    ],
)
def test_bad_scenario_files_are_one_line_usage_errors(tmp_path, capsys, text, words):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    assert main(["simulate", MODEL, "--scenarios", str(path), *RUN]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"degranulation: error: {path}: " in err and words in err, err


def test_a_missing_scenario_file_is_a_usage_error(tmp_path, capsys):
    assert main(["simulate", MODEL, "--scenarios", str(tmp_path / "none.json"), *RUN]) == 2
    assert "cannot read the scenario file" in capsys.readouterr().err


def test_failed_scenarios_exit_0_if_some_succeeded_and_4_if_none(tmp_path, capsys):
    path = tmp_path / "s.json"
    failing = {"scenario": "bad", "kp1": "1e150 1/(molecule*s)"}
    path.write_text(json.dumps([failing, {"scenario": "good"}]))
    assert main(["simulate", MODEL, "--scenarios", str(path), *RUN, "-o", str(tmp_path / "r.json")]) == 0
    assert "1 of 2 scenario(s) failed" in capsys.readouterr().err
    result = dg.load(tmp_path / "r.json")
    assert result["status"].values.tolist() == ["failed", "ok"]
    path.write_text(json.dumps([failing]))
    assert main(["simulate", MODEL, "--scenarios", str(path), *RUN, "-o", str(tmp_path / "r.json")]) == 4
    assert "no scenario succeeded (1 failed); the first: solver failed" in capsys.readouterr().err


def test_an_interrupted_batch_resumes_with_resume(tmp_path, scenario_file, monkeypatch, capsys):
    from degranulation import simulation

    output = tmp_path / "b.nc"
    command = ["simulate", MODEL, "--scenarios", str(scenario_file), *RUN, "-o", str(output)]
    assert main([*command[:-2], "-o", str(tmp_path / "whole.nc")]) == 0
    run = simulation.Setup.run

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(simulation.Setup, "run", interrupted)
    assert main(command) == 130
    monkeypatch.setattr(simulation.Setup, "run", run)
    assert main(command) == 2
    assert "an unfinished batch of scenarios is stored" in capsys.readouterr().err
    assert main([*command, "--resume"]) == 0
    whole, resumed = dg.load(tmp_path / "whole.nc"), dg.load(output)
    assert all(whole[n].values.tolist() == resumed[n].values.tolist() for n in whole.variables)


@pytest.mark.parametrize("output", ["-", "b.json"])
def test_resume_needs_scenarios_and_a_netcdf_output(tmp_path, scenario_file, capsys, output):
    assert main(["simulate", MODEL, "--scenarios", str(scenario_file), *RUN, "-o", output, "--resume"]) == 2
    assert main(["simulate", MODEL, *RUN, "-o", str(tmp_path / "b.nc"), "--resume"]) == 2
    assert "--resume needs --scenarios and -o FILE.nc" in capsys.readouterr().err
