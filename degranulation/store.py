"""Results on disk: NetCDF (units kept as CF ``units`` attributes), CSV and JSON.

NetCDF is written as NetCDF4 (HDF5) when a NetCDF4 engine works — ``h5netcdf`` with ``h5py``
(the ``netcdf`` extra) or ``netCDF4`` — and otherwise with SciPy's pure-Python NetCDF3 writer,
so nothing beyond what pip installs is needed. Every format is read back by :func:`load`.
"""

from __future__ import annotations

import csv
import importlib
import io
import itertools
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np

from degranulation.atomic import replacing
from degranulation.errors import DataError

if TYPE_CHECKING:
    import xarray

FORMATS: Final = (".nc", ".csv", ".json")
# xarray's NetCDF4 engines, in order of preference, with the modules each needs to import
# (h5netcdf >= 1.8 no longer installs h5py, so finding h5netcdf alone proves nothing).
NETCDF4_ENGINES: Final[dict[Literal["h5netcdf", "netcdf4"], tuple[str, ...]]] = {
    "h5netcdf": ("h5netcdf", "h5py"),
    "netcdf4": ("netCDF4",),
}
_HDF5_MAGIC: Final = b"\x89HDF\r\n\x1a\n"
_NETCDF3_MAGIC: Final = b"CDF"
_HEADER_RE: Final = re.compile(r"^(?P<name>[^\[\]]*?)\s*(?:\[(?P<unit>[^\[\]]*)\])?$")


def _importable(modules: tuple[str, ...]) -> bool:
    try:
        for module in modules:
            importlib.import_module(module)
    except (ImportError, OSError):  # OSError: a binary module whose shared library is missing
        return False
    return True


def netcdf4_engine() -> Literal["h5netcdf", "netcdf4"] | None:
    """The first NetCDF4 engine whose modules import (``"h5netcdf"``, ``"netcdf4"``), or None.

    Examples
    --------
    >>> from degranulation.store import netcdf4_engine
    >>> netcdf4_engine() in ("h5netcdf", "netcdf4", None)
    True
    """
    return next((engine for engine, modules in NETCDF4_ENGINES.items() if _importable(modules)), None)


def _check_suffix(path: Path, verb: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataError(
            f"cannot {verb} '{path.name}': unknown format '{suffix}'",
            file=str(path),
            hint=f"use one of {', '.join(FORMATS)}",
        )
    return suffix


def save(dataset: xarray.Dataset, path: str | Path) -> Path:
    """Write a result to ``.nc`` (NetCDF), ``.csv`` or ``.json``, keeping units.

    NetCDF and JSON keep every variable, coordinate and attribute; CSV is one table (see
    :func:`to_csv`). The file is written next to its destination, flushed to the disk and moved
    into place, so an interrupted or failed write never leaves a truncated result.

    Raises
    ------
    DataError
        For another suffix (naming the supported ones), a CSV of a dataset without dimensions,
        or a file that cannot be written (naming it).

    Examples
    --------
    >>> import degranulation as dg, tempfile, pathlib
    >>> ds = dg.simulate("ige_fceri_crosslinking", t="60 s", points=3)
    >>> path = dg.save(ds, pathlib.Path(tempfile.mkdtemp()) / "run.nc")
    >>> dg.load(path)["RecDim"].pint.units == ds["RecDim"].pint.units
    True
    """
    path = Path(path)
    suffix = _check_suffix(path, "write")
    from degranulation.results import dequantify

    plain = dequantify(dataset)
    with replacing(path) as temporary:
        if suffix == ".nc":
            plain.to_netcdf(temporary, engine=netcdf4_engine() or "scipy")
        elif suffix == ".csv":
            temporary.write_text(to_csv(plain), encoding="utf-8")
        else:
            temporary.write_text(json_text(to_json(plain)), encoding="utf-8")
    return path


def load(path: str | Path) -> xarray.Dataset:
    """Read a result written by :func:`save` (``.nc``, ``.csv`` or ``.json``), with units.

    Raises
    ------
    DataError
        For a missing or unreadable file, another suffix, or a NetCDF4 file when no NetCDF4
        engine works (install the ``netcdf`` extra).

    Examples
    --------
    >>> import degranulation as dg, tempfile, pathlib
    >>> ds = dg.simulate("ige_fceri_crosslinking", t="60 s", points=3)
    >>> back = dg.load(dg.save(ds, pathlib.Path(tempfile.mkdtemp()) / "run.json"))
    >>> str(back["RecDim"].pint.units), bool((back["RecDim"] == ds["RecDim"]).all())
    ('molecule', True)
    """
    from degranulation.results import quantify

    path = Path(path)
    suffix = _check_suffix(path, "read")
    try:
        if suffix == ".nc":
            dataset = _read_netcdf(path)
        elif suffix == ".csv":
            dataset = from_csv(path.read_text(encoding="utf-8"))
        else:
            dataset = from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"cannot read '{path}': {exc}", file=str(path)) from None
    return quantify(dataset)


def _read_netcdf(path: Path) -> xarray.Dataset:
    import xarray as xr

    with path.open("rb") as handle:
        magic = handle.read(len(_HDF5_MAGIC))
    engine: str | None
    if magic.startswith(_NETCDF3_MAGIC):
        engine = "scipy"
    elif magic == _HDF5_MAGIC:
        engine = netcdf4_engine()
        if engine is None:
            raise DataError(
                f"cannot read '{path}': a NetCDF4 (HDF5) file needs h5netcdf with h5py, or netCDF4",
                file=str(path),
                hint="pip install 'degranulation[netcdf]'",
            )
    else:
        raise DataError(f"cannot read '{path}': not a NetCDF file", file=str(path))
    with xr.open_dataset(path, engine=engine) as opened:
        return opened.load()


def _label(name: str, attrs: dict[str, Any]) -> str:
    unit = attrs.get("units")
    return f"{name} [{unit}]" if unit else name


def _text(value: Any) -> str:
    return repr(float(value)) if isinstance(value, float | np.floating) else str(value)


def to_csv(dataset: xarray.Dataset) -> str:
    """One table: a row per point of the dataset's dimensions (``time`` for a time course, the
    varied name for a dose–response, ``scenario`` and ``time`` for scenarios, the first varying
    slowest); headers carry units in brackets (``time [s]``, ``R [molecule]``). The dimensions'
    coordinates come first, then the other coordinates and the variables; a coordinate or
    variable with fewer dimensions (a dose–response's readout time, a scenario's status) is
    repeated on every row it covers. Attributes are not kept: write ``.nc`` or ``.json`` for
    the provenance.

    Raises
    ------
    DataError
        For a dataset without dimensions.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset({"y": (("scenario", "time"), [[1.0, 2.0], [3.0, 4.0]])},
    ...                 coords={"scenario": ["a", "b"], "time": ("time", [0.0, 1.0], {"units": "s"})})
    >>> print(to_csv(ds), end="")
    scenario,time [s],y
    a,0.0,1.0
    a,1.0,2.0
    b,0.0,3.0
    b,1.0,4.0
    """
    dims = _table_dims(dataset)
    if not dims:
        raise DataError(
            "a CSV file holds a table, but this result has no dimension", hint="write .nc or .json"
        )
    sizes = {d: dataset.sizes[d] for d in dims}
    names = [*dims, *(n for n in dataset.coords if n not in dims), *dataset.data_vars]
    columns = [dataset[n].variable.set_dims(sizes).transpose(*dims).values.ravel() for n in names]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([_label(str(n), dataset[n].attrs) for n in names])
    writer.writerows([_text(v) for v in row] for row in zip(*columns, strict=True))
    return out.getvalue()


def _table_dims(dataset: xarray.Dataset) -> list[str]:
    """A table's dimensions in order: those of the variable with the most, then any others."""
    variables = [*dataset.data_vars.values(), *dataset.coords.values()]
    widest = max(variables, key=lambda v: v.ndim, default=None)
    dims = [str(d) for d in (widest.dims if widest is not None else ())]
    return dims + [str(d) for d in dataset.dims if d not in dims]


def from_csv(text: str) -> xarray.Dataset:
    """A table written by :func:`to_csv` as a Dataset with ``units`` attributes from the headers
    (not yet quantified). Its dimensions are the fewest leading columns whose values tell the rows
    apart and whose rows form a full grid, first varying slowest (just the first column for a
    time course); every column is read along all of them."""
    import xarray as xr

    header, *rows = list(csv.reader(io.StringIO(text)))
    if not header or any(len(row) != len(header) for row in rows):
        raise DataError("every CSV row needs one value per header column")
    parsed = [_HEADER_RE.match(label) for label in header]
    if any(match is None for match in parsed):
        raise DataError(f"cannot read the CSV header {header}", hint="write headers as 'name [unit]'")
    columns = [_typed([row[k] for row in rows]) for k in range(len(header))]
    axes = _grid(columns)
    dims = tuple(match["name"] for match in parsed[: len(axes)])  # type: ignore[index]
    shape = tuple(len(axis) for axis in axes)
    variables = {}
    for k, match in enumerate(parsed):
        name, unit = match["name"], match["unit"]  # type: ignore[index]
        values = axes[k] if k < len(axes) else columns[k].reshape(shape)
        variables[name] = xr.Variable(
            (name,) if k < len(axes) else dims, values, {"units": unit} if unit else {}
        )
    return xr.Dataset(
        {n: v for n, v in variables.items() if n not in dims}, coords={d: variables[d] for d in dims}
    )


def _typed(cells: list[str]) -> np.ndarray:
    """A column's cells as integers, floats, or else text."""
    for kind in (int, float):
        try:
            return np.array([kind(c) for c in cells])
        except ValueError:
            continue
    return np.array(cells, dtype=str)


def _grid(columns: list[np.ndarray]) -> list[np.ndarray]:
    """The coordinates of a table's dimensions: for the fewest leading columns whose values tell
    the rows apart, each one's values in order of appearance, if the rows are every combination
    of them, first varying slowest; else the first column alone, as it is."""
    n_rows = len(columns[0])
    for k in range(1, len(columns) + 1):
        keys = list(zip(*(c.tolist() for c in columns[:k]), strict=True))
        if len(set(keys)) < n_rows:
            continue
        axes = [list(dict.fromkeys(c.tolist())) for c in columns[:k]]
        if math.prod(len(a) for a in axes) == n_rows and keys == list(itertools.product(*axes)):
            return [np.array(a, dtype=c.dtype) for a, c in zip(axes, columns, strict=False)]
        break
    return [columns[0]]


def to_json(dataset: xarray.Dataset) -> dict[str, Any]:
    """``{"time": ..., "coords": {...}, "variables": {...}, "attrs": {...}}``; each entry is
    ``{"dims", "unit", "values", "attrs"}`` (``time`` is the time coordinate, when there is
    one): plain data that :func:`json_text` writes as strict JSON. NaN and infinite values
    become ``None`` (JSON ``null``), and the entry's ``status`` says how many were which.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"y": ("time", [1.0, np.inf])}, coords={"time": ("time", [0.0, 1.0], {"units": "s"})})
    >>> entry = to_json(ds)["variables"]["y"]
    >>> entry["values"], entry["status"]
    ([1.0, None], '1 value(s) written as null: 1 +inf')
    """

    def entry(name: Any) -> dict[str, Any]:
        variable = dataset[name].variable
        attrs = {k: _plain(v) for k, v in variable.attrs.items() if k != "units"}
        status = _nonfinite_status(variable.values)
        return {
            "dims": [str(d) for d in variable.dims],
            "unit": variable.attrs.get("units", ""),
            "values": _plain(variable.values),
            **({"attrs": attrs} if attrs else {}),
            **({"status": status} if status else {}),
        }

    out: dict[str, Any] = {"time": entry("time")} if "time" in dataset.coords else {}
    return out | {
        "coords": {str(n): entry(n) for n in dataset.coords if n != "time"},
        "variables": {str(n): entry(n) for n in dataset.data_vars},
        "attrs": {k: _plain(v) for k, v in dataset.attrs.items() if isinstance(v, str | int | float)},
    }


def _plain(value: Any) -> Any:
    """JSON-ready values: lists and dicts of plain numbers, with NaN and infinities as None
    (strict JSON has no token for them)."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value] if value.ndim else _plain(value.item())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


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


def json_text(data: Any, *, indent: int | None = 1) -> str:
    """Strict JSON (RFC 8259) for ``data``: NaN and infinities become ``null``, never the
    ``NaN``/``Infinity`` tokens that other parsers reject.

    Examples
    --------
    >>> json_text({"ci": [0.5, float("inf")]}, indent=None)
    '{"ci": [0.5, null]}'
    """
    return json.dumps(_plain(data), indent=indent, allow_nan=False)


def from_json(data: dict[str, Any]) -> xarray.Dataset:
    """A Dataset from :func:`to_json`'s form, with ``units`` attributes (not yet quantified);
    null numbers are read as NaN."""
    import xarray as xr

    def variable(entry: dict[str, Any]) -> xarray.Variable:
        values = np.array(entry["values"])
        if values.dtype == object:  # numbers with nulls
            values = np.array(entry["values"], dtype=float)
        unit = entry.get("unit")
        attrs = entry.get("attrs", {}) | ({"units": unit} if unit else {})
        return xr.Variable(tuple(entry.get("dims", ["time"])), values, attrs)

    coords = {name: variable(e) for name, e in data.get("coords", {}).items()}
    if "time" in data:
        coords["time"] = variable(data["time"])
    variables = {name: variable(e) for name, e in data["variables"].items()}
    return xr.Dataset(variables, coords=coords, attrs=data.get("attrs", {}))
