"""Forward sensitivities: against central finite differences on every library model, against
closed-form derivatives, and through every kind of protocol step."""

from __future__ import annotations

import math

import numpy as np
import pytest

import degranulation as dg
from degranulation.codegen import compile_model
from degranulation.library import list_models
from degranulation.protocols import protocol_steps, resolve
from degranulation.sensitivities import (
    integrate_sensitivities,
    observable_derivatives,
    observable_sensitivities,
    targets,
)
from degranulation.simulation import integrate

TIGHT = dg.BDF(rtol=1e-10, atol=1e-12)
STEP = 1e-3  # relative step of the central differences: truncation error ~1e-7, noise ~rtol/STEP


def central_difference(compiled, times, x0, p, events, target):
    """(∂x/∂θ, ∂obs/∂θ) by central differences of two tight simulations."""
    value = x0[target.index] if target.is_initial else p[target.index]
    h = STEP * abs(value)
    runs = []
    for sign in (1.0, -1.0):
        x, q = x0.copy(), p.copy()
        (x if target.is_initial else q)[target.index] = value + sign * h
        run = integrate(compiled, times, x, q, TIGHT, events)
        runs.append((run.x, compiled.observe(run.x, run.p, run.t)))
    return tuple((plus - minus) / (2 * h) for plus, minus in zip(runs[0], runs[1], strict=True))


def assert_close(ours, reference, values, theta, name):
    # 1e-4 relative (the criterion). Entries that are zero up to solver error are
    # compared on the output's own scale: a floor of 1e-6·max|y|/|θ| per output (the central
    # differences' own noise is about rtol/STEP = 1e-7 of that).
    floor = 1e-6 * np.abs(values).max(axis=-1, keepdims=True) / abs(theta) + 1e-300
    excess = np.abs(ours - reference) - (1e-4 * np.abs(reference) + floor)
    assert excess.max(initial=-1.0) <= 0, f"{name}: worst {np.unravel_index(excess.argmax(), excess.shape)}"


def library_cases():
    # Generated networks with thousands of reactions take about a minute: marked slow.
    def is_large(info):
        return info.path.read_text(encoding="utf-8").count("[[reactions]]") > 500

    return [
        pytest.param(info.id, id=info.id, marks=[pytest.mark.slow] if is_large(info) else [])
        for info in list_models()
    ]


@pytest.mark.parametrize("model_id", library_cases())
def test_every_library_model_matches_central_differences(model_id):
    model = dg.load_model(model_id)
    compiled = compile_model(model, sensitivities=True)
    steps = protocol_steps(model, None)
    events = resolve(model, compiled, steps)
    # Ten minutes covers the first protocol step of every library model's default protocol.
    t_end = model.units.magnitude(10.0, "min")
    times = np.linspace(0.0, t_end, 6)
    p, x0 = compiled.default_parameters, compiled.default_initial
    names = [q for k, q in enumerate(compiled.parameters) if p[k] != 0]
    # Up to six parameters spread over the model's list, and one initial value, keep the
    # central differences (two tight solves each) affordable for every model.
    names = names[:: max(1, math.ceil(len(names) / (3 if compiled.n_species > 100 else 6)))]
    names += [f"{s}.initial" for i, s in enumerate(compiled.species) if x0[i] > 0][:1]
    wrt = targets(model, compiled, names)
    run = integrate_sensitivities(compiled, times, x0, p, dg.BDF(rtol=1e-10, atol=1e-12), events, wrt)
    observed = observable_sensitivities(observable_derivatives(model, compiled), run, wrt)
    outputs = compiled.observe(run.x, run.p, run.t)
    for j, target in enumerate(wrt):
        theta = x0[target.index] if target.is_initial else p[target.index]
        states, observables = central_difference(compiled, times, x0, p, events, target)
        assert_close(run.s[:, j, :], states, run.x, theta, f"{model_id}: d(species)/d{target.name}")
        assert_close(
            observed[:, j, :], observables, outputs, theta, f"{model_id}: d(observables)/d{target.name}"
        )


@pytest.fixture(scope="module")
def decay():
    # A -> B, k = 0.3 1/min: A = A0·exp(-k t), so ∂A/∂A0 = exp(-k t), ∂A/∂k = -t·A0·exp(-k t).
    return (
        dg.ModelBuilder("decay", units={"time": "min", "concentration": "uM", "amount": "nmol"})
        .compartment("well", "100 uL")
        .species("A", "2 uM", compartment="well")
        .species("B", "0 uM", compartment="well")
        .parameter("k", "0.3 1/min")
        .parameter("k_in", "0.5 uM/min")
        .reaction("A -> B", "mass_action(k)")
        .reaction("0 -> A", "k_in * well")
        .observable("A_pmol", "well*A", "pmol")
        .build()
    )


def test_closed_form_first_order_decay(decay):
    model = decay.replace(reactions=decay.reactions[:1])
    compiled = compile_model(model, sensitivities=True)
    times = np.linspace(0.0, 10.0, 11)
    wrt = targets(model, compiled, ["k", "A.initial"])
    run = integrate_sensitivities(
        compiled,
        times,
        compiled.default_initial,
        compiled.default_parameters,
        dg.BDF(rtol=1e-10, atol=1e-13),
        (),
        wrt,
    )
    a = 2.0 * np.exp(-0.3 * times)
    np.testing.assert_allclose(run.s[0, 0], -times * a, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(run.s[0, 1], np.exp(-0.3 * times), rtol=1e-7)
    np.testing.assert_allclose(run.s[1, 1], 1 - np.exp(-0.3 * times), rtol=1e-7, atol=1e-12)  # B = A0 - A
    # Observables: A_pmol = well·A in pmol (100 uL · 1 uM = 100 pmol).
    observed = observable_sensitivities(observable_derivatives(model, compiled), run, wrt)
    np.testing.assert_allclose(observed[0, 1], 100 * np.exp(-0.3 * times), rtol=1e-7)


@pytest.mark.parametrize(
    "protocol",
    [
        pytest.param([{"at": "3 min", "set": {"A": "1 uM"}}], id="set-species"),
        pytest.param([{"at": "3 min", "add": {"A": "1 uM"}}], id="add"),
        pytest.param(
            [{"at": "3 min", "clamp": {"A": "0.5 uM"}}, {"at": "6 min", "release": ["A"]}], id="clamp-release"
        ),
        pytest.param([{"at": "3 min", "set": {"k": "1 1/min"}}], id="set-parameter"),
        pytest.param([{"at": "0 min", "set": {"A": "4 uM"}}], id="set-at-start"),
    ],
)
def test_protocol_steps_match_central_differences(decay, protocol):
    compiled = compile_model(decay, sensitivities=True)
    events = resolve(decay, compiled, protocol_steps(decay, protocol))
    times = np.array([0.0, 1.0, 3.0, 4.0, 6.0, 8.0])
    p, x0 = compiled.default_parameters, compiled.default_initial
    wrt = targets(decay, compiled, ["k", "k_in", "A.initial"])
    run = integrate_sensitivities(compiled, times, x0, p, dg.BDF(rtol=1e-10, atol=1e-13), events, wrt)
    for j, target in enumerate(wrt):
        theta = x0[target.index] if target.is_initial else p[target.index]
        states, _ = central_difference(compiled, times, x0, p, events, target)
        assert_close(run.s[:, j, :], states, run.x, theta, f"d/d{target.name}")


def test_set_and_clamp_make_the_species_independent_of_parameters(decay):
    compiled = compile_model(decay, sensitivities=True)
    protocol = [{"at": "3 min", "clamp": {"A": "0.5 uM"}}]
    events = resolve(decay, compiled, protocol_steps(decay, protocol))
    times = np.array([0.0, 2.0, 3.0, 5.0])
    wrt = targets(decay, compiled, ["k", "A.initial"])
    run = integrate_sensitivities(
        compiled,
        times,
        compiled.default_initial,
        compiled.default_parameters,
        dg.BDF(rtol=1e-10, atol=1e-13),
        events,
        wrt,
    )
    assert np.all(run.s[0, :, 1] != 0)
    np.testing.assert_array_equal(run.s[0, :, 2:], 0.0)  # clamped from 3 min on
    assert np.all(run.s[1, :, 3] != 0)  # B keeps what it gained before the clamp


def test_public_function_gives_relative_sensitivities_with_units():
    ds = dg.simulate_sensitivities("ige_fceri_crosslinking", t="60 s", wrt=["kp1", "R"], points=4)
    assert list(ds["parameter"].values) == ["kp1", "R.initial"]
    assert ds["RecDim_sensitivity"].dims == ("time", "parameter")
    assert str(ds["RecDim_sensitivity"].pint.units) == str(ds["RecDim"].pint.units)
    # θ·∂y/∂θ: compare with a relative central difference of RecDim in kp1.
    plus = dg.simulate(
        "ige_fceri_crosslinking",
        t="60 s",
        points=4,
        params={"kp1": f"{1.32845238e-10 * 1.001} 1/(molecule*s)"},
        rtol=1e-11,
        atol=1e-8,
    )
    minus = dg.simulate(
        "ige_fceri_crosslinking",
        t="60 s",
        points=4,
        params={"kp1": f"{1.32845238e-10 * 0.999} 1/(molecule*s)"},
        rtol=1e-11,
        atol=1e-8,
    )
    difference = (plus["RecDim"].pint.magnitude - minus["RecDim"].pint.magnitude) / 0.002
    np.testing.assert_allclose(ds["RecDim_sensitivity"].pint.magnitude[:, 0], difference, rtol=1e-3)


def test_unknown_target_is_named_with_a_suggestion():
    model = dg.load_model("ige_fceri_crosslinking")
    with pytest.raises(dg.ModelError, match="did you mean 'kp1'"):
        targets(model, compile_model(model, sensitivities=True), ["kp_1"])
