"""The result ``Dataset``: one variable per species and observable, pint units via
pint-xarray, and provenance (model id, hash and text, parameters, solver, version) in attrs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from degranulation.dimensions import amount, concentration, species_dimension
from degranulation.network import Model
from degranulation.user_cache import version as version

if TYPE_CHECKING:
    import xarray

    from degranulation.codegen import CompiledOde


@dataclass(frozen=True)
class Trajectory:
    """Raw solver output in the model's units (made by :mod:`degranulation.simulation`, read by
    :func:`make_dataset`)."""

    t: np.ndarray
    x: np.ndarray  # species × times
    p: np.ndarray
    counters: dict[str, int]
    p_t: np.ndarray | None = None  # parameters × times, where events change parameters


_MODEL_TOML: dict[str, str] = {}  # model content hash -> its TOML text, for provenance


def make_dataset(
    model: Model, compiled: CompiledOde, trajectory: Trajectory, provenance: dict[str, str]
) -> xarray.Dataset:
    """Build the quantified Dataset of a simulation (see :func:`degranulation.simulate`)."""
    import xarray as xr

    variables = {
        name: ("time", values, attrs)
        for name, (values, attrs) in variables_of(model, compiled, trajectory).items()
    }
    dataset = xr.Dataset(
        variables, coords={"time": time_coordinate(model, trajectory.t)}, attrs=attributes(model, provenance)
    )
    return quantify(dataset)


def variables_of(
    model: Model, compiled: CompiledOde, trajectory: Trajectory
) -> dict[str, tuple[np.ndarray, dict[str, str]]]:
    """Each species' and observable's values over time (and the parameters events set), with
    their CF attributes: the variables of a result."""
    variables: dict[str, tuple[np.ndarray, dict[str, str]]] = {}
    for i, species in enumerate(model.species):
        unit = species_unit(model, species)
        attrs = {
            "units": unit,
            "units_as_written": unit,
            "long_name": species.label or species.id,
            "kind": "species",
        }
        variables[species.id] = (trajectory.x[i], attrs)
    p = trajectory.p if trajectory.p_t is None else trajectory.p_t
    observed = compiled.observe(trajectory.x, p, trajectory.t)
    for k, observable in enumerate(model.observables):
        attrs = {
            "units": observable.unit,
            "units_as_written": observable.unit,
            "long_name": observable.description or observable.id,
            "kind": "observable",
        }
        variables[observable.id] = (observed[k], attrs)
    if trajectory.p_t is not None:
        variables.update(_varying_parameters(model, compiled, trajectory.p_t))
    return variables


def time_coordinate(model: Model, t: np.ndarray) -> xarray.Variable:
    """The ``time`` coordinate of a result, in the model's time unit."""
    import xarray as xr

    unit = model.units.time
    return xr.Variable("time", np.asarray(t, dtype=float), {"units": unit, "units_as_written": unit})


def attributes(model: Model, provenance: dict[str, str]) -> dict[str, str]:
    """A result's attributes: the model's id, title, hash and text, ``provenance``, the version."""
    from degranulation.formats.toml import dumps_model

    return {
        "model_id": model.id,
        "model_title": model.title,
        "model_hash": model.content_hash,
        "model_toml": _MODEL_TOML.get(model.content_hash)
        or _MODEL_TOML.setdefault(
            model.content_hash, dumps_model(model)
        ),  # written once per model: 0.1 s for a generated network of thousands of reactions
        **provenance,
        "degranulation_version": version(),
    }


def _varying_parameters(
    model: Model, compiled: CompiledOde, p_t: np.ndarray
) -> dict[str, tuple[np.ndarray, dict[str, str]]]:
    """The parameters events set, over time, in their declared units."""
    from degranulation.network import UnitValue, parameter_targets
    from degranulation.values import internal_value

    found = {}
    for name in parameter_targets(model):
        unit = model.get_parameter(name).value.unit
        per_unit = internal_value(model, name, UnitValue(1.0, unit))
        attrs = {"units": unit, "units_as_written": unit, "long_name": name, "kind": "parameter"}
        found[name] = (p_t[compiled.parameters.index(name)] / per_unit, attrs)
    return found


def species_unit(model: Model, species: Any) -> str:
    """The unit a species is reported in: the model's concentration or amount unit, or (per
    an area or a length, or a model variable) the model's unit of its dimension, which its
    internal values are in."""
    dim = species_dimension(species)
    if species.variable:
        return model.units.unit_text(dim)
    if dim == concentration():
        return model.units.concentration
    if dim == amount():
        return model.units.amount
    return model.units.unit_text(dim)


def quantify(dataset: xarray.Dataset) -> xarray.Dataset:
    """Attach pint units from the CF ``units`` attributes (package registry); indexed
    coordinates select bare numbers in their own unit (``ds.sel(time=600)``, see
    :mod:`degranulation.unit_index`)."""
    from degranulation.units import import_pint_xarray, registry

    import_pint_xarray()  # registers the .pint accessor
    from degranulation.unit_index import with_unit_indexes

    return with_unit_indexes(dataset.pint.quantify(unit_registry=registry()))


def dequantify(dataset: xarray.Dataset) -> xarray.Dataset:
    """Units back into ``units`` attributes, written as the model wrote them where unchanged
    (``nM`` rather than pint's ``nanomolar``)."""
    from degranulation.units import import_pint_xarray, parse_unit

    import_pint_xarray()

    quantified = any(hasattr(v.data, "units") for v in dataset.variables.values())
    plain = dataset.pint.dequantify() if quantified else dataset.copy()
    for name, variable in plain.variables.items():
        written = variable.attrs.get("units_as_written")
        current = variable.attrs.get("units")
        if written is not None and current is not None and parse_unit(written) == parse_unit(current):
            plain[name].attrs["units"] = written
    return plain
