"""Rule-based network generation with BioNetGen's semantics, producing an ordinary ``Model``.

Molecules have named sites (components), sites may have internal states (``b~Y``/``b~pY``)
and sites bind each other (``!1``). Rules are written in BioNetGen's language and expanded into
every species and reaction they imply, e.g.::

    Rec(a) + Lig(l,l) <-> Rec(a!1).Lig(l!1,l)

The semantics are BioNetGen's (biology.md §2.1), because they change results:

- A site written without a bond must be **free**; ``!+`` means bound to anything, ``!?``
  bound or not; a site not written at all is not looked at.
- **Statistical factors.** A reaction's rate constant is multiplied by the number of distinct
  events the rule describes on its reactants: distinct sets of (site, new state), bonds made
  and bonds broken. Two equivalent ligand sites give ``2*kp1``; a symmetric dimer whose two
  halves can act on each other gives ``2*pLg``; two identical species reacting (``A + A``)
  count unordered pairs, e.g. ``0.5*kab``.
- The right-hand side's complexes are kept: a rule with ``+`` there does not apply where
  breaking a bond leaves the molecules connected, nor one with ``.`` where they come apart;
  the two complexes of a ``+``-separated left-hand side are always different complexes.

Species are identified up to isomorphism by a canonical label (colour refinement of the
molecule graph, then individualisation of equivalent molecules, keeping the smallest text).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from degranulation.errors import ModelError, UnsupportedFeatureError

FREE: Final = "-"
BOUND: Final = "+"
ANY: Final = "?"
_NAME: Final = r"[A-Za-z_][A-Za-z0-9_]*"
_COMPONENT_RE: Final = re.compile(rf"({_NAME})((?:~[A-Za-z0-9_]+)*)((?:![0-9]+|!\+|!\?)*)")
_MOLECULE_RE: Final = re.compile(rf"({_NAME})(?:\((.*)\))?")


# -- patterns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MoleculeType:
    """A molecule and its sites, e.g. ``Rec(a,b~Y~pY,g~Y~pY)``; a site may repeat (``Lig(l,l)``)."""

    name: str
    sites: tuple[str, ...]
    states: tuple[tuple[str, ...], ...]

    @classmethod
    def parse(cls, text: str) -> MoleculeType:
        """Read a molecule-type declaration (sites with their allowed states).

        Examples
        --------
        >>> from degranulation.rules import MoleculeType
        >>> MoleculeType.parse("Rec(a,b~Y~pY)")
        MoleculeType(name='Rec', sites=('a', 'b'), states=((), ('Y', 'pY')))
        """
        name, components = _split_molecule(text)
        sites, states = [], []
        for component in components:
            match = _COMPONENT_RE.fullmatch(component)
            if match is None or match[3]:
                raise ModelError(
                    f"'{component}' in molecule type '{text}' is not a site",
                    hint="sites look like 'b' or 'b~Y~pY' (allowed states)",
                )
            sites.append(match[1])
            states.append(tuple(s for s in match[2].split("~") if s))
        return cls(name, tuple(sites), tuple(states))


@dataclass(frozen=True)
class Site:
    """A site in a pattern: its name, required state (None: any) and bond (``FREE``, ``BOUND``,
    ``ANY`` or a bond label)."""

    name: str
    state: str | None
    bond: str | int


@dataclass(frozen=True)
class MoleculePattern:
    """A molecule in a pattern with the sites it constrains."""

    name: str
    sites: tuple[Site, ...]


Pattern = tuple[MoleculePattern, ...]  # molecules of one complex, joined by '.'


def parse_pattern(text: str) -> tuple[Pattern, ...]:
    """Read ``'A(b!1).B(a!1) + C(x~P)'`` into one pattern per complex ('0' is none).

    Examples
    --------
    >>> from degranulation.rules import parse_pattern
    >>> [[m.name for m in complex_] for complex_ in parse_pattern("Rec(a!1).Lig(l!1,l) + Lyn")]
    [['Rec', 'Lig'], ['Lyn']]
    """
    text = text.strip()
    if text == "0":
        return ()
    complexes = []
    for part in _split_top(text, "+"):
        molecules = []
        for molecule in _split_top(part, "."):
            name, components = _split_molecule(molecule)
            molecules.append(MoleculePattern(name, tuple(_site(c, molecule) for c in components)))
        complexes.append(tuple(molecules))
    return tuple(complexes)


def _split_molecule(text: str) -> tuple[str, list[str]]:
    text = text.strip()
    match = _MOLECULE_RE.fullmatch(text)
    if match is None:
        unsupported = [s for s in ("%", "@", "$", "::") if s in text]
        if unsupported:
            raise UnsupportedFeatureError(
                f"'{text}': {', '.join(unsupported)} is not supported here", features=unsupported
            )
        raise ModelError(f"'{text}' is not a molecule", hint="molecules look like 'Rec(a,b~Y!1)'")
    inner = (match[2] or "").strip()
    return match[1], [c.strip() for c in inner.split(",")] if inner else []


def _site(text: str, molecule: str) -> Site:
    match = _COMPONENT_RE.fullmatch(text)
    if match is None:
        raise ModelError(
            f"'{text}' in '{molecule}' is not a site",
            hint="sites look like 'b', 'b~pY', 'b!1', 'b!+' or 'b~pY!?'",
        )
    states = [s for s in match[2].split("~") if s]
    bonds = [b for b in match[3].split("!") if b]
    if len(states) > 1 or len(bonds) > 1:
        raise ModelError(f"site '{text}' in '{molecule}' has more than one state or bond")
    bond: str | int = FREE
    if bonds:
        bond = bonds[0] if bonds[0] in (BOUND, ANY) else int(bonds[0])
    return Site(match[1], states[0] if states else None, bond)


def _split_top(text: str, separator: str) -> list[str]:
    """Split at ``separator`` outside parentheses."""
    parts, depth, start = [], 0, 0
    for position, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if char == separator and depth == 0:
            parts.append(text[start:position])
            start = position + 1
    parts.append(text[start:])
    if any(not p.strip() for p in parts):
        raise ModelError(f"empty part in '{text}'")
    return [p.strip() for p in parts]


# -- concrete complexes ---------------------------------------------------------------------

Address = tuple[int, int]  # (molecule, site)


@dataclass
class Complex:
    """One species: molecules (type names), each site's state and bond partner."""

    types: list[str]
    states: list[list[str | None]]
    partners: list[list[Address | None]]

    def copy(self) -> Complex:
        return Complex(list(self.types), [list(s) for s in self.states], [list(p) for p in self.partners])


class GeneratedSpecies:
    """A species of the generated network: a complex, its canonical BioNetGen-style text
    (``label``) and the key it is looked up by."""

    __slots__ = ("complex", "key", "label", "matches")

    def __init__(self, complex_: Complex, key: str, label: str) -> None:
        self.complex = complex_
        self.key = key
        self.label = label
        self.matches: dict[tuple[int, int], list[dict[tuple[int, int], Address]]] = {}


class _Registry:
    """Molecule types by name; builds complexes from text and writes canonical labels."""

    def __init__(self, types: Sequence[MoleculeType]) -> None:
        self.types = {t.name: t for t in types}
        if len(self.types) != len(types):
            raise ModelError("a molecule type is declared twice")
        self.groups: dict[str, list[list[int]]] = {}  # site slots by name, in declared order
        for molecule in types:
            slots: dict[str, list[int]] = {}
            for k, site in enumerate(molecule.sites):
                slots.setdefault(site, []).append(k)
            self.groups[molecule.name] = list(slots.values())

    def site_names(self, name: str) -> tuple[str, ...]:
        if name not in self.types:
            raise ModelError(f"unknown molecule type '{name}'", hint=f"declared: {', '.join(self.types)}")
        return self.types[name].sites

    def check(self, patterns: Sequence[Pattern], where: str) -> None:
        """Every molecule and site named exists, with an allowed state."""
        for pattern in patterns:
            for molecule in pattern:
                declared = self.types.get(molecule.name)
                if declared is None:
                    raise ModelError(
                        f"{where}: unknown molecule type '{molecule.name}'",
                        hint=f"declared: {', '.join(self.types)}",
                    )
                for site in molecule.sites:
                    indices = [k for k, s in enumerate(declared.sites) if s == site.name]
                    if not indices:
                        raise ModelError(f"{where}: '{molecule.name}' has no site '{site.name}'")
                    if site.state is not None and site.state not in declared.states[indices[0]]:
                        raise ModelError(
                            f"{where}: site '{molecule.name}({site.name})' has no state '{site.state}'",
                            hint=f"allowed: {declared.states[indices[0]]}",
                        )

    def complex_from(self, pattern: Pattern, where: str) -> Complex:
        """A fully specified pattern (every site, state and bond given) as a complex."""
        cx = Complex([], [], [])
        labels: dict[int, list[Address]] = {}
        for m, molecule in enumerate(pattern):
            declared = self.types[molecule.name]
            cx.types.append(molecule.name)
            cx.states.append([None] * len(declared.sites))
            cx.partners.append([None] * len(declared.sites))
            free = list(range(len(declared.sites)))
            for site in molecule.sites:
                slot = next((k for k in free if declared.sites[k] == site.name), None)
                if slot is None:
                    raise ModelError(f"{where}: '{molecule.name}' has too many '{site.name}' sites")
                free.remove(slot)
                if declared.states[slot] and site.state is None:
                    raise ModelError(f"{where}: give the state of '{molecule.name}({site.name})'")
                cx.states[m][slot] = site.state
                if isinstance(site.bond, int):
                    labels.setdefault(site.bond, []).append((m, slot))
                elif site.bond != FREE:
                    raise ModelError(f"{where}: a species has explicit bonds only, not '!{site.bond}'")
            if free:
                missing = ", ".join(declared.sites[k] for k in free)
                raise ModelError(f"{where}: species must list every site; '{molecule.name}' lacks {missing}")
        for label, ends in labels.items():
            if len(ends) != 2:
                raise ModelError(f"{where}: bond !{label} must join exactly two sites")
            (a, b) = ends
            cx.partners[a[0]][a[1]] = b
            cx.partners[b[0]][b[1]] = a
        if len(_components(cx)) != 1:
            raise ModelError(f"{where}: a species is one connected complex")
        return cx

    # -- canonical labels ---------------------------------------------------------------------
    def key(self, cx: Complex) -> str:
        """A text equal for two complexes exactly when they are isomorphic (fast for trees)."""
        return self._tree_key(cx) or self.canonical(cx)

    def _tree_key(self, cx: Complex) -> str | None:
        """AHU encoding rooted at the centre(s), for complexes whose molecules form a tree."""
        n = len(cx.types)
        neighbours = [[p[0] for p in row if p is not None] for row in cx.partners]
        if sum(map(len, neighbours)) != 2 * (n - 1):
            return None  # a cycle: the general labelling handles it
        degree = [len(row) for row in neighbours]
        layer = [m for m in range(n) if degree[m] <= 1]
        remaining = n
        while remaining > 2:
            remaining -= len(layer)
            following = []
            for m in layer:
                for other in neighbours[m]:
                    degree[other] -= 1
                    if degree[other] == 1:
                        following.append(other)
            layer = following
        return "T" + min(self._encode(cx, m, -1) for m in layer)

    def _encode(self, cx: Complex, m: int, up: int) -> str:
        groups = self.groups[cx.types[m]]
        states, partners = cx.states[m], cx.partners[m]
        sites = self.types[cx.types[m]].sites
        parts = []
        for k in range(len(sites)):
            text = sites[k] if states[k] is None else f"{sites[k]}~{states[k]}"
            partner = partners[k]
            if partner is not None:
                text += "!^" if k == up else f"!({self._encode(cx, partner[0], partner[1])})"
            parts.append(text)
        ordered = [
            ",".join(sorted(parts[k] for k in slots)) if len(slots) > 1 else parts[slots[0]]
            for slots in groups
        ]
        return f"{cx.types[m]}({','.join(ordered)})"

    def canonical(self, cx: Complex) -> str:
        """Text that is equal for two complexes exactly when they are isomorphic."""
        colors = self._refine(cx, self._initial_colors(cx))
        return min(self._write(cx, order) for order in self._leaves(cx, colors))

    def _initial_colors(self, cx: Complex) -> list[int]:
        signatures = []
        for m, name in enumerate(cx.types):
            sites = self.types[name].sites
            local = sorted(
                (site, cx.states[m][k] or "", cx.partners[m][k] is not None) for k, site in enumerate(sites)
            )
            signatures.append((name, tuple(local)))
        return _ranks(signatures)

    def _refine(self, cx: Complex, colors: list[int]) -> list[int]:
        count = len(set(colors))
        while True:
            signatures = []
            for m, name in enumerate(cx.types):
                sites = self.types[name].sites
                neighbours = sorted(
                    (sites[k], cx.states[m][k] or "", colors[p[0]], self.types[cx.types[p[0]]].sites[p[1]])
                    for k, p in enumerate(cx.partners[m])
                    if p is not None
                )
                signatures.append((colors[m], tuple(neighbours)))
            refined = _ranks(signatures)
            new_count = len(set(refined))
            if new_count == count:
                return refined
            colors, count = refined, new_count

    def _leaves(self, cx: Complex, colors: list[int]) -> Iterator[list[int]]:
        """Molecule orders at the leaves of the individualisation tree."""
        cells: dict[int, list[int]] = {}
        for m, color in enumerate(colors):
            cells.setdefault(color, []).append(m)
        split = min((c for c, members in cells.items() if len(members) > 1), default=None)
        if split is None:
            yield sorted(range(len(colors)), key=colors.__getitem__)
            return
        for chosen in cells[split]:
            individual = [2 * c - (m == chosen) for m, c in enumerate(colors)]
            yield from self._leaves(cx, self._refine(cx, individual))

    def _write(self, cx: Complex, order: list[int]) -> str:
        """BioNetGen text of ``cx`` with its molecules in ``order``; equal sites (``l,l``) are
        written free first, then by the bond label or partner they lead to."""
        rank = {m: i for i, m in enumerate(order)}
        labels: dict[tuple[Address, Address], int] = {}

        def bond(m: int, k: int) -> tuple[Address, Address]:
            partner = cx.partners[m][k]
            assert partner is not None
            return (min((m, k), partner), max((m, k), partner))

        def key(m: int, k: int) -> tuple[Any, ...]:
            partner = cx.partners[m][k]
            if partner is None:
                return (cx.states[m][k] or "", 0, 0, 0, "")
            other = self.types[cx.types[partner[0]]].sites[partner[1]]
            return (cx.states[m][k] or "", 1, labels.get(bond(m, k), 1 << 30), rank[partner[0]], other)

        parts = []
        for m in order:
            sites = self.types[cx.types[m]].sites
            written: list[str] = []
            for slots in self.groups[cx.types[m]]:
                for k in sorted(slots, key=lambda k, m=m: key(m, k)):  # type: ignore[misc]
                    text = sites[k] if cx.states[m][k] is None else f"{sites[k]}~{cx.states[m][k]}"
                    if cx.partners[m][k] is not None:
                        text += f"!{labels.setdefault(bond(m, k), len(labels) + 1)}"
                    written.append(text)
            parts.append(f"{cx.types[m]}({','.join(written)})")
        return ".".join(parts)


def _ranks(signatures: list[Any]) -> list[int]:
    order = {s: i for i, s in enumerate(sorted(set(signatures)))}
    return [order[s] for s in signatures]


def _components(cx: Complex) -> list[list[int]]:
    """Connected components (lists of molecule indices)."""
    seen: set[int] = set()
    found = []
    for start in range(len(cx.types)):
        if start in seen:
            continue
        stack, members = [start], []
        seen.add(start)
        while stack:
            m = stack.pop()
            members.append(m)
            for partner in cx.partners[m]:
                if partner is not None and partner[0] not in seen:
                    seen.add(partner[0])
                    stack.append(partner[0])
        found.append(sorted(members))
    return found


def _subcomplex(cx: Complex, members: list[int]) -> Complex:
    index = {m: i for i, m in enumerate(members)}
    return Complex(
        [cx.types[m] for m in members],
        [list(cx.states[m]) for m in members],
        [[None if p is None else (index[p[0]], p[1]) for p in cx.partners[m]] for m in members],
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


# -- the Faeder et al. 2003 FcεRI network ------------------------------------------------------

#: The published parameters (RuleWorld/bionetgen bng2/Validate/fceri_ji.bngl, biology.md §2.2).
#: Amounts are molecules in the simulated system, 1/1000 of an RBL-2H3 cell; the physical
#: equivalents use 1 nL of medium per cell (ligand) and 1.4 pL of cytosol per cell. The paper's
#: Table I, which says where each value came from, was not available to us: kp1 and kp2 carry
#: the statuses of the ige_fceri_crosslinking model, the others are marked assumed.
FCERI_PARAMETERS: Final = (
    ("kp1", "1.32845238e-7 1/(molecule*s)", "measured",
     "ligand capture per ligand site; 8e4 1/(M*s) per site in 1 nL medium per cell"),
    ("km1", "0 1/s", "assumed", "ligand release per bond (zero: covalently crosslinked IgE dimers)"),
    ("kp2", "0.25 1/(molecule*s)", "fitted",
     "crosslinking by a bound ligand's free site; 2.5e-4 per molecule per cell per s, "
     "~2.1e8 1/(M*s) in 1.4 pL"),
    ("km2", "0 1/s", "assumed", "release of a crosslinking bond (zero, as km1)"),
    ("kpL", "0.05 1/(molecule*s)", "assumed",
     "Lyn unique domain binds unphosphorylated beta; 4.2e7 1/(M*s) in 1.4 pL"),
    ("kmL", "20 1/s", "assumed", "Lyn unique-domain release"),
    ("kpLs", "0.05 1/(molecule*s)", "assumed", "Lyn SH2 binds phosphorylated beta; 4.2e7 1/(M*s) in 1.4 pL"),
    ("kmLs", "0.12 1/s", "assumed", "Lyn SH2 release"),
    ("kpS", "0.06 1/(molecule*s)", "assumed",
     "Syk tandem SH2 binds phosphorylated gamma; 5.1e7 1/(M*s) in 1.4 pL"),
    ("kmS", "0.13 1/s", "assumed", "Syk release"),
    ("pLb", "30 1/s", "assumed", "beta transphosphorylation by unique-domain-bound Lyn"),
    ("pLbs", "100 1/s", "assumed", "beta transphosphorylation by SH2-bound Lyn"),
    ("pLg", "1 1/s", "assumed", "gamma transphosphorylation by unique-domain-bound Lyn"),
    ("pLgs", "3 1/s", "assumed", "gamma transphosphorylation by SH2-bound Lyn"),
    ("pLS", "30 1/s", "assumed", "Syk linker phosphorylation by unique-domain-bound Lyn"),
    ("pLSs", "100 1/s", "assumed", "Syk linker phosphorylation by SH2-bound Lyn"),
    ("pSS", "100 1/s", "assumed",
     "Syk activation-loop transphosphorylation by Syk with an unphosphorylated loop"),
    ("pSSs", "200 1/s", "assumed",
     "Syk activation-loop transphosphorylation by Syk with a phosphorylated loop"),
    ("dm", "20 1/s", "assumed", "dephosphorylation at the membrane (receptor, bound Syk)"),
    ("dc", "20 1/s", "assumed", "dephosphorylation of cytosolic Syk"),
)  # fmt: skip
FCERI_SEEDS: Final = (
    ("Lig(l,l)", "6000 molecule", "Lig",
     "bivalent ligand (covalently crosslinked IgE dimer), free; Lig_tot: 10 nM at 1e6 cells/mL"),
    ("Lyn(U,SH2)", "28 molecule", "Lyn", "Lyn, free; Lyn_tot: 2.8e4 per cell"),
    ("Syk(tSH2,l~Y,a~Y)", "400 molecule", "Syk", "Syk, free and unphosphorylated; Syk_tot: 4e5 per cell"),
    ("Rec(a,b~Y,g~Y)", "400 molecule", "Rec", "IgE-FcεRI, free and unphosphorylated; Rec_tot: 4e5 per cell"),
)  # fmt: skip
FCERI_RULES: Final = (
    ("R1", "Rec(a) + Lig(l,l) <-> Rec(a!1).Lig(l!1,l)", "kp1", "km1"),
    ("R2", "Rec(a) + Lig(l,l!+) <-> Rec(a!2).Lig(l!2,l!+)", "kp2", "km2"),
    ("R3", "Rec(b~Y) + Lyn(U,SH2) <-> Rec(b~Y!1).Lyn(U!1,SH2)", "kpL", "kmL"),
    ("R4", "Lig(l!1,l!2).Lyn(U!3,SH2).Rec(a!2,b~Y!3).Rec(a!1,b~Y) -> "
           "Lig(l!1,l!2).Lyn(U!3,SH2).Rec(a!2,b~Y!3).Rec(a!1,b~pY)", "pLb", None),
    ("R5", "Lig(l!1,l!2).Lyn(U!3,SH2).Rec(a!2,b~Y!3).Rec(a!1,g~Y) -> "
           "Lig(l!1,l!2).Lyn(U!3,SH2).Rec(a!2,b~Y!3).Rec(a!1,g~pY)", "pLg", None),
    ("R6", "Rec(b~pY) + Lyn(U,SH2) <-> Rec(b~pY!1).Lyn(U,SH2!1)", "kpLs", "kmLs"),
    ("R7", "Lig(l!1,l!2).Lyn(U,SH2!3).Rec(a!2,b~pY!3).Rec(a!1,b~Y) -> "
           "Lig(l!1,l!2).Lyn(U,SH2!3).Rec(a!2,b~pY!3).Rec(a!1,b~pY)", "pLbs", None),
    ("R8", "Lig(l!1,l!2).Lyn(U,SH2!3).Rec(a!2,b~pY!3).Rec(a!1,g~Y) -> "
           "Lig(l!1,l!2).Lyn(U,SH2!3).Rec(a!2,b~pY!3).Rec(a!1,g~pY)", "pLgs", None),
    ("R9", "Rec(g~pY) + Syk(tSH2) <-> Rec(g~pY!1).Syk(tSH2!1)", "kpS", "kmS"),
    ("R10", "Lig(l!1,l!2).Lyn(U!3,SH2).Rec(a!2,b~Y!3).Rec(a!1,g~pY!4).Syk(tSH2!4,l~Y) -> "
            "Lig(l!1,l!2).Lyn(U!3,SH2).Rec(a!2,b~Y!3).Rec(a!1,g~pY!4).Syk(tSH2!4,l~pY)", "pLS", None),
    ("R11", "Lig(l!1,l!2).Lyn(U,SH2!3).Rec(a!2,b~pY!3).Rec(a!1,g~pY!4).Syk(tSH2!4,l~Y) -> "
            "Lig(l!1,l!2).Lyn(U,SH2!3).Rec(a!2,b~pY!3).Rec(a!1,g~pY!4).Syk(tSH2!4,l~pY)", "pLSs", None),
    ("R12", "Lig(l!1,l!2).Syk(tSH2!3,a~Y).Rec(a!2,g~pY!3).Rec(a!1,g~pY!4).Syk(tSH2!4,a~Y) -> "
            "Lig(l!1,l!2).Syk(tSH2!3,a~Y).Rec(a!2,g~pY!3).Rec(a!1,g~pY!4).Syk(tSH2!4,a~pY)", "pSS", None),
    ("R13", "Lig(l!1,l!2).Syk(tSH2!3,a~pY).Rec(a!2,g~pY!3).Rec(a!1,g~pY!4).Syk(tSH2!4,a~Y) -> "
            "Lig(l!1,l!2).Syk(tSH2!3,a~pY).Rec(a!2,g~pY!3).Rec(a!1,g~pY!4).Syk(tSH2!4,a~pY)", "pSSs", None),
    ("R14", "Rec(b~pY) -> Rec(b~Y)", "dm", None),
    ("R15", "Rec(g~pY) -> Rec(g~Y)", "dm", None),
    ("R16", "Syk(tSH2!+,l~pY) -> Syk(tSH2!+,l~Y)", "dm", None),
    ("R17", "Syk(tSH2!+,a~pY) -> Syk(tSH2!+,a~Y)", "dm", None),
    ("R18", "Syk(tSH2,l~pY) -> Syk(tSH2,l~Y)", "dc", None),
    ("R19", "Syk(tSH2,a~pY) -> Syk(tSH2,a~Y)", "dc", None),
)  # fmt: skip
FCERI_OBSERVABLES: Final = (
    ("LynFree", ("Lyn(U,SH2)",), "free Lyn"),
    ("RecMon", ("Rec(a)", "Rec(a!1).Lig(l!1,l)"), "receptors not in dimers"),
    ("RecDim", ("Rec.Rec",), "receptors in ligand-bridged dimers"),
    ("RecPbeta", ("Rec(b~pY!?)",), "receptors with phosphorylated beta"),
    ("RecPgamma", ("Rec(g~pY)", "Rec(g~pY!+)"), "phosphorylated gamma ITAMs"),
    ("RecSyk", ("Rec(g~pY!1).Syk(tSH2!1)",), "Syk bound to phosphorylated gamma"),
    ("RecSykPS", ("Rec(g~pY!1).Syk(tSH2!1,a~pY)",), "bound Syk with a phosphorylated activation loop"),
    ("SykTest", ("Syk",), "total Syk (conserved)"),
    ("LynTest", ("Lyn",), "total Lyn (conserved)"),
    ("RecTest", ("Rec",), "total receptor (conserved)"),
)
FCERI_SOURCE: Final = "RuleWorld/bionetgen bng2/Validate/fceri_ji.bngl (biology.md §2.2)"
LIBRARY_HEADER: Final = (
    "# Generated by degranulation.rules.fceri_faeder2003(); do not edit.\n"
    "# Regenerate with: python -m degranulation.rules\n"
)


def fceri_faeder2003(*, gamma_sites: int = 1) -> RuleModelBuilder:
    """The Faeder et al. (2003) FcεRI → Lyn → Syk network as rules (biology.md §2).

    Parameters
    ----------
    gamma_sites : {1, 2}
        ``1`` gives ``fceri_ji`` (354 species, 3680 reactions; the library model
        ``fceri_faeder2003``); ``2`` the receptor with two γ ITAMs, ``fceri_gamma2`` (3744
        species, 58276 reactions; no observables, as in its BioNetGen file).

    Examples
    --------
    >>> from degranulation.rules import fceri_faeder2003
    >>> network = fceri_faeder2003().network()
    >>> len(network.species), len(network.reactions)
    (354, 3680)
    """
    if gamma_sites not in (1, 2):
        raise ValueError(f"gamma_sites must be 1 or 2, got {gamma_sites!r}")
    gamma = ",".join(["g~Y~pY"] * gamma_sites)
    builder = RuleModelBuilder(
        "fceri_faeder2003" if gamma_sites == 1 else "fceri_gamma2",
        title="Early FcεRI signalling: Lyn and Syk activation (Faeder et al. 2003)",
        cell_type="mast cell (RBL-2H3)",
        description=(
            "Bivalent ligand (crosslinked IgE dimer) aggregates IgE-FcεRI into dimers; Lyn bound "
            "to one receptor transphosphorylates the beta and gamma ITAMs of its partner; Syk "
            "binds phosphorylated gamma and is phosphorylated by Lyn (linker) and by Syk on the "
            "partner receptor (activation loop); dephosphorylation acts everywhere except on "
            "SH2-protected sites. Generated by degranulation.rules from the 19 rules of "
            "fceri_ji.bngl with BioNetGen's conventions. Amounts are molecules in the simulated "
            "system, 1/1000 of a cell: Lig 6000 is 10 nM at 1e6 cells/mL (1 nL medium per cell), "
            "Rec and Syk 400 are 4e5 per cell, Lyn 28 is 2.8e4 per cell. Second-order constants "
            "are per molecule of that system; each parameter's description gives its physical "
            "equivalent (1.4 pL cytosol per cell). The seed species Lig, Lyn, Syk and Rec carry "
            "the paper's Lig_tot, Lyn_tot, Syk_tot and Rec_tot as initial amounts."
        ),
        references=("doi:10.4049/jimmunol.170.7.3769", FCERI_SOURCE),
        units={"time": "s", "concentration": "nM", "amount": "molecule"},
    )
    builder.molecule_type("Lig(l,l)").molecule_type("Lyn(U,SH2)")
    builder.molecule_type("Syk(tSH2,l~Y~pY,a~Y~pY)").molecule_type(f"Rec(a,b~Y~pY,{gamma})")
    for name, value, status, description in FCERI_PARAMETERS:
        builder.parameter(name, value, description=description, source=FCERI_SOURCE, status=status)
    for pattern, initial, name, label in FCERI_SEEDS:
        if gamma_sites == 2 and name == "Rec":
            pattern = "Rec(a,b~Y,g~Y,g~Y)"
        builder.seed(pattern, initial, id=name, description=label)
    for name, text, forward, reverse in FCERI_RULES:
        builder.rule(text, forward, reverse, id=name)
    if gamma_sites == 1:
        for name, patterns, description in FCERI_OBSERVABLES:
            builder.observable(name, patterns, description=description)
    return builder


def library_text() -> str:
    """The text of ``models/fceri_faeder2003.toml``, generated from the rules."""
    from degranulation.io.model_file import dumps_model

    return LIBRARY_HEADER + dumps_model(fceri_faeder2003().build())


if __name__ == "__main__":  # pragma: no cover
    from degranulation.library import models_folder

    target = models_folder() / "fceri_faeder2003.toml"
    target.write_text(library_text(), encoding="utf-8")
    print(f"wrote {target}")
