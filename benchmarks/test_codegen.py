"""Model → ``CompiledOde``: a generated 3,000-reaction mass-action network, cold and cached, and
every bundled model.

*Cold* (issue 2 target: < 3 s) is ``compile_model(model, cache_dir=False)`` in a fresh
interpreter, including the first import of SymPy and SciPy; the model is read from TOML
beforehand (validation not included). *Cached* is the same call finding the compiled model in
a disk cache written by an earlier process. The network comes from
:func:`degranulation.testing.networks.random_network` (seeded: the same network every run):
300 species, amounts and concentrations in two compartments, reaction orders 0–3 with
coefficients 1–2, about half reversible, 22 shared rate constants with statistical factors.
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

N_SPECIES, N_REACTIONS = 300, 3000
TARGET_COLD_S = 3.0

# Runs in a fresh interpreter: times the imports the compiler needs and the compilation.
_SCRIPT = """
import json, sys, time
from degranulation.formats.toml import read_model
model = read_model(sys.argv[1])
start = time.perf_counter()
import degranulation.symbolic  # SymPy and SciPy: compile_model imports them on first use
from degranulation.codegen import compile_model
imported = time.perf_counter()
ode = compile_model(model, cache_dir=False if sys.argv[2] == "off" else sys.argv[2])
done = time.perf_counter()
fun, _ = ode.functions(ode.default_parameters)
print(json.dumps({"import_s": imported - start, "compile_s": done - imported,
                  "n_terms": len(ode.term_index), "rhs": fun(0.0, ode.default_initial).tolist()}))
"""


@pytest.fixture(scope="module")
def network_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = random_network(N_SPECIES, N_REACTIONS, seed=0)
    return dg.write_model(model, tmp_path_factory.mktemp("network") / "random_network.toml")


def compile_in_fresh_interpreter(path: Path, cache: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(path), cache],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(result.stdout)


def report(benchmark, **numbers: float) -> None:
    benchmark.extra_info.update(numbers)
    print("\n" + "\n".join(f"  {name}: {value:.4g}" for name, value in numbers.items()))


def test_compile_3000_reaction_network(benchmark, network_file: Path, tmp_path: Path) -> None:
    rounds = 1 if benchmark.disabled else 3
    cold = [compile_in_fresh_interpreter(network_file, "off") for _ in range(rounds)]
    compile_in_fresh_interpreter(network_file, str(tmp_path))  # writes the disk cache
    cached = benchmark.pedantic(
        compile_in_fresh_interpreter, args=(network_file, str(tmp_path)), rounds=rounds
    )
    best = min(cold, key=lambda run: run["import_s"] + run["compile_s"])
    cold_s = best["import_s"] + best["compile_s"]
    report(
        benchmark,
        cold_s=cold_s,
        cold_imports_s=best["import_s"],
        cold_compile_after_imports_s=best["compile_s"],
        cold_over_target=cold_s / TARGET_COLD_S,
        cached_compile_s=cached["compile_s"],
        cold_over_cached=best["compile_s"] / cached["compile_s"],
        mass_action_terms=best["n_terms"],
    )
    # Smoke checks: the network is the intended size, and the cache returns the same function.
    assert best["n_terms"] > N_REACTIONS
    np.testing.assert_array_equal(cached["rhs"], best["rhs"])


@pytest.mark.parametrize("model_id", [m.id for m in dg.list_models()])
def test_compile_bundled_model(benchmark, model_id: str) -> None:
    """``build_system`` + ``compile_system`` in-process (no caches; SymPy warm after round 1)."""
    from degranulation.codegen import compile_system
    from degranulation.symbolic import build_system

    model = dg.load_model(model_id)
    ode = benchmark.pedantic(
        lambda: compile_system(build_system(model)), rounds=1 if benchmark.disabled else 3
    )
    fun, _ = ode.functions(ode.default_parameters)
    assert np.all(np.isfinite(fun(0.0, ode.default_initial)))
