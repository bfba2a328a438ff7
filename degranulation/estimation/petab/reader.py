"""Reading for :mod:`degranulation.estimation.petab`: a linted ``petab.v1.Problem`` and its SBML model
→ a :class:`~degranulation.estimation.petab.problem.PetabProblem`, every unsupported construct
collected into one :class:`~degranulation.errors.UnsupportedFeatureError`."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from degranulation.errors import DataError, ModelWarning, UnsupportedFeatureError
from degranulation.estimation.petab.formulas import compiled_text, parse_formula
from degranulation.estimation.petab.problem import (
    STEADY_STATE_TIME,
    Formula,
    Observation,
    PetabCondition,
    PetabProblem,
    Phase,
    Source,
    Symbol,
    _Formulas,
)
from degranulation.estimation.priors import Prior
from degranulation.estimation.problem import FreeParameter, Readout
from degranulation.formats.sbml.math import names_in

if TYPE_CHECKING:
    import sympy

    from degranulation.formats.sbml import SbmlImport
    from degranulation.solvers import Solver


def _petab() -> Any:
    try:
        import petab.v1
    except ImportError:
        raise ImportError(
            "PEtab support needs the petab library: pip install 'degranulation[petab]'"
        ) from None
    return petab.v1


def load(
    file: Path,
    *,
    solver: str | Solver,
    rtol: float,
    atol: float | None,
    cache_dir: str | Path | bool | None = None,
    strict_units: bool = False,
) -> PetabProblem:
    """What :func:`degranulation.read_petab` does: read, lint, check and build."""
    petab = _petab()
    config = read_yaml(file)
    features = list(yaml_features(config))
    if features:
        raise UnsupportedFeatureError(listing(features), features=features, file=str(file))
    with petab_log() as messages:
        try:
            problem = petab.Problem.from_yaml(str(file))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"cannot read the PEtab problem: {exc}", file=str(file)) from None
        check_problem(problem, str(file))  # before lint, which trips over what this refuses
        has_errors = petab.lint.lint_problem(problem)
    if has_errors:
        raise DataError(
            "the PEtab problem does not pass petab's lint: " + "; ".join(messages),
            file=str(file),
            hint="see https://petab.readthedocs.io/en/latest/v1/documentation_data_format.html",
        )
    _check_numbers(problem.measurement_df, file)
    model_file = file.parent / config["problems"][0]["sbml_files"][0]
    return Builder(problem, file, model_file).build(solver, rtol, atol, cache_dir, strict_units=strict_units)


def _check_numbers(table: Any, file: Path) -> None:
    """Times and measurements are numbers (petab's lint lets text such as ``x`` through)."""
    for column in ("time", "measurement"):
        for row, value in enumerate(table[column], start=2):  # row 1 holds the headers
            try:
                float(value)
            except (TypeError, ValueError):
                raise DataError(
                    f"{column} {value!r} is not a number",
                    file=str(file),
                    location=f"measurement table, row {row}",
                ) from None


def read_yaml(file: Path) -> dict[str, Any]:
    import yaml

    if not file.is_file():
        raise DataError(f"no such PEtab YAML file '{file}'", file=str(file), hint="check the path")
    try:
        config = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DataError(f"not valid YAML: {' '.join(str(exc).split())}", file=str(file)) from None
    if not isinstance(config, dict) or "format_version" not in config or "problems" not in config:
        raise DataError(
            "not a PEtab YAML file (it needs 'format_version' and 'problems')",
            file=str(file),
        )
    problems = config["problems"]
    if not isinstance(problems, list) or not all(isinstance(p, dict) for p in problems):
        raise DataError(
            f"'problems' is {type(problems).__name__} {problems!r:.60}, not a list of problems",
            file=str(file),
            location="problems",
            hint="write 'problems:' followed by '- sbml_files: [...]' entries",
        )
    if not isinstance(config.get("parameter_file"), str | list) or not config["parameter_file"]:
        raise DataError(
            "no 'parameter_file': a PEtab problem needs its parameter table",
            file=str(file),
            location="parameter_file",
            hint="add 'parameter_file: parameters.tsv'",
        )
    return config


def yaml_features(config: Mapping[str, Any]) -> Iterator[str]:
    version = str(config.get("format_version"))
    if version.split(".")[0] != "1":
        yield f"PEtab format version {version} (only 1 is supported)"
    problems = config.get("problems") or []
    if len(problems) != 1:
        yield f"{len(problems)} problems in one YAML file (exactly one is supported)"
    for problem in problems[:1]:
        models = problem.get("sbml_files") or []
        if len(models) != 1:
            yield f"{len(models)} SBML files (exactly one is supported)"
        for key in ("model_files", "mapping_files"):
            if problem.get(key):
                yield f"'{key}' (PEtab 2)"
    if config.get("extensions"):
        yield f"PEtab extensions {sorted(config['extensions'])}"


def check_problem(problem: Any, file: str) -> None:
    """Refuse what petab's lint lets through or trips over: no measurements, negative times,
    measurements whose squared residuals overflow, and formulas that are not finite numbers."""
    from degranulation.estimation.assay import MAX_DATA_MAGNITUDE

    table = problem.measurement_df
    if table is None or len(table) == 0:
        raise DataError("the measurement table has no rows", file=file, hint="add measurements to fit")
    for r, (time, value) in enumerate(zip(table["time"], table["measurement"], strict=True)):
        where = f"measurements row {r + 1}"
        if isinstance(time, int | float) and time < 0:
            raise DataError(
                f"time {time:g} is negative", file=file, location=f"{where}, time", hint="times start at 0"
            )
        if isinstance(value, int | float) and abs(value) >= MAX_DATA_MAGNITUDE:
            raise DataError(
                f"measurement {value:g} is too large to fit: its squared residual overflows",
                file=file,
                location=f"{where}, measurement",
                hint="give the data in a larger unit (and scale the observable formula)",
            )
    if problem.observable_df is not None:
        for oid, row in problem.observable_df.iterrows():
            for column in ("observableFormula", "noiseFormula"):
                parse_formula(row[column], file, f"observables[{oid}].{column}")


@contextlib.contextmanager
def petab_log() -> Iterator[list[str]]:
    """Collect the errors petab logs; keep its log and its own deprecation warnings (about
    its use of pandas, nothing the user can change) off the console."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = " ".join(record.getMessage().split())
            if record.levelno >= logging.ERROR and message != "Not OK":
                messages.append(message)

    logger = logging.getLogger("petab")
    handler, propagate = Collect(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            for category in (DeprecationWarning, FutureWarning):
                warnings.filterwarnings("ignore", category=category, module=r"petab(\.|$)")
            yield messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def listing(features: Sequence[str]) -> str:
    return f"{len(features)} PEtab or SBML construct(s) are not supported: " + "; ".join(features)


class Builder:
    """Turns a linted ``petab.v1.Problem`` and its SBML model into a :class:`PetabProblem`,
    collecting every unsupported construct on the way."""

    def __init__(self, problem: Any, file: Path, model_file: Path) -> None:
        self.problem = problem
        self.file = str(file)
        self.model_file = model_file
        self.sbml = problem.model.sbml_model
        self.features: list[str] = []
        self.expressions: list[tuple[sympy.Expr, list[sympy.Symbol]]] = []  # and their symbols
        self.table = {  # parameter id: (is estimated, nominal value)
            pid: (bool(int(row["estimate"])), float(row["nominalValue"]))
            for pid, row in problem.parameter_df.iterrows()
        }
        self.estimated = tuple(pid for pid, (estimate, _) in self.table.items() if estimate)

    # -- sources ------------------------------------------------------------------------------

    def table_source(self, pid: str) -> Source:
        estimate, nominal = self.table[pid]
        return Source(free=self.estimated.index(pid)) if estimate else Source(constant=nominal)

    def cell_source(self, value: Any, where: str) -> Source:
        """A table cell (a number or a parameter id) as a source; NaN stays a NaN constant."""
        from petab.v1.core import to_float_if_float

        value = to_float_if_float(value)
        if isinstance(value, int | float):
            return Source(constant=float(value))
        name = str(value).strip()
        if name in self.table:
            return self.table_source(name)
        k = self.parameter_index.get(name)
        if k is not None:
            return Source(constant=float(self.default_parameters[k]))
        raise DataError(
            f"'{name}' is neither a number, nor a parameter of the parameter table or the model",
            file=self.file,
            location=where,
            hint=_did_you_mean(name, [*self.table, *self.parameter_index]) or "add it to the parameter table",
        )

    # -- build --------------------------------------------------------------------------------

    def build(
        self,
        solver: str | Solver,
        rtol: float,
        atol: float | None,
        cache_dir: str | Path | bool | None = None,
        *,
        strict_units: bool = False,
    ) -> PetabProblem:
        from degranulation.codegen import compile_model
        from degranulation.formats.sbml import import_sbml
        from degranulation.sensitivities import observable_derivatives, state_events_for_sensitivities
        from degranulation.solvers import solver_for_fits
        from degranulation.validation import validate

        self.check_tables()
        priors = self.priors()
        try:
            # events whose math the tables change run as ModelEvents, reading each condition's values
            events_as_steps = not self.events_use_table_values()
            imported = import_sbml(
                self.model_file, strict_units=strict_units, events_as_steps=events_as_steps
            )
        except UnsupportedFeatureError as exc:
            self.features += [f"{exc.file}: {feature}" for feature in exc.features]
            imported = None
        state_events = None
        if imported is not None:
            model = imported.model
            with warnings.catch_warnings():  # parameters only initial assignments use are common
                warnings.simplefilter("ignore", ModelWarning)
                validate(model)
            compiled = self.compiled = compile_model(model, sensitivities=True, cache_dir=cache_dir)
            try:
                state_events = state_events_for_sensitivities(model, compiled)
            except UnsupportedFeatureError as exc:
                self.features += exc.features
            self.setup_model(imported)
        if self.features:
            raise UnsupportedFeatureError(listing(self.features), features=self.features, file=self.file)
        assert imported is not None
        observations = tuple(self.observations())
        overrides = self.overrides(observations)
        self.override_free = {name: free for name, (_, free) in overrides.items()}
        measurements = self.problem.measurement_df
        ids = [o.id for o in observations]
        readout_of = np.array([ids.index(v) for v in measurements["observableId"]], dtype=np.int64)
        conditions = self.conditions(readout_of)
        readouts = tuple(
            Readout(o.id, False, k, "dimensionless", "dimensionless", "sd", 1.0, False)
            for k, o in enumerate(observations)
        )
        problem = PetabProblem(
            model=model,
            compiled=compiled,
            derivatives=observable_derivatives(model, compiled),
            free=tuple(self.free_parameter(pid, imported) for pid in self.estimated),
            conditions=conditions,
            readouts=readouts,
            data=measurements["measurement"].to_numpy(dtype=float),
            base_sigma=np.ones(len(measurements)),
            readout_of=readout_of,
            times=measurements["time"].to_numpy(dtype=float) * self.time_factor,
            labels=tuple(self.labels),
            solver=solver_for_fits(solver, rtol=rtol, atol=atol),
            file=self.file,
            measurement_table=measurements.reset_index(drop=True),
            estimated=self.estimated,
            held=np.full(len(self.estimated), np.nan),
            active=tuple(range(len(self.estimated))),
            observations=observations,
            overrides=overrides,
            time_factor=self.time_factor,
            state_factors=self.state_factors,
            parameter_factors=self.parameter_factors,
            observable_factors=self.observable_factors,
            formulas=_Formulas(self.source()),
            events=self.events,
            has_noise_parameters=self.noise_depends_on_parameters(observations),
            priors=priors,
            state_events=state_events,
        )
        return _with_nominal_state(problem, rtol, atol)

    # -- tables -------------------------------------------------------------------------------

    def check_tables(self) -> None:
        """Initialisation priors other than PEtab's default change the starts: refused rather
        than ignored (objective priors are read by :meth:`priors`)."""
        table = self.problem.parameter_df
        for pid, value in table.get("initializationPriorType", {}).items():
            if isinstance(value, str) and value and value != "parameterScaleUniform":
                self.features.append(f"parameter table: initializationPriorType '{value}' of '{pid}'")

    def priors(self) -> tuple[Prior | None, ...]:
        """Each estimated parameter's objective prior (``None``: none, or PEtab's default).

        Raises
        ------
        DataError
            For prior parameters that are not two numbers or that the prior cannot take.
        """
        table = self.problem.parameter_df
        priors: list[Prior | None] = []
        for pid in self.estimated:
            row = table.loc[pid]
            kind = row.get("objectivePriorType")
            if not isinstance(kind, str) or not kind:
                priors.append(None)
                continue
            where = f"parameters[{pid}].objectivePriorParameters"
            text = row.get("objectivePriorParameters")
            try:
                a, b = (float(part) for part in str(text).split(";"))
                priors.append(
                    Prior(
                        kind,
                        a,
                        b,
                        scale=str(row.get("parameterScale", "lin")),  # type: ignore[arg-type]
                        lower=float(row["lowerBound"]),
                        upper=float(row["upperBound"]),
                    )
                )
            except ValueError as exc:
                detail = str(exc) if "prior" in str(exc) else f"'{text}' is not two numbers 'a;b'"
                raise DataError(
                    f"{kind} prior of '{pid}': {detail}", file=self.file, location=where
                ) from None
            except UnsupportedFeatureError as exc:
                self.features += [f"parameter table: {f} ('{pid}')" for f in exc.features]
                priors.append(None)
        return tuple(priors)

    def setup_model(self, imported: SbmlImport) -> None:
        """Index the model's entities by SBML id, find the model value of one SBML unit of
        each, and check what the tables do to the model."""
        from degranulation.network import UnitValue
        from degranulation.protocols import protocol_steps, resolve
        from degranulation.values import internal_value

        model, compiled, units = imported.model, self.compiled, imported.units
        self.imported = imported
        self.sbml_id = {new: sid for sid, new in imported.ids.items()}

        def factor(name: str) -> float:
            unit = units.get(self.sbml_id.get(name, ""))
            return 1.0 if unit is None else internal_value(model, name, UnitValue(unit.factor, unit.text))

        self.state_factors = np.array([factor(s) for s in compiled.species])
        self.parameter_factors = np.array([factor(p) for p in compiled.parameters])
        self.observable_factors = np.array(
            [1.0 / units[self.sbml_id.get(o, o)].factor for o in compiled.observables]
        )
        self.time_factor = model.units.magnitude(units["time"].factor, units["time"].text)
        self.default_parameters = compiled.default_parameters / self.parameter_factors
        self.parameter_index = {self.sbml_id.get(p, p): k for k, p in enumerate(compiled.parameters)}
        self.species_index = {self.sbml_id.get(s, s): i for i, s in enumerate(compiled.species)}
        self.observable_index = {self.sbml_id.get(o, o): q for q, o in enumerate(compiled.observables)}
        self.events = resolve(model, compiled, protocol_steps(model, None))
        self.initial_values = self.species_initial_values()
        columns = [c for c in self.problem.condition_df.columns if c != "conditionName"]
        for column in columns:
            if column not in self.parameter_index and column not in self.species_index:
                kind = "an assignment-rule variable" if column in self.observable_index else "not a state"
                self.features.append(f"condition table sets '{column}', which is {kind} of the model")
        changed = set(self.table) | set(columns)
        for assignment in self.sbml.getListOfInitialAssignments():
            target = assignment.getSymbol()
            used = sorted(names_in(assignment.getMath()) & changed)
            # a state's is evaluated per condition; a constant's from constants is a rule
            if used and target not in self.species_index and target not in self.observable_index:
                self.features.append(
                    f"initial assignment of '{target}' depends on {used}, which the PEtab tables set"
                )
        if (self.events or model.events) and self.has_preequilibration():
            self.features.append("preequilibration of a model with SBML events")

    def events_use_table_values(self) -> bool:
        """Whether an event's trigger, delay or assignments use a parameter the PEtab tables
        set (a condition column, an estimated parameter, or a nominal value other than the
        SBML one): such events are imported as ModelEvents, which read the condition's values,
        rather than as protocol steps fixed at the SBML values at import."""
        columns = {c for c in self.problem.condition_df.columns if c != "conditionName"}
        changed = columns | set(self.estimated)
        for pid, (_, nominal) in self.table.items():
            parameter = self.sbml.getParameter(pid)
            if parameter is not None and parameter.getValue() != nominal:
                changed.add(pid)
        for event in self.sbml.getListOfEvents():
            maths = [event.getTrigger(), event.getDelay(), *event.getListOfEventAssignments()]
            if any(names_in(m.getMath()) & changed for m in maths if m is not None and m.isSetMath()):
                return True
        return False

    def has_preequilibration(self) -> bool:
        table = self.problem.measurement_df
        column = "preequilibrationConditionId"
        return column in table and any(_condition_id(v) for v in table[column])

    # -- formulas -----------------------------------------------------------------------------

    def formula(self, expr: sympy.Expr, resolve: Any, text: str) -> Formula | None:
        """Register an expression; ``resolve(name)`` gives each symbol's :class:`Symbol`
        (or None after recording why not)."""
        names = sorted(expr.free_symbols, key=lambda s: s.name)
        symbols = [resolve(s.name) for s in names]
        if any(s is None for s in symbols):
            return None
        self.expressions.append((expr, names))
        return Formula(len(self.expressions) - 1, tuple(symbols), text)

    def species_initial_values(self) -> list[float | Formula]:
        """Each species' initial value in SBML numbers: a number, or a formula of parameters
        and other species (an initial assignment, or an amount/concentration to convert with
        the compartment size), in dependency order of evaluation. A model variable (an SBML
        parameter with a rate rule) starts at its initial assignment or its value."""
        from degranulation.errors import ExpressionError
        from degranulation.expressions import TIME_NAME, parse_expression
        from degranulation.formats.sbml.math import MathFeature, ast_to_text

        found: list[float | Formula] = []
        names = dict(self.imported.ids)
        for mid in self.compiled.species:
            sid = self.sbml_id.get(mid, mid)
            species = self.sbml.getSpecies(sid)
            compartment = "" if species is None else names[species.getCompartment()]
            assignment = self.sbml.getInitialAssignment(sid)
            if assignment is not None:
                try:
                    text = ast_to_text(assignment.getMath(), names, {})
                    expr = self.inline_rules(parse_expression(text).expr)
                except (MathFeature, ExpressionError) as exc:
                    self.features.append(f"initial assignment of '{sid}': {exc}")
                    found.append(math.nan)
                    continue
            elif species is None:
                found.append(float(self.sbml.getParameter(sid).getValue()))
                continue
            elif species.getHasOnlySubstanceUnits() and species.isSetInitialConcentration():
                text = f"{species.getInitialConcentration()!r}*{compartment}"
                expr = parse_expression(text).expr
            elif not species.getHasOnlySubstanceUnits() and species.isSetInitialAmount():
                text = f"{species.getInitialAmount()!r}/{compartment}"
                expr = parse_expression(text).expr
            else:
                value = (
                    species.getInitialAmount()
                    if species.isSetInitialAmount()
                    else species.getInitialConcentration()
                )
                found.append(float(value))
                continue
            if expr.is_number:
                found.append(float(expr))
                continue

            def resolve(name: str, where: str = sid) -> Symbol | None:
                if name == TIME_NAME:
                    return Symbol("time")
                if name in self.compiled.parameters:
                    return Symbol("parameter", self.compiled.parameters.index(name), name=name)
                if name in self.compiled.species:
                    return Symbol("initial", self.compiled.species.index(name), name=name)
                self.features.append(
                    f"initial assignment of '{where}' uses '{name}', which is not a constant"
                )
                return None

            formula = self.formula(expr, resolve, f"{sid} = {text}")
            found.append(math.nan if formula is None else formula)
        return found

    def inline_rules(self, expr: sympy.Expr) -> sympy.Expr:
        """``expr`` with each assignment-rule variable (an observable of the import) replaced by
        its math, which is its value at t0 where an initial assignment uses it."""
        from degranulation.expressions import parse_expression

        rules = {o.id: o.expr for o in self.imported.model.observables}
        for _ in range(len(rules) + 1):  # a cycle is refused by the model's validation
            used = {s for s in expr.free_symbols if s.name in rules}
            if not used:
                break
            expr = expr.xreplace({s: parse_expression(rules[s.name]).expr for s in used})
        return expr

    def initial_order(self) -> list[int]:
        """Species with initial formulas, each after the species its formula uses."""
        pending = {i: v for i, v in enumerate(self.initial_values) if isinstance(v, Formula)}
        order: list[int] = []
        while pending:
            ready = [
                i
                for i, f in pending.items()
                if not any(s.kind == "initial" and s.index in pending for s in f.symbols)
            ]
            if not ready:
                self.features.append(
                    "initial assignments of "
                    f"{sorted(self.compiled.species[i] for i in pending)} depend on each other in a cycle"
                )
                break
            order += ready
            for i in ready:
                del pending[i]
        return order

    def observations(self) -> Iterator[Observation]:
        for oid, row in self.problem.observable_df.iterrows():
            formulas = []
            for column in ("observableFormula", "noiseFormula"):
                where = f"observables[{oid}].{column}"
                expr = parse_formula(row[column], self.file, where)
                formulas.append(
                    self.formula(
                        expr,
                        lambda name, o=str(oid), w=where: self.observable_symbol(name, o, w),
                        str(row[column]),
                    )
                )
            transformation = _text_cell(row.get("observableTransformation"), "lin")
            distribution = _text_cell(row.get("noiseDistribution"), "normal")
            formula, noise = formulas
            assert formula is not None and noise is not None
            yield Observation(str(oid), formula, noise, transformation, distribution)

    def observable_symbol(self, name: str, observable: str, where: str) -> Symbol:
        """What a name in an observable's formulas means (SBML ids and PEtab ids)."""
        if name == "time":
            return Symbol("time")
        for prefix in ("observableParameter", "noiseParameter"):
            if name.startswith(prefix) and name.endswith(f"_{observable}"):
                return Symbol("override", name=name)
        if name in self.species_index:
            return Symbol("state", self.species_index[name], name=name)
        if name in self.observable_index:
            return Symbol("observable", self.observable_index[name], name=name)
        if name in self.parameter_index:
            return Symbol("parameter", self.parameter_index[name], name=name)
        if name in self.table:
            return Symbol("table", source=self.table_source(name), name=name)
        known = [*self.species_index, *self.observable_index, *self.parameter_index, *self.table]
        raise DataError(
            f"'{name}' is not a species, parameter, compartment or assignment-rule variable of the "
            "model, a parameter of the parameter table, nor a placeholder of this observable",
            file=self.file,
            location=where,
            hint=_did_you_mean(name, known),
        )

    def overrides(self, observations: Sequence[Observation]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per placeholder, its constant and estimated-parameter index in every measurement
        (NaN and -1 where another observable is measured)."""
        from petab.v1.measurements import split_parameter_replacement_list

        table = self.problem.measurement_df
        n = len(table)
        found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for observation in observations:
            for symbol in (*observation.formula.symbols, *observation.noise.symbols):
                if symbol.kind == "override":
                    found.setdefault(symbol.name, (np.full(n, np.nan), np.full(n, -1)))
        for r, row in enumerate(table.to_dict("records")):
            for prefix, column in (("observable", "observableParameters"), ("noise", "noiseParameters")):
                where = f"measurements row {r + 1}, {column}"
                try:
                    values = split_parameter_replacement_list(row.get(column))
                except ValueError as exc:
                    raise DataError(str(exc), file=self.file, location=where) from None
                for position, value in enumerate(values):
                    name = f"{prefix}Parameter{position + 1}_{row['observableId']}"
                    if name in found:
                        source = self.cell_source(value, where)
                        found[name][0][r], found[name][1][r] = source.constant, source.free
        return found

    # -- conditions ---------------------------------------------------------------------------

    def conditions(self, readout_of: np.ndarray) -> tuple[PetabCondition, ...]:
        """One simulation per (preequilibration, simulation) condition pair measured."""
        table = self.problem.measurement_df
        preequilibration = (
            table["preequilibrationConditionId"]
            if "preequilibrationConditionId" in table
            else [None] * len(table)
        )
        keys = [
            (_condition_id(pre), str(sim))
            for pre, sim in zip(preequilibration, table["simulationConditionId"], strict=True)
        ]
        order = self.initial_order()
        times = table["time"].to_numpy(dtype=float) * self.time_factor
        self.labels = [sim if pre is None else f"{sim} after {pre}" for pre, sim in keys]
        found = []
        for key in dict.fromkeys(keys):
            pre, sim = key
            rows = np.array([r for r, k in enumerate(keys) if k == key], dtype=np.int64)
            finite = times[rows][np.isfinite(times[rows])]
            grid = np.unique(np.concatenate([[0.0], finite]))
            has_steady_state = bool(np.any(np.isinf(times[rows])))
            if has_steady_state:
                grid = np.append(grid, max(STEADY_STATE_TIME, 10.0 * grid[-1]))
            index = np.where(np.isinf(times[rows]), len(grid) - 1, np.searchsorted(grid, times[rows]))
            found.append(
                PetabCondition(
                    label=self.labels[rows[0]],
                    p=np.empty(0),
                    x0=np.empty(0),
                    events=self.events,
                    times=grid,
                    rows=rows,
                    time_index=index,
                    readout=readout_of[rows],
                    simulation=self.phase(sim, after_preequilibration=pre is not None, order=order),
                    preequilibration=None
                    if pre is None
                    else self.phase(pre, after_preequilibration=False, order=order),
                    has_steady_state=has_steady_state,
                )
            )
        return tuple(found)

    def phase(self, condition: str, *, after_preequilibration: bool, order: Sequence[int]) -> Phase:
        """A condition's values: the condition table first, then the parameter table, then
        the model (initial assignments evaluated with the condition's parameters)."""
        table = self.problem.condition_df
        row = table.loc[condition]
        parameters = self.default_parameters.copy()
        parameter_free: list[tuple[int, int]] = []
        for k, name in enumerate(self.compiled.parameters):
            sid = self.sbml_id.get(name, name)
            cell = row.get(sid, math.nan)
            where = f"conditions[{condition}].{sid}"
            if not _is_nan(cell):
                source = self.cell_source(cell, where)
            elif sid in self.table:
                source = self.table_source(sid)
            else:
                continue
            if source.free >= 0:
                parameter_free.append((k, source.free))
            else:
                parameters[k] = source.constant
        initial = np.zeros(len(self.compiled.species))
        initial_free: list[tuple[int, int]] = []
        keep = np.zeros(len(initial), dtype=bool)
        formulas = []
        set_here = set()
        for i, name in enumerate(self.compiled.species):
            sid = self.sbml_id.get(name, name)
            cell = row.get(sid, math.nan)
            if not _is_nan(cell):
                where = f"conditions[{condition}].{sid}"
                source = self.cell_source(cell, where)
                if source.constant < 0:
                    raise DataError(
                        f"initial value {source.constant:g} of species '{sid}' is negative",
                        file=self.file,
                        location=where,
                        hint="amounts and concentrations are >= 0",
                    )
                if source.free >= 0:
                    initial_free.append((i, source.free))
                else:
                    initial[i] = source.constant
                set_here.add(i)
            elif after_preequilibration:
                keep[i] = True
            elif isinstance(self.initial_values[i], Formula):
                pass  # evaluated below, in dependency order
            else:
                initial[i] = float(self.initial_values[i])  # type: ignore[arg-type]
        if not after_preequilibration:
            formulas = [(i, self.initial_values[i]) for i in order if i not in set_here]
        return Phase(
            condition=condition,
            parameters=parameters,
            parameter_free=tuple(parameter_free),
            initial=initial,
            initial_free=tuple(initial_free),
            initial_formulas=tuple(formulas),  # type: ignore[arg-type]
            keep=keep,
        )

    # -- the rest -----------------------------------------------------------------------------

    def free_parameter(self, pid: str, imported: SbmlImport) -> FreeParameter:
        row = self.problem.parameter_df.loc[pid]
        unit = imported.units.get(pid) if pid in self.parameter_index else None
        return FreeParameter(
            name=pid,
            unit="dimensionless" if unit is None else unit.text,
            scale=str(row.get("parameterScale", "lin")),  # type: ignore[arg-type]
            lower=float(row["lowerBound"]),
            upper=float(row["upperBound"]),
            nominal=float(row["nominalValue"]),
            per_unit=1.0 if unit is None else 1.0 / unit.factor,
        )

    def noise_depends_on_parameters(self, observations: Sequence[Observation]) -> bool:
        for observation in observations:
            for symbol in observation.noise.symbols:
                if symbol.kind in ("state", "observable", "parameter"):
                    return True
                if symbol.kind == "table" and symbol.source.free >= 0:
                    return True
                if symbol.kind == "override" and np.any(self.override_free[symbol.name] >= 0):
                    return True
        return False

    def source(self) -> str:
        """The generated module: ``f{k}(v)`` the value of expression ``k`` and ``g{k}(v)`` its
        partial derivatives, ``v`` the values of its symbols in order."""
        body = []
        modules = {"numpy"}
        for k, (expr, names) in enumerate(self.expressions):
            value, partials, needed = compiled_text(expr, names)
            body.append(f"def f{k}(v):\n{value}")
            body.append(f"def g{k}(v):\n{partials}")
            modules |= needed
        imports = "\n".join(f"import {m}" for m in sorted(modules))
        return (
            f'"""Generated by degranulation.estimation.petab; do not edit."""\n{imports}\n\n\n'
            + "\n\n".join(body)
        )


def _with_nominal_state(problem: PetabProblem, rtol: float, atol: float | None) -> PetabProblem:
    """Fill each condition's ``p`` and ``x0`` (simulation phase, nominal parameters) and the
    default absolute tolerance, which needs them."""
    from degranulation.simulation import default_atol
    from degranulation.solvers import solver_from

    theta = problem._theta(problem.nominal)
    columns = np.full(len(problem.estimated), -1)
    conditions = []
    for condition in problem.conditions:
        assert isinstance(condition, PetabCondition)
        p, _, x0, _ = problem._phase(condition.simulation, theta, columns, 0, None, None)
        conditions.append(dataclasses.replace(condition, p=p, x0=x0))
    if atol is None and conditions:  # each species' own scale (one atol from the largest hid small ones)
        atol = default_atol(np.vstack([c.x0 for c in conditions]), rtol)  # type: ignore[assignment]
    solver = solver_from(problem.solver, rtol=rtol, atol=atol)
    return dataclasses.replace(problem, conditions=tuple(conditions), solver=solver)


def _is_nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _condition_id(value: Any) -> str | None:
    return None if _is_nan(value) else str(value)


def _text_cell(value: Any, default: str) -> str:
    return default if _is_nan(value) else str(value)


def _did_you_mean(name: str, known: Sequence[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean '{close[0]}'?" if close else None
