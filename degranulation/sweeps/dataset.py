"""A sweep's chunks as Datasets: one chunk's plain-data file, and the quantified result of them all."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from degranulation.network import Model
from degranulation.sweeps.plan import SweepMode, _is_scalar_time, _Plan
from degranulation.sweeps.solve import _Part

if TYPE_CHECKING:
    import xarray


def _part_dataset(part: _Part, plan: _Plan) -> xarray.Dataset:
    """One chunk as plain data, for its file."""
    import xarray as xr

    point = np.arange(part.start, part.start + len(part.status))
    variables: dict[str, Any] = {
        o.name: (("point", "readout"), part.values[:, k, :]) for k, o in enumerate(plan.outputs)
    }
    variables["status"] = ("point", np.array(part.status, dtype=str))
    variables["message"] = ("point", np.array(part.message, dtype=str))
    return xr.Dataset(variables, coords={"point": point})


def _part_from_dataset(dataset: xarray.Dataset, plan: _Plan) -> _Part:
    values = np.stack([dataset[o.name].values for o in plan.outputs], axis=1)
    return _Part(
        int(dataset["point"].values[0]),
        values.reshape(len(dataset["point"]), len(plan.outputs), len(plan.keep)),
        [str(s) for s in dataset["status"].values],
        [str(s) for s in dataset["message"].values],
    )


def _dataset(
    model: Model, plan: _Plan, parts: dict[int, _Part], *, mode: SweepMode, at: Any, spec: dict[str, Any]
) -> xarray.Dataset:
    """The quantified result Dataset from every chunk's part."""
    import xarray as xr

    from degranulation.formats.toml import dumps_model
    from degranulation.results import quantify, version

    ordered = [parts[chunk] for chunk in range(plan.n_chunks)]
    values = np.concatenate([part.values for part in ordered])
    status = np.array([s for part in ordered for s in part.status], dtype=str)
    message = np.array([m for part in ordered for m in part.message], dtype=str)
    if mode == "zip":
        dims: tuple[str, ...] = ("point",)
        coords: dict[str, Any] = {a.name: ("point", a.shown, _unit_attrs(a.unit)) for a in plan.axes}
    else:
        dims = tuple(a.name for a in plan.axes)
        coords = {a.name: (a.name, a.shown, _unit_attrs(a.unit)) for a in plan.axes}
    shape = tuple(len(a.values) for a in plan.axes) if mode == "product" else (plan.n_points,)
    time_unit = model.units.time
    readouts = plan.times[plan.keep]
    has_time_dim = not plan.is_steady and not (at is not None and _is_scalar_time(at))
    if has_time_dim:
        coords["time"] = ("time", readouts, _unit_attrs(time_unit))
    elif not plan.is_steady:
        coords["time"] = ((), readouts[0], _unit_attrs(time_unit))
    variables: dict[str, Any] = {}
    for k, out in enumerate(plan.outputs):
        data = values[:, k, :].reshape(*shape, len(plan.keep))
        attrs = {
            **_unit_attrs(out.unit),
            "long_name": out.long_name,
            "kind": "species" if out.is_species else "observable",
        }
        variables[out.name] = ((*dims, "time"), data, attrs) if has_time_dim else (dims, data[..., 0], attrs)
    variables["status"] = (dims, status.reshape(shape))
    variables["message"] = (dims, message.reshape(shape))
    attrs = {
        "model_id": model.id,
        "model_title": model.title,
        "model_hash": model.content_hash,
        "model_toml": dumps_model(model),
        "readout": "steady state" if plan.is_steady else ("time course" if at is None else "at times"),
        "sweep": json.dumps(spec, sort_keys=True),
        "degranulation_version": version(),
    }
    return quantify(xr.Dataset(variables, coords=coords, attrs=attrs))


def _unit_attrs(unit: str) -> dict[str, str]:
    """CF ``units``, and the unit as written so a saved file says 'nM', not 'nanomolar'."""
    return {"units": unit, "units_as_written": unit}
