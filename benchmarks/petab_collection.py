"""The PEtab benchmark collection (Benchmark-Models-PEtab): import every problem and compare
its log-likelihood at the nominal parameters with AMICI's reference.

The collection is not shipped (it is large, and tests may not read our reference folder), so
this script takes its location::

    python benchmarks/petab_collection.py PATH/TO/petab-benchmark [--only NAME ...] [--json out.json]

``PATH`` holds ``Benchmark-Models/<problem>/<problem>.yaml`` (or ``problem.yaml``) and
``references/amici_benchmark_models.yaml`` / ``references/llh_amici_1.0.1.json``. A problem
with no AMICI reference is compared with PEtab's log-likelihood of the simulated-data table its
folder ships (its authors' simulation at the nominal parameters), where PEtab can evaluate it
(``reference_source: simulated data`` in the record). Each problem
runs in a fresh process (so one that hangs or crashes cannot take the others with it) with a
time limit: ``--import-limit`` seconds to import (the target is 60 s) and ``--limit`` seconds in
all. Outcomes:

- ``pass``: ``|llh − reference| ≤ 1e-3·|reference| + 0.01`` (the acceptance rule of issue 12);
- ``disputed``: outside that tolerance of AMICI's reference, but within it of PEtab's
  log-likelihood of the problem's own simulated-data table, or our simulated values within
  1e-3 of that table's (``simulated_difference``: PEtab cannot evaluate a noise formula of
  model states): the two references disagree, and the record keeps both for a person to judge;
- ``refused``: an ``UnsupportedFeatureError`` (its constructs are listed);
- ``different``: a number outside the tolerance — a silent wrong answer, the one outcome that
  must never happen (the script exits 1 if any occurs);
- ``error`` (another exception: its one-line message), ``timeout``, ``no reference``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

CHILD = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
import degranulation as dg
out = {}


def simulated_llh(yaml_file):
    # PEtab's llh of the problem's own simulated-data table (its authors' simulation at the
    # nominal parameters), where the folder has one and PEtab can evaluate it; else None.
    from pathlib import Path
    import petab.v1 as petab
    folder = Path(yaml_file).parent
    tables = sorted(folder.glob("simulatedData_*.tsv")) + sorted(folder.glob("simulations.tsv"))
    if not tables:
        return None
    try:
        given = petab.Problem.from_yaml(yaml_file)
        simulated = petab.get_simulation_df(str(tables[0]))
        return float(petab.calculate_llh(
            given.measurement_df, simulated, given.observable_df, given.parameter_df))
    except Exception:  # PEtab cannot evaluate noise formulas that use model states
        return None


def simulated_difference(yaml_file, table):
    # The largest |ours - theirs| / (|theirs| + 1e-6 max|theirs|) against the problem's own
    # simulated-data table, both averaged over replicate rows; None without a table.
    from pathlib import Path
    import pandas as pd
    folder = Path(yaml_file).parent
    tables = sorted(folder.glob("simulatedData_*.tsv")) + sorted(folder.glob("simulations.tsv"))
    if not tables:
        return None
    theirs = pd.read_csv(tables[0], sep="\t")
    keys = [k for k in ("observableId", "simulationConditionId", "preequilibrationConditionId", "time")
            if k in theirs.columns and k in table.columns]
    mean = lambda t: t.groupby(keys, dropna=False)["simulation"].mean()
    a, b = mean(table).align(mean(theirs), join="outer")
    scale = b.abs() + 1e-6 * b.abs().max()
    return float(((a - b).abs() / scale).fillna(float("inf")).max())


try:
    problem = dg.read_petab(sys.argv[1])
    out["import_s"] = time.perf_counter() - t0
    print(json.dumps({"stage": "imported", **out}), flush=True)
    t1 = time.perf_counter()
    result = problem.simulate()
    out.update(llh=result.llh, simulate_s=time.perf_counter() - t1)
    out["simulated_llh"] = simulated_llh(sys.argv[1])
    out["simulated_difference"] = simulated_difference(sys.argv[1], result.table)
except dg.UnsupportedFeatureError as exc:
    out.update(outcome="refused", features=list(exc.features))
except Exception as exc:
    out.update(outcome="error", message=f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
print(json.dumps({"stage": "done", **out}), flush=True)
"""


def references(root: Path) -> dict[str, float]:
    """AMICI's reference log-likelihoods by problem name."""
    import yaml

    found = json.loads((root / "references" / "llh_amici_1.0.1.json").read_text())
    listed = yaml.safe_load((root / "references" / "amici_benchmark_models.yaml").read_text())
    found.update({name: entry["llh"] for name, entry in listed.items() if "llh" in entry})
    return found


def problem_file(folder: Path) -> Path | None:
    """A problem's YAML file: ``<folder name>.yaml``, or ``problem.yaml`` (the newer layout)."""
    for candidate in (folder / f"{folder.name}.yaml", folder / "problem.yaml"):
        if candidate.is_file():
            return candidate
    return None


def run_problem(yaml_file: Path, reference: float | None, limit: float, import_limit: float) -> dict:
    """One problem in a fresh interpreter; its outcome record."""
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(yaml_file)], capture_output=True, text=True, timeout=limit
        )
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        imported = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        return {"outcome": "timeout", "wall_s": limit, **(imported[-1] if imported else {})}
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines or lines[-1]["stage"] != "done":
        tail = " ".join(done.stderr.split())[-300:]
        return {"outcome": "error", "message": f"exit {done.returncode}: {tail}"}
    record = {**lines[-1], "wall_s": time.perf_counter() - start}
    record.pop("stage")
    if "outcome" in record:
        return record
    if reference is None and record.get("simulated_llh") is not None:
        reference = record["simulated_llh"]
        record["reference_source"] = "simulated data"
    if reference is None:
        return {**record, "outcome": "no reference"}
    delta = abs(record["llh"] - reference)
    record.update(reference=reference, delta=delta)
    simulated, difference = record.get("simulated_llh"), record.get("simulated_difference")
    if _agrees(record["llh"], reference):
        record["outcome"] = "pass"
    elif (simulated is not None and _agrees(record["llh"], simulated)) or (
        difference is not None and difference <= 1e-3
    ):
        record["outcome"] = "disputed"  # AMICI and the problem's own simulated data disagree
    else:
        record["outcome"] = "different"
    if record.get("import_s", 0.0) > import_limit:
        record["slow_import"] = True
    return record


def _agrees(llh: float, reference: float) -> bool:
    """Issue 12's acceptance rule: ``|llh − reference| ≤ 1e-3·|reference| + 0.01``."""
    return abs(llh - reference) <= 1e-3 * abs(reference) + 0.01


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="folder with Benchmark-Models/ and references/")
    parser.add_argument("--only", nargs="*", help="problem names (default: all)")
    parser.add_argument("--limit", type=float, default=300.0, help="seconds per problem in all")
    parser.add_argument("--import-limit", type=float, default=60.0, help="seconds to import (target)")
    parser.add_argument("--json", type=Path, help="write every record here")
    args = parser.parse_args(argv)
    known = references(args.root)
    problems = {
        folder.name: found
        for folder in sorted((args.root / "Benchmark-Models").iterdir())
        if (found := problem_file(folder)) is not None and (not args.only or folder.name in args.only)
    }
    records = {}
    for name, yaml_file in problems.items():
        record = run_problem(yaml_file, known.get(name), args.limit, args.import_limit)
        records[name] = record
        detail = record.get("message") or "; ".join(record.get("features", []))[:200]
        source = " (simulated data)" if "reference_source" in record else ""
        numbers = f"llh {record['llh']:.6g} vs {record['reference']:.6g}{source}" if "delta" in record else ""
        if record["outcome"] == "disputed":
            numbers += f"; simulated data: llh {record['simulated_llh']}, "
            numbers += f"largest relative difference {record['simulated_difference']:.2g}"
        timing = f"import {record['import_s']:.1f} s" if "import_s" in record else ""
        print(f"{name:40s} {record['outcome']:10s} {timing:16s} {numbers} {detail}", flush=True)
        if args.json:
            args.json.write_text(json.dumps(records, indent=1))
    tally = Counter(r["outcome"] for r in records.values())
    slow = sum(bool(r.get("slow_import")) for r in records.values())
    print(f"\n{len(records)} problems: " + ", ".join(f"{k} {v}" for k, v in tally.most_common()))
    print(f"imports over {args.import_limit:g} s: {slow}")
    return 1 if tally["different"] else 0


if __name__ == "__main__":
    sys.exit(main())
