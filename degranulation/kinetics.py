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
from dataclasses import dataclass
from typing import Any

import sympy

from degranulation.dimensions import (
    SIZE_NAMES,
    amount,
    compartment_dimension,
    compartment_sizes,
    concentration,
    dims,
    spatial_dimensions,
    species_dimension,
)
from degranulation.errors import ModelIssue, UnitError, UnitMismatch
from degranulation.expressions import TIME_NAME, ParsedExpression, parse_expression, symbol
from degranulation.network import Model, Reaction, Side, Species, exact
from degranulation.units import dimensionality, format_dimension


def _extent_rate() -> Any:
    return dims(substance=1, time=-1)


def symbol_dimensions(model: Model) -> dict[str, Any]:
    """Dimension of every name a model's expressions may use (valid records only)."""
    table: dict[str, Any] = {TIME_NAME: dims(time=1)}
    for compartment in model.compartments:
        try:
            table[compartment.id] = compartment_dimension(compartment)
        except UnitError:
            continue
    for parameter in model.parameters:
        try:
            table[parameter.id] = dimensionality(parameter.value.unit)
        except UnitError:
            continue
    sizes = compartment_sizes(model)
    for species in model.species:
        try:
            table[species.id] = species_dimension(species, sizes.get(species.compartment or ""))
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
    """One direction of a mass-action reaction: ``sign · coefficient · Π x_i**order_i``
    (an order is the species' stoichiometric coefficient, ``int`` or ``float``)."""

    sign: int
    coefficient: sympy.Expr
    orders: Side


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
    """Expand reaction ``index``'s rate into an extent-rate SymPy expression, checking units
    (:func:`checked_rate_law`); in a model whose units are not enforced
    (``Model.units_enforced``) a rate whose units do not check is the extent rate as written.

    Raises
    ------
    ModelIssue
        As :func:`checked_rate_law`, but for units in a model that does not enforce them.
    """
    try:
        return checked_rate_law(model, index, table)
    except UnitMismatch:
        if model.units_enforced:
            raise
    reaction = model.reactions[index]
    parsed = parse_expression(reaction.rate, allow_mass_action=True)
    if parsed.mass_action is None:
        return RateLaw(parsed.expr, None)
    kf, kr = parsed.mass_action
    terms = [MassActionTerm(1, kf, reaction.reactants)]
    if kr is not None:
        terms.append(MassActionTerm(-1, kr, reaction.products))
    return _mass_action_law(model, tuple(terms))


def checked_rate_law(model: Model, index: int, table: dict[str, Any]) -> RateLaw:
    """Expand reaction ``index``'s rate into an extent-rate SymPy expression, checking units.

    Raises
    ------
    ModelIssue
        ``UnitMismatch`` (U101) when the rate does not come out as amount per time (or, in a
        model that does not enforce units, needs a volume to be one);
        ``ExpressionError`` for unparsable text (converted by the caller).
    """
    reaction = model.reactions[index]
    location = f"reactions[{index}].rate"
    parsed = parse_expression(reaction.rate, allow_mass_action=True)
    if any(model.get_species(name).variable for name, _ in (*reaction.reactants, *reaction.products)):
        return _variable_rate_law(model, reaction, parsed, table, location)
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
    return _mass_action_law(model, tuple(terms))


def _mass_action_law(model: Model, terms: tuple[MassActionTerm, ...]) -> RateLaw:
    """A mass-action law, evaluated as one (constants from the parameters alone) unless a
    constant uses a state or time (``mass_action(k*x)`` with ``x`` a species or a model
    variable), or an order is not a whole number (``0.5 A -> B``: ``k*A**0.5``): then as the
    explicit rate it expands to."""
    # Look the constants' names up (a set of every species' symbol, per reaction, cost
    # seconds on a network of 354 species and 3680 reactions).
    used = {str(s) for term in terms for s in term.coefficient.free_symbols}
    fractional = any(isinstance(order, float) for term in terms for _, order in term.orders)
    if fractional or any(name == TIME_NAME or isinstance(model.by_id.get(name), Species) for name in used):
        return RateLaw(sympy.Add(*(term_expr(t) for t in terms)), None)
    return RateLaw(None, terms)


def _variable_rate_law(
    model: Model, reaction: Reaction, parsed: ParsedExpression, table: dict[str, Any], location: str
) -> RateLaw:
    """The rate of a model variable's reaction ``0 -> x``: ``dx/dt`` itself, in ``x``'s unit
    per time (a variable is no chemical: it takes part in no other reaction, and has no mass
    action).

    Raises
    ------
    ModelIssue
        R603 for another reaction or mass action; U101 for a rate of another dimension.
    """
    products = reaction.products
    name = products[0][0] if len(products) == 1 else ""
    if reaction.reactants or products != ((name, 1),) or parsed.mass_action is not None:
        variables = [n for n, _ in (*reaction.reactants, *products) if model.get_species(n).variable]
        in_equation = reaction.reactants or products != ((name, 1),)
        raise ModelIssue(
            f"reaction '{reaction.equation}' changes the model variable '{variables[0]}' other than "
            "as '0 -> x' with an explicit rate",
            code="R603",
            location=location.removesuffix(".rate") + ".equation" if in_equation else location,
            hint=f"write the variable's rate of change as its own reaction, "
            f"equation = '0 -> {variables[0]}' and rate = its d{variables[0]}/dt",
        )
    expected = table[name] / dims(time=1)
    try:
        dim = expression_dimension(parsed.expr, table)
    except DimensionError as exc:
        raise UnitMismatch(str(exc), code="U101", location=location) from None
    if dim != expected and parsed.expr != 0:
        raise UnitMismatch(
            f"rate '{reaction.rate}' of the model variable '{name}' is {format_dimension(dim)}; "
            f"expected {format_dimension(expected)}, its unit per time",
            code="U101",
            location=location,
            hint=f"give d{name}/dt in {model.units.unit_text(expected)}",
        )
    return RateLaw(parsed.expr, None)


def term_expr(term: MassActionTerm) -> sympy.Expr:
    """The SymPy expression of one mass-action term (a fractional order as an exact rational)."""
    product = sympy.Mul(*(symbol(name) ** sympy.Rational(exact(order)) for name, order in term.orders))
    return term.sign * term.coefficient * product


def _mass_action_term(
    model: Model,
    reaction: Reaction,
    sign: int,
    constant: sympy.Expr,
    consumed: Side,
    produced: Side,
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
    size = _per_size_rate(dim)
    if size is not None and model.units_enforced:  # else: SBML's number as written
        compartment = _reaction_compartment(model, consumed or produced, location, size)
        return MassActionTerm(sign, constant * symbol(compartment), consumed)
    expected = concentration() / dims(time=1) / species_dim
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


def _species_list(terms: Side) -> str:
    return " + ".join(name if order == 1 else f"{order} {name}" for name, order in terms) or "none"


def _per_size_rate(dim: Any) -> Any:
    """The size (volume, area or length) that ``dim`` is an amount per time per, or None."""
    size = _extent_rate() / dim
    return size if spatial_dimensions(size) in (1, 2, 3) else None


def _reaction_compartment(model: Model, terms: Side, location: str, size: Any) -> str:
    """The compartment whose size turns a mass-action rate per ``size`` into an extent rate:
    that of the species that are concentrations per ``size`` (a ligand in the medium binding
    receptors on the membrane reacts per membrane area when the rate is per area)."""
    found = {model.get_species(name).compartment for name, _ in terms}
    sizes = compartment_sizes(model)
    concentration_compartments = {
        model.get_species(name).compartment
        for name, _ in terms
        if species_dimension(model.get_species(name)) == amount() / size
    } or {c for c in found if c is None or sizes.get(c) == size}
    if len(concentration_compartments) == 1 and None not in concentration_compartments:
        return str(next(iter(concentration_compartments)))
    per = SIZE_NAMES[spatial_dimensions(size) or 3]
    raise UnitMismatch(
        "mass action gives a concentration per time but the reaction's species are in "
        f"compartments {sorted(str(c) for c in concentration_compartments)}, so its {per} is ambiguous",
        code="U103",
        location=location,
        hint=f"write an explicit rate law that multiplies by the reaction {per}",
    )


def _check_extent(expr: sympy.Expr, table: dict[str, Any], location: str, reaction: Reaction) -> None:
    try:
        dim = expression_dimension(expr, table)
    except DimensionError as exc:
        raise UnitMismatch(str(exc), code="U101", location=location) from None
    if dim == _extent_rate():
        return
    hint = None
    size = _per_size_rate(dim)
    if size is not None:
        hint = (
            f"explicit rate laws are extent rates; multiply by the compartment "
            f"{SIZE_NAMES[spatial_dimensions(size) or 3]}, e.g. 'V * ({reaction.rate})'"
        )
    raise UnitMismatch(
        f"rate law '{reaction.rate}' is {format_dimension(dim)}; expected an amount per time "
        "([substance] / [time])",
        code="U101",
        location=location,
        hint=hint,
    )
