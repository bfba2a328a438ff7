"""Rule matching and network expansion: every species and reaction the rules imply, with
BioNetGen's statistical factors (see :mod:`degranulation.rules`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from degranulation.errors import ModelError, UnsupportedFeatureError
from degranulation.rules.patterns import (
    ANY,
    BOUND,
    FREE,
    Address,
    Complex,
    GeneratedSpecies,
    MoleculePattern,
    Pattern,
    _components,
    _Registry,
    _subcomplex,
)

# -- matching -----------------------------------------------------------------------------


class _Matcher:
    """All embeddings of one complex pattern into complexes."""

    def __init__(self, pattern: Pattern, registry: _Registry) -> None:
        self.pattern = pattern
        self.site_names = [registry.site_names(m.name) for m in pattern]
        ends: dict[int, list[tuple[int, int]]] = {}
        for i, molecule in enumerate(pattern):
            for j, site in enumerate(molecule.sites):
                if isinstance(site.bond, int):
                    ends.setdefault(site.bond, []).append((i, j))
        self.partner: dict[tuple[int, int], tuple[int, int]] = {}
        for label, pair in ends.items():
            if len(pair) != 2:
                raise ModelError(f"bond !{label} must join exactly two sites in a pattern")
            self.partner[pair[0]] = pair[1]
            self.partner[pair[1]] = pair[0]
        self.order, self.anchor = self._plan()

    def _plan(self) -> tuple[list[int], dict[int, tuple[tuple[int, int], tuple[int, int]]]]:
        """Visit order: bonded neighbours right after the molecule that reaches them."""
        order: list[int] = []
        anchor: dict[int, tuple[tuple[int, int], tuple[int, int]]] = {}
        for start in range(len(self.pattern)):
            if start in order:
                continue
            order.append(start)
            queue = [start]
            while queue:
                i = queue.pop(0)
                for j in range(len(self.pattern[i].sites)):
                    other = self.partner.get((i, j))
                    if other is not None and other[0] not in order:
                        order.append(other[0])
                        anchor[other[0]] = ((i, j), other)
                        queue.append(other[0])
        return order, anchor

    def maps(self, cx: Complex) -> list[dict[tuple[int, int], Address]]:
        """Every embedding: pattern (molecule, listed site) → (molecule, site) of ``cx``."""
        found: list[dict[tuple[int, int], Address]] = []
        self._extend(cx, 0, {}, {}, found)
        return found

    def _extend(
        self,
        cx: Complex,
        depth: int,
        molecules: dict[int, int],
        sites: dict[tuple[int, int], Address],
        found: list[dict[tuple[int, int], Address]],
    ) -> None:
        if depth == len(self.order):
            found.append(dict(sites))
            return
        i = self.order[depth]
        molecule = self.pattern[i]
        if i in self.anchor:
            (source, _) = self.anchor[i]
            target = cx.partners[sites[source][0]][sites[source][1]]
            candidates = [] if target is None else [target[0]]
        else:
            candidates = [m for m in range(len(cx.types)) if cx.types[m] == molecule.name]
        used = set(molecules.values())
        for m in candidates:
            if m in used or cx.types[m] != molecule.name:
                continue
            molecules[i] = m
            sites[(i, -1)] = (m, -1)  # the molecule itself
            for assignment in self._sites(cx, i, m, sites):
                for j, slot in enumerate(assignment):
                    sites[(i, j)] = (m, slot)
                self._extend(cx, depth + 1, molecules, sites, found)
                for j in range(len(assignment)):
                    del sites[(i, j)]
            del sites[(i, -1)]
            del molecules[i]

    def _sites(
        self, cx: Complex, i: int, m: int, sites: dict[tuple[int, int], Address]
    ) -> Iterator[tuple[int, ...]]:
        names = self.site_names[i]
        options = []
        for j, site in enumerate(self.pattern[i].sites):
            allowed = []
            for k, name in enumerate(names):
                if name != site.name or (site.state is not None and cx.states[m][k] != site.state):
                    continue
                partner = cx.partners[m][k]
                if site.bond == FREE and partner is not None:
                    continue
                if site.bond != FREE and site.bond != ANY and partner is None:
                    continue
                other = self.partner.get((i, j))
                if other is not None and other in sites and sites[other] != partner:
                    continue
                allowed.append(k)
            if not allowed:
                return
            options.append(allowed)
        yield from _injective(options, 0, [])


def _injective(options: list[list[int]], depth: int, chosen: list[int]) -> Iterator[tuple[int, ...]]:
    if depth == len(options):
        yield tuple(chosen)
        return
    for k in options[depth]:
        if k not in chosen:
            chosen.append(k)
            yield from _injective(options, depth + 1, chosen)
            chosen.pop()


# -- rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One unidirectional rule: reactant and product patterns and its rate-constant name."""

    id: str
    reactants: tuple[Pattern, ...]
    products: tuple[Pattern, ...]
    rate: str


@dataclass(frozen=True)
class _Action:
    """What a rule does, on pattern sites numbered ``(reactant complex, molecule, site)``."""

    states: tuple[tuple[tuple[int, int, int], str], ...]
    bonds_made: tuple[tuple[tuple[int, int, int], tuple[int, int, int]], ...]
    bonds_broken: tuple[tuple[tuple[int, int, int], tuple[int, int, int]], ...]
    product_groups: tuple[tuple[tuple[int, int], ...], ...]  # reactant molecules of each product complex


def _action(rule: Rule) -> _Action:
    """Compare the two sides of a rule: state changes, bonds made and broken."""
    reactant_molecules = [(c, i, m) for c, p in enumerate(rule.reactants) for i, m in enumerate(p)]
    correspondence: dict[tuple[int, int], tuple[int, int]] = {}  # product (c, i) -> reactant (c, i)
    free = list(reactant_molecules)
    for c, pattern in enumerate(rule.products):
        for i, molecule in enumerate(pattern):
            match = next((r for r in free if r[2].name == molecule.name), None)
            if match is None:
                raise UnsupportedFeatureError(
                    f"rule {rule.id}: creating molecules ('{molecule.name}') is not supported",
                    features=["synthesis"],
                )
            free.remove(match)
            correspondence[(c, i)] = (match[0], match[1])
    if free:
        raise UnsupportedFeatureError(
            f"rule {rule.id}: deleting molecules is not supported", features=["degradation"]
        )
    states, made, broken = [], [], []
    reactant_bonds = _bond_pairs(rule.reactants, lambda c, i, j: (c, i, j))
    product_bonds: set[frozenset[tuple[int, int, int]]] = set()
    site_map: dict[tuple[int, int, int], tuple[int, int, int]] = {}
    for (c, i), (rc, ri) in correspondence.items():
        product, reactant = rule.products[c][i], rule.reactants[rc][ri]
        for j, k in _site_correspondence(rule, reactant, product):
            site_map[(c, i, j)] = (rc, ri, k)
            old, new = reactant.sites[k], product.sites[j]
            if new.state != old.state:
                if new.state is None:
                    raise ModelError(f"rule {rule.id}: '{product.name}({new.name})' loses its state")
                states.append(((rc, ri, k), new.state))
            if old.bond in (BOUND, ANY) and new.bond != old.bond:
                raise UnsupportedFeatureError(
                    f"rule {rule.id}: changing the wildcard bond of '{product.name}({new.name})'",
                    features=["wildcard bond changes"],
                )
    for pair in _bond_pairs(rule.products, lambda c, i, j: site_map[(c, i, j)]):
        product_bonds.add(pair)
    made = [tuple(sorted(pair)) for pair in product_bonds - reactant_bonds]
    broken = [tuple(sorted(pair)) for pair in reactant_bonds - product_bonds]
    groups = tuple(
        tuple(correspondence[(c, i)] for i in range(len(pattern))) for c, pattern in enumerate(rule.products)
    )
    return _Action(tuple(states), tuple(made), tuple(broken), groups)  # type: ignore[arg-type]


def _bond_pairs(side: tuple[Pattern, ...], name: Any) -> set[frozenset[tuple[int, int, int]]]:
    ends: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for c, pattern in enumerate(side):
        for i, molecule in enumerate(pattern):
            for j, site in enumerate(molecule.sites):
                if isinstance(site.bond, int):
                    ends.setdefault((c, site.bond), []).append(name(c, i, j))
    pairs = set()
    for (_, label), pair in ends.items():
        if len(pair) != 2:
            raise ModelError(f"bond !{label} must join exactly two sites")
        pairs.add(frozenset(pair))
    return pairs


def _site_correspondence(
    rule: Rule, reactant: MoleculePattern, product: MoleculePattern
) -> list[tuple[int, int]]:
    """k-th site called X on the right ↔ k-th site called X on the left."""
    left: dict[str, list[int]] = {}
    for k, site in enumerate(reactant.sites):
        left.setdefault(site.name, []).append(k)
    pairs = []
    for j, site in enumerate(product.sites):
        if not left.get(site.name):
            raise ModelError(
                f"rule {rule.id}: '{product.name}({site.name})' is not on the left-hand side",
                hint="list the same sites of a molecule on both sides",
            )
        pairs.append((j, left[site.name].pop(0)))
    if any(left.values()):
        raise ModelError(f"rule {rule.id}: '{reactant.name}' lists sites on the left that the right lacks")
    return pairs


# -- the network ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedReaction:
    """A reaction of the network: species indices, rule and statistical factor."""

    reactants: tuple[int, ...]
    products: tuple[int, ...]
    rule: str
    rate: str
    factor: float


@dataclass
class Network:
    """The generated network: species (seeds first), reactions, and each observable's weight
    per species index."""

    species: list[GeneratedSpecies] = field(default_factory=list)
    reactions: list[GeneratedReaction] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    observables: dict[str, dict[int, int]] = field(default_factory=dict)


Embedding = list[tuple[int, dict[tuple[int, int], Address]]]  # per reactant pattern: (instance, map)


class _Expansion:
    """Applies rules to species until no new species appear."""

    def __init__(self, registry: _Registry, rules: Sequence[Rule], max_species: int) -> None:
        self.registry = registry
        self.rules = rules
        self.max_species = max_species
        self.actions = [_action(rule) for rule in rules]
        self.matchers = [[_Matcher(p, registry) for p in rule.reactants] for rule in rules]
        for rule in rules:
            if len(rule.reactants) not in (1, 2):
                raise UnsupportedFeatureError(
                    f"rule {rule.id}: rules need one or two reactant complexes",
                    features=["zero- or three-body rules"],
                )
        self.network = Network()
        self.totals: dict[tuple[int, tuple[int, ...], tuple[int, ...]], float] = {}
        self.matching: dict[tuple[int, int], list[int]] = {}  # (rule, pattern) -> species matched

    def add_species(self, cx: Complex) -> int:
        key = self.registry.key(cx)
        found = self.network.index.get(key)
        if found is not None:
            return found
        if len(self.network.species) >= self.max_species:
            raise ModelError(
                f"the rules generate more than {self.max_species} species",
                hint="check the rules for unbounded polymerisation, or raise max_species",
            )
        self.network.index[key] = len(self.network.species)
        self.network.species.append(GeneratedSpecies(cx, key, self.registry.canonical(cx)))
        return len(self.network.species) - 1

    def run(self) -> Network:
        done = 0
        while done < len(self.network.species):
            current = done
            done += 1
            self._match(current)
            for r, rule in enumerate(self.rules):
                if len(rule.reactants) == 1:
                    self._unimolecular(r, current)
                    continue
                matches = self.network.species[current].matches
                partners = set(self.matching.get((r, 1), ())) if (r, 0) in matches else set()
                if (r, 1) in matches:
                    partners |= set(self.matching.get((r, 0), ()))
                for other in sorted(partners):  # each unordered pair once, when its later member arrives
                    self._bimolecular(r, current, other)
        for (r, reactants, products), factor in self.totals.items():
            rule = self.rules[r]
            self.network.reactions.append(GeneratedReaction(reactants, products, rule.id, rule.rate, factor))
        return self.network

    def _match(self, s: int) -> None:
        species = self.network.species[s]
        for r, matchers in enumerate(self.matchers):
            for p, matcher in enumerate(matchers):
                found = matcher.maps(species.complex)
                if found:
                    species.matches[(r, p)] = found
                    self.matching.setdefault((r, p), []).append(s)

    def _unimolecular(self, r: int, s: int) -> None:
        maps = self.network.species[s].matches.get((r, 0), [])
        if maps:
            self._apply(r, [self.network.species[s].complex], [[(0, m)] for m in maps], (s,), 1.0)

    def _bimolecular(self, r: int, s: int, t: int) -> None:
        """Species ``s`` is instance 0 and ``t`` instance 1; both assignments of the patterns count."""
        a, b = self.network.species[s].matches, self.network.species[t].matches
        embeddings: list[Embedding] = [
            [(0, m0), (1, m1)] for m0 in a.get((r, 0), []) for m1 in b.get((r, 1), [])
        ]
        embeddings += [[(1, m0), (0, m1)] for m0 in b.get((r, 0), []) for m1 in a.get((r, 1), [])]
        if embeddings:
            complexes = [self.network.species[s].complex, self.network.species[t].complex]
            # Identical species: the events on an unordered pair of molecules are counted twice.
            self._apply(r, complexes, embeddings, tuple(sorted((s, t))), 0.5 if s == t else 1.0)

    def _apply(
        self,
        r: int,
        complexes: list[Complex],
        embeddings: list[Embedding],
        reactants: tuple[int, ...],
        scale: float,
    ) -> None:
        """Count the distinct events (statistical factor) per product set, and record them."""
        action = self.actions[r]
        seen: dict[frozenset[Any], tuple[int, ...] | None] = {}
        for embedding in embeddings:
            effect = _effect(action, embedding)
            if effect not in seen:
                seen[effect] = self._products(action, complexes, embedding)
        for products in seen.values():
            if products is not None:
                key = (r, reactants, products)
                self.totals[key] = self.totals.get(key, 0.0) + scale

    def _products(
        self, action: _Action, complexes: list[Complex], embedding: Embedding
    ) -> tuple[int, ...] | None:
        """Apply the action; the product species (sorted), or None where the rule does not apply."""
        merged = complexes[0].copy()
        offsets = [0]
        if len(complexes) == 2:
            shift = len(merged.types)
            offsets.append(shift)
            other = complexes[1]
            merged.types += other.types
            merged.states += [list(row) for row in other.states]
            merged.partners += [
                [None if p is None else (p[0] + shift, p[1]) for p in row] for row in other.partners
            ]

        def where(c: int, i: int, j: int) -> Address:
            instance, mapping = embedding[c]
            m, k = mapping[(i, j)]
            return m + offsets[instance], k

        for (c, i, j), state in action.states:
            m, k = where(c, i, j)
            merged.states[m][k] = state
        for a, b in action.bonds_broken:
            (ma, ka), (mb, kb) = where(*a), where(*b)
            merged.partners[ma][ka] = merged.partners[mb][kb] = None
        for a, b in action.bonds_made:
            (ma, ka), (mb, kb) = where(*a), where(*b)
            if merged.partners[ma][ka] is not None or merged.partners[mb][kb] is not None:
                return None
            merged.partners[ma][ka], merged.partners[mb][kb] = (mb, kb), (ma, ka)
        components = _components(merged)
        owner = {m: n for n, members in enumerate(components) for m in members}
        placed = [{owner[where(c, i, -1)[0]] for c, i in group} for group in action.product_groups]
        if any(len(found) != 1 for found in placed) or len(set().union(*placed)) != len(placed):
            return None  # '.' on the right but the molecules come apart, or '+' but they stay joined
        return tuple(sorted(self.add_species(_subcomplex(merged, members)) for members in components))


def _effect(action: _Action, embedding: Embedding) -> frozenset[Any]:
    """The event an embedding describes: the sites it changes, in instance coordinates."""

    def where(c: int, i: int, j: int) -> tuple[int, int, int]:
        instance, mapping = embedding[c]
        m, k = mapping[(i, j)]
        return instance, m, k

    items: list[Any] = [("state", where(*site), state) for site, state in action.states]
    items += [("make", frozenset((where(*a), where(*b)))) for a, b in action.bonds_made]
    items += [("break", frozenset((where(*a), where(*b)))) for a, b in action.bonds_broken]
    return frozenset(items)
