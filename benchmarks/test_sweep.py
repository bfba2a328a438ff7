"""Sweep throughput, against baselines measured in the same process.

1. A 1,000-dose antigen sweep of a library model (harmon2017_fceri_degranulation: 23 species,
   β-hexosaminidase release at 30 min): ``dg.dose_response`` with workers=1 and 2, against
   the same doses done as a plain loop of ``dg.simulate`` calls.
2. The 58-species EARM 1.0 network (tests/data/pysb_earm/, 0–72000 s, 1201 output
   times, rtol = atol = 1e-8): time per dose of a dose sweep of its ligand L_0 (stacked CVODE
   when scikit-sundae is installed, else stacked LSODA), against
   libRoadRunner's reset-and-simulate loop over the same doses in this process (when the
   ``bench`` extra is installed; else its quoted 12.6 ms per dose on our 2-core machines,
   the folder's README: a 50-dose sweep in 0.63 s), and against one ``dg.simulate`` per dose.

Run ``pytest benchmarks/test_sweep.py -s`` to print the numbers (each case is timed once:
the sweeps are long). Under ``--benchmark-disable`` (CI's smoke run) the sweeps are cut to a
few dozen doses and the numbers are printed but mean little.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np
import pytest

import degranulation as dg

EARM = Path(__file__).resolve().parents[1] / "tests" / "data" / "pysb_earm" / "earm_1_0.net"
EARM_SBML = EARM.with_name("earm_1_0_sbml.xml")  # PySB's export: ligand species __s0, CPARP_total __obs4
#: tests/data/pysb_earm/README.md: 50-dose sweep 0.63 s, same machines and settings.
ROADRUNNER_MS_PER_DOSE = 12.6


def timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def report(benchmark, **numbers):
    benchmark.extra_info.update(numbers)
    print("\n" + "\n".join(f"  {name}: {value:.4g}" for name, value in numbers.items()))


def test_antigen_sweep_points_per_second(benchmark):
    model = dg.load_model("harmon2017_fceri_degranulation")
    n = 40 if benchmark.disabled else 1000
    doses = dg.geomspace("1e-3 nM", "1e3 nM", n)
    options = {"observe": "beta_hex_release", "at": "30 min", "protocol": "continuous"}
    dg.dose_response(model, "Ag", doses[:2], **options)  # compile once, outside the timings

    serial, t_serial = timed(lambda: dg.dose_response(model, "Ag", doses, **options))
    parallel, t_parallel = timed(lambda: dg.dose_response(model, "Ag", doses, workers=2, **options))
    loop_n = min(n, 100)  # the loop is slow; its rate does not depend on n
    loop, t_loop = timed(
        lambda: [
            dg.simulate(model, t=["0 min", "30 min"], initial={"Ag": dose}, protocol="continuous")
            for dose in doses[:loop_n]
        ]
    )
    benchmark.pedantic(lambda: None, rounds=1)
    loop_values = [float(ds["beta_hex_release"].pint.magnitude[-1]) for ds in loop]
    # The same numbers whatever the route: batched LSODA vs one BDF solve per dose.
    swept = serial["beta_hex_release"].pint.magnitude[:loop_n]
    assert swept == pytest.approx(loop_values, rel=1e-4, abs=1e-6)
    assert (serial["status"] == "ok").all() and parallel.identical(serial)
    report(
        benchmark,
        doses=n,
        loop_points_per_s=loop_n / t_loop,
        workers1_points_per_s=n / t_serial,
        workers2_points_per_s=n / t_parallel,
        workers1_vs_loop=(n / t_serial) / (loop_n / t_loop),
        workers2_vs_workers1=t_serial / t_parallel,
    )


def test_earm_dose_sweep_per_dose_time(benchmark):
    from degranulation.formats.bngnet import read_bngnet

    model = read_bngnet(EARM)
    n = 16 if benchmark.disabled else 400
    doses = dg.geomspace("1500 molecule", "6000 molecule", n)  # L_0 = 3000 in the network
    # Stacked CVODE (the sundials extra) where installed, else stacked LSODA.
    solver = "CVODE" if importlib.util.find_spec("sksundae") else "LSODA"
    options = {
        "t": "72000 s",
        "points": 1201,
        "rtol": 1e-8,
        "atol": 1e-8,
        "observe": "CPARP_total",
        "solver": solver,
    }
    dg.dose_response(model, "S1", doses[:2], **options)

    peer = roadrunner_loop() if not benchmark.disabled and importlib.util.find_spec("roadrunner") else None
    # Rounds alternate ours and the peer's, best of each: the shared 2-core machines vary by
    # tens of percent from one minute to the next.
    t_serial = t_parallel = t_peer = np.inf
    for _ in range(1 if benchmark.disabled else 3):
        serial, elapsed = timed(lambda: dg.dose_response(model, "S1", doses, **options))
        t_serial = min(t_serial, elapsed)
        parallel, elapsed = timed(lambda: dg.dose_response(model, "S1", doses, workers=2, **options))
        t_parallel = min(t_parallel, elapsed)
        if peer is not None:
            finals, elapsed = timed(lambda: peer(doses.to("molecule").magnitude))
            t_peer = min(t_peer, elapsed)
            np.testing.assert_allclose(serial["CPARP_total"].pint.magnitude[:, -1], finals, rtol=1e-5)
    one, t_one = timed(
        lambda: dg.simulate(
            model, t="72000 s", points=1201, rtol=1e-8, atol=1e-8, initial={"S1": doses[n // 2]}
        )
    )
    benchmark.pedantic(lambda: None, rounds=1)
    # tests/data/pysb_earm/README.md: CPARP_total = 999383 at t_end for L_0 = 3000;
    # nearby doses end there too.
    assert float(one["CPARP_total"].pint.magnitude[-1]) == pytest.approx(
        float(serial["CPARP_total"].pint.magnitude[n // 2, -1]), rel=1e-5
    )
    assert (serial["status"] == "ok").all() and parallel.identical(serial)
    ms_serial, ms_parallel = 1000 * t_serial / n, 1000 * t_parallel / n
    peer_ms = ROADRUNNER_MS_PER_DOSE if peer is None else 1000 * t_peer / n
    print(f"\n  solver: {solver}")
    report(
        benchmark,
        doses=n,
        simulate_ms_per_dose=1000 * t_one,
        workers1_ms_per_dose=ms_serial,
        workers2_ms_per_dose=ms_parallel,
        roadrunner_ms_per_dose=peer_ms,
        workers1_vs_roadrunner=peer_ms / ms_serial,
        workers2_vs_roadrunner=peer_ms / ms_parallel,
        workers2_vs_workers1=ms_serial / ms_parallel,
        workers1_vs_simulate=1000 * t_one / ms_serial,
    )
    assert np.isfinite(ms_serial)


def roadrunner_loop():
    """libRoadRunner's reset-and-simulate loop at the benchmark's settings, loaded and run once
    (the first run pays for compilation, as our sweep's warm-up does): doses → CPARP_total at
    t_end."""
    import roadrunner

    rr = roadrunner.RoadRunner(str(EARM_SBML))
    rr.integrator.relative_tolerance = rr.integrator.absolute_tolerance = 1e-8
    rr.simulate(0, 72000, 1201)

    def loop(doses: np.ndarray) -> list[float]:
        finals = []
        for dose in doses:
            rr.resetAll()
            rr["__s0"] = float(dose)
            finals.append(rr.simulate(0, 72000, 1201, ["time", "__obs4"])[-1, 1])
        return finals

    return loop
