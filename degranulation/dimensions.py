"""Dimensions of values, without SymPy: pint dimensionalities, and whether a species is an
amount or a concentration (what results need to label species, on every run's path; the
dimensions of expressions are in :mod:`degranulation.kinetics`).

A compartment's size is a volume, an area or a length (SBML ``spatialDimensions`` 3, 2, 1),
or ``1 dimensionless`` for a compartment without a size (SBML's 0 dimensions); a species'
concentration is substance per its compartment's size, so in a 0-dimensional compartment it
is an amount."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from degranulation.errors import UnitError, UnitMismatch
from degranulation.units import case_hint, dimensionality, format_dimension, registry

if TYPE_CHECKING:
    from degranulation.network import Compartment, Model, Species


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


#: What a compartment's size is, by its spatial dimensions (0: it has none).
SIZE_NAMES: Final = {3: "volume", 2: "area", 1: "length"}


def size_dimension(spatial: int) -> Any:
    """``[length] ** spatial``: a compartment size of 3, 2, 1 or 0 spatial dimensions."""
    return dims(length=spatial)


def spatial_dimensions(size: Any) -> int | None:
    """How many spatial dimensions a compartment size of dimension ``size`` has (3 for a
    volume, 2 an area, 1 a length, 0 dimensionless), or None for another dimension.

    Examples
    --------
    >>> from degranulation.dimensions import dims, spatial_dimensions
    >>> spatial_dimensions(dims(length=2)), spatial_dimensions(dims(time=1))
    (2, None)
    """
    return next((n for n in (3, 2, 1, 0) if size == size_dimension(n)), None)


def compartment_dimension(compartment: Compartment) -> Any:
    """The dimension of a compartment's size (see :func:`spatial_dimensions`).

    Raises
    ------
    UnitError
        For a unit pint does not know.
    """
    return dimensionality(compartment.size.unit)


def compartment_sizes(model: Model) -> dict[str, Any]:
    """The dimension of each compartment's size that is one (volume, area, length or
    dimensionless), by compartment id; broken sizes are left out (validation reports them)."""
    sizes = {}
    for compartment in model.compartments:
        try:
            dim = compartment_dimension(compartment)
        except UnitError:
            continue
        if spatial_dimensions(dim) is not None:
            sizes[compartment.id] = dim
    return sizes


def species_dimension(species: Species, size: Any = None) -> Any:
    """``[substance]`` for an amount species; for a concentration, substance per the size of
    its compartment: ``[substance]/[length]**3`` in a volume, ``**2`` on an area, ``**1`` on a
    line (a 0-dimensional compartment's species are amounts). A model variable
    (``Species.variable``) has its initial value's dimension, whatever it is.

    Parameters
    ----------
    species : Species
        The species.
    size : pint dimensionality, optional
        The dimension of its compartment's size; unknown (None), a concentration per any
        size is taken, which validation checks against the compartment.

    Raises
    ------
    UnitMismatch
        If the initial value is neither (a mass needs ``molar_mass``), or (``size`` given) it
        is a concentration per another size than its compartment's.

    Examples
    --------
    >>> from degranulation.dimensions import dims, species_dimension
    >>> from degranulation.network import Species, UnitValue
    >>> receptor = Species("R", UnitValue(400.0, "molecule/um**2"), compartment="membrane")
    >>> species_dimension(receptor, size=dims(length=2)) == dims(substance=1, length=-2)
    True
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
        dim = amount() if dim == mass else concentration()
    elif dim != amount() and spatial_dimensions(amount() / dim) not in (1, 2, 3):
        hint = case_hint(species.initial.unit, amount() / (volume() if size is None else size))
        if dim in (mass, mass / volume()):
            hint = f"give species '{species.id}' a molar_mass (e.g. '150 kDa') to use mass units"
        raise UnitMismatch(
            f"'{species.initial}' is {unit_description(species.initial.unit)}; "
            f"expected {_expected(species, size)}",
            code="U102",
            location=location,
            hint=hint,
        )
    if size is not None and dim not in (amount(), amount() / size):
        raise UnitMismatch(
            f"'{species.initial}' is {unit_description(species.initial.unit)}, a concentration "
            f"per {format_dimension(amount() / dim)}; expected {_expected(species, size)}",
            code="U102",
            location=location,
            hint=case_hint(species.initial.unit, amount() / size) or _fit_hint(species, size, dim),
        )
    return dim


#: A unit of concentration per each size, for hints.
_EXAMPLES: Final = {3: "nM", 2: "molecule/um**2", 1: "molecule/um"}


def _fit_hint(species: Species, size: Any, dim: Any) -> str:
    """How to make a species' concentration fit its compartment (``size``), or the other way."""
    other = SIZE_NAMES[spatial_dimensions(amount() / dim) or 3]
    where = f"compartment '{species.compartment}'"
    if size == dims():
        return f"give it as an amount (e.g. in 'molecule'), or give {where} {_a(other)}"
    spatial = spatial_dimensions(size) or 3
    kind = SIZE_NAMES[spatial]
    return (
        f"{where} is {_a(kind)}: give it per {kind} (e.g. in '{_EXAMPLES[spatial]}'), "
        f"or give {where} {_a(other)}"
    )


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _expected(species: Species, size: Any) -> str:
    """What a species' initial value may be, for messages."""
    if size is None or size == volume():
        return "a concentration ([substance] / [length] ** 3) or an amount ([substance])"
    if size == dims():
        return (
            f"an amount ([substance]): compartment '{species.compartment}' has no size (0 spatial dimensions)"
        )
    per_size = format_dimension(amount() / size)
    return f"a concentration per its compartment's size ({per_size}) or an amount ([substance])"


def unit_description(unit: str) -> str:
    """``"nanometer ([length])"``: a unit's long name and dimension, for messages."""
    return f"{registry().Unit(unit) if unit else 'dimensionless'} ({format_dimension(dimensionality(unit))})"
