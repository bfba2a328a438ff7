"""What a model means physically: the dimension of every name and expression, each reaction's
extent rate (SBML semantics), and every value in the model's unit system.

A rate law is an *extent rate* (amount per time). ``mass_action(kf, kr)`` expands to
``kf·Π reactants − kr·Π products``; a direction whose product is a concentration per time is
multiplied by the volume of the compartment its species live in, so mixed units (antigen in
nM in the medium, receptors in molecules per cell) are converted, not assumed. A species'
ODE is the net extent rate divided by its compartment's size when it is a concentration.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import sympy

from degranulation.errors import ModelError, ModelIssue, UnitError, UnitMismatch
from degranulation.expressions import TIME_NAME, parse_expression, symbol
from degranulation.network import Compartment, Model, Parameter, Reaction, Species, UnitValue
from degranulation.units import (
    case_hint,
    dimensionality,
    format_dimension,
    parse_unit,
    registry,
)


def dims(**powers: int) -> Any:
    """A pint dimensionality, e.g. ``dims(substance=1, length=-3)``."""
    from pint.util import UnitsContainer

    return UnitsContainer({f"[{name}]": power for name, power in powers.items() if power})


def _amount() -> Any:
    return dims(substance=1)


def _concentration() -> Any:
    return dims(substance=1, length=-3)


def _volume() -> Any:
    return dims(length=3)


def _extent_rate() -> Any:
    return dims(substance=1, time=-1)


def species_dimension(species: Species) -> Any:
    """``[substance]`` for an amount species, ``[substance]/[length]**3`` for a concentration.

    Raises
    ------
    UnitMismatch
        If the initial value is neither (a mass needs ``molar_mass``).
    """
    location = f"species.{species.id}.initial"
    try:
        dim = dimensionality(species.initial.unit)
    except UnitError as exc:
        raise UnitMismatch(exc.message, code="U104", location=location, hint=exc.hint) from None
    mass = dims(mass=1)
    if species.molar_mass is not None and dim in (mass, mass / _volume()):
        return _amount() if dim == mass else _concentration()
    if dim in (_amount(), _concentration()):
        return dim
    hint = case_hint(species.initial.unit, _concentration())
    if dim in (mass, mass / _volume()):
        hint = f"give species '{species.id}' a molar_mass (e.g. '150 kDa') to use mass units"
    raise UnitMismatch(
        f"'{species.initial}' is {unit_description(species.initial.unit)}; "
        "expected a concentration ([substance] / [length] ** 3) or an amount ([substance])",
        code="U102",
        location=location,
        hint=hint,
    )


def unit_description(unit: str) -> str:
    """``"nanometer ([length])"``: a unit's long name and dimension, for messages."""
    return f"{registry().Unit(unit) if unit else 'dimensionless'} ({format_dimension(dimensionality(unit))})"


def symbol_dimensions(model: Model) -> dict[str, Any]:
    """Dimension of every name a model's expressions may use (valid records only)."""
    table: dict[str, Any] = {TIME_NAME: dims(time=1)}
    for compartment in model.compartments:
        table[compartment.id] = _volume()
    for parameter in model.parameters:
        try:
            table[parameter.id] = dimensionality(parameter.value.unit)
        except UnitError:
            continue
    for species in model.species:
        try:
            table[species.id] = species_dimension(species)
        except ModelIssue:
            continue
    return table


class DimensionError(Exception):
    """An expression mixes dimensions (internal: converted into a located issue)."""


def expression_dimension(expr: sympy.Expr, table: dict[str, Any]) -> Any:
    """Dimension of a SymPy expression given the dimension of each symbol.

    Raises
    ------
    DimensionError
        If terms of a sum differ, or a function gets a dimensional argument.
    """
    if isinstance(expr, sympy.Symbol):
        return table[expr.name]
    if isinstance(expr, sympy.Number):
        return dims()
    if isinstance(expr, sympy.Piecewise):
        return _piecewise_dimension(expr, table)
    args = [expression_dimension(a, table) for a in expr.args]
    if isinstance(expr, sympy.Mul):
        return functools.reduce(lambda a, b: a * b, args, dims())
    if isinstance(expr, sympy.Add | sympy.Min | sympy.Max | sympy.Abs):
        for term, dim in zip(expr.args[1:], args[1:], strict=True):
            if dim != args[0]:
                raise DimensionError(
                    f"'{expr.args[0]}' is {format_dimension(args[0])} but '{term}' is {format_dimension(dim)}"
                )
        return args[0]
    if isinstance(expr, sympy.Pow):
        base, exponent = args
        if exponent != dims():
            raise DimensionError(f"exponent '{expr.args[1]}' is {format_dimension(exponent)}")
        if base == dims():
            return base
        if not isinstance(expr.args[1], sympy.Number):
            raise DimensionError(
                f"'{expr.args[0]}' is {format_dimension(base)}, raised to a non-numeric power"
            )
        return base ** float(expr.args[1])
    for arg, dim in zip(expr.args, args, strict=True):
        if dim != dims():
            raise DimensionError(
                f"{type(expr).__name__}() needs a dimensionless argument; '{arg}' is {format_dimension(dim)}"
            )
    return dims()


def _piecewise_dimension(expr: sympy.Piecewise, table: dict[str, Any]) -> Any:
    """Every value of a piecewise has one dimension, its result's; its conditions compare
    like with like. Zero has every dimension (``piecewise(0, t < t_on, k)``, ``A > 0``)."""
    values = [(value, expression_dimension(value, table)) for value, _ in expr.args if value != 0]
    for value, dim in values[1:]:
        if dim != values[0][1]:
            raise DimensionError(
                f"piecewise values differ: '{values[0][0]}' is {format_dimension(values[0][1])} "
                f"but '{value}' is {format_dimension(dim)}"
            )
    for _, condition in expr.args:
        check_condition(condition, table)
    return values[0][1] if values else dims()


def check_condition(condition: sympy.Basic, table: dict[str, Any]) -> None:
    """Raise DimensionError where a comparison in ``condition`` compares unlike dimensions."""
    if isinstance(condition, sympy.core.relational.Relational):
        left, right = (expression_dimension(side, table) for side in condition.args)
        if left != right and 0 not in condition.args:
            raise DimensionError(
                f"comparison '{condition}' compares '{condition.lhs}', {format_dimension(left)}, "
                f"with '{condition.rhs}', {format_dimension(right)}"
            )
        return
    for part in condition.args:  # And, Or, Not; True and False have none
        check_condition(part, table)


@dataclass(frozen=True)
class MassActionTerm:
    """One direction of a mass-action reaction: ``sign · coefficient · Π x_i**order_i``."""

    sign: int
    coefficient: sympy.Expr
    orders: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class RateLaw:
    """A reaction's extent rate: SymPy ``expr``, plus ``terms`` when it is mass action.

    A mass-action law builds ``expr`` from its terms on first use: the numeric stages of a
    network of thousands of reactions need only the terms.
    """

    explicit: sympy.Expr | None
    terms: tuple[MassActionTerm, ...] | None

    @functools.cached_property
    def expr(self) -> sympy.Expr:
        """The extent rate."""
        if self.terms is None:
            return self.explicit
        return sympy.Add(*(term_expr(t) for t in self.terms))


def rate_law(model: Model, index: int, table: dict[str, Any]) -> RateLaw:
    """Expand reaction ``index``'s rate into an extent-rate SymPy expression, checking units.

    Raises
    ------
    ModelIssue
        ``UnitMismatch`` (U101) when the rate does not come out as amount per time;
        ``ExpressionError`` for unparsable text (converted by the caller).
    """
    reaction = model.reactions[index]
    location = f"reactions[{index}].rate"
    parsed = parse_expression(reaction.rate, allow_mass_action=True)
    if parsed.mass_action is None:
        _check_extent(parsed.expr, table, location, reaction)
        return RateLaw(parsed.expr, None)
    kf, kr = parsed.mass_action
    if reaction.reversible and kr is None:
        raise ModelIssue(
            f"reversible reaction '{reaction.equation}' needs two rate constants",
            code="R601",
            location=location,
            hint="write mass_action(kf, kr), or use '->' for an irreversible reaction",
        )
    if not reaction.reversible and kr is not None:
        raise ModelIssue(
            f"irreversible reaction '{reaction.equation}' has a reverse rate constant",
            code="R602",
            location=location,
            hint="use '<->' for a reversible reaction, or drop the second constant",
        )
    terms = [
        _mass_action_term(model, reaction, 1, kf, reaction.reactants, reaction.products, table, location)
    ]
    if kr is not None:
        terms.append(
            _mass_action_term(model, reaction, -1, kr, reaction.products, reaction.reactants, table, location)
        )
    return RateLaw(None, tuple(terms))


def term_expr(term: MassActionTerm) -> sympy.Expr:
    """The SymPy expression of one mass-action term."""
    product = sympy.Mul(*(symbol(name) ** order for name, order in term.orders))
    return term.sign * term.coefficient * product


def _mass_action_term(
    model: Model,
    reaction: Reaction,
    sign: int,
    constant: sympy.Expr,
    consumed: tuple[tuple[str, int], ...],
    produced: tuple[tuple[str, int], ...],
    table: dict[str, Any],
    location: str,
) -> MassActionTerm:
    try:
        constant_dim = expression_dimension(constant, table)
    except DimensionError as exc:
        raise UnitMismatch(str(exc), code="U101", location=location) from None
    species_dim = functools.reduce(
        lambda a, b: a * b, (table[name] ** order for name, order in consumed), dims()
    )
    dim = constant_dim * species_dim
    if dim == _extent_rate():
        return MassActionTerm(sign, constant, consumed)
    if dim == _concentration() / dims(time=1):
        compartment = _reaction_compartment(model, consumed or produced, location)
        return MassActionTerm(sign, constant * symbol(compartment), consumed)
    expected = _concentration() / dims(time=1) / species_dim
    direction = "forward" if sign > 0 else "reverse"
    named = f"reaction '{reaction.id}': " if reaction.id else ""
    raise UnitMismatch(
        f"{named}{direction} rate constant '{constant}' is {format_dimension(constant_dim)}; with "
        f"reactants {_species_list(consumed)} the rate would be {format_dimension(dim)}, not an "
        "amount or concentration per time",
        code="U101",
        location=location,
        hint=f"give the constant in {model.units.unit_text(expected)} (or that times a volume)",
    )


def _species_list(terms: tuple[tuple[str, int], ...]) -> str:
    return " + ".join(name if order == 1 else f"{order} {name}" for name, order in terms) or "none"


def _reaction_compartment(model: Model, terms: tuple[tuple[str, int], ...], location: str) -> str:
    found = {model.get_species(name).compartment for name, _ in terms}
    concentration_compartments = {
        model.get_species(name).compartment
        for name, _ in terms
        if species_dimension(model.get_species(name)) == _concentration()
    } or found
    if len(concentration_compartments) == 1 and None not in concentration_compartments:
        return str(next(iter(concentration_compartments)))
    raise UnitMismatch(
        "mass action gives a concentration per time but the reaction's species are in "
        f"compartments {sorted(str(c) for c in concentration_compartments)}, so its volume is ambiguous",
        code="U103",
        location=location,
        hint="write an explicit rate law that multiplies by the reaction volume",
    )


def _check_extent(expr: sympy.Expr, table: dict[str, Any], location: str, reaction: Reaction) -> None:
    try:
        dim = expression_dimension(expr, table)
    except DimensionError as exc:
        raise UnitMismatch(str(exc), code="U101", location=location) from None
    if dim == _extent_rate():
        return
    hint = None
    if dim == _concentration() / dims(time=1):
        hint = (
            "explicit rate laws are extent rates; multiply by the compartment volume, "
            f"e.g. 'V * ({reaction.rate})'"
        )
    raise UnitMismatch(
        f"rate law '{reaction.rate}' is {format_dimension(dim)}; expected an amount per time "
        "([substance] / [time])",
        code="U101",
        location=location,
        hint=hint,
    )


def value_issue(model: Model, name: str, number: float, shown: str, location: str) -> ModelIssue | None:
    """The one rule for the sign and size of a value given for ``name``, wherever it enters
    (model files, ``ModelBuilder``, ``params=``/``initial=``, ``--set``, protocol steps, SBML
    and BioNetGen import).

    Every value is finite (V401). A compartment size is > 0; an initial amount or
    concentration, and a parameter used as a mass-action rate constant, are >= 0 (V402,
    errors). Another parameter may be negative, since its sign may mean something (a
    temperature offset, a potential), but that is reported as a warning (V403).

    Parameters
    ----------
    model : Model
    name : str
        The compartment, species or parameter the value is for.
    number : float
        The value (its sign does not depend on the unit).
    shown : str
        The value as the user gave it, for the message.
    location : str
        Where it was given, e.g. ``parameters.k_on.value`` or ``params.k_on``.

    Returns
    -------
    ModelIssue or None
        An error or a warning (``severity``), or None when the value is fine.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.kinetics import value_issue
    >>> model = dg.load_model("ige_fceri_crosslinking")
    >>> value_issue(model, "km1", -1.0, "-1 1/s", "params.km1").format()
    "error[V402] params.km1: rate constant 'km1' = '-1 1/s' is negative; hint: ..."
    >>> value_issue(model, "km1", 0.5, "0.5 1/s", "params.km1") is None
    True
    """
    from degranulation.errors import ValueIssue

    if not math.isfinite(number):
        return ValueIssue(
            f"value '{shown}' is not finite", code="V401", location=location, hint="give a finite number"
        )
    record = model.by_id.get(name)
    if isinstance(record, Compartment):
        if number > 0:
            return None
        return ValueIssue(
            f"size '{shown}' of compartment '{name}' must be positive", code="V402", location=location
        )
    if number >= 0:
        return None
    if isinstance(record, Species):
        return ValueIssue(
            f"initial value '{shown}' is negative",
            code="V402",
            location=location,
            hint="initial amounts and concentrations are >= 0",
        )
    if name in rate_constants(model):
        return ValueIssue(
            f"rate constant '{name}' = '{shown}' is negative",
            code="V402",
            location=location,
            hint="mass-action rate constants are >= 0; for a reaction that runs the other way, "
            "swap the sides of its equation",
        )
    return ValueIssue(
        f"parameter '{name}' = '{shown}' is negative",
        code="V403",
        severity="warning",
        location=location,
        hint="allowed, since a parameter's sign may be meaningful; check that it is intended",
    )


def check_value(model: Model, name: str, number: float, shown: str, location: str) -> None:
    """Apply :func:`value_issue`: raise its error, or warn (``ModelWarning``) its warning."""
    import warnings

    from degranulation.errors import ModelWarning

    issue = value_issue(model, name, number, shown, location)
    if issue is None:
        return
    if issue.severity == "error":
        raise issue
    warnings.warn(issue.format(), ModelWarning, stacklevel=3)


def rate_constants(model: Model) -> frozenset[str]:
    """Parameters that are mass-action rate constants: names in a ``mass_action(kf, kr)``
    constant that is a product (``2*k_on``, ``k/V``), not a sum or a function of them."""
    found: set[str] = set()
    for reaction in model.reactions:
        try:
            parsed = parse_expression(reaction.rate, allow_mass_action=True)
        except ModelError:  # reported by validation
            continue
        for constant in parsed.mass_action or ():
            if constant is not None and _is_monomial(constant):
                found |= {s.name for s in constant.free_symbols}
    return frozenset(found)


def _is_monomial(expr: sympy.Expr) -> bool:
    factors = expr.args if isinstance(expr, sympy.Mul) else (expr,)
    return all(
        isinstance(f, sympy.Symbol | sympy.Number)
        or (isinstance(f, sympy.Pow) and isinstance(f.base, sympy.Symbol) and f.exp.is_Number)
        for f in factors
    )


def name_dimension(model: Model, name: str) -> Any:
    """Dimension of one name in ``model`` (KeyError for unknown names)."""
    record = model.by_id.get(name)
    if isinstance(record, Species):
        return species_dimension(record)
    if isinstance(record, Compartment):
        return _volume()
    if isinstance(record, Parameter):
        return dimensionality(record.value.unit)
    if name == TIME_NAME:
        return dims(time=1)
    raise KeyError(name)


def internal_value(model: Model, name: str, value: UnitValue) -> float:
    """``value`` given for ``name`` (a species, parameter or compartment), as a float in the
    model's units. A species with a molar mass also accepts mass units.

    Raises
    ------
    UnitError
        When the unit's dimension does not fit the name.
    """
    expected = name_dimension(model, name)
    quantity = registry().Quantity(value.value, parse_unit(value.unit))
    record = model.by_id.get(name)
    if (
        isinstance(record, Species)
        and record.molar_mass is not None
        and quantity.dimensionality in (dims(mass=1), dims(mass=1) / _volume())
    ):
        molar_mass = registry().Quantity(record.molar_mass.value, parse_unit(record.molar_mass.unit))
        if molar_mass.dimensionality == dims(mass=1):  # mass per molecule, e.g. kDa
            molar_mass = molar_mass * registry().Quantity(1.0, "avogadro_constant")
        quantity = quantity / molar_mass
    if quantity.dimensionality != expected:
        raise UnitError(
            f"'{value}' is {format_dimension(quantity.dimensionality)}; '{name}' needs "
            f"{format_dimension(expected)}",
            location=name,
            hint=case_hint(value.unit, expected),
        )
    base = quantity.to_base_units()
    return float(base.magnitude) / model.units.scale(base.dimensionality)
