"""Non-integer stoichiometry (issue 12): ``"0.5 A + 2 B -> 8.5 C"`` as in curated SBML models
(lumped reactions, monomer-to-polymer conversions). Coefficients are stored exactly, integer
models keep their integer matrix, and conservation laws stay exact."""

from __future__ import annotations

import numpy as np
import pytest

import degranulation as dg
from degranulation.errors import ExpressionError
from degranulation.network import parse_equation
from degranulation.symbolic import build_system

A0, K = 10.0, 0.2  # nM, 1/s


def decay(equation: str, rate: str = "mass_action(k)", k: str = f"{K} 1/s") -> dg.Model:
    return (
        dg.ModelBuilder("lumped", units={"time": "s", "concentration": "nM", "amount": "nmol"})
        .compartment("cell", "1 L")
        .species("A", f"{A0} nM", compartment="cell")
        .species("B", "0 nM", compartment="cell")
        .parameter("k", k)
        .reaction(equation, rate, id="r")
        .build()
    )


def test_equations_take_decimal_coefficients() -> None:
    assert parse_equation("0.5 A + 2 B -> 8.5 C") == ((("A", 0.5), ("B", 2)), (("C", 8.5),), False)
    assert parse_equation("0.25*A <-> 3.14159 P") == ((("A", 0.25),), (("P", 3.14159),), True)
    assert parse_equation("2.5e-3 A + .5 B -> 2.0 C") == ((("A", 0.0025), ("B", 0.5)), (("C", 2),), False)
    # Repeated terms add exactly, as their decimals do (0.1 + 0.2 is 0.3, not 0.30000000000000004).
    assert parse_equation("0.1 A + 0.2 A -> B")[0] == (("A", 0.3),)
    # Whole numbers stay ints, so integer models are unchanged.
    assert all(isinstance(c, int) for _, c in parse_equation("2 A + 1.0 B -> 1e3 C")[0])


@pytest.mark.parametrize(
    ("equation", "message", "column"),
    [
        ("A -> 1e999 B", "coefficient in '1e999 B' is larger than 1e+06", 5),
        ("-1 A -> B", "'-1 A' is not a species term", 1),
        ("A + 0 B -> C", "zero coefficient in '0 B'", 4),
        ("A -> 0.0 B", "zero coefficient in '0.0 B'", 5),
        ("A -> 1e-400 B", "coefficient too small for a float64 number in '1e-400 B'", 5),
        ("nan A -> B", "'nan A' is not a species term", 1),
        ("inf A -> B", "'inf A' is not a species term", 1),
        ("1.5.2 A -> B", "'1.5.2 A' is not a species term", 1),
    ],
)
def test_malformed_coefficients_are_refused_with_their_column(
    equation: str, message: str, column: int
) -> None:
    with pytest.raises(ExpressionError) as raised:
        parse_equation(equation)
    assert str(raised.value).startswith(message)
    assert raised.value.column == column


def test_half_a_product_per_reactant_matches_the_closed_form() -> None:
    """``A -> 0.5 B`` at first order: A = A0 exp(-kt), B = 0.5 A0 (1 - exp(-kt)) (closed form of
    the linear ODE), and A + 2 B is conserved: the exact law (1, 2)."""
    model = decay("A -> 0.5 B")
    system = build_system(model)
    assert system.stoichiometry.dtype == np.float64
    assert system.conservation_laws == ((1, 2),)
    ds = dg.simulate(model, t="20 s", points=11, rtol=1e-10, atol=1e-12)
    t = ds["time"].pint.to("s").pint.magnitude
    a = ds["A"].pint.to("nM").pint.magnitude
    b = ds["B"].pint.to("nM").pint.magnitude
    np.testing.assert_allclose(a, A0 * np.exp(-K * t), rtol=1e-7)
    np.testing.assert_allclose(b, 0.5 * A0 * (1 - np.exp(-K * t)), rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(a + 2 * b, A0, rtol=1e-9)


def test_a_fractional_mass_action_order_is_a_power() -> None:
    """``0.5 A -> B`` by mass action: v = k A**0.5, dA/dt = -0.5 k A**0.5, so
    sqrt(A) = sqrt(A0) - k t / 4 (separation of variables) while A > 0; 2 A + B is conserved,
    the exact law (2, 1)."""
    model = decay("0.5 A -> B", k="0.2 nM**0.5/s")
    system = build_system(model)
    assert system.laws[0].terms is None  # evaluated as the explicit rate k*A**(1/2)
    assert system.conservation_laws == ((2, 1),)
    ds = dg.simulate(model, t="10 s", points=11, rtol=1e-10, atol=1e-12)
    t = ds["time"].pint.to("s").pint.magnitude
    a = ds["A"].pint.to("nM").pint.magnitude
    np.testing.assert_allclose(a, (np.sqrt(A0) - K * t / 4) ** 2, rtol=1e-7)
    np.testing.assert_allclose(2 * a + ds["B"].pint.to("nM").pint.magnitude, 2 * A0, rtol=1e-9)


def test_integer_models_keep_an_integer_matrix() -> None:
    system = build_system(dg.load_model("ige_fceri_crosslinking"))
    assert system.stoichiometry.dtype == np.int64
    assert build_system(decay("2.0 A -> B", rate="k * A * cell")).stoichiometry.dtype == np.int64


def test_net_changes_are_exact() -> None:
    """``0.1 A -> 0.3 A + B`` changes A by 0.2, exactly the decimal's float."""
    system = build_system(decay("0.1 A -> 0.3 A + B", rate="k * A * cell"))
    assert system.stoichiometry.toarray()[:, 0].tolist() == [0.2, 1.0]
    assert system.conservation_laws == ((5, -1),)


def test_sbml_round_trip_keeps_the_coefficients(tmp_path) -> None:
    """``0.25 A -> 8.5 B`` at rate k A: A = A0 exp(-k t / 4) and B = 34 (A0 - A) (closed form),
    before and after writing SBML and reading it back."""
    pytest.importorskip("libsbml")
    model = decay("0.25 A -> 8.5 B", rate="k * A * cell")
    again = dg.read_sbml(dg.write_sbml(model, tmp_path / "lumped.xml"))
    assert again.reactions[0].reactants == (("A", 0.25),)
    assert again.reactions[0].products == (("B", 8.5),)
    for m in (model, again):
        ds = dg.simulate(m, t="10 s", points=3, rtol=1e-10, atol=1e-12)
        t = ds["time"].pint.to("s").pint.magnitude
        a = ds["A"].pint.to("nM").pint.magnitude
        np.testing.assert_allclose(a, A0 * np.exp(-K * t / 4), rtol=1e-7)
        np.testing.assert_allclose(ds["B"].pint.to("nM").pint.magnitude, 34 * (A0 - a), rtol=1e-7, atol=1e-9)


def test_sbml_round_trip_keeps_a_fractional_mass_action_order(tmp_path) -> None:
    """The written kinetic law k*V*A**(1/2) reads back as mass action of order 0.5:
    sqrt(A) = sqrt(A0) - k t / 4 again (closed form as above)."""
    pytest.importorskip("libsbml")
    again = dg.read_sbml(dg.write_sbml(decay("0.5 A -> B", k="0.2 nM**0.5/s"), tmp_path / "half.xml"))
    assert again.reactions[0].equation == "0.5 A -> B"
    assert again.reactions[0].rate.startswith("mass_action(")
    ds = dg.simulate(again, t="10 s", points=3, rtol=1e-10, atol=1e-12)
    t = ds["time"].pint.to("s").pint.magnitude
    np.testing.assert_allclose(
        ds["A"].pint.to("nM").pint.magnitude, (np.sqrt(A0) - K * t / 4) ** 2, rtol=1e-7
    )
