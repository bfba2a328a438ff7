"""The ast whitelist: what becomes SymPy, and what is refused without being executed."""

from __future__ import annotations

import time

import pytest
import sympy

from degranulation.errors import ExpressionError
from degranulation.expressions import TIME, parse_expression, symbol


def test_arithmetic_and_functions():
    parsed = parse_expression("k_on*L*R - k_off*LR + exp(-t/tau) + max(a, b)**2")
    assert set(parsed.names) == {"k_on", "L", "R", "k_off", "LR", "t", "tau", "a", "b"}
    expected = (
        symbol("k_on") * symbol("L") * symbol("R")
        - symbol("k_off") * symbol("LR")
        + sympy.exp(-TIME / symbol("tau"))
        + sympy.Max(symbol("a"), symbol("b")) ** 2
    )
    assert sympy.simplify(parsed.expr - expected) == 0
    assert parsed.names["k_off"] == 12  # 1-based column of first use


def test_mass_action_only_as_whole_rate():
    parsed = parse_expression("mass_action(2*kp1, km1)", allow_mass_action=True)
    assert parsed.mass_action == (2 * symbol("kp1"), symbol("km1"))
    with pytest.raises(ExpressionError, match="whole rate"):
        parse_expression("2*mass_action(kf, kr)", allow_mass_action=True)
    with pytest.raises(ExpressionError, match="whole rate"):
        parse_expression("mass_action(kf, kr)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('touch /tmp/pwned')", "only calls of named functions"),
        ("__import__('os')", "unknown function '__import__'"),
        ("os.system", "attribute access"),
        ("k[0]", "subscripting"),
        ("(lambda: 1)()", "only calls of named functions"),
        ("[x for x in y]", "comprehension"),
        ("'text'", "str constant"),
        ("k if a else b", "conditional expression"),
        ("a < b", "comparison"),
        ("exp(x=1)", "positional arguments only"),
        ("open('f')", "unknown function 'open'"),
        ("__class__", "not allowed as a name"),
        ("a +", "cannot parse"),
        ("", "empty expression"),
        ("1/0", "division by zero"),
        ("exp(1000)", "too large"),
        ("x**5000", "exponent 5000 is too large"),
        ("True", "bool constant"),
        ("1j", "complex constant"),
    ],
)
def test_forbidden_text_is_refused_with_a_column(text, message, tmp_path):
    with pytest.raises(ExpressionError, match=message) as caught:
        parse_expression(text)
    assert not (tmp_path / "pwned").exists()
    if text:
        assert caught.value.column is not None


def test_huge_constants_do_not_hang():
    start = time.perf_counter()
    for text in ("10**10**10", "9**9**9**9", "2**(2**100)"):
        with pytest.raises(ExpressionError, match="too large"):
            parse_expression(text)
    assert time.perf_counter() - start < 1.0


def test_constant_folding_keeps_exact_small_integers():
    assert parse_expression("2*3").expr == 6
    assert parse_expression("1e-7*2").expr == pytest.approx(2e-7)
    assert isinstance(parse_expression("3/2").expr, sympy.Float)


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(ExpressionError):
        parse_expression("(" * 5000 + "x" + ")" * 5000)
    with pytest.raises(ExpressionError, match="characters long"):
        parse_expression("x+" * 20000 + "x")
