"""Matplotlib figures: dose–response curves with their Hill fits; fitted models against data.

Matplotlib is an optional extra (``pip install 'degranulation[plot]'``); it is imported only
when a figure is drawn, and its absence is reported then, naming the extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import xarray

    from degranulation.fitting import FitResult
    from degranulation.sweeps import HillFit


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'degranulation[plot]'") from None
    return plt


def plot_dose_response(result: xarray.Dataset, fits: dict[str, HillFit | str], path: str | Path) -> Path:
    """Draw each fitted readout of a one-factor sweep against dose (log axis), with its Hill
    curve, EC50 and, for a bell, the peak; one panel per readout. Writes ``path`` (PNG, PDF, SVG).

    Examples
    --------
    >>> import tempfile, pathlib, degranulation as dg
    >>> from degranulation.sweeps import fit_curves
    >>> dr = dg.dose_response("ige_fceri_crosslinking", vary="L", observe="RecDim", at="10 min",
    ...                       doses=dg.geomspace("1e3 molecule", "1e9 molecule", 13))
    >>> path = plot_dose_response(dr, fit_curves(dr, "L"), pathlib.Path(tempfile.mkdtemp()) / "dr.png")
    >>> path.stat().st_size > 0
    True
    """
    from degranulation.sweeps import HillFit

    plt = _pyplot()
    names = [name for name, fit in fits.items() if isinstance(fit, HillFit)] or list(fits)
    if not names:
        raise ValueError("nothing to plot: the sweep has no readout that is a curve along one dose axis")
    dim = str(result[names[0]].dims[0])
    figure, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), squeeze=False)
    dose = result[dim].data
    for axis, name in zip(axes[0], names, strict=True):
        values = result[name].data
        axis.semilogx(dose.magnitude, values.magnitude, "o", color="black", markersize=4, label="simulated")
        fit = fits[name]
        if isinstance(fit, HillFit):
            _draw_fit(axis, fit, dose)
        axis.set_xlabel(f"{dim} [{_unit_label(result[dim])}]")
        axis.set_ylabel(f"{name} [{_unit_label(result[name])}]")
        axis.legend(frameon=False, fontsize="small")
    figure.tight_layout()
    return _save(figure, path)


def _unit_label(array: xarray.DataArray) -> str:
    """The unit as the model wrote it ('molecule'), else pint's short form."""
    return str(array.attrs.get("units_as_written") or f"{array.data.units:~P}")


def _draw_fit(axis: Any, fit: HillFit, dose: Any) -> None:
    grid = np.geomspace(dose.magnitude.min(), dose.magnitude.max(), 200)
    if fit.peak_dose is not None:  # the Hill fit describes the rising side of a bell
        grid = grid[grid <= fit.peak_dose.to(dose.units).magnitude]
    curve = fit.response(grid * dose.units)
    label = "IC50" if fit.shape == "decreasing" else "EC50"
    axis.semilogx(
        grid,
        curve.magnitude,
        "-",
        color="tab:blue",
        label=f"Hill fit, n = {fit.n:.3g}, {label} = {fit.ec50:.3g~P}",
    )
    axis.axvline(fit.ec50.to(dose.units).magnitude, color="tab:blue", linestyle=":", linewidth=1)
    if fit.peak is not None:
        axis.plot(
            [fit.peak_dose.to(dose.units).magnitude],
            [fit.peak.magnitude],
            "v",
            color="tab:red",
            label=f"peak {fit.peak:.3g~P} at {fit.peak_dose:.3g~P}",
        )


def plot_fit(result: FitResult, path: str | Path) -> Path:
    """Draw each readout's data (with SDs) and fitted model against time, one colour per
    condition, above the weighted residuals; one column per readout. Writes ``path``.

    Examples
    --------
    >>> import tempfile, pathlib, degranulation as dg
    >>> from degranulation.library import models_folder
    >>> fit = dg.fit("ige_fceri_crosslinking", models_folder() / "data" / "crosslinking_synthetic.csv",
    ...              estimate=["kp1"], n_starts=1, seed=0)
    >>> plot_fit(fit, pathlib.Path(tempfile.mkdtemp()) / "fit.png").stat().st_size > 0
    True
    """
    plt = _pyplot()
    problem = result.problem
    names = [r.name for r in problem.readouts]
    figure, axes = plt.subplots(
        2,
        len(names),
        figsize=(4.8 * len(names), 5.2),
        squeeze=False,
        sharex="col",
        gridspec_kw={"height_ratios": [3, 1]},
    )
    labels = list(dict.fromkeys(problem.labels))
    colours = {label: plt.get_cmap("tab10")(k % 10) for k, label in enumerate(labels)}
    time_unit = problem.model.units.time
    for column, readout in enumerate(problem.readouts):
        top, bottom = axes[0, column], axes[1, column]
        rows = problem.readout_of == column
        for label in labels:
            mine = rows & (np.asarray(problem.labels) == label)
            if not mine.any():
                continue
            colour = colours[label]
            top.errorbar(
                problem.times[mine],
                problem.data[mine],
                yerr=result.sigma[mine],
                fmt="o",
                color=colour,
                markersize=4,
                capsize=2,
                label=label,
            )
            bottom.plot(problem.times[mine], result.residuals[mine], "o", color=colour, markersize=4)
        for label, name, t, y in result.curves():
            if name == readout.name:
                top.plot(t, y, "-", color=colours[label], linewidth=1)
        top.set_ylabel(f"{readout.name} [{readout.unit}]")
        bottom.axhline(0.0, color="grey", linewidth=0.8)
        bottom.set_ylabel("residual / σ")
        bottom.set_xlabel(f"time [{time_unit}]")
        top.legend(frameon=False, fontsize="x-small")
    figure.suptitle(f"{problem.model.id}: cost {result.cost:.4g}", fontsize="small")
    figure.tight_layout()
    return _save(figure, path)


def _save(figure: Any, path: str | Path) -> Path:
    """Write ``figure`` whole or not at all (format from the extension), then close it."""
    from degranulation.io.atomic import replacing

    path = Path(path)
    try:
        with replacing(path) as temporary:
            figure.savefig(temporary, dpi=150, format=path.suffix.lstrip(".").lower() or None)
    finally:
        _pyplot().close(figure)
    return path
