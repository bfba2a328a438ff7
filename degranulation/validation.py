"""``validate(model)``: names, units of every rate law and observable, values; every issue is
collected first, then errors are raised together as one ``ModelValidationError``.

Issue codes (stable, for pipelines):

====  ==========================================================================
F0xx  file structure (from :mod:`degranulation.schema`)
N201  unknown name                     N202  duplicate id
N203  reserved or malformed id         N301  unused parameter (warning)
E501  expression or equation cannot be parsed
U101  rate law is not an amount per time    U102  species value of the wrong kind
U103  mass action volume is ambiguous       U104  unknown unit
U105  wrong unit dimension for its place    U106  observable unit does not match
V401  value not finite                      V402  negative or zero value
V403  negative parameter (warning)          N204  observable used in an expression
R601  reversible mass action needs kr       R602  irreversible with kr
R603  model variable changed other than by '0 -> x' with an explicit rate, or declared
      with a compartment, a molar mass or as a boundary species
U107  event trigger, assignment, delay or priority of the wrong dimension
====  ==========================================================================
"""

from __future__ import annotations

import difflib
import keyword
import math
import re
from collections.abc import Generator, Iterable, Iterator
from typing import Any

from degranulation.dimensions import (
    compartment_dimension,
    compartment_sizes,
    dims,
    spatial_dimensions,
    species_dimension,
)
from degranulation.errors import (
    DuplicateName,
    ExpressionError,
    ModelIssue,
    SyntaxIssue,
    UnitError,
    UnitMismatch,
    UnknownName,
    UnusedName,
    ValueIssue,
    settle,
)
from degranulation.expressions import RESERVED, TIME_NAME, ParsedExpression, parse_condition, parse_expression
from degranulation.kinetics import (
    DimensionError,
    check_condition,
    checked_rate_law,
    expression_dimension,
    symbol_dimensions,
)
from degranulation.network import (
    NOT_ENFORCED,
    Compartment,
    Model,
    ModelEvent,
    Observable,
    Parameter,
    Species,
    UnitValue,
)
from degranulation.units import case_hint, dimensionality, format_dimension
from degranulation.values import value_issue

_ID_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # used with fullmatch: "$" matches before "\n"


def validate(model: Model) -> list[ModelIssue]:
    """Check a model; raise every error at once, warn about the rest.

    ``dg.validate`` (:func:`degranulation.library.validate`) also takes a bundled model id or a
    model file's path.

    Parameters
    ----------
    model : Model
        The model.

    Returns
    -------
    list of ModelIssue
        The warnings (also issued as :class:`~degranulation.errors.ModelWarning`, but for the
        unit mismatches of a model that does not enforce units, which its import warned of).

    Raises
    ------
    ModelValidationError
        Grouping every error, each with its location, message and hint.

    Examples
    --------
    >>> import degranulation as dg
    >>> dg.validate(dg.load_model("ige_fceri_crosslinking"))
    []
    """
    name = model.source or f"model '{model.id}'"
    return settle(find_issues(model), name, stacklevel=2, quiet=NOT_ENFORCED)


def find_issues(model: Model) -> list[ModelIssue]:
    """Every error and warning in a model, in file order (nothing is raised)."""
    checker = _Checker(model)
    issues = list(checker.run())
    for issue in issues:
        if not model.units_enforced and issue.code in NOT_ENFORCED:
            issue.severity = "warning"
    if not any(issue.severity == "error" for issue in issues):
        issues += checker.unused()
    for issue in issues:
        if issue.file is None:
            issue.file = model.source
    return issues


class _Checker:
    def __init__(self, model: Model) -> None:
        self.model = model
        self.observables = {o.id: o for o in model.observables}
        self.known = {TIME_NAME} | set(model.by_id) - set(self.observables)
        self.used: set[str] = set()

    def run(self) -> Iterator[ModelIssue]:
        yield from self.ids()
        yield from self.unit_system()
        yield from self.compartments()
        yield from self.species()
        yield from self.parameters()
        table = symbol_dimensions(self.model)
        for index in range(len(self.model.reactions)):
            yield from self.reaction(index, table)
        for observable in self.model.observables:
            yield from self.observable(observable, table)
        yield from self.protocols()
        for event in self.model.events:
            yield from self.event(event, table)

    def unused(self) -> Iterator[ModelIssue]:
        """Unused parameters (only meaningful once every expression parsed)."""
        for parameter in self.model.parameters:
            if parameter.id not in self.used:
                yield UnusedName(
                    f"parameter '{parameter.id}' is declared but no rate law or observable uses it",
                    code="N301",
                    severity="warning",
                    location=f"parameters.{parameter.id}",
                )

    def ids(self) -> Iterator[ModelIssue]:
        if not _ID_RE.fullmatch(self.model.id):
            yield ModelIssue(f"model id '{self.model.id}' is not an identifier", code="N203", location="id")
        seen: dict[str, str] = {}
        groups: dict[str, tuple[Compartment | Species | Parameter | Observable, ...]] = {
            "compartments": self.model.compartments,
            "species": self.model.species,
            "parameters": self.model.parameters,
            "observables": self.model.observables,
        }
        for group, records in groups.items():
            for record in records:
                yield from self._check_id(record.id, f"{group}.{_shown(record.id)}", seen)
        reaction_ids: set[str] = set()
        for index, reaction in enumerate(self.model.reactions):
            if reaction.id in reaction_ids:
                yield DuplicateName(
                    f"reaction id '{reaction.id}' is used twice",
                    code="N202",
                    location=f"reactions[{index}].id",
                )
            reaction_ids.add(reaction.id)

    def _check_id(self, name: str, location: str, seen: dict[str, str]) -> Iterator[ModelIssue]:
        if not _ID_RE.fullmatch(name) or keyword.iskeyword(name):
            yield ModelIssue(
                f"'{_shown(name)}' is not a valid id",
                code="N203",
                location=location,
                hint="ids are ASCII identifiers: letters, digits and '_', not starting with a digit",
            )
        elif name in RESERVED:
            yield ModelIssue(
                f"'{name}' is reserved",
                code="N203",
                location=location,
                hint="'t' is time; E, I, S, N, O, Q and pi mean something to SymPy; rename it",
            )
        if name in seen:
            yield DuplicateName(
                f"id '{name}' is already used by {seen[name]}",
                code="N202",
                location=location,
                hint="ids are unique across compartments, species, parameters and observables",
            )
        else:
            seen[name] = location

    def unit_system(self) -> Iterator[ModelIssue]:
        try:
            self.model.units.check()
        except UnitError as exc:
            yield UnitMismatch(exc.message, code="U105", location=exc.location, hint=exc.hint)

    def compartments(self) -> Iterator[ModelIssue]:
        for compartment in self.model.compartments:
            location = f"compartments.{compartment.id}.size"
            yield from _size(compartment, location)
            yield from self._value(compartment.size, location, None, "", compartment.id)

    def species(self) -> Iterator[ModelIssue]:
        compartments = [c.id for c in self.model.compartments]
        sizes = compartment_sizes(self.model)
        for species in self.model.species:
            location = f"species.{species.id}"
            if species.variable:
                yield from self.variable(species, location)
                continue
            if species.compartment is not None and species.compartment not in compartments:
                yield _unknown(species.compartment, "compartment", compartments, f"{location}.compartment")
            if species.compartment is None and self.model.compartments:
                yield ModelIssue(
                    f"species '{species.id}' has no compartment",
                    code="N201",
                    location=f"{location}.compartment",
                    hint=f"add compartment = '{compartments[0]}' (or another compartment id)",
                )
            try:
                dim = species_dimension(species, sizes.get(species.compartment or ""))
            except ModelIssue as issue:
                yield issue
                continue
            yield from self._sign(species.id, species.initial, f"{location}.initial")
            if species.compartment is None and dim != dims(substance=1):
                yield ModelIssue(
                    f"species '{species.id}' is a concentration but has no compartment",
                    code="N201",
                    location=f"{location}.compartment",
                    hint="declare a compartment with a size and set compartment = '<id>'",
                )
            if species.molar_mass is not None:
                yield from self._value(species.molar_mass, f"{location}.molar_mass", None, "")
                if species.molar_mass.value <= 0:
                    yield ValueIssue(
                        f"'{species.molar_mass}' must be positive",
                        code="V402",
                        location=f"{location}.molar_mass",
                    )

    def variable(self, species: Species, location: str) -> Iterator[ModelIssue]:
        """A model variable has a unit of any dimension, and none of a chemical's attributes."""
        yield from self._value(species.initial, f"{location}.initial", None, "", species.id)
        chemical = {
            "compartment": species.compartment is not None,
            "molar_mass": species.molar_mass is not None,
            "boundary": species.boundary,
        }
        for key in (k for k, given in chemical.items() if given):
            yield ModelIssue(
                f"model variable '{species.id}' has a {key.replace('_', ' ')}, which only chemical "
                "species have",
                code="R603",
                location=f"{location}.{key}",
                hint="remove it, or make it a chemical species (variable = false)",
            )

    def parameters(self) -> Iterator[ModelIssue]:
        for parameter in self.model.parameters:
            location = f"parameters.{parameter.id}"
            yield from self._value(parameter.value, f"{location}.value", None, "", parameter.id)
            if parameter.estimate is None:
                continue
            low, high = parameter.estimate.bounds
            for index, bound in enumerate((low, high)):
                where = f"{location}.estimate.bounds[{index}]"
                yield from self._value(bound, where, _dim_or_none(parameter.value.unit), "the parameter's")
            if low.value >= high.value and low.unit == high.unit:
                yield ValueIssue(
                    "lower bound is not below the upper bound",
                    code="V402",
                    location=f"{location}.estimate.bounds",
                )

    def _value(
        self, value: UnitValue, location: str, expected: Any, what: str, name: str | None = None
    ) -> Iterator[ModelIssue]:
        """Unit and finiteness of a value; its sign and size too when it is ``name``'s value."""
        try:
            dim = dimensionality(value.unit)
        except UnitError as exc:
            yield UnitMismatch(exc.message, code="U104", location=location, hint=exc.hint)
            return
        if expected is not None and dim != expected:
            yield UnitMismatch(
                f"'{value}' is {format_dimension(dim)}; expected {what} ({format_dimension(expected)})",
                code="U105",
                location=location,
                hint=case_hint(value.unit, expected),
            )
        if name is not None:
            yield from self._sign(name, value, location)
        elif not math.isfinite(value.value):
            yield ValueIssue(
                f"value '{value}' is not finite", code="V401", location=location, hint="give a finite number"
            )

    def _sign(self, name: str, value: UnitValue, location: str) -> Iterator[ModelIssue]:
        issue = value_issue(self.model, name, value.value, str(value), location)
        if issue is not None:
            yield issue

    def reaction(self, index: int, table: dict[str, Any]) -> Iterator[ModelIssue]:
        reaction = self.model.reactions[index]
        location = f"reactions[{index}]"
        species_ids = list(self.model.species_ids)
        try:
            reactants, products, _ = reaction.parsed
        except ExpressionError as exc:
            yield _syntax(exc, f"{location}.equation")
            return
        names_ok = all(name in table for name, _ in (*reactants, *products))  # else reported already
        for name, _ in (*reactants, *products):
            if name not in species_ids:
                names_ok = False
                column = _column_of(name, reaction.equation)
                yield _unknown(
                    name, "species", species_ids, f"{location}.equation", column, f" in '{reaction.equation}'"
                )
        parsed = yield from self._parse(reaction.rate, f"{location}.rate", mass_action=True)
        if parsed is None or not names_ok:
            return
        missing = set(parsed.names) - set(table)
        if missing:
            return  # the name is unknown or its declaration is broken: reported already
        try:
            checked_rate_law(self.model, index, table)
        except ModelIssue as issue:
            yield issue

    def observable(self, observable: Any, table: dict[str, Any]) -> Iterator[ModelIssue]:
        location = f"observables.{observable.id}"
        parsed = yield from self._parse(observable.expr, f"{location}.expr")
        try:
            unit_dim = dimensionality(observable.unit)
        except UnitError as exc:
            yield UnitMismatch(exc.message, code="U104", location=f"{location}.unit", hint=exc.hint)
            return
        if parsed is None or set(parsed.names) - set(table):
            return
        try:
            dim = expression_dimension(parsed.expr, table)
        except DimensionError as exc:
            yield UnitMismatch(str(exc), code="U106", location=f"{location}.expr")
            return
        if dim != unit_dim:
            yield UnitMismatch(
                f"'{observable.expr}' is {format_dimension(dim)} but the unit '{observable.unit}' "
                f"is {format_dimension(unit_dim)}",
                code="U106",
                location=f"{location}.unit",
                hint=case_hint(observable.unit, dim) or "give a unit of the expression's dimension",
            )

    def protocols(self) -> Iterator[ModelIssue]:
        from degranulation.values import internal_value

        names = [p.id for p in self.model.protocols]
        if self.model.default_protocol and self.model.default_protocol not in names:
            yield _unknown(self.model.default_protocol, "protocol", names, "default_protocol")
        species = set(self.model.species_ids)
        settable = species | {p.id for p in self.model.parameters} | {c.id for c in self.model.compartments}
        for protocol in self.model.protocols:
            for index, step in enumerate(protocol.steps):
                location = f"protocols.{protocol.id}.steps[{index}]"
                self.used.add(step.target)
                yield from self._value(step.at, f"{location}.at", dims(time=1), "a time")
                if step.at.value < 0:
                    yield ValueIssue(
                        f"step time '{step.at}' is negative", code="V402", location=f"{location}.at"
                    )
                allowed = settable if step.action == "set" else species
                if step.target not in allowed:
                    kind = "species or parameter" if step.action == "set" else "species"
                    yield _unknown(step.target, kind, sorted(allowed), f"{location}.{step.action}")
                    continue
                if step.value is None:
                    continue
                try:
                    internal_value(self.model, step.target, step.value)
                except UnitError as exc:
                    yield UnitMismatch(
                        exc.message,
                        code="U105",
                        location=f"{location}.{step.action}.{step.target}",
                        hint=exc.hint,
                    )
                    continue
                if step.action == "set":  # an added amount may be negative: it removes
                    yield from self._sign(step.target, step.value, f"{location}.set.{step.target}")

    def event(self, event: ModelEvent, table: dict[str, Any]) -> Iterator[ModelIssue]:
        """A trigger compares like dimensions; each assignment has its target's dimension (a
        species or a parameter); a delay is a time and a priority a number."""
        location = f"events.{_shown(event.id)}"
        trigger = yield from self._parse(event.trigger, f"{location}.trigger", condition=True)
        if trigger is not None and not set(trigger.names) - set(table):
            try:
                check_condition(trigger.expr, table)
            except DimensionError as exc:
                yield UnitMismatch(str(exc), code="U107", location=f"{location}.trigger")
        wanted = {
            f"{location}.assign.{_shown(target)}": (text, table.get(target))
            for target, text in event.assignments
        }
        settable = [*self.model.species_ids, *(p.id for p in self.model.parameters)]
        for target, _ in event.assignments:
            if target not in settable:
                yield _unknown(
                    target, "species or parameter", settable, f"{location}.assign.{_shown(target)}"
                )
        if event.delay:
            wanted[f"{location}.delay"] = (event.delay, dims(time=1))
        if event.priority:
            wanted[f"{location}.priority"] = (event.priority, dims())
        for where, (text, dim) in wanted.items():
            parsed = yield from self._parse(text, where)
            if parsed is None or dim is None or set(parsed.names) - set(table):
                continue
            try:
                found = expression_dimension(parsed.expr, table)
            except DimensionError as exc:
                yield UnitMismatch(str(exc), code="U107", location=where)
                continue
            if found != dim and parsed.expr != 0:
                yield UnitMismatch(
                    f"'{text}' is {format_dimension(found)}; it must be {format_dimension(dim)}",
                    code="U107",
                    location=where,
                )

    def _parse(
        self, text: str, location: str, *, mass_action: bool = False, condition: bool = False
    ) -> Generator[ModelIssue, None, ParsedExpression | None]:
        try:
            parsed = (
                parse_condition(text) if condition else parse_expression(text, allow_mass_action=mass_action)
            )
        except ExpressionError as exc:
            yield _syntax(exc, location)
            return None
        self.used |= set(parsed.names)
        for name, column in parsed.names.items():
            if name in self.observables:
                yield UnknownName(
                    f"observable '{name}' cannot be used in an expression",
                    code="N204",
                    location=location,
                    column=column,
                    hint="expressions use species, parameters, compartments and t; "
                    f"write out its expression '{self.observables[name].expr}'",
                )
            elif name not in self.known:
                yield _unknown(name, "name", sorted(self.known - {TIME_NAME}), location, column)
        return parsed


def _size(compartment: Compartment, location: str) -> Iterator[ModelIssue]:
    """A size is a volume, an area or a length (3, 2 or 1 spatial dimensions), or
    ``1 dimensionless`` for a compartment without a size (0): its species are amounts, so
    another number would scale nothing."""
    size = compartment.size
    try:
        dim = compartment_dimension(compartment)
    except UnitError:
        return  # U104, from the value's own check
    spatial = spatial_dimensions(dim)
    if spatial is None:
        yield UnitMismatch(
            f"'{size}' is {format_dimension(dim)}; expected a volume ([length] ** 3), "
            "an area ([length] ** 2) or a length ([length])",
            code="U105",
            location=location,
            hint=case_hint(size.unit, dims(length=3)),
        )
    elif spatial == 0 and size.value != 1:
        yield UnitMismatch(
            f"'{size}' is dimensionless, which makes '{compartment.id}' a compartment without "
            "a size (0 spatial dimensions), whose species are amounts",
            code="U105",
            location=location,
            hint="write '1 dimensionless', or give a volume, an area or a length",
        )


def _shown(name: str) -> str:
    """An id as text on one line (a control character is written as its escape)."""
    return name if name.isprintable() else name.encode("unicode_escape").decode("ascii")


def _dim_or_none(unit: str) -> Any:
    try:
        return dimensionality(unit)
    except UnitError:
        return None


def _syntax(exc: ExpressionError, location: str) -> ModelIssue:
    return SyntaxIssue(exc.message, code="E501", location=location, column=exc.column, hint=exc.hint)


def _unknown(
    name: str,
    kind: str,
    choices: Iterable[str],
    location: str,
    column: int | None = None,
    context: str = "",
) -> ModelIssue:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return UnknownName(
        f"unknown {kind} '{name}'{context}",
        code="N201",
        location=location,
        column=column,
        hint=f"did you mean '{close[0]}'?" if close else "declare it, or check the spelling",
    )


def _column_of(name: str, text: str) -> int | None:
    match = re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text)
    return match.start() + 1 if match else None
