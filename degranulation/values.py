"""Values in a model's unit system, without SymPy on their usual path: a value given for a
species, parameter or compartment (in a model file, ``params=``/``initial=``, ``--set`` or a
protocol step) as a float in the model's units, and the one rule for its sign and size.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from degranulation.dimensions import compartment_dimension, dims, species_dimension, volume
from degranulation.errors import ModelError, ModelIssue, UnitError
from degranulation.network import Compartment, Model, Parameter, Species, UnitValue
from degranulation.units import case_hint, dimensionality, format_dimension, parse_unit, registry

if TYPE_CHECKING:
    import sympy


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
    >>> from degranulation.values import value_issue
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
    if isinstance(record, Species) and not record.variable:  # a variable's sign is a parameter's
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
    kind = "model variable" if isinstance(record, Species) else "parameter"
    return ValueIssue(
        f"{kind} '{name}' = '{shown}' is negative",
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
    from degranulation.expressions import parse_expression

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
    import sympy

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
        return compartment_dimension(record)
    if isinstance(record, Parameter):
        return dimensionality(record.value.unit)
    from degranulation.expressions import TIME_NAME  # only for a name no record has

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
        and quantity.dimensionality in (dims(mass=1), dims(mass=1) / volume())
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
