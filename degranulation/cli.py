"""Command line: ``degranulation models | validate | simulate``.

Holds no modelling logic: it parses arguments, calls the Python API and turns exceptions into
one-line messages on stderr. Exit codes: 0 ok, 1 invalid model or data, 2 usage,
3 solver failure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from degranulation.errors import (
    DataError,
    DegranulationError,
    ModelError,
    ModelValidationError,
    SimulationError,
    UnitError,
)

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


class UsageError(Exception):
    """Bad command-line arguments (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = _Parser(prog="degranulation", description="Kinetic models of immune-cell degranulation.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    models = commands.add_parser("models", help="list bundled models, or show one")
    models.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    models.add_argument("model", nargs="?", help="model id (with 'show')")
    models.set_defaults(handler=_models)

    validate = commands.add_parser("validate", help="check model files; exit 1 if any has errors")
    validate.add_argument("models", nargs="+", metavar="MODEL", help="model files or bundled ids")
    validate.add_argument("--format", choices=["text", "json"], default="text")
    validate.set_defaults(handler=_validate)

    simulate = commands.add_parser("simulate", help="simulate a model and write its time course")
    simulate.add_argument("model", metavar="MODEL", help="model file or bundled id")
    simulate.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                          help="set a parameter, compartment size or initial value, e.g. k_on=2e6/M/s")
    simulate.add_argument("--protocol", help="protocol declared in the model file, or 'none' "
                          "(default: the model's default protocol)")
    simulate.add_argument("--t-end", default="100s", help="end time with unit, e.g. 30min (default 100s)")
    simulate.add_argument("--points", type=int, default=101, help="number of output times (default 101)")
    simulate.add_argument("--solver", default="BDF", help="BDF (default), Radau or LSODA")
    simulate.add_argument("--rtol", type=float, help="relative tolerance (default 1e-6)")
    simulate.add_argument("--atol", type=float, help="absolute tolerance in model units (default 1e-9)")
    simulate.add_argument("-o", "--output", type=Path, help="write .nc, .csv or .json (default: CSV to stdout)")
    simulate.set_defaults(handler=_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    Examples
    --------
    >>> from degranulation.cli import main
    >>> main(["simulate", "ige_fceri_crosslinking", "--t-end", "1min", "--points", "2"])  # doctest: +ELLIPSIS
    time [s],L [molecule],...
    0
    """
    try:
        args = build_parser().parse_args(argv)
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except ModelValidationError as exc:
        return _fail("\n".join(_issue_lines(exc)), EXIT_INVALID)
    except SimulationError as exc:
        return _fail(str(exc), EXIT_FAILED)
    except (ModelError, DataError, UnitError) as exc:
        return _fail(str(exc), EXIT_INVALID)
    except DegranulationError as exc:
        return _fail(str(exc), EXIT_FAILED)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


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
    model = load_model(args.model)
    print(describe(model))
    return EXIT_OK


def describe(model: Any) -> str:
    """Text description of a model: species, parameters with units and sources, observables."""
    lines = [f"{model.id}: {model.title}", f"cell type: {model.cell_type}", ""]
    lines.append("species:")
    lines += [f"  {s.id:16s} {str(s.initial):24s} {s.compartment or '':10s} {s.label}" for s in model.species]
    lines.append("parameters:")
    for p in model.parameters:
        status = f"[{p.status}] " if p.status else ""
        lines.append(f"  {p.id:16s} {str(p.value):32s} {status}{p.source or p.description}")
    lines.append("observables:")
    lines += [f"  {o.id:16s} {o.unit:12s} {o.expr}" for o in model.observables]
    lines.append("references:")
    lines += [f"  {r}" for r in model.references]
    return "\n".join(lines)


def _validate(args: argparse.Namespace) -> int:
    from degranulation.io.model_file import read_model
    from degranulation.library import model_path
    from degranulation.validation import find_issues

    reports: list[dict[str, Any]] = []
    status = EXIT_OK
    for name in args.models:
        path = str(model_path(name))
        try:
            issues = find_issues(read_model(path))
        except ModelValidationError as exc:
            issues = list(exc.issues)
        except ModelError as exc:
            issues = [_as_issue(exc, path)]
        errors = sum(i.severity == "error" for i in issues)
        status = max(status, EXIT_INVALID if errors else EXIT_OK)
        reports.append({"file": path, "issues": [i.to_dict() for i in issues], "errors": errors,
                        "warnings": len(issues) - errors})
        if args.format == "text":
            stream = sys.stderr if errors else sys.stdout
            print(f"{path}: {errors} error(s), {len(issues) - errors} warning(s)", file=stream)
            for issue in issues:
                print(f"{path}: {issue.format()}", file=stream)
    if args.format == "json":
        print(json.dumps(reports, indent=1))
    return status


def _as_issue(exc: ModelError, path: str) -> Any:
    from degranulation.errors import ModelIssue

    return ModelIssue(exc.message, code="F000", file=path, location=exc.location, column=exc.column,
                      hint=exc.hint)


def _simulate(args: argparse.Namespace) -> int:
    from degranulation.library import load_model
    from degranulation.simulation import simulate

    from degranulation.io.store import FORMATS

    if args.output is not None and args.output.suffix.lower() not in FORMATS:
        raise UsageError(f"cannot write '{args.output}': use one of {', '.join(FORMATS)}")
    model = load_model(args.model)
    params, initial = _overrides(model, args.set)
    try:
        dataset = simulate(model, t=args.t_end, params=params, initial=initial, protocol=args.protocol,
                           solver=args.solver, rtol=args.rtol, atol=args.atol, points=args.points)
    except (UnitError, ValueError) as exc:  # the model was valid: the arguments are not
        raise UsageError(str(exc)) from None
    if args.output is None:
        from degranulation.io.store import to_csv
        from degranulation.results import dequantify

        sys.stdout.write(to_csv(dequantify(dataset)))
    else:
        from degranulation.io.store import save

        try:
            save(dataset, args.output)
        except OSError as exc:
            raise DataError(f"cannot write '{args.output}': {exc.strerror}") from None
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
            raise UsageError(f"--set '{setting}': model '{model.id}' has no parameter or species '{name}'{hint}")
        try:
            parsed = str(UnitValue.parse(value.strip()))
        except UnitError as exc:
            raise UsageError(f"--set '{setting}': {exc.message}") from None
        (initial if isinstance(record, Species) else params)[name] = parsed
    return params, initial


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
