"""cytotoxic_synapse_serial_killing (biology.md M9) against published CTL / NK numbers.

- D5.2 (Jenkins et al. 2015, J Exp Med manuscript 20140964, live imaging): mean synapse time,
  first effector Ca²⁺ flux to detachment, mean ± SEM in min. WT and Prf-/- are what k_detach
  and k_fail were solved from, so those four are a check of the model's equations; GzmA/B-/-
  is a prediction.
- Weigelin et al. 2021 (Nat Commun): 1 up to 20 kills per CTL per day.

The synapse time of a cohort is ∫ P(still conjugated) dt, simulated from 100 conjugates with no
free targets and no new conjugation (k_conj = 0).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import trapezoid

import degranulation as dg

# (protocol, mean, SEM) from D5.2
D5_2 = [
    ("ctl_wild_type", 8.5, 0.7),
    ("ctl_perforin_deficient", 41.2, 7.7),
    ("nk_wild_type", 12.77, 1.1),
    ("nk_perforin_deficient", 67.66, 5.3),
]


@pytest.fixture(scope="module")
def model():
    return dg.load_model("cytotoxic_synapse_serial_killing")


def mean_synapse_minutes(model, protocol):
    minutes = np.linspace(0, 2500, 25001)  # NK Prf-/- tail e^(-2500/67.7) ~ 1e-16
    ds = dg.simulate(
        model,
        t="2500 min",
        points=len(minutes),
        protocol=protocol,
        params={"k_conj": "0 1/(molecule*min)"},
        initial={"E0": "0 molecule", "C0": "100 molecule", "T": "0 molecule"},
        rtol=1e-10,
        atol=1e-10,
    )
    return trapezoid(ds["conjugated"].pint.to("dimensionless").pint.magnitude, minutes)


@pytest.mark.parametrize(("protocol", "mean", "sem"), D5_2)
def test_synapse_time_matches_d5_2(model, protocol, mean, sem):
    simulated = mean_synapse_minutes(model, protocol)
    assert abs(simulated - mean) <= sem
    # Solved from these means; the pooled granule stock (each hit draws on the cohort's
    # average stock, which falls by 5 % as the cohort hits) lengthens WT times by 0.3 %.
    assert simulated == pytest.approx(mean, rel=0.005)


def test_granzyme_deficient_ctl_synapse_is_predicted(model):
    # Not fitted: without granzymes the target survives, as without perforin; D5.2 OT-I
    # GzmA/B-/- 38.1 ± 5.7 min.
    assert abs(mean_synapse_minutes(model, "ctl_granzyme_ab_deficient") - 38.1) <= 5.7


@pytest.mark.xfail(
    strict=True,
    reason="NK GzmA/B-/- detach after 30.2 ± 3.7 min (D5.2), much sooner than Prf-/- (67.7): perforin "
    "alone kills some targets for NK cells; the model needs both perforin and granzymes and predicts 67.7",
)
def test_granzyme_deficient_nk_synapse(model):
    assert abs(mean_synapse_minutes(model, "nk_granzyme_ab_deficient") - 30.2) <= 3.7


@pytest.mark.parametrize("protocol", ["ctl_wild_type", "nk_wild_type"])
def test_serial_killing_capacity_per_day(model, protocol):
    # Weigelin 2021: from 1 up to 20 kills per CTL per day. With the default 1:10 E:T every
    # effector kills several targets; with targets in excess the granule stock (200, 10 per
    # hit) caps serial killing at 20.
    default = dg.simulate(model, t="24 h", points=2, protocol=protocol, rtol=1e-8, atol=1e-8)
    excess = dg.simulate(
        model, t="24 h", points=2, protocol=protocol, initial={"T": "1e5 molecule"}, rtol=1e-8, atol=1e-8
    )
    kills = [float(ds["kills_per_effector"].pint.magnitude[-1]) for ds in (default, excess)]
    assert 1 <= kills[0] <= 20
    assert 10 <= kills[1] <= 20 + 1e-6
    assert float(excess["perforin_delivered"].pint.magnitude[-1]) == pytest.approx(10 * kills[1], rel=1e-6)


def test_perforin_deficient_cells_degranulate_but_do_not_kill(model):
    # CD107a exposure marks degranulation (Betts 2003) whether or not the target dies.
    ds = dg.simulate(model, t="4 h", points=2, protocol="ctl_perforin_deficient", rtol=1e-8, atol=1e-8)
    assert float(ds["specific_lysis"].pint.magnitude[-1]) == pytest.approx(0.0, abs=1e-9)
    assert float(ds["cd107a_positive"].pint.magnitude[-1]) > 90
