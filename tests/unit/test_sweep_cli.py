"""``degranulation sweep``: the dose response written to NetCDF, the Hill summary table, the
plot, resuming, and one-line errors with exit codes."""

from __future__ import annotations

import pytest

import degranulation as dg
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
    assert err == ""  # no progress bar when stderr is not a terminal
    header, row = out.splitlines()
    assert header.split()[:2] == ["readout", "EC50"]
    assert row.split()[:2] == ["RecDim", "EC50"]
    result = dg.load(output)
    fit = dg.hill_fit(result["RecDim"])
    assert float(row.split()[2]) == pytest.approx(fit.ec50.magnitude, rel=1e-3)
    assert result["RecDim"].dims == ("L",) and result["status"].values.tolist() == ["ok"] * 13
    assert main([*ARGS, "-o", str(output), "--resume"]) == 0  # complete: read back, same table
    assert capsys.readouterr().out == out


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
