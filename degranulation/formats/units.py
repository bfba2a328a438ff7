"""SBML units for :mod:`degranulation.formats.sbml`: unit definitions ⇄ pint unit text, and the
inference of units an SBML file leaves undeclared.

SBML math is evaluated on plain numbers: a value means "this many of its declared unit". A
unit here is therefore a pint unit *and* a factor (``Unit(60.0, "s")`` is SBML's minute
when written without a name pint knows). For inference each unit becomes a vector: the
base-10 logarithm of its size in SI, then its powers of the SI base dimensions. Products add
vectors and powers scale them, so "this rate law is an extent per time" is a linear equation
in the unknown parameters' vectors; solving those equations gives every undeclared parameter
the unit that reproduces SBML's numbers exactly. A parameter left free by the equations is
dimensionless.

The same engine infers the units of BioNetGen parameters (:mod:`degranulation.formats.bngnet`),
whose numbers are molecules and seconds: there, equations that only suggest a unit (the
majority use of a rate constant) are *soft*, kept where they agree with the others.
"""

from __future__ import annotations

import functools
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Final

import numpy as np
import sympy

from degranulation.errors import UnitError, UnitWarning
from degranulation.units import parse_unit, registry

#: Dimensions a unit vector holds after its log10 SI magnitude, in order.
BASE_DIMENSIONS: Final = (
    "[substance]", "[length]", "[time]", "[mass]", "[current]", "[temperature]", "[luminosity]",
)  # fmt: skip
_SI: Final = dict(zip(BASE_DIMENSIONS, ("mol", "m", "s", "kg", "A", "K", "cd"), strict=True))
#: SBML's value of Avogadro's number (its ``avogadro`` unit kind and csymbol).
SBML_AVOGADRO: Final = 6.02214179e23
# SBML base unit kinds as pint unit text (and a factor, for avogadro).
_KINDS: Final[dict[str, tuple[str, float]]] = {
    "ampere": ("A", 1.0), "avogadro": ("", SBML_AVOGADRO), "becquerel": ("Bq", 1.0),
    "candela": ("cd", 1.0), "coulomb": ("C", 1.0), "dimensionless": ("", 1.0), "farad": ("F", 1.0),
    "gram": ("g", 1.0), "gray": ("Gy", 1.0), "henry": ("H", 1.0), "hertz": ("Hz", 1.0),
    "item": ("molecule", 1.0), "joule": ("J", 1.0), "katal": ("kat", 1.0), "kelvin": ("K", 1.0),
    "kilogram": ("kg", 1.0), "litre": ("L", 1.0), "liter": ("L", 1.0), "lumen": ("lm", 1.0),
    "lux": ("lx", 1.0), "metre": ("m", 1.0), "meter": ("m", 1.0), "mole": ("mol", 1.0),
    "newton": ("N", 1.0), "ohm": ("ohm", 1.0), "pascal": ("Pa", 1.0), "radian": ("rad", 1.0),
    "second": ("s", 1.0), "siemens": ("S", 1.0), "sievert": ("Sv", 1.0), "steradian": ("sr", 1.0),
    "tesla": ("T", 1.0), "volt": ("V", 1.0), "watt": ("W", 1.0), "weber": ("Wb", 1.0),
}  # fmt: skip
# Level 1 and 2 predefined unit ids (used when the file does not redefine them).
_BUILTIN: Final = {"substance": "mol", "volume": "L", "area": "m**2", "length": "m", "time": "s"}
_TOLERANCE: Final = 1e-9


class UnitProblem(Exception):
    """A unit the importer cannot express (internal; becomes an unsupported feature)."""


@dataclass(frozen=True)
class Unit:
    """``factor`` times the pint unit ``text``: what one SBML unit is."""

    factor: float
    text: str

    def quantity(self) -> Any:
        """The unit as a pint Quantity."""
        return registry().Quantity(self.factor, parse_unit(self.text))

    def vector(self) -> np.ndarray:
        """log10 of the SI magnitude, then the powers of :data:`BASE_DIMENSIONS`."""
        return _vector(self).copy()

    def __str__(self) -> str:
        return self.text if self.factor == 1 else f"{self.factor!r} {self.text or 'dimensionless'}"


@functools.lru_cache(maxsize=1024)
def _vector(unit: Unit) -> np.ndarray:
    """The cached unit vector of ``unit`` (see :meth:`Unit.vector`)."""
    base = unit.quantity().to_base_units()
    magnitude = float(base.magnitude)
    if not magnitude > 0:
        raise UnitProblem(f"unit '{unit}' is not positive")
    powers = dict(base.dimensionality)
    unknown = set(powers) - set(BASE_DIMENSIONS)
    if unknown:
        raise UnitProblem(f"unit '{unit}' has dimensions {sorted(unknown)}")
    return np.array([math.log10(magnitude)] + [float(powers.get(d, 0)) for d in BASE_DIMENSIONS])


def format_unit(powers: Iterable[tuple[str, float]]) -> str:
    """Unit text from ``(unit text, power)`` pairs: ``[("mol", -1), ("s", -1)]`` → ``"1/(mol*s)"``."""

    def term(text: str, power: float) -> str:
        text = text if re.fullmatch(r"[A-Za-z_]+", text) else f"({text})"
        return text if power == 1 else f"{text}**{_number(power)}"

    merged: dict[str, float] = {}
    for text, power in powers:
        if text and power:
            merged[text] = merged.get(text, 0.0) + power
    merged = {t: p for t, p in merged.items() if p}
    if list(merged.values()) == [1]:
        return next(iter(merged))
    above = [term(t, p) for t, p in merged.items() if p > 0]
    below = [term(t, -p) for t, p in merged.items() if p < 0]
    top = "*".join(above) or ("1" if below else "dimensionless")
    if not below:
        return top
    bottom = below[0] if len(below) == 1 else f"({'*'.join(below)})"
    return f"{top}/{bottom}"


def _number(value: float) -> str:
    fraction = Fraction(value).limit_denominator(1000)
    if fraction.denominator == 1:
        return str(fraction.numerator)
    if abs(float(fraction) - value) < 1e-12:
        return f"({fraction.numerator}/{fraction.denominator})"
    return repr(value)


def unit_from_definition(definition: Any) -> Unit:
    """The :class:`Unit` of a libsbml ``UnitDefinition``.

    When the definition's ``name`` is pint text for exactly the same unit (as
    :func:`degranulation.formats.sbml.write_sbml` writes them), the name is kept.
    """
    import libsbml

    factor = 1.0
    parts: list[tuple[str, float]] = []
    for unit in definition.getListOfUnits():
        kind = libsbml.UnitKind_toString(unit.getKind())
        if kind not in _KINDS:
            raise UnitProblem(f"unit kind '{kind}' in unit definition '{definition.getId()}'")
        text, kind_factor = _KINDS[kind]
        exponent = float(unit.getExponentAsDouble())
        factor *= (unit.getMultiplier() * 10.0 ** unit.getScale() * kind_factor) ** exponent
        parts.append((text, exponent))
    unit = Unit(factor, format_unit(parts))
    named = _named(definition.getName(), unit)
    return named or unit


def _named(name: str, unit: Unit) -> Unit | None:
    if not name:
        return None
    try:
        candidate = Unit(1.0, name)
        same = np.allclose(candidate.vector(), unit.vector(), rtol=0, atol=1e-12)
    except (UnitError, UnitProblem):
        return None
    return candidate if same else None


#: Units pint names, for a substance, volume or time unit the file defines without one (an SBML
#: "hour" is 3600 s): named, a model in it takes its numbers with no factor.
_NAMED: Final = (
    "s", "ms", "min", "h", "day", "week", "year", "mol", "mmol", "umol", "nmol", "pmol", "molecule",
    "L", "mL", "uL", "nL", "pL", "fL", "m**3",
)  # fmt: skip


def pint_named(unit: Unit) -> Unit:
    """``unit``, or the unit of :data:`_NAMED` of the same size when it has a factor.

    Examples
    --------
    >>> from degranulation.formats.units import Unit, pint_named
    >>> str(pint_named(Unit(3600.0, "s"))), str(pint_named(Unit(2.0, "s")))
    ('h', '2.0 s')
    """
    if unit.factor == 1:
        return unit
    for text in _NAMED:
        candidate = Unit(1.0, text)
        if np.allclose(candidate.vector(), unit.vector(), rtol=0, atol=1e-12):
            return candidate
    return unit


def unit_from_reference(model: Any, reference: str) -> Unit | None:
    """The unit an SBML ``units`` attribute names (None when it is empty).

    Raises
    ------
    UnitProblem
        For an id that is neither a unit definition nor a base unit kind.
    """
    import libsbml

    if not reference:
        return None
    definition = model.getUnitDefinition(reference)
    if definition is not None:
        return unit_from_definition(definition)
    if reference in _KINDS:
        text, factor = _KINDS[reference]
        return Unit(factor, text or "dimensionless")
    if model.getLevel() < 3 and reference in _BUILTIN:
        return Unit(1.0, _BUILTIN[reference])
    if libsbml.UnitKind_isValidUnitKindString(reference, model.getLevel(), model.getVersion()):
        raise UnitProblem(f"unit kind '{reference}'")
    raise UnitProblem(f"unknown unit '{reference}'")


def unit_from_vector(vector: np.ndarray, preferred: Mapping[str, str]) -> Unit:
    """A :class:`Unit` for a vector, written with ``preferred`` texts per dimension.

    ``preferred`` maps ``[substance]``, ``[time]`` and ``[volume]`` to unit text; lengths
    whose power is a multiple of 3 are written as volumes, everything else in SI.
    """
    powers = [_rational(p) for p in vector[1:]]
    parts: list[tuple[str, float]] = []
    for dimension, power in zip(BASE_DIMENSIONS, powers, strict=True):
        if dimension == "[length]" and power % 3 == 0 and "[volume]" in preferred:
            parts.append((preferred["[volume]"], power / 3))
        else:
            parts.append((preferred.get(dimension, _SI[dimension]), power))
    text = format_unit(parts)
    size = float(Unit(1.0, text).quantity().to_base_units().magnitude)
    factor = 10.0 ** float(vector[0]) / size
    return Unit(1.0 if abs(factor - 1.0) < 1e-12 else factor, text)


def _rational(value: float) -> float:
    fraction = Fraction(float(value)).limit_denominator(1000)
    return float(fraction) if abs(float(fraction) - value) < 1e-9 else float(value)


@dataclass
class _Form:
    """``constant + Σ coefficient_k · unknown_k``: the unit vector of an expression."""

    constant: np.ndarray
    coefficients: dict[int, Fraction] = field(default_factory=dict)

    def plus(self, other: _Form, scale: Fraction = Fraction(1)) -> _Form:
        coefficients = dict(self.coefficients)
        for k, c in other.coefficients.items():
            coefficients[k] = coefficients.get(k, Fraction(0)) + scale * c
        return _Form(
            self.constant + float(scale) * other.constant, {k: c for k, c in coefficients.items() if c}
        )

    def times(self, scale: Fraction) -> _Form:
        return _Form(float(scale) * self.constant, {k: scale * c for k, c in self.coefficients.items() if c})


class UnitInference:
    """Collects unit equations over SymPy expressions and solves for the unknown units.

    Parameters
    ----------
    known : mapping of str to Unit
        The unit of every name whose unit is declared (or fixed by convention).
    unknown : sequence of str
        Names whose units are to be found, in order of preference: where the equations leave
        a choice, the first names take a unit and later ones stay dimensionless.
    """

    def __init__(self, known: Mapping[str, Unit], unknown: Iterable[str]) -> None:
        self._known = {name: unit.vector() for name, unit in known.items()}
        self._unknown = {name: k for k, name in enumerate(unknown)}
        self._rows: list[tuple[_Form, _Form, str, bool]] = []

    def require(self, expr: sympy.Expr, unit: Unit | str, where: str) -> None:
        """``expr`` must have ``unit`` (a Unit, or the name of a known or unknown symbol)."""
        target = self._symbol(unit) if isinstance(unit, str) else _Form(unit.vector())
        self._equal(self._form(expr, where), target, where)

    def compare(self, condition: sympy.Basic, where: str) -> None:
        """The comparisons in ``condition`` (an event's trigger) compare like units."""
        self._condition(condition, where)

    @property
    def names(self) -> list[str]:
        """The unknown names, by their column in a form's coefficients."""
        return list(self._unknown)

    def form(self, expr: sympy.Expr, where: str) -> _Form:
        """The unit vector of ``expr`` as ``constant + Σ c_k·unknown_k``; the equations its
        parts impose (terms of a sum alike, arguments of functions dimensionless) are kept."""
        return self._form(expr, where)

    def prefer(self, form: _Form, vector: np.ndarray, where: str) -> None:
        """``form`` should have the unit ``vector``: a soft equation, dropped if it contradicts
        the equations before it."""
        self._equal(form, _Form(np.asarray(vector, dtype=float)), where, soft=True)

    def vector_of(self, form: _Form, solution: Mapping[str, np.ndarray]) -> np.ndarray:
        """The unit vector of ``form`` once the unknowns have their ``solution``."""
        total = form.constant.copy()
        for name, k in self._unknown.items():
            if k in form.coefficients:
                total += float(form.coefficients[k]) * solution[name]
        return total

    def _equal(self, left: _Form, right: _Form, where: str, *, soft: bool = False) -> None:
        self._rows.append((left, right, where, soft))

    def _symbol(self, name: str) -> _Form:
        if name in self._unknown:
            return _Form(np.zeros(len(BASE_DIMENSIONS) + 1), {self._unknown[name]: Fraction(1)})
        return _Form(self._known[name])

    def _form(self, expr: sympy.Expr, where: str) -> _Form:
        zero = _Form(np.zeros(len(BASE_DIMENSIONS) + 1))
        if isinstance(expr, sympy.Symbol):
            return self._symbol(expr.name)
        if isinstance(expr, sympy.Piecewise):  # one unit for all values; relations compare like units
            for _, condition in expr.args:
                self._condition(condition, where)
            return self._same([value for value, _ in expr.args], where)
        if expr.is_number:
            return zero
        args = [self._form(a, where) for a in expr.args]
        if isinstance(expr, sympy.Mul):
            total = zero
            for arg in args:
                total = total.plus(arg)
            return total
        if isinstance(expr, sympy.Add | sympy.Min | sympy.Max | sympy.Abs):
            for arg in args[1:]:
                self._equal(arg, args[0], where)
            return args[0]
        if isinstance(expr, sympy.Pow) and expr.args[1].is_number:
            return args[0].times(Fraction(float(expr.args[1])).limit_denominator(10**6))
        for arg in args:  # functions and symbolic exponents take dimensionless numbers
            self._equal(arg, zero, where)
        return zero

    def _same(self, exprs: Iterable[sympy.Expr], where: str) -> _Form:
        """The one unit of ``exprs`` (zero has every unit)."""
        forms = [self._form(e, where) for e in exprs if e != 0]
        for form in forms[1:]:
            self._equal(form, forms[0], where)
        return forms[0] if forms else _Form(np.zeros(len(BASE_DIMENSIONS) + 1))

    def _condition(self, condition: sympy.Basic, where: str) -> None:
        if isinstance(condition, sympy.core.relational.Relational):
            self._same(condition.args, where)
            return
        for part in condition.args:  # And, Or, Not; True and False have none
            self._condition(part, where)

    def solve(self) -> dict[str, np.ndarray]:
        """The unit vector of each unknown.

        Raises
        ------
        UnitProblem
            Naming where the units cannot be made consistent.
        """
        solution, disagreements = self.solve_where_possible()
        if disagreements:
            places = sorted({where for where, _, _ in disagreements})
            raise UnitProblem(f"units that do not agree in {', '.join(places)}")
        return solution

    def solve_where_possible(self) -> tuple[dict[str, np.ndarray], list[tuple[str, np.ndarray, np.ndarray]]]:
        """The unit vector of each unknown from the equations that agree with those before
        them, and the others as ``(where, left vector, right vector)``: the two units that
        differ, the unknowns taking their solution."""
        # Sparse Gauss-Jordan, one equation at a time: each pivot row keeps its pivot
        # (coefficient 1) and free columns only; an equation reduced to nothing must hold.
        pivots: dict[int, tuple[dict[int, Fraction], np.ndarray]] = {}
        uses: dict[int, set[int]] = {}  # free column -> pivot rows that may mention it
        bad: list[tuple[_Form, _Form, str]] = []
        for left, right, where, soft in self._rows:
            difference = left.plus(right, Fraction(-1))
            row, rhs = dict(difference.coefficients), -difference.constant
            for column in [c for c in row if c in pivots]:
                factor = row.pop(column)
                other, other_rhs = pivots[column]
                for k, v in other.items():
                    row[k] = row.get(k, Fraction(0)) - factor * v
                rhs = rhs - float(factor) * other_rhs
            row = {k: v for k, v in row.items() if v}
            if not row:
                if np.abs(rhs).max() > _TOLERANCE and not soft:
                    bad.append((left, right, where))
                continue
            pivot = min(row)  # unknowns listed first take a unit first
            scale = row.pop(pivot)
            row = {k: v / scale for k, v in row.items()}
            rhs = rhs / float(scale)
            for q in uses.pop(pivot, set()):
                other, other_rhs = pivots[q]
                factor = other.pop(pivot, Fraction(0))
                if not factor:
                    continue
                for k, v in row.items():
                    value = other.get(k, Fraction(0)) - factor * v
                    if value:
                        other[k] = value
                        uses.setdefault(k, set()).add(q)
                    else:
                        other.pop(k, None)
                pivots[q] = (other, other_rhs - float(factor) * rhs)
            pivots[pivot] = (row, rhs)
            for k in row:
                uses.setdefault(k, set()).add(pivot)
        solution = np.zeros((len(self._unknown), len(BASE_DIMENSIONS) + 1))
        for column, (_, rhs) in pivots.items():
            solution[column] = rhs  # free unknowns stay 0: dimensionless
        vectors = {name: solution[k] for name, k in self._unknown.items()}
        return vectors, [
            (where, self.vector_of(left, vectors), self.vector_of(right, vectors))
            for left, right, where in bad
        ]


def warn_units(file: str, disagreements: Sequence[str]) -> None:
    """The one :class:`~degranulation.errors.UnitWarning` of an import whose units disagree
    (each entry names the element and its two units), on one line."""
    warnings.warn(
        f"{file}: units disagree, so the model uses the file's numbers as written "
        f"(strict_units=True or --strict-units refuses it): {'; '.join(disagreements)}",
        UnitWarning,
        stacklevel=4,
    )
