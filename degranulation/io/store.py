"""Results on disk: NetCDF (units kept as CF ``units`` attributes), CSV and JSON.

NetCDF is written with SciPy's pure-Python NetCDF3 writer, so nothing beyond what pip
installs is needed; ``h5netcdf`` is used instead when installed (NetCDF4, compressed).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np

from degranulation.errors import DataError
from degranulation.io.atomic import replacing

if TYPE_CHECKING:
    import xarray

FORMATS: Final = (".nc", ".csv", ".json")


def _engine() -> Literal["h5netcdf", "scipy"]:
    return "h5netcdf" if importlib.util.find_spec("h5netcdf") else "scipy"


def save(dataset: xarray.Dataset, path: str | Path) -> Path:
    """Write a result to ``.nc`` (NetCDF), ``.csv`` or ``.json``, keeping units.

    The file is written next to its destination, flushed to the disk and moved into place,
    so an interrupted or failed write never leaves a truncated result.

    Raises
    ------
    DataError
        If the file cannot be written (naming it).

    Examples
    --------
    >>> import degranulation as dg, tempfile, pathlib
    >>> ds = dg.simulate("ige_fceri_crosslinking", t="60 s", points=3)
    >>> path = dg.save(ds, pathlib.Path(tempfile.mkdtemp()) / "run.nc")
    >>> dg.load(path)["RecDim"].pint.units == ds["RecDim"].pint.units
    True
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataError(f"cannot write '{path.name}'", hint=f"use one of {', '.join(FORMATS)}")
    from degranulation.results import dequantify

    plain = dequantify(dataset)
    with replacing(path) as temporary:
        if suffix == ".nc":
            plain.to_netcdf(temporary, engine=_engine())
        elif suffix == ".csv":
            temporary.write_text(to_csv(plain), encoding="utf-8")
        else:
            temporary.write_text(json_text(to_json(plain)), encoding="utf-8")
    return path


def load(path: str | Path) -> xarray.Dataset:
    """Read a NetCDF result written by :func:`save`, with units attached."""
    import xarray as xr

    from degranulation.results import quantify

    path = Path(path)
    try:
        with xr.open_dataset(path) as opened:
            dataset = opened.load()
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read '{path}': {exc}", file=str(path)) from None
    return quantify(dataset)


def _label(name: str, attrs: dict[str, Any]) -> str:
    unit = attrs.get("units")
    return f"{name} [{unit}]" if unit else name


def to_csv(dataset: xarray.Dataset) -> str:
    """One row per time (a time course) or per point (a sweep, in long form); headers carry
    units in brackets (``time [s]``, ``R [molecule]``)."""
    if set(dataset.dims) != {"time"}:
        frame = dataset.to_dataframe()
        frame.index.names = [_label(str(n), dataset[str(n)].attrs) for n in frame.index.names]
        frame.columns = [_label(str(n), dataset[str(n)].attrs) for n in frame.columns]
        return str(frame.to_csv(lineterminator="\n"))
    names = [n for n in dataset.data_vars if dataset[n].dims == ("time",)]
    header = [_label("time", dataset["time"].attrs)] + [_label(str(n), dataset[n].attrs) for n in names]
    columns = np.column_stack([dataset["time"].values] + [dataset[n].values for n in names])
    lines = [",".join(header)] + [",".join(repr(float(v)) for v in row) for row in columns]
    return "\n".join(lines) + "\n"


def to_json(dataset: xarray.Dataset) -> dict[str, Any]:
    """``{"time": {"unit", "values"}, "variables": {...}, "attrs": {...}}``, plain data that
    :func:`json_text` writes as strict JSON.

    Other coordinates (a sweep's doses, its readout time) are under ``"coords"``; an entry
    that is not along ``time`` alone names its ``dims``. NaN and infinite values become
    ``None`` (JSON ``null``), and the entry's ``status`` says how many were which.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"y": ("time", [1.0, np.inf])}, coords={"time": ("time", [0.0, 1.0], {"units": "s"})})
    >>> entry = to_json(ds)["variables"]["y"]
    >>> entry["values"], entry["status"]
    ([1.0, None], '1 value(s) written as null: 1 +inf')
    """

    def entry(name: Any) -> dict[str, Any]:
        variable = dataset[name]
        record: dict[str, Any] = {"unit": variable.attrs.get("units", ""), "values": variable.values.tolist()}
        if variable.dims != ("time",):
            record["dims"] = [str(d) for d in variable.dims]
        status = _nonfinite_status(variable.values)
        if status:
            record["values"] = _finite_or_none(record["values"])
            record["status"] = status
        return record

    coords = {str(n): entry(n) for n in dataset.coords}
    result: dict[str, Any] = {}
    if "time" in coords and dataset["time"].dims == ("time",):
        result["time"] = coords.pop("time")
    if coords:
        result["coords"] = coords
    result["variables"] = {str(n): entry(n) for n in dataset.data_vars}
    result["attrs"] = {k: v for k, v in dataset.attrs.items() if isinstance(v, str | int | float)}
    return result


def _nonfinite_status(values: np.ndarray) -> str:
    """Why some values are written as ``null`` ('' when all are finite or not numbers)."""
    if values.dtype.kind not in "fc":
        return ""
    counts = {
        "NaN": int(np.isnan(values).sum()),
        "+inf": int(np.isposinf(values).sum()),
        "-inf": int(np.isneginf(values).sum()),
    }
    total = sum(counts.values())
    if not total:
        return ""
    kinds = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
    return f"{total} value(s) written as null: {kinds}"


def _finite_or_none(value: Any) -> Any:
    """``value`` with every NaN or infinite number (nested in lists and dicts) replaced by None."""
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


def json_text(data: Any, *, indent: int | None = 1) -> str:
    """Strict JSON (RFC 8259) for ``data``: NaN and infinities become ``null``, never the
    ``NaN``/``Infinity`` tokens that other parsers reject.

    Examples
    --------
    >>> json_text({"ci": [0.5, float("inf")]}, indent=None)
    '{"ci": [0.5, null]}'
    """
    return json.dumps(_finite_or_none(data), indent=indent, allow_nan=False)
