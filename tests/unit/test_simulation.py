"""simulate(): times, overrides in any unit, protocols, solvers, failures and provenance."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

import degranulation as dg
from degranulation.units import registry


@pytest.fixture(scope="module")
def decay():
    # A -> B with k = 0.5 1/min: A(t) = A0·exp(-k t) exactly.
    return (
        dg.ModelBuilder("decay", units={"time": "min", "concentration": "uM", "amount": "nmol"})
        .compartment("well", "100 uL")
        .species("A", "2 uM", compartment="well")
        .species("B", "0 uM", compartment="well")
        .parameter("k", "0.5 1/min")
        .reaction("A -> B", "mass_action(k)")
        .observable("A_amount", "well*A", "pmol")
        .build()
    )


def a_exact(t_min, a0=2.0, k=0.5):
    return a0 * np.exp(-k * np.asarray(t_min))


def test_end_time_and_points(decay):
    ds = dg.simulate(decay, t="10 min", points=21, rtol=1e-10, atol=1e-12)
    assert ds.sizes["time"] == 21
    assert str(ds["time"].pint.units) == "minute"
    np.testing.assert_allclose(ds["A"].pint.magnitude, a_exact(np.linspace(0, 10, 21)), rtol=1e-7)
    # observable in its declared unit: 100 uL · A uM = 200 pmol at t = 0
    assert ds["A_amount"].pint.magnitude[0] == pytest.approx(200.0)
    assert str(ds["A_amount"].pint.units) == "picomole"


def test_times_in_any_unit(decay):
    ds = dg.simulate(decay, t=["0 s", "30 s", "0.5 h"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ds["time"].pint.magnitude, [0, 0.5, 30])
    quantity = registry().Quantity(np.array([0.0, 60.0, 120.0]), "s")
    ds = dg.simulate(decay, t=quantity, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ds["A"].pint.magnitude, a_exact([0, 1, 2]), rtol=1e-7)


def test_output_times_after_zero_still_start_from_the_initial_state(decay):
    # The model's initial values hold at t = 0, so t = [4 min, 6 min] reports A0·exp(-k t) there,
    # also when a protocol step comes before the first output time.
    ds = dg.simulate(decay, t=["4 min", "6 min"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ds["A"].pint.magnitude, a_exact([4, 6]), rtol=1e-7)
    stepped = dg.simulate(
        decay, t=["4 min", "6 min"], protocol=[{"at": "2 min", "add": {"A": "1 uM"}}], rtol=1e-10, atol=1e-12
    )
    after_step = a_exact([2])[0] + 1.0  # A(2 min) + 1 uM, then decay for 2 and 4 more minutes
    np.testing.assert_allclose(stepped["A"].pint.magnitude, a_exact([2, 4], a0=after_step), rtol=1e-7)


@pytest.mark.parametrize(
    ("t", "error"),
    [
        (10, dg.UnitError),
        ("10 nM", dg.UnitError),
        ("-1 min", dg.UnitError),
        (["2 min", "1 min"], ValueError),
        ([1.0, 2.0], dg.UnitError),
    ],
)
def test_bad_times(decay, t, error):
    with pytest.raises(error):
        dg.simulate(decay, t=t)


def test_overrides_in_compatible_units_are_identical(decay):
    base = dg.simulate(decay, t="5 min", params={"k": "0.5 1/min"}, initial={"A": "2 uM"})
    other = dg.simulate(decay, t="5 min", params={"k": f"{0.5 / 60!r} 1/s"}, initial={"A": "2000 nM"})
    np.testing.assert_allclose(base["A"].pint.magnitude, other["A"].pint.magnitude, rtol=1e-12)
    bigger = dg.simulate(decay, t="5 min", params={"well": "200 uL"})
    assert bigger["A_amount"].pint.magnitude[0] == pytest.approx(400.0)


def test_override_errors_name_the_entry(decay):
    with pytest.raises(dg.ModelError, match="unknown parameter or compartment 'kk'") as caught:
        dg.simulate(decay, params={"kk": "1 1/s"})
    assert caught.value.hint == "did you mean 'k'?"
    with pytest.raises(dg.ModelError) as caught:
        dg.simulate(decay, params={"A": "1 uM"})
    assert "initial=" in caught.value.hint
    with pytest.raises(dg.UnitError) as caught:
        dg.simulate(decay, params={"k": "0.5 nM"})
    assert caught.value.location == "params.k"
    with pytest.raises(dg.UnitError, match="not finite"):
        dg.simulate(decay, initial={"A": "nan uM"})
    with pytest.raises(dg.UnitError, match="has no unit"):
        dg.simulate(decay, params={"k": 0.5})


def test_mass_concentrations_need_a_molar_mass():
    model = (
        dg.ModelBuilder("antigen")
        .compartment("medium", "1 mL")
        .species("Ag", "10 ng/mL", compartment="medium", molar_mass="66.5 kDa")
        .build()
    )
    ds = dg.simulate(model, t="1 s", points=2, initial={"Ag": "20 ng/mL"})
    # 20 ng/mL of a 66.5 kDa protein is 0.3008 nM (1 Da·N_A = 0.99999999965 g/mol since 2019)
    assert ds["Ag"].pint.to("nM").pint.magnitude[0] == pytest.approx(20e-9 / 66.5e3 * 1e3 * 1e9, rel=1e-8)


@pytest.mark.parametrize(
    "solver",
    [
        "BDF",
        "Radau",
        "LSODA",
        pytest.param("CVODE", marks=pytest.mark.requires_sundials),
        dg.BDF(rtol=1e-10, atol=1e-12),
    ],
)
def test_solvers_agree_with_the_exact_solution(decay, solver):
    ds = dg.simulate(decay, t="10 min", solver=solver, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ds["A"].pint.magnitude, a_exact(np.linspace(0, 10, 101)), rtol=1e-6)


def test_unknown_solver_lists_choices(decay):
    with pytest.raises(ValueError, match="expected one of BDF, Radau, LSODA"):
        dg.simulate(decay, solver="rk45")


@pytest.mark.parametrize("solver", ["BDF", pytest.param("CVODE", marks=pytest.mark.requires_sundials)])
def test_protocol_steps(decay, solver):
    protocol = [
        {"at": "2 min", "set": {"A": "1 uM"}},  # wash to a new value
        {"at": "4 min", "add": {"A": "1 uM"}},  # add more
        {"at": "6 min", "clamp": {"A": "0.5 uM"}},  # hold constant
        {"at": "8 min", "release": ["A"]},
    ]
    ds = dg.simulate(decay, t="10 min", points=11, protocol=protocol, solver=solver, rtol=1e-10, atol=1e-12)
    a = ds["A"].pint.magnitude
    assert a[2] == pytest.approx(1.0)  # right after the set
    assert a[4] == pytest.approx(1.0 * math.exp(-1.0) + 1.0, rel=1e-7)  # decayed, then +1
    np.testing.assert_allclose(a[6:9], 0.5, rtol=1e-12)  # clamped
    assert a[10] == pytest.approx(0.5 * math.exp(-1.0), rel=1e-7)  # released
    # B gains exactly what A loses while A is free (A is replaced during steps)
    assert ds["B"].pint.magnitude[7] > ds["B"].pint.magnitude[6]
    steps = json.loads(ds.attrs["protocol"])
    assert steps[0] == {"at": "2.0 min", "action": "set", "target": "A", "value": "1.0 uM"}


def test_protocol_can_set_parameters(decay):
    ds = dg.simulate(
        decay, t="4 min", points=5, protocol=[{"at": "2 min", "set": {"k": "0 1/s"}}], rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(ds["A"].pint.magnitude[2:], a_exact(2.0), rtol=1e-8)


def test_protocol_errors(decay):
    with pytest.raises(dg.ModelError, match="no protocol 'pulse'"):
        dg.simulate(decay, protocol="pulse")
    with pytest.raises(dg.ModelError, match="unknown add target 'C'"):
        dg.simulate(decay, protocol=[{"at": "1 min", "add": {"C": "1 uM"}}])
    with pytest.raises(dg.ModelError, match="applies to species"):
        dg.simulate(decay, protocol=[{"at": "1 min", "clamp": {"k": "1 1/s"}}])
    with pytest.raises(dg.UnitError):
        dg.simulate(decay, protocol=[{"at": "1 uM", "set": {"A": "1 uM"}}])


def blowup() -> dg.Model:
    return (
        dg.ModelBuilder("blowup")
        .compartment("cell", "1 pL")
        .species("A", "1 molecule", compartment="cell")
        .parameter("k", "10 1/s")
        .reaction("A -> 2 A", "mass_action(k)")
        .build()
    )


@pytest.mark.requires_sundials
def test_cvode_failure_reports_time():
    with pytest.raises(dg.SimulationError, match="solver failed at t = "):  # CVODE's own message too
        dg.simulate(blowup(), t="1000 s", solver="CVODE")


def test_solver_failure_reports_time_and_state():
    model = blowup()
    with pytest.raises(dg.SimulationError) as caught:
        dg.simulate(model, t="1000 s")
    error = caught.value
    assert 0 < error.t_fail < 1000
    assert set(error.state) == {"A"}
    again = pickle.loads(pickle.dumps(error))
    assert (again.t_fail, again.state, str(again)) == (error.t_fail, error.state, str(error))


def test_undefined_rates_are_named_when_the_solver_stops():
    # The production stops being defined at t_on (a piecewise with no 'otherwise'): the solver
    # cannot step past it, and the error says which rate is not a number.
    model = (
        dg.ModelBuilder("switch", units={"time": "s", "concentration": "nM", "amount": "nmol"})
        .compartment("cell", "1 L")
        .species("A", "0 nM", compartment="cell")
        .parameter("k", "2 nM/s")
        .parameter("t_on", "5 s")
        .reaction("-> A", "cell*piecewise(k, t < t_on)")
        .build()
    )
    with pytest.raises(dg.SimulationError, match="rate of change of A is not a number") as caught:
        dg.simulate(model, t="10 s", solver="BDF")
    assert caught.value.t_fail == pytest.approx(5.0)
    assert caught.value.state["A"] == pytest.approx(10.0, rel=1e-6)  # k·t_on made before it stopped
    # LSODA (the default for this size) accepts the step whose error estimate is NaN and stops
    # only once the state is no longer a number: the error still names A, and where from.
    with pytest.raises(dg.SimulationError, match="rate of change of A is not a number from t = 5 on"):
        dg.simulate(model, t="10 s")


def test_provenance(decay):
    ds = dg.simulate(decay, t="1 min", params={"k": "1 1/min"}, solver=dg.Radau(rtol=1e-7))
    assert ds.attrs["model_id"] == "decay"
    assert ds.attrs["model_hash"] == decay.content_hash
    assert json.loads(ds.attrs["parameters"])["k"] == "1.0 1/min"
    assert json.loads(ds.attrs["solver"])["method"] == "Radau"
    assert json.loads(ds.attrs["solver"])["rtol"] == 1e-7
    assert json.loads(ds.attrs["counters"])["nfev"] > 0
    from degranulation.formats.toml import loads_model

    assert loads_model(ds.attrs["model_toml"]) == decay


def test_compiled_model_pickles(decay):
    from degranulation.codegen import compile_model

    compiled = compile_model(decay, cache_dir=False)
    again = pickle.loads(pickle.dumps(compiled))
    x = compiled.default_initial
    fun, _ = compiled.functions(compiled.default_parameters)
    fun2, jac2 = again.functions(again.default_parameters)
    np.testing.assert_array_equal(fun(0.0, x), fun2(0.0, x))
    assert jac2(0.0, x).shape == (2, 2)


def test_disk_cache_round_trip(decay, tmp_path):
    from degranulation import codegen

    codegen._MEMORY.clear()
    first = codegen.compile_model(decay, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    codegen._MEMORY.clear()
    second = codegen.compile_model(decay, cache_dir=tmp_path)
    assert second is not first
    np.testing.assert_array_equal(second.default_parameters, first.default_parameters)
    assert second.source == first.source


def test_conservation_drift_is_reported(decay):
    from degranulation.codegen import compile_model
    from degranulation.errors import ConservationWarning
    from degranulation.results import Trajectory
    from degranulation.simulation import check_conservation

    compiled = compile_model(decay)
    assert compiled.conservation_laws == ((1, 1),)
    leaky = Trajectory(
        np.array([0.0, 1.0]), np.array([[2.0, 1.0], [0.0, 0.5]]), compiled.default_parameters, {}
    )
    with pytest.warns(ConservationWarning, match=r"1\*A \+ 1\*B changed by 0.05 \(from 0.2\)"):
        check_conservation(compiled, leaky, dg.BDF())
    # A total that is zero is judged by atol, so solver noise around zero is not reported.
    quiet = Trajectory(
        np.array([0.0, 1.0]), np.array([[0.0, 1e-16], [0.0, -1e-16]]), compiled.default_parameters, {}
    )
    check_conservation(compiled, quiet, dg.BDF())
