"""Hypothesis strategies for random reaction networks with units (for property tests).

The models come from :mod:`degranulation.testing.networks`, drawing every choice from
Hypothesis so that failures shrink to small networks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "degranulation.testing.strategies needs Hypothesis: pip install 'degranulation[test]'"
    ) from exc

from degranulation.network import Model
from degranulation.testing.networks import chain_builder, network_builder

if TYPE_CHECKING:
    from degranulation.codegen import CompiledOde


class _DrawChooser:
    """A :class:`~degranulation.testing.networks.Chooser` drawing from Hypothesis."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self._draw = draw

    def integer(self, low: int, high: int) -> int:
        return int(self._draw(st.integers(low, high)))

    def real(self, low: float, high: float) -> float:
        return float(self._draw(st.floats(low, high)))


def networks(
    *,
    n_species: tuple[int, int] = (1, 6),
    n_reactions: tuple[int, int] = (1, 8),
    allow_boundary: bool = True,
    text: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[Model]:
    """Validated random mass-action networks (see :func:`~degranulation.testing.networks.network_builder`).

    Parameters
    ----------
    n_species, n_reactions : (int, int)
        Inclusive size ranges.
    allow_boundary : bool
        Let some species be boundary species.
    text : SearchStrategy of str, optional
        Titles, labels and descriptions (empty by default).

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from degranulation.testing.strategies import networks
    >>> @settings(max_examples=3, deadline=None)
    ... @given(networks(n_reactions=(2, 4)))
    ... def check(model):
    ...     assert 2 <= len(model.reactions) <= 4
    >>> check()
    """
    labels = text if text is not None else st.just("")

    @st.composite
    def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Model:
        builder = network_builder(
            _DrawChooser(draw),
            n_species=n_species,
            n_reactions=n_reactions,
            allow_boundary=allow_boundary,
            text=lambda: str(draw(labels)),
        )
        return builder.build()

    return build()


def first_order_chains(*, n_species: tuple[int, int] = (2, 6)) -> st.SearchStrategy[Model]:
    """Validated random first-order chains (see :func:`~degranulation.testing.networks.chain_builder`).

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from degranulation.testing.strategies import first_order_chains
    >>> @settings(max_examples=3, deadline=None)
    ... @given(first_order_chains(n_species=(2, 3)))
    ... def check(model):
    ...     assert model.reactions[0].reactants[0] == ("S0", 1)
    >>> check()
    """

    @st.composite
    def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Model:
        return chain_builder(_DrawChooser(draw), n_species=n_species).build()

    return build()


def states(compiled: CompiledOde, *, low: float = 0.0, high: float = 2.0) -> st.SearchStrategy[np.ndarray]:
    """Non-negative states of a compiled model: each species scaled by a factor in ``[low, high]``.

    The scale of a species is its initial value, or where that is zero the largest initial
    value among species of the same kind (amounts or concentrations), or 1.

    Examples
    --------
    >>> import degranulation as dg
    >>> from hypothesis import given, settings
    >>> from degranulation.codegen import compile_model
    >>> from degranulation.testing.strategies import states
    >>> ode = compile_model(dg.load_model("ige_fceri_crosslinking"))
    >>> @settings(max_examples=3, deadline=None)
    ... @given(states(ode))
    ... def check(x):
    ...     assert x.shape == (4,) and (x >= 0).all()
    >>> check()
    """
    scale = state_scale(compiled)
    factors = st.lists(st.floats(low, high), min_size=len(scale), max_size=len(scale))
    return factors.map(lambda f: scale * np.array(f, dtype=float))


def parameter_vectors(compiled: CompiledOde, *, spread: float = 2.0) -> st.SearchStrategy[np.ndarray]:
    """Parameter vectors: each default value times a factor in ``[1/spread, spread]``.

    Examples
    --------
    >>> import degranulation as dg
    >>> from hypothesis import given, settings
    >>> from degranulation.codegen import compile_model
    >>> from degranulation.testing.strategies import parameter_vectors
    >>> ode = compile_model(dg.load_model("ige_fceri_crosslinking"))
    >>> @settings(max_examples=3, deadline=None)
    ... @given(parameter_vectors(ode))
    ... def check(p):
    ...     assert (p <= 2 * ode.default_parameters).all()
    >>> check()
    """
    size = len(compiled.default_parameters)
    factors = st.lists(st.floats(1.0 / spread, spread), min_size=size, max_size=size)
    return factors.map(lambda f: compiled.default_parameters * np.array(f, dtype=float))


def state_scale(compiled: CompiledOde) -> np.ndarray:
    """Typical magnitude of each state variable (see :func:`states`)."""
    x0 = np.asarray(compiled.default_initial, dtype=float)
    is_concentration = compiled.amount_factors >= 0
    scale = x0.copy()
    for kind in (is_concentration, ~is_concentration):
        largest = x0[kind].max(initial=0.0)
        scale[kind & (x0 <= 0)] = largest if largest > 0 else 1.0
    return scale


# --- hostile inputs, for the fuzzing suite (tests/fuzz) ----------------------------------------

#: Text that must never run as code: each, if executed, creates the file ``CANARY`` names.
PAYLOADS = (
    "__import__('os').system('touch CANARY')",
    "open('CANARY', 'w')",
    "exec(\"open('CANARY','w')\")",
    "eval(\"open('CANARY','w')\")",
    "().__class__.__base__.__subclasses__()",
    "lambda: open('CANARY', 'w')",
)
_UNITS = ("", "molecule", "nM", "uM", "M", "1/s", "1/(M*s)", "1/(molecule*s)", "s", "min", "L", "uL",
          "kg", "percent", "bogus", "nM/s", "molecule/s", "1/nM/s", "ng/mL", "m**3")  # fmt: skip
_NUMBERS = ("0", "1", "-1", "1e-20", "1e150", "1e308", "1e309", "-1e308", "nan", "inf", "-inf", "0.5",
            "3", "1e6", "007", "1_000", "0x10", "")  # fmt: skip
_FUNCTIONS = ("exp", "log", "sqrt", "sin", "abs", "max", "min", "pow", "mass_action", "hill", "piecewise",
              "factorial", "sign", "foo", "__import__", "getattr", "open")  # fmt: skip


_OPTIONS = ("--set", "--t-end", "--points", "--solver", "--rtol", "--atol", "--protocol", "--vary",
            "--from", "--to", "--num", "--values", "--at", "--observe", "--batch", "--workers", "--starts",
            "--estimate", "--format", "--level", "-o")  # fmt: skip


def identifiers(*, hostile: bool = True) -> st.SearchStrategy[str]:
    """Ids: mostly well formed (some reserved-looking), sometimes hostile text."""
    plain = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True)
    odd = st.sampled_from(["time", "t", "e", "pi", "inf", "nan", "lambda", "import", "C\n", "k-1", "é", " "])
    return st.one_of(plain, odd, st.sampled_from(PAYLOADS), st.text(max_size=6)) if hostile else plain


def expressions(names: st.SearchStrategy[str], *, max_leaves: int = 12) -> st.SearchStrategy[str]:
    """Formula text over ``names``: operators, calls (known, unknown and dangerous), nesting,
    sometimes a payload; not always valid."""
    leaves = st.one_of(names, st.sampled_from(_NUMBERS[:-1]), st.sampled_from(PAYLOADS))

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(
            children, st.sampled_from(["+", "-", "*", "/", "**", "^", ">", "==", "and"]), children
        )
        call = st.tuples(st.sampled_from(_FUNCTIONS), st.lists(children, min_size=0, max_size=3))
        return st.one_of(
            binary.map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
            call.map(lambda t: f"{t[0]}({', '.join(t[1])})"),
            children.map(lambda e: f"({e})"),
            children.map(lambda e: f"-{e}"),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def quantities() -> st.SearchStrategy[str]:
    """``"number unit"`` text, with odd numbers and units."""
    return st.one_of(
        st.tuples(st.sampled_from(_NUMBERS), st.sampled_from(_UNITS)).map(lambda t: f"{t[0]} {t[1]}".strip()),
        st.text(max_size=8),
    )


def _toml_string(text: str) -> str:
    """A TOML basic string holding ``text`` (JSON's escapes are TOML's, bar a few controls)."""
    import json

    return json.dumps(text).replace("\\u007f", "\\u007F")


@st.composite
def model_file_texts(draw: Callable[[st.SearchStrategy[Any]], Any]) -> str:
    """Model files (TOML text): structured with hostile ids, values, equations and rate laws, and
    sometimes garbled (characters cut, repeated or inserted)."""
    ids = identifiers()
    species = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    parameters = draw(st.lists(ids, min_size=0, max_size=3, unique=True))
    names = st.sampled_from(species + parameters)
    lines = [f"format = {_toml_string(draw(st.sampled_from(['degranulation-model/1', 'x/2', ''])))}"]
    lines += [f"id = {_toml_string(draw(ids))}", "title = 'fuzz'", "[units]", "time = 's'"]
    lines += [
        f"concentration = {_toml_string(draw(st.sampled_from(['nM', 'M', 's', 'bogus'])))}",
        "[species]",
    ]
    lines += [f"{_toml_string(s)} = {{ initial = {_toml_string(draw(quantities()))} }}" for s in species]
    lines.append("[parameters]")
    lines += [f"{_toml_string(p)} = {_toml_string(draw(quantities()))}" for p in parameters]
    for _ in range(draw(st.integers(0, 3))):
        side = st.lists(names, min_size=0, max_size=2).map(" + ".join)
        arrow = draw(st.sampled_from(["->", "<->", "=>", ""]))
        equation = f"{draw(side)} {arrow} {draw(side)}"
        rate = draw(st.one_of(names.map(lambda k: f"mass_action({k})"), expressions(names)))
        lines += ["[[reactions]]", f"equation = {_toml_string(equation)}", f"rate = {_toml_string(rate)}"]
    if draw(st.booleans()):
        lines += [
            "[observables]",
            f"obs = {{ expr = {_toml_string(draw(expressions(names)))}, unit = 'nM' }}",
        ]
    text = "\n".join(lines) + "\n"
    for _ in range(draw(st.integers(0, 2))):  # garble
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=4)) + text[at + draw(st.integers(0, 5)) :]
    return text


def _mathml(names: list[str]) -> st.SearchStrategy[str]:
    numbers = ["1", "2.5", "-3", "NaN", "INF", "0", "1e300"]
    operators = ["plus", "minus", "times", "exp", "abs", "divide", "power", "ln", "root"]
    leaves = st.one_of(
        st.sampled_from(names).map(lambda n: f"<ci> {n} </ci>"),
        st.sampled_from(numbers).map(lambda v: f"<cn> {v} </cn>"),
        st.sampled_from(["0", "2"]).map(lambda d: f"<cn type='rational'> 1 <sep/> {d} </cn>"),
        st.just(
            "<csymbol encoding='text' definitionURL='http://www.sbml.org/sbml/symbols/time'> t </csymbol>"
        ),
    )

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        operator = st.sampled_from(operators)
        return st.tuples(operator, st.lists(children, min_size=1, max_size=3)).map(
            lambda t: f"<apply><{t[0]}/>{''.join(t[1])}</apply>"
        )

    return st.recursive(leaves, extend, max_leaves=10)


@st.composite
def sbml_documents(draw: Callable[[st.SearchStrategy[Any]], Any]) -> str:
    """Small SBML Level 3 documents: random SIds (``__``-prefixed and ``time`` among them),
    sizes, initial amounts, stoichiometries (up to 1e300) and MathML kinetic laws that may
    divide by zero (no function definitions)."""
    sid = st.one_of(
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}", fullmatch=True), st.sampled_from(["time", "_", "x__"])
    )
    species = draw(st.lists(sid, min_size=1, max_size=3, unique=True))
    parameters = draw(st.lists(sid.filter(lambda s: s not in species), max_size=2, unique=True))
    number = st.sampled_from(["0", "1", "-1", "1e-20", "1e150", "1e300", "NaN", "INF", "2.5"])

    body = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        "<sbml xmlns='http://www.sbml.org/sbml/level3/version2/core' level='3' version='2'>",
        "<model id='fuzz' substanceUnits='mole' timeUnits='second' extentUnits='mole'>",
        f"<listOfCompartments><compartment id='cell' size='{draw(number)}' constant='true' "
        "spatialDimensions='3'/></listOfCompartments><listOfSpecies>",
    ]
    body += [
        f"<species id='{s}' compartment='cell' initialAmount='{draw(number)}' hasOnlySubstanceUnits='true' "
        "boundaryCondition='false' constant='false'/>"
        for s in species
    ]
    body.append("</listOfSpecies><listOfParameters>")
    body += [f"<parameter id='{p}' value='{draw(number)}' constant='true'/>" for p in parameters]
    body.append("</listOfParameters><listOfReactions>")
    for r in range(draw(st.integers(0, 2))):
        reactant, product = draw(st.sampled_from(species)), draw(st.sampled_from(species))
        math = draw(_mathml(species + parameters))
        body += [
            f"<reaction id='r{r}' reversible='false'>",
            f"<listOfReactants><speciesReference species='{reactant}' stoichiometry='{draw(number)}' "
            "constant='true'/></listOfReactants>",
            f"<listOfProducts><speciesReference species='{product}' stoichiometry='1' constant='true'/>"
            "</listOfProducts>",
            f"<kineticLaw><math xmlns='http://www.w3.org/1998/Math/MathML'>{math}</math></kineticLaw>",
            "</reaction>",
        ]
    body += ["</listOfReactions></model></sbml>"]
    return "\n".join(body)


def assay_csv_bytes(
    *, encodings: tuple[str, ...] = ("utf-8", "utf-8-sig", "latin-1", "utf-16")
) -> st.SearchStrategy[bytes]:
    """Assay CSV files as bytes: headers with odd units, odd values, trailing garbage, in one of
    ``encodings`` (e.g. ``"latin-1"``, ``"utf-16"``)."""
    header = st.lists(
        st.one_of(
            st.sampled_from(
                ["observable", "time [min]", "value [molecule]", "sd [molecule]", "L [molecule]"]
            ),
            st.tuples(identifiers(hostile=True), st.sampled_from(_UNITS)).map(lambda t: f"{t[0]} [{t[1]}]"),
        ),
        min_size=1,
        max_size=5,
    )
    cell = st.one_of(st.sampled_from(["RecDim", "R", *_NUMBERS, "-30", "1e308", "é"]), st.text(max_size=5))

    undecodable = set(encodings) - {"utf-8", "utf-8-sig"}  # then also bytes that are not UTF-8
    garbage = st.binary(max_size=3) if undecodable else st.just(b"")

    @st.composite
    def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> bytes:
        columns = draw(header)
        rows = draw(st.lists(st.lists(cell, min_size=len(columns), max_size=len(columns)), max_size=4))
        text = "\n".join(",".join(row) for row in [columns, *rows]) + "\n"
        encoding = draw(st.sampled_from(encodings))
        return text.encode(encoding, errors="replace") + draw(garbage)

    return build()


def cli_arguments() -> st.SearchStrategy[list[str]]:
    """Command lines: a subcommand (or none) with a random pick of options and values."""
    commands = st.sampled_from(
        ["models", "validate", "simulate", "convert", "fit", "sweep", "bogus", "--help"]
    )
    options = st.sampled_from(_OPTIONS)
    values = st.one_of(
        st.sampled_from(
            [
                "ige_fceri_crosslinking",
                "L",
                "RecDim",
                "kp1",
                "1min",
                "0",
                "-1",
                "1e14",
                "100000000000000",
                "nan",
                "1e4molecule",
                "1pM",
                "10uM",
                "steady",
                "BDF",
                "LSODA",
                "kp1=2",
                "kp1=-5/s",
                "show",
                "list",
                "json",
                "..",
                "",
            ]
        ),
        quantities(),
        st.sampled_from(PAYLOADS),
    )
    tail = st.lists(st.one_of(st.tuples(options, values).map(list), values.map(lambda v: [v])), max_size=5)
    return st.tuples(commands, tail).map(lambda t: [t[0], *(a for pair in t[1] for a in pair)])
