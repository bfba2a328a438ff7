"""The two figures of a gallery page: the species/reaction diagram and the default protocol's
time course. Matplotlib only (no graphviz binary is needed); the layout is computed here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import xarray

from degranulation.network import Model, Reaction

#: Above these sizes a species/reaction diagram is an unreadable hairball: a summary is drawn.
MAX_DIAGRAM_SPECIES = 40
MAX_DIAGRAM_REACTIONS = 80
#: Reaction ids are written next to their nodes up to this many reactions.
MAX_REACTION_LABELS = 20
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def pyplot() -> Any:
    """Matplotlib's pyplot on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def drawable(model: Model) -> bool:
    """Whether the model is small enough for a legible species/reaction diagram."""
    return len(model.species) <= MAX_DIAGRAM_SPECIES and len(model.reactions) <= MAX_DIAGRAM_REACTIONS


def network_figure(model: Model) -> Any:
    """The species/reaction diagram, or for a large model the reactions per rule."""
    return _diagram(model) if drawable(model) else _summary(model)


def modifiers(model: Model, reaction: Reaction) -> list[str]:
    """Species that appear in a reaction's rate law without being reactant or product."""
    named = set(_NAME_RE.findall(reaction.rate))
    taking_part = {s for s, _ in (*reaction.reactants, *reaction.products)}
    return [s for s in model.species_ids if s in named and s not in taking_part]


def _ranks(model: Model) -> dict[str, float]:
    """Column of every node: the inputs (species present at the start that no reaction makes
    from other such species) first, the others by the longest
    chain of reactions leading to them (after dropping the edges that close cycles), reactions
    half a column after their last reactant."""
    present = {s.id for s in model.species if s.initial.value != 0}
    fed = {  # made from species present at the start: a later pool, not an input
        p
        for r in model.reactions
        if r.reactants and all(s in present for s, _ in r.reactants)
        for p, _ in r.products
    }
    inputs = [s for s in model.species_ids if s in present and s not in fed]  # the first column
    following: dict[str, list[str]] = {s: [] for s in model.species_ids}
    for reaction in model.reactions:
        for reactant, _ in reaction.reactants:
            following[reactant] += [
                p for p, _ in reaction.products if p not in following[reactant] and p not in inputs
            ]
    order, state = [], dict.fromkeys(model.species_ids, 0)  # 0 new, 1 on the path, 2 done
    forward: dict[str, list[str]] = {s: [] for s in model.species_ids}
    for root in inputs + list(model.species_ids):
        _depth_first(root, following, forward, state, order)
    rank = dict.fromkeys(model.species_ids, 0.0)
    for species in reversed(order):  # topological order of the acyclic forward edges
        for product in forward[species]:
            rank[product] = max(rank[product], rank[species] + 1)
    for reaction in model.reactions:
        before = [rank[s] for s, _ in reaction.reactants]
        after = [rank[s] for s, _ in reaction.products]
        rank[f"#{reaction.id}"] = max(before) + 0.5 if before else min(after) - 0.5
    return rank


def _depth_first(
    node: str,
    following: dict[str, list[str]],
    forward: dict[str, list[str]],
    state: dict[str, int],
    order: list[str],
) -> None:
    """Depth-first search keeping the edges that close no cycle; ``order`` gets finished nodes."""
    if state[node]:
        return
    state[node] = 1
    stack = [(node, iter(following[node]))]
    while stack:
        current, successors = stack[-1]
        step = next(successors, None)
        if step is None:
            state[current] = 2
            order.append(current)
            stack.pop()
        elif state[step] == 0:
            forward[current].append(step)
            state[step] = 1
            stack.append((step, iter(following[step])))
        elif state[step] == 2:
            forward[current].append(step)


def _neighbours(model: Model) -> dict[str, list[str]]:
    links: dict[str, list[str]] = {}
    for reaction in model.reactions:
        node = f"#{reaction.id}"
        for species, _ in (*reaction.reactants, *reaction.products):
            links.setdefault(node, []).append(species)
            links.setdefault(species, []).append(node)
    return links


def _positions(model: Model) -> dict[str, tuple[float, float]]:
    """Layered layout: columns by rank, order in a column by barycentre sweeps (fewer crossings)."""
    rank = _ranks(model)
    columns: dict[float, list[str]] = {}
    for node in rank:
        columns.setdefault(rank[node], []).append(node)
    keys = sorted(columns)
    links = _neighbours(model)
    y = {node: float(i) for column in columns.values() for i, node in enumerate(column)}
    for sweep in range(8):
        for key in keys if sweep % 2 == 0 else keys[::-1]:
            column = columns[key]
            column.sort(key=lambda node, key=key: _centre(node, key, y, links, rank))
            for i, node in enumerate(column):
                y[node] = i - (len(column) - 1) / 2
    return {node: (rank[node], -y[node]) for node in rank}


def _centre(
    node: str, column: float, y: dict[str, float], links: dict[str, list[str]], rank: dict[str, float]
) -> float:
    """Mean height of a node's neighbours in other columns (its own height if it has none)."""
    near = [y[n] for n in links.get(node, []) if rank[n] != column]
    return float(np.mean(near)) if near else y[node]


def _diagram(model: Model) -> Any:
    plt = pyplot()
    position = _positions(model)
    width = max(x for x, _ in position.values()) + 1
    height = max(sum(1 for p in position.values() if p[0] == x) for x, _ in position.values())
    figure, axis = plt.subplots(figsize=(min(2.0 + 1.7 * width, 16), min(max(3.0, 1.5 + 0.55 * height), 14)))
    for reaction in model.reactions:
        node = position[f"#{reaction.id}"]
        back = "<|-" if reaction.reversible else "-"  # a reversible reaction also points back
        for species, _ in reaction.reactants:
            _arrow(axis, position[species], node, back, shrink_b=3)
        for species, _ in reaction.products:
            _arrow(axis, node, position[species], "-|>", shrink_a=3)
        for species in modifiers(model, reaction):
            _arrow(axis, position[species], node, "-|>", shrink_b=3, dashed=True)
        axis.plot(*node, marker="s", color="0.25", markersize=4, zorder=3)
        if len(model.reactions) <= MAX_REACTION_LABELS:
            axis.annotate(
                reaction.id,
                node,
                xytext=(0, 5),
                textcoords="offset points",
                ha="center",
                fontsize=7,
                color="0.35",
            )
    for species in model.species:
        colour = "#fde7c8" if species.boundary else "#dcebf7"
        boxed = {"boxstyle": "round,pad=0.3", "facecolor": colour, "edgecolor": "0.4"}
        axis.text(
            *position[species.id], species.id, ha="center", va="center", fontsize=8, bbox=boxed, zorder=4
        )
    xs = [x for x, _ in position.values()]
    ys = [y for _, y in position.values()]
    axis.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    axis.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    axis.axis("off")
    axis.set_title(
        f"{len(model.species)} species (boxes), {len(model.reactions)} reactions (squares); "
        "dashed: species in a rate law that the reaction does not consume or produce",
        fontsize=8,
    )
    figure.tight_layout()
    return figure


def _arrow(
    axis: Any,
    start: tuple[float, float],
    end: tuple[float, float],
    style: str,
    *,
    shrink_a: float = 12,
    shrink_b: float = 12,
    dashed: bool = False,
) -> None:
    from matplotlib.patches import FancyArrowPatch

    backwards = end[0] < start[0] or (end[0] == start[0] and end[1] != start[1])
    bend = 0.3 / (1 + abs(end[0] - start[0])) if backwards else 0.0  # long arcs bulge less
    axis.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle=style,
            mutation_scale=8,
            shrinkA=shrink_a,
            shrinkB=shrink_b,
            connectionstyle=f"arc3,rad={bend}",
            color="0.55" if dashed else "0.2",
            linestyle="--" if dashed else "-",
            linewidth=0.8,
        )
    )


def rule_groups(reactions: Iterable[Reaction]) -> Counter[str]:
    """Reactions per generating rule (their description, ``rule reverse_R1`` counted with ``R1``)."""
    return Counter((r.description or "(no description)").replace("rule reverse_", "rule ") for r in reactions)


def _summary(model: Model) -> Any:
    plt = pyplot()
    groups = rule_groups(model.reactions)
    if len(groups) > 40:  # no rule structure to show: group by the number of reactants
        groups = Counter(f"{sum(n for _, n in r.reactants)} reactant molecules" for r in model.reactions)
    names = sorted(groups, key=lambda g: (len(g), g))
    figure, axis = plt.subplots(figsize=(7, 1.2 + 0.28 * len(names)))
    axis.barh(range(len(names)), [groups[n] for n in names], color="#4c72b0")
    axis.set_yticks(range(len(names)), names, fontsize=8)
    axis.invert_yaxis()
    axis.set_xscale("log")
    axis.set_xlabel("reactions (forward and reverse)")
    axis.set_title(
        f"{len(model.species)} species and {len(model.reactions)} reactions: too many to draw; "
        "reactions generated per rule",
        fontsize=9,
    )
    figure.tight_layout()
    return figure


def time_unit(end_seconds: float) -> str:
    """A readable time unit for an axis that ends at ``end_seconds``."""
    return "s" if end_seconds <= 300 else "min" if end_seconds <= 300 * 60 else "h"


def time_course_figure(model: Model, ds: xarray.Dataset, step_seconds: list[float]) -> Any:
    """Every observable against time, one panel per unit, protocol steps as dotted lines."""
    plt = pyplot()
    times = ds["time"].pint.to("s").pint.magnitude
    unit = time_unit(float(times[-1]))
    scale = {"s": 1.0, "min": 60.0, "h": 3600.0}[unit]
    by_unit: dict[str, list[str]] = {}
    for observable in model.observables:
        by_unit.setdefault(observable.unit or "dimensionless", []).append(observable.id)  # as written
    figure, axes = plt.subplots(
        len(by_unit), 1, sharex=True, squeeze=False, figsize=(8, 0.6 + 2.4 * len(by_unit))
    )
    for axis, (label, names) in zip(axes[:, 0], by_unit.items(), strict=True):
        for name in names:
            axis.plot(times / scale, ds[name].pint.to(label).pint.magnitude, label=name)
        for step in step_seconds:
            axis.axvline(step / scale, color="0.5", linestyle=":", linewidth=1)
        axis.set_ylabel(label)
        axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    axes[-1, 0].set_xlabel(f"time ({unit})")
    axes[0, 0].set_title(f"protocol: {model.default_protocol or 'none'} (dotted: protocol steps)", fontsize=9)
    figure.tight_layout()
    return figure
