"""Dimensions of BioNetGen quantities as exponents of (molecule, s), and their unit text, for
the unit inference of :mod:`degranulation.formats.bngnet`."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import numpy as np

#: Order in which a rate constant used by reactions of different orders takes its unit.
_ORDER_PREFERENCE: Final = {1: 0, 2: 1, 0: 2}
Dim = tuple[Fraction, Fraction]  # exponents of (molecule, s)
_NONE: Final[Dim] = (Fraction(0), Fraction(0))


def _dim(vector: np.ndarray) -> Dim:
    """Exponents of (molecule, s) of a unit vector (see :mod:`degranulation.formats.units`)."""
    return _exponent(vector[1]), _exponent(vector[3])  # [substance] and [time]


def _exponent(value: float) -> Fraction:
    return Fraction(float(value)).limit_denominator(1000)


def _vector(dim: Dim) -> np.ndarray:
    from degranulation.formats.units import Unit

    return float(dim[0]) * Unit(1.0, "molecule").vector() + float(dim[1]) * Unit(1.0, "s").vector()


def unit_text(dim: Dim) -> str:
    """Unit text for exponents of (molecule, s), e.g. ``(-1, -1)`` → ``'1/(molecule*s)'``.

    Examples
    --------
    >>> from fractions import Fraction
    >>> from degranulation.formats.bngnet_dims import unit_text
    >>> unit_text((Fraction(-1), Fraction(-1))), unit_text((Fraction(1), Fraction(0)))
    ('1/(molecule*s)', 'molecule')
    """
    up: list[str] = []
    down: list[str] = []
    for name, power in zip(("molecule", "s"), dim, strict=True):
        if power:
            text = name if abs(power) == 1 else f"{name}**{_power_text(abs(power))}"
            (up if power > 0 else down).append(text)
    if not up and not down:
        return "dimensionless"
    numerator = "*".join(up) or "1"
    if not down:
        return numerator
    denominator = down[0] if len(down) == 1 else f"({'*'.join(down)})"
    return f"{numerator}/{denominator}"


def _power_text(power: Fraction) -> str:
    return str(power.numerator) if power.denominator == 1 else f"({power.numerator}/{power.denominator})"


def _order_rank(dim: Dim) -> int:
    return _ORDER_PREFERENCE.get(int(1 - dim[0]) if dim[0].denominator == 1 else -1, 3)


def _subtract(a: Dim, b: Dim) -> Dim:
    return a[0] - b[0], a[1] - b[1]
