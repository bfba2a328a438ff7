"""eosinophil_granule_protein_release (biology.md M10, exploratory) against D5.1.

- D5.1 (Abu-Ghazaleh et al. 1992, J Leukoc Biol 52:611): granule-protein content per 10⁶
  eosinophils, in ng and as molar amounts (641.6 MBP, 178.4 EDN, 250.9 ECP, 171.5 EPO; printed
  as "nM/10⁶", consistent with pmol). The model takes the masses; the molar amounts check the
  unit conversion through each protein's molar mass.
- With granules emptying as whole units (non-selective routes), released amounts are in the
  proportions of the contents and every protein is released to the same percentage; mass is
  conserved (biology.md M10 tests).
"""

from __future__ import annotations

import numpy as np
import pytest

import degranulation as dg

PROTEINS = ("MBP", "EPO", "ECP", "EDN")
CONTENT_NG = {"MBP": 8982, "EPO": 12174, "ECP": 5269, "EDN": 3283}  # D5.1, ng/10⁶ cells
CONTENT_PMOL = {"MBP": 641.6, "EPO": 171.5, "ECP": 250.9, "EDN": 178.4}  # D5.1 molar column


@pytest.fixture(scope="module")
def model():
    return dg.load_model("eosinophil_granule_protein_release")


@pytest.fixture(scope="module")
def run(model):
    return dg.simulate(model, t="3 h", points=7, rtol=1e-10, atol=1e-10)  # default: immobilised sIgA


def test_contents_are_d5_1_in_moles(run):
    for protein in PROTEINS:
        pmol = float(run[f"{protein}_in"].pint.to("pmol").pint.magnitude[0])
        assert pmol == pytest.approx(CONTENT_PMOL[protein], abs=0.06)  # printed to 0.1 pmol


def test_mass_balance(run):
    for protein in PROTEINS:
        total = sum(
            run[f"{protein}_{where}"].pint.to("pmol").pint.magnitude for where in ("in", "ves", "out")
        )
        np.testing.assert_allclose(total, total[0], rtol=1e-8)


def test_released_amounts_reflect_contents(model, run):
    released_ng = {
        protein: run[f"{protein}_out"].pint.to("pmol").pint.magnitude[1:]
        * CONTENT_NG[protein]
        / CONTENT_PMOL[protein]
        for protein in PROTEINS
    }
    for protein in PROTEINS[1:]:
        np.testing.assert_allclose(
            released_ng[protein] / released_ng["MBP"], CONTENT_NG[protein] / CONTENT_NG["MBP"], rtol=2e-3
        )  # the molar column of D5.1 is rounded to 4 figures
    percents = np.array([run[f"{p.lower()}_release"].pint.magnitude for p in PROTEINS])
    np.testing.assert_allclose(percents, percents[:1].repeat(4, axis=0), rtol=1e-9, atol=1e-12)
    assert 0 < percents[0, -1] < 100


def test_selective_piecemeal_route_changes_the_ratios(model):
    # Piecemeal degranulation, if selective, would release ECP ahead of the others.
    ds = dg.simulate(model, t="3 h", points=2, params={"k_pm_ECP": "5e-3 1/min"}, rtol=1e-10, atol=1e-10)
    assert float(ds["ecp_release"].pint.magnitude[-1]) > 2 * float(ds["mbp_release"].pint.magnitude[-1])
