"""profile_likelihood(): exact intervals for a linear problem, non-identifiability flags,
recovery of known parameters and coverage at the nominal rate over repeated noisy datasets."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, chi2
from synthetic_crosslinking import CROSSLINKING, KP1, simulate_data

import degranulation as dg
from degranulation.library import models_folder


@pytest.fixture(scope="module")
def decay():
    # A -> B: A(t) = A0·exp(-k t). With k fixed, A is linear in A0, so the cost is exactly
    # quadratic in A0 and the profile interval equals the Wald interval of linear least squares:
    # A0_hat ± z·/sqrt(Σ (e^{-k t_i}/σ)²), z² = χ²₁(level).
    return (
        dg.ModelBuilder("decay", units={"time": "min", "concentration": "uM", "amount": "nmol"})
        .compartment("well", "100 uL")
        .species("A", "2 uM", compartment="well")
        .species("B", "0 uM", compartment="well")
        .parameter("k", "0.3 1/min")
        .reaction("A -> B", "mass_action(k)")
        .build()
    )


def test_linear_problem_profile_equals_the_closed_form_interval(decay):
    t = np.array([0.5, 1.0, 2.0, 4.0, 8.0])
    rng = np.random.default_rng(11)
    sd = np.full_like(t, 0.05)
    data = 2.0 * np.exp(-0.3 * t) + rng.normal(0.0, sd)
    frame = pd.DataFrame({"observable": "A", "time [min]": t, "value [uM]": data, "sd [uM]": sd})
    fit = dg.fit(
        decay,
        frame,
        estimate={"A": {"bounds": ["0.1 uM", "10 uM"], "scale": "lin"}},
        n_starts=1,
        seed=0,
        rtol=1e-10,
        level=0.9,
    )
    basis = np.exp(-0.3 * t) / sd
    estimate = float(basis @ (data / sd) / (basis @ basis))
    half = math.sqrt(chi2.ppf(0.9, 1)) / math.sqrt(basis @ basis)
    profiles = dg.profile_likelihood(fit, level=0.9)
    low, high = profiles.confidence_intervals["A.initial"]
    assert fit.parameters["A.initial"].magnitude == pytest.approx(estimate, rel=1e-7)
    assert low.magnitude == pytest.approx(estimate - half, rel=1e-4)
    assert high.magnitude == pytest.approx(estimate + half, rel=1e-4)
    fisher_low, fisher_high = fit.confidence_intervals["A.initial"]
    assert fisher_low.magnitude == pytest.approx(estimate - half, rel=1e-6)
    assert fisher_high.magnitude == pytest.approx(estimate + half, rel=1e-6)
    assert profiles.non_identifiable == ()


def test_flags_a_parameter_the_data_cannot_determine():
    # Crosslinking (kp2 · 4e5 receptors ≈ 100/s) is far faster than ligand capture, so RecDim
    # time courses fix kp1 but say nothing about kp2 above a threshold: its profile stays flat
    # up to the upper bound.
    data = models_folder() / "data" / "crosslinking_synthetic.csv"
    fit = dg.fit(CROSSLINKING, data, estimate=["kp1", "kp2"], n_starts=1, seed=1, rtol=1e-6)
    profiles = dg.profile_likelihood(fit)
    assert profiles.non_identifiable == ("kp2",)
    kp2 = profiles.profiles["kp2"]
    assert not kp2.is_closed_high
    assert kp2.ci_high == pytest.approx(1e-2)  # the model file's upper bound
    kp1 = profiles.profiles["kp1"]
    assert kp1.is_identifiable and kp1.ci_low < fit.parameters["kp1"].magnitude < kp1.ci_high
    ds = profiles.to_dataset()
    assert ds["kp1_cost"].min() == pytest.approx(fit.cost)


@pytest.mark.slow
def test_synthetic_recovery_within_profile_intervals():
    # Data simulated from the library model with known kp1 and receptor number plus noise; the
    # fit recovers both within their 95 % profile-likelihood intervals, which are finite.
    frame = simulate_data(rng=np.random.default_rng(2024), kp1=2e-10, receptors=3e5)
    fit = dg.fit(CROSSLINKING, frame, estimate=["kp1", "R"], n_starts=3, seed=0, rtol=1e-7)
    profiles = dg.profile_likelihood(fit)
    assert profiles.non_identifiable == ()
    for name, truth in (("kp1", 2e-10), ("R.initial", 3e5)):
        low, high = profiles.confidence_intervals[name]
        assert low.magnitude < truth < high.magnitude, name
        assert low.magnitude < fit.parameters[name].magnitude < high.magnitude


@pytest.mark.slow
def test_profile_intervals_cover_the_truth_at_the_nominal_rate():
    # 40 independent noisy datasets from the library model, kp1 estimated (log10 scale) and its
    # 80 % profile interval computed each time. A calibrated interval covers the truth
    # Binomial(40, 0.8) times; the central 99.8 % of that is 25…37 (scipy.stats.binom), so
    # intervals much too narrow or much too wide both fail.
    rng = np.random.default_rng(7)
    n, level = 40, 0.8
    covered = 0
    for _ in range(n):
        frame = simulate_data(rng=rng, doses=(6e6,))
        fit = dg.fit(CROSSLINKING, frame, estimate=["kp1"], n_starts=1, seed=0, rtol=1e-7)
        low, high = dg.profile_likelihood(fit, level=level).confidence_intervals["kp1"]
        covered += low.magnitude < KP1 < high.magnitude
    assert binom.ppf(0.001, n, level) <= covered <= binom.isf(0.001, n, level)


def test_one_name_is_one_parameter_and_unknown_names_list_the_estimated(decay):
    """Issue 15: profile_likelihood(fit, "k_rel") split the string into characters."""
    t = np.array([0.5, 1.0, 2.0, 4.0, 8.0])
    frame = pd.DataFrame(
        {"observable": "A", "time [min]": t, "value [uM]": 2.0 * np.exp(-0.3 * t), "sd [uM]": 0.05}
    )
    fit = dg.fit(decay, frame, estimate=["A", "k"], n_starts=1, seed=0, rtol=1e-10)
    one = dg.profile_likelihood(fit, "A.initial")
    assert list(one.profiles) == ["A.initial"]
    listed = dg.profile_likelihood(fit, ["A.initial"])
    np.testing.assert_allclose(one.profiles["A.initial"].cost, listed.profiles["A.initial"].cost, rtol=1e-12)
    with pytest.raises(dg.ModelError, match="cannot profile 'k_rel'") as caught:
        dg.profile_likelihood(fit, "k_rel")
    assert caught.value.hint.endswith("estimated parameters: A.initial, k")
