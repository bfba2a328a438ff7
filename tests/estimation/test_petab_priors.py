"""PEtab objective priors (``objectivePriorType``, PEtab 1's eight types) as least-squares
residuals. The reference densities are SciPy's (``scipy.stats``), not ours: ``½ r²`` must
equal ``−ln p`` up to one constant, its gradient must equal finite differences, and a PEtab
problem with priors must differ from the same problem without them by exactly ``−Σ ln p``.
The problem is PEtab test-suite case 0001 (vendored, BSD-3) with prior columns added.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from data_files import DATA
from scipy import stats

import degranulation as dg
from degranulation.estimation.priors import Prior

SCALES = {"lin": lambda t: t, "log": math.log, "log10": math.log10}
# kind, a, b, parameterScale, bounds, SciPy's log-density of the linear value θ
CASES = [
    ("normal", 1.0, 0.5, "lin", (0.1, 10.0), lambda t: stats.norm(1.0, 0.5).logpdf(t)),
    ("laplace", 1.0, 0.5, "log10", (0.1, 10.0), lambda t: stats.laplace(1.0, 0.5).logpdf(t)),
    (
        "logNormal",
        0.2,
        0.7,
        "log",
        (0.01, 100.0),
        lambda t: stats.lognorm(0.7, scale=math.exp(0.2)).logpdf(t),
    ),
    (
        "logLaplace",
        0.2,
        0.7,
        "lin",
        (0.01, 100.0),
        lambda t: stats.laplace(0.2, 0.7).logpdf(math.log(t)) - math.log(t),
    ),
    (
        "parameterScaleNormal",
        0.3,
        0.4,
        "log10",
        (0.01, 100.0),
        lambda t: stats.norm(0.3, 0.4).logpdf(math.log10(t)),
    ),
    (
        "parameterScaleLaplace",
        0.3,
        0.4,
        "log",
        (0.01, 100.0),
        lambda t: stats.laplace(0.3, 0.4).logpdf(math.log(t)),
    ),
    ("uniform", 0.0, 20.0, "lin", (0.01, 10.0), lambda t: stats.uniform(0.0, 20.0).logpdf(t)),
    (
        "parameterScaleUniform",
        -3.0,
        3.0,
        "log10",
        (0.01, 100.0),
        lambda t: stats.uniform(-3.0, 6.0).logpdf(math.log10(t)),
    ),
]


@pytest.mark.parametrize(("kind", "a", "b", "scale", "bounds", "logpdf"), CASES, ids=[c[0] for c in CASES])
def test_half_squared_residual_is_minus_the_log_density(kind, a, b, scale, bounds, logpdf):
    prior = Prior(kind, a, b, scale, *bounds)
    thetas = np.geomspace(*bounds, 41)
    phis = [SCALES[scale](t) for t in thetas]
    half = np.array([0.5 * prior.residual(phi)[0] ** 2 for phi in phis])
    minus_log_p = np.array([-logpdf(t) for t in thetas])
    assert np.ptp(half - minus_log_p) < 1e-9  # equal up to one constant
    assert half.min() >= 0 and half.min() < 0.05 * max(1.0, np.ptp(half))  # ≥ 0, near 0 at the mode
    assert [prior.negative_log_density(t) for t in thetas] == pytest.approx(minus_log_p, rel=1e-12)
    for phi in phis[3::7]:  # the objective's gradient r ∂r/∂φ against central differences
        r, slope = prior.residual(phi)
        h = 1e-6 * max(1.0, abs(phi))
        numeric = (prior.residual(phi + h)[0] ** 2 - prior.residual(phi - h)[0] ** 2) / (4 * h)
        assert r * slope == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_a_prior_the_least_squares_form_cannot_hold_is_refused():
    with pytest.raises(dg.UnsupportedFeatureError, match="positive lower bound"):
        Prior("logLaplace", 0.0, 2.0, "lin", 0.0, 10.0)  # −ln p → −∞ at θ → 0
    with pytest.raises(dg.UnsupportedFeatureError, match="narrower than the parameter's bounds"):
        Prior("uniform", 1.0, 2.0, "lin", 0.0, 10.0)


PRIORS = {  # case 0001's parameters: θ ∈ [0, 10] (k1 on log10, bounds 0.01–10)
    "a0": ("laplace", "1;0.2", lambda t: stats.laplace(1.0, 0.2).logpdf(t)),
    "b0": ("uniform", "0;10", lambda t: stats.uniform(0.0, 10.0).logpdf(t)),
    "k1": ("parameterScaleNormal", "-0.1;0.5", lambda t: stats.norm(-0.1, 0.5).logpdf(math.log10(t))),
    "k2": ("logNormal", "-0.5;0.3", lambda t: stats.lognorm(0.3, scale=math.exp(-0.5)).logpdf(t)),
}


def _case_0001(folder, priors: dict | None, **changes) -> dg.PetabProblem:
    for file in (DATA / "petab_test_suite" / "0001").iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    table = pd.read_csv(folder / "_parameters.tsv", sep="\t", index_col=0, dtype={"lowerBound": float})
    table.loc["k1", ["parameterScale", "lowerBound"]] = ["log10", 0.01]
    if priors is not None:
        table["objectivePriorType"] = [priors[p][0] for p in table.index]
        table["objectivePriorParameters"] = [priors[p][1] for p in table.index]
    for column, value in changes.items():
        table[column] = value
    table.to_csv(folder / "_parameters.tsv", sep="\t")
    return dg.read_petab(folder / "_0001.yaml")


@pytest.mark.requires_petab
@pytest.mark.filterwarnings(r"ignore::DeprecationWarning:petab\..*")
def test_a_petab_problem_with_priors_adds_minus_the_log_prior(tmp_path):
    (tmp_path / "with").mkdir(), (tmp_path / "without").mkdir()
    with_priors = _case_0001(tmp_path / "with", PRIORS)
    plain = _case_0001(tmp_path / "without", None)
    assert with_priors.names == plain.names == ("a0", "b0", "k1", "k2")
    assert with_priors.n_residuals == plain.n_residuals + 3  # the uniform prior is a constant

    def minus_log_prior(phi):
        return -sum(
            PRIORS[name][2](value) for name, value in zip(plain.names, plain.values(phi), strict=True)
        )

    points = [with_priors.nominal + np.array(step) for step in ([0.05, 0.5, 0, 0.01], [0.3, 1, -0.4, 0.2])]
    offsets = [with_priors.cost(p) - plain.cost(p) - minus_log_prior(p) for p in points]
    assert offsets[0] == pytest.approx(offsets[1], abs=1e-9)

    phi = points[1]
    r, jac = with_priors.residuals(phi)
    h = 1e-6
    numeric = [
        (with_priors.cost(phi + h * e) - with_priors.cost(phi - h * e)) / (2 * h) for e in np.eye(len(phi))
    ]
    assert jac.T @ r == pytest.approx(numeric, rel=1e-5, abs=1e-7)

    simulation = with_priors.simulate()
    theta = with_priors.values(with_priors.nominal)
    assert simulation.log_prior == pytest.approx(-minus_log_prior(with_priors.nominal), rel=1e-12)
    assert simulation.llh == pytest.approx(plain.simulate().llh, rel=1e-12)  # the likelihood alone
    assert theta[1] == 0.0  # b0's nominal value sits on the uniform prior's edge: still finite


@pytest.mark.requires_petab
@pytest.mark.filterwarnings(r"ignore::DeprecationWarning:petab\..*")
def test_tight_priors_hold_a_fit_at_their_means(tmp_path):
    """Two measurements cannot move four parameters with priors of SD 1e-3 more than a few SDs:
    the fit (maximum a posteriori) sits at the prior means."""
    means = {"a0": 1.2, "b0": 0.3, "k1": 0.5, "k2": 0.4}
    tight = {name: ("normal", f"{mean};1e-3", None) for name, mean in means.items()}
    problem = _case_0001(tmp_path, tight)
    result = dg.fit(problem, n_starts=2, seed=1)
    for name, mean in means.items():
        assert result.parameters[name].magnitude == pytest.approx(mean, abs=1e-2)


@pytest.mark.requires_petab
@pytest.mark.filterwarnings(r"ignore::DeprecationWarning:petab\..*")
def test_bad_and_unsupported_prior_entries_are_named(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    with pytest.raises(dg.DataError, match=r"prior parameters '\(0.5,\)' do not contain"):
        _case_0001(tmp_path / "c", {**PRIORS, "k2": ("normal", "0.5", None)})  # petab's lint
    bad = {**PRIORS, "k2": ("normal", "0.5;-1", None)}
    with pytest.raises(dg.DataError, match=r"normal prior of 'k2': the scale .* must be positive") as caught:
        _case_0001(tmp_path / "a", bad)
    assert caught.value.location == "parameters[k2].objectivePriorParameters"
    with pytest.raises(dg.UnsupportedFeatureError, match="initializationPriorType 'normal'"):
        _case_0001(
            tmp_path / "b", None, initializationPriorType="normal", initializationPriorParameters="1;1"
        )
