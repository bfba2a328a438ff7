"""SBML math for :mod:`degranulation.formats.sbml`: libsbml ``ASTNode`` → expression text (read back
through :func:`degranulation.expressions.parse_expression`, never evaluated), and SymPy →
``ASTNode`` for writing.

Only what expression text can say is translated: arithmetic, powers, ``exp``, ``ln``,
``log`` (base 10 or any base), ``root``, ``abs``, ``min``, ``max``, ``floor``, ``ceiling``,
the trigonometric and hyperbolic functions and their inverses (``arcsin`` ↔ ``asin`` …),
``piecewise`` whose conditions are relations (``lt leq gt geq eq neq``), ``and``, ``or``,
``not``, ``xor`` and ``implies`` (written with ``and or not``), ``true`` and ``false``, a
piecewise of conditions used as a condition (written with ``and or not``), ``time``,
``avogadro``, π and e, and ``factorial`` of a constant (its number, computed here). SBML's
boolean/numeric interchange is written out first (:func:`with_booleans_swapped`). Anything
else (``delay``, ``rateOf``, ``factorial`` of a value that changes …) raises
:class:`MathFeature`, which the reader collects into one
:class:`~degranulation.errors.UnsupportedFeatureError`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import sympy

from degranulation.errors import ExpressionError
from degranulation.expressions import FUNCTIONS, TIME_NAME, parse_expression
from degranulation.limits import MAX_EXPRESSION_NODES, MAX_MATHML_DEPTH

#: SBML functions of one argument (``AST_FUNCTION_<key>``) and their expression-text names.
_ONE_ARGUMENT: Final = {
    "EXP": "exp", "LN": "log", "ABS": "abs", "FLOOR": "floor", "CEILING": "ceil",
    "SIN": "sin", "COS": "cos", "TAN": "tan", "SEC": "sec", "CSC": "csc", "COT": "cot",
    "SINH": "sinh", "COSH": "cosh", "TANH": "tanh", "SECH": "sech", "CSCH": "csch", "COTH": "coth",
    "ARCSIN": "asin", "ARCCOS": "acos", "ARCTAN": "atan",
    "ARCSEC": "asec", "ARCCSC": "acsc", "ARCCOT": "acot",
    "ARCSINH": "asinh", "ARCCOSH": "acosh", "ARCTANH": "atanh",
    "ARCSECH": "asech", "ARCCSCH": "acsch", "ARCCOTH": "acoth",
}  # fmt: skip
#: SBML relations (``AST_RELATIONAL_<key>``) and their Python operators.
_RELATIONS: Final = {"LT": "<", "LEQ": "<=", "GT": ">", "GEQ": ">=", "EQ": "==", "NEQ": "!="}


class MathFeature(Exception):
    """Math that expression text cannot hold (internal; collected by the reader)."""


def ast_to_text(
    node: Any,
    names: Mapping[str, str],
    values: Mapping[str, str],
    number: Callable[[str, float, bool], str] | None = None,
    *,
    condition: bool = False,
) -> str:
    """Expression text for SBML math (a condition, such as an event's trigger, if ``condition``).

    Parameters
    ----------
    node : libsbml.ASTNode
    names : mapping
        SBML id → model id for every name the math may use.
    values : mapping
        SBML id → text that replaces it (a species reference's stoichiometry, an inlined
        assignment rule), parenthesised where used.
    number : callable, optional
        ``number(text, value, is_scale)`` gives the text written for each number outside
        exponents, and (``number("1", 1.0, True)``) for a factor put before every argument
        that must be a bare number (of ``exp``, ``ln``, ``log``, ``tanh``, and base and
        exponent of a non-numeric power, argument of the other functions but ``abs``). The
        reader uses these to let numbers carry the units SBML leaves implicit.

    Raises
    ------
    MathFeature
        Naming the first construct that cannot be translated.
    """
    return _text(node, names, values, number, condition)[0]


# Precedence of what a piece of text is, for adding only the parentheses Python needs.
_OR, _AND, _NOT, _COMPARE, _SUM, _PRODUCT, _UNARY, _POWER, _ATOM = range(-3, 6)


def _text(
    node: Any,
    names: Mapping[str, str],
    values: Mapping[str, str],
    number: Callable[[str, float, bool], str] | None,
    condition: bool = False,
) -> tuple[str, int]:
    import libsbml

    kind = node.getType()
    children = [node.getChild(i) for i in range(node.getNumChildren())]
    if kind in _conditions():
        if not condition:
            raise MathFeature(f"'{node.getName()}' used as a number in math")
        return _condition(node, kind, [_text(c, names, values, number, kind in _logic()) for c in children])
    if condition and kind == libsbml.AST_FUNCTION_PIECEWISE and children:
        return _piecewise_condition([_text(c, names, values, number, True) for c in children])
    if condition:
        raise MathFeature(f"'{libsbml.formulaToL3String(node)}' used as a condition in math")
    if kind == libsbml.AST_FUNCTION_PIECEWISE and children:
        # value1, condition1, value2, condition2, ..., [otherwise]
        pieces = [_text(c, names, values, number, i % 2 == 1) for i, c in enumerate(children)]
        if len(pieces) == 1:
            return pieces[0]
        return f"piecewise({', '.join(text for text, _ in pieces)})", _ATOM
    if node.isNumber():
        text, value = _number(node)
        return (text if number is None else number(text, value, False)), _ATOM
    if kind == libsbml.AST_NAME:
        name = node.getName()
        if name in values:
            return f"({values[name]})", _ATOM
        if name in names:
            return names[name], _ATOM
        raise MathFeature(f"'{name}' used as a value in math")
    constants = {
        libsbml.AST_NAME_TIME: TIME_NAME,
        libsbml.AST_CONSTANT_E: repr(math.e),
        libsbml.AST_CONSTANT_PI: repr(math.pi),
    }
    if kind in constants:
        return constants[kind], _ATOM
    if kind == libsbml.AST_NAME_AVOGADRO:
        return repr(float(node.getReal())), _ATOM
    if kind == libsbml.AST_FUNCTION_FACTORIAL and len(children) == 1:
        text, value = _factorial(node, children[0])
        return (text if number is None else number(text, value, False)), _ATOM
    if kind not in _operations():
        name = node.getName() or libsbml.formulaToL3String(node)
        if kind == libsbml.AST_FUNCTION:
            raise MathFeature(f"call of undefined function '{name}'")
        raise MathFeature(f"'{name}' in math")
    # Exponents, root degrees and log bases stay plain numbers: they have no unit.
    plain = (
        {
            libsbml.AST_POWER: 1,
            libsbml.AST_FUNCTION_POWER: 1,
            libsbml.AST_FUNCTION_ROOT: 0,
            libsbml.AST_FUNCTION_LOG: 0,
        }.get(kind)
        if len(children) == 2
        else None
    )
    args = [_text(child, names, values, None if i == plain else number) for i, child in enumerate(children)]
    if number is not None:
        bare = _bare_arguments(kind, children)
        args = [
            (f"{number('1', 1.0, True)}*{_wrap(*a, _PRODUCT)}", _PRODUCT) if i in bare else a
            for i, a in enumerate(args)
        ]
    return _operation(node, kind, args)


def _factorial(node: Any, argument: Any) -> tuple[str, float]:
    """``factorial(n)`` of a constant ``n`` as its number, Γ(n + 1), computed here: expression
    text has no factorial (nor Γ), so one of a value that changes is refused."""
    import libsbml

    if _uses_a_name(argument):
        raise MathFeature(f"'{libsbml.formulaToL3String(node)}' in math")
    try:
        n = float(parse_expression(_text(argument, {}, {}, None)[0]).expr)
        value = float(math.factorial(int(n))) if n.is_integer() and n >= 0 else math.gamma(n + 1)
    except (ExpressionError, TypeError, ValueError, OverflowError):  # a pole, or too large
        raise MathFeature(f"'{libsbml.formulaToL3String(node)}' in math (no finite value)") from None
    if not math.isfinite(value):
        raise MathFeature(f"'{libsbml.formulaToL3String(node)}' in math (no finite value)")
    return (repr(value) if value >= 0 else f"({value!r})"), value


def with_booleans_swapped(node: Any, condition: bool = False) -> tuple[Any, bool]:
    """SBML's boolean/numeric interchange written out: a copy of math ``node`` in which a
    condition used as a number is ``piecewise(1, c, 0)`` and a number used as a condition is
    ``neq(x, 0)`` (``condition``: whether the whole is used as a condition, as a trigger is).

    libsbml's own evaluation of initial assignments gets such math wrong (``(8 > 5) == true``
    is 0 there), and expression text keeps numbers and conditions apart. Returns the copy and
    whether anything changed.
    """
    root = node.deepCopy()
    wrap, changed = _swap_booleans(root, condition)
    return (_as(root, condition) if wrap else root), changed or wrap


def _swap_booleans(node: Any, condition: bool) -> tuple[bool, bool]:
    """Rewrite ``node``'s arguments in place; return (whether ``node`` itself must be wrapped
    for its context, whether anything below changed)."""
    import libsbml

    kind = node.getType()
    changed = False
    for i in range(node.getNumChildren()):
        if kind in _logic():
            inner = True
        elif kind == libsbml.AST_FUNCTION_PIECEWISE:  # value, condition, ..., [otherwise]
            inner = i % 2 == 1 or condition
        else:
            inner = False
        child = node.getChild(i)
        wrap, below = _swap_booleans(child, inner)
        if wrap:
            node.replaceChild(i, _as(child.deepCopy(), inner), True)
        changed = changed or wrap or below
    is_condition = kind in _conditions()
    return kind != libsbml.AST_FUNCTION_PIECEWISE and is_condition != condition, changed


def _as(node: Any, condition: bool) -> Any:
    """``neq(node, 0)`` (a number as a condition) or ``piecewise(1, node, 0)`` (a condition as a number)."""
    import libsbml

    def integer(value: int) -> Any:
        number = libsbml.ASTNode(libsbml.AST_INTEGER)
        number.setValue(value)
        return number

    if condition:
        wrapper = libsbml.ASTNode(libsbml.AST_RELATIONAL_NEQ)
        children = [node, integer(0)]
    else:
        wrapper = libsbml.ASTNode(libsbml.AST_FUNCTION_PIECEWISE)
        children = [integer(1), node, integer(0)]
    for child in children:
        wrapper.addChild(child)
    return wrapper


def _wrap(text: str, precedence: int, needed: int) -> str:
    return text if precedence >= needed else f"({text})"


def _condition(node: Any, kind: int, args: list[tuple[str, int]]) -> tuple[str, int]:
    import libsbml

    name = node.getName()
    if kind in (libsbml.AST_CONSTANT_TRUE, libsbml.AST_CONSTANT_FALSE):
        return ("True" if kind == libsbml.AST_CONSTANT_TRUE else "False"), _ATOM
    if kind == libsbml.AST_LOGICAL_NOT and len(args) == 1:
        return f"not {_wrap(*args[0], _NOT)}", _NOT
    if kind in (libsbml.AST_LOGICAL_AND, libsbml.AST_LOGICAL_OR) and args:
        if len(args) == 1:
            return args[0]
        if kind == libsbml.AST_LOGICAL_AND:
            return " and ".join(_wrap(*a, _NOT) for a in args), _AND
        return " or ".join(_wrap(*a, _AND) for a in args), _OR
    if kind == libsbml.AST_LOGICAL_XOR and args:  # an odd number hold: pairwise from the left
        return functools.reduce(_xor, args)
    if kind == libsbml.AST_LOGICAL_IMPLIES and len(args) == 2:
        return f"not {_wrap(*args[0], _NOT)} or {_wrap(*args[1], _AND)}", _OR
    operator = _conditions()[kind]
    if operator and len(args) >= 2 and (operator != "!=" or len(args) == 2):
        return f" {operator} ".join(_wrap(*a, _SUM) for a in args), _COMPARE  # n-ary: a chain
    raise MathFeature(f"'{name}' with {len(args)} arguments in math")


def _piecewise_condition(args: list[tuple[str, int]]) -> tuple[str, int]:
    """A piecewise whose values are conditions, as one condition: ``piecewise(v1, c1, rest)``
    is ``c1 and v1 or not c1 and rest``; without an otherwise the last rest is false."""
    result = args[-1] if len(args) % 2 else ("False", _ATOM)
    for i in reversed(range(0, len(args) - 1, 2)):
        value, test = _wrap(*args[i], _NOT), _wrap(*args[i + 1], _NOT)
        result = f"{test} and {value} or not {test} and {_wrap(*result, _AND)}", _OR
    return result


def _xor(a: tuple[str, int], b: tuple[str, int]) -> tuple[str, int]:
    first, second = _wrap(*a, _NOT), _wrap(*b, _NOT)
    return f"{first} and not {second} or not {first} and {second}", _OR


@functools.cache
def _conditions() -> dict[int, str]:
    """Math node kinds that are true or false (relations: their Python operator)."""
    import libsbml

    relations = {getattr(libsbml, f"AST_RELATIONAL_{key}"): op for key, op in _RELATIONS.items()}
    constants = dict.fromkeys((libsbml.AST_CONSTANT_TRUE, libsbml.AST_CONSTANT_FALSE), "")
    return relations | constants | _logic()


@functools.cache
def _logic() -> dict[int, str]:
    """Logical operators: their arguments are conditions too."""
    import libsbml

    kinds = (
        libsbml.AST_LOGICAL_AND,
        libsbml.AST_LOGICAL_OR,
        libsbml.AST_LOGICAL_NOT,
        libsbml.AST_LOGICAL_XOR,
        libsbml.AST_LOGICAL_IMPLIES,
    )
    return dict.fromkeys(kinds, "")


def _bare_arguments(kind: int, children: list[Any]) -> set[int]:
    """Which arguments SBML evaluates as bare numbers (our expressions need them dimensionless)."""
    import libsbml

    if _operations().get(kind, "") not in ("", "abs"):
        return {0}
    if kind == libsbml.AST_FUNCTION_LOG:
        return {len(children) - 1}
    if kind in (libsbml.AST_POWER, libsbml.AST_FUNCTION_POWER) and _uses_a_name(children[1]):
        return {0, 1}
    if kind == libsbml.AST_FUNCTION_ROOT and len(children) == 2 and _uses_a_name(children[0]):
        return {0, 1}
    return set()


def names_in(node: Any) -> set[str]:
    """The ids (``AST_NAME`` nodes) that libsbml math ``node`` uses; none for ``None``."""
    import libsbml

    if node is None:
        return set()
    found = {node.getName()} if node.getType() == libsbml.AST_NAME else set()
    for i in range(node.getNumChildren()):
        found |= names_in(node.getChild(i))
    return found


def _uses_a_name(node: Any) -> bool:
    """Whether math uses any name (time included), i.e. is not a plain number."""
    if node.isName():
        return True
    return any(_uses_a_name(node.getChild(i)) for i in range(node.getNumChildren()))


def _operation(node: Any, kind: int, args: list[tuple[str, int]]) -> tuple[str, int]:
    import libsbml

    plain = [text for text, _ in args]
    if kind == libsbml.AST_PLUS and args:
        terms = [plain[0]] + [
            f"- {text[1:]}" if precedence == _UNARY else f"+ {text}" for text, precedence in args[1:]
        ]
        return " ".join(terms), _SUM
    if kind == libsbml.AST_PLUS:
        return "0", _ATOM
    if kind == libsbml.AST_TIMES:
        return ("*".join(_wrap(*a, _PRODUCT) for a in args), _PRODUCT) if args else ("1", _ATOM)
    if kind == libsbml.AST_MINUS and len(args) == 1:
        return f"-{_wrap(*args[0], _PRODUCT)}", _UNARY
    if kind == libsbml.AST_MINUS:
        return f"{plain[0]} - {_wrap(*args[1], _PRODUCT)}", _SUM
    if (
        kind == libsbml.AST_DIVIDE
        and len(args) == 2
        and node.getChild(1).isNumber()
        and not _number(node.getChild(1))[1]
    ):
        raise MathFeature(f"division by zero in '{libsbml.formulaToL3String(node)}'")
    if kind == libsbml.AST_DIVIDE:
        return f"{_wrap(*args[0], _PRODUCT)}/{_wrap(*args[1], _UNARY)}", _PRODUCT
    if kind in (libsbml.AST_POWER, libsbml.AST_FUNCTION_POWER):
        return f"{_wrap(*args[0], _ATOM)}**{_wrap(*args[1], _UNARY)}", _POWER
    if kind == libsbml.AST_FUNCTION_LOG:
        if len(args) == 1 or plain[0] in ("10", "10.0"):
            return f"log10({plain[-1]})", _ATOM
        return f"log({plain[1]})/log({plain[0]})", _PRODUCT
    if kind == libsbml.AST_FUNCTION_ROOT:
        if len(args) == 1 or plain[0] in ("2", "2.0"):
            return f"sqrt({plain[-1]})", _ATOM
        return f"{_wrap(*args[1], _ATOM)}**(1/{_wrap(*args[0], _UNARY)})", _POWER
    if kind in (libsbml.AST_FUNCTION_MAX, libsbml.AST_FUNCTION_MIN) and args:
        name = "max" if kind == libsbml.AST_FUNCTION_MAX else "min"
        return args[0] if len(args) == 1 else (f"{name}({', '.join(plain)})", _ATOM)
    if len(args) != 1:
        raise MathFeature(f"'{node.getName()}' with {len(args)} arguments in math")
    return f"{_operations()[kind]}({plain[0]})", _ATOM


@functools.cache
def _operations() -> dict[int, str]:
    """The math node kinds expression text can hold (one-argument functions: their name)."""
    import libsbml

    kinds = (
        libsbml.AST_PLUS,
        libsbml.AST_MINUS,
        libsbml.AST_TIMES,
        libsbml.AST_DIVIDE,
        libsbml.AST_POWER,
        libsbml.AST_FUNCTION_POWER,
        libsbml.AST_FUNCTION_LOG,
        libsbml.AST_FUNCTION_ROOT,
        libsbml.AST_FUNCTION_MAX,
        libsbml.AST_FUNCTION_MIN,
    )
    functions = {getattr(libsbml, f"AST_FUNCTION_{key}"): name for key, name in _ONE_ARGUMENT.items()}
    return dict.fromkeys(kinds, "") | functions


def _number(node: Any) -> tuple[str, float]:
    import libsbml

    units = node.getUnits() if node.isSetUnits() else ""
    if units not in ("", "dimensionless"):
        raise MathFeature(f"a number with units ('{units}')")
    if node.getType() == libsbml.AST_INTEGER:
        value: float = node.getInteger()
        text = str(value)
    elif node.getType() == libsbml.AST_RATIONAL:
        if node.getDenominator() == 0:
            raise MathFeature(f"the rational number {node.getNumerator()}/0 (division by zero)")
        value = node.getNumerator() / node.getDenominator()
        text = f"{node.getNumerator()}/{node.getDenominator()}"
    else:
        value = float(node.getReal())
        text = repr(value)
    if not math.isfinite(value):
        raise MathFeature(f"the number {value}")
    return (text if value >= 0 and "/" not in text else f"({text})"), value


def sympy_to_ast(expr: sympy.Expr) -> Any:
    """A libsbml ``ASTNode`` for a SymPy expression built by
    :func:`~degranulation.expressions.parse_expression` (names become SBML ids)."""
    import libsbml

    if isinstance(expr, sympy.Symbol):
        if expr.name == TIME_NAME:
            node = libsbml.ASTNode(libsbml.AST_NAME_TIME)
            node.setName("time")
            return node
        node = libsbml.ASTNode(libsbml.AST_NAME)
        node.setName(expr.name)
        return node
    if isinstance(expr, sympy.Integer):
        node = libsbml.ASTNode(libsbml.AST_INTEGER)
        node.setValue(int(expr))
        return node
    if isinstance(expr, sympy.Rational):
        node = libsbml.ASTNode(libsbml.AST_RATIONAL)
        node.setValue(int(expr.p), int(expr.q))
        return node
    if expr is sympy.E:
        return libsbml.ASTNode(libsbml.AST_CONSTANT_E)
    if expr is sympy.pi:
        return libsbml.ASTNode(libsbml.AST_CONSTANT_PI)
    if isinstance(expr, sympy.Float):
        node = libsbml.ASTNode(libsbml.AST_REAL)
        node.setValue(float(expr))
        return node
    if isinstance(expr, sympy.Mul):
        numerator, denominator = sympy.fraction(expr)
        if denominator != 1:
            return ast_node(libsbml.AST_DIVIDE, sympy_to_ast(numerator), sympy_to_ast(denominator))
        if expr.args[0].is_Number and expr.args[0] < 0:
            return ast_node(libsbml.AST_MINUS, sympy_to_ast(-expr))
    if isinstance(expr, sympy.Piecewise):  # a last piece under True is SBML's otherwise
        pieces = [(value, None if condition is sympy.true else condition) for value, condition in expr.args]
        children = [sympy_to_ast(part) for piece in pieces for part in piece if part is not None]
        return ast_node(libsbml.AST_FUNCTION_PIECEWISE, *children)
    kind = _sympy_kinds().get(type(expr))
    if kind is None:
        raise MathFeature(f"'{type(expr).__name__}' has no SBML form here")
    return ast_node(kind, *(sympy_to_ast(arg) for arg in expr.args))


@functools.cache
def _sympy_kinds() -> dict[type, int]:
    """SymPy classes with an SBML math node of the same meaning."""
    import libsbml

    functions = {FUNCTIONS[name][2]: kind for kind, name in _operations().items() if name}
    relations = {
        sympy.StrictLessThan: "LT", sympy.LessThan: "LEQ", sympy.StrictGreaterThan: "GT",
        sympy.GreaterThan: "GEQ", sympy.Equality: "EQ", sympy.Unequality: "NEQ",
    }  # fmt: skip
    return {
        **functions,
        **{cls: getattr(libsbml, f"AST_RELATIONAL_{key}") for cls, key in relations.items()},
        sympy.Add: libsbml.AST_PLUS,
        sympy.Mul: libsbml.AST_TIMES,
        sympy.Pow: libsbml.AST_POWER,
        sympy.Min: libsbml.AST_FUNCTION_MIN,
        sympy.Max: libsbml.AST_FUNCTION_MAX,
        sympy.And: libsbml.AST_LOGICAL_AND,
        sympy.Or: libsbml.AST_LOGICAL_OR,
        sympy.Not: libsbml.AST_LOGICAL_NOT,
        type(sympy.true): libsbml.AST_CONSTANT_TRUE,
        type(sympy.false): libsbml.AST_CONSTANT_FALSE,
    }


def ast_node(kind: int, *children: Any) -> Any:
    """A libsbml ``ASTNode`` of ``kind`` with ``children``."""
    import libsbml

    node = libsbml.ASTNode(kind)
    for child in children:
        node.addChild(child)
    return node


def check_math(model: Any, file: str) -> None:
    """Refuse math that is nested too deeply, function definitions that call each other in a
    cycle, and math that inlining function definitions would grow beyond
    :data:`~degranulation.limits.MAX_EXPRESSION_NODES` (ModelFileError, with the line).

    Everything here walks the math with an explicit stack and measures inlining without doing
    it: libsbml's own expansion recurses without end on a cycle (a crash) and grows
    exponentially on nested definitions.
    """
    import graphlib

    from degranulation.errors import ModelFileError

    definitions = {f.getId(): f for f in model.getListOfFunctionDefinitions()}
    calls = {name: _called(f.getBody(), definitions, f, file) for name, f in definitions.items()}
    try:
        order = list(graphlib.TopologicalSorter(calls).static_order())
    except graphlib.CycleError as exc:
        cycle = [str(name) for name in exc.args[1]]
        first = definitions[cycle[0]]
        raise ModelFileError(
            f"function definitions call each other in a cycle: {' -> '.join(cycle)}",
            file=file,
            location=_where(first),
            hint="a function definition may only call functions that do not call it back",
        ) from None
    measured: dict[str, _Size] = {}
    for name in order:
        if name in definitions:
            function = definitions[name]
            params = [function.getArgument(i).getName() for i in range(function.getNumArguments())]
            measured[name] = _measure(function.getBody(), params, measured, function, file)
    for element in _math_elements(model):
        if element is None or not element.isSetMath():
            continue
        if measured:
            _measure(element.getMath(), [], measured, element, file)
        else:  # nothing to inline: only the nesting matters
            for _ in _nodes(element.getMath(), element, file):
                pass


def _math_elements(model: Any) -> Iterator[Any]:
    """Every element with math but function definitions (libsbml's ``getListOfAllElements``
    takes seconds on a network of thousands of reactions)."""
    for reaction in model.getListOfReactions():
        yield reaction.getKineticLaw()
        if model.getLevel() < 3:
            for reference in (*reaction.getListOfReactants(), *reaction.getListOfProducts()):
                yield reference.getStoichiometryMath()
    yield from model.getListOfRules()
    yield from model.getListOfInitialAssignments()
    yield from model.getListOfConstraints()
    for event in model.getListOfEvents():
        yield from (event.getTrigger(), event.getDelay(), event.getPriority())
        yield from event.getListOfEventAssignments()


@dataclass(frozen=True)
class _Size:
    """What a piece of math becomes once inlined: ``nodes``, nesting ``depth``, and how
    often each parameter of the enclosing function definition occurs in it (``uses``)."""

    nodes: int
    depth: int
    uses: tuple[int, ...]


def _called(body: Any, definitions: Mapping[str, Any], element: Any, file: str) -> set[str]:
    """The function definitions that ``body`` calls (walked with a stack, depth-limited)."""
    import libsbml

    found: set[str] = set()
    for node in _nodes(body, element, file):
        if node.getType() == libsbml.AST_FUNCTION and node.getName() in definitions:
            found.add(node.getName())
    return found


def _nodes(root: Any, element: Any, file: str) -> Iterator[Any]:
    if root is None:
        return
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_MATHML_DEPTH:
            raise _too_deep(element, file)
        yield node
        stack.extend((node.getChild(i), depth + 1) for i in range(node.getNumChildren()))


def _measure(root: Any, params: list[str], functions: Mapping[str, _Size], element: Any, file: str) -> _Size:
    """The size of ``root`` once every call of a function definition is inlined, computed
    bottom-up (post-order, with a stack) without inlining anything."""
    import libsbml

    from degranulation.errors import ModelFileError

    if root is None:
        return _Size(0, 0, (0,) * len(params))
    cap = MAX_EXPRESSION_NODES + 1
    stack: list[tuple[Any, list[_Size]]] = [(root, [])]
    while True:
        node, done = stack[-1]
        if len(done) < node.getNumChildren():
            if len(stack) >= MAX_MATHML_DEPTH:
                raise _too_deep(element, file)
            stack.append((node.getChild(len(done)), []))
            continue
        stack.pop()
        name = node.getName() if node.getType() in (libsbml.AST_NAME, libsbml.AST_FUNCTION) else None
        if node.getType() == libsbml.AST_FUNCTION and name is not None and name in functions:
            called = functions[name]
            nodes = called.nodes + sum(u * (a.nodes - 1) for u, a in zip(called.uses, done, strict=False))
            depth = called.depth + max((a.depth for a in done), default=0)
            uses = tuple(
                sum(u * a.uses[j] for u, a in zip(called.uses, done, strict=False))
                for j in range(len(params))
            )
        else:
            nodes = 1 + sum(a.nodes for a in done)
            depth = 1 + max((a.depth for a in done), default=0)
            uses = tuple(
                int(node.getType() == libsbml.AST_NAME and name == p) + sum(a.uses[j] for a in done)
                for j, p in enumerate(params)
            )
        size = _Size(min(nodes, cap), depth, tuple(min(u, cap) for u in uses))
        if size.nodes > MAX_EXPRESSION_NODES or size.depth > MAX_MATHML_DEPTH:
            what = (
                f"more than {MAX_EXPRESSION_NODES} nodes"
                if size.nodes > MAX_EXPRESSION_NODES
                else (f"more than {MAX_MATHML_DEPTH} levels deep")
            )
            raise ModelFileError(
                f"math grows to {what} once its function definitions are inlined",
                file=file,
                location=_where(element),
                hint="function definitions that call others several times grow exponentially; "
                "define the intermediate values as parameters or assignment rules",
            )
        if not stack:
            return size
        stack[-1][1].append(size)


def _too_deep(element: Any, file: str) -> Exception:
    from degranulation.errors import ModelFileError

    return ModelFileError(
        f"math is nested more than {MAX_MATHML_DEPTH} levels deep",
        file=file,
        location=_where(element),
        hint="simplify the expression (the limit is degranulation.limits.MAX_MATHML_DEPTH)",
    )


def _where(element: Any) -> str:
    """``line 12: kineticLaw of reaction 'r1'``: where an SBML element is."""
    described = element.getElementName()
    owner = element
    while owner is not None and not (owner.isSetId() and owner.getId()):
        owner = owner.getParentSBMLObject()
    if owner is not None and owner is not element:
        described = f"{described} of {owner.getElementName()} '{owner.getId()}'"
    elif owner is not None:
        described = f"{described} '{owner.getId()}'"
    return f"line {element.getLine()}: {described}"
