"""Start-up (issue 13): a fresh process running ``degranulation simulate ige_fceri_crosslinking``
(8 columns of CSV to stdout, 0–100 s, 101 times, compiled-model cache filled) against a fresh
process that loads the same model's SBML export into libRoadRunner and simulates the same times.

Runs alternate ours and the peer's so that a change in machine load falls on both; the numbers
are medians, as wall time and as CPU time (user + system, which load on a shared machine
disturbs less). The ratio is ours over the peer's: the target is at most 2. A third process
only imports what a run cannot do without (NumPy, SciPy's integrators, xarray, pint): the floor
that our own start-up work sits on, reported as its ratio to the peer too.

Run ``pytest benchmarks/test_startup.py -s`` to print them (needs the ``bench`` extra for
libRoadRunner and the ``sbml`` extra for the export; skipped without them). Under
``--benchmark-disable`` (CI's smoke run) each side runs once.
"""

from __future__ import annotations

import csv
import io
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import pytest

import degranulation as dg

MODEL = "ige_fceri_crosslinking"
SPECIES = ["L", "R", "LR", "RLR"]
ROUNDS = 7
PEER = """
import sys, roadrunner
rr = roadrunner.RoadRunner(sys.argv[1])
result = rr.simulate(0, 100, 101)
for row in (result[0], result[-1]):
    print(",".join(repr(float(v)) for v in row))
"""
FLOOR = "import numpy, scipy.integrate, xarray, pint"


def timed(command: list[str], env: dict[str, str]) -> tuple[str, float, float]:
    """Standard output, wall time and CPU time (user + system) of a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env, timeout=120)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, wall, cpu


def first_and_last(text: str) -> np.ndarray:
    """Our species at the first and last output time (CSV columns are "name [unit]")."""
    header, *rows = list(csv.reader(io.StringIO(text)))
    columns = [header.index(next(h for h in header if h.split(" ")[0] == s)) for s in SPECIES]
    return np.array([[float(rows[i][c]) for c in columns] for i in (0, -1)])


@pytest.fixture(scope="module")
def environment(tmp_path_factory) -> dict[str, str]:
    """A private cache folder, filled by one untimed run."""
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path_factory.mktemp("xdg")))
    subprocess.run(ours_command(), capture_output=True, check=True, env=env, timeout=300)
    return env


def ours_command() -> list[str]:
    return [sys.executable, "-m", "degranulation", "simulate", MODEL]


def test_fresh_process_against_roadrunner(benchmark, environment, tmp_path) -> None:
    pytest.importorskip("roadrunner")
    pytest.importorskip("libsbml")
    sbml = tmp_path / f"{MODEL}.xml"
    dg.write_sbml(dg.load_model(MODEL), sbml)
    peer_command = [sys.executable, "-c", PEER, str(sbml)]
    rounds = 1 if benchmark.disabled else ROUNDS
    times: dict[str, list[tuple[float, float]]] = {"ours": [], "roadrunner": [], "imports_only": []}
    for _ in range(rounds):
        text, *ours = timed(ours_command(), environment)
        peer_text, *peer = timed(peer_command, environment)
        _, *floor = timed([sys.executable, "-c", FLOOR], environment)
        for name, measured in (("ours", ours), ("roadrunner", peer), ("imports_only", floor)):
            times[name].append((measured[0], measured[1]))
    benchmark.pedantic(lambda: None, rounds=1)

    # Same numbers: libRoadRunner reports concentrations ([L], ... in SPECIES' order), ours
    # amounts, so one volume factor (from the initial ligand) relates them.
    mine = first_and_last(text)
    theirs = np.array([[float(v) for v in line.split(",")[1:]] for line in peer_text.split()])
    factor = mine[0, 0] / theirs[0, 0]
    np.testing.assert_allclose(mine[1], theirs[1] * factor, rtol=1e-4, atol=1e-6 * mine[0, 0])

    numbers = {}
    for kind, index in (("wall", 0), ("cpu", 1)):
        median = {name: statistics.median(t[index] for t in runs) for name, runs in times.items()}
        numbers |= {f"{name}_{kind}_s": value for name, value in median.items()}
        numbers |= {
            f"ratio_{kind}": median["ours"] / median["roadrunner"],
            f"imports_only_ratio_{kind}": median["imports_only"] / median["roadrunner"],
        }
    benchmark.extra_info.update(numbers, rounds=rounds)
    print(
        f"\n  fresh process, {MODEL}, medians of {rounds} alternating runs "
        f"(ratios to libRoadRunner's load + simulate; target <= 2):"
    )
    for kind in ("wall", "cpu"):
        print(
            f"  {kind:4s}: ours {numbers[f'ours_{kind}_s']:.3f} s (ratio {numbers[f'ratio_{kind}']:.2f}), "
            f"libRoadRunner {numbers[f'roadrunner_{kind}_s']:.3f} s, imports only ({FLOOR}) "
            f"{numbers[f'imports_only_{kind}_s']:.3f} s (ratio {numbers[f'imports_only_ratio_{kind}']:.2f})"
        )
