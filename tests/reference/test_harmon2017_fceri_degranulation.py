"""harmon2017_fceri_degranulation (biology.md M5) against Harmon et al. 2017.

References, none written here:
- D3.1: the six β-hexosaminidase measurements (cpc, mean and SD) of the pulse experiments,
  from the published data files lanl/PyBNF examples/degranulation/p*.exp (Harmon et al. 2017
  Sci Rep 7:15586, Fig. 4), simulated with the published best-fit parameters (model.bngl).
- An independent re-implementation of the same model in SciPy (biology.md §3.3, "my
  re-implementation, published fit"), which gives 1.030e5, 3.546e4, 6.769e4, 9.214e4,
  1.613e5 and 3.985e5 cpc for the six conditions and 4.0, 6.8, 8.2, 10.3, 14.0, 17.2, 20.1,
  25.8 % of H_tot after 1-30 min of continuous antigen.
"""

from __future__ import annotations

import numpy as np
import pytest

import degranulation as dg

# (protocol, readout time in min, data mean cpc, data SD cpc, independent re-implementation cpc)
D3_1 = [
    ("continuous", 5, 1.028e5, 7.26e3, 1.030e5),  # p1_5: first 5-min pulse
    ("pulse_5min", 15, 3.53e4, 3.05e3, 3.546e4),
    ("pulse_30min", 40, 6.6e4, 6.55e3, 6.769e4),
    ("pulse_60min", 70, 1.01e5, 7.93e3, 9.214e4),
    ("pulse_120min", 130, 1.556e5, 7.37e3, 1.613e5),
    ("pulse_240min", 250, 3.95e5, 9.16e3, 3.985e5),
]


@pytest.fixture(scope="module")
def released():
    """β-hex released (cpc) at the end of each D3.1 protocol, published parameters."""
    model = dg.load_model("harmon2017_fceri_degranulation")
    values = {}
    for protocol, minutes, *_ in D3_1:
        ds = dg.simulate(model, t=["0 min", f"{minutes} min"], protocol=protocol, rtol=1e-8, atol=1e-6)
        values[protocol] = float(ds["beta_hex_released"].pint.to("molecule").pint.magnitude[-1])
    return values


@pytest.mark.parametrize(("protocol", "minutes", "mean", "sd", "independent"), D3_1)
def test_matches_independent_reimplementation(released, protocol, minutes, mean, sd, independent):
    # biology.md §3.3 prints the re-implementation to 4 significant figures.
    assert released[protocol] == pytest.approx(independent, rel=1e-3)


_MISSES_BY_1_1_SD = pytest.mark.xfail(
    strict=True,
    reason="with the published best-fit parameters the Δ = 60 min point is 9.21e4 vs 1.01e5 ± 7.93e3 "
    "cpc (1.12 SD low); the independent re-implementation of biology.md §3.3 gives the same 9.214e4",
)


@pytest.mark.parametrize(
    ("protocol", "minutes", "mean", "sd", "independent"),
    [pytest.param(*row, marks=_MISSES_BY_1_1_SD) if row[0] == "pulse_60min" else row for row in D3_1],
)
def test_d3_1_within_one_sd(released, protocol, minutes, mean, sd, independent):
    # Harmon 2017 data (PyBNF p*.exp): every point within 1 SD, except the documented miss.
    assert abs(released[protocol] - mean) <= sd


def test_d3_1_within_one_and_a_quarter_sd(released):
    # All six together: the published fit's worst residual is 1.12 SD (Δ = 60 min).
    z = [(released[protocol] - mean) / sd for protocol, _, mean, sd, _ in D3_1]
    assert max(abs(v) for v in z) < 1.15
    assert sum(v * v for v in z) < 2.5  # chi-square of the published fit over D3.1: 2.05


def test_desensitisation_and_priming(released):
    # Harmon 2017: a second pulse after 5 min of quiescence releases less than the first
    # (desensitisation); after 240 min it releases more (priming).
    first = released["continuous"]
    assert released["pulse_5min"] < 0.5 * first
    assert released["pulse_240min"] > 3 * first
    second = [released[f"pulse_{gap}min"] for gap in (5, 30, 60, 120, 240)]
    assert np.all(np.diff(second) > 0)


def test_continuous_stimulation_time_course():
    # biology.md §3.3, independent re-implementation (a model prediction, not data).
    expected = [4.0, 6.8, 8.2, 10.3, 14.0, 17.2, 20.1, 25.8]
    minutes = [0, 1, 2, 3, 5, 10, 15, 20, 30]
    ds = dg.simulate(
        "harmon2017_fceri_degranulation",
        t=[f"{m} min" for m in minutes],
        protocol="continuous",
        rtol=1e-8,
        atol=1e-6,
    )
    percent = ds["beta_hex_release"].pint.to("percent").pint.magnitude[1:]
    np.testing.assert_allclose(percent, expected, atol=0.06)  # printed to 0.1 % (6.748 is given as 6.8)
