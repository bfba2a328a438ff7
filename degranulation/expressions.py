"""The only place text becomes math: an ``ast`` whitelist that builds SymPy expressions.

Allowed: numbers, names, ``+ - * / **``, unary signs, parentheses and calls of the known
functions (:data:`FUNCTIONS`: ``exp log log10 sqrt abs min max floor ceil``, the
trigonometric ``sin cos tan sec csc cot``, hyperbolic ``sinh cosh tanh sech csch coth`` and
their inverses ``asin … acot``, ``asinh … acoth``) with positional arguments, and
``piecewise(value1, condition1, value2, condition2, ..., otherwise)``: the value of the
first condition that holds, else ``otherwise`` (without it, such a value is undefined: NaN,
and the solver stops). Conditions, and only conditions, are comparisons ``< <= > >= == !=``
(chains such as ``a < b < c`` too), ``True``, ``False``, joined by ``and``, ``or``, ``not``.
Anything else (attribute access, subscripts, strings, lambdas, comprehensions, keyword
arguments, unknown calls, a comparison used as a number) raises
:class:`~degranulation.errors.ExpressionError` with its column, and nothing is executed.
Numeric sub-expressions are folded here in floating point, so ``10**10**10`` fails at once
instead of asking SymPy for an exact ten-billion-digit integer.
"""

from __future__ import annotations

import ast
import functools
import keyword
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import sympy

from degranulation.errors import ExpressionError
from degranulation.limits import MAX_DEPTH, MAX_LENGTH

TIME_NAME: Final = "t"
#: Names a model may not use: the time symbol, and names SymPy's printers treat specially.
RESERVED: Final = frozenset({"t", "time", "E", "I", "S", "N", "O", "Q", "pi", "oo", "nan", "zoo"})

FUNCTIONS: Final[dict[str, tuple[int, int, Callable[..., sympy.Expr]]]] = {
    # name: (min args, max args, builder)
    "exp": (1, 1, sympy.exp),
    "log": (1, 1, sympy.log),
    "log10": (1, 1, lambda x: sympy.log(x, 10)),
    "sqrt": (1, 1, sympy.sqrt),
    "abs": (1, 1, sympy.Abs),
    "min": (2, 16, sympy.Min),
    "max": (2, 16, sympy.Max),
    "floor": (1, 1, sympy.floor),
    "ceil": (1, 1, sympy.ceiling),
    # SymPy's own classes, so that derivatives, printers and SBML export know them.
    **{
        name: (1, 1, getattr(sympy, name))
        for name in (
            "sin", "cos", "tan", "sec", "csc", "cot", "sinh", "cosh", "tanh", "sech", "csch", "coth",
            "asin", "acos", "atan", "asec", "acsc", "acot",
            "asinh", "acosh", "atanh", "asech", "acsch", "acoth",
        )
    },
}  # fmt: skip
MASS_ACTION: Final = "mass_action"
PIECEWISE: Final = "piecewise"

_COMPARISONS: Final[dict[type, Callable[[sympy.Expr, sympy.Expr], sympy.Basic]]] = {
    ast.Lt: sympy.Lt,
    ast.LtE: sympy.Le,
    ast.Gt: sympy.Gt,
    ast.GtE: sympy.Ge,
    ast.Eq: sympy.Eq,
    ast.NotEq: sympy.Ne,
}

_OPERATORS: Final = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
}


def symbol(name: str) -> sympy.Symbol:
    """Return the SymPy symbol for a model name (every symbol is made here, all real)."""
    return sympy.Symbol(name, real=True)


TIME: Final = symbol(TIME_NAME)


@dataclass(frozen=True)
class ParsedExpression:
    """An expression parsed from text.

    Attributes
    ----------
    expr : sympy.Expr
        The expression; for a mass-action rate, the forward constant.
    names : dict of str to int
        Each name used, with the 1-based column of its first use.
    mass_action : tuple of (sympy.Expr, sympy.Expr or None), or None
        ``(kf, kr)`` when the text was ``mass_action(kf[, kr])``.
    """

    expr: sympy.Expr
    names: dict[str, int]
    mass_action: tuple[sympy.Expr, sympy.Expr | None] | None = None


def parse_expression(text: str, *, allow_mass_action: bool = False) -> ParsedExpression:
    """Parse expression text into SymPy without executing anything.

    Parameters
    ----------
    text : str
        E.g. ``"k_on * L * R - k_off * LR"``.
    allow_mass_action : bool
        Accept ``mass_action(kf, kr)`` as the whole expression (reaction rates only).

    Returns
    -------
    ParsedExpression

    Raises
    ------
    ExpressionError
        With the column of the offending part.

    Examples
    --------
    >>> from degranulation.expressions import parse_expression
    >>> parsed = parse_expression("2*k_on*L*R")
    >>> sorted(parsed.names)
    ['L', 'R', 'k_on']
    >>> parse_expression("piecewise(0, t < t_on, k*sin(w*t))").expr
    Piecewise((0, t < t_on), (k*sin(t*w), True))
    >>> parse_expression("__import__('os').system('ls')")
    Traceback (most recent call last):
    ...
    degranulation.errors.ExpressionError: ...
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expected expression text, got {type(text).__name__} {text!r}")
    # Generated networks repeat a few dozen rate texts over thousands of reactions.
    parsed = _parse(text, allow_mass_action)
    return ParsedExpression(parsed.expr, dict(parsed.names), parsed.mass_action)


def parse_condition(text: str) -> ParsedExpression:
    """Parse condition text (an event's trigger) into a SymPy boolean, without executing anything.

    Conditions are what ``piecewise`` takes: comparisons ``< <= > >= == !=``, ``True``,
    ``False``, joined by ``and``, ``or``, ``not``.

    Raises
    ------
    ExpressionError
        With the column of the offending part.

    Examples
    --------
    >>> from degranulation.expressions import parse_condition
    >>> parse_condition("x < 0.5 or t >= 10").expr
    (x < 0.5) | (t >= 10)
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expected condition text, got {type(text).__name__} {text!r}")
    return _parse(text, False, condition=True)


@functools.lru_cache(maxsize=4096)
def _parse(text: str, allow_mass_action: bool, *, condition: bool = False) -> ParsedExpression:
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    if not text.strip():
        raise ExpressionError("empty expression")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        if "too many nested parentheses" in exc.msg:
            raise _too_deep() from None
        shown = text.strip() if len(text.strip()) <= 200 else f"{text.strip()[:200]}..."
        raise ExpressionError(f"cannot parse '{shown}': {exc.msg}", column=exc.offset) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("expression is nested too deeply or is not text") from None
    _check_depth(tree.body)
    builder = _Builder()
    body = tree.body
    try:
        if (
            allow_mass_action
            and isinstance(body, ast.Call)
            and isinstance(body.func, ast.Name)
            and body.func.id == MASS_ACTION
        ):
            return builder.mass_action(body)
        if condition:
            return ParsedExpression(builder.condition(body, 1, "a trigger"), builder.names)
        return ParsedExpression(builder.build(body), builder.names)
    except RecursionError:
        raise ExpressionError("expression is nested too deeply") from None


class _Builder:
    def __init__(self) -> None:
        self.names: dict[str, int] = {}

    def mass_action(self, node: ast.Call) -> ParsedExpression:
        if node.keywords or not 1 <= len(node.args) <= 2:
            raise _error(node, "mass_action takes one or two rate constants: mass_action(kf, kr)")
        kf = self.build(node.args[0])
        kr = self.build(node.args[1]) if len(node.args) == 2 else None
        return ParsedExpression(kf, self.names, (kf, kr))

    def build(self, node: ast.AST) -> sympy.Expr:
        if isinstance(node, ast.Constant):
            return _number(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
            return self._sum(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _binary(node, self.build(node.left), self.build(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            operand = self.build(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.Call):
            return self._call(node)
        if _is_condition(node):
            raise _error(node, f"{_describe(node)} can only be a condition of {PIECEWISE}(...), not a number")
        raise _error(node, f"{_describe(node)} is not allowed in an expression")

    def condition(self, node: ast.AST, position: int, what: str = "") -> sympy.Basic:
        """A condition of ``piecewise`` (or ``what``): comparisons, True, False, and, or, not."""
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(value, position, what) for value in node.values]
            return sympy.And(*parts) if isinstance(node.op, ast.And) else sympy.Or(*parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return sympy.Not(self.condition(node.operand, position, what))
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return sympy.true if node.value else sympy.false
        raise _error(
            node,
            f"{what or f'condition {position} of {PIECEWISE}()'} must be a comparison (< <= > >= == !=), "
            f"True or False, possibly joined by and/or/not; got {_describe(node)}",
        )

    def _compare(self, node: ast.Compare) -> sympy.Basic:
        # a < b <= c means a < b and b <= c, as in Python.
        operands = [self.build(node.left), *(self.build(c) for c in node.comparators)]
        parts = []
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            if type(op) not in _COMPARISONS:
                raise _error(node, f"the comparison {type(op).__name__} is not allowed; use < <= > >= == !=")
            parts.append(_COMPARISONS[type(op)](left, right))
        return sympy.And(*parts)

    def _piecewise(self, node: ast.Call) -> sympy.Expr:
        args = node.args
        if len(args) < 2:
            raise _error(
                node, f"{PIECEWISE}() takes value1, condition1, ..., otherwise; got {len(args)} argument(s)"
            )
        pairs = [
            (self.build(args[i]), self.condition(args[i + 1], i // 2 + 1)) for i in range(0, len(args) - 1, 2)
        ]
        if len(args) % 2:
            pairs.append((self.build(args[-1]), sympy.true))
        return sympy.Piecewise(*pairs)

    def _sum(self, node: ast.BinOp) -> sympy.Expr:
        # A chain a + b - c + ... becomes one n-ary Add: adding pairwise re-flattens the growing
        # sum at every step (quadratic: seconds for an observable summing hundreds of species)
        # and a long chain would exhaust the recursion limit.
        chain = []
        current: ast.expr = node
        while isinstance(current, ast.BinOp) and isinstance(current.op, ast.Add | ast.Sub):
            chain.append(current)
            current = current.left
        total = self.build(current)
        terms: list[sympy.Expr] = []
        for link in reversed(chain):
            right = self.build(link.right)
            if not terms and isinstance(total, sympy.Number) and isinstance(right, sympy.Number):
                total = _binary(link, total, right)  # a numeric prefix folds in floating point
            else:
                terms.append(-right if isinstance(link.op, ast.Sub) else right)
        return sympy.Add(total, *terms) if terms else total

    def _name(self, node: ast.Name) -> sympy.Expr:
        if node.id in FUNCTIONS or node.id in (MASS_ACTION, PIECEWISE):
            raise _error(node, f"'{node.id}' is a function; call it with arguments")
        if keyword.iskeyword(node.id) or node.id.startswith("__"):
            raise _error(node, f"'{node.id}' is not allowed as a name")
        self.names.setdefault(node.id, node.col_offset + 1)
        return TIME if node.id == TIME_NAME else symbol(node.id)

    def _call(self, node: ast.Call) -> sympy.Expr:
        if not isinstance(node.func, ast.Name):
            raise _error(node, "only calls of named functions are allowed, e.g. exp(x)")
        name = node.func.id
        if name == MASS_ACTION:
            raise _error(node, "mass_action(...) must be the whole rate of a reaction")
        if name not in FUNCTIONS and name != PIECEWISE:
            known = ", ".join(sorted([*FUNCTIONS, PIECEWISE]))
            raise _error(node, f"unknown function '{name}'; known functions: {known}")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise _error(node, f"{name}() takes positional arguments only")
        if name == PIECEWISE:
            return self._piecewise(node)
        low, high, func = FUNCTIONS[name]
        if not low <= len(node.args) <= high:
            count = str(low) if low == high else f"{low} to {high}"
            raise _error(node, f"{name}() takes {count} argument(s), got {len(node.args)}")
        args = [self.build(arg) for arg in node.args]
        if all(isinstance(a, sympy.Number) for a in args):
            return _fold(node, lambda: float(func(*args)))
        return func(*args)


def _check_depth(root: ast.AST) -> None:
    """Refuse nesting deeper than :data:`~degranulation.limits.MAX_DEPTH` (walked with a
    stack; a sum ``a + b - c + ...`` counts as one level, as it is built as one)."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth if _same_chain(node, child) else depth + 1))


def _same_chain(parent: ast.AST, child: ast.AST) -> bool:
    return all(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add | ast.Sub) for n in (parent, child))


def _too_deep() -> ExpressionError:
    return ExpressionError(
        f"expression is nested more than {MAX_DEPTH} levels deep",
        hint="simplify it (the limit is degranulation.limits.MAX_DEPTH)",
    )


def _is_condition(node: ast.AST) -> bool:
    return isinstance(node, ast.Compare | ast.BoolOp) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)
    )


def _number(node: ast.Constant) -> sympy.Expr:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _error(node, f"{_describe(node)} is not allowed in an expression")
    if not math.isfinite(value):
        raise _error(node, "numbers must be finite")
    if isinstance(value, int):
        if abs(value) <= 10**6:
            return sympy.Integer(value)
        return _fold(node, lambda: float(value))
    return sympy.Float(value)


def _binary(node: ast.BinOp, left: sympy.Expr, right: sympy.Expr) -> sympy.Expr:
    op = type(node.op)
    if isinstance(left, sympy.Number) and isinstance(right, sympy.Number):
        return _fold(node, lambda: _float_op(op, float(left), float(right)))
    if op is ast.Add:
        return left + right
    if op is ast.Sub:
        return left - right
    if op is ast.Mult:
        return left * right
    if op is ast.Div:
        if right == 0:
            raise _error(node, "division by zero")
        return left / right
    if isinstance(right, sympy.Integer) and abs(int(right)) > 1000:
        raise _error(node, f"exponent {right} is too large")
    return left**right


def _float_op(op: type, a: float, b: float) -> float:
    if op is ast.Add:
        return a + b
    if op is ast.Sub:
        return a - b
    if op is ast.Mult:
        return a * b
    if op is ast.Div:
        return a / b
    return math.pow(a, b)


def _fold(node: ast.AST, compute: Callable[[], float]) -> sympy.Expr:
    try:
        value = compute()
    except ZeroDivisionError:
        raise _error(node, "division by zero") from None
    except (OverflowError, ValueError, TypeError):
        raise _error(node, "constant is too large or undefined") from None
    if not math.isfinite(value):
        raise _error(node, "constant is too large or undefined")
    if value.is_integer() and abs(value) <= 10**6:
        return sympy.Integer(int(value))
    return sympy.Float(value)


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access",
        ast.Subscript: "subscripting",
        ast.Lambda: "a lambda",
        ast.ListComp: "a comprehension",
        ast.SetComp: "a comprehension",
        ast.DictComp: "a comprehension",
        ast.GeneratorExp: "a generator expression",
        ast.Compare: "a comparison",
        ast.BoolOp: "a boolean operator",
        ast.IfExp: "a conditional expression",
        ast.NamedExpr: "an assignment expression",
        ast.List: "a list",
        ast.Tuple: "a tuple",
        ast.Dict: "a dict",
        ast.Set: "a set",
        ast.JoinedStr: "an f-string",
        ast.Await: "await",
        ast.Starred: "unpacking",
    }
    if isinstance(node, ast.Constant):
        return f"the {type(node.value).__name__} constant {node.value!r}"
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        return f"the operator {type(node.op).__name__}"
    return names.get(type(node), type(node).__name__)


def _error(node: ast.AST, message: str) -> ExpressionError:
    column = getattr(node, "col_offset", None)
    return ExpressionError(message, column=None if column is None else column + 1)
