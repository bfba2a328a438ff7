"""Matplotlib figures: dose–response curves with their Hill fits; fitted models against data;
profile likelihoods.

Matplotlib is an optional extra (``pip install 'degranulation[plot]'``); it is imported only
when a figure is drawn, and its absence is reported then, naming the extra.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import xarray

    from degranulation.estimation.profiles import ProfileResult
    from degranulation.estimation.result import FitResult
    from degranulation.hill import HillFit


def _pyplot() -> Any:
    try:
        import matplotlib

        if not _backend_chosen():
            matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'degranulation[plot]'") from None
    return plt


def _backend_chosen() -> bool:
    """Whether a Matplotlib backend was chosen before us: through ``MPLBACKEND`` (Jupyter sets
    its inline backend so) or by importing pyplot. It is kept, so that the ``*_figure``
    functions display in a notebook and later figures still do; forcing Agg there would hide them."""
    return bool(os.environ.get("MPLBACKEND")) or "matplotlib.pyplot" in sys.modules


def plot_dose_response(result: xarray.Dataset, fits: dict[str, HillFit | str], path: str | Path) -> Path:
    """Draw each fitted readout of a one-factor sweep against dose (log axis), with its Hill
    curve, its EC50 (dotted line) and the EC50's confidence interval (shaded) and, for a bell,
    the peak; one panel per readout, titled with the readout time, the legend below the axes
    so that it covers no point. Writes ``path`` (PNG, PDF, SVG).

    Parameters
    ----------
    result : xarray.Dataset
        A one-factor sweep, e.g. from :func:`degranulation.dose_response`.
    fits : dict of str to HillFit or str
        Readout name → its Hill fit, or the reason it could not be fitted (drawn without a curve).
    path : path
        PNG, PDF or SVG file.

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> import tempfile, pathlib, degranulation as dg
    >>> from degranulation.hill import fit_curves
    >>> dr = dg.dose_response("ige_fceri_crosslinking", vary="L", observe="RecDim", at="10 min",
    ...                       doses=dg.geomspace("1e3 molecule", "1e9 molecule", 13))
    >>> path = dg.plot_dose_response(dr, fit_curves(dr, "L"), pathlib.Path(tempfile.mkdtemp()) / "dr.png")
    >>> path.stat().st_size > 0
    True
    """
    plt = _pyplot()
    figure = dose_response_figure(result, fits)
    return _save(plt, figure, path)


def dose_response_figure(result: xarray.Dataset, fits: dict[str, HillFit | str]) -> Any:
    """The figure :func:`plot_dose_response` writes, as a Matplotlib ``Figure``.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.hill import fit_curves
    >>> dr = dg.dose_response("ige_fceri_crosslinking", vary="L", observe="RecDim", at="10 min",
    ...                       doses=dg.geomspace("1e3 molecule", "1e9 molecule", 13))
    >>> dose_response_figure(dr, fit_curves(dr, "L")).axes[0].get_title()
    'RecDim at 10 min'
    """
    from degranulation.hill import HillFit

    plt = _pyplot()
    names = [name for name, fit in fits.items() if isinstance(fit, HillFit)] or list(fits)
    if not names:
        raise ValueError("nothing to plot: the sweep has no readout that is a curve along one dose axis")
    dim = str(result[names[0]].dims[0])
    figure, axes = plt.subplots(1, len(names), figsize=(4.8 * len(names), 4.4), squeeze=False)
    dose = result[dim].data
    when = readout_time(result)
    for axis, name in zip(axes[0], names, strict=True):
        values = result[name].data
        axis.semilogx(dose.magnitude, values.magnitude, "o", color="black", markersize=4, label="simulated")
        fit = fits[name]
        if isinstance(fit, HillFit):
            _draw_fit(axis, fit, dose, _unit_label(result[dim]))
        else:
            axis.text(
                0.02, 0.98, f"no Hill fit: {fit}", transform=axis.transAxes, va="top", fontsize="x-small"
            )
        axis.set_xlabel(f"{dim} [{_unit_label(result[dim])}]")
        axis.set_ylabel(f"{name} [{_unit_label(result[name])}]")
        axis.set_title(f"{name} {when}".strip(), fontsize="medium")
        # Below the axes: a legend inside would hide the plateau or the foot of the curve.
        axis.legend(frameon=False, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.18))
    figure.tight_layout()
    return figure


def readout_time(result: xarray.Dataset) -> str:
    """How a sweep was read out, for titles: ``'at 10 min'``, ``'at steady state'`` or ''.

    Examples
    --------
    >>> import degranulation as dg
    >>> dr = dg.dose_response("ige_fceri_crosslinking", vary="L", observe="RecDim", at="10 min",
    ...                       doses=dg.geomspace("1e3 molecule", "1e9 molecule", 3))
    >>> readout_time(dr)
    'at 10 min'
    """
    import json

    if result.attrs.get("readout") == "steady state":
        return "at steady state"
    given = json.loads(result.attrs.get("sweep", "{}")).get("at")
    if isinstance(given, str) and given != "steady":
        return f"at {given}"
    if "time" in result.coords and result["time"].ndim == 0:
        time = result["time"].data
        return f"at {time:.4g~P}" if hasattr(time, "units") else f"at t = {float(time):.4g}"
    return ""


def _save(plt: Any, figure: Any, path: str | Path) -> Path:
    """Write ``figure`` whole or not at all (format from the extension), then close it."""
    from degranulation.atomic import replacing

    path = Path(path)
    try:
        with replacing(path) as temporary:
            figure.savefig(
                temporary, dpi=150, bbox_inches="tight", format=path.suffix.lstrip(".").lower() or None
            )
    finally:
        plt.close(figure)
    return path


def _unit_label(array: xarray.DataArray) -> str:
    """The unit as the model wrote it ('molecule'), else pint's short form."""
    return str(array.attrs.get("units_as_written") or f"{array.data.units:~P}")


def _draw_fit(axis: Any, fit: HillFit, dose: Any, dose_label: str) -> None:
    grid = np.geomspace(dose.magnitude.min(), dose.magnitude.max(), 200)
    if fit.peak_dose is not None:  # the Hill fit describes the rising side of a bell
        grid = grid[grid <= fit.peak_dose.to(dose.units).magnitude]
    curve = fit.response(grid * dose.units)
    label = "IC50" if fit.shape == "decreasing" else "EC50"
    axis.semilogx(grid, curve.magnitude, "-", color="tab:blue", label=f"Hill fit, n = {fit.n:.3g}")
    ec50 = fit.ec50.to(dose.units).magnitude
    low, high = (bound.to(dose.units).magnitude for bound in fit.ec50_ci)
    percent = f"{100 * fit.confidence:.3g}%"
    interval = (
        f" [{low:.3g}, {high:.3g}] ({percent} CI)" if np.isfinite(low) and np.isfinite(high) else ", CI n/a"
    )
    axis.axvline(ec50, color="tab:blue", linestyle=":", linewidth=1.2)
    axis.plot(
        [ec50],
        [fit.response(fit.ec50).magnitude],
        "D",
        color="tab:blue",
        markersize=6,
        label=f"{label} = {ec50:.3g} {dose_label}{interval}",
        gid="ec50",
    )
    if np.isfinite(low) and np.isfinite(high):
        axis.axvspan(low, high, color="tab:blue", alpha=0.12, linewidth=0)
    if fit.peak is not None:
        axis.plot(
            [fit.peak_dose.to(dose.units).magnitude],
            [fit.peak.magnitude],
            "v",
            color="tab:red",
            label=f"peak {fit.peak:.3g~P} at {fit.peak_dose.to(dose.units).magnitude:.3g} {dose_label}",
        )


def plot_fit(result: FitResult, path: str | Path, *, time_unit: str | None = None) -> Path:
    """Draw each readout's data (with SDs) and fitted model against time, one colour per
    condition, above the weighted residuals; one column per readout, the estimates with their
    intervals in the title. Writes ``path``.

    Parameters
    ----------
    result : FitResult
    path : path
        PNG, PDF or SVG file.
    time_unit : str, optional
        Unit of the time axis, e.g. the data's ``"min"`` (default: the model's time unit).

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> import tempfile, pathlib, degranulation as dg
    >>> from degranulation.library import models_folder
    >>> fit = dg.fit("ige_fceri_crosslinking", models_folder() / "data" / "crosslinking_synthetic.csv",
    ...              estimate=["kp1"], n_starts=1, seed=0)
    >>> dg.plot_fit(fit, pathlib.Path(tempfile.mkdtemp()) / "fit.png", time_unit="min").stat().st_size > 0
    True
    """
    plt = _pyplot()
    return _save(plt, fit_figure(result, time_unit=time_unit), path)


def fit_figure(result: FitResult, *, time_unit: str | None = None) -> Any:
    """The figure :func:`plot_fit` writes, as a Matplotlib ``Figure``.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.library import models_folder
    >>> fit = dg.fit("ige_fceri_crosslinking", models_folder() / "data" / "crosslinking_synthetic.csv",
    ...              estimate=["kp1"], n_starts=1, seed=0)
    >>> fit_figure(fit, time_unit="min").axes[1].get_xlabel()
    'time [min]'
    """
    plt = _pyplot()
    problem = result.problem
    names = [r.name for r in problem.readouts]
    figure, axes = plt.subplots(
        2,
        len(names),
        figsize=(max(4.8 * len(names), 6.0), 5.6),
        squeeze=False,
        sharex="col",
        gridspec_kw={"height_ratios": [3, 1]},
    )
    labels = list(dict.fromkeys(problem.labels))
    colours = {label: plt.get_cmap("tab10")(k % 10) for k, label in enumerate(labels)}
    unit = time_unit or problem.model.units.time
    per = problem.model.units.magnitude(1.0, unit)  # model time units in one axis unit
    times = problem.times / per
    for column, readout in enumerate(problem.readouts):
        top, bottom = axes[0, column], axes[1, column]
        rows = problem.readout_of == column
        for label in labels:
            mine = rows & (np.asarray(problem.labels) == label)
            if not mine.any():
                continue
            colour = colours[label]
            top.errorbar(
                times[mine],
                problem.data[mine],
                yerr=result.sigma[mine],
                fmt="o",
                color=colour,
                markersize=4,
                capsize=2,
                label=label,
            )
            bottom.plot(times[mine], result.residuals[mine], "o", color=colour, markersize=4)
        for label, name, t, y in result.curves():
            if name == readout.name:
                top.plot(np.asarray(t) / per, y, "-", color=colours[label], linewidth=1)
        top.set_ylabel(f"{readout.name} [{readout.unit}]")
        bottom.axhline(0.0, color="grey", linewidth=0.8)
        bottom.set_ylabel("residual / σ")
        bottom.set_xlabel(f"time [{unit}]")
        top.legend(frameon=False, fontsize="x-small", loc="best")
    figure.suptitle(_estimates_text(result), fontsize="small")
    figure.tight_layout()
    return figure


def _estimates_text(result: FitResult) -> str:
    """One line per estimate with its interval, then the cost."""
    lines = []
    percent = f"{100 * result.level:.3g}%"
    for k, (name, value) in enumerate(result.parameters.items()):
        low, high = result.confidence_intervals[name]
        unit = result.problem.free[k].unit
        lines.append(
            f"{name} = {value.magnitude:.3g} {unit}  [{low.magnitude:.3g}, {high.magnitude:.3g}] "
            f"({percent} {result.ci_method} CI)"
        )
    lines.append(f"{result.problem.model.id}: cost {result.cost:.4g}, {result.n_data} data points")
    return "\n".join(lines)


def plot_profiles(profiles: ProfileResult, path: str | Path) -> Path:
    """Draw each parameter's profile likelihood: the cost increase over the fit against the
    parameter (log axis for positive values), the threshold of the interval and the interval's
    ends; one panel per parameter. Writes ``path``.

    Parameters
    ----------
    profiles : ProfileResult
        From :func:`degranulation.profile_likelihood`.
    path : path
        PNG, PDF or SVG file.

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> import tempfile, pathlib, degranulation as dg
    >>> from degranulation.library import models_folder
    >>> fit = dg.fit("ige_fceri_crosslinking", models_folder() / "data" / "crosslinking_synthetic.csv",
    ...              estimate=["kp1"], n_starts=1, seed=0)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "profile.png"
    >>> dg.plot_profiles(dg.profile_likelihood(fit), path).stat().st_size > 0
    True
    """
    plt = _pyplot()
    return _save(plt, profile_figure(profiles), path)


def profile_figure(profiles: ProfileResult) -> Any:
    """The figure :func:`plot_profiles` writes, as a Matplotlib ``Figure``.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.library import models_folder
    >>> fit = dg.fit("ige_fceri_crosslinking", models_folder() / "data" / "crosslinking_synthetic.csv",
    ...              estimate=["kp1"], n_starts=1, seed=0)
    >>> profile_figure(dg.profile_likelihood(fit)).axes[0].get_xlabel()
    'kp1 [1/(molecule*s)]'
    """
    plt = _pyplot()
    items = list(profiles.profiles.items())
    figure, axes = plt.subplots(1, len(items), figsize=(4.2 * len(items), 3.6), squeeze=False)
    percent = f"{100 * profiles.level:.3g}%"
    for axis, (name, profile) in zip(axes[0], items, strict=True):
        rise = profile.cost - profiles.cost
        axis.plot(profile.values, rise, "o-", color="black", markersize=3, linewidth=1, label="profile")
        if np.all(profile.values > 0) and profile.values.max() > 10 * profile.values.min():
            axis.set_xscale("log")  # a profile over decades; a narrow one reads better linear
        axis.axhline(
            profiles.threshold, color="tab:red", linestyle="--", linewidth=1, label=f"{percent} threshold"
        )
        for end, closed in (
            (profile.ci_low, profile.is_closed_low),
            (profile.ci_high, profile.is_closed_high),
        ):
            axis.axvline(end, color="tab:blue", linestyle="-" if closed else ":", linewidth=1)
        status = "identifiable" if profile.is_identifiable else "practically non-identifiable"
        axis.set_title(f"{name}: [{profile.ci_low:.3g}, {profile.ci_high:.3g}]\n{status}", fontsize="small")
        axis.set_xlabel(f"{name} [{profile.unit}]")
        axis.set_ylabel("cost − best cost")
        axis.legend(
            frameon=False, fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2
        )
    figure.tight_layout()
    return figure
