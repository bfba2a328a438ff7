"""Sphinx extension: one gallery page per bundled model, written when the build starts.

Every model in ``degranulation.list_models()`` gets ``docs/gallery/models/<id>.md`` (a MyST page;
the folder is generated and ignored by git) with its metadata, a species/reaction diagram, the
default protocol's time course, the published checks its tests make (from
``docs/gallery/checks.toml``, see :mod:`gallery_checks`) and its species, parameters,
reactions, observables and protocols. ``docs/gallery/index.md`` lists the pages with a glob, so
a new model file appears in the gallery without editing the docs.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from gallery_checks import Check, load_checks

import degranulation as dg
from degranulation.network import Model, Step

#: Output times of the default-protocol figure.
POINTS = 201
#: Observable expressions longer than this are shortened on the page.
MAX_EXPRESSION = 120
_LINK_RE = re.compile(r"doi:\s*(?P<doi>10\.\d{4,9}/[^\s,;]+[^\s,;.)])|(?P<url>https?://[^\s<>)]+[^\s<>).,])")
_SPECIAL_RE = re.compile(r"([\\`*_\[\]<>|$~{}#])")


def protocol_steps(model: Model) -> tuple[Step, ...]:
    """The default protocol's steps (none without a default protocol)."""
    return model.get_protocol(model.default_protocol).steps if model.default_protocol else ()


def step_seconds(model: Model) -> list[float]:
    """When each default-protocol step happens, in seconds."""
    seconds = dg.UnitSystem(time="s")
    return [seconds.magnitude(step.at.value, step.at.unit) for step in protocol_steps(model)]


def end_seconds(model: Model) -> float:
    """The figure's time span: 30 min past the default protocol's last step, the span that
    ``tests/library/test_models.py`` runs every model's default protocol over."""
    return max(step_seconds(model), default=0.0) + 1800.0


def simulate_default(model: Model) -> Any:
    """The default protocol's run, as ``degranulation simulate`` does it (solver defaults)."""
    return dg.simulate(model, t=f"{end_seconds(model)!r} s", points=POINTS)


def text(value: object) -> str:
    """Plain text for Markdown: specials escaped, on one line; DOIs and URLs become links."""
    out, last = [], 0
    raw = " ".join(str(value).split())
    for match in _LINK_RE.finditer(raw):
        out.append(_SPECIAL_RE.sub(r"\\\1", raw[last : match.start()]))
        if match["doi"]:
            out.append(f"[doi:{match['doi']}](https://doi.org/{match['doi']})")
        else:
            out.append(f"<{match['url']}>")
        last = match.end()
    out.append(_SPECIAL_RE.sub(r"\\\1", raw[last:]))
    return "".join(out)


def code(value: object) -> str:
    """Inline code for a table cell (``|`` is escaped, as tables need even inside code)."""
    content = " ".join(str(value).split()).replace("|", "\\|")
    return f"`` {content} ``" if "`" in content else f"`{content}`"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (cells already formatted)."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _expression(expr: str) -> str:
    if len(expr) <= MAX_EXPRESSION:
        return code(expr)
    return code(expr[:MAX_EXPRESSION].rsplit(" ", 1)[0] + " …") + f" ({expr.count('+') + 1} terms)"


def _step(step: Step) -> str:
    value = f" to {code(step.value)}" if step.value is not None else ""
    return f"at {code(step.at)}: {step.action} {code(step.target)}{value}"


def _header(model: Model) -> list[str]:
    references = "\n".join(f"- {text(reference)}" for reference in model.references)
    facts = [
        ["model id", code(model.id)],
        ["cell type", text(model.cell_type)],
        [
            "size",
            f"{len(model.species)} species, {len(model.reactions)} reactions, "
            f"{len(model.parameters)} parameters, {len(model.observables)} observables",
        ],
        ["file", code(f"models/{model.id}.toml")],
        ["units", ", ".join(f"{name} {code(unit)}" for name, unit in _units(model))],
    ]
    return [
        f"(gallery-{model.id})=",
        f"# {text(model.title or model.id)}",
        "\n".join(f"- **{name}**: {value}" for name, value in facts),
        text(model.description),
        "**References**\n\n" + (references or "none given"),
    ]


def _units(model: Model) -> list[tuple[str, str]]:
    return [(name, unit) for name, unit in vars(model.units).items() if isinstance(unit, str) and unit]


def _diagram(model: Model, image: str) -> list[str]:
    from gallery_figures import drawable

    note = (
        "Species are boxes (boundary species shaded orange), reactions small squares; arrows run "
        "from reactants through the reaction to its products and also point back to the "
        "reactants of a reversible reaction."
        if drawable(model)
        else f"With {len(model.species)} species and {len(model.reactions)} reactions a diagram "
        "would be unreadable: the figure counts the reactions each rule generates."
    )
    return ["## Species and reactions", note, f"![Species and reactions of {model.id}]({image})"]


def _default_run(model: Model, image: str) -> list[str]:
    minutes = end_seconds(model) / 60
    protocol = model.get_protocol(model.default_protocol) if model.default_protocol else None
    steps = "\n".join(f"- {_step(step)}" for step in protocol.steps) if protocol else ""
    about = (
        f"Default protocol {code(protocol.id)}: {text(protocol.description)}" if protocol else "No protocol."
    )
    return [
        "## Default protocol",
        about,
        steps,
        f"Simulated for 30 min past the last step ({minutes:g} min, {POINTS} output times) with the "
        "solver's defaults, as on the command line:",
        f"```bash\ndegranulation simulate {model.id} --t-end {minutes:g}min --points {POINTS}\n```",
        f"![Observables of {model.id} under its default protocol]({image})",
    ]


def _checks(checks: list[Check]) -> list[str]:
    rows = [[text(c.what), text(c.against), text(c.tolerance), code(c.test)] for c in checks]
    return [
        "## Published checks",
        "What the test suite checks this model against, with the numbers and tolerances the tests "
        "assert (each test's code contains them: `tests/docs/test_gallery.py` holds this list to it). "
        "Every bundled model is also checked by `tests/library/test_models.py`: it validates with no "
        "issue, keeps its exact conservation laws along its default protocol, and that protocol runs from "
        "the command line.",
        table(["checked", "against", "tolerance", "test"], rows) if rows else "No published check yet.",
    ]


def _records(model: Model) -> list[str]:
    parts = []
    if model.compartments:
        rows = [[code(c.id), code(c.size), text(c.label or c.description)] for c in model.compartments]
        parts += ["## Compartments", table(["id", "size", "description"], rows)]
    shown = [s for s in model.species if s.initial.value != 0] if not _small(model) else list(model.species)
    rows = [
        [
            code(s.id),
            code(s.initial),
            code(s.compartment or "—"),
            "yes" if s.boundary else "",
            text(" — ".join(t for t in (s.label, s.description) if t)),
        ]
        for s in shown
    ]
    parts += ["## Species", table(["id", "initial", "compartment", "boundary", "description"], rows)]
    if len(shown) < len(model.species):
        parts.append(
            f"The other {len(model.species) - len(shown)} species start at zero "
            f"(`degranulation models show {model.id}` lists them)."
        )
    rows = [
        [code(p.id), code(p.value), p.status, _bounds(p), text(p.source), text(p.description)]
        for p in model.parameters
    ]
    parts += ["## Parameters", table(["id", "value", "status", "bounds", "source", "description"], rows)]
    if _small(model):
        rows = [
            [code(r.id), code(r.equation), code(r.rate), text(r.label or r.description)]
            for r in model.reactions
        ]
        parts += ["## Reactions", table(["id", "equation", "rate", "description"], rows)]
    rows = [[code(o.id), _expression(o.expr), code(o.unit), text(o.description)] for o in model.observables]
    parts += ["## Observables", table(["id", "expression", "unit", "description"], rows)]
    if model.protocols:
        rows = [
            [
                code(p.id) + (" (default)" if p.id == model.default_protocol else ""),
                "<br>".join(_step(s) for s in p.steps) or "none",
                text(p.description),
            ]
            for p in model.protocols
        ]
        parts += ["## Protocols", table(["id", "steps", "description"], rows)]
    return parts


def _small(model: Model) -> bool:
    from gallery_figures import drawable

    return drawable(model)


def _bounds(parameter: Any) -> str:
    if parameter.estimate is None:
        return ""
    low, high = parameter.estimate.bounds
    return f"{code(low)} – {code(high)} ({parameter.estimate.scale})"


def render_page(model: Model, checks: list[Check]) -> str:
    """The MyST page of one model; its figures are ``<id>_network.png`` and ``<id>_run.png``."""
    parts = [
        *_header(model),
        *_diagram(model, f"{model.id}_network.png"),
        *_default_run(model, f"{model.id}_run.png"),
        *_checks(checks),
        *_records(model),
    ]
    return "\n\n".join(part for part in parts if part) + "\n"


def draw_figures(model: Model, folder: Path) -> None:
    """Write the model's diagram and its default protocol's time course as PNG files."""
    from gallery_figures import network_figure, pyplot, time_course_figure

    plt = pyplot()
    figures = {
        "network": network_figure(model),
        "run": time_course_figure(model, simulate_default(model), step_seconds(model)),
    }
    for name, figure in figures.items():
        figure.savefig(folder / f"{model.id}_{name}.png", dpi=110, bbox_inches="tight")
        plt.close(figure)


def write_gallery(folder: Path, checks_file: Path, *, draw: bool = True) -> list[Path]:
    """Write one page per bundled model into ``folder`` (emptied first: it is all generated),
    with its figures unless ``draw`` is False; return the pages."""
    checks = load_checks(checks_file)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    pages = []
    for info in dg.list_models():
        model = dg.load_model(info.id)
        page = folder / f"{model.id}.md"
        page.write_text(render_page(model, checks.get(model.id, [])), encoding="utf-8")
        if draw:
            draw_figures(model, folder)
        pages.append(page)
    return pages


def _generate(app: Any) -> None:
    from sphinx.util import logging

    started = time.perf_counter()
    gallery = Path(app.srcdir) / "gallery"
    pages = write_gallery(gallery / "models", gallery / "checks.toml")
    logging.getLogger(__name__).info(
        f"model gallery: {len(pages)} pages in {time.perf_counter() - started:.1f} s"
    )


def setup(app: Any) -> dict[str, Any]:
    """Register the generator to run when the build starts."""
    app.connect("builder-inited", _generate)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
