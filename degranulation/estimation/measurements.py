"""Building a :class:`~degranulation.estimation.problem.FitProblem` from a model and assay
data: :func:`make_problem` and the conversion of the data's rows into measurements, conditions,
readouts and free parameters."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from degranulation.errors import DataError, FitError, ModelError, UnitError
from degranulation.estimation.assay import AssayData
from degranulation.estimation.problem import (
    NOISE_MODELS,
    Condition,
    FitProblem,
    FreeParameter,
    NoiseModel,
    Readout,
)
from degranulation.network import Estimate, Model, Species, UnitValue
from degranulation.typing import QuantityLike

if TYPE_CHECKING:
    from degranulation.codegen import CompiledOde
    from degranulation.protocols import ProtocolLike
    from degranulation.sensitivities import Target
    from degranulation.solvers import Solver

_DEFAULT_SPAN: Final = 1e3  # default bounds: value/1000 … value·1000 (log10), 0 … 10·value (lin)


def make_problem(
    model: Model | str | Path,
    data: AssayData | str | Path | Sequence[AssayData | str | Path] | Any,
    *,
    estimate: Sequence[str] | Mapping[str, Estimate | Mapping[str, Any] | None],
    noise: NoiseModel | Mapping[str, NoiseModel] | None = None,
    sigma: Mapping[str, QuantityLike] | None = None,
    scale: Iterable[str] = (),
    offset: Iterable[str] = (),
    protocols: Mapping[str, ProtocolLike] | None = None,
    solver: str | Solver = "BDF",
    rtol: float | None = 1e-8,
    atol: float | str | None = None,
    cache_dir: str | Path | bool | None = None,
) -> FitProblem:
    """Turn a model, assay data and the choice of parameters into a :class:`FitProblem`.

    Parameters are as in :func:`fit`.

    Raises
    ------
    DataError
        For data that do not fit the model (unknown readouts or condition columns, wrong
        units, a condition column that sets an estimated parameter), located by row and column.
    UnsupportedFeatureError
        For a model event with a delay (the gradient would not follow it).
    ModelError, UnitError
        For unknown parameter names, bad bounds or scales.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.library import models_folder
    >>> data = dg.read_assay(models_folder() / "data" / "crosslinking_synthetic.csv")
    >>> problem = make_problem("ige_fceri_crosslinking", data, estimate=["kp1", "kp2"])
    >>> problem.names, len(problem.conditions)
    (('kp1', 'kp2'), 2)
    """
    from degranulation.codegen import compile_model
    from degranulation.library import as_model
    from degranulation.sensitivities import observable_derivatives, state_events_for_sensitivities, targets
    from degranulation.simulation import absolute_tolerance
    from degranulation.solvers import solver_for_fits

    model = as_model(model)
    datasets = _datasets(data)
    compiled = compile_model(model, sensitivities=True, cache_dir=cache_dir)
    state_events = state_events_for_sensitivities(model, compiled)
    names = list(estimate)
    wanted = targets(model, compiled, names)
    free = tuple(
        _free_parameter(model, target, _estimate_spec(estimate, name))
        for target, name in zip(wanted, names, strict=True)
    )
    scaled, offsets = set(scale), set(offset)
    readouts, data_values, base, readout_of, times, conditions, labels = _measurements(
        model, compiled, datasets, wanted, noise, sigma or {}, scaled, offsets, protocols or {}
    )
    tolerance = absolute_tolerance(model, compiled, atol, compiled.default_parameters)
    if tolerance is None:
        # Absolute tolerance well below the largest amount in any condition (the solver's
        # default, 1e-9 in model units, is needlessly tight for molecules per cell and makes
        # the sensitivities' Newton iterations struggle).
        largest = max((float(np.abs(c.x0).max(initial=0.0)) for c in conditions), default=1.0)
        tolerance = 1e-3 * (rtol or 1e-6) * max(largest, 1e-300) if largest > 0 else None
    return FitProblem(
        model=model,
        compiled=compiled,
        derivatives=observable_derivatives(model, compiled),
        free=free,
        targets=wanted,
        conditions=conditions,
        readouts=readouts,
        data=data_values,
        base_sigma=base,
        readout_of=readout_of,
        times=times,
        labels=labels,
        solver=solver_for_fits(solver, rtol=rtol, atol=tolerance),
        data_time_unit=datasets[0].time_unit,
        state_events=state_events,
    )


def _datasets(data: Any) -> list[AssayData]:
    from degranulation.estimation.assay import read_assay

    if isinstance(data, AssayData):
        return [data]
    if isinstance(data, str | Path) or hasattr(data, "columns"):
        return [read_assay(data)]
    if isinstance(data, Sequence) and data:
        return [d if isinstance(d, AssayData) else read_assay(d) for d in data]
    raise DataError(
        f"expected assay data (a file, a DataFrame or read_assay's result), got {type(data).__name__}"
    )


def _estimate_spec(estimate: Any, name: str) -> Estimate | Mapping[str, Any] | None:
    return estimate.get(name) if isinstance(estimate, Mapping) else None


def _free_parameter(model: Model, target: Target, spec: Estimate | Mapping[str, Any] | None) -> FreeParameter:
    from degranulation.units import TIME
    from degranulation.values import internal_value, name_dimension

    base = target.name.removesuffix(".initial") if target.is_initial else target.name
    record = model.by_id.get(base)
    where = f"estimate.{target.name}"
    if isinstance(record, Species):
        written = record.initial
    elif record is not None and hasattr(record, "value"):
        written = record.value
    else:
        written = record.size  # type: ignore[union-attr]
    nominal = internal_value(model, base, written)
    declared = getattr(record, "estimate", None)
    if spec is None:
        spec = declared
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"bounds", "scale"}
        if unknown:
            raise ModelError(
                f"unknown estimate option(s) {sorted(unknown)}",
                location=where,
                hint="give 'bounds' (two values with units) and/or 'scale' ('log10' or 'lin')",
            )
        bounds = spec.get("bounds")
        scale = spec.get("scale")
    elif isinstance(spec, Estimate):
        bounds, scale = spec.bounds, spec.scale
    else:
        bounds, scale = None, None
    if scale is None:
        is_rate = dict(name_dimension(model, base)).get(TIME, 0) < 0
        scale = "log10" if is_rate else "lin"
    if scale not in ("log10", "lin"):
        raise ModelError(f"unknown scale '{scale}'", location=f"{where}.scale", hint="use 'log10' or 'lin'")
    if bounds is None:
        if not nominal > 0:
            raise ModelError(
                f"'{target.name}' is {written} and has no bounds to estimate it within",
                location=where,
                hint="give bounds, e.g. estimate={name: {'bounds': [low, high]}}",
            )
        bounds_internal = (
            (nominal / _DEFAULT_SPAN, nominal * _DEFAULT_SPAN) if scale == "log10" else (0.0, 10 * nominal)
        )
    else:
        if len(bounds) != 2:
            raise ModelError("bounds must be two values", location=f"{where}.bounds")
        try:
            bounds_internal = tuple(internal_value(model, base, UnitValue.parse(b)) for b in bounds)  # type: ignore[assignment]
        except UnitError as exc:
            raise UnitError(exc.message, location=f"{where}.bounds", hint=exc.hint) from None
    lower, upper = bounds_internal
    if not (math.isfinite(lower) and math.isfinite(upper) and lower < upper):
        raise ModelError(
            f"bounds of '{target.name}' must be finite with lower < upper", location=f"{where}.bounds"
        )
    if scale == "log10" and lower <= 0:
        raise ModelError(
            f"log10 scale needs positive bounds for '{target.name}'",
            location=f"{where}.bounds",
            hint="use scale 'lin' or a positive lower bound",
        )
    per_unit = internal_value(model, base, UnitValue(1.0, written.unit))
    return FreeParameter(target.name, written.unit, scale, lower, upper, nominal, per_unit)  # type: ignore[arg-type]  # checked above


def _measurements(
    model: Model,
    compiled: CompiledOde,
    datasets: list[AssayData],
    wanted: tuple[Target, ...],
    noise: NoiseModel | Mapping[str, NoiseModel] | None,
    sigma: Mapping[str, Any],
    scaled: set[str],
    offsets: set[str],
    protocols: Mapping[str, ProtocolLike],
) -> tuple[
    tuple[Readout, ...],
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    tuple[Condition, ...],
    tuple[str, ...],
]:
    """Readouts, data in readout units, base σ, and the conditions (grouped simulations)."""

    _check_readout_names(datasets, (*scaled, *offsets, *sigma))
    readouts: list[Readout] = []
    values, base, readout_of, times, keys, locations = [], [], [], [], [], []
    estimated = {t.name for t in wanted} | {t.name.removesuffix(".initial") for t in wanted if t.is_initial}
    for data in datasets:
        converted, sd = data.readout_values(model, any_unit=sorted(scaled))
        overrides = _condition_overrides(model, compiled, data, estimated)
        for row, name in enumerate(data.observable):
            if name not in [r.name for r in readouts]:
                readouts.append(
                    _readout(model, compiled, name, data, sd is not None, noise, sigma, scaled, offsets)
                )
            r = [x.name for x in readouts].index(name)
            readout = readouts[r]
            if readout.is_species is False and name in scaled and data.value_unit != readout.unit:
                raise data.error(
                    row,
                    data.header("value"),
                    f"'{name}' has a scale factor, so all its values "
                    f"need one unit; found '{data.value_unit}' and '{readout.unit}'",
                )
            values.append(converted[row])
            base.append(_base_sigma(data, row, readout, converted, sd))
            readout_of.append(r)
            times.append(model.units.magnitude(float(data.time[row]), data.time_unit))
            protocol = data.protocol[row] if data.protocol is not None else None
            keys.append((protocol, overrides[row]))
            locations.append((data, row))
    conditions, labels = _conditions(model, compiled, protocols, keys, locations, times, readout_of)
    return (
        tuple(readouts),
        np.array(values),
        np.array(base),
        np.array(readout_of, dtype=np.int64),
        np.array(times),
        tuple(conditions),
        tuple(labels),
    )


def _check_readout_names(datasets: list[AssayData], names: Iterable[str]) -> None:
    """Refuse scale, offset and sigma options that name no readout in the data."""
    readout_names = list(dict.fromkeys(name for data in datasets for name in data.observable))
    for name in names:
        if name not in readout_names:
            raise DataError(
                f"'{name}' is not a readout in the data", hint=f"readouts: {', '.join(readout_names)}"
            )


def _base_sigma(
    data: AssayData, row: int, readout: Readout, converted: np.ndarray, sd: np.ndarray | None
) -> float:
    """The noise model's base σ of one measurement (before its noise constant)."""
    if readout.noise == "sd":
        if sd is None:
            raise data.error(
                None,
                "sd",
                "noise model 'sd' needs an sd column",
                hint="add 'sd [unit]' or use noise='additive'",
            )
        return sd[row]
    if readout.noise == "proportional":
        if converted[row] == 0:
            raise data.error(
                row,
                data.header("value"),
                "a proportional noise model cannot weight a zero value",
                hint="use noise='additive' or an sd column for this readout",
            )
        return abs(converted[row])
    return 1.0


def _conditions(
    model: Model,
    compiled: CompiledOde,
    protocols: Mapping[str, ProtocolLike],
    keys: list[tuple[Any, Any]],
    locations: list[tuple[AssayData, int]],
    times: list[float],
    readout_of: list[int],
) -> tuple[list[Condition], list[str]]:
    """Group the measurements into conditions (one simulation per protocol and set of
    condition columns); returns them and each measurement's condition label."""
    from degranulation.protocols import protocol_steps, resolve

    conditions = []
    labels = [""] * len(keys)
    for key in dict.fromkeys(keys):
        protocol, override = key
        rows = np.array([i for i, k in enumerate(keys) if k == key], dtype=np.int64)
        data, first = locations[rows[0]]
        try:
            steps = protocol_steps(model, protocols.get(protocol, protocol) if protocol is not None else None)
            events = resolve(model, compiled, steps)
        except (ModelError, UnitError) as exc:
            raise data.error(first, "protocol", exc.message, hint=exc.hint) from None
        p, x0 = compiled.default_parameters.copy(), compiled.default_initial.copy()
        for is_initial, index, value in override:
            (x0 if is_initial else p)[index] = value
        row_times = np.array([times[i] for i in rows])
        grid = np.unique(np.concatenate([[0.0], row_times]))
        label = _label(data, first, protocol, override, compiled)
        for i in rows:
            labels[i] = label
        conditions.append(
            Condition(
                label=label,
                p=p,
                x0=x0,
                events=events,
                times=grid,
                rows=rows,
                time_index=np.searchsorted(grid, row_times),
                readout=np.array([readout_of[i] for i in rows]),
            )
        )
    return conditions, labels


def _label(
    data: AssayData, row: int, protocol: str | None, override: tuple[Any, ...], compiled: CompiledOde
) -> str:
    if data.label is not None:
        return data.label[row]
    parts = [protocol] if protocol else []
    parts += [f"{name}={values[row]:g} {unit}" for name, (values, unit) in data.conditions.items()]
    return ", ".join(parts) or "default"


def _condition_overrides(
    model: Model, compiled: CompiledOde, data: AssayData, estimated: set[str]
) -> list[tuple[tuple[bool, int, float], ...]]:
    """Per row, the (is_initial, index, internal value) set by the condition columns."""
    from degranulation.values import internal_value

    parameters = {name: k for k, name in enumerate(compiled.parameters)}
    species = {name: i for i, name in enumerate(compiled.species)}
    columns = []
    for name, (values, unit) in data.conditions.items():
        header = f"{name} [{unit}]"
        base = name.removesuffix(".initial")
        if name in estimated or (base in estimated and base in species):
            raise data.error(
                None,
                header,
                f"column '{header}' sets '{name}', which is being estimated",
                hint="estimate it or set it per condition, not both",
            )
        if name in parameters:
            is_initial, index = False, parameters[name]
        elif base in species:
            is_initial, index = True, species[base]
        else:
            import difflib

            close = difflib.get_close_matches(base, [*parameters, *species], n=1)
            raise data.error(
                None,
                header,
                f"condition column '{name}' is not a parameter, compartment or species of model '{model.id}'",
                hint=f"did you mean '{close[0]}'?" if close else "name a parameter or species",
            )
        converted = []
        for row, value in enumerate(values):
            try:
                converted.append(internal_value(model, base, UnitValue(float(value), unit)))
            except UnitError as exc:
                raise data.error(row, header, exc.message, hint=exc.hint) from None
        if is_initial and min(converted) < 0:
            raise data.error(int(np.argmin(converted)), header, "an initial value cannot be negative")
        columns.append((is_initial, index, converted))
    return [
        tuple((is_initial, index, values[row]) for is_initial, index, values in columns)
        for row in range(len(data))
    ]


def _readout(
    model: Model,
    compiled: CompiledOde,
    name: str,
    data: AssayData,
    has_sd: bool,
    noise: NoiseModel | Mapping[str, NoiseModel] | None,
    sigma: Mapping[str, Any],
    scaled: set[str],
    offsets: set[str],
) -> Readout:
    from degranulation.results import species_unit

    kind = noise.get(name) if isinstance(noise, Mapping) else noise
    kind = kind or ("sd" if has_sd else "additive")
    if kind not in NOISE_MODELS:
        raise FitError(
            f"unknown noise model '{kind}' for '{name}'", hint=f"use one of {', '.join(NOISE_MODELS)}"
        )
    is_species = name in compiled.species
    index = compiled.species.index(name) if is_species else compiled.observables.index(name)
    model_unit = species_unit(model, model.get_species(name)) if is_species else model.by_id[name].unit  # type: ignore[union-attr]
    unit = data.value_unit if name in scaled else model_unit
    constant, is_estimated = 1.0, kind != "sd"
    if name in sigma:
        constant, is_estimated = _sigma_value(sigma[name], kind, unit, name), False
    return Readout(
        name,
        is_species,
        index,
        unit,
        model_unit,
        kind,
        constant,
        is_estimated,
        name in scaled,
        name in offsets,
    )


def _sigma_value(value: Any, kind: NoiseModel, unit: str, name: str) -> float:
    from degranulation.units import parse_unit, registry

    if kind == "sd":
        raise FitError(
            f"sigma for '{name}' is given but its noise model is 'sd'",
            hint="choose noise='additive' or 'proportional' for it",
        )
    parsed = UnitValue.parse(value)
    target = "dimensionless" if kind == "proportional" else unit
    try:
        number = float(
            registry().Quantity(parsed.value, parse_unit(parsed.unit)).to(parse_unit(target)).magnitude
        )
    except Exception:  # pint's DimensionalityError
        raise UnitError(
            f"sigma '{parsed}' for '{name}' is not in units of {target}",
            location=f"sigma.{name}",
            hint="a proportional sigma is a fraction ('10 percent')" if kind == "proportional" else None,
        ) from None
    if not number > 0:
        raise UnitError(f"sigma for '{name}' must be positive", location=f"sigma.{name}")
    return number


# ---------------------------------------------------------------------------------------------
# Optimisation
