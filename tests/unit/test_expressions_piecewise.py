"""piecewise, conditions and the trigonometric family: parsing, units, generated code (rates,
Jacobian, dfdp, observables) and SBML round trips, checked against closed forms, Python's
``math`` module and finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy

import degranulation as dg
from degranulation.codegen import compile_model
from degranulation.errors import ExpressionError, ModelValidationError
from degranulation.expressions import TIME, parse_expression, symbol
from degranulation.symbolic import build_system

A, B, K = symbol("A"), symbol("B"), symbol("k")


def test_piecewise_builds_sympy_piecewise():
    parsed = parse_expression("piecewise(A, t < 5, B, A <= B < 3 and not (A == 1 or B != 2), k)")
    first_true = sympy.And(A <= B, B < 3, sympy.Not(sympy.Or(sympy.Eq(A, 1), sympy.Ne(B, 2))))
    assert parsed.expr == sympy.Piecewise((A, TIME < 5), (B, first_true), (K, True))
    assert set(parsed.names) == {"A", "t", "B", "k"}
    # The first condition that holds wins (SBML's semantics), here at t = 1 although B's holds too.
    assert parsed.expr.subs({TIME: 1, A: 2, B: 2, K: 7}) == 2
    assert parsed.expr.subs({TIME: 9, A: 2, B: 2, K: 7}) == 2  # B's condition: 2 <= 2 < 3, B == 2
    assert parsed.expr.subs({TIME: 9, A: 1, B: 2, K: 7}) == 7
    assert parse_expression("piecewise(A, True, B)").expr == A
    assert parse_expression("piecewise(A, False, B)").expr == B
    # Without otherwise a value is undefined where no condition holds (NaN in generated code).
    assert parse_expression("piecewise(A, t > 1)").expr == sympy.Piecewise((A, TIME > 1))


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("piecewise(k, 2)", "condition 1 of piecewise() must be a comparison", 14),
        ("piecewise(k, A < 1, B, A, 0)", "condition 2 of piecewise() must be a comparison", 24),
        ("piecewise(k)", "piecewise() takes value1, condition1, ..., otherwise", 1),
        ("k * (A < B)", "a comparison can only be a condition of piecewise(...)", 6),
        ("piecewise(k, (A < B) < 1, 0)", "a comparison can only be a condition", 15),
        ("piecewise(k, A in B, 0)", "the comparison In is not allowed", 14),
        ("piecewise(k, A is B, 0)", "the comparison Is is not allowed", 14),
        ("piecewise(k, A & B, 0)", "got the operator BitAnd", 14),
        ("sin(A, B)", "sin() takes 1 argument(s), got 2", 1),
        ("piecewise", "'piecewise' is a function", 1),
        ("asin(2)", "constant is too large or undefined", 1),
    ],
)
def test_malformed_piecewise_is_refused_with_a_column(text, message, column):
    with pytest.raises(ExpressionError) as info:
        parse_expression(text)
    assert message in info.value.message
    assert info.value.column == column


# Each function against Python's math module, through the generated (vectorised) observable
# code: (argument, reference). Arguments stay in each function's real domain over 0..1 s.
INSIDE, OUTSIDE = "(0.1 + 0.5*w*t)", "(2 + w*t)"
FUNCTIONS = {
    "sin": (INSIDE, math.sin),
    "cos": (INSIDE, math.cos),
    "tan": (INSIDE, math.tan),
    "sec": (INSIDE, lambda x: 1 / math.cos(x)),
    "csc": (INSIDE, lambda x: 1 / math.sin(x)),
    "cot": (INSIDE, lambda x: 1 / math.tan(x)),
    "sinh": (INSIDE, math.sinh),
    "cosh": (INSIDE, math.cosh),
    "tanh": (INSIDE, math.tanh),
    "sech": (INSIDE, lambda x: 1 / math.cosh(x)),
    "csch": (INSIDE, lambda x: 1 / math.sinh(x)),
    "coth": (INSIDE, lambda x: 1 / math.tanh(x)),
    "asin": (INSIDE, math.asin),
    "acos": (INSIDE, math.acos),
    "atan": (INSIDE, math.atan),
    "asec": (OUTSIDE, lambda x: math.acos(1 / x)),
    "acsc": (OUTSIDE, lambda x: math.asin(1 / x)),
    "acot": (OUTSIDE, lambda x: math.atan(1 / x)),
    "asinh": (INSIDE, math.asinh),
    "acosh": (OUTSIDE, math.acosh),
    "atanh": (INSIDE, math.atanh),
    "asech": (INSIDE, lambda x: math.acosh(1 / x)),
    "acsch": (OUTSIDE, lambda x: math.asinh(1 / x)),
    "acoth": (OUTSIDE, lambda x: math.atanh(1 / x)),
    "floor": ("(4*w*t - 1.5)", math.floor),
    "ceil": ("(4*w*t - 1.5)", math.ceil),
}


def test_functions_match_python_math():
    builder = (
        dg.ModelBuilder("functions", units={"time": "s", "concentration": "nM", "amount": "nmol"})
        .compartment("well", "1 mL")
        .species("X", "1 nM", compartment="well")
        .parameter("w", "1 1/s")
    )
    for name, (argument, _) in FUNCTIONS.items():
        builder = builder.observable(f"f_{name}", f"{name}{argument}", "dimensionless")
    ds = dg.simulate(builder.build(), t="1 s", points=11)
    times = np.linspace(0.0, 1.0, 11)
    for name, (argument, reference) in FUNCTIONS.items():
        x = {INSIDE: 0.1 + 0.5 * times, OUTSIDE: 2 + times}.get(argument, 4 * times - 1.5)
        expected = [reference(v) for v in x]
        np.testing.assert_allclose(ds[f"f_{name}"].pint.magnitude, expected, rtol=1e-12, err_msg=name)


SWITCH = """
format = "degranulation-model/1"
id = "switch"

[units]
time = "s"
concentration = "nM"
amount = "nmol"

[compartments]
well = {{ size = "1 mL" }}

[species]
P = {{ initial = "0 nM", compartment = "well" }}
R = {{ initial = "0 nM", compartment = "well" }}
A = {{ initial = "10 nM", compartment = "well" }}
B = {{ initial = "0 nM", compartment = "well" }}

[parameters]
k = {{ value = "0.2 nM/s" }}
t_on = {{ value = "5 s" }}
kd = {{ value = "0.1 1/s" }}
w = {{ value = "0.5 1/s" }}

[[reactions]]
id = "production"
equation = "0 -> P"
rate = "{production}"

[[reactions]]
id = "oscillating"
equation = "0 -> R"
rate = "well * k * (1 + sin(w*t))"

[[reactions]]
id = "conversion"
equation = "A -> B"
rate = "well * kd * A * piecewise(1, t < t_on and A > 0, 2)"

[observables]
late = {{ expr = "piecewise(P, P < k * t_on, 2 * P)", unit = "nM" }}
"""


def switch_model(tmp_path, production="well * piecewise(0, t < t_on, k)"):
    path = tmp_path / "switch.toml"
    path.write_text(SWITCH.format(production=production), encoding="utf-8")
    return dg.load_model(path)


def test_switching_model_matches_closed_forms(tmp_path):
    """Production k switched on at t_on; R' = k(1 + sin wt); A -> B at kd, doubled after t_on."""
    model = switch_model(tmp_path)
    ds = dg.simulate(model, t="20 s", points=41, rtol=1e-10, atol=1e-12)
    t = np.linspace(0, 20, 41)
    k, t_on, kd, w = 0.2, 5.0, 0.1, 0.5
    p = k * np.maximum(t - t_on, 0.0)
    a = np.where(t < t_on, 10 * np.exp(-kd * t), 10 * np.exp(-kd * t_on - 2 * kd * (t - t_on)))
    np.testing.assert_allclose(ds["P"].pint.magnitude, p, atol=1e-7)
    np.testing.assert_allclose(ds["R"].pint.magnitude, k * (t + (1 - np.cos(w * t)) / w), rtol=1e-7)
    np.testing.assert_allclose(ds["A"].pint.magnitude, a, rtol=1e-6)
    # `late` jumps where P crosses k·t_on, which it does exactly at the output t = 10 s: there the
    # solver's P (1 - 1e-11 or 1 + 1e-11) may fall on either side, so that point is not compared.
    off_jump = np.abs(p - k * t_on) > 1e-6
    np.testing.assert_allclose(
        ds["late"].pint.magnitude[off_jump], np.where(p < k * t_on, p, 2 * p)[off_jump], atol=1e-6
    )
    assert off_jump.sum() == len(t) - 1
    # A -> B conserves A + B; the conservation analysis still finds it.
    system = build_system(model)
    assert [dict(zip(system.species, law, strict=True)) for law in system.conservation_laws] == [
        {"P": 0, "R": 0, "A": 1, "B": 1}
    ]
    np.testing.assert_allclose(ds["A"].pint.magnitude + ds["B"].pint.magnitude, 10.0, rtol=1e-8)


def test_jacobian_and_dfdp_match_finite_differences(tmp_path):
    compiled = compile_model(switch_model(tmp_path), sensitivities=True, cache_dir=False)
    p = compiled.default_parameters
    x = np.array([0.3, 0.7, 6.0, 4.0])
    order = [compiled.species.index(s) for s in ("P", "R", "A", "B")]
    x = x[np.argsort(order)]
    for t in (2.0, 7.0):  # either side of the switch
        fun, jac = compiled.functions(p)
        h = 1e-6
        numeric_jac = np.column_stack(
            [(fun(t, x + h * e) - fun(t, x - h * e)) / (2 * h) for e in np.eye(len(x))]
        )
        np.testing.assert_allclose(jac(t, x).toarray(), numeric_jac, atol=1e-8)
        numeric_dfdp = np.column_stack(
            [
                (compiled.functions(p + h * e)[0](t, x) - compiled.functions(p - h * e)[0](t, x)) / (2 * h)
                for e in np.eye(len(p))
            ]
        )
        np.testing.assert_allclose(compiled.dfdp(t, x, p).toarray(), numeric_dfdp, atol=1e-7)


@pytest.mark.parametrize(
    ("production", "message"),
    [
        ("well * piecewise(k, t < t_on, kd)", "piecewise values differ: 'k' is [substance] / [length] ** 3"),
        ("well * piecewise(k, A < t_on, 0)", "comparison 'A < t_on' compares 'A', [substance]"),
        ("well * k * sin(t)", "sin() needs a dimensionless argument; 't' is [time]"),
        ("well * k * acoth(A)", "acoth() needs a dimensionless argument; 'A' is [substance]"),
    ],
)
def test_dimension_errors_name_the_rate(tmp_path, production, message):
    with pytest.raises(ModelValidationError) as info:
        switch_model(tmp_path, production)
    (issue,) = info.value.issues
    assert issue.location == "reactions[0].rate"
    assert message in issue.message


@pytest.mark.requires_sbml
def test_sbml_round_trip_keeps_piecewise_and_trig(tmp_path):
    from degranulation.cli import main
    from degranulation.kinetics import rate_law, symbol_dimensions

    original = switch_model(tmp_path, "well * piecewise(0, t < t_on or A >= 20*k*t_on, k*acosh(1 + w*t))")
    xml = dg.write_sbml(original, tmp_path / "switch.xml")
    text = xml.read_text()
    for element in ("<piecewise>", "<otherwise>", "<lt/>", "<geq/>", "<or/>", "<arccosh/>", "<sin/>"):
        assert element in text, element
    assert main(["convert", str(xml), str(tmp_path / "back.toml")]) == 0
    back = dg.load_model(tmp_path / "back.toml")
    table, back_table = symbol_dimensions(original), symbol_dimensions(back)
    for index in range(len(original.reactions)):
        assert rate_law(back, index, back_table).expr == rate_law(original, index, table).expr
    a = dg.simulate(original, t="20 s", points=21, rtol=1e-10, atol=1e-12)
    b = dg.simulate(back, t="20 s", points=21, rtol=1e-10, atol=1e-12)
    for name in ("P", "R", "A", "late"):
        np.testing.assert_allclose(b[name].pint.magnitude, a[name].pint.magnitude, rtol=1e-9, atol=1e-12)
