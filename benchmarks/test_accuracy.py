"""Achieved accuracy at the default tolerances: each bundled model and each reference network,
simulated with ``dg.simulate``'s defaults (only ``solver`` and ``rtol`` given), against a tight
reference (Radau, rtol 1e-12, an absolute tolerance 1e-15 of each species' scale).

The figure reported per run is the tolerance ratio

    max over species i and output times t of |x_i(t) − ref_i(t)| / (rtol·|ref_i(t)| + atol_i)

with ``atol_i`` the default absolute tolerance, ``1e-3·rtol`` of each species' largest initial
magnitude (the model's smallest non-zero one for a species that starts at 0; see
:func:`~degranulation.simulation.default_atol`): how many times the requested tolerance was
missed (≤ 1: met). Issue 13 asks for ≤ 10 for every run, which each solver's default
``tighten`` factor meets; this file reports the ratios (``extra_info``) and fails a solver
whose worst run is above 10. It also times ``dg.simulate`` at the defaults on the bundled
models.

Cases: the bundled models over their default protocol and 30 min past its last step; the
single-phase BioNetGen validation networks (``tests/data/bionetgen``) over their ``.gdat``
times; EARM 1.0 (``tests/data/pysb_earm``) over 0–72 000 s. Solvers BDF, LSODA, Radau, and
CVODE when scikit-sundae is installed; rtol 1e-6 (the default). The smoke run
(``--benchmark-disable``) takes the small cases at short horizons.

Run ``python -m pytest benchmarks/test_accuracy.py -s`` for the table (``extra_info`` holds the
ratios), or ``python benchmarks/test_accuracy.py`` for the same without pytest; there
``--smoke`` takes the smoke run's cases, ``--tighten F[,F...]`` hands every solver rtol/F and
atol/F in place of its own default factor (``Solver.tighten``: BDF 100, LSODA 30, Radau 1,
CVODE 300) while the ratio still holds it to the requested rtol and atol (``default``: each
solver's own), and ``--cost`` times ``dg.simulate`` on the bundled models at F = 1 and at the
defaults.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

import degranulation as dg
from degranulation.codegen import compile_model
from degranulation.errors import ResultWarning
from degranulation.simulation import default_atol

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
REFERENCE_RTOL = 1e-12
#: The reference's absolute tolerance, per species, as a share of its scale (see reference()).
REFERENCE_ATOL_SHARE = 1e-15
SOLVERS = ["BDF", "LSODA", "Radau"] + (["CVODE"] if importlib.util.find_spec("sksundae") else [])
ACCEPTED = 10.0
#: Tightening factors timed by ``--cost``.
COST_FACTORS: tuple[float | None, ...] = (1.0, None)
#: Single-phase BioNetGen validation networks (as tests/formats/test_bngnet.py runs them).
NETWORKS = (
    "Haugh2b", "localfunc", "simple_system", "test_fixed", "univ_synth", "tlbr",
    "Motivating_example", "SHP2_base_model", "egfr_net", "fceri_ji",
)  # fmt: skip
#: The smoke run's cases (seconds of model time): small, quick, each kind of case represented.
SMOKE = {
    "ige_fceri_crosslinking": 600.0,
    "mast_cell_ca_granule_pools": 600.0,
    "tlbr": None,
    "earm_1_0": 7200.0,
}


@dataclass(frozen=True)
class Case:
    """A model and the output times (seconds) it is compared at; a case is its name and times
    (the loader is made anew by each call of :func:`cases`, the model and reference are cached)."""

    name: str
    load: Callable[[], dg.Model] = field(compare=False)
    times: tuple[float, ...]


def _library_case(name: str) -> Case:
    model = dg.load_model(name)
    steps = model.get_protocol(model.default_protocol).steps if model.default_protocol else ()
    last = max((model.units.magnitude(s.at.value, s.at.unit) for s in steps), default=0.0)
    end = dg.UnitSystem(time="s").magnitude(last, model.units.time) + 1800.0  # 30 min past the last step
    return Case(name, functools.partial(dg.load_model, name), tuple(np.linspace(0.0, end, 61)))


def _network_case(name: str) -> Case:
    from degranulation.formats.bngnet import read_gdat

    times = read_gdat(DATA / "bionetgen" / name / f"{name}.gdat")["time"]
    return Case(
        name, functools.partial(dg.read_bngnet, DATA / "bionetgen" / name / f"{name}.net"), tuple(times)
    )


def cases(smoke: bool) -> list[Case]:
    """Every case, or the smoke run's few at their short horizons."""
    earm = Case(
        "earm_1_0",
        lambda: dg.read_bngnet(DATA / "pysb_earm" / "earm_1_0.net"),
        tuple(np.linspace(0, 72000, 121)),
    )
    found = [_library_case(m.id) for m in dg.list_models()] + [_network_case(n) for n in NETWORKS] + [earm]
    if not smoke:
        return found
    short = []
    for case in found:
        if case.name in SMOKE:
            end = SMOKE[case.name] or case.times[-1]
            short.append(Case(case.name, case.load, tuple(t for t in case.times if t <= end)))
    return short


@functools.cache
def model_of(case: Case) -> dg.Model:
    return case.load()


def _t(case: Case) -> list[str]:
    return [f"{float(t)!r} s" for t in case.times]


def _states(model: dg.Model, ds) -> np.ndarray:
    names = compile_model(model).species
    return np.array([ds[name].pint.magnitude for name in names])


@functools.cache
def reference(case: Case) -> np.ndarray:
    """The case's species (rows) at its times, solved tightly: Radau at rtol 1e-12 and each
    species' absolute tolerance 1e-15 of its scale (its largest initial magnitude, or the
    model's smallest non-zero one for a species that starts at 0), far below any run's."""
    model = model_of(case)
    x0 = np.abs(compile_model(model).default_initial)
    floor = x0[x0 > 0].min(initial=1.0)
    atol = tuple((REFERENCE_ATOL_SHARE * np.maximum(x0, floor)).tolist())
    ds = dg.simulate(model, t=_t(case), solver=dg.Radau(rtol=REFERENCE_RTOL, atol=atol))
    return _states(model, ds)


def requested_atol(model: dg.Model, rtol: float) -> np.ndarray:
    """The absolute tolerance asked for at the defaults, per species (``dg.simulate``'s own
    :func:`~degranulation.simulation.default_atol` of the default initial state)."""
    return np.asarray(default_atol(compile_model(model).default_initial, rtol))


def tightened(factor: float | None) -> contextlib.AbstractContextManager:
    """Within it, every solver integrates at ``rtol/factor`` and ``atol/factor`` (its option
    ``tighten``) in place of its default factor, while its options (and so the result's
    provenance and the ratio's tolerance) keep the requested ones; ``None``: the defaults."""
    if factor is None:
        return contextlib.nullcontext()
    import degranulation.simulation

    chosen = degranulation.simulation.solver_from

    def solver_from(*args, **kwargs):
        return dataclasses.replace(chosen(*args, **kwargs), tighten=factor)

    return mock.patch.object(degranulation.simulation, "solver_from", solver_from)


def tolerance_ratio(case: Case, solver: str, tighten: float | None = None) -> tuple[float, float]:
    """The run's worst |error| / (rtol·|ref| + requested atol_i), and its ``dg.simulate`` time (s);
    the solver integrates ``tighten`` times tighter than asked (see :func:`tightened`)."""
    model = model_of(case)
    ref = reference(case)  # outside the tightening: the reference is as tight as it says
    # A ResultWarning (a species went negative beyond its atol: CVODE on EARM) is part of what
    # is measured here, not a failure: the error it flags is in the ratio.
    with tightened(tighten), warnings.catch_warnings():
        warnings.simplefilter("ignore", ResultWarning)
        start = time.perf_counter()
        ds = dg.simulate(model, t=_t(case), solver=solver)
        elapsed = time.perf_counter() - start
    rtol = json.loads(ds.attrs["solver"])["rtol"]
    allowed = rtol * np.abs(ref) + requested_atol(model, rtol)[:, None]
    return float(np.max(np.abs(_states(model, ds) - ref) / allowed)), elapsed


def measure(smoke: bool, solvers=SOLVERS, tighten: float | None = None, echo=print) -> dict[str, float]:
    """Every case's tolerance ratio per solver, keyed ``'SOLVER CASE'``."""
    ratios = {}
    for solver in solvers:
        for case in cases(smoke):
            ratio, elapsed = tolerance_ratio(case, solver, tighten)
            key = f"{solver} {case.name}"
            ratios[key] = ratio
            echo(f"{key:45s} ratio {ratio:8.3g}  {elapsed:7.2f} s")
    return ratios


def _worst(ratios: dict[str, float], solver: str) -> tuple[float, int]:
    mine = [r for key, r in ratios.items() if key.startswith(f"{solver} ")]
    return max(mine), sum(r > ACCEPTED for r in mine)


@pytest.mark.parametrize("solver", SOLVERS)
def test_default_tolerances_meet_the_requested_accuracy(benchmark, solver):
    smoke = benchmark.disabled
    ratios: dict[str, float] = {}
    benchmark.pedantic(lambda: ratios.update(measure(smoke, [solver])), rounds=1)
    worst, over = _worst(ratios, solver)
    benchmark.extra_info.update(ratios=ratios, worst_ratio=worst, runs_over_10=over)
    print(f"{solver}: worst tolerance ratio {worst:.3g} over {len(ratios)} runs ({over} above {ACCEPTED:g})")
    assert worst <= ACCEPTED, f"{over} runs above {ACCEPTED:g}: {ratios}"


def test_default_simulate_time_on_the_library_models(benchmark):
    """``dg.simulate`` at the defaults on every bundled model (what the tolerances cost)."""
    library = [c for c in cases(benchmark.disabled) if c.name in {m.id for m in dg.list_models()}]
    models = [(model_of(c), _t(c)) for c in library]
    for model, t in models:
        dg.simulate(model, t=t)  # compile and check outside the timing

    def run_all():
        for model, t in models:
            dg.simulate(model, t=t)

    benchmark.pedantic(run_all, rounds=1 if benchmark.disabled else 5)
    if not benchmark.disabled:
        print(
            f"dg.simulate, {len(models)} bundled models at the defaults: "
            f"{benchmark.stats.stats.min:.3f} s (best of 5)"
        )


def simulate_cost(factors=COST_FACTORS, rounds: int = 5) -> dict[float | None, float]:
    """Seconds for ``dg.simulate`` at the defaults over every bundled model, per tightening
    factor (``None``: each solver's default), the factors alternating, best of ``rounds`` each."""
    library = [(model_of(c), _t(c)) for c in cases(False) if c.name in {m.id for m in dg.list_models()}]

    def run_all(factor: float | None) -> float:
        with tightened(factor):
            start = time.perf_counter()
            for model, t in library:
                dg.simulate(model, t=t)
            return time.perf_counter() - start

    for factor in factors:
        run_all(factor)  # compile and check once
    seconds: dict[float | None, list[float]] = {factor: [] for factor in factors}
    for _ in range(rounds):
        for factor in factors:
            seconds[factor].append(run_all(factor))
    return {factor: min(times) for factor, times in seconds.items()}


def _main(argv: list[str]) -> None:
    if "--cost" in argv:
        best = simulate_cost()
        for factor, seconds in best.items():
            label = "each solver's default" if factor is None else f"{factor:g}"
            print(
                f"dg.simulate, bundled models at the defaults, tighten {label}: {seconds:.3f} s "
                f"(×{seconds / best[1.0]:.2f})"
            )
        return
    factors = argv[argv.index("--tighten") + 1].split(",") if "--tighten" in argv else ["default"]
    measured = {
        factor: measure(smoke="--smoke" in argv, tighten=None if factor == "default" else float(factor))
        for factor in factors
    }
    for factor, ratios in measured.items():
        for name in SOLVERS:
            worst, over = _worst(ratios, name)
            print(f"{name} (tighten {factor}): worst {worst:.3g}, {over} runs above {ACCEPTED:g}")


if __name__ == "__main__":
    import sys

    _main(sys.argv[1:])
