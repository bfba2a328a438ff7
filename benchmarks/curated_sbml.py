"""Curated SBML models in a fresh process: import and first simulation, against libRoadRunner
loading and simulating the same file (issue 13's target: no slower, for models up to 100
species; libRoadRunner's LLVM compile is our allowance).

The models are those of the PEtab benchmark collection (its authors' curated SBML; the
collection is not shipped), each simulated from 0 to its last finite measurement time with 101
output times, at each tool's default tolerances::

    python benchmarks/curated_sbml.py PATH/TO/petab-benchmark [--only NAME ...] [--rounds 5]

Ours is ``dg.read_sbml`` then ``dg.simulate`` with every cache empty (a fresh
``XDG_CACHE_HOME`` per run, ``cache_dir=False``); the peer is ``roadrunner.RoadRunner(file)``
then ``simulate``. Runs alternate ours and the peer's; the numbers are medians of wall time,
the ratio ours over the peer's (at most 1 meets the target). Needs the ``sbml`` and ``bench``
extras.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

OURS = """
import sys, warnings
warnings.simplefilter("ignore")
import degranulation as dg
model = dg.read_sbml(sys.argv[1])
dg.simulate(model, t=f"{sys.argv[2]} {model.units.time}", points=101, cache_dir=False)
print(len(model.species))
"""
PEER = """
import sys, roadrunner
roadrunner.RoadRunner(sys.argv[1]).simulate(0, float(sys.argv[2]), 101)
"""


def end_time(folder: Path) -> float:
    """The last finite measurement time of a problem (its time unit is the model's), or 100
    where every measurement is at steady state."""
    times = pd.concat(pd.read_csv(f, sep="\t")["time"] for f in folder.glob("measurementData*.tsv"))
    finite = pd.to_numeric(times, errors="coerce")
    finite = finite[finite.map(math.isfinite)]
    return float(finite.max()) if len(finite) else 100.0


def timed(code: str, *args: str) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            timeout=600,
            env=dict(os.environ, XDG_CACHE_HOME=cache),
        )
        wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1])
    return wall, done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("collection", type=Path)
    parser.add_argument("--only", nargs="+")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    folders = sorted((args.collection / "Benchmark-Models").iterdir())
    records = {}
    for folder in folders:
        if args.only and folder.name not in args.only:
            continue
        sbml = next(folder.glob("model_*.xml"), None)
        if sbml is None:
            continue
        t_end = str(end_time(folder))
        try:
            ours, peer, species = [], [], ""
            for _ in range(args.rounds):
                wall, species = timed(OURS, str(sbml), t_end)
                ours.append(wall)
                peer.append(timed(PEER, str(sbml), t_end)[0])
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            records[folder.name] = {"error": str(error)}
            print(f"{folder.name}: {error}", flush=True)
            continue
        record = {
            "species": int(species),
            "t_end": float(t_end),
            "ours_s": statistics.median(ours),
            "roadrunner_s": statistics.median(peer),
        }
        record["ratio"] = record["ours_s"] / record["roadrunner_s"]
        records[folder.name] = record
        print(
            f"{folder.name}: {record['species']} species, ours {record['ours_s']:.2f} s, "
            f"libRoadRunner {record['roadrunner_s']:.2f} s, ratio {record['ratio']:.2f}",
            flush=True,
        )
        if args.json is not None:
            args.json.write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
