"""Batch mode (issue 13): ``degranulation simulate ige_fceri_crosslinking --scenarios FILE`` solving
N = 20 scenarios (ligand doses from 1e4 to 1e8 molecules, 0–100 s, 101 times, NetCDF out) in one
process, against N fresh processes of ``degranulation simulate --set L=...``, one per scenario,
each writing its own file; compiled-model cache filled by an untimed run.

The ratio is the separate processes' total over the batch's, as wall time and as CPU time (user +
system). Both routes must give the same numbers: each separate run's variables equal its
scenario in the batch to rtol 1e-8 (they are solved by the same code, so in practice bit for bit).

Run ``pytest benchmarks/test_batch.py -s`` to print them. Under ``--benchmark-disable`` (CI's
smoke run) N is 3.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

import numpy as np
import pytest

import degranulation as dg

MODEL = "ige_fceri_crosslinking"
N = 20


def timed(commands: list[list[str]], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of running ``commands``, one fresh process each."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def simulate(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "degranulation", "simulate", MODEL, *arguments]


@pytest.fixture(scope="module")
def environment(tmp_path_factory) -> dict[str, str]:
    """A private cache folder, filled by one untimed run."""
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path_factory.mktemp("xdg")))
    subprocess.run(simulate("--points", "2"), capture_output=True, check=True, env=env, timeout=300)
    return env


def test_one_batch_against_separate_processes(benchmark, environment, tmp_path) -> None:
    n = 3 if benchmark.disabled else N
    doses = [float(v) for v in np.geomspace(1e4, 1e8, n)]
    table = tmp_path / "scenarios.csv"
    table.write_text("L [molecule]\n" + "".join(f"{v!r}\n" for v in doses))
    batch = [simulate("--scenarios", str(table), "-o", str(tmp_path / "batch.nc"))]
    separate = [
        simulate("--set", f"L={v!r}molecule", "-o", str(tmp_path / f"{k}.nc")) for k, v in enumerate(doses)
    ]
    batch_wall, batch_cpu = timed(batch, environment)
    separate_wall, separate_cpu = timed(separate, environment)
    benchmark.pedantic(lambda: None, rounds=1)

    result = dg.load(tmp_path / "batch.nc")
    assert result["status"].values.tolist() == ["ok"] * n
    for k in range(n):
        alone = dg.load(tmp_path / f"{k}.nc")
        for name in alone.data_vars:
            np.testing.assert_allclose(
                result[name].sel(scenario=k).pint.magnitude, alone[name].pint.magnitude, rtol=1e-8, atol=0
            )

    numbers = {
        "n_scenarios": n,
        "batch_wall_s": batch_wall,
        "batch_cpu_s": batch_cpu,
        "separate_wall_s": separate_wall,
        "separate_cpu_s": separate_cpu,
        "ratio_wall": separate_wall / batch_wall,
        "ratio_cpu": separate_cpu / batch_cpu,
    }
    benchmark.extra_info.update(numbers)
    print(f"\n  {MODEL}, {n} scenarios: one batch process against {n} separate processes")
    for kind in ("wall", "cpu"):
        print(
            f"  {kind:4s}: batch {numbers[f'batch_{kind}_s']:.2f} s, separate "
            f"{numbers[f'separate_{kind}_s']:.2f} s ({numbers[f'separate_{kind}_s'] / n:.2f} s each), "
            f"ratio {numbers[f'ratio_{kind}']:.1f}"
        )
