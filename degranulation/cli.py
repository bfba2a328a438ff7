"""Command line: ``degranulation models | validate | simulate | fit | sweep``.

Holds no modelling logic: it parses arguments, calls the Python API and turns exceptions into
one-line messages on stderr. Exit codes: 0 ok, 1 invalid model or data, 2 usage (including a
missing optional extra), 3 solver or fit failure, 4 a sweep or a batch of scenarios in which
nothing succeeded.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from degranulation._cli_progress import FitProgress, SweepProgress, note
from degranulation.errors import (
    DataError,
    DegranulationError,
    ModelError,
    ModelValidationError,
    SimulationError,
    UnitError,
    UnsupportedFeatureError,
)

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_FAILED, EXIT_NO_POINT = 0, 1, 2, 3, 4

EPILOG = """\
exit codes: 0 ok; 1 invalid model or data; 2 usage (bad arguments, or a missing optional
extra: the message names the 'pip install' to run); 3 solver or fit failure; 4 a sweep in
which no point succeeded, or 'simulate --scenarios' in which no scenario did (with some
failures either exits 0 and says how many failed).
'-o -' writes CSV (default) or JSON (--format json) to stdout. Python warnings are shown only
with -v; the package's own warnings always, one line each."""


class UsageError(Exception):
    """Bad command-line arguments (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


OUTPUT_FORMATS = ("csv", "json", "nc")

ATOL_HELP = (
    "absolute tolerance: a number in model units, or an amount or concentration for every species, "
    "e.g. 1e-3molecule or 1pM"
)


Command = Callable[..., argparse.ArgumentParser]  # adds a subcommand's parser (see build_parser)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    from degranulation.user_cache import version

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", help="also show Python warnings (numerical ones, e.g.)"
    )
    common.add_argument(
        "--strict-units",
        action="store_true",
        help="refuse an SBML, BioNetGen or PEtab model whose units disagree "
        "(by default its numbers are used as written, with one warning)",
    )

    def command(name: str, **options: Any) -> argparse.ArgumentParser:
        return commands.add_parser(  # type: ignore[no-any-return]
            name,
            parents=[common],  # type: ignore[list-item]  # typeshed: _Parser, not ArgumentParser
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            **options,
        )

    parser = _Parser(
        prog="degranulation",
        description="Kinetic models of immune-cell degranulation.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in (
        _models_parser,
        _validate_parser,
        _simulate_parser,
        _convert_parser,
        _fit_parser,
        _sweep_parser,
    ):
        add(command)
    return parser


def _solvers() -> str:
    from degranulation.solvers import SOLVERS

    return ", ".join(SOLVERS)


def _models_parser(command: Command) -> None:
    """``models [list|show] [MODEL]``."""
    models = command("models", help="list bundled models, or show one")
    models.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    models.add_argument("model", nargs="?", help="model id (with 'show')")
    models.set_defaults(handler=_models)


def _validate_parser(command: Command) -> None:
    """``validate MODEL...``."""
    validate = command("validate", help="check model files; exit 1 if any has errors")
    validate.add_argument("models", nargs="+", metavar="MODEL", help="model files or bundled ids")
    validate.add_argument("--format", choices=["text", "json"], default="text")
    validate.set_defaults(handler=_validate)


def _simulate_parser(command: Command) -> None:
    """``simulate MODEL``: a time course."""
    simulate = command("simulate", help="simulate a model and write its time course")
    simulate.add_argument("model", metavar="MODEL", help="model file or bundled id")
    simulate.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a parameter, compartment size or initial value, e.g. k_on=2e6/M/s",
    )
    simulate.add_argument(
        "--scenarios",
        metavar="FILE",
        help="simulate every scenario of a .csv or .json file in one run (each row sets names as "
        "--set does; --set applies to all), into one result with a 'scenario' dimension",
    )
    simulate.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted --scenarios run stored under -o FILE.nc (finished scenarios are "
        "kept in FILE.nc.parts/ until the result is written)",
    )
    simulate.add_argument(
        "--protocol",
        help="protocol declared in the model file, or 'none' (default: the model's default protocol)",
    )
    simulate.add_argument("--t-end", default="100s", help="end time with unit, e.g. 30min (default 100s)")
    simulate.add_argument("--points", type=int, default=101, help="number of output times (default 101)")
    simulate.add_argument(
        "--solver",
        type=_solver_name,
        metavar="SOLVER",
        help=f"one of {_solvers()}, any case (default: LSODA up to 100 species, else BDF; CVODE "
        "needs the sundials extra)",
    )
    simulate.add_argument("--rtol", type=float, help="relative tolerance (default 1e-6)")
    simulate.add_argument(
        "--atol",
        type=_tolerance,
        help=ATOL_HELP,
    )
    simulate.add_argument(
        "-o",
        "--output",
        help="write .nc, .csv or .json, or '-' for stdout (default: CSV to stdout)",
    )
    simulate.add_argument(
        "--format",
        choices=OUTPUT_FORMATS,
        help="format on stdout: csv (default) or json; a file's format follows its extension",
    )
    simulate.set_defaults(handler=_simulate)


def _convert_parser(command: Command) -> None:
    """``convert IN OUT``."""
    convert = command(
        "convert",
        help="convert a model between TOML, SBML (.xml/.sbml) and "
        "BioNetGen .net (read only), by file extension",
    )
    convert.add_argument("source", metavar="IN", help="model file or bundled id")
    convert.add_argument("target", metavar="OUT", type=Path, help="file to write: .toml, .xml or .sbml")
    convert.set_defaults(handler=_convert)


def _fit_parser(command: Command) -> None:
    """``fit MODEL ASSAY... | fit PROBLEM.yaml``."""
    fit = command("fit", help="fit parameters to assay data or a PEtab problem; write fit.json")
    fit.add_argument("model", metavar="MODEL", help="model file or bundled id, or a PEtab problem (.yaml)")
    fit.add_argument(
        "data",
        nargs="*",
        metavar="ASSAY",
        help="assay CSV file(s), units in the headers (none for a PEtab problem)",
    )
    fit.add_argument(
        "--estimate",
        action="append",
        metavar="NAME",
        help="parameter or initial value (Ag.initial) to estimate; repeat for each "
        "(a PEtab problem names its own)",
    )
    fit.add_argument("--starts", type=int, default=10, help="multistart runs (default 10)")
    fit.add_argument("--seed", type=int, help="seed for the start points")
    fit.add_argument("--design", choices=["lhs", "sobol"], default="lhs", help="start design (default lhs)")
    fit.add_argument(
        "--noise",
        choices=["sd", "additive", "proportional"],
        help="noise model (default: sd with an sd column, else additive)",
    )
    fit.add_argument(
        "--scale",
        action="append",
        default=[],
        metavar="READOUT",
        help="fit a scale factor for an arbitrary-unit readout",
    )
    fit.add_argument("--offset", action="append", default=[], metavar="READOUT", help="fit an offset")
    fit.add_argument(
        "--intervals",
        choices=["fisher", "profile"],
        default="fisher",
        help="confidence intervals from the Fisher information (default) or profile likelihood "
        "(with --plot, the profiles are drawn too, in PNG-profile.png)",
    )
    fit.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    fit.add_argument("--workers", type=int, default=1, help="processes for the starts (default 1)")
    fit.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://HOST:8786 (the dask extra)")
    fit.add_argument("--rtol", type=float, default=1e-8, help="solver relative tolerance (default 1e-8)")
    fit.add_argument(
        "--atol",
        type=_tolerance,
        help=ATOL_HELP,
    )
    fit.add_argument(
        "-o",
        "--output",
        help="write fit.json here, or '-' for stdout (the default); finished starts are kept in "
        "OUTPUT.starts.jsonl until the fit completes",
    )
    fit.add_argument("--resume", action="store_true", help="continue the interrupted fit stored beside -o")
    fit.add_argument(
        "--plot",
        type=Path,
        metavar="PNG",
        help="also draw data vs fitted model with residuals, in the data's time unit (the plot extra)",
    )
    fit.set_defaults(handler=_fit)


def _sweep_parser(command: Command) -> None:
    """``sweep MODEL --vary NAME``: a dose response."""
    sweep = command("sweep", help="dose response: solve over doses, write .nc, fit Hill curves")
    sweep.add_argument("model", metavar="MODEL", help="model file or bundled id")
    sweep.add_argument(
        "--vary", required=True, metavar="NAME", help="parameter, compartment or species (its initial value)"
    )
    sweep.add_argument("--from", dest="start", metavar="VALUE", help="first dose with unit, e.g. 1pM")
    sweep.add_argument("--to", dest="stop", metavar="VALUE", help="last dose with unit, e.g. 10uM")
    sweep.add_argument(
        "--num", type=int, default=21, help="doses from --from to --to, log-spaced (default 21)"
    )
    sweep.add_argument("--values", metavar="V1,V2,...", help="doses instead of --from/--to, e.g. 1nM,10nM")
    sweep.add_argument(
        "--observe", action="append", metavar="NAME", help="species or observable; repeat (default: all)"
    )
    sweep.add_argument("--at", help="readout time (e.g. 30min) or 'steady' (with --t-end as the horizon)")
    sweep.add_argument("--t-end", help="end time of time courses, or the horizon for --at steady")
    sweep.add_argument("--points", type=int, default=101, help="output times of time courses (default 101)")
    sweep.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="fixed override for every dose"
    )
    sweep.add_argument("--protocol", help="protocol declared in the model file, or 'none'")
    sweep.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    sweep.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://HOST:8786 (the dask extra)")
    sweep.add_argument("--resume", action="store_true", help="continue the interrupted sweep stored under -o")
    sweep.add_argument(
        "--solver",
        type=_solver_name,
        metavar="SOLVER",
        help=f"one of {_solvers()}, any case (default: LSODA up to 100 species, else BDF)",
    )
    sweep.add_argument("--rtol", type=float, help="relative tolerance (default 1e-6)")
    sweep.add_argument(
        "--atol",
        type=_tolerance,
        help=ATOL_HELP,
    )
    sweep.add_argument("--batch", type=int, help="doses per stacked LSODA solve (default: up to 64)")
    sweep.add_argument(
        "-o",
        "--output",
        required=True,
        help="result file (.nc, with each readout's Hill fit in its attributes), or '-' for stdout; "
        "finished doses are kept beside the file in OUTPUT.parts/ until it is complete",
    )
    sweep.add_argument(
        "--format",
        choices=OUTPUT_FORMATS,
        help="format on stdout: csv (default; one row per dose) or json (with the Hill fits)",
    )
    sweep.add_argument(
        "--plot", type=Path, metavar="PNG", help="also draw each curve with its Hill fit (the plot extra)"
    )
    sweep.set_defaults(handler=_sweep)


def _solver_name(text: str) -> str:
    """A solver name in any case, as the solvers module spells it (else as given, for
    solver_from to suggest the closest name)."""
    from degranulation.solvers import SOLVERS

    return next((name for name in SOLVERS if name.lower() == text.strip().lower()), text)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    Examples
    --------
    >>> from degranulation.cli import main
    >>> main(["simulate", "ige_fceri_crosslinking", "--t-end", "1min", "--points", "2"])  # doctest: +ELLIPSIS
    time [s],L [molecule],...
    0
    """
    with warnings.catch_warnings():
        try:
            args = build_parser().parse_args(argv)
            _route_warnings(args.verbose)
            handler: Callable[[argparse.Namespace], int] = args.handler
            code = handler(args)
            sys.stdout.flush()  # a full disk shows here, not as a traceback after exit
            return code
        except SystemExit as exc:  # --help and --version
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        except UsageError as exc:
            return _fail(str(exc), EXIT_USAGE)
        except ModelValidationError as exc:
            return _fail("\n".join(_issue_lines(exc)), EXIT_INVALID)
        except SimulationError as exc:
            return _fail(str(exc), EXIT_FAILED)
        except (ModelError, DataError, UnitError, UnsupportedFeatureError) as exc:
            return _fail(str(exc), EXIT_INVALID)
        except ImportError as exc:  # an optional extra is missing; the message names it
            return _fail(str(exc), EXIT_USAGE)
        except DegranulationError as exc:
            return _fail(str(exc), EXIT_FAILED)
        except KeyboardInterrupt:
            return _fail("interrupted", 130)
        except BrokenPipeError:
            # The reader went away (`... | head`): stop quietly, as Unix tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK
        except OSError as exc:  # standard output (no file name) on a full disk, or a file
            if exc.filename is None:  # drop what is buffered, or exit would try writing it again
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return _fail(
                f"cannot write '{exc.filename or 'standard output'}': {exc.strerror or exc}", EXIT_INVALID
            )


def _route_warnings(verbose: bool) -> None:
    """The package's own warnings always, other Python warnings only with -v; each as one line
    (the caller restores the filters)."""
    from degranulation.errors import DegranulationWarning

    warnings.simplefilter("default" if verbose else "ignore")
    warnings.simplefilter("default", DegranulationWarning)

    def show(message: Any, category: type[Warning], filename: str, lineno: int, *_: Any) -> None:
        text = "; ".join(line.strip() for line in str(message).splitlines() if line.strip())
        if not issubclass(category, DegranulationWarning):
            text = f"{category.__name__}: {text} ({Path(filename).name}:{lineno})"
        note(f"warning: {text}")

    warnings.showwarning = show  # type: ignore[assignment]  # extra arguments (file, line) unused


def _fail(message: str, code: int) -> int:
    for line in message.splitlines() or [""]:
        print(f"degranulation: error: {line}", file=sys.stderr)
    return code


def _issue_lines(exc: ModelValidationError) -> list[str]:
    prefix = f"{exc.file}: " if exc.file else ""
    return [f"{prefix}{issue.format()}" for issue in exc.issues]


def _models(args: argparse.Namespace) -> int:
    from degranulation.library import list_models, load_model

    if args.action == "list":
        if args.model:
            raise UsageError("'models list' takes no model id; use 'models show ID'")
        for info in list_models():
            print(f"{info.id:40s} {info.cell_type:28s} {info.title}")
        return EXIT_OK
    if not args.model:
        raise UsageError("'models show' needs a model id")
    model = load_model(args.model, strict_units=args.strict_units)
    print(describe(model))
    return EXIT_OK


def describe(model: Any) -> str:
    """Text description of a model: species, parameters with units, status and sources,
    observables, protocols and references."""
    width = max((len(r.id) for r in (*model.species, *model.parameters, *model.observables)), default=8)
    lines = [f"{model.id}: {model.title}", f"cell type: {model.cell_type}"]
    lines += [model.description.strip(), ""] if model.description.strip() else [""]
    chemicals = [s for s in model.species if not s.variable]
    lines.append(f"species ({len(chemicals)}; {len(model.reactions)} reactions):")
    for s in chemicals:
        lines.append(f"  {s.id:{width}s} {s.initial!s:24s} {s.compartment or '':10s} {s.label}")
    lines += _variable_lines(model, width)
    lines.append("parameters (value, [status], description; source):")
    for p in model.parameters:
        status = f"[{p.status}] " if p.status else ""
        text = "; ".join(part for part in (p.description, p.source) if part)
        lines.append(f"  {p.id:{width}s} {p.value!s:28s} {status}{text}")
    lines.append("observables:")
    lines += [f"  {o.id:{width}s} {o.unit:12s} {o.description or o.expr}" for o in model.observables]
    if model.protocols:
        lines.append("protocols:")
        for protocol in model.protocols:
            mark = " (default)" if protocol.id == model.default_protocol else ""
            lines.append(f"  {protocol.id}{mark}: {protocol.description}")
    if model.events:
        lines.append("events (when trigger: assignments):")
        for event in model.events:
            assigned = ", ".join(f"{target} = {text}" for target, text in event.assignments)
            lines.append(f"  {event.id}: when {event.trigger}: {assigned}")
    lines.append("references:")
    lines += [f"  {r}" for r in model.references]
    return "\n".join(lines)


def _variable_lines(model: Any, width: int) -> list[str]:
    """The model variables of :func:`describe`: initial value and rate of change."""
    variables = [s for s in model.species if s.variable]
    if not variables:
        return []
    lines = ["model variables (initial value, d/dt):"]
    for s in variables:
        rates = [r.rate for r in model.reactions if r.products == ((s.id, 1),)]
        change = " + ".join(f"({rate})" if len(rates) > 1 else rate for rate in rates) or "0"
        lines.append(f"  {s.id:{width}s} {s.initial!s:24s} d{s.id}/dt = {change}")
    return lines


def _convert(args: argparse.Namespace) -> int:
    from degranulation.library import load_model, save_model

    save_model(load_model(args.source, strict_units=args.strict_units), args.target)
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from degranulation.library import model_path
    from degranulation.library import read_model_file as read_model
    from degranulation.validation import find_issues

    reports: list[dict[str, Any]] = []
    status = EXIT_OK
    for name in args.models:
        path = str(model_path(name))
        try:
            issues = find_issues(read_model(path, strict_units=args.strict_units))
        except ModelValidationError as exc:
            issues = list(exc.issues)
        except ModelError as exc:
            issues = [_as_issue(exc, path)]
        errors = sum(i.severity == "error" for i in issues)
        status = max(status, EXIT_INVALID if errors else EXIT_OK)
        reports.append(
            {
                "file": path,
                "issues": [i.to_dict() for i in issues],
                "errors": errors,
                "warnings": len(issues) - errors,
            }
        )
        if args.format == "text":
            stream = sys.stderr if errors else sys.stdout
            print(f"{path}: {errors} error(s), {len(issues) - errors} warning(s)", file=stream)
            for issue in issues:
                print(f"{path}: {issue.format()}", file=stream)
    if args.format == "json":
        from degranulation.store import json_text

        print(json_text(reports))
    return status


def _as_issue(exc: ModelError, path: str) -> Any:
    from degranulation.errors import ModelIssue

    return ModelIssue(
        exc.message, code="F000", file=path, location=exc.location, column=exc.column, hint=exc.hint
    )


def _simulate(args: argparse.Namespace) -> int:
    from functools import partial

    from degranulation.library import load_model
    from degranulation.scenarios import simulate_scenarios
    from degranulation.simulation import simulate

    target, kind = _destination(args.output, args.format)
    _check_extras(args, kind)
    model = load_model(args.model, strict_units=args.strict_units)
    params, initial = _overrides(model, args.set)
    stored = args.scenarios is not None and target is not None and kind == "nc"  # written as it goes
    if args.resume and not stored:
        raise UsageError(
            "--resume needs --scenarios and -o FILE.nc: an interrupted batch is stored beside it"
        )
    run = simulate
    if args.scenarios is not None:
        output = target if stored else None
        run = partial(simulate_scenarios, scenarios=args.scenarios, output=output, resume=args.resume)
    try:
        dataset = run(
            model,
            t=args.t_end,
            params=params,
            initial=initial,
            protocol=args.protocol,
            solver=args.solver,
            rtol=args.rtol,
            atol=args.atol,
            points=args.points,
        )
    except (UnitError, ValueError) as exc:  # the model was valid: the arguments (or scenarios) are not
        if isinstance(exc, ModelValidationError):
            raise
        raise UsageError(str(exc)) from None
    if not stored:
        _write(dataset, target, kind)
    return EXIT_OK if args.scenarios is None else _scenarios_status(dataset, args.output)


def _scenarios_status(dataset: Any, output: str | None) -> int:
    """Exit 4 if every scenario failed (naming the first reason); say how many failed if some did."""
    status = dataset["status"].values
    failed, total = int((status == "failed").sum()), status.size
    if failed == total:
        first = f"; the first: {dataset['message'].values[0]}"
        return _fail(f"no scenario succeeded ({total} failed){first}", EXIT_NO_POINT)
    if failed:
        where = "stdout" if output in (None, "-") else output
        note(
            f"warning: {failed} of {total} scenario(s) failed; see the status and message variables ({where})"
        )
    return EXIT_OK


def _destination(output: str | None, fmt: str | None) -> tuple[Path | None, str]:
    """Where a result goes (None: stdout) and in which format ('csv', 'json' or 'nc').

    Raises
    ------
    UsageError
        NetCDF to stdout, an unknown extension, or a --format that contradicts the file's.
    """
    from degranulation.store import FORMATS

    if output is None or output == "-":
        if fmt == "nc":
            raise UsageError(
                "NetCDF cannot be written to stdout (it needs a seekable file): "
                "give a file, e.g. -o run.nc, or --format csv or json"
            )
        return None, fmt or "csv"
    path = Path(output)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"cannot write '{output}': use one of {', '.join(FORMATS)}, or '-' for stdout")
    if fmt is not None and fmt != suffix[1:]:
        raise UsageError(f"--format {fmt} contradicts '{output}'; a file's format follows its extension")
    return path, suffix[1:]


def _write(dataset: Any, target: Path | None, kind: str, extra: dict[str, Any] | None = None) -> None:
    """Write a result to ``target`` (a file), or as CSV or strict JSON to stdout; ``extra``
    fields join the JSON."""
    from degranulation.results import dequantify
    from degranulation.store import json_text, save, to_csv, to_json

    if target is not None:
        save(dataset, target)  # atomic: a DataError naming the path if it cannot be written
    elif kind == "json":
        sys.stdout.write(json_text({**to_json(dequantify(dataset)), **(extra or {})}) + "\n")
    else:
        sys.stdout.write(to_csv(dequantify(dataset)))


def _check_extras(args: argparse.Namespace, kind: str = "") -> None:
    """Fail before any computation when an optional extra that the arguments need is missing."""
    if getattr(args, "plot", None) is not None:
        _require("matplotlib", "plot", "--plot")
    if getattr(args, "scheduler", None):
        _require("distributed", "dask", "--scheduler")
    if getattr(args, "solver", None) == "CVODE":
        _require("sksundae", "sundials", "solver CVODE")
    if kind == "nc":
        _check_netcdf()


def _check_netcdf() -> None:
    """Write a tiny NetCDF file in memory with the engine results are written with, so that a
    broken engine is reported before the work rather than after it."""
    import xarray as xr

    from degranulation.store import netcdf4_engine

    try:
        xr.Dataset({"probe": ("x", [0.0])}).to_netcdf(engine=netcdf4_engine() or "scipy")
    except (ImportError, ValueError) as exc:
        raise UsageError(
            f"writing NetCDF (.nc) failed ({exc}): pip install 'degranulation[netcdf]', "
            "or write .csv or .json"
        ) from None


def _require(module: str, extra: str, purpose: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise UsageError(
            f"{purpose} needs the '{extra}' extra ({exc}): pip install 'degranulation[{extra}]'"
        ) from None


def _fit(args: argparse.Namespace) -> int:
    from degranulation.estimation.assay import read_assay
    from degranulation.estimation.optimise import MAX_STARTS, fit
    from degranulation.library import load_model

    output = None if args.output in (None, "-") else Path(args.output)
    if args.resume and output is None:
        raise UsageError("--resume needs -o: the interrupted fit is stored beside its output")
    if not 1 <= args.starts <= MAX_STARTS or not 0 < args.level < 1:
        raise UsageError(f"--starts must be from 1 to {MAX_STARTS} and --level between 0 and 1")
    _check_extras(args)
    time_unit = None
    if Path(args.model).suffix.lower() in (".yaml", ".yml"):
        if args.data or args.estimate or args.noise or args.scale or args.offset:
            raise UsageError(
                "a PEtab problem brings its data, parameters and noise model: "
                "give no ASSAY, --estimate, --noise, --scale or --offset"
            )
        from degranulation.estimation.petab import read_petab

        if isinstance(args.atol, str):
            raise UsageError("--atol for a PEtab problem is a number in the SBML model's units")
        model: Any = read_petab(  # a Model or a PetabProblem
            args.model, rtol=args.rtol, atol=args.atol, strict_units=args.strict_units
        )
        data = None
    else:
        if not args.data or not args.estimate:
            raise UsageError("fit needs ASSAY file(s) and --estimate NAME (or a PEtab problem .yaml)")
        model = load_model(args.model, strict_units=args.strict_units)
        data = [read_assay(path) for path in args.data]
        time_unit = data[0].time_unit
    checkpoint = None if output is None else output.with_name(f"{output.name}.starts.jsonl")
    progress = FitProgress(args.starts, checkpoint if args.resume else None)
    try:
        result = fit(
            model,
            data,
            estimate=args.estimate,
            n_starts=args.starts,
            seed=args.seed,
            design=args.design,
            noise=args.noise,
            scale=args.scale,
            offset=args.offset,
            level=args.level,
            workers=args.workers,
            scheduler=args.scheduler,
            rtol=args.rtol,
            atol=args.atol,
            progress=progress,
            checkpoint=checkpoint,
            resume=args.resume,
            keep_checkpoint=True,
        )
    except (ValueError, ImportError) as exc:
        if isinstance(exc, DegranulationError):
            raise
        raise UsageError(str(exc)) from None
    finally:
        progress.close()
    progress.summary(result)
    profiles = None
    if args.intervals == "profile":
        from degranulation.estimation.profiles import profile_likelihood

        profiles = profile_likelihood(
            result, level=args.level, workers=args.workers, scheduler=args.scheduler
        )
        result = result.with_intervals(profiles.confidence_intervals, "profile", args.level)
    _write_fit(result, profiles, output)
    if args.plot is not None:
        from degranulation.plotting import plot_fit, plot_profiles

        plot_fit(result, args.plot, time_unit=time_unit)
        if profiles is not None:
            plot_profiles(profiles, args.plot.with_name(f"{args.plot.stem}-profile{args.plot.suffix}"))
    return EXIT_OK if result.success else EXIT_FAILED


def _write_fit(result: Any, profiles: Any, output: Path | None) -> None:
    """fit.json (strict JSON), to ``output`` or stdout; a profile that stays below its
    threshold up to a bound flags its parameter."""
    from degranulation.store import json_text

    payload = result.to_json()
    for name in () if profiles is None else profiles.non_identifiable:
        entry = payload["parameters"][name]
        entry["identifiability"] = "practically non-identifiable"
        entry["identifiability_reason"] = "the profile stays below the threshold up to a bound"
    text = json_text(payload)
    if output is None:
        print(text)
        return
    from degranulation.atomic import write_text

    write_text(output, text + "\n")
    # Only now that fit.json is durably on disk may the finished starts go.
    output.with_name(f"{output.name}.starts.jsonl").unlink(missing_ok=True)


def _tolerance(text: str) -> float | str:
    """``--atol``: a number (model units), or text with a unit for simulate() to convert."""
    try:
        return float(text)
    except ValueError:
        return text


def _sweep(args: argparse.Namespace) -> int:
    from degranulation.hill import fit_curves, hill_records, with_hill_attributes
    from degranulation.library import load_model
    from degranulation.sweeps import dose_response, geomspace

    to_stdout = args.output == "-"
    if to_stdout and args.resume:
        raise UsageError("--resume needs -o FILE.nc: the interrupted sweep is stored beside it")
    if not to_stdout and Path(args.output).suffix.lower() != ".nc":
        raise UsageError(f"a sweep is written to NetCDF (-o dr.nc) or to stdout (-o -), not '{args.output}'")
    if args.format is not None and not to_stdout and args.format != "nc":
        raise UsageError("--format applies to -o - (stdout); a file is NetCDF")
    kind = _destination(None, args.format)[1] if to_stdout else "nc"
    _check_extras(args, kind)
    model = load_model(args.model, strict_units=args.strict_units)
    params, initial = _overrides(model, args.set)
    if args.values is not None and (args.start or args.stop):
        raise UsageError("give --values or --from/--to, not both")
    if args.values is None and not (args.start and args.stop):
        raise UsageError("give the doses: --from VALUE --to VALUE [--num N], or --values V1,V2,...")
    output = None if to_stdout else Path(args.output)
    progress = SweepProgress(output if args.resume else None)
    try:
        doses = args.values.split(",") if args.values else geomspace(args.start, args.stop, args.num)
        result = dose_response(
            model,
            args.vary,
            doses,
            observe=args.observe,
            at=args.at,
            t=args.t_end,
            params=params,
            initial=initial,
            protocol=args.protocol,
            output=output,
            resume=args.resume,
            workers=args.workers,
            scheduler=args.scheduler,
            solver=args.solver,
            rtol=args.rtol,
            atol=args.atol,
            points=args.points,
            batch=args.batch,
            progress=progress,
        )
    except (ValueError, ImportError) as exc:  # the model loaded: the arguments are at fault
        if isinstance(exc, DataError | ModelValidationError):
            raise
        raise UsageError(str(exc)) from None
    finally:
        progress.close()
    fits = fit_curves(result, args.vary)
    hill = hill_records(result, fits, args.vary)
    if output is not None:
        result = with_hill_attributes(result, hill)
        _write(result, output, "nc")
    else:
        _write(result, None, kind, {"hill": hill})
    from degranulation.hill import summary_table

    if fits:
        print(summary_table(fits), file=sys.stderr if to_stdout else sys.stdout)
    status = result["status"].values.ravel()
    failed, total = int((status != "ok").sum()), status.size
    progress.summary(total, failed)
    if failed == total:
        messages = [str(m) for m in result["message"].values.ravel() if str(m)]
        first = f"; the first: {messages[0]}" if messages else ""
        return _fail(f"no point of the sweep succeeded ({total} failed){first}", EXIT_NO_POINT)
    if args.plot is not None:
        from degranulation.plotting import plot_dose_response

        plot_dose_response(result, fits, args.plot)
    if failed:
        where = "stdout" if to_stdout else args.output
        note(f"warning: {failed} of {total} dose(s) failed; see the status and message variables in {where}")
    return EXIT_OK


def _overrides(model: Any, settings: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
    import difflib

    from degranulation.network import Species, UnitValue

    params: dict[str, str] = {}
    initial: dict[str, str] = {}
    for setting in settings:
        name, sep, value = setting.partition("=")
        name = name.strip()
        if not sep or not name or not value.strip():
            raise UsageError(f"--set '{setting}' is not NAME=VALUE (e.g. --set k_on=2e6/M/s)")
        record = model.by_id.get(name)
        if record is None or name in {o.id for o in model.observables}:
            settable = [s.id for s in model.species] + [p.id for p in model.parameters]
            settable += [c.id for c in model.compartments]
            close = difflib.get_close_matches(name, settable, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UsageError(
                f"--set '{setting}': model '{model.id}' has no parameter or species '{name}'{hint}"
            )
        try:
            parsed = str(UnitValue.parse(value.strip()))
        except UnitError as exc:
            raise UsageError(f"--set '{setting}': {exc.message}") from None
        (initial if isinstance(record, Species) else params)[name] = parsed
    return params, initial


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
