"""Rule patterns and concrete complexes: BioNetGen pattern text, molecule types, and the
canonical labels that identify species up to isomorphism (see :mod:`degranulation.rules`)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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
