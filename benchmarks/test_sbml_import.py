"""SBML file → compiled model with ``dfdp`` for a generated 500-species network, against
libRoadRunner loading the same file (issues 12 and 13: a 500-species PEtab problem imports in
< 20 s).

Both run in a fresh interpreter, imports included. Ours is ``read_sbml`` then
``compile_model(..., sensitivities=True, cache_dir=False)`` (what ``read_petab`` does with the
model); libRoadRunner's is ``RoadRunner(path)`` (parse and JIT-compile). The network comes from
:func:`degranulation.testing.networks.random_network` (seeded: the same every run), 500 species
and 800 mass-action reactions in two compartments, written with ``write_sbml``. The PEtab
collection's Chen_MSB2009 (500 species, piecewise inputs) is timed by
``benchmarks/petab_collection.py`` (see README.md); the collection is not shipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import degranulation as dg
from degranulation.testing.networks import random_network

N_SPECIES, N_REACTIONS = 500, 800

OURS = """
import json, sys, time
start = time.perf_counter()
import degranulation as dg
from degranulation.codegen import compile_model
model = dg.read_sbml(sys.argv[1])
read = time.perf_counter()
ode = compile_model(model, cache_dir=False, sensitivities=True)
done = time.perf_counter()
fun, _ = ode.functions(ode.default_parameters)
print(json.dumps({"total_s": done - start, "read_s": read - start, "compile_s": done - read,
                  "rhs": fun(0.0, ode.default_initial).tolist()}))
"""

ROADRUNNER = """
import json, sys, time
start = time.perf_counter()
import roadrunner
rr = roadrunner.RoadRunner(sys.argv[1])
print(json.dumps({"total_s": time.perf_counter() - start}))
"""


@pytest.fixture(scope="module")
def network_sbml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = random_network(N_SPECIES, N_REACTIONS, seed=0)
    return dg.write_sbml(model, tmp_path_factory.mktemp("network") / "network.xml")


def fresh_process(script: str, path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True, timeout=600
    )
    return json.loads(result.stdout.splitlines()[-1])


def test_import_500_species_sbml(benchmark, network_sbml: Path) -> None:
    rounds = 1 if benchmark.disabled else 3
    runs = [fresh_process(OURS, network_sbml) for _ in range(rounds)]
    benchmark.pedantic(lambda: None, rounds=1)
    ours = min(runs, key=lambda run: run["total_s"])
    numbers = {"ours_s": ours["total_s"], "ours_read_s": ours["read_s"], "ours_compile_s": ours["compile_s"]}
    if not benchmark.disabled:
        pytest.importorskip("roadrunner")
        peer = min(fresh_process(ROADRUNNER, network_sbml)["total_s"] for _ in range(rounds))
        numbers |= {"roadrunner_s": peer, "ratio_roadrunner_over_ours": peer / ours["total_s"]}
    benchmark.extra_info.update(numbers)
    print("\n" + "\n".join(f"  {name}: {value:.4g}" for name, value in numbers.items()))
    # Smoke check: the compiled model is the intended size and finite.
    assert len(ours["rhs"]) == N_SPECIES
    assert np.all(np.isfinite(ours["rhs"]))
