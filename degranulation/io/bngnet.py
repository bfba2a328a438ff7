"""BioNetGen ``.net`` networks → :class:`~degranulation.network.Model`, and ``.gdat`` trajectories.

A ``.net`` file is what BioNetGen's ``generate_network`` writes: parameters (numbers or
expressions of other parameters), functions, species with initial amounts, reactions with
their rate constants (statistical factors included, e.g. ``2*kp1``) and groups (observables as
weighted sums of species). The import keeps BioNetGen's semantics exactly:

- every reaction is mass action in *amounts*: ``rate = k · Π reactant amounts`` (a reactant
  listed twice is squared); a reaction whose rate is a function of observables multiplies the
  function's value by the reactant amounts the same way;
- ``$`` (fixed) species become boundary species: reactions use them but do not change them;
- derived parameters and functions are written out in the rate laws, so ``--set kp1=...``
  still changes every rate that depends on ``kp1``; species' initial expressions are evaluated.

**Units.** BioNetGen numbers carry no units. The import reads amounts as ``molecule`` and time
as ``s``, so a rate constant of a reaction with ``n`` reactants is ``molecule**(1-n)/s`` (``1/s``,
``1/(molecule*s)``, ...). Each parameter's unit is inferred from where it is used (a rate
constant of one order, a term added to an observable, a factor of a derived constant); a factor
that no use pins down is ``dimensionless``. Where one parameter serves reactions of different
orders (cBNGL folds compartment volumes into such constants), the majority use sets its unit and
the other reactions get the unit factors ``bng_molecule = 1 molecule`` and ``bng_second = 1 s``,
which leave every number as BioNetGen has it.

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
from degranulation.limits import MAX_DEPTH
from degranulation.network import Model, Observable, Parameter, Reaction, Species, UnitValue
from degranulation.units import UnitSystem

if TYPE_CHECKING:
    import numpy as np
    import sympy

_BLOCKS: Final = ("parameters", "functions", "species", "reactions", "groups")
_TOKEN_RE: Final = re.compile(
    r"(?P<space>\s+)|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>\*\*|[-+*/^(),])"
)
_ID_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: BioNetGen math functions and the name of the same function in model expressions.
_MATH: Final = {
    "exp": "exp", "ln": "log", "log10": "log10", "sqrt": "sqrt", "abs": "abs",
    "tanh": "tanh", "min": "min", "max": "max",
}  # fmt: skip
_CONSTANTS: Final = {"_pi": repr(math.pi), "_e": repr(math.e)}
#: Order in which a rate constant used by reactions of different orders takes its unit.
_ORDER_PREFERENCE: Final = {1: 0, 2: 1, 0: 2}
AMOUNT_FACTOR: Final = "bng_molecule"
TIME_FACTOR: Final = "bng_second"

Dim = tuple[Fraction, Fraction]  # exponents of (molecule, s)
_NONE: Final[Dim] = (Fraction(0), Fraction(0))


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


def read_bngnet(path: str | Path, *, id: str | None = None) -> Model:
    """Read a BioNetGen ``.net`` reaction network as a model (not yet validated).

    Parameters
    ----------
    path : str or Path
        The ``.net`` file.
    id : str, optional
        Model id; by default the file name (``toy-jim.net`` → ``toy_jim``).

    Returns
    -------
    Model
        Species ``S1…Sn`` in amounts (``molecule``), time in ``s``, BioNetGen's groups as
        observables, parameters with units inferred from their use (module docstring).

    Raises
    ------
    ModelFileError
        For a line that cannot be read, with its line number.
    UnsupportedFeatureError
        For BioNetGen features with no equivalent here (functions with arguments, ``if``,
        comparisons), naming each.

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
    return loads_bngnet(text, file=str(path), id=id or _sanitize(path.stem.replace("-", "_")))


def loads_bngnet(text: str, *, file: str | None = None, id: str = "bionetgen_network") -> Model:
    """Read a model from ``.net`` text (see :func:`read_bngnet`)."""
    blocks = _split_blocks(text, file)
    return _Importer(blocks, file, id).model()


def read_gdat(path: str | Path) -> dict[str, np.ndarray]:
    """Read a BioNetGen ``.gdat``/``.cdat`` trajectory: ``{"time": ..., observable: ...}``.

    Examples
    --------
    >>> from degranulation.io.bngnet import read_gdat
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
        elif current is None and re.fullmatch(r"setOption\(.*\)", line):
            continue  # BioNetGen's own output options (e.g. species labels); nothing to import
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

    def __init__(self, blocks: dict[str, list[_Line]], file: str | None, model_id: str) -> None:
        self.file = file
        self.model_id = model_id
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
        return _NetReaction(
            line=line,
            reactants=self._indices(line, line.fields[1]),
            products=self._indices(line, line.fields[2]),
            rate="".join(line.fields[3:]),
        )

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
        tokens = list(self._tokens(text, line))
        out: list[str] = []
        position = 0
        while position < len(tokens):
            kind, value = tokens[position]
            position += 1
            if kind != "name":
                out.append("**" if value == "^" else value)
                continue
            is_call = position < len(tokens) and tokens[position] == ("op", "(")
            if is_call:
                closes = position + 1 < len(tokens) and tokens[position + 1] == ("op", ")")
                if value in self.functions and closes:
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
        result = "".join(out)
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

    def _tokens(self, text: str, line: _Line) -> Iterator[tuple[str, str]]:
        position = 0
        while position < len(text):
            match = _TOKEN_RE.match(text, position)
            if match is None:
                raise UnsupportedFeatureError(
                    f"line {line.number}: '{text[position:]}' in '{text}' is not supported "
                    "(comparisons, logic and if() have no equivalent here)",
                    features=["conditional expressions"],
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
        observables = [
            Observable(
                _sanitize(line.fields[1]),
                self.groups[line.fields[1]],
                "molecule",
                description=f"BioNetGen group {line.fields[1]}",
            )
            for line in self.group_lines
        ]
        return Model(
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
        )

    def _rate_texts(self) -> set[str]:
        return {self.translate(reaction.rate, reaction.line) for reaction in self.reactions}

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
                    boundary=text.startswith("$"),
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
    by the SBML importer's engine (:class:`degranulation.io._sbml_units.UnitInference`)."""

    def __init__(self, importer: _Importer, parsed: dict[str, sympy.Expr]) -> None:
        from degranulation.io._sbml_units import Unit, UnitInference, UnitProblem

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
        try:
            solution = self.engine.solve()
        except UnitProblem:
            raise UnsupportedFeatureError(
                "BioNetGen expressions add or compare quantities of different dimensions",
                features=["inconsistent units"],
                file=self.importer.file,
            ) from None
        self.solution = solution
        self.values = {name: _dim(vector) for name, vector in solution.items()}

    def _required(self, reaction: _NetReaction) -> Dim:
        return Fraction(1 - len(reaction.reactants)), Fraction(-1)

    def _vote(self) -> None:
        """Soft equations: a rate constant takes the unit most of its reactions need; the
        rates with several parameters, the unit their reaction needs."""
        from degranulation.expressions import symbol

        votes: dict[str, Counter[Dim]] = {}
        rest = []
        for reaction in self.importer.reactions:
            text = self._text(reaction)
            form = self.affine[text]
            target = _subtract(self._required(reaction), _dim(form.constant))
            if len(form.coefficients) == 1:
                ((column, weight),) = form.coefficients.items()
                name = self.engine.names[column]
                dim = (target[0] / weight, target[1] / weight)
                votes.setdefault(name, Counter())[dim] += 1
            elif form.coefficients:
                rest.append((form, self._required(reaction), text))
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

    def _text(self, reaction: _NetReaction) -> str:
        return self.importer.translate(reaction.rate, reaction.line)

    def dimension_of(self, text: str) -> Dim:
        return _dim(self.engine.vector_of(self.affine[text], self.solution))

    def unit_of(self, name: str) -> str:
        return unit_text(self.values.get(name, _NONE))

    def reactions(self) -> tuple[list[Reaction], list[Parameter]]:
        """The model's reactions, and the parameters the import had to add."""
        extra: dict[str, Parameter] = {}
        reactions = []
        for index, reaction in enumerate(self.importer.reactions, start=1):
            text = self._text(reaction)
            required = self._required(reaction)
            expr = self.parsed[text]
            if not expr.free_symbols:  # a plain number, or an expression that folds to one
                name = self._number_parameter(reaction, index)
                if name in extra and extra[name].value.unit != unit_text(required):
                    name = f"{name}_r{index}"  # the same number serves reactions of other orders
                extra[name] = Parameter(
                    name,
                    UnitValue(float(expr), unit_text(required)),
                    description=f"BioNetGen rate '{reaction.rate}' (line {reaction.line.number})",
                )
                text = name
            else:
                missing = _subtract(required, self.dimension_of(text))
                factors = [(AMOUNT_FACTOR, missing[0], "molecule"), (TIME_FACTOR, missing[1], "s")]
                for name, power, unit in factors:
                    if power:
                        extra[name] = Parameter(
                            name,
                            UnitValue(1.0, unit),
                            description=(
                                "unit factor: BioNetGen uses this rate constant for reactions of "
                                "different orders"
                            ),
                        )
                        text = f"({text})*{name}" + ("" if power == 1 else f"**({power})")
            reactions.append(self._reaction(index, reaction, text, expr))
        return reactions, list(extra.values())

    def _number_parameter(self, reaction: _NetReaction, index: int) -> str:
        name = _sanitize(reaction.rate) if _ID_RE.fullmatch(reaction.rate.lstrip("_")) else f"bng_k{index}"
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


def _dim(vector: np.ndarray) -> Dim:
    """Exponents of (molecule, s) of a unit vector (see :mod:`degranulation.io._sbml_units`)."""
    return _exponent(vector[1]), _exponent(vector[3])  # [substance] and [time]


def _exponent(value: float) -> Fraction:
    return Fraction(float(value)).limit_denominator(1000)


def _vector(dim: Dim) -> np.ndarray:
    from degranulation.io._sbml_units import Unit

    return float(dim[0]) * Unit(1.0, "molecule").vector() + float(dim[1]) * Unit(1.0, "s").vector()


def unit_text(dim: Dim) -> str:
    """Unit text for exponents of (molecule, s), e.g. ``(-1, -1)`` → ``'1/(molecule*s)'``.

    Examples
    --------
    >>> from fractions import Fraction
    >>> from degranulation.io.bngnet import unit_text
    >>> unit_text((Fraction(-1), Fraction(-1))), unit_text((Fraction(1), Fraction(0)))
    ('1/(molecule*s)', 'molecule')
    """
    up: list[str] = []
    down: list[str] = []
    for name, power in zip(("molecule", "s"), dim, strict=True):
        if power:
            text = name if abs(power) == 1 else f"{name}**{_power_text(abs(power))}"
            (up if power > 0 else down).append(text)
    if not up and not down:
        return "dimensionless"
    numerator = "*".join(up) or "1"
    if not down:
        return numerator
    denominator = down[0] if len(down) == 1 else f"({'*'.join(down)})"
    return f"{numerator}/{denominator}"


def _power_text(power: Fraction) -> str:
    return str(power.numerator) if power.denominator == 1 else f"({power.numerator}/{power.denominator})"


def _order_rank(dim: Dim) -> int:
    return _ORDER_PREFERENCE.get(int(1 - dim[0]) if dim[0].denominator == 1 else -1, 3)


def _subtract(a: Dim, b: Dim) -> Dim:
    return a[0] - b[0], a[1] - b[1]


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
