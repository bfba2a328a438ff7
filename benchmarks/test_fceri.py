"""fceri_ji at full scale (354 species, 3680 reactions), 0–600 s, 101 output times,
rtol = atol = 1e-8: degranulation against libRoadRunner on BioNetGen's SBML export of the same
network (tests/data/bionetgen/fceri_ji/fceri_ji_sbml.xml.gz), measured in one run.

- cold: a fresh Python process from model file to result. Ours reads the bundled model file
  ``fceri_faeder2003`` (generated from the rules; the same network) and returns the unit-aware
  Dataset, once with an empty compiled-model cache and once with it filled; libRoadRunner
  loads (compiles) the SBML and simulates.
- warm: simulating again in the same process (ours: ``dg.simulate``, and its numeric core
  ``integrate`` alone; libRoadRunner: ``resetAll`` + ``simulate``).
- sweep: 50 ligand doses log-spaced over 4 decades around Lig_tot = 6000, the whole time
  course of every observable for each (ours: ``dg.dose_response`` in one process and with
  ``workers=2``; libRoadRunner: its reset-and-simulate loop, setting ``Lig_tot``).

Run ``pytest benchmarks/test_fceri.py -s`` to print the numbers and ratios (peer time / ours:
above 1 means we are faster). The libRoadRunner side needs the ``bench`` extra. Under
``--benchmark-disable`` (CI's smoke run) only our side runs, with 5 doses.
"""

from __future__ import annotations

import gzip
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import degranulation as dg
from degranulation.codegen import compile_model
from degranulation.simulation import integrate, output_times

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
SBML_GZ = DATA / "bionetgen" / "fceri_ji" / "fceri_ji_sbml.xml.gz"
TOLERANCES = {"rtol": 1e-8, "atol": 1e-8}
OBSERVABLES = [
    "LynFree",
    "RecMon",
    "RecDim",
    "RecPbeta",
    "RecPgamma",
    "RecSyk",
    "RecSykPS",
    "SykTest",
    "LynTest",
    "RecTest",
]

OURS_COLD = """
import degranulation as dg
ds = dg.simulate("fceri_faeder2003", t="600 s", points=101, rtol=1e-8, atol=1e-8, cache_dir={cache!r})
assert ds["RecSykPS"].size == 101
"""
ROADRUNNER_COLD = """
import roadrunner
rr = roadrunner.RoadRunner({sbml!r})
rr.integrator.relative_tolerance = 1e-8
rr.integrator.absolute_tolerance = 1e-8
result = rr.simulate(0, 600, 101)
assert result.shape[0] == 101
"""


def fresh_process(code: str) -> float:
    """Wall time of ``python -c code`` (interpreter start included)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ))
    return time.perf_counter() - start


def best(call, repeats: int = 3) -> tuple[object, float]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def report(benchmark, **numbers: float) -> None:
    benchmark.extra_info.update(numbers)
    print("\n" + "\n".join(f"  {name}: {value:.3g}" for name, value in numbers.items()))


@pytest.fixture(scope="module")
def sbml(tmp_path_factory) -> Path:
    """The SBML export, decompressed once (libRoadRunner reads a plain file, outside any timing)."""
    path = tmp_path_factory.mktemp("fceri_ji") / "fceri_ji_sbml.xml"
    path.write_bytes(gzip.decompress(SBML_GZ.read_bytes()))
    return path


def roadrunner_model(sbml: Path):
    roadrunner = pytest.importorskip("roadrunner")
    rr = roadrunner.RoadRunner(str(sbml))
    rr.integrator.relative_tolerance = TOLERANCES["rtol"]
    rr.integrator.absolute_tolerance = TOLERANCES["atol"]
    return rr


def test_cold_start(benchmark, tmp_path, sbml):
    cache = tmp_path / "compiled"
    empty = fresh_process(OURS_COLD.format(cache=str(cache)))
    filled = fresh_process(OURS_COLD.format(cache=str(cache)))
    benchmark.pedantic(lambda: None, rounds=1)
    numbers = {"ours_cold_empty_cache_s": empty, "ours_cold_filled_cache_s": filled}
    if not benchmark.disabled:
        pytest.importorskip("roadrunner")
        peer = fresh_process(ROADRUNNER_COLD.format(sbml=str(sbml)))
        numbers |= {
            "roadrunner_cold_s": peer,
            "ratio_empty_cache": peer / empty,
            "ratio_filled_cache": peer / filled,
        }
    report(benchmark, **numbers)


def test_warm_resimulation(benchmark, sbml):
    model = dg.load_model("fceri_faeder2003")
    dg.simulate(model, t="600 s", points=101, **TOLERANCES)  # compile and import once
    ours, t_ours = best(lambda: dg.simulate(model, t="600 s", points=101, **TOLERANCES))
    compiled = compile_model(model)
    times = output_times(model, "600 s", 101)
    solver = dg.BDF(**TOLERANCES)
    _, t_core = best(
        lambda: integrate(compiled, times, compiled.default_initial, compiled.default_parameters, solver)
    )
    benchmark.pedantic(lambda: None, rounds=1)
    numbers = {"ours_warm_simulate_s": t_ours, "ours_warm_integrate_s": t_core}
    if not benchmark.disabled:
        rr = roadrunner_model(sbml)
        rr.simulate(0, 600, 101)

        def peer():
            rr.resetAll()
            return rr.simulate(0, 600, 101, ["time", "RecSykPS", "RecPgamma"])

        result, t_peer = best(peer)
        # The same computation: both match BioNetGen to ~1e-7, so each other to 1e-5.
        assert float(ours["RecSykPS"].pint.magnitude[-1]) == pytest.approx(result[-1, 1], rel=1e-5)
        numbers |= {
            "roadrunner_warm_s": t_peer,
            "ratio_simulate": t_peer / t_ours,
            "ratio_integrate": t_peer / t_core,
        }
    report(benchmark, **numbers)


def test_ligand_sweep(benchmark, sbml):
    model = dg.load_model("fceri_faeder2003")
    n = 5 if benchmark.disabled else 50
    doses = np.geomspace(60.0, 6e5, n).tolist()  # Lig_tot 6000 × 10^±2
    options = {"t": "600 s", "points": 101, "observe": OBSERVABLES, **TOLERANCES}
    dg.dose_response(model, "Lig", [f"{doses[0]!r} molecule"], **options)  # compile once
    _, t_two = best(
        lambda: dg.dose_response(model, "Lig", [f"{d!r} molecule" for d in doses], workers=2, **options),
        repeats=1,
    )
    swept, t_ours = best(
        lambda: dg.dose_response(model, "Lig", [f"{d!r} molecule" for d in doses], **options), repeats=1
    )
    benchmark.pedantic(lambda: None, rounds=1)
    assert (swept["status"] == "ok").all(), swept["message"].values
    numbers = {"doses": float(n), "ours_sweep_s": t_ours, "ours_sweep_2_workers_s": t_two}
    if not benchmark.disabled:
        rr = roadrunner_model(sbml)
        rr.simulate(0, 600, 101)

        def peer():
            finals = []
            for dose in doses:
                rr.resetAll()
                rr["Lig_tot"] = dose
                rr.reset()
                finals.append(rr.simulate(0, 600, 101, ["time", "RecSykPS"])[-1, 1])
            return finals

        finals, t_peer = best(peer, repeats=1)
        ours_finals = swept["RecSykPS"].isel(time=-1).pint.magnitude
        np.testing.assert_allclose(ours_finals, finals, rtol=1e-5)
        numbers |= {
            "roadrunner_sweep_s": t_peer,
            "ratio_sweep": t_peer / t_ours,
            "ratio_sweep_2_workers": t_peer / t_two,
        }
    report(benchmark, **numbers)
