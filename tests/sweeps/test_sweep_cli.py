"""``degranulation sweep``: the dose response written to NetCDF, the Hill summary table, the
plot, resuming, and one-line errors with exit codes."""

from __future__ import annotations

import io
import json
import re

import pytest

import degranulation as dg
import degranulation.sweeps.run
from degranulation.cli import main

ARGS = [
    "sweep",
    "ige_fceri_crosslinking",
    "--vary",
    "L",
    "--from",
    "1e3molecule",
    "--to",
    "1e9molecule",
    "--num",
    "13",
    "--observe",
    "RecDim",
    "--at",
    "10min",
]


def test_sweep_writes_result_and_summary(tmp_path, capsys):
    output = tmp_path / "dr.nc"
    assert main([*ARGS, "-o", str(output)]) == 0
    out, err = capsys.readouterr()
    # No progress bar when stderr is not a terminal: one summary line.
    assert re.fullmatch(r"degranulation: sweep: 13 points in [0-9.]+ s; 13 ok, 0 failed\n", err)
    header, row = out.splitlines()
    assert header.split()[:2] == ["readout", "EC50"]
    assert row.split()[:2] == ["RecDim", "EC50"]
    result = dg.load(output)
    fit = dg.hill_fit(result["RecDim"])
    assert float(row.split()[2]) == pytest.approx(fit.ec50.magnitude, rel=1e-3)
    assert result["RecDim"].dims == ("L",) and result["status"].values.tolist() == ["ok"] * 13
    assert main([*ARGS, "-o", str(output), "--resume"]) == 0  # complete: read back, same table
    out_again, err = capsys.readouterr()
    assert out_again == out
    assert err == f"degranulation: {output} already holds this complete sweep: nothing recomputed\n"


@pytest.mark.requires_plot
def test_sweep_plot(tmp_path):
    plot = tmp_path / "dr.png"
    assert main([*ARGS, "-o", str(tmp_path / "dr.nc"), "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bell_shaped_summary_has_the_peak(tmp_path, capsys):
    args = [
        "sweep",
        "ige_fceri_crosslinking",
        "--vary",
        "L",
        "--values",
        ",".join(f"{v:g}molecule" for v in (1e4, 1e5, 3e5, 1e6, 4e6, 1e7, 1e8, 1e9)),
        "--observe",
        "crosslinked",
        "--at",
        "steady",
        "--t-end",
        "1e7s",
        "--set",
        "km1=1e-3/s",
        "--set",
        "km2=1/s",
        "-o",
        str(tmp_path / "bell.nc"),
    ]
    assert main(args) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert " at " in row and "%" in row  # the peak height and where it is


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--vary", "Lx"], 2, "did you mean"),
        (["--at", "10 parsecs"], 2, "at: '10.0 parsecs' is not a time"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], 2, "not both"),
        (["--values", "1nM"], 2, "not both"),
    ],
)
def test_sweep_errors_are_one_line(tmp_path, capsys, extra, code, message):
    args = [*ARGS, "-o", str(tmp_path / "dr.nc")]
    if extra[0] == "--vary":
        args[args.index("--vary") + 1] = extra[1]
    else:
        args += extra
    assert main(args) == code
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


def _strict(text):
    def reject(name):
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=reject)


def test_the_hill_fit_is_written_with_the_sweep(tmp_path, capsys):
    output = tmp_path / "dr.nc"
    assert main([*ARGS, "-o", str(output)]) == 0
    result = dg.load(output)
    expected = dg.hill_fit(result["RecDim"])  # the fit of the stored curve, recomputed
    stored = _strict(result.attrs["hill_fits"])["RecDim"]
    assert stored["status"] == "ok" and stored["label"] == "EC50" and stored["flags"] == []
    assert stored["ec50"] == {"value": pytest.approx(expected.ec50.magnitude, rel=1e-9), "unit": "molecule"}
    interval = [float(q.magnitude) for q in expected.ec50_ci]
    assert [b["value"] for b in stored["ec50_ci"]] == pytest.approx(interval)
    assert stored["n"] == pytest.approx(expected.n, rel=1e-9)
    attrs = result["RecDim"].attrs
    assert attrs["hill_ec50"] == pytest.approx(expected.ec50.magnitude, rel=1e-9)
    assert attrs["hill_ec50_units"] == "molecule" and attrs["hill_n"] == pytest.approx(expected.n)
    assert list(attrs["hill_ec50_ci"]) == pytest.approx(interval)
    # The same sweep as JSON on stdout carries the same fit; the table moves to stderr.
    capsys.readouterr()
    assert main([*ARGS, "-o", "-", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    payload = _strict(out)
    assert payload["hill"]["RecDim"]["ec50"] == stored["ec50"]
    assert payload["coords"]["L"]["unit"] == "molecule" and len(payload["coords"]["L"]["values"]) == 13
    assert payload["variables"]["status"]["values"] == ["ok"] * 13
    assert err.startswith("readout ")


def test_sweep_csv_to_stdout_has_one_row_per_dose(capsys):
    assert main([*ARGS, "-o", "-"]) == 0
    rows = capsys.readouterr().out.splitlines()
    # The dose first, then the readout time (repeated on every row), then the variables.
    assert rows[0] == "L [molecule],time [s],RecDim [molecule],status,message"
    assert len(rows) == 14 and rows[1].startswith("1000.0,600.0,") and rows[1].endswith(",ok,")


STEADY = [
    "sweep",
    "ige_fceri_crosslinking",
    "--vary",
    "L",
    "--observe",
    "RecDim",
    "--at",
    "steady",
    "--solver",
    "bdf",
]


def test_a_sweep_with_some_failed_points_exits_0_and_says_how_many(capsys):
    # By 1000 s the highest dose has settled and the lowest has not (status not_steady).
    args = [*STEADY, "--values", "1e3molecule,1e9molecule", "--t-end", "1000s", "-o", "-", "--format", "json"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    payload = _strict(out)
    assert payload["variables"]["status"]["values"] == ["not_steady", "ok"]
    recdim = payload["variables"]["RecDim"]
    assert recdim["values"][0] is None and recdim["values"][1] == pytest.approx(398937.45, rel=1e-4)
    assert recdim["status"] == "1 value(s) written as null: 1 NaN"
    assert "degranulation: warning: 1 of 2 dose(s) failed" in err


def test_a_sweep_in_which_no_point_succeeds_exits_4(tmp_path, capsys):
    output = tmp_path / "dr.nc"
    assert main([*STEADY, "--values", "1e3molecule,1e9molecule", "--t-end", "1s", "-o", str(output)]) == 4
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("degranulation: error: no point of the sweep succeeded (2 failed); the first:")
    assert dg.load(output)["status"].values.tolist() == ["not_steady"] * 2  # still written, for a look


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_a_progress_bar_and_resuming_says_what_it_reused(tmp_path, monkeypatch, capsys):
    output = tmp_path / "dr.nc"
    args = [*ARGS, "--batch", "4", "-o", str(output)]  # 13 doses: chunks of 4, 4, 4 and 1
    original, calls = degranulation.sweeps.run._solve_chunk, []

    def interrupted(plan, chunk):
        calls.append(chunk)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(plan, chunk)

    monkeypatch.setattr(degranulation.sweeps.run, "_solve_chunk", interrupted)
    assert main(args) == 130
    monkeypatch.setattr(degranulation.sweeps.run, "_solve_chunk", original)
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main([*args, "--resume"]) == 0
    err = terminal.getvalue()
    assert f"degranulation: resumed 8 of 13 points from {output}.parts" in err
    assert "sweep: 100%" in err and "13/13" in err  # tqdm's bar, with its counts
    capsys.readouterr()
