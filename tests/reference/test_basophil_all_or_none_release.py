"""basophil_all_or_none_release (biology.md M7) against the published population behaviour.

- Immunology 1980;40:411: histamine release by antigen correlates linearly, slope ≈ 1, with
  the fraction of degranulated basophils; non-releasing cells explain incomplete release.
- Dembo et al. 1978 (J Immunol 121:354): basophil histamine release by a bivalent hapten is
  bell-shaped in dose because crosslinks are; with negligible depletion the crosslinking peak
  is at free hapten 1/(2 K1) = k_off/(2 k_on) = 8.75 nM (biology.md §1.2).
"""

from __future__ import annotations

import numpy as np
import pytest

import degranulation as dg

DOSES = np.geomspace(1e-3, 1e5, 17)  # nM, two per decade
OPTIMUM = 0.14 / (2 * 8e6) * 1e9  # nM, x = 2 K1 L = 1


@pytest.fixture(scope="module")
def model():
    return dg.load_model("basophil_all_or_none_release")


@pytest.fixture(scope="module")
def dose_response(model):
    """Histamine release, CD63+ cells and crosslinks at 5, 10, 20, 30 and 60 min per dose."""
    minutes = [0, 5, 10, 20, 30, 60]
    out = {"histamine_release": [], "cd63_positive": [], "crosslinked_ige": []}
    for dose in DOSES:
        ds = dg.simulate(
            model,
            t=[f"{m} min" for m in minutes],
            initial={"L0": f"{dose} nM"},
            protocol="none",
            rtol=1e-8,
            atol=1e-8,
        )
        for name in out:
            out[name].append(ds[name].pint.magnitude[1:])
    return {name: np.array(values) for name, values in out.items()}


def test_release_tracks_fraction_of_degranulated_cells(dose_response):
    # Immunology 1980: slope ≈ 1 between % histamine released and % degranulated cells.
    release = dose_response["histamine_release"].ravel()
    degranulated = dose_response["cd63_positive"].ravel()
    slope, intercept = np.polyfit(degranulated, release, 1)
    assert slope == pytest.approx(1.0, abs=0.1)
    assert abs(intercept) < 2.0  # percent
    assert np.corrcoef(degranulated, release)[0, 1] > 0.99


def test_dose_response_is_bell_shaped(dose_response):
    # Dembo et al. 1978: release rises, peaks and falls with hapten dose.
    release = dose_response["histamine_release"][:, 3]  # 30 min
    peak = int(np.argmax(release))
    assert 0 < peak < len(DOSES) - 1
    assert np.all(np.diff(release[: peak + 1]) >= -1e-9)
    assert np.all(np.diff(release[peak:]) <= 1e-9)
    assert release[0] < 0.05 * release[peak] and release[-1] < 0.05 * release[peak]
    # the bell comes from crosslinking: both peak within a decade of x = 1
    crosslinks = dose_response["crosslinked_ige"][:, 3]
    for curve in (release, crosslinks):
        assert abs(np.log10(DOSES[int(np.argmax(curve))] / OPTIMUM)) <= 1.0


def test_non_releasers_cap_release_below_total(model):
    # Immunology 1980: non-releasing cells explain incomplete release; here 20 % never respond.
    ds = dg.simulate(
        model, t="6 h", points=2, initial={"L0": f"{OPTIMUM} nM"}, protocol="none", rtol=1e-8, atol=1e-8
    )
    assert float(ds["histamine_release"].pint.magnitude[-1]) == pytest.approx(80.0, abs=0.1)


def test_washout_stops_release(model):
    # Default protocol: hapten washed out at 10 min. Cells already activated complete; no new
    # cells activate once the bridges are gone (seconds), so release stays far below the
    # unwashed response.
    times = [f"{m} min" for m in (0, 10, 15, 60)]
    washed = dg.simulate(model, t=times, rtol=1e-8, atol=1e-8)["histamine_release"].pint.magnitude
    kept = dg.simulate(model, t=times, protocol="none", rtol=1e-8, atol=1e-8)[
        "histamine_release"
    ].pint.magnitude
    assert washed[3] - washed[2] < 0.5  # nothing after the activated cells finish
    assert kept[3] > washed[3] + 20
