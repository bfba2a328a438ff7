"""The solver contract (degranulation.solvers): segments, counters and event roots, checked
against closed forms."""

import math

import numpy as np
import pytest
import scipy.sparse

import degranulation as dg
from degranulation.solvers import (
    CVODE,
    LSODA,
    EventFunction,
    SegmentFailure,
    Solver,
    solver_from,
)

K = 0.7  # y' = -K y, y(0) = 1: y = exp(-K t), crossing 1/2 at ln 2 / K


def decay(t, y):
    return -K * y


def decay_jac(t, y):
    return scipy.sparse.csr_array([[-K]])


def _solvers():
    solvers = [
        dg.BDF(rtol=1e-11, atol=1e-13),
        dg.Radau(rtol=1e-11, atol=1e-13),
        LSODA(rtol=1e-11, atol=1e-13),
    ]
    try:
        import sksundae  # noqa: F401
    except ImportError:
        return solvers
    return [*solvers, CVODE(rtol=1e-11, atol=1e-13)]


@pytest.mark.parametrize("solver", _solvers(), ids=lambda s: s.name)
def test_segment_outputs_and_end_state_follow_the_closed_form(solver):
    t_eval = np.array([1.5, 2.0, 3.5])
    segment = solver.solve_segment(decay, decay_jac, 1.0, np.array([math.exp(-K)]), 4.0, t_eval)
    assert isinstance(solver, Solver)
    assert segment.t == 4.0 and segment.event is None
    np.testing.assert_allclose(segment.values[0], np.exp(-K * t_eval), rtol=1e-8)
    np.testing.assert_allclose(segment.y, [math.exp(-4 * K)], rtol=1e-8)
    assert set(segment.counters) == {"nfev", "njev", "nlu", "steps"} and segment.counters["nfev"] > 0


@pytest.mark.parametrize("solver", _solvers(), ids=lambda s: s.name)
def test_event_root_is_located_and_stops_the_segment(solver):
    # Root of exp(-K t) - 1/2 at ln(2)/K = 0.990210...; an output after it is not reported.
    t_eval = np.array([0.5, 0.9, 1.2])
    events = [EventFunction(lambda t, y: y[0] - 0.5, direction=-1)]
    segment = solver.solve_segment(decay, decay_jac, 0.0, np.array([1.0]), 5.0, t_eval, events)
    root = math.log(2) / K
    assert segment.event == 0
    assert abs(segment.t - root) < 1e-8
    np.testing.assert_allclose(segment.y, [0.5], rtol=1e-8)
    np.testing.assert_allclose(segment.values, [np.exp(-K * t_eval[:2])], rtol=1e-8)


@pytest.mark.parametrize("solver", _solvers(), ids=lambda s: s.name)
def test_event_direction_and_first_root_among_several(solver):
    # y falls through 0.8 (t = ln(1.25)/K) before 0.5; a rising-only function never fires.
    events = [
        EventFunction(lambda t, y: y[0] - 0.5),
        EventFunction(lambda t, y: y[0] - 0.8, direction=+1),
        EventFunction(lambda t, y: 0.8 - y[0], direction=+1),
    ]
    segment = solver.solve_segment(decay, decay_jac, 0.0, np.array([1.0]), 5.0, np.array([]), events)
    assert segment.event == 2
    assert abs(segment.t - math.log(1.25) / K) < 1e-8


def test_event_root_in_a_late_segment_is_in_the_models_time():
    segment = dg.BDF(rtol=1e-11, atol=1e-13).solve_segment(
        decay,
        decay_jac,
        300.0,
        np.array([1.0]),
        310.0,
        np.array([]),
        [EventFunction(lambda t, y: t - 303.25)],
    )
    assert abs(segment.t - 303.25) < 1e-9
    np.testing.assert_allclose(segment.y, [math.exp(-K * 3.25)], rtol=1e-8)


def test_segment_failure_reports_the_time_reached():
    # y' = y², y(0) = 1 blows up at t = 1.
    with pytest.raises(SegmentFailure) as caught:
        dg.BDF().solve_segment(
            lambda t, y: y**2,
            lambda t, y: scipy.sparse.csr_array([[2 * y[0]]]),
            0.0,
            np.array([1.0]),
            2.0,
            np.array([]),
        )
    assert 0.9 < caught.value.t <= 1.0


def test_event_direction_is_checked():
    with pytest.raises(ValueError, match="direction"):
        EventFunction(lambda t, y: y[0], direction=2)


def test_solver_from_keeps_lsoda_bands():
    # Regression: solver_from rebuilt the options from rtol/atol/max_step/first_step only.
    solver = solver_from(LSODA(lower=2, upper=3), rtol=1e-4)
    assert (solver.lower, solver.upper, solver.rtol) == (2, 3, 1e-4)
    assert solver_from(CVODE(lower=1, upper=0), atol=1e-3) == CVODE(lower=1, upper=0, atol=1e-3)


def test_cvode_has_no_scipy_make():
    # Regression: CVODE inherited a make() that asked scipy.integrate for a 'CVODE' class.
    assert not hasattr(CVODE(), "make")
    assert hasattr(dg.BDF(), "make")
