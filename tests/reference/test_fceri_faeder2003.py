"""fceri_faeder2003 (biology.md §2, M3) against BioNetGen and the paper's numbers.

- The bundled file is what the rules generate (regenerating gives no diff).
- Simulated 0–600 s at rtol = atol = 1e-8, every observable matches BioNetGen 2.9.3's own
  fceri_ji.gdat to relative 1e-6 at every time point.
- Lyn, Syk and receptor totals stay constant; before stimulation 3.4 % of receptors carry Lyn
  (biology.md §2.2, against the measured 3–4 %), as the binding equilibrium requires.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from data_files import DATA

import degranulation as dg
from degranulation.formats.bngnet import read_gdat
from degranulation.library import models_folder
from degranulation.rules import library_text

GDAT = DATA / "bionetgen" / "fceri_ji" / "fceri_ji.gdat"
#: The names of Faeder et al. 2003 / fceri_ji.bngl (the issue's list; Lig_tot, Rec_tot,
#: Lyn_tot and Syk_tot are the initial amounts of the seed species Lig, Rec, Lyn and Syk).
PARAMETERS = [
    "kp1",
    "km1",
    "kp2",
    "km2",
    "kpL",
    "kmL",
    "kpLs",
    "kmLs",
    "kpS",
    "kmS",
    "pLb",
    "pLbs",
    "pLg",
    "pLgs",
    "pLS",
    "pLSs",
    "pSS",
    "pSSs",
    "dm",
    "dc",
]
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


@pytest.fixture(scope="module")
def model():
    return dg.load_model("fceri_faeder2003")


@pytest.fixture(scope="module")
def trajectory(model):
    reference = read_gdat(GDAT)
    ds = dg.simulate(model, t=[f"{float(t)!r} s" for t in reference["time"]], rtol=1e-8, atol=1e-8)
    return ds, reference


def test_library_file_is_what_the_rules_generate():
    assert (models_folder() / "fceri_faeder2003.toml").read_text(encoding="utf-8") == library_text()


def test_published_names_and_sizes(model):
    assert [p.id for p in model.parameters] == PARAMETERS
    assert [o.id for o in model.observables] == OBSERVABLES
    assert (len(model.species), len(model.reactions)) == (354, 3680)
    initial = {s: str(model.get_species(s).initial) for s in ("Lig", "Rec", "Lyn", "Syk")}
    assert initial == {
        "Lig": "6000.0 molecule",
        "Rec": "400.0 molecule",
        "Lyn": "28.0 molecule",
        "Syk": "400.0 molecule",
    }
    assert str(model.get_parameter("kp2").value) == "0.25 1/(molecule*s)"


def test_every_observable_matches_bionetgen(trajectory):
    # fceri_ji.bngl: simulate_ode({t_end=>600, n_steps=>10, atol=>1e-8, rtol=>1e-8}).
    ds, reference = trajectory
    for name in OBSERVABLES:
        ours = ds[name].pint.to("molecule").pint.magnitude
        np.testing.assert_allclose(ours, reference[name], rtol=1e-6, atol=0, err_msg=name)


def test_totals_are_conserved(trajectory):
    ds, _ = trajectory
    for name, total in (("SykTest", 400.0), ("LynTest", 28.0), ("RecTest", 400.0)):
        np.testing.assert_allclose(ds[name].pint.magnitude, total, rtol=1e-9, err_msg=name)


def test_prestimulation_lyn_occupancy():
    # Without ligand only Lyn(U)-beta binding acts: Lyn + Rec <-> LynRec with
    # K = kpL/kmL = 2.5e-3 per molecule, so bound x solves x = K (28 - x)(400 - x).
    ds = dg.simulate(
        "fceri_faeder2003", t="5 s", points=2, initial={"Lig": "0 molecule"}, rtol=1e-10, atol=1e-10
    )
    bound = float((ds["LynTest"] - ds["LynFree"]).pint.magnitude[-1])
    occupancy = bound / float(ds["RecTest"].pint.magnitude[-1])
    k, lyn, rec = 0.05 / 20, 28.0, 400.0
    b = lyn + rec + 1 / k
    exact = (b - math.sqrt(b * b - 4 * lyn * rec)) / 2
    assert bound == pytest.approx(exact, rel=1e-6)
    assert round(100 * occupancy, 1) == 3.4  # biology.md §2.2; measured 3–4 % (Yamashita 1994)


def test_parameters_can_be_set_as_in_the_paper(model):
    # Faster crosslinking (kp2) brings more receptors into dimers by 60 s.
    slow = dg.simulate(model, t="60 s", points=2)
    fast = dg.simulate(model, t="60 s", points=2, params={"kp2": "0.5 1/(molecule*s)"})
    assert float(fast["RecDim"].pint.magnitude[-1]) > float(slow["RecDim"].pint.magnitude[-1])


def test_cached_compiled_model_loads_without_sympy(tmp_path):
    # The compiled form is cached by content hash; a later process reads it back without the
    # symbolic stages (no SymPy, no pint), so pipelines pay code generation once per model.
    code = (
        "import sys\n"
        "from degranulation.codegen import compile_model\n"
        "from degranulation.formats.toml import read_model\n"
        "from degranulation.library import model_path\n"
        f"ode = compile_model(read_model(model_path('fceri_faeder2003')), cache_dir={str(tmp_path)!r})\n"
        "fun, jac = ode.functions(ode.default_parameters)\n"
        "print(fun(0.0, ode.default_initial).shape, 'sympy' in sys.modules, 'pint' in sys.modules)\n"
    )
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert first.stdout.split() == ["(354,)", "True", "True"]  # compiled: SymPy and units needed
    assert second.stdout.split() == ["(354,)", "False", "False"]
