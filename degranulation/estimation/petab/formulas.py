"""PEtab formula cells → SymPy (through PEtab's own grammar, never evaluated as text), and the
NumPy code :mod:`degranulation.estimation.petab.reader` compiles them to."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from degranulation.errors import DataError

if TYPE_CHECKING:
    import sympy

#: Deepest parenthesis nesting of a formula: PEtab's parser recurses once per level.
MAX_NESTING: Final = 100


@functools.lru_cache(maxsize=1024)
def parse_formula(text: Any, file: str, where: str) -> sympy.Expr:
    """A formula cell as SymPy through PEtab's grammar (never evaluated as text), refused with
    a located DataError unless it is a finite number-valued expression that compiles.

    Kept for repeated calls: the reader checks each cell before petab's lint and reads it
    after, and a large model's observables sum hundreds of species."""
    import sympy
    from petab.v1.math import sympify_petab

    source = str(text)
    depth = max(itertools.accumulate((c == "(") - (c == ")") for c in source), default=0)
    if depth > MAX_NESTING:
        raise DataError(
            f"the formula nests parentheses {depth} deep (at most {MAX_NESTING})",
            file=file,
            location=where,
            hint="simplify the formula",
        )
    try:
        expr = sympify_petab(text)
    except (ValueError, TypeError, RecursionError) as exc:
        raise DataError(
            f"cannot parse {source!r:.80}: {exc}",
            file=file,
            location=where,
            hint="use numbers, ids, + - * / ^ and PEtab's functions (exp, log, sqrt, abs, sign, "
            "piecewise, ...)",
        ) from None
    if not isinstance(expr, sympy.Expr):
        raise DataError(
            f"{source!r:.80} is a comparison, not a number",
            file=file,
            location=where,
            hint="for a number that depends on a condition write piecewise(1, x > 1, 0)",
        )
    if expr.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan):
        raise DataError(
            f"{source!r:.80} is not a finite number (a division by zero?)", file=file, location=where
        )
    try:
        compiled_text(expr, sorted(expr.free_symbols, key=lambda s: s.name))
    except (NotImplementedError, ValueError, TypeError, KeyError) as exc:
        raise DataError(
            f"{source!r:.80} cannot be compiled: {' '.join(str(exc).split()[:12])}",
            file=file,
            location=where,
            hint="use PEtab's arithmetic and functions (exp, log, sqrt, abs, sign, piecewise, ...)",
        ) from None
    return expr


def compiled_text(expr: sympy.Expr, names: Sequence[sympy.Symbol]) -> tuple[str, str, set[str]]:
    """The bodies of two NumPy functions of ``v`` (the values of ``names`` in order): one
    returning ``expr``, one the list of its partial derivatives; and the modules they import.
    Each repeated subexpression is computed once per call (a closed-form steady state's
    gradient repeats the same square root dozens of times). The derivative of ``sign`` is
    taken as 0 (true away from 0)."""
    value, gradient, modules = _compiled_text(expr, tuple(names))
    return value, gradient, set(modules)


@functools.lru_cache(maxsize=1024)  # parse_formula's check compiles what the reader compiles again
def _compiled_text(expr: sympy.Expr, names: tuple[sympy.Symbol, ...]) -> tuple[str, str, frozenset[str]]:
    import sympy

    from degranulation.codegen import _Printer
    from degranulation.symbolic import derivative_of

    printer = _Printer({s: f"v[{j}]" for j, s in enumerate(names)})
    partials = [derivative_of(expr, s).replace(sympy.DiracDelta, lambda *_: sympy.S.Zero) for s in names]
    # SymPy's cse, not codegen's hoisting of repeated subexpressions: a partial prints
    # sqrt(u)**-1 as 1/sqrt(u), which only cse sees is the same root as sqrt(u).
    local = sympy.numbered_symbols("_c", exclude=expr.free_symbols)

    def body(exprs: list[sympy.Expr], returned: str) -> str:
        replacements, reduced = sympy.cse(exprs, symbols=local)
        lines = [f"{symbol} = {printer.doprint(e)}" for symbol, e in replacements]
        lines.append(f"return {returned.format(', '.join(printer.doprint(e) for e in reduced))}")
        return "".join(f"    {line}\n" for line in lines)

    value, gradient = body([expr], "{}"), body(partials, "[{}]")
    return value, gradient, frozenset(printer.module_imports)
