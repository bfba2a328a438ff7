"""Building an ordinary :class:`~degranulation.network.Model` from molecule types, seed species
and BioNetGen-style rules (see :mod:`degranulation.rules`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from degranulation.errors import ModelError
from degranulation.rules.expansion import Network, Rule, _Expansion, _Matcher
from degranulation.rules.patterns import MoleculeType, Pattern, _Registry, parse_pattern

# -- building a model -----------------------------------------------------------------------


def parse_rule(text: str) -> tuple[tuple[Pattern, ...], tuple[Pattern, ...], bool]:
    """Read ``'A(b) + B(a) <-> A(b!1).B(a!1)'`` into reactants, products and reversibility.

    Examples
    --------
    >>> from degranulation.rules import parse_rule
    >>> reactants, products, reversible = parse_rule("A(b) + B(a) <-> A(b!1).B(a!1)")
    >>> len(reactants), len(products), reversible
    (2, 1, True)
    """
    for arrow in ("<->", "->"):
        left, found, right = text.partition(arrow)
        if found:
            return parse_pattern(left), parse_pattern(right), arrow == "<->"
    raise ModelError(f"rule '{text}' has no arrow", hint="write 'A(b) + B(a) -> A(b!1).B(a!1)' or use '<->'")


@dataclass(frozen=True)
class _Seed:
    pattern: str
    initial: str
    id: str | None
    description: str


@dataclass(frozen=True)
class _Observable:
    id: str
    patterns: tuple[str, ...]
    kind: str
    description: str


class RuleModelBuilder:
    """Build a model from molecule types, seed species and BioNetGen-style rules.

    The rules are expanded into every species and reaction they imply (module docstring);
    the result is an ordinary :class:`~degranulation.network.Model`: species are named by the
    seed ids and ``S<n>`` (n = position in the generated network) with the canonical species
    text as label, reactions are mass action with the statistical factor in the rate
    (``mass_action(2*kp1)``), and observables count pattern matches like BioNetGen's
    ``Molecules`` observables (or matching species, ``kind="Species"``).

    Examples
    --------
    >>> from degranulation.rules import RuleModelBuilder
    >>> model = (
    ...     RuleModelBuilder("two_sites", units={"time": "s", "amount": "molecule"})
    ...     .molecule_type("A(b,b)").molecule_type("B(a)")
    ...     .parameter("kon", "1e-3 1/(molecule*s)").parameter("koff", "0.1 1/s")
    ...     .seed("A(b,b)", "100 molecule", id="A").seed("B(a)", "300 molecule", id="B")
    ...     .rule("A(b) + B(a) <-> A(b!1).B(a!1)", "kon", "koff")
    ...     .observable("bound_B", "B(a!+)")
    ...     .build()
    ... )
    >>> for reaction in model.reactions:   # A has two equivalent sites: statistical factors
    ...     print(reaction.equation, reaction.rate)
    A + B -> S3 mass_action(2*kon)
    B + S3 -> S4 mass_action(kon)
    S3 -> A + B mass_action(koff)
    S4 -> B + S3 mass_action(2*koff)
    >>> model.observables[0].expr
    'S3 + 2*S4'
    >>> model.species[3].label
    'A(b!1,b!2).B(a!1).B(a!2)'
    """

    def __init__(
        self,
        id: str,
        *,
        title: str = "",
        cell_type: str = "",
        description: str = "",
        references: tuple[str, ...] = (),
        units: dict[str, str] | None = None,
    ) -> None:
        from degranulation.builder import ModelBuilder

        self._model = ModelBuilder(
            id, title=title, cell_type=cell_type, description=description, references=references, units=units
        )
        self._types: list[MoleculeType] = []
        self._seeds: list[_Seed] = []
        self._rules: list[Rule] = []
        self._observables: list[_Observable] = []

    def molecule_type(self, text: str) -> RuleModelBuilder:
        """Declare a molecule with its sites and their states, e.g. ``"Rec(a,b~Y~pY,g~Y~pY)"``."""
        self._types.append(MoleculeType.parse(text))
        return self

    def parameter(
        self, id: str, value: Any, *, description: str = "", source: str = "", status: str = ""
    ) -> RuleModelBuilder:
        """Add a parameter with its unit (as :meth:`ModelBuilder.parameter`)."""
        self._model.parameter(id, value, description=description, source=source, status=status)
        return self

    def seed(
        self, pattern: str, initial: Any, *, id: str | None = None, description: str = ""
    ) -> RuleModelBuilder:
        """Add a starting species (every site, state and bond written) with its initial amount."""
        from degranulation.network import UnitValue

        self._seeds.append(_Seed(pattern, str(UnitValue.parse(initial)), id, description))
        return self

    def rule(
        self, text: str, forward: str, reverse: str | None = None, *, id: str | None = None
    ) -> RuleModelBuilder:
        """Add a rule; ``forward`` (and ``reverse`` for ``<->``) name rate-constant parameters."""
        reactants, products, reversible = parse_rule(text)
        name = id or f"R{len({r.id.removeprefix('_reverse_') for r in self._rules}) + 1}"
        if reversible != (reverse is not None):
            raise ModelError(f"rule {name}: '<->' needs two rate constants and '->' one")
        self._rules.append(Rule(name, reactants, products, forward))
        if reverse is not None:
            self._rules.append(Rule(f"_reverse_{name}", products, reactants, reverse))
        return self

    def observable(
        self, id: str, patterns: str | Sequence[str], *, kind: str = "Molecules", description: str = ""
    ) -> RuleModelBuilder:
        """Add an observable summing the matches of one or more patterns."""
        if kind not in ("Molecules", "Species"):
            raise ModelError(f"observable {id}: kind must be 'Molecules' or 'Species', not {kind!r}")
        texts = (patterns,) if isinstance(patterns, str) else tuple(patterns)
        self._observables.append(_Observable(id, texts, kind, description))
        return self

    def network(self, *, max_species: int = 100_000) -> Network:
        """Expand the rules from the seeds (no model is built)."""
        registry = _Registry(self._types)
        for rule in self._rules:
            registry.check((*rule.reactants, *rule.products), f"rule {rule.id}")
        expansion = _Expansion(registry, self._rules, max_species)
        for seed in self._seeds:
            patterns = parse_pattern(seed.pattern)
            if len(patterns) != 1:
                raise ModelError(f"seed '{seed.pattern}' must be one complex")
            registry.check(patterns, f"seed '{seed.pattern}'")
            before = len(expansion.network.species)
            if expansion.add_species(registry.complex_from(patterns[0], f"seed '{seed.pattern}'")) < before:
                raise ModelError(f"seed '{seed.pattern}' is given twice")
        network = expansion.run()
        network.observables = {o.id: self._weights(o, registry, network) for o in self._observables}
        return network

    @staticmethod
    def _weights(observable: _Observable, registry: _Registry, network: Network) -> dict[int, int]:
        weights: dict[int, int] = {}
        for text in observable.patterns:
            for pattern in parse_pattern(text):
                registry.check([pattern], f"observable {observable.id}")
                matcher = _Matcher(pattern, registry)
                for s, species in enumerate(network.species):
                    count = len(matcher.maps(species.complex))
                    if count:
                        weights[s] = weights.get(s, 0) + (count if observable.kind == "Molecules" else 1)
        return weights

    def build(self, *, validate: bool = True, max_species: int = 100_000) -> Any:
        """Generate the network and return it as a :class:`~degranulation.network.Model`.

        Raises
        ------
        ModelError
            For unknown molecule types or sites, malformed patterns, or too many species.
        ModelValidationError
            If ``validate`` and the model has errors (e.g. a rate constant's unit).
        """
        network = self.network(max_species=max_species)
        names = self._species_ids(network)
        amount = self._seeds[0].initial.split(maxsplit=1)[1] if self._seeds else "molecule"
        initial = {network.index[self._seed_key(seed)]: seed for seed in self._seeds}
        for s, species in enumerate(network.species):
            seed = initial.get(s)
            self._model.species(
                names[s],
                seed.initial if seed else f"0 {amount}",
                label=species.label,
                description=seed.description if seed else "",
            )
        for n, reaction in enumerate(network.reactions, start=1):
            equation = f"{_side(reaction.reactants, names)} -> {_side(reaction.products, names)}"
            self._model.reaction(
                equation,
                f"mass_action({_rate_text(reaction.factor, reaction.rate)})",
                id=f"r{n}",
                description=f"rule {reaction.rule.removeprefix('_')}",
            )
        for observable in self._observables:
            weights = network.observables[observable.id]
            terms = [names[s] if w == 1 else f"{w}*{names[s]}" for s, w in sorted(weights.items())]
            self._model.observable(
                observable.id, " + ".join(terms) or "0", amount, description=observable.description
            )
        return self._model.build(validate=validate)

    def _seed_key(self, seed: _Seed) -> str:
        registry = _Registry(self._types)
        return registry.key(registry.complex_from(parse_pattern(seed.pattern)[0], seed.pattern))

    def canonical(self, species: str) -> str:
        """The canonical text of a species written in BioNetGen's language (e.g. from a
        ``.net`` file): equal to the ``label`` of the generated species it is isomorphic to.

        Examples
        --------
        >>> from degranulation.rules import fceri_faeder2003
        >>> fceri_faeder2003().canonical("Rec(g~Y,b~Y,a!1).Lig(l,l!1)")
        'Lig(l,l!1).Rec(a!1,b~Y,g~Y)'
        """
        registry = _Registry(self._types)
        patterns = parse_pattern(species)
        if len(patterns) != 1:
            raise ModelError(f"'{species}' is not one complex")
        registry.check(patterns, f"species '{species}'")
        return registry.canonical(registry.complex_from(patterns[0], species))

    def _species_ids(self, network: Network) -> list[str]:
        names = [f"S{s + 1}" for s in range(len(network.species))]
        for seed in self._seeds:
            if seed.id:
                names[network.index[self._seed_key(seed)]] = seed.id
        return names


def _side(indices: tuple[int, ...], names: list[str]) -> str:
    counts: dict[int, int] = {}
    for s in indices:
        counts[s] = counts.get(s, 0) + 1
    return " + ".join(names[s] if n == 1 else f"{n} {names[s]}" for s, n in counts.items()) or "0"


def _rate_text(factor: float, rate: str) -> str:
    if factor == 1:
        return rate
    return f"{int(factor) if factor.is_integer() else factor!r}*{rate}"
