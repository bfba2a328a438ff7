"""Events triggered by the state (ModelEvent), checked against closed forms.

References: the analytic solution of x' = -k·x, x = x0·exp(-k·t), which crosses x0/2 after
ln(2)/k exactly; the event semantics are SBML Level 3 Version 2's (section 4.12: triggers
fire on a false→true transition, delays, priorities, persistence, initialValue,
useValuesFromTriggerTime).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import degranulation as dg
from degranulation.errors import ModelValidationError, UnsupportedFeatureError
from degranulation.network import Model, ModelEvent, Parameter, Reaction, Species, UnitValue

K = 0.3  # 1/s
HALF_LIFE = math.log(2) / K


def decay(*events: ModelEvent, extra: tuple[Species, ...] = ()) -> Model:
    """x' = -K x from 1 molecule; ``y`` (and ``extra``) are species no reaction changes."""
    return Model(
        "decay",
        species=(
            Species("x", UnitValue(1.0, "molecule")),
            Species("y", UnitValue(0.0, "molecule")),
            *extra,
        ),
        parameters=(
            Parameter("k", UnitValue(K, "1/s")),
            Parameter("half", UnitValue(0.5, "molecule")),
            Parameter("one", UnitValue(1.0, "molecule")),
            Parameter("t1", UnitValue(1.0, "s")),
            Parameter("t2", UnitValue(1.5, "s")),
            Parameter("t3", UnitValue(3.0, "s")),
            Parameter("lag", UnitValue(1.0, "s")),
        ),
        reactions=(Reaction("r", "x -> 0", "k*x"),),
        events=events,
    )


def run(model: Model, t: str = "10 s", points: int = 1001, **options: object) -> dict[str, np.ndarray]:
    ds = dg.simulate(model, t=t, points=points, rtol=1e-10, atol=1e-12, cache_dir=False, **options)
    return {name: np.asarray(ds[name].pint.magnitude) for name in ("time", *model.species_ids)}


RESET = ModelEvent("reset", "x < half", (("x", "one"),))


@pytest.mark.parametrize(
    "solver", ["BDF", "Radau", "LSODA", pytest.param("CVODE", marks=pytest.mark.requires_sundials)]
)
def test_reset_on_threshold_is_periodic(solver: str) -> None:
    """Reset to 1 whenever x falls below 1/2: x = exp(-k·(t mod T)), T = ln(2)/k."""
    out = run(decay(RESET), t="20 s", points=2001, solver=solver)
    t = out["time"]
    phase = np.mod(t, HALF_LIFE)
    away = np.minimum(phase, HALF_LIFE - phase) > 1e-6  # not at an event time itself
    np.testing.assert_allclose(out["x"][away], np.exp(-K * phase[away]), rtol=1e-7)
    assert out["x"].min() >= 0.5 - 1e-7


def test_event_times_count() -> None:
    """An event that counts its firings: y = y + 1 at each reset, n = floor(t / T) by t."""
    counting = ModelEvent("reset", "x < half", (("x", "one"), ("y", "y + one")))
    out = run(decay(counting), t="20 s", points=201)
    phase = np.mod(out["time"], HALF_LIFE)
    away = np.minimum(phase, HALF_LIFE - phase) > 1e-6
    np.testing.assert_array_equal(out["y"][away], np.floor(out["time"][away] / HALF_LIFE))


def test_delay_executes_later_with_trigger_time_values() -> None:
    """x < 1/2 at T; after a delay of 1 s x is set to y+1 as it was at T (y = 0 then), while
    another event sets y = 5 at t = 3 s, between T = 2.31 s and T + 1 s."""
    delayed = ModelEvent("reset", "x < half", (("x", "y + one"),), delay="lag")
    set_y = ModelEvent("set_y", "t >= t3", (("y", "5*one"),))
    out = run(decay(delayed, set_y), t="4 s", points=401)
    t = out["time"]
    before = t < HALF_LIFE + 1.0 - 1e-9
    np.testing.assert_allclose(out["x"][before], np.exp(-K * t[before]), rtol=1e-7)
    after = t > HALF_LIFE + 1.0 + 1e-9
    np.testing.assert_allclose(out["x"][after], np.exp(-K * (t[after] - HALF_LIFE - 1.0)), rtol=1e-7)


def test_delay_with_execution_time_values() -> None:
    """The same, computing the assignment when it executes: y is 5 by then, so x = 6."""
    delayed = ModelEvent(
        "reset", "x < half", (("x", "y + one"),), delay="lag", use_values_from_trigger_time=False
    )
    set_y = ModelEvent("set_y", "t >= t3", (("y", "5*one"),))
    out = run(decay(delayed, set_y), t="4 s", points=401)
    after = out["time"] > HALF_LIFE + 1.0 + 1e-9
    expected = 6.0 * np.exp(-K * (out["time"][after] - HALF_LIFE - 1.0))
    np.testing.assert_allclose(out["x"][after], expected, rtol=1e-7)


@pytest.mark.parametrize(("first", "second", "expected"), [("2", "1", 2 * 3 + 1), ("1", "2", (3 + 1) * 2)])
def test_priority_orders_simultaneous_events(first: str, second: str, expected: float) -> None:
    """Two events at t = 1 s on y = 3: doubling (priority ``first``) and adding one
    (``second``), each computed when it executes: the higher priority goes first."""
    double = ModelEvent(
        "double", "t >= t1", (("y", "2*y"),), priority=first, use_values_from_trigger_time=False
    )
    add = ModelEvent(
        "add", "t >= t1", (("y", "y + one"),), priority=second, use_values_from_trigger_time=False
    )
    model = decay(double, add)
    model = model.replace(species=(model.species[0], Species("y", UnitValue(3.0, "molecule"))))
    out = run(model, t="2 s", points=3)
    assert out["y"].tolist() == [3.0, expected, expected]


@pytest.mark.parametrize(("persistent", "expected"), [(True, 7.0), (False, 0.0)])
def test_non_persistent_event_is_cancelled(persistent: bool, expected: float) -> None:
    """Triggered at 1 s, due at 2 s; its trigger is false again from 1.5 s: a non-persistent
    event never executes, a persistent one does."""
    event = ModelEvent("pulse", "t >= t1 and t < t2", (("y", "7*one"),), delay="lag", persistent=persistent)
    out = run(decay(event), t="3 s", points=31)
    assert out["y"][out["time"] > 2.0 + 1e-9].tolist() == [expected] * 10
    assert out["y"][out["time"] < 2.0 - 1e-9].max() == 0.0


@pytest.mark.parametrize(("initial_value", "expected"), [(True, 0.0), (False, 4.0)])
def test_initial_value_decides_firing_at_the_start(initial_value: bool, expected: float) -> None:
    """A trigger true at t = 0 fires there only if it was false before the start."""
    event = ModelEvent("start", "x > half", (("y", "4*one"),), initial_value=initial_value)
    out = run(decay(event), t="1 s", points=3)
    assert out["y"].tolist() == [expected] * 3


def test_cascade_at_one_time() -> None:
    """The reset sets y = 1, which triggers a second event at the same time (z = 2)."""
    chained = ModelEvent("chained", "y > half", (("z", "2*one"),))
    counting = ModelEvent("reset", "x < half", (("x", "one"), ("y", "one")))
    out = run(
        decay(counting, chained, extra=(Species("z", UnitValue(0.0, "molecule")),)), t="4 s", points=401
    )
    t = out["time"]
    np.testing.assert_array_equal(out["z"], np.where(t >= HALF_LIFE, 2.0, 0.0)[: len(t)] * (t > 0))


def test_event_changes_a_parameter() -> None:
    """At x = 1/2 (T = ln 2/k) the rate constant doubles: x = exp(-k·t), then
    exp(-k·T)·exp(-2k·(t - T)); k is reported over time, and so are observables using it."""
    event = ModelEvent("faster", "x < half", (("k", "2*k"),))
    model = decay(event).replace(observables=(dg.network.Observable("flux", "k*x", "molecule/s"),))
    ds = dg.simulate(model, t="6 s", points=601, rtol=1e-10, atol=1e-12, cache_dir=False)
    t = np.asarray(ds["time"].pint.magnitude)
    x = np.asarray(ds["x"].pint.magnitude)
    expected = np.where(t < HALF_LIFE, np.exp(-K * t), 0.5 * np.exp(-2 * K * (t - HALF_LIFE)))
    away = np.abs(t - HALF_LIFE) > 1e-6
    np.testing.assert_allclose(x[away], expected[away], rtol=1e-7)
    k = np.asarray(ds["k"].pint.to("1/s").pint.magnitude)
    np.testing.assert_array_equal(k[away], np.where(t < HALF_LIFE, K, 2 * K)[away])
    np.testing.assert_allclose(np.asarray(ds["flux"].pint.magnitude), k * x, rtol=1e-12)


def test_sensitivities_jump_at_a_reset() -> None:
    """x0 = 1 decays to h = 1/2, is reset to ``one`` = 1, and so on: after two resets
    x(t) = x0·one²·exp(-k·t)/h² (closed form), so θ·∂x/∂θ = x·(-k·t, -2, 2, 1) for k, h, one, x0:
    the reset times' own dependence on θ makes these, not the decay alone."""
    ds = dg.simulate_sensitivities(
        decay(RESET),
        t="5 s",
        wrt=["k", "half", "one", "x.initial"],
        points=2,
        rtol=1e-10,
        atol=1e-12,
        cache_dir=False,
    )
    x = 4.0 * math.exp(-K * 5.0)
    np.testing.assert_allclose(float(ds["x"].pint.magnitude[-1]), x, rtol=1e-8)
    sensitivity = np.asarray(ds["x_sensitivity"].pint.magnitude[-1])
    np.testing.assert_allclose(sensitivity, x * np.array([-K * 5.0, -2.0, 2.0, 1.0]), rtol=1e-6)


def test_sensitivities_follow_a_parameter_an_event_sets() -> None:
    """k doubles at x = 1/2 (T = ln 2/k): x(t) = 2·exp(-2k·t) after T, so θ·∂x/∂θ = -2k·t·x for
    θ = k; the observable k·x (k changed by the event) has θ·∂(k·x)/∂θ = (1 - 2k·t)·k·x."""
    event = ModelEvent("faster", "x < half", (("k", "2*k"),))
    model = decay(event).replace(observables=(dg.network.Observable("flux", "k*x", "molecule/s"),))
    ds = dg.simulate_sensitivities(
        model, t="5 s", wrt=["k"], points=2, rtol=1e-10, atol=1e-12, cache_dir=False
    )
    x = 2.0 * math.exp(-2 * K * 5.0)
    np.testing.assert_allclose(float(ds["x_sensitivity"].pint.magnitude[-1, 0]), -2 * K * 5.0 * x, rtol=1e-6)
    flux = float(ds["flux_sensitivity"].pint.to("molecule/s").pint.magnitude[-1, 0])
    np.testing.assert_allclose(flux, (1 - 2 * K * 5.0) * 2 * K * x, rtol=1e-6)


def test_fit_to_assay_data_follows_the_events() -> None:
    """A fit's predictions and gradient across resets (was refused as 'triggered by the state in
    fits'): x(t) from the closed form of the periodic reset, the gradient of ½Σr² against
    central differences."""
    import pandas as pd

    from degranulation.estimation.measurements import make_problem

    t = np.array([1.0, 3.0, 5.0, 7.0])
    frame = pd.DataFrame({"observable": "x", "time [s]": t, "value [molecule]": 0.6, "sd [molecule]": 0.1})
    problem = make_problem(
        decay(RESET), frame, estimate=["k", "half"], rtol=1e-10, atol=1e-12, cache_dir=False
    )
    phi = np.array([f.to_optimizer(f.nominal) for f in problem.free])
    prediction = problem.predict(phi)
    np.testing.assert_allclose(prediction.y, np.exp(-K * np.mod(t, HALF_LIFE)), rtol=1e-7)
    r, jacobian = problem.residuals(phi)
    assert jacobian is not None
    differences = []
    for j in range(len(phi)):
        step = np.zeros(len(phi))
        step[j] = 1e-5 * max(1.0, abs(phi[j]))
        differences.append((problem.cost(phi + step) - problem.cost(phi - step)) / (2 * step[j]))
    np.testing.assert_allclose(jacobian.T @ r, differences, rtol=1e-4)


def test_gradients_refuse_delayed_events() -> None:
    """A delayed event's execution time would move with θ through the delay too: refused for
    sensitivities, never a silently wrong gradient."""
    delayed = ModelEvent("reset", "x < half", (("x", "one"),), delay="lag")
    with pytest.raises(UnsupportedFeatureError, match="delay"):
        dg.simulate_sensitivities(decay(delayed), t="5 s", wrt=["k"], points=2, cache_dir=False)


def test_events_are_validated() -> None:
    """An assignment sets a species or parameter, in its unit; a trigger compares like with like."""
    bad = decay(
        ModelEvent("e1", "x < k", (("x", "one"),)),
        ModelEvent("e2", "x < half", (("nothing", "one"),)),
        ModelEvent("e3", "x < half", (("x", "t1"),), delay="one"),
    )
    with pytest.raises(ModelValidationError) as caught:
        dg.simulate(bad, t="1 s", cache_dir=False)
    found = {(issue.code, issue.location) for issue in caught.value.issues}
    assert found >= {
        ("U107", "events.e1.trigger"),
        ("N201", "events.e2.assign.nothing"),
        ("U107", "events.e3.assign.x"),
        ("U107", "events.e3.delay"),
    }


@pytest.mark.parametrize("solver", ["BDF", "LSODA"])
def test_sweeps_follow_state_events(solver: str) -> None:
    """Each point's resets at its own times (was refused): x(5 s) = exp(-k·(5 mod T)) with
    T = ln 2/k per k (closed form); LSODA, which stacks points otherwise, solves them one by one."""
    ks = [0.1, 0.3, 0.5]
    ds = dg.sweep(
        decay(RESET),
        {"k": [f"{k} 1/s" for k in ks]},
        at="5 s",
        observe="x",
        solver=solver,
        rtol=1e-10,
        atol=1e-12,
        cache_dir=False,
    )
    expected = [math.exp(-k * (5.0 % (math.log(2) / k))) for k in ks]
    np.testing.assert_allclose(np.asarray(ds["x"].pint.magnitude).ravel(), expected, rtol=1e-7)
    with pytest.raises(ValueError, match="events"):
        dg.sweep(
            decay(RESET), {"k": ["0.1 1/s", "0.2 1/s"]}, at="1 s", solver="LSODA", batch=2, cache_dir=False
        )


@pytest.mark.filterwarnings("ignore:.*declared but no rate law:degranulation.errors.ModelWarning")
def test_events_round_trip_through_the_model_file(tmp_path: Path) -> None:
    """``[events.<id>]`` tables: written, read back equal, and simulated the same."""
    event = ModelEvent(
        "reset",
        "x < half",
        (("x", "one"), ("y", "y + one")),
        delay="lag",
        priority="2",
        persistent=False,
        initial_value=False,
        use_values_from_trigger_time=False,
    )
    model = decay(event)
    path = dg.write_model(model, tmp_path / "decay.toml")
    assert "[events.reset]" in path.read_text()
    assert dg.load_model(path) == model


@pytest.mark.requires_sbml
@pytest.mark.filterwarnings("ignore:.*declared but no rate law:degranulation.errors.ModelWarning")
def test_events_round_trip_through_sbml(tmp_path: Path) -> None:
    """Written as SBML events and read back, the model simulates the same."""
    counting = ModelEvent("reset", "x < half", (("x", "one"), ("y", "y + one")), priority="1")
    delayed = ModelEvent("late", "t >= t1 and t < t2", (("y", "y + 2*one"),), delay="lag", persistent=False)
    model = decay(counting, delayed)
    path = dg.write_sbml(model, tmp_path / "decay.xml")
    back = dg.read_sbml(path)
    assert [e.id for e in back.events] == ["reset", "late"]
    ours, theirs = run(model, t="8 s", points=81), run(back, t="8 s", points=81)
    for name in ("x", "y"):
        np.testing.assert_allclose(theirs[name], ours[name], rtol=1e-9, atol=1e-12)
