"""Random mass-action networks with units, for property tests and benchmarks.

A network mixes amount species (``molecule``, ``amol``) and concentration species (``nM``,
``uM``, ``pM``) in one or more compartments. Each side of a reaction has order 0–3 with
coefficients 1–2; reactions may be reversible. Every rate constant gets the unit SBML semantics
ask for (see :mod:`degranulation.kinetics`): either an extent rate (amount per time) or, when the
reactants' compartment is unambiguous, a concentration rate that the package multiplies by the
compartment volume. Values are written in assorted but compatible units (``1/min``,
``1/(uM*s)``, ``fL``), so every model also exercises unit conversion.

The generator draws through a :class:`Chooser`; :class:`SeededChooser` makes reproducible
networks of any size (benchmarks), and :mod:`degranulation.testing.strategies` supplies one
that draws from Hypothesis, so both make the same kind of model.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from degranulation.builder import ModelBuilder
from degranulation.network import Model

# Unit text -> its size in the generator's base units (molecule, nM, s, pL).
AMOUNT_UNITS: Final = {"molecule": 1.0, "amol": 602214.076}
CONCENTRATION_UNITS: Final = {"nM": 1.0, "uM": 1e3, "pM": 1e-3}
TIME_UNITS: Final = {"s": 1.0, "min": 60.0, "h": 3600.0}
VOLUME_UNITS: Final = {"pL": 1.0, "fL": 1e-3, "nL": 1e3}
MODEL_UNITS: Final = (
    {"time": "s", "concentration": "nM", "amount": "molecule"},
    {"time": "min", "concentration": "uM", "amount": "molecule"},
    {"time": "s", "concentration": "nM", "amount": "amol"},
)
# Typical magnitudes (base units): rate constants are scaled so that each reaction's relative
# rate at typical states is 0.01–1 per second, whatever its order and units.
_TYPICAL_AMOUNT: Final = 1000.0
_TYPICAL_CONCENTRATION: Final = 5.0


class Chooser(Protocol):
    """Where the generator's random choices come from."""

    def integer(self, low: int, high: int) -> int:
        """An integer in ``[low, high]``."""
        ...

    def real(self, low: float, high: float) -> float:
        """A float in ``[low, high]``."""
        ...


class SeededChooser:
    """Choices from :class:`random.Random` with a fixed seed: the same network every time."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def integer(self, low: int, high: int) -> int:
        """An integer in ``[low, high]``."""
        return self._random.randint(low, high)

    def real(self, low: float, high: float) -> float:
        """A float in ``[low, high]``."""
        return self._random.uniform(low, high)


@dataclass(frozen=True)
class _Species:
    id: str
    compartment: str
    is_concentration: bool


def network_builder(
    choose: Chooser,
    *,
    n_species: tuple[int, int] = (1, 6),
    n_reactions: tuple[int, int] = (1, 8),
    n_compartments: tuple[int, int] = (1, 2),
    shared_parameters: bool = False,
    allow_boundary: bool = True,
    text: Callable[[], str] = str,
) -> ModelBuilder:
    """A :class:`~degranulation.ModelBuilder` holding a random mass-action network.

    Parameters
    ----------
    choose : Chooser
        Source of the random choices.
    n_species, n_reactions, n_compartments : (int, int)
        Inclusive ranges for the sizes.
    shared_parameters : bool
        Reactions whose constants need the same unit share one parameter, scaled by a
        statistical factor (``mass_action(2*k_e11, 1*k_c02)``), as in rule-generated networks.
        Otherwise each direction has its own parameter (``kf3``, ``kr3``).
    allow_boundary : bool
        Let about one species in ten be a boundary species (held constant).
    text : callable
        Makes titles, labels and descriptions (by default empty).

    Examples
    --------
    >>> from degranulation.testing.networks import SeededChooser, network_builder
    >>> model = network_builder(SeededChooser(3), n_reactions=(5, 5)).build()
    >>> len(model.reactions)
    5
    """
    builder = ModelBuilder("random_network", title=text(), description=text(), units=_model_units(choose))
    species = _add_species(builder, choose, n_species, n_compartments, allow_boundary, text)
    constants: set[str] = set()
    for j in range(choose.integer(*n_reactions)):
        left, right = _side(choose, species), _side(choose, species)
        if not left and not right:
            right = {species[choose.integer(0, len(species) - 1)].id: 1}
        _add_reaction(
            builder,
            choose,
            constants,
            j + 1,
            (left, right, choose.integer(0, 1) == 1),
            species,
            shared_parameters,
            text,
        )
    first = species[0]
    builder.observable(
        "obs_" + first.id, first.id, "nM" if first.is_concentration else "molecule", description=text()
    )
    return builder


def chain_builder(
    choose: Chooser,
    *,
    n_species: tuple[int, int] = (2, 6),
    n_compartments: tuple[int, int] = (1, 2),
) -> ModelBuilder:
    """A random first-order chain ``S0 -> S1 -> ... -> Sn`` (steps may be reversible, the last
    species may be degraded): a linear system whose solution is ``expm(K t)·x0`` in amounts.

    Examples
    --------
    >>> from degranulation.testing.networks import SeededChooser, chain_builder
    >>> [r.equation for r in chain_builder(SeededChooser(0), n_species=(3, 3)).build().reactions]
    ['S0 <-> S1', 'S1 -> S2', 'S2 -> 0']
    """
    builder = ModelBuilder("first_order_chain", units=_model_units(choose))
    species = _add_species(builder, choose, n_species, n_compartments, False, str)
    steps = [({a.id: 1}, {b.id: 1}, choose.integer(0, 1) == 1) for a, b in itertools.pairwise(species)]
    if choose.integer(0, 1):
        steps.append(({species[-1].id: 1}, {}, False))
    constants: set[str] = set()
    for j, step in enumerate(steps):
        _add_reaction(builder, choose, constants, j + 1, step, species, False, str)
    return builder


def random_network(
    n_species: int, n_reactions: int, *, seed: int = 0, shared_parameters: bool = True, validate: bool = True
) -> Model:
    """A reproducible random mass-action network of a given size (for benchmarks).

    Examples
    --------
    >>> from degranulation.testing.networks import random_network
    >>> model = random_network(20, 50, seed=1)
    >>> len(model.species), len(model.reactions)
    (20, 50)
    """
    builder = network_builder(
        SeededChooser(seed),
        n_species=(n_species, n_species),
        n_reactions=(n_reactions, n_reactions),
        n_compartments=(2, 2),
        shared_parameters=shared_parameters,
        allow_boundary=False,
    )
    return builder.build(validate=validate)


def _model_units(choose: Chooser) -> dict[str, str]:
    return MODEL_UNITS[choose.integer(0, len(MODEL_UNITS) - 1)]


def _add_species(
    builder: ModelBuilder,
    choose: Chooser,
    n_species: tuple[int, int],
    n_compartments: tuple[int, int],
    allow_boundary: bool,
    text: Callable[[], str],
) -> list[_Species]:
    """Add the compartments and species, half amounts and half concentrations on average."""
    compartments = [f"c{k}" for k in range(choose.integer(*n_compartments))]
    for compartment in compartments:
        size, unit = _in_unit(choose, choose.real(0.5, 5.0), VOLUME_UNITS)
        builder.compartment(compartment, f"{size!r} {unit}", label=text())
    species = []
    for i in range(choose.integer(*n_species)):
        is_concentration = choose.integer(0, 1) == 1
        typical = _TYPICAL_CONCENTRATION if is_concentration else _TYPICAL_AMOUNT
        base = 0.0 if choose.integer(0, 4) == 0 else typical * choose.real(0.01, 2.0)
        value, unit = _in_unit(choose, base, CONCENTRATION_UNITS if is_concentration else AMOUNT_UNITS)
        compartment = compartments[choose.integer(0, len(compartments) - 1)]
        boundary = allow_boundary and choose.integer(0, 9) == 0
        builder.species(
            f"S{i}", f"{value!r} {unit}", compartment=compartment, boundary=boundary, label=text()
        )
        species.append(_Species(f"S{i}", compartment, is_concentration))
    return species


def _add_reaction(
    builder: ModelBuilder,
    choose: Chooser,
    constants: set[str],
    number: int,
    step: tuple[dict[str, int], dict[str, int], bool],
    species: list[_Species],
    shared: bool,
    text: Callable[[], str],
) -> None:
    left, right, reversible = step
    rate = [_constant(choose, builder, constants, f"kf{number}", left, right, species, shared, text)]
    if reversible:
        rate.append(_constant(choose, builder, constants, f"kr{number}", right, left, species, shared, text))
    builder.reaction(
        f"{_side_text(left)} {'<->' if reversible else '->'} {_side_text(right)}",
        f"mass_action({', '.join(rate)})",
        id=f"R{number}",
        label=text(),
        description=text(),
    )


def _in_unit(choose: Chooser, base_value: float, units: dict[str, float]) -> tuple[float, str]:
    unit = _pick(choose, units)
    return base_value / units[unit], unit


def _side(choose: Chooser, species: list[_Species]) -> dict[str, int]:
    """Reactant or product terms: total order 0–3, each coefficient 1 or 2."""
    remaining = choose.integer(0, 3)
    terms: dict[str, int] = {}
    while remaining > 0:
        name = species[choose.integer(0, len(species) - 1)].id
        coefficient = min(choose.integer(1, 2), remaining, 2 - terms.get(name, 0))
        if coefficient == 0:  # that species already has coefficient 2
            break
        terms[name] = terms.get(name, 0) + coefficient
        remaining -= coefficient
    return terms


def _side_text(terms: dict[str, int]) -> str:
    return " + ".join(name if c == 1 else f"{c} {name}" for name, c in terms.items()) or "0"


def _constant(
    choose: Chooser,
    builder: ModelBuilder,
    constants: set[str],
    name: str,
    consumed: dict[str, int],
    produced: dict[str, int],
    species: list[_Species],
    shared: bool,
    text: Callable[[], str],
) -> str:
    """Add the rate constant of one direction; return its text in the rate law."""
    by_id = {s.id: s for s in species}
    n_amount = sum(c for s, c in consumed.items() if not by_id[s].is_concentration)
    n_concentration = sum(c for s, c in consumed.items() if by_id[s].is_concentration)
    # SBML semantics: a concentration rate needs one compartment to turn it into an extent rate.
    involved = [by_id[s] for s in consumed or produced]
    volumes = {s.compartment for s in involved if s.is_concentration} or {s.compartment for s in involved}
    is_concentration_rate = len(volumes) == 1 and choose.integer(0, 1) == 1
    if is_concentration_rate:  # k·Π x is nM/s: k in nM**(1-c) / molecule**a / s
        powers = {"amount": -n_amount, "concentration": 1 - n_concentration}
        typical_rate = _TYPICAL_CONCENTRATION
    else:  # k·Π x is molecule/s: k in molecule**(1-a) / nM**c / s
        powers = {"amount": 1 - n_amount, "concentration": -n_concentration}
        typical_rate = _TYPICAL_AMOUNT
    typical_state = _TYPICAL_AMOUNT**n_amount * _TYPICAL_CONCENTRATION**n_concentration
    relative_rate = 0.1 if shared else 10 ** choose.real(-2.0, 0.0)
    base_value = relative_rate * typical_rate / typical_state
    parameter = f"k_{'c' if is_concentration_rate else 'e'}{n_amount}{n_concentration}" if shared else name
    if parameter not in constants:
        constants.add(parameter)
        builder.parameter(parameter, _value_text(choose, base_value, powers), description=text())
    # Shared constants carry a statistical factor, as rule-generated networks do.
    return f"{choose.integer(1, 2)}*{parameter}" if shared else parameter


def _value_text(choose: Chooser, base_value: float, powers: dict[str, int]) -> str:
    """A rate constant given in base units (molecule, nM, s) written in randomly chosen units."""
    amount, concentration, time = (
        _pick(choose, table) for table in (AMOUNT_UNITS, CONCENTRATION_UNITS, TIME_UNITS)
    )
    value = (
        base_value
        * AMOUNT_UNITS[amount] ** -powers["amount"]
        * CONCENTRATION_UNITS[concentration] ** -powers["concentration"]
        * TIME_UNITS[time]
    )
    unit = _unit_text({amount: powers["amount"], concentration: powers["concentration"], time: -1})
    return f"{value!r} {unit}"


def _pick(choose: Chooser, table: dict[str, float]) -> str:
    names = list(table)
    return names[choose.integer(0, len(names) - 1)]


def _unit_text(powers: dict[str, int]) -> str:
    """``{"molecule": 1, "nM": -2, "s": -1}`` → ``"molecule/(nM**2*s)"``."""

    def power(unit: str, exponent: int) -> str:
        return unit if exponent == 1 else f"{unit}**{exponent}"

    top = [power(u, e) for u, e in powers.items() if e > 0]
    bottom = [power(u, -e) for u, e in powers.items() if e < 0]
    text = "*".join(top) or "1"
    if bottom:
        text += "/" + (bottom[0] if len(bottom) == 1 else "(" + "*".join(bottom) + ")")
    return text
