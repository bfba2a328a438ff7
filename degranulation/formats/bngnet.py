"""BioNetGen ``.net`` networks → :class:`~degranulation.network.Model`, and ``.gdat`` trajectories.

A ``.net`` file is what BioNetGen's ``generate_network`` writes: parameters (numbers or
expressions of other parameters), functions, species with initial amounts, reactions with
their rate constants (statistical factors included, e.g. ``2*kp1``) and groups (observables as
weighted sums of species). The import keeps BioNetGen's semantics exactly:

- every reaction is mass action in *amounts*: ``rate = k · Π reactant amounts`` (a reactant
  listed twice is squared); a reaction whose rate is a function of observables multiplies the
  function's value by the reactant amounts the same way;
- ``MM kcat Km`` and ``Sat k K1 …`` reactions keep BioNetGen's rate laws (``_saturating``);
- ``$`` (fixed) species, also after a cBNGL compartment prefix (``@C::$X()``), become boundary
  species: reactions use them but do not change them;
- ``if(condition, a, b)`` becomes ``piecewise(a, condition, b)``, with ``&& || !`` as
  ``and or not``; a bare number compared with something gets a parameter of its own, whose unit
  is inferred like any other's;
- derived parameters and functions are written out in the rate laws, so ``--set kp1=...``
  still changes every rate that depends on ``kp1``; species' initial expressions are evaluated.

**Units.** BioNetGen numbers carry no units. The import reads amounts as ``molecule`` and time
as ``s``, so a rate constant of a reaction with ``n`` reactants is ``molecule**(1-n)/s`` (``1/s``,
``1/(molecule*s)``, ...). Each parameter's unit is inferred from where it is used (a rate
constant of one order, a term added to an observable, a factor of a derived constant); a factor
that no use pins down is ``dimensionless``. Where one parameter serves reactions of different
orders (cBNGL folds compartment volumes into such constants), the majority use sets its unit and
the other reactions get the unit factors ``bng_molecule = 1 molecule`` and ``bng_second = 1 s``,
which leave every number as BioNetGen has it. An expression that adds or compares quantities of
different dimensions (``k*(1 + Atot)``) is kept as BioNetGen computes it: the model does not
enforce units (``Model.units_enforced``) and one ``UnitWarning`` names each such expression with
its two units; ``strict_units=True`` refuses the network instead.

Species are named ``S1``, ``S2``, ... in file order (BioNetGen's own SBML export does the same),
with the BioNetGen species text as their label.
"""

from __future__ import annotations

import keyword
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Final

from degranulation.errors import ModelFileError, UnsupportedFeatureError
from degranulation.expressions import MAX_LENGTH, RESERVED
from degranulation.formats.bngnet_dims import (
    _NONE,
    Dim,
    _dim,
    _order_rank,
    _subtract,
    _vector,
    unit_text,
)
from degranulation.limits import MAX_DEPTH
from degranulation.network import Model, Observable, Parameter, Reaction, Species, UnitValue
from degranulation.units import UnitSystem

if TYPE_CHECKING:
    import numpy as np
    import sympy

_BLOCKS: Final = ("parameters", "functions", "species", "reactions", "groups")
_TOKEN_RE: Final = re.compile(
    r"(?P<space>\s+)|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>\*\*|==|!=|<=|>=|&&|\|\||[-+*/^(),<>!])"
)
_ID_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: BioNetGen math functions and the name of the same function in model expressions.
_MATH: Final = {
    "exp": "exp", "ln": "log", "log10": "log10", "sqrt": "sqrt", "abs": "abs",
    "tanh": "tanh", "min": "min", "max": "max",
}  # fmt: skip
_CONSTANTS: Final = {"_pi": repr(math.pi), "_e": repr(math.e)}
#: BioNetGen (muParser) logical operators and their expression text.
_LOGIC: Final = {"&&": " and ", "||": " or ", "!": " not "}
#: A species' text starts with '$' (fixed), after any cBNGL compartment prefix '@C::'.
_FIXED_RE: Final = re.compile(r"^(@[A-Za-z_][A-Za-z0-9_]*::)?\$")
AMOUNT_FACTOR: Final = "bng_molecule"
TIME_FACTOR: Final = "bng_second"


@dataclass(frozen=True)
class _Line:
    number: int
    fields: list[str]
    comment: str = ""


@dataclass(frozen=True)
class _NetReaction:
    line: _Line
    reactants: tuple[int, ...]
    products: tuple[int, ...]
    rate: str
    law: str = ""  # "" (elementary or function), "MM" or "Sat"
    constants: tuple[str, ...] = ()  # the MM or Sat law's constants, in order


def read_bngnet(path: str | Path, *, id: str | None = None, strict_units: bool = False) -> Model:
    """Read a BioNetGen ``.net`` reaction network as a model (not yet validated).

    Parameters
    ----------
    path : str or Path
        The ``.net`` file.
    id : str, optional
        Model id; by default the file name (``toy-jim.net`` → ``toy_jim``).
    strict_units : bool
        Refuse a network whose expressions add or compare quantities of different dimensions
        (``UnsupportedFeatureError``). By default it is read with BioNetGen's numbers as
        written and one ``UnitWarning`` naming each expression and its two units.

    Returns
    -------
    Model
        Species ``S1…Sn`` in amounts (``molecule``), time in ``s``, BioNetGen's groups as
        observables (``_group`` appended to a group named like a species or parameter),
        parameters with units inferred from their use (module docstring).

    Raises
    ------
    ModelFileError
        For a line that cannot be read, with its line number.
    UnsupportedFeatureError
        For BioNetGen features with no equivalent here (functions with arguments, unknown
        functions), naming each; with ``strict_units``, for units that disagree.

    Examples
    --------
    >>> import degranulation as dg, pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "binding.net"
    >>> _ = path.write_text(
    ...     "begin parameters\\n 1 kon 10\\n 2 koff 5\\n 3 X0 5000\\nend parameters\\n"
    ...     "begin species\\n 1 X(y) X0\\n 2 Y(x) 500\\n 3 X(y!1).Y(x!1) 0\\nend species\\n"
    ...     "begin reactions\\n 1 1,2 3 kon #R1\\n 2 3 1,2 koff #_reverse_R1\\nend reactions\\n"
    ...     "begin groups\\n 1 Bound 3\\nend groups\\n")
    >>> model = dg.read_bngnet(path)
    >>> model.reactions[0].equation, model.reactions[0].rate
    ('S1 + S2 -> S3', 'mass_action(kon)')
    >>> str(model.get_parameter("kon").value), str(model.get_species("S1").initial)
    ('10.0 1/(molecule*s)', '5000.0 molecule')
    """
    from degranulation.limits import read_model_text

    path = Path(path)
    text = read_model_text(path, "BioNetGen network")
    model_id = id or _sanitize(path.stem.replace("-", "_"))
    return loads_bngnet(text, file=str(path), id=model_id, strict_units=strict_units)


def loads_bngnet(
    text: str, *, file: str | None = None, id: str = "bionetgen_network", strict_units: bool = False
) -> Model:
    """Read a model from ``.net`` text (see :func:`read_bngnet`)."""
    blocks = _split_blocks(text, file)
    return _Importer(blocks, file, id, strict_units=strict_units).model()


def read_gdat(path: str | Path) -> dict[str, np.ndarray]:
    """Read a BioNetGen ``.gdat``/``.cdat`` trajectory: ``{"time": ..., observable: ...}``.

    Examples
    --------
    >>> from degranulation.formats.bngnet import read_gdat
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.gdat"
    >>> _ = path.write_text("#  time  A\\n 0.0 1.0\\n 1.0 0.5\\n")
    >>> read_gdat(path)["A"].tolist()
    [1.0, 0.5]
    """
    import numpy as np

    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        header = handle.readline()
    if not header.startswith("#"):
        raise ModelFileError(
            "a .gdat file starts with a '#' header of column names", file=str(path), location="line 1"
        )
    names = header.lstrip("#").split()
    data = np.loadtxt(path, comments="#", ndmin=2)
    if data.shape[1] != len(names):
        raise ModelFileError(
            f"{len(names)} column names but {data.shape[1]} columns", file=str(path), location="line 2"
        )
    return {name: data[:, k] for k, name in enumerate(names)}


def _split_blocks(text: str, file: str | None) -> dict[str, list[_Line]]:
    blocks: dict[str, list[_Line]] = {}
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line, _, comment = raw.partition("#")
        line = line.strip()
        if not line:
            continue
        words = line.split()
        if words[0] == "begin" and len(words) > 1:
            name = " ".join(words[1:])
            if name not in _BLOCKS:
                raise UnsupportedFeatureError(
                    f"line {number}: BioNetGen block '{name}' is not supported",
                    features=[name],
                    file=file,
                )
            current = name
            blocks[current] = []
        elif words[0] == "end":
            current = None
        elif current is None and re.fullmatch(r"(setOption|version)\(.*\);?", line):
            continue  # BioNetGen's version and output options (e.g. species labels); nothing to import
        elif current is None:
            raise ModelFileError(
                f"text outside a block: '{line}'",
                file=file,
                location=f"line {number}",
                hint="a .net file has begin/end blocks of parameters, species, ...",
            )
        else:
            blocks[current].append(_Line(number, words, comment.strip()))
    for needed in ("species", "reactions"):
        if needed not in blocks:
            raise ModelFileError(
                f"no '{needed}' block up to the end of the file",
                file=file,
                location=f"line {text.count(chr(10)) + 1}",
                hint="is this a BioNetGen .net file?",
            )
    return blocks


def _sanitize(name: str) -> str:
    """A model id for a BioNetGen name (BioNetGen allows names that SymPy or Python reserve)."""
    if _ID_RE.fullmatch(name) and not keyword.iskeyword(name) and name not in RESERVED:
        return name
    stripped = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "x"
    return f"bng_{stripped}"


class _Importer:
    """Turns the blocks of one ``.net`` file into a model."""

    def __init__(
        self, blocks: dict[str, list[_Line]], file: str | None, model_id: str, *, strict_units: bool = False
    ) -> None:
        self.file = file
        self.model_id = model_id
        self.strict_units = strict_units
        self.unit_notes: list[str] = []  # expressions whose units disagree (not strict): as written
        self.constants: dict[str, tuple[str, _Line]] = {}  # id -> (number text, line)
        self.derived: dict[str, tuple[str, _Line]] = {}  # BioNetGen name -> (expression, line)
        self.functions: dict[str, tuple[str, _Line]] = {}
        self.groups: dict[str, str] = {}  # BioNetGen name -> observable expression text
        self.ids: dict[str, str] = {}  # BioNetGen parameter name -> model id
        self._translated: dict[str, str] = {}
        self._read_parameters(blocks.get("parameters", []))
        self._read_functions(blocks.get("functions", []))
        self.species = [self._species_line(line) for line in blocks["species"]]
        self.reactions = [self._reaction_line(line) for line in blocks["reactions"]]
        self.group_lines = blocks.get("groups", [])
        for line in self.group_lines:
            self.groups[self._field(line, 1, "group name")] = self._group_expr(line)

    # -- reading lines ---------------------------------------------------------------------
    def _error(self, line: _Line, message: str, hint: str | None = None) -> ModelFileError:
        return ModelFileError(message, file=self.file, location=f"line {line.number}", hint=hint)

    def _field(self, line: _Line, index: int, what: str) -> str:
        if len(line.fields) <= index:
            raise self._error(line, f"missing {what}")
        return line.fields[index]

    def _read_parameters(self, lines: list[_Line]) -> None:
        taken = set()
        for line in lines:
            name = self._field(line, 1, "parameter name")
            value = "".join(line.fields[2:])
            if not value:
                raise self._error(line, f"parameter '{name}' has no value")
            if _is_number(value):
                model_id = _sanitize(name)
                while model_id in taken:
                    model_id += "_"
                taken.add(model_id)
                self.ids[name] = model_id
                self.constants[model_id] = (value, line)
            else:
                self.derived[name] = (value, line)

    def _read_functions(self, lines: list[_Line]) -> None:
        for line in lines:
            head = self._field(line, 1, "function name")
            match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\((.*)\)", head)
            if match is None:
                raise self._error(line, f"cannot read function '{head}'")
            if match[2].strip():
                raise UnsupportedFeatureError(
                    f"line {line.number}: function '{head}' has arguments (local functions are not "
                    "supported)",
                    features=["local functions"],
                    file=self.file,
                )
            self.functions[match[1]] = ("".join(line.fields[2:]), line)

    def _species_line(self, line: _Line) -> tuple[str, str, _Line]:
        return self._field(line, 1, "species"), "".join(line.fields[2:]) or "0", line

    def _reaction_line(self, line: _Line) -> _NetReaction:
        if len(line.fields) < 4:
            raise self._error(line, "a reaction line reads 'index reactants products rate'")
        reactants = self._indices(line, line.fields[1])
        products = self._indices(line, line.fields[2])
        law = line.fields[3]
        if law not in ("MM", "Sat"):
            return _NetReaction(line, reactants, products, "".join(line.fields[3:]))
        constants = tuple(line.fields[4:])
        if law == "MM" and (len(constants) != 2 or len(reactants) < 2):
            raise self._error(line, "an MM reaction has a substrate, enzymes and 'MM kcat Km'")
        if law == "Sat" and not 1 <= len(constants) <= len(reactants) + 1:
            raise self._error(line, "a Sat reaction reads 'Sat k K1 ...' with at most one K per reactant")
        return _NetReaction(line, reactants, products, " ".join(line.fields[3:]), law, constants)

    def _indices(self, line: _Line, text: str) -> tuple[int, ...]:
        try:
            indices = tuple(int(i) for i in text.split(",") if int(i) != 0)
        except ValueError:
            raise self._error(line, f"'{text}' is not a list of species numbers") from None
        for index in indices:
            if not 1 <= index <= len(self.species):
                raise self._error(line, f"species {index} is not declared")
        return indices

    def _group_expr(self, line: _Line) -> str:
        terms = []
        entries = "".join(line.fields[2:])
        for entry in entries.split(",") if entries else []:
            weight, _, index = entry.rpartition("*")
            if not index.isdigit() or not 1 <= int(index) <= len(self.species):
                raise self._error(line, f"group entry '{entry}' does not name a species")
            if weight and not _is_number(weight):
                raise self._error(line, f"group weight '{weight}' is not a number")
            terms.append(f"{weight}*S{index}" if weight else f"S{index}")
        if not terms:
            raise UnsupportedFeatureError(
                f"line {line.number}: group '{line.fields[1]}' matches no species",
                features=["empty groups"],
                file=self.file,
            )
        return " + ".join(terms)

    # -- expressions -----------------------------------------------------------------------
    def translate(self, text: str, line: _Line, seen: tuple[str, ...] = ()) -> str:
        """A BioNetGen expression as model-expression text (names mapped, definitions inlined)."""
        key = text
        if not seen and key in self._translated:
            return self._translated[key]
        result = self._emit(self._compared_numbers(list(self._tokens(text, line)), line), line, seen)
        if len(result) > MAX_LENGTH:  # checked level by level, so nested doubling stops early
            raise self._error(
                line,
                f"'{text[:40]}' grows to more than {MAX_LENGTH} characters once the parameters and "
                "functions it uses are inlined",
                hint="definitions that use others several times grow exponentially",
            )
        if not seen:
            self._translated[key] = result
        return result

    def _compared_numbers(self, tokens: list[tuple[str, str]], line: _Line) -> list[tuple[str, str]]:
        """A bare number compared with something (``Atot < 50``) becomes a constant of its own,
        whose unit is inferred from the comparison as any parameter's is."""
        compare = {"<", ">", "<=", ">=", "==", "!="}
        result = list(tokens)
        for k, (kind, value) in enumerate(tokens):
            if kind != "number":
                continue
            before = tokens[k - 1][1] if k > 0 else ""
            after = tokens[k + 1][1] if k + 1 < len(tokens) else ""
            if (before in compare and after not in {"*", "/", "^", "**"}) or (
                after in compare and before not in {"*", "/", "^", "**"}
            ):
                name = f"bng_compared{len(self.constants) + 1}"
                self.constants[name] = (value, line)
                self.ids[name] = name
                result[k] = ("name", name)
        return result

    def _emit(self, tokens: list[tuple[str, str]], line: _Line, seen: tuple[str, ...]) -> str:
        out: list[str] = []
        position = 0
        while position < len(tokens):
            kind, value = tokens[position]
            position += 1
            if kind != "name":
                out.append("**" if value == "^" else _LOGIC.get(value, value))
                continue
            is_call = position < len(tokens) and tokens[position] == ("op", "(")
            if is_call:
                closes = position + 1 < len(tokens) and tokens[position + 1] == ("op", ")")
                if value == "if":
                    end, arguments = _call_arguments(tokens, position)
                    if len(arguments) != 3:
                        raise self._error(line, "if() takes a condition, a value if true and one if false")
                    condition, when_true, when_false = (self._emit(a, line, seen) for a in arguments)
                    out.append(f"piecewise({when_true}, {condition}, {when_false})")
                    position = end
                elif value in self.functions and closes:
                    out.append(f"({self._inline(value, self.functions[value], line, seen)})")
                    position += 2
                elif value == "time" and closes:
                    out.append("t")
                    position += 2
                elif value in _MATH:
                    out.append(_MATH[value])
                else:
                    raise UnsupportedFeatureError(
                        f"line {line.number}: function '{value}()' is not supported",
                        features=[f"{value}()"],
                        file=self.file,
                    )
            else:
                out.append(self._name(value, line, seen))
        return "".join(out)

    def _tokens(self, text: str, line: _Line) -> Iterator[tuple[str, str]]:
        position = 0
        while position < len(text):
            match = _TOKEN_RE.match(text, position)
            if match is None:
                raise UnsupportedFeatureError(
                    f"line {line.number}: '{text[position:]}' in '{text}' is not supported "
                    "(no BioNetGen expression has this)",
                    features=["unknown expression syntax"],
                    file=self.file,
                )
            position = match.end()
            kind = match.lastgroup or "space"
            if kind != "space":
                yield kind, match[kind]

    def _name(self, name: str, line: _Line, seen: tuple[str, ...]) -> str:
        if name in self.ids:
            return self.ids[name]
        if name in self.derived:
            return f"({self._inline(name, self.derived[name], line, seen)})"
        if name in self.functions:
            return f"({self._inline(name, self.functions[name], line, seen)})"
        if name in self.groups:
            return f"({self.groups[name]})"
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        raise self._error(line, f"unknown name '{name}'", hint="it is not a parameter, function or group")

    def _inline(self, name: str, definition: tuple[str, _Line], line: _Line, seen: tuple[str, ...]) -> str:
        if name in seen:
            raise self._error(line, f"'{name}' is defined in terms of itself ({' -> '.join((*seen, name))})")
        if len(seen) >= MAX_DEPTH:
            raise self._error(
                line, f"definitions nest more than {MAX_DEPTH} deep ({' -> '.join((*seen[:3], '...', name))})"
            )
        return self.translate(definition[0], definition[1], (*seen, name))

    # -- the model -------------------------------------------------------------------------
    def model(self) -> Model:
        from degranulation.expressions import parse_expression

        parsed = {text: parse_expression(text).expr for text in self._rate_texts()}
        species = self._species_records()
        units = _UnitInference(self, parsed)
        reactions, extra = units.reactions()
        used = {name for reaction in reactions for name in _names(reaction.rate)}
        parameters = [
            Parameter(
                model_id,
                UnitValue(float(value), units.unit_of(model_id)),
                description=f"BioNetGen parameter (line {line.number})",
            )
            for model_id, (value, line) in self.constants.items()
            if model_id in used
        ]
        parameters += extra
        taken = {s.id for s in species} | {p.id for p in parameters}
        observables = []
        for line in self.group_lines:
            name = _sanitize(line.fields[1])
            while name in taken:  # a group called S1 must not hide species S1
                name = f"{name}_group"
            taken.add(name)
            observables.append(
                Observable(
                    name,
                    self.groups[line.fields[1]],
                    "molecule",
                    description=f"BioNetGen group {line.fields[1]}",
                )
            )
        model = Model(
            id=self.model_id,
            title=f"BioNetGen network {self.model_id}",
            description=(
                "Imported from a BioNetGen .net file. Amounts are molecule counts and time is in "
                "seconds (BioNetGen itself is unitless); rate constants carry the units mass "
                "action implies."
            ),
            references=(Path(self.file).name,) if self.file else (),
            units=UnitSystem(time="s", concentration="nM", amount="molecule"),
            species=tuple(species),
            parameters=tuple(parameters),
            reactions=tuple(reactions),
            observables=tuple(observables),
            source=self.file,
            units_enforced=not self.unit_notes,
        )
        if self.unit_notes:
            from degranulation.formats.units import warn_units

            warn_units(self.file or "BioNetGen network", self.unit_notes)
        return model

    def _rate_texts(self) -> set[str]:
        return {text for reaction in self.reactions for text, _ in self.uses(reaction)}

    def uses(self, reaction: _NetReaction) -> list[tuple[str, Dim]]:
        """Each constant of a reaction's rate law (translated) with the dimension it needs.

        Elementary: ``k`` with ``molecule**(1-n)/s``. ``MM kcat Km``: ``1/s`` and ``molecule``.
        ``Sat k K1 … Kd``: each ``K`` a ``molecule``, ``k`` with ``molecule**(1-n+d)/s``.
        """
        texts = [self.translate(text, reaction.line) for text in (reaction.constants or (reaction.rate,))]
        n = len(reaction.reactants)
        molecule = (Fraction(1), Fraction(0))
        if reaction.law == "MM":
            return [(texts[0], (Fraction(0), Fraction(-1))), (texts[1], molecule)]
        first = (Fraction(1 - n + len(texts) - 1), Fraction(-1))
        return [(texts[0], first), *((text, molecule) for text in texts[1:])]

    def _species_records(self) -> list[Species]:
        records = []
        for index, (text, initial, line) in enumerate(self.species, start=1):
            value = self._evaluate(initial, line)
            if not math.isfinite(value) or value < 0:
                raise self._error(line, f"initial amount '{initial}' = {value} is not a finite amount >= 0")
            note = "" if _is_number(initial) else f"initial amount {initial} in BioNetGen"
            records.append(
                Species(
                    f"S{index}",
                    UnitValue(value, "molecule"),
                    label=text,
                    description=note,
                    boundary=bool(_FIXED_RE.match(text)),
                )
            )
        return records

    def _evaluate(self, text: str, line: _Line) -> float:
        if _is_number(text):
            return float(text)
        from degranulation.expressions import parse_expression, symbol

        expr = parse_expression(self.translate(text, line)).expr
        values = {symbol(k): float(v) for k, (v, _) in self.constants.items()}
        result = expr.subs(values)
        if result.free_symbols:
            raise self._error(
                line, f"initial amount '{text}' depends on {sorted(map(str, result.free_symbols))}"
            )
        return float(result)


class _UnitInference:
    """Unit of every parameter from the dimensions its uses require (module docstring), found
    by the SBML importer's engine (:class:`degranulation.formats.units.UnitInference`)."""

    def __init__(self, importer: _Importer, parsed: dict[str, sympy.Expr]) -> None:
        from degranulation.formats.units import Unit, UnitInference

        self.importer = importer
        self.parsed = parsed
        priority = self._priority()
        names = sorted(importer.constants, key=lambda name: priority[name])
        symbols = {s.name for expr in parsed.values() for s in expr.free_symbols} - set(names)
        # Every other name in a rate is a species amount (groups are sums of them), or time.
        known = {name: Unit(1.0, "s" if name == "t" else "molecule") for name in symbols}
        self.engine = UnitInference(known, names)
        self.affine = {text: self.engine.form(expr, text) for text, expr in parsed.items()}
        self._vote()
        solution, disagreements = self.engine.solve_where_possible()
        if disagreements and importer.strict_units:
            raise UnsupportedFeatureError(
                "BioNetGen expressions add or compare quantities of different dimensions",
                features=["inconsistent units"],
                file=self.importer.file,
            )
        importer.unit_notes += [
            f"'{where}': '{unit_text(_dim(left))}' vs '{unit_text(_dim(right))}'"
            for where, left, right in disagreements
        ]
        self.solution = solution
        self.values = {name: _dim(vector) for name, vector in solution.items()}

    def _vote(self) -> None:
        """Soft equations: a rate constant takes the unit most of its reactions need; the
        rates with several parameters, the unit their reaction needs."""
        from degranulation.expressions import symbol

        votes: dict[str, Counter[Dim]] = {}
        rest = []
        for text, required in (
            use for reaction in self.importer.reactions for use in self.importer.uses(reaction)
        ):
            form = self.affine[text]
            target = _subtract(required, _dim(form.constant))
            if len(form.coefficients) == 1:
                ((column, weight),) = form.coefficients.items()
                name = self.engine.names[column]
                dim = (target[0] / weight, target[1] / weight)
                votes.setdefault(name, Counter())[dim] += 1
            elif form.coefficients:
                rest.append((form, required, text))
        for name, counter in votes.items():
            best = max(counter.items(), key=lambda item: (item[1], -_order_rank(item[0])))[0]
            self.engine.prefer(self.engine.form(symbol(name), name), _vector(best), name)
        for form, required, text in rest:
            self.engine.prefer(form, _vector(required), text)

    def _priority(self) -> dict[str, int]:
        """Preferred pivots first: parameters that appear in numerators, in file order."""
        numerator: set[str] = set()
        for expr in self.parsed.values():
            for factor in expr.as_ordered_factors():
                numerator |= {s.name for s in factor.free_symbols if factor.is_Symbol}
        names = list(self.importer.constants)
        return {name: (0 if name in numerator else 1) * len(names) + k for k, name in enumerate(names)}

    def dimension_of(self, text: str) -> Dim:
        return _dim(self.engine.vector_of(self.affine[text], self.solution))

    def unit_of(self, name: str) -> str:
        return unit_text(self.values.get(name, _NONE))

    def reactions(self) -> tuple[list[Reaction], list[Parameter]]:
        """The model's reactions, and the parameters the import had to add."""
        extra: dict[str, Parameter] = {}
        reactions = []
        for index, reaction in enumerate(self.importer.reactions, start=1):
            uses = self.importer.uses(reaction)
            sources = reaction.constants or (reaction.rate,)
            texts = [
                self._constant(reaction, index, source, text, required, extra)
                for source, (text, required) in zip(sources, uses, strict=True)
            ]
            if reaction.law:
                reactions.append(_saturating(index, reaction, texts))
            else:
                reactions.append(self._reaction(index, reaction, texts[0], self.parsed[uses[0][0]]))
        return reactions, list(extra.values())

    def _constant(
        self,
        reaction: _NetReaction,
        index: int,
        source: str,
        text: str,
        required: Dim,
        extra: dict[str, Parameter],
    ) -> str:
        """A rate-law constant's text in the model: a number becomes a parameter, and a constant
        used with other dimensions elsewhere gets unit factors (module docstring)."""
        expr = self.parsed[text]
        if not expr.free_symbols:  # a plain number, or an expression that folds to one
            name = self._number_parameter(source, index)
            if name in extra and extra[name].value.unit != unit_text(required):
                name = f"{name}_r{index}"  # the same number serves reactions of other orders
            extra[name] = Parameter(
                name,
                UnitValue(float(expr), unit_text(required)),
                description=f"BioNetGen rate '{reaction.rate}' (line {reaction.line.number})",
            )
            return name
        missing = _subtract(required, self.dimension_of(text))
        factors = [(AMOUNT_FACTOR, missing[0], "molecule"), (TIME_FACTOR, missing[1], "s")]
        for name, power, unit in factors:
            if power:
                extra[name] = Parameter(
                    name,
                    UnitValue(1.0, unit),
                    description=(
                        "unit factor: BioNetGen uses this rate constant for reactions of different orders"
                    ),
                )
                text = f"({text})*{name}" + ("" if power == 1 else f"**({power})")
        return text

    def _number_parameter(self, source: str, index: int) -> str:
        name = _sanitize(source) if _ID_RE.fullmatch(source.lstrip("_")) else f"bng_k{index}"
        return name if name not in self.importer.constants else f"{name}_value"

    def _reaction(self, index: int, reaction: _NetReaction, text: str, expr: sympy.Expr) -> Reaction:
        reactants = Counter(reaction.reactants)
        products = Counter(reaction.products)
        equation = f"{_side(reactants)} -> {_side(products)}"
        has_observables = any(
            not (s.name in self.importer.constants or s.name in (AMOUNT_FACTOR, TIME_FACTOR))
            for s in expr.free_symbols
        )
        if has_observables:  # a function of observables times the reactant amounts
            factors = [f"S{i}" if n == 1 else f"S{i}**{n}" for i, n in reactants.items()]
            rate = "*".join([f"({text})", *factors])
        else:
            rate = f"mass_action({text})"
        rule = reaction.line.comment.split()[0].lstrip("_") if reaction.line.comment else ""
        note = f"BioNetGen reaction {index}" + (f", rule {rule}" if rule else "")
        return Reaction(f"r{index}", equation, rate, description=note)


def _saturating(index: int, reaction: _NetReaction, constants: list[str]) -> Reaction:
    """An ``MM`` or ``Sat`` reaction with BioNetGen's rate (Network3's ``rxn_rate``).

    ``MM kcat Km``, reactants ``S, E1, …``: ``kcat·E·S_f/(Km + S_f)`` with ``E = ΣE_i`` and
    ``S_f = ½(b + sqrt(b² + 4·S·Km))``, ``b = S − Km − E``, the free substrate when enzyme and
    substrate bind at quasi-steady state. ``Sat k K1 … Kd``, reactants ``X1 … Xn``:
    ``k·Π_{i≤d} X_i/(K_i + X_i)·Π_{i>d} X_i`` (just ``k`` when there is no ``K``).
    """
    names = [f"S{i}" for i in reaction.reactants]
    wrapped = [f"({c})" for c in constants]
    if reaction.law == "MM":
        kcat, km = wrapped
        enzyme = f"({' + '.join(names[1:])})"
        b = f"({names[0]} - {km} - {enzyme})"
        free = f"(0.5*({b} + sqrt({b}**2 + 4*{names[0]}*{km})))"
        rate = f"{kcat}*{enzyme}*{free}/({km} + {free})"
    else:
        saturable = len(wrapped) - 1
        factors = [f"{x}/({k} + {x})" for x, k in zip(names, wrapped[1:], strict=False)] if saturable else []
        factors += names[saturable:] if saturable else []
        rate = "*".join([wrapped[0], *factors])
    equation = f"{_side(Counter(reaction.reactants))} -> {_side(Counter(reaction.products))}"
    rule = reaction.line.comment.split()[0].lstrip("_") if reaction.line.comment else ""
    note = f"BioNetGen reaction {index} ({reaction.law})" + (f", rule {rule}" if rule else "")
    return Reaction(f"r{index}", equation, rate, description=note)


def _call_arguments(tokens: list[tuple[str, str]], opening: int) -> tuple[int, list[list[tuple[str, str]]]]:
    """The position after the ``)`` that closes ``tokens[opening]`` and the arguments between,
    split at the commas outside inner parentheses."""
    depth = 0
    arguments: list[list[tuple[str, str]]] = [[]]
    for position in range(opening, len(tokens)):
        token = tokens[position]
        depth += {("op", "("): 1, ("op", ")"): -1}.get(token, 0)
        if depth == 0:
            return position + 1, arguments
        if position == opening:
            continue
        if depth == 1 and token == ("op", ","):
            arguments.append([])
        else:
            arguments[-1].append(token)
    return len(tokens), arguments  # unbalanced: the expression parser reports it


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _side(terms: Counter[int]) -> str:
    return " + ".join(f"S{i}" if n == 1 else f"{n} S{i}" for i, n in terms.items()) or "0"


def _names(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
