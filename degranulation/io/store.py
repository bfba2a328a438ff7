"""Results on disk: NetCDF (units kept as CF ``units`` attributes), CSV and JSON.

NetCDF is written with SciPy's pure-Python NetCDF3 writer, so nothing beyond what pip
installs is needed; ``h5netcdf`` is used instead when installed (NetCDF4, compressed).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from degranulation.errors import DataError
from degranulation.io.atomic import replacing

if TYPE_CHECKING:
    import xarray

FORMATS: Final = (".nc", ".csv", ".json")


def _engine() -> str:
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
            temporary.write_text(json.dumps(to_json(plain), indent=1), encoding="utf-8")
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
    """One row per time; headers carry units in brackets (``time [s]``, ``R [molecule]``)."""
    names = [n for n in dataset.data_vars if dataset[n].dims == ("time",)]
    header = [_label("time", dataset["time"].attrs)] + [_label(n, dataset[n].attrs) for n in names]
    columns = np.column_stack([dataset["time"].values] + [dataset[n].values for n in names])
    lines = [",".join(header)] + [",".join(repr(float(v)) for v in row) for row in columns]
    return "\n".join(lines) + "\n"


def to_json(dataset: xarray.Dataset) -> dict[str, Any]:
    """``{"time": {"unit", "values"}, "variables": {...}, "attrs": {...}}``."""

    def entry(name: str) -> dict[str, Any]:
        variable = dataset[name]
        return {"unit": variable.attrs.get("units", ""), "values": variable.values.tolist()}

    return {
        "time": entry("time"),
        "variables": {str(n): entry(str(n)) for n in dataset.data_vars},
        "attrs": {k: v for k, v in dataset.attrs.items() if isinstance(v, str | int | float)},
    }
