"""Multistart fits of PEtab benchmark problems: how many starts reach the best known optimum,
and how long a start takes, beside pyPESTO + AMICI where they are installed.

The collection is not shipped (tests may not read our reference folder), so this script takes
its location::

    python benchmarks/petab_fits.py PATH/TO/petab-benchmark [--only Boehm_JProteomeRes2014 ...]
        [--starts 10] [--seed 0] [--workers 2] [--solver BDF] [--no-peer] [--json out.json]

Every problem's nominal parameters are its authors' best fit, so a start *reaches the
optimum* when its negative log-likelihood is within 0.1 of the nominal one (issue 13's rule;
a start that ends lower counts too). Start points are a Latin hypercube over the parameter
table's bounds on each parameter's scale (``dg.fit``'s default design), the same ``seed`` for
every problem. Per start the script reports the final nllh, the optimiser's evaluations and
message; per problem the success count, the wall time and the time per start (wall × workers
/ starts: the starts share ``workers`` processes evenly).

With ``pypesto`` and ``amici`` importable, the same start points (mapped onto pyPESTO's
parameter scale) are run with pyPESTO's ``ScipyOptimizer(method="ls_trf")`` on AMICI's
forward sensitivities, one process, and reported in the same record (``peer``); the ratio of
time per start is ours over theirs.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from petab_collection import problem_file  # this folder: the script's own

import degranulation as dg
from degranulation.estimation.optimise import start_points

DEFAULT = ("Boehm_JProteomeRes2014", "Bruno_JExpBot2016", "Fiedler_BMCSystBiol2016")
REACHED = 0.1  # nllh units above the nominal one


def ours(problem: dg.PetabProblem, starts: int, seed: int, workers: int) -> dict:
    nominal = problem.negative_log_likelihood(problem.nominal)
    start = time.perf_counter()
    result = dg.fit(problem, n_starts=starts, seed=seed, workers=workers)  # points as start_points'
    wall = time.perf_counter() - start
    finals = [problem.negative_log_likelihood(s.final) for s in result.starts]
    return {
        "nominal_nllh": nominal,
        "final_nllh": finals,
        "reached": sum(f <= nominal + REACHED for f in finals),
        "nfev": [s.nfev for s in result.starts],
        "messages": [s.message for s in result.starts],
        "wall_s": wall,
        "per_start_s": wall * workers / starts,
    }


def peer(yaml_file: Path, points: np.ndarray, names: tuple[str, ...]) -> dict | None:
    try:
        import petab.v1
        import petab.v1.lint
        import pypesto.optimize
        import pypesto.petab
    except ImportError:
        return None
    logging.disable(logging.INFO)  # AMICI's import logs every step
    folder = Path(tempfile.gettempdir()) / "degranulation-amici-models" / yaml_file.stem
    given = petab.v1.Problem.from_yaml(str(yaml_file))
    # AMICI takes observable and noise parameters that vary by measurement only as separate
    # observables; PEtab's own flattening makes them (Fiedler 2016 has such parameters).
    if petab.v1.lint.measurement_table_has_timepoint_specific_mappings(given.measurement_df):
        petab.v1.flatten_timepoint_specific_output_overrides(given)
    importer = pypesto.petab.PetabImporter(given, output_folder=str(folder))
    problem = importer.create_problem()  # compiles the model (not timed)
    # Least squares with noise parameters needs AMICI's residuals for σ, as ours has.
    problem.objective.amici_model.set_add_sigma_residuals(True)
    full = np.tile(np.asarray(importer.petab_problem.x_nominal_scaled, dtype=float), (len(points), 1))
    for k, name in enumerate(names):  # both work on each parameter's PEtab scale
        full[:, problem.x_names.index(name)] = points[:, k]
    problem.set_x_guesses(full)
    optimizer = pypesto.optimize.ScipyOptimizer(method="ls_trf")
    start = time.perf_counter()
    result = pypesto.optimize.minimize(problem, optimizer, n_starts=len(points), progress_bar=False)
    wall = time.perf_counter() - start
    finals = sorted(float(r.fval) for r in result.optimize_result.list)
    nominal = float(problem.objective(np.asarray(importer.petab_problem.x_nominal_free_scaled)))
    return {
        "nominal_nllh": nominal,
        "final_nllh": finals,
        "reached": sum(f <= nominal + REACHED for f in finals),
        "wall_s": wall,
        "per_start_s": wall / len(points),
    }


def peer_or_error(yaml_file: Path, points: np.ndarray, names: tuple[str, ...]) -> dict | None:
    try:
        return peer(yaml_file, points, names)
    except Exception as error:  # AMICI refuses some problems; ours is kept
        return {"error": f"{type(error).__name__}: {error}"}


def describe(record: dict, starts: int) -> str:
    them = record["peer"]
    if them is None:
        return "not installed"
    if "error" in them:
        return them["error"]
    return (
        f"{them['reached']}/{starts} reached {them['nominal_nllh']:.3f}; {them['per_start_s']:.2f} s per "
        f"start; ours / theirs per start: {record['per_start_ratio']:.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("collection", type=Path)
    parser.add_argument("--only", nargs="+", default=list(DEFAULT))
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--solver", default="BDF", help="our ODE solver (BDF, LSODA, Radau, CVODE)")
    parser.add_argument("--no-peer", action="store_true", help="skip pyPESTO + AMICI")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    records = {}
    for name in args.only:
        yaml_file = problem_file(args.collection / "Benchmark-Models" / name)
        if yaml_file is None:
            raise SystemExit(f"no PEtab YAML for {name} in {args.collection / 'Benchmark-Models'}")
        problem = dg.read_petab(yaml_file, solver=args.solver)
        record = ours(problem, args.starts, args.seed, args.workers)
        records[name] = record
        finals = ", ".join(f"{f:.2f}" for f in record["final_nllh"])
        print(
            f"{name}: {record['reached']}/{args.starts} reached {record['nominal_nllh']:.3f} (+{REACHED}); "
            f"{record['per_start_s']:.1f} s per start; finals {finals}",
            flush=True,
        )
        if not args.no_peer:
            record["peer"] = them = peer_or_error(
                yaml_file, start_points(problem, args.starts, seed=args.seed), problem.names
            )
            if them is not None and "error" not in them:
                record["per_start_ratio"] = record["per_start_s"] / them["per_start_s"]
            print(
                f"  pyPESTO + AMICI (ls_trf, same starts, 1 process): {describe(record, args.starts)}",
                flush=True,
            )
        if args.json is not None:
            args.json.write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
