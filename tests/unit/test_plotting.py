"""Figures a scientist would show, checked through Matplotlib's objects (Agg backend): axis labels
with units, titles with the readout time and the estimates, the EC50 marked with its interval,
legends that cover no data, the time axis in the data's unit, and the profile likelihood."""

from __future__ import annotations

import numpy as np
import pytest

import degranulation as dg
from degranulation.hill import fit_curves
from degranulation.library import models_folder

matplotlib = pytest.importorskip("matplotlib", reason="figures need the plot extra")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")

from degranulation.plotting import dose_response_figure, fit_figure, profile_figure  # noqa: E402

DATA = models_folder() / "data" / "crosslinking_synthetic.csv"


@pytest.fixture(scope="module")
def sweep():
    return dg.dose_response(
        "ige_fceri_crosslinking",
        vary="L",
        observe="RecDim",
        at="10 min",
        doses=dg.geomspace("1e3 molecule", "1e9 molecule", 13),
    )


@pytest.fixture(scope="module")
def fitted():
    return dg.fit("ige_fceri_crosslinking", DATA, estimate=["kp1"], n_starts=1, seed=0)


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_dose_response_marks_the_ec50_and_its_interval(sweep):
    fit = fit_curves(sweep, "L")["RecDim"]
    figure = dose_response_figure(sweep, {"RecDim": fit})
    axis = figure.axes[0]
    assert axis.get_title() == "RecDim at 10 min"
    assert axis.get_xlabel() == "L [molecule]" and axis.get_ylabel() == "RecDim [molecule]"
    assert axis.get_xscale() == "log"
    (marker,) = [line for line in axis.get_lines() if line.get_gid() == "ec50"]
    ec50 = fit.ec50.to("molecule").magnitude
    assert marker.get_xdata()[0] == pytest.approx(ec50)
    # On the curve at half-way between bottom and top (the EC50's definition).
    half = (fit.bottom.magnitude + fit.top.magnitude) / 2
    assert marker.get_ydata()[0] == pytest.approx(half, rel=1e-9)
    low, high = (float(q.to("molecule").magnitude) for q in fit.ec50_ci)
    spans = [p.get_path().get_extents(p.get_patch_transform()) for p in axis.patches]
    assert any(s.x0 == pytest.approx(low) and s.x1 == pytest.approx(high) for s in spans)
    texts = [t.get_text() for t in axis.get_legend().get_texts()]
    assert f"EC50 = {ec50:.3g} molecule [{low:.3g}, {high:.3g}] (95% CI)" in texts
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    assert not _overlaps(axis.get_legend().get_window_extent(renderer), axis.get_window_extent(renderer))
    plt.close(figure)


def test_a_steady_state_sweep_says_so_in_the_title(sweep):
    steady = sweep.assign_attrs(readout="steady state")
    figure = dose_response_figure(steady, fit_curves(steady, "L"))
    assert figure.axes[0].get_title() == "RecDim at steady state"
    plt.close(figure)


def test_fit_figure_uses_the_data_time_unit_and_shows_the_estimates(fitted):
    figure = fit_figure(fitted, time_unit="min")
    top, bottom = figure.axes[0], figure.axes[1]
    assert bottom.get_xlabel() == "time [min]"
    # The assay's last time point is 10 min (models/data/crosslinking_synthetic.csv).
    data_times = np.concatenate([c.get_children()[0].get_xdata() for c in top.containers])
    assert data_times.max() == pytest.approx(10.0)
    assert max(line.get_xdata().max() for line in top.get_lines()) == pytest.approx(10.0)
    low, high = (q.magnitude for q in fitted.confidence_intervals["kp1"])
    title = figure._suptitle.get_text()
    value = fitted.parameters["kp1"].magnitude
    assert f"kp1 = {value:.3g} 1/(molecule*s)  [{low:.3g}, {high:.3g}] (95% fisher CI)" in title
    plt.close(figure)
    seconds = fit_figure(fitted)  # default: the model's time unit
    assert seconds.axes[1].get_xlabel() == "time [s]"
    data_times = np.concatenate([c.get_children()[0].get_xdata() for c in seconds.axes[0].containers])
    assert data_times.max() == pytest.approx(600.0)
    plt.close(seconds)


def test_profile_figure_shows_the_threshold_and_the_interval(fitted):
    profiles = dg.profile_likelihood(fitted)
    figure = profile_figure(profiles)
    axis = figure.axes[0]
    profile = profiles.profiles["kp1"]
    assert axis.get_xlabel() == "kp1 [1/(molecule*s)]" and axis.get_ylabel() == "cost − best cost"
    assert axis.get_title().endswith("identifiable")
    horizontal = [line for line in axis.get_lines() if len(set(line.get_ydata())) == 1]
    # χ²₁(0.95)/2 = 1.9207: the rise in cost that bounds a 95% profile interval.
    assert horizontal[0].get_ydata()[0] == pytest.approx(1.92073, abs=1e-5)
    vertical = sorted(line.get_xdata()[0] for line in axis.get_lines() if len(set(line.get_xdata())) == 1)
    assert vertical == pytest.approx([profile.ci_low, profile.ci_high])
    plt.close(figure)


@pytest.mark.parametrize(("environment", "expected"), [({"MPLBACKEND": "svg"}, "svg"), ({}, "agg")])
def test_a_backend_chosen_before_is_kept(environment, expected):
    # Jupyter chooses its inline backend through MPLBACKEND: forcing Agg there hid every later
    # figure of the notebook. With nothing chosen (a script), the figures need no display: Agg.
    import os
    import subprocess
    import sys

    code = (
        "import matplotlib\n"
        "from degranulation.plotting import _pyplot\n"
        "_pyplot()\n"
        "print(matplotlib.get_backend().lower())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"} | environment
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == expected
