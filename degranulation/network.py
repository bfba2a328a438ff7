"""The model records (compartments, species, parameters, reactions, observables, protocols,
events) and the reaction-equation parser (``"L + R <-> LR"``).

Records are frozen dataclasses that hold the model as written: values with their unit text,
rate laws and observables as text. Nothing here checks units or names; that is
:mod:`degranulation.validation`'s job, so that every problem in a model is reported at once.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Final, Literal

from degranulation.errors import ExpressionError
from degranulation.limits import MAX_STOICHIOMETRY
from degranulation.units import UnitSystem, to_quantity

FORMAT: Final = "degranulation-model/1"
ParameterStatus = Literal["", "measured", "fitted", "assumed", "derived"]
Scale = Literal["lin", "log10"]
_ARROWS: Final = ("<->", "<=>", "->", "=>")
_TERM_RE = re.compile(
    r"\s*(?:(?P<coef>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*\*?\s*)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*"
)

#: A stoichiometric coefficient: an ``int`` when it is a whole number, else a ``float``.
Coefficient = int | float
#: ``(species id, coefficient)`` pairs of one side of an equation.
Side = tuple[tuple[str, Coefficient], ...]


#: Mismatches a model that does not enforce units (``Model.units_enforced``) is simulated
#: with, its numbers as written: rate laws, observables and event math whose units do not check.
NOT_ENFORCED = frozenset({"U101", "U106", "U107"})


@dataclass(frozen=True)
class UnitValue:
    """A value with its unit text exactly as written, e.g. ``UnitValue(4e5, "molecule")``.

    Examples
    --------
    >>> from degranulation.network import UnitValue
    >>> str(UnitValue.parse("1e6 1/(M*s)"))
    '1000000.0 1/(M*s)'
    """

    value: float
    unit: str

    @classmethod
    def parse(cls, value: Any) -> UnitValue:
        """Make one from text (``"1 nM"``), a pint Quantity, or a ``UnitValue``."""
        if isinstance(value, UnitValue):
            return value
        number, unit = to_quantity(value)
        return cls(number, unit)

    def __str__(self) -> str:
        return f"{self.value!r} {self.unit}" if self.unit else repr(self.value)


@dataclass(frozen=True)
class Compartment:
    """A compartment in which species live; ``size`` is a volume, an area (a membrane) or a
    length, or ``1 dimensionless`` for one without a size (see :mod:`degranulation.dimensions`)."""

    id: str
    size: UnitValue
    label: str = ""
    description: str = ""


#: Field metadata of a field added after models were first hashed: left out of
#: ``Model.content_hash`` while it has its default, so older models keep their hash.
_HASHED_WHEN_SET: Final = {"hashed_when_set": True}


@dataclass(frozen=True)
class Species:
    """A species; its initial value's unit decides whether it is an amount or a concentration.

    Attributes
    ----------
    boundary : bool
        Reactions do not change it (a clamped input, SBML ``boundaryCondition``).
    molar_mass : UnitValue or None
        Lets mass concentrations (``"10 ng/mL"``) be given for this species.
    variable : bool
        A model variable, not a chemical: a state in any unit (dimensionless, ``1/s``, ``nM``
        …), in no compartment, changed only by reactions ``0 -> x`` whose explicit rate is
        ``dx/dt`` in its unit per time (SBML's rate rule for a parameter). It is a species
        record so that it is solved, set by events and protocols, and reported like every
        state; it is checked as written (its initial value may be negative) and is in no
        conservation law with chemicals.

    Examples
    --------
    >>> from degranulation.network import Species, UnitValue
    >>> Species("signal", UnitValue(0.0, "dimensionless"), variable=True).variable
    True
    """

    id: str
    initial: UnitValue
    compartment: str | None = None
    label: str = ""
    description: str = ""
    molar_mass: UnitValue | None = None
    boundary: bool = False
    variable: bool = field(default=False, metadata=_HASHED_WHEN_SET)


@dataclass(frozen=True)
class Estimate:
    """How a parameter is estimated: bounds and the scale the optimiser works on."""

    bounds: tuple[UnitValue, UnitValue]
    scale: Scale = "log10"


@dataclass(frozen=True)
class Parameter:
    """A named constant with a unit, its source and whether it was measured, fitted or assumed."""

    id: str
    value: UnitValue
    description: str = ""
    source: str = ""
    status: ParameterStatus = ""
    estimate: Estimate | None = None


@dataclass(frozen=True)
class Reaction:
    """A reaction: an equation such as ``"L + R <-> LR"`` and a rate law.

    The rate is ``mass_action(kf[, kr])`` or an explicit extent rate (amount per time); a
    model variable's reaction ``0 -> x`` has ``dx/dt`` as its rate (see ``Species.variable``).
    """

    id: str
    equation: str
    rate: str
    label: str = ""
    description: str = ""

    @functools.cached_property
    def parsed(self) -> tuple[Side, Side, bool]:
        """``(reactants, products, reversible)``; raises ExpressionError if malformed."""
        return parse_equation(self.equation)

    @property
    def reactants(self) -> Side:
        """``(species id, stoichiometric coefficient)`` pairs on the left; a coefficient is an
        ``int`` when it is a whole number (``2``, ``2.0``), else a ``float`` (``0.5``)."""
        return self.parsed[0]

    @property
    def products(self) -> Side:
        """``(species id, stoichiometric coefficient)`` pairs on the right (as ``reactants``)."""
        return self.parsed[1]

    @property
    def reversible(self) -> bool:
        """True for ``<->``."""
        return self.parsed[2]


@dataclass(frozen=True)
class Observable:
    """A named readout: an expression of species and parameters, reported in ``unit``."""

    id: str
    expr: str
    unit: str
    description: str = ""


StepAction = Literal["set", "add", "clamp", "release"]


@dataclass(frozen=True)
class Step:
    """One protocol step: at time ``at``, ``action`` on ``target``.

    ``set`` a species or parameter to ``value`` (washout, add antigen, add an inhibitor, reset
    a readout); ``add`` ``value`` to a species; ``clamp`` a species at ``value`` (held constant
    from then on); ``release`` a clamp (no value).
    """

    at: UnitValue
    action: StepAction
    target: str
    value: UnitValue | None = None


@dataclass(frozen=True)
class Protocol:
    """A named sequence of steps applied during a simulation, in time order."""

    id: str
    steps: tuple[Step, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class ModelEvent:
    """An event triggered by the model's state (SBML's events): when ``trigger`` turns from false
    to true, after ``delay``, set each target (a species or parameter) to its expression.

    Expressions are text in the model's names (species, parameters, compartments, ``t``), read
    in the model's units like rate laws; each assignment is in its target's unit.

    Attributes
    ----------
    trigger : str
        A condition, e.g. ``"x < 0.5"`` or ``"t >= 10 and Ca > 1e-7"``.
    assignments : tuple of (str, str)
        ``(target, expression)`` pairs, applied together.
    delay : str
        A time expression evaluated when the trigger fires ('' for none).
    priority : str
        Of events executing at one time, the highest priority goes first ('' for none: last;
        equal priorities execute in the model's order).
    persistent : bool
        False: a delayed execution is cancelled if the trigger turns false before it.
    initial_value : bool
        The trigger's value just before the start: False lets it fire at the start.
    use_values_from_trigger_time : bool
        Assignments are computed when the trigger fires (True) or when the event executes.

    Examples
    --------
    >>> from degranulation.network import ModelEvent
    >>> ModelEvent("reset", "x < 0.5", (("x", "1"),)).assignments
    (('x', '1'),)
    """

    id: str
    trigger: str
    assignments: tuple[tuple[str, str], ...]
    delay: str = ""
    priority: str = ""
    persistent: bool = True
    initial_value: bool = True
    use_values_from_trigger_time: bool = True
    description: str = ""


@dataclass(frozen=True)
class Model:
    """A reaction network with units: the value every later stage starts from.

    Build one with :func:`degranulation.load_model` or :class:`degranulation.ModelBuilder`.
    ``source`` (the file it came from) takes no part in equality or the content hash.

    ``units_enforced`` is False only for a model imported from a file whose units disagree
    (SBML, BioNetGen, PEtab read without ``strict_units``): its rate laws are extent rates
    and its observables values exactly as written, in the numbers of its records' units,
    and validation reports unit mismatches as warnings instead of errors.
    """

    id: str
    title: str = ""
    cell_type: str = ""
    description: str = ""
    references: tuple[str, ...] = ()
    units: UnitSystem = field(default_factory=UnitSystem)
    compartments: tuple[Compartment, ...] = ()
    species: tuple[Species, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    reactions: tuple[Reaction, ...] = ()
    observables: tuple[Observable, ...] = ()
    protocols: tuple[Protocol, ...] = ()
    default_protocol: str = ""
    events: tuple[ModelEvent, ...] = ()
    source: str | None = field(default=None, compare=False)
    units_enforced: bool = True

    @functools.cached_property
    def content_hash(self) -> str:
        """SHA-256 of the model's content (everything but ``source``), hex."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.compare}
        if self.units_enforced:  # hashes from before the flag existed stay valid
            del data["units_enforced"]
        if not self.events:  # models without events keep the hash they had before events existed
            del data["events"]
        text = json.dumps(_plain(data), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @functools.cached_property
    def species_ids(self) -> tuple[str, ...]:
        """Species ids in state-vector order."""
        return tuple(s.id for s in self.species)

    @functools.cached_property
    def by_id(self) -> Mapping[str, Compartment | Species | Parameter | Observable]:
        """Every compartment, species, parameter and observable by id (first one wins)."""
        table: dict[str, Any] = {}
        for group in (self.compartments, self.species, self.parameters, self.observables):
            for record in group:
                table.setdefault(record.id, record)
        return table

    def get_species(self, name: str) -> Species:
        """The species called ``name`` (KeyError if there is none)."""
        record = self.by_id.get(name)
        if not isinstance(record, Species):
            raise KeyError(name)
        return record

    def get_parameter(self, name: str) -> Parameter:
        """The parameter called ``name`` (KeyError if there is none)."""
        record = self.by_id.get(name)
        if not isinstance(record, Parameter):
            raise KeyError(name)
        return record

    def get_protocol(self, name: str) -> Protocol:
        """The protocol called ``name`` (KeyError if there is none)."""
        for protocol in self.protocols:
            if protocol.id == name:
                return protocol
        raise KeyError(name)

    def replace(self, **changes: Any) -> Model:
        """Return a copy with some fields changed (the model itself never changes)."""
        return dataclasses.replace(self, **changes)


def parameter_targets(model: Model) -> tuple[str, ...]:
    """The parameters a model's events set, in model order (they vary in time).

    Examples
    --------
    >>> from degranulation.network import Model, ModelEvent, Parameter, UnitValue, parameter_targets
    >>> parameter_targets(Model("m", parameters=(Parameter("k", UnitValue(1.0, "1/s")),),
    ...     events=(ModelEvent("e", "t > 1", (("k", "2*k"),)),)))
    ('k',)
    """
    assigned = {target for event in model.events for target, _ in event.assignments}
    return tuple(p.id for p in model.parameters if p.id in assigned)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (f.metadata.get("hashed_when_set") and getattr(value, f.name) == f.default)
        }
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return repr(value)
    return value


def parse_equation(text: str) -> tuple[Side, Side, bool]:
    """Parse ``"2 A + B <-> C"`` into reactants, products and reversibility.

    ``0`` or nothing stands for an empty side (synthesis, degradation). A coefficient is a
    positive decimal number up to :data:`~degranulation.limits.MAX_STOICHIOMETRY` (``2``,
    ``0.5``, ``8.5*C``, ``2.5e-3 P``), read as a float64 number; whole numbers are ``int``.

    Raises
    ------
    ExpressionError
        With the column of the problem.

    Examples
    --------
    >>> from degranulation.network import parse_equation
    >>> parse_equation("L + R <-> LR")
    ((('L', 1), ('R', 1)), (('LR', 1),), True)
    >>> parse_equation("0.5 A + 2*B -> 8.5 C")
    ((('A', 0.5), ('B', 2)), (('C', 8.5),), False)
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expected equation text, got {text!r}")
    for arrow in _ARROWS:
        position = text.find(arrow)
        if position >= 0:
            break
    else:
        raise ExpressionError(
            f"no arrow in equation '{text}'",
            hint="write 'A + B -> C' (irreversible) or 'A + B <-> C' (reversible)",
        )
    left, right = text[:position], text[position + len(arrow) :]
    if any(a in right for a in _ARROWS):
        raise ExpressionError(f"more than one arrow in '{text}'", column=position + len(arrow) + 1)
    reactants = _parse_side(left, 0)
    products = _parse_side(right, position + len(arrow))
    if not reactants and not products:
        raise ExpressionError(f"equation '{text}' has no species")
    return reactants, products, arrow in ("<->", "<=>")


def _parse_side(text: str, offset: int) -> Side:
    if text.strip() in ("", "0", "∅"):
        return ()
    terms: dict[str, Fraction] = {}
    column = offset
    for part in text.split("+"):
        match = _TERM_RE.fullmatch(part)
        if match is None:
            raise ExpressionError(
                f"'{part.strip()}' is not a species term",
                column=column + len(part) - len(part.lstrip()) + 1,
                hint="terms look like 'R', '2 R', '2*R' or '0.5 R' (a positive number, then the species)",
            )
        coefficient = _coefficient(match["coef"] or "1", part.strip(), column + 1)
        terms[match["name"]] = terms.get(match["name"], Fraction(0)) + coefficient
        column += len(part) + 1
    return tuple((name, coefficient_number(value)) for name, value in terms.items())


def _coefficient(text: str, term: str, column: int) -> Fraction:
    """The exact value of a coefficient's text, as the float64 number it reads as."""
    value = float(text)  # overflows to inf instead of building a huge exact number
    if value > MAX_STOICHIOMETRY:
        raise ExpressionError(
            f"coefficient in '{term[:40]}' is larger than {MAX_STOICHIOMETRY:g}", column=column
        )
    if value == 0:
        mantissa = text.lower().partition("e")[0]
        what = "coefficient too small for a float64 number" if mantissa.strip("0.") else "zero coefficient"
        raise ExpressionError(f"{what} in '{term[:40]}'", column=column)
    return exact(value)


def exact(coefficient: Coefficient) -> Fraction:
    """A coefficient's exact value: a float as the decimal it is written as (``0.1`` is 1/10).

    The shortest decimal that reads back as the float, so the coefficients of an equation
    (``0.1 A + 0.2 A``) add up, and conservation laws come out, as their decimal text does.

    Examples
    --------
    >>> from degranulation.network import exact
    >>> exact(0.1), exact(3)
    (Fraction(1, 10), Fraction(3, 1))
    """
    return Fraction(coefficient) if isinstance(coefficient, int) else Fraction(repr(float(coefficient)))


def coefficient_number(value: Fraction) -> Coefficient:
    """A coefficient as stored: ``int`` when whole, else the nearest ``float``.

    Examples
    --------
    >>> from fractions import Fraction
    >>> from degranulation.network import coefficient_number
    >>> coefficient_number(Fraction(4, 2)), coefficient_number(Fraction(3, 10))
    (2, 0.3)
    """
    return int(value) if value.denominator == 1 else float(value)
