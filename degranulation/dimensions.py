"""Dimensions of values, without SymPy: pint dimensionalities, and whether a species is an
amount or a concentration (what results need to label species, on every run's path; the
dimensions of expressions are in :mod:`degranulation.kinetics`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from degranulation.errors import UnitError, UnitMismatch
from degranulation.units import case_hint, dimensionality, format_dimension, registry

if TYPE_CHECKING:
    from degranulation.network import Species


def dims(**powers: int) -> Any:
    """A pint dimensionality, e.g. ``dims(substance=1, length=-3)``."""
    from pint.util import UnitsContainer

    return UnitsContainer({f"[{name}]": power for name, power in powers.items() if power})


def amount() -> Any:
    """``[substance]``."""
    return dims(substance=1)


def concentration() -> Any:
    """``[substance] / [length] ** 3``."""
    return dims(substance=1, length=-3)


def volume() -> Any:
    """``[length] ** 3``."""
    return dims(length=3)


def species_dimension(species: Species) -> Any:
    """``[substance]`` for an amount species, ``[substance]/[length]**3`` for a concentration;
    a model variable (``Species.variable``) has its initial value's dimension, whatever it is.

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
    if species.variable:
        return dim
    mass = dims(mass=1)
    if species.molar_mass is not None and dim in (mass, mass / volume()):
        return amount() if dim == mass else concentration()
    if dim in (amount(), concentration()):
        return dim
    hint = case_hint(species.initial.unit, concentration())
    if dim in (mass, mass / volume()):
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
