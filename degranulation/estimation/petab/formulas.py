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
    """NumPy code for ``expr`` and its partial derivatives over ``names`` (as ``v[j]``), and the
    modules it imports. The derivative of ``sign`` is taken as 0 (true away from 0)."""
    value, gradient, modules = _compiled_text(expr, tuple(names))
    return value, gradient, set(modules)


@functools.lru_cache(maxsize=1024)  # parse_formula's check compiles what the reader compiles again
def _compiled_text(expr: sympy.Expr, names: tuple[sympy.Symbol, ...]) -> tuple[str, str, frozenset[str]]:
    import sympy

    from degranulation.codegen import _Printer
    from degranulation.symbolic import derivative_of

    printer = _Printer({s: f"v[{j}]" for j, s in enumerate(names)})
    partials = [derivative_of(expr, s).replace(sympy.DiracDelta, lambda *_: sympy.S.Zero) for s in names]
    value = printer.doprint(expr)
    gradient = ", ".join(printer.doprint(d) for d in partials)
    return value, gradient, frozenset(printer.module_imports)
