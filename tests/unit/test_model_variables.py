"""Model variables (``Species(variable=True)``): states of any unit changed only by reactions
``0 -> x`` whose rate is ``dx/dt`` (SBML's rate rule for a parameter).

References: closed-form solutions of the linear ODEs used here (exponential decay
``p = p0·exp(-k·t)``; its integral; first-order consumption at a rate that decays), written
out in each test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import degranulation as dg
from degranulation.cli import describe
from degranulation.errors import ModelValidationError, ResultWarning, UnitError
from degranulation.formats.toml import dumps_model, loads_model
from degranulation.network import Species, UnitValue, _plain
from degranulation.units import registry

K = 0.1  # 1/s
P0 = 2.0  # nM
TIMES = np.linspace(0.0, 30.0, 7)  # s


def decay(**units: str) -> dg.ModelBuilder:
    """dp/dt = -k·p with p a model variable in nM (no compartment), k = 0.1 1/s."""
    return (
        dg.ModelBuilder("decay", units=units or {"time": "s", "concentration": "nM"})
        .species("p", f"{P0} nM", variable=True, label="stimulus")
        .parameter("k", f"{K} 1/s")
        .reaction("0 -> p", "-k*p", id="p_decay")
        .observable("twice_p", "2*p", "nM")
    )


def values(dataset, name: str, unit: str) -> np.ndarray:
    return np.asarray(dataset[name].pint.to(unit).pint.magnitude)


def test_exponential_decay_of_a_variable_matches_the_closed_form() -> None:
    model = decay().build()
    dataset = dg.simulate(model, t=registry().Quantity(TIMES, "s"), rtol=1e-10, atol=1e-14)
    expected = P0 * np.exp(-K * TIMES)
    np.testing.assert_allclose(values(dataset, "p", "nM"), expected, rtol=1e-7)
    np.testing.assert_allclose(values(dataset, "twice_p", "nM"), 2 * expected, rtol=1e-7)
    assert dataset["p"].attrs["long_name"] == "stimulus"


def test_a_variable_is_solved_in_the_model_units_and_reported_in_them() -> None:
    """Time in minutes: k is 6 1/min inside, p in pM is reported in the model's concentration
    unit; the closed form is the same in seconds."""
    model = decay(time="min", concentration="pM").build()
    dataset = dg.simulate(model, t=registry().Quantity(TIMES, "s"), rtol=1e-10, atol=1e-12)
    assert str(dataset["p"].pint.units) in ("picomolar", "pM")
    np.testing.assert_allclose(values(dataset, "p", "nM"), P0 * np.exp(-K * TIMES), rtol=1e-7)


def test_a_dimensionless_variable_integrates_a_signal() -> None:
    """dA/dt = -kd·A (a chemical, molecules), dx/dt = a·A (x dimensionless, a in
    1/(molecule·s)): x(t) = a·A0/kd·(1 - exp(-kd·t))."""
    a, kd, a0 = 1e-3, 0.2, 500.0
    model = (
        dg.ModelBuilder("integrator", units={"time": "s"})
        .species("A", f"{a0} molecule")
        .species("x", "0 dimensionless", variable=True)
        .parameter("a", f"{a} 1/(molecule*s)")
        .parameter("kd", f"{kd} 1/s")
        .reaction("A -> 0", "mass_action(kd)")
        .reaction("0 -> x", "a*A")
        .build()
    )
    dataset = dg.simulate(model, t=registry().Quantity(TIMES, "s"), rtol=1e-10, atol=1e-12)
    expected = a * a0 / kd * (1 - np.exp(-kd * TIMES))
    np.testing.assert_allclose(values(dataset, "x", "dimensionless"), expected, rtol=1e-7, atol=1e-12)


def test_a_variable_as_a_mass_action_constant() -> None:
    """A -> B at the rate x·A with dx/dt = -k·x: ∫x = x0/k·(1 - exp(-k·t)), so
    B = A0·(1 - exp(-x0/k·(1 - exp(-k·t))))."""
    x0, a0 = 0.3, 100.0
    model = (
        dg.ModelBuilder("fading", units={"time": "s"})
        .species("A", f"{a0} molecule")
        .species("B", "0 molecule")
        .species("x", f"{x0} 1/s", variable=True)
        .parameter("k", f"{K} 1/s")
        .reaction("A -> B", "mass_action(x)")
        .reaction("0 -> x", "-k*x")
        .build()
    )
    dataset = dg.simulate(model, t=registry().Quantity(TIMES, "s"), rtol=1e-10, atol=1e-10)
    expected = a0 * (1 - np.exp(-x0 / K * (1 - np.exp(-K * TIMES))))
    np.testing.assert_allclose(values(dataset, "B", "molecule"), expected, rtol=1e-7, atol=1e-8)


def test_sensitivities_of_a_variable_are_exact() -> None:
    """p = p0·exp(-k·t): k·∂p/∂k = -k·t·p and p0·∂p/∂p0 = p."""
    dataset = dg.simulate_sensitivities(
        decay().build(), t=registry().Quantity(TIMES, "s"), wrt=["k", "p.initial"], rtol=1e-10
    )
    p = P0 * np.exp(-K * TIMES)
    sensitivity = np.asarray(dataset["p_sensitivity"].pint.to("nM").pint.magnitude)
    np.testing.assert_allclose(sensitivity[:, 0], -K * TIMES * p, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(sensitivity[:, 1], p, rtol=1e-6)


def test_a_protocol_step_sets_a_variable() -> None:
    """Set p to 5 nM at 10 s: p = 5·exp(-k·(t - 10)) after it."""
    steps = [{"at": "10 s", "set": {"p": "5 nM"}}]
    dataset = dg.simulate(decay().build(), t=registry().Quantity(TIMES, "s"), protocol=steps, rtol=1e-10)
    after = TIMES > 10
    np.testing.assert_allclose(
        values(dataset, "p", "nM")[after], 5 * np.exp(-K * (TIMES[after] - 10)), rtol=1e-6
    )


def test_the_model_file_reads_and_writes_variables() -> None:
    model = decay().build()
    text = dumps_model(model)
    assert "variable = true" in text
    back = loads_model(text)
    assert back == model and back.content_hash == model.content_hash
    assert back.get_species("p").variable


def test_the_flag_is_hashed_only_when_set() -> None:
    """Models written before variables existed keep their content hash."""
    chemical = Species("A", UnitValue(1.0, "nM"), compartment="c")
    assert "variable" not in _plain(chemical)
    assert _plain(Species("A", UnitValue(1.0, "nM"), variable=True))["variable"] is True
    model = decay().build()
    flipped = model.replace(species=(Species("p", UnitValue(P0, "nM"), variable=False),))
    assert flipped.content_hash != model.content_hash


def test_a_negative_variable_is_allowed_with_the_parameter_warning() -> None:
    """Like a parameter, a variable's sign may mean something (V403, a warning); going below
    zero during the run is not a ResultWarning."""
    model = (
        decay().species("q", "-1 dimensionless", variable=True).reaction("0 -> q", "-k").build(validate=False)
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        issues = dg.validate(model)
        dg.simulate(model, t="30 s")
    assert [issue.code for issue in issues] == ["V403"]
    assert not [w for w in caught if issubclass(w.category, ResultWarning)]


@pytest.mark.parametrize(
    ("change", "code", "location"),
    [
        (lambda b: b.reaction("0 -> p", "mass_action(k)"), "R603", "reactions[1].rate"),
        (lambda b: b.species("A", "1 molecule").reaction("p -> A", "k*p*1"), "R603", "reactions[1].equation"),
        (lambda b: b.reaction("0 -> p", "k"), "U101", "reactions[1].rate"),
        (lambda b: b.species("p", "1 nM", variable=True, boundary=True), "R603", "species.p.boundary"),
    ],
    ids=["mass-action", "chemical-reaction", "rate-unit", "boundary"],
)
def test_misused_variables_are_located_errors(change, code, location) -> None:
    with pytest.raises(ModelValidationError) as caught:
        change(decay()).build()
    found = [(issue.code, issue.location) for issue in caught.value.issues]
    assert (code, location) in found, found


def test_an_atol_of_another_dimension_than_a_variable_is_refused() -> None:
    model = decay().build()
    with pytest.raises(UnitError, match="model variable 'p'"):
        dg.simulate(model, t="1 s", atol="1e-3 molecule")
    dg.simulate(model, t="1 s", atol="1e-6 nM")  # its own dimension: taken as it is


def test_describe_lists_variables_with_their_rate() -> None:
    text = describe(decay().build())
    assert "species (0; 1 reactions):" in text
    assert "model variables (initial value, d/dt):" in text
    assert "dp/dt = -k*p" in text


def test_a_variable_of_another_base_dimension_is_reported_in_si() -> None:
    """A temperature heated at 0.5 K/s in a model timed in minutes: T = 300 K + 0.5 K/s · t,
    reported in kelvin (the unit every unit system keeps temperatures in)."""
    model = (
        dg.ModelBuilder("heating", units={"time": "min"})
        .species("T", "300 K", variable=True)
        .parameter("r", "0.5 K/s")
        .reaction("0 -> T", "r")
        .build()
    )
    dataset = dg.simulate(model, t=registry().Quantity(TIMES, "s"))
    assert dataset["T"].attrs["units_as_written"] == "K"
    np.testing.assert_allclose(values(dataset, "T", "K"), 300.0 + 0.5 * TIMES, rtol=1e-9)
