"""Hill (four-parameter logistic) fits of dose–response curves: ``HillFit``, ``hill_fit``, and
``fit_curves`` for every readout of a sweep.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np

from degranulation.errors import FitError, UnitError
from degranulation.units import as_written

if TYPE_CHECKING:
    import xarray


OK: Final = "ok"  # a solved point's status in a sweep (degranulation.sweeps.solve.OK)
FLAT: Final = 1e-4  # a curve whose range is below this fraction of its size has no dose dependence


@dataclass(frozen=True, kw_only=True)
class HillFit:
    """A Hill (four-parameter logistic) fit of a dose–response curve.

    For a bell-shaped curve (it rises above, then falls below, its half-maximal level) the
    Hill fit describes the rising side, and ``peak_dose``, ``peak`` and ``half_max_doses``
    describe the bell.

    Attributes
    ----------
    shape : {"increasing", "decreasing", "bell"}
    ec50 : Quantity
        Dose of half-maximal effect: the EC50, or the IC50 of a decreasing curve.
    ec50_ci : (Quantity, Quantity)
        Its ``confidence`` interval (from the fit's covariance, on log dose).
    n : float
        Hill coefficient (steepness, positive for both directions).
    bottom, top : Quantity
        The lower and upper plateaus.
    peak_dose, peak : Quantity or None
        Where a bell-shaped curve peaks and its height.
    half_max_doses : (Quantity, Quantity) or None
        The doses either side of the peak where the response is halfway between the
        curve's minimum and its peak.
    extrapolated : bool
        The fitted EC50 lies outside the dosed range: it is an extrapolation, not a
        measurement. ``ec50_ci`` is then the honest one-sided interval (the largest dose
        to infinity, or 0 to the smallest dose) and ``ec50_bound`` says so in words.
    ec50_bound : str or None
        For an extrapolated EC50, the bound the data support, e.g. ``"> 10 µM"``.
    """

    shape: Literal["increasing", "decreasing", "bell"]
    ec50: Any
    ec50_ci: tuple[Any, Any]
    n: float
    bottom: Any
    top: Any
    peak_dose: Any = None
    peak: Any = None
    half_max_doses: tuple[Any, Any] | None = None
    confidence: float = 0.95
    extrapolated: bool = False
    ec50_bound: str | None = None

    def response(self, dose: Any) -> Any:
        """The fitted curve at ``dose`` (a Quantity, scalar or array), in the response's unit.

        For a bell-shaped curve this is the fit of its rising side.

        Examples
        --------
        >>> import numpy as np, xarray as xr, degranulation as dg
        >>> x = np.geomspace(0.01, 100, 9)
        >>> curve = xr.DataArray(x / (1 + x), dims="Ag", coords={"Ag": ("Ag", x, {"units": "nM"})},
        ...                      attrs={"units": "dimensionless"})
        >>> fit = dg.hill_fit(curve)
        >>> round(float(fit.response(dg.geomspace("1 nM", "1 nM", 2)).magnitude[0]), 6)
        0.5
        """
        ratio = (dose.to(self.ec50.units).magnitude / self.ec50.magnitude) ** self.n
        if self.shape == "decreasing":
            ratio = 1 / ratio
        span = (self.top - self.bottom).to(self.bottom.units)
        return self.bottom + span * (ratio / (1 + ratio))

    def to_dict(self) -> dict[str, Any]:
        """Plain data: magnitudes with their units."""

        def entry(q: Any) -> Any:
            return None if q is None else {"value": float(q.magnitude), "unit": f"{q.units:~C}"}

        return {
            "shape": self.shape,
            "ec50": entry(self.ec50),
            "ec50_ci": [entry(q) for q in self.ec50_ci],
            "n": self.n,
            "bottom": entry(self.bottom),
            "top": entry(self.top),
            "peak_dose": entry(self.peak_dose),
            "peak": entry(self.peak),
            "half_max_doses": (
                None if self.half_max_doses is None else [entry(q) for q in self.half_max_doses]
            ),
            "confidence": self.confidence,
            "extrapolated": self.extrapolated,
            "ec50_bound": self.ec50_bound,
        }


def hill_fit(
    curve: xarray.DataArray,
    dim: str | None = None,
    *,
    dose: xarray.DataArray | None = None,
    level: float = 0.95,
    confidence: float | None = None,
) -> HillFit:
    """Fit a Hill curve to a dose–response: EC50 (or IC50) with its confidence interval, Hill
    coefficient, bottom and top; for a bell-shaped curve also its peak and half-maximal doses.

    Parameters
    ----------
    curve : xarray.DataArray
        One-dimensional response along the dose dimension (e.g. ``dr["RecDim"]``), with
        units (quantified or in a ``units`` attribute).
    dim : str, optional
        The dose dimension (default: the curve's only dimension).
    dose : xarray.DataArray, optional
        Dose values along ``dim`` to use instead of its coordinate, e.g. the free ligand
        read out by the sweep.
    level : float
        Confidence level of the EC50 interval (``level``, as in :func:`degranulation.fit` and
        :func:`degranulation.profile_likelihood`; the old name ``confidence`` still works,
        with a DeprecationWarning).

    Returns
    -------
    HillFit

    Raises
    ------
    FitError
        For fewer than four usable points (positive dose, finite response), a curve with no
        dose dependence (its range is below :data:`FLAT` of its magnitude: e.g. a conserved
        total), or a fit that does not converge or has no finite EC50.

    Notes
    -----
    The model is ``y = bottom + (top - bottom) / (1 + (EC50/x)**n)`` (``(x/IC50)**n`` for a
    decreasing curve), fitted on log dose with :func:`scipy.optimize.curve_fit`. The peak of
    a bell is located on a cubic spline through the points in log dose.

    Examples
    --------
    >>> import numpy as np, xarray as xr, degranulation as dg
    >>> x = np.geomspace(0.01, 100, 21)
    >>> curve = xr.DataArray(2 + 8 * x**1.5 / (1 + x**1.5), dims="Ag",
    ...                      coords={"Ag": ("Ag", x, {"units": "nM"})}, attrs={"units": "percent"})
    >>> fit = dg.hill_fit(curve)
    >>> fit.shape, f"{fit.ec50:.4f~P}", round(fit.n, 4), f"{fit.top:.4f~P}"
    ('increasing', '1.0000 nM', 1.5, '10.0000 %')
    """
    from scipy.interpolate import CubicSpline

    from degranulation._deprecation import renamed

    confidence = renamed(level, confidence, old="confidence", new="level", function="hill_fit")
    x, y, dose_unit, unit, name = _curve_values(curve, dim, dose)
    quantity = _quantity_maker()
    u = np.log10(x)
    low, high = float(np.min(y)), float(np.max(y))
    top_index = int(np.argmax(y))
    level = low + (high - low) / 2
    is_bell = 0 < top_index < len(y) - 1 and y[:top_index].min() < level and y[top_index + 1 :].min() < level
    peak_dose = peak = half = None
    if is_bell:
        spline = CubicSpline(u, y)
        where, height = _spline_peak(spline, u, top_index)
        level = low + (height - low) / 2
        crossings = spline.solve(level, extrapolate=False)
        left, right = crossings[crossings < where], crossings[crossings > where]
        peak_dose, peak = quantity(10**where, dose_unit), quantity(height, unit)
        if len(left) and len(right):
            half = (quantity(10 ** left.max(), dose_unit), quantity(10 ** right.min(), dose_unit))
        u, y = u[: top_index + 1], y[: top_index + 1]
    if len(u) < 4:
        raise FitError(
            f"the rising side of bell-shaped '{name}' has {len(u)} points; a Hill fit needs 4",
            hint="add doses below the peak",
        )
    bottom, top, log_ec50, n, spread = _fit_logistic(u, y, name)
    shape: Literal["increasing", "decreasing", "bell"] = (
        "bell" if is_bell else ("increasing" if (top - bottom) * n > 0 else "decreasing")
    )
    ci = _interval(log_ec50, spread, len(u) - 4, confidence)
    bound = None
    if not u[0] <= log_ec50 <= u[-1]:  # beyond the doses: only a one-sided bound is measured
        edge = u[-1] if log_ec50 > u[-1] else u[0]
        bound = f"{'>' if log_ec50 > u[-1] else '<'} {10**edge:.4g} {quantity(1, dose_unit).units:~P}"
        ci = (edge, math.inf) if log_ec50 > u[-1] else (-math.inf, edge)
    return HillFit(
        shape=shape,
        ec50=quantity(10**log_ec50, dose_unit),
        ec50_ci=(quantity(_exp10(ci[0]), dose_unit), quantity(_exp10(ci[1]), dose_unit)),
        extrapolated=bound is not None,
        ec50_bound=bound,
        n=abs(n),
        bottom=quantity(min(bottom, top), unit),
        top=quantity(max(bottom, top), unit),
        peak_dose=peak_dose,
        peak=peak,
        half_max_doses=half,
        confidence=confidence,
    )


def fit_curves(result: xarray.Dataset, dim: str) -> dict[str, HillFit | str]:
    """A Hill fit of every readout of a sweep that is a curve along ``dim`` alone, or why
    there is none (points that failed are left out).

    Examples
    --------
    >>> import degranulation as dg
    >>> dr = dg.dose_response("ige_fceri_crosslinking", vary="L", observe="RecDim", at="10 min",
    ...                       doses=dg.geomspace("1e3 molecule", "1e9 molecule", 13))
    >>> from degranulation.hill import fit_curves
    >>> fits = fit_curves(dr, "L")
    >>> fits["RecDim"].shape, f"{fits['RecDim'].ec50.to('molecule').magnitude:.3g}"
    ('increasing', '2.12e+06')
    """
    fits: dict[str, HillFit | str] = {}
    for name, variable in result.data_vars.items():
        if name in ("status", "message") or variable.dims != (dim,):
            continue
        try:
            fits[str(name)] = hill_fit(variable.where(result["status"] == OK), dim)
        except FitError as exc:
            fits[str(name)] = exc.message
    return fits


def hill_records(
    result: xarray.Dataset, fits: dict[str, HillFit | str], dim: str
) -> dict[str, dict[str, Any]]:
    """Each readout's Hill fit as plain data (its JSON), with flags for what a reader should know.

    Parameters
    ----------
    result : xarray.Dataset
        The sweep, with the dose dimension ``dim``.
    fits : dict
        :func:`fit_curves` of ``result`` along ``dim``.

    Returns
    -------
    dict
        Per readout ``{"status": "ok", "label": "EC50" or "IC50", ..., "flags": [...]}`` (the
        fields of :meth:`HillFit.to_dict`, doses in the unit the sweep writes), or
        ``{"status": "no fit", "reason": ...}``.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.hill import fit_curves, hill_records
    >>> dr = dg.dose_response("ige_fceri_crosslinking", vary="L", observe=["RecDim", "LR"], at="10 min",
    ...                       doses=dg.geomspace("1e3 molecule", "1e9 molecule", 13))
    >>> records = hill_records(dr, fit_curves(dr, "L"), "L")
    >>> records["RecDim"]["label"], records["RecDim"]["ec50"]["unit"], records["RecDim"]["flags"]
    ('EC50', 'molecule', [])
    >>> records["LR"]["flags"][0]
    'EC50 outside the swept doses (extrapolated)'
    """
    return {name: _hill_record(fit, result[dim]) for name, fit in fits.items()}


def _hill_record(fit: Any, dose: Any) -> dict[str, Any]:
    """A readout's Hill fit as plain data, with flags for what a reader should know."""
    if isinstance(fit, str):
        return {"status": "no fit", "reason": fit}
    record = {"status": "ok", "label": "IC50" if fit.shape == "decreasing" else "EC50", **fit.to_dict()}
    dose_unit = dose.attrs.get("units_as_written")  # 'molecule' as the model writes it, not 'molec'
    for key in ("ec50", "peak_dose"):
        if dose_unit and record[key] is not None:
            record[key]["unit"] = dose_unit
    for key in ("ec50_ci", "half_max_doses"):
        for bound in record[key] or ():
            bound["unit"] = dose_unit or bound["unit"]
    ec50 = fit.ec50.to(dose.data.units).magnitude
    low, high = (bound.to(dose.data.units).magnitude for bound in fit.ec50_ci)
    doses = dose.data.magnitude
    flags = []
    if not doses.min() <= ec50 <= doses.max():
        flags.append(f"{record['label']} outside the swept doses (extrapolated)")
    if not (math.isfinite(low) and math.isfinite(high)):
        flags.append(f"{record['label']} interval not estimable (written as null)")
    elif low > 0 and high / low > 100:
        flags.append(f"{record['label']} interval spans more than two decades")
    if fit.shape == "bell":
        flags.append("bell-shaped: the Hill fit describes the rising side")
    record["flags"] = flags
    return record


def with_hill_attributes(result: xarray.Dataset, hill: dict[str, dict[str, Any]]) -> xarray.Dataset:
    """The sweep with its Hill fits as attributes: ``hill_fits`` (strict JSON) on the
    dataset, and ``hill_ec50``, ``hill_ec50_ci``, ``hill_n``... on each fitted readout.

    ``hill`` is :func:`hill_records` of the sweep; a readout without a fit gets ``hill_fit``
    saying why.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.hill import fit_curves, hill_records, with_hill_attributes
    >>> dr = dg.dose_response("ige_fceri_crosslinking", vary="L", observe="RecDim", at="10 min",
    ...                       doses=dg.geomspace("1e3 molecule", "1e9 molecule", 13))
    >>> written = with_hill_attributes(dr, hill_records(dr, fit_curves(dr, "L"), "L"))
    >>> attrs = written["RecDim"].attrs
    >>> attrs["hill_shape"], f"{attrs['hill_ec50']:.3g}", attrs["hill_ec50_units"], "hill_fits" in dr.attrs
    ('increasing', '2.12e+06', 'molecule', False)
    """
    from degranulation.store import json_text

    result = result.copy()
    result.attrs["hill_fits"] = json_text(hill, indent=None)
    for name, record in hill.items():
        if record["status"] != "ok":
            result[name].attrs["hill_fit"] = f"no fit: {record['reason']}"
            continue
        nan = float("nan")
        ci = [nan if q is None or q["value"] is None else q["value"] for q in record["ec50_ci"]]
        result[name].attrs.update(
            {
                "hill_shape": record["shape"],
                "hill_ec50": record["ec50"]["value"],
                "hill_ec50_ci": ci,
                "hill_ec50_units": record["ec50"]["unit"],
                "hill_ci_level": record["confidence"],
                "hill_n": record["n"],
                "hill_bottom": record["bottom"]["value"],
                "hill_top": record["top"]["value"],
                "hill_flags": "; ".join(record["flags"]),
            }
        )
    return result


def _quantity_maker() -> Callable[[float, str], Any]:
    from degranulation.units import parse_unit, registry

    return lambda value, unit: registry().Quantity(float(value), parse_unit(unit))


def _curve_values(
    curve: xarray.DataArray, dim: str | None, dose: xarray.DataArray | None
) -> tuple[np.ndarray, np.ndarray, str, str, str]:
    """Positive doses and finite responses, sorted by dose, with both units."""
    name = str(curve.name or "response")
    dim = dim or (str(curve.dims[0]) if curve.ndim == 1 else None)
    if dim is None or curve.ndim != 1 or dim not in curve.dims:
        raise ValueError(
            f"hill_fit needs a one-dimensional curve along the dose dimension; '{name}' has "
            f"dimensions {curve.dims}",
        )
    dose_array = curve[dim] if dose is None else dose
    x, dose_unit = _magnitude_and_unit(dose_array)
    y, unit = _magnitude_and_unit(curve)
    if x.shape != y.shape:
        raise ValueError(f"dose has {x.size} values but '{name}' has {y.size}")
    usable = np.isfinite(x) & np.isfinite(y) & (x > 0)
    order = np.argsort(x[usable])
    x, y = x[usable][order], y[usable][order]
    if len(x) < 4:
        raise FitError(
            f"'{name}' has {len(x)} usable points (positive dose, finite value); a Hill fit needs 4"
        )
    if np.any(np.diff(x) == 0):
        raise FitError(
            f"'{name}' has repeated doses", hint="fit one curve at a time (select the other dimensions)"
        )
    if float(np.ptp(y)) <= FLAT * float(np.max(np.abs(y))):
        raise FitError(
            f"no dose dependence: '{name}' is flat, varying by {float(np.ptp(y)):.3g} around {y[0]:.6g}, "
            f"less than {FLAT:g} of its size (a conserved total?); there is no EC50 to fit",
            hint="choose a readout that responds to the dose (sweep --observe NAME)",
        )
    return x, y, dose_unit, unit, name


def _magnitude_and_unit(array: xarray.DataArray) -> tuple[np.ndarray, str]:
    data = array.data
    if hasattr(data, "magnitude") and hasattr(data, "units"):
        written = str(array.attrs.get("units_as_written", ""))
        unit = as_written(f"{data.units:~C}" or "dimensionless", written)
        return np.asarray(data.magnitude, dtype=float), unit
    declared = array.attrs.get("units")
    if declared is None:
        raise UnitError(f"'{array.name}' has no unit", hint="quantify it, or set attrs['units']")
    return np.asarray(data, dtype=float), str(declared)


def _spline_peak(spline: Any, u: np.ndarray, k: int) -> tuple[float, float]:
    """Maximum of the spline between the sample points either side of sample ``k``."""
    slope = spline.derivative()
    candidates = [u[k], *[r for r in slope.roots(extrapolate=False) if u[k - 1] <= r <= u[k + 1]]]
    heights = [float(spline(c)) for c in candidates]
    best = int(np.argmax(heights))
    return float(candidates[best]), heights[best]


def _fit_logistic(u: np.ndarray, y: np.ndarray, name: str) -> tuple[float, float, float, float, float]:
    """Fit ``bottom + (top - bottom) / (1 + 10**(n (log_ec50 - u)))``; n < 0 for decreasing
    curves. Returns bottom, top, log_ec50, n and the standard error of log_ec50."""
    from scipy.optimize import OptimizeWarning, curve_fit

    low, span = float(y.min()), float(np.ptp(y))
    scaled = (y - low) / span  # fit on 0..1 so the plateaus and the slope are on one scale

    def logistic(v: np.ndarray, bottom: float, top: float, log_ec50: float, n: float) -> np.ndarray:
        return bottom + (top - bottom) / (1 + 10 ** np.clip(n * (log_ec50 - v), -300, 300))

    rising = scaled[-1] >= scaled[0]
    middle = float(np.interp(0.5, scaled if rising else scaled[::-1], u if rising else u[::-1]))
    guess = [float(scaled[0]), float(scaled[-1]), middle, 1.0 if rising else -1.0]
    try:
        with warnings.catch_warnings():  # an exact fit has no covariance: its interval is NaN
            warnings.simplefilter("ignore", OptimizeWarning)
            best, covariance = curve_fit(logistic, u, scaled, p0=guess, maxfev=20000)
    except (RuntimeError, ValueError) as exc:
        raise FitError(
            f"the Hill fit of '{name}' did not converge: {exc}",
            hint="check that the doses span the rise of the curve",
        ) from None
    spread = float(np.sqrt(covariance[2, 2])) if np.isfinite(covariance[2, 2]) else math.nan
    bottom, top, log_ec50, n = (float(v) for v in best)
    if not (np.all(np.isfinite(best)) and abs(log_ec50) < 300 and n != 0):
        raise FitError(
            f"no dose dependence a Hill curve describes: the fit of '{name}' has no finite EC50 "
            f"(log10 EC50 = {log_ec50:.3g})",
            hint="check that the doses span the rise of the curve",
        )
    return low + span * bottom, low + span * top, log_ec50, n, spread


def _exp10(value: float) -> float:
    """``10**value``, infinite (not an OverflowError) beyond float range: a wide interval."""
    with np.errstate(over="ignore"):
        return float(np.power(10.0, value))


def _interval(center: float, spread: float, dof: int, confidence: float) -> tuple[float, float]:
    from scipy.stats import t as student

    if dof < 1 or not math.isfinite(spread):
        return math.nan, math.nan
    half = float(student.ppf((1 + confidence) / 2, dof)) * spread
    return center - half, center + half


def summary_table(fits: dict[str, HillFit | str]) -> str:
    """The Hill fits of a sweep as a text table: one row per readout (EC50 or IC50 with its
    interval, or its bound when extrapolated; Hill n; the peak of a bell-shaped curve), or the
    reason a readout has no fit.

    Examples
    --------
    >>> print(summary_table({"R": "no dose dependence"}))
    readout          EC50 [95% CI]                              Hill n  peak
    R                no fit: no dose dependence
    """

    def text(quantity: Any) -> str:
        return f"{quantity.magnitude:.4g} {quantity.units:~C}"

    lines = [f"{'readout':16s} {'EC50 [95% CI]':40s} {'Hill n':>8s}  peak"]
    for name, fit in fits.items():
        if isinstance(fit, str):
            lines.append(f"{name:16s} no fit: {fit}")
            continue
        low, high = fit.ec50_ci
        interval = f"{text(fit.ec50)} [{low.magnitude:.4g}, {high.magnitude:.4g}]"
        if fit.extrapolated:  # beyond the doses: a bound, not a measurement
            interval = f"{fit.ec50_bound} (extrapolated)"
        peak = f"{text(fit.peak)} at {text(fit.peak_dose)}" if fit.peak is not None else "-"
        label = "IC50" if fit.shape == "decreasing" else "EC50"
        lines.append(f"{name:16s} {label} {interval:35s} {fit.n:8.3g}  {peak}")
    return "\n".join(lines)
