"""``simulate_scenarios``: one model solved under many scenarios (each a set of parameter,
compartment-size and initial-value overrides) in one call, into one Dataset with a
``scenario`` dimension.

The model is checked and compiled once, and its protocol and output times resolved once; each
scenario is then solved exactly as :func:`degranulation.simulate` would solve it alone (same
solver, same per-species default tolerances from its own initial state), so a batch gives the
numbers of separate runs without paying their start-up. A scenario whose solve fails gets NaN
values, status ``"failed"`` and the solver's message; the others are unaffected.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from degranulation.errors import DegranulationError, DegranulationWarning, ModelError, SimulationError
from degranulation.network import Model, UnitValue
from degranulation.scenario_table import ScenarioName, ScenariosLike, ScenarioTable, read_scenarios
from degranulation.simulation import DEFAULT_POINTS, Run, Setup
from degranulation.typing import QuantityLike, TimeSpec

if TYPE_CHECKING:
    import xarray

    from degranulation.codegen import CompiledOde
    from degranulation.protocols import ProtocolLike
    from degranulation.scenario_table import Scenario
    from degranulation.solvers import Solver

FAILED = "failed"


def simulate_scenarios(
    model: Model | str | Path,
    scenarios: ScenarioTable | ScenariosLike,
    t: TimeSpec = "100 s",
    *,
    params: Mapping[str, QuantityLike] | None = None,
    initial: Mapping[str, QuantityLike] | None = None,
    protocol: ProtocolLike = None,
    solver: str | Solver = "BDF",
    rtol: float | None = None,
    atol: float | str | None = None,
    points: int = DEFAULT_POINTS,
    cache_dir: str | Path | bool | None = None,
) -> xarray.Dataset:
    """Simulate a model once per scenario and return the time courses as one Dataset.

    Parameters
    ----------
    model : Model, str or Path
        A model, a bundled model id, or a path to a model file.
    scenarios : str, Path, list of dict, or dict of dict
        A ``.csv`` or ``.json`` scenario file, a list of mappings of names (a parameter, a
        compartment, or a species, meaning its initial value) to values with units
        (``[{"kp2": "5e-4 1/(molecule*s)"}, {"L": "3e6 molecule"}]``, with an optional
        ``"scenario"`` entry naming each), or a mapping of scenario names to such mappings.
        The file formats are described in :mod:`degranulation.scenario_table`.
    t : str, Quantity or sequence
        End time or output times, as in :func:`degranulation.simulate`.
    params, initial : mapping, optional
        Overrides common to every scenario, as in :func:`degranulation.simulate`; a scenario's
        own value for a name takes precedence.
    protocol : str, list or None
        Steps applied during every run, as in :func:`degranulation.simulate`.

    Returns
    -------
    xarray.Dataset
        Dimensions ``scenario`` (its coordinate: the scenarios' names, or their positions from 0
        when the table names none) and ``time``; one variable per species and observable,
        quantified with pint-xarray, as :func:`degranulation.simulate` returns for one run;
        ``status`` per scenario (``"ok"``, ``"failed"``, or the warnings of
        :func:`~degranulation.simulation.check_signs` such as ``"negative"``) and ``message``
        (why it failed, or the warnings it raised); and one coordinate along ``scenario`` per
        name any scenario sets, holding the value each scenario ran with, in the unit the table
        first gives it (named ``<id>_initial`` where the result has a variable ``<id>``: for a
        species' initial value, or a parameter that events change). ``attrs`` hold the
        provenance as for one run, with ``solver`` and ``counters`` as JSON lists (one entry per
        scenario) and the table as given in ``scenarios``.

    Other Parameters
    ----------------
    solver, rtol, atol, points, cache_dir
        As in :func:`degranulation.simulate`; the default ``atol`` follows each scenario's own
        initial state, as it would in a run of its own.

    Raises
    ------
    DataError
        For a scenario file that cannot be read, or scenarios that are empty or named twice.
    ModelError, UnitError
        For a name the model does not have, or a value with the wrong unit or sign; the message
        names the file, the row and the column. Nothing is solved then.

    See Also
    --------
    degranulation.simulate : one run.
    degranulation.sweep : a grid of values, solved in stacked batches or in parallel.

    Examples
    --------
    >>> import degranulation as dg
    >>> ds = dg.simulate_scenarios("ige_fceri_crosslinking",
    ...                            {"low": {"L": "1e5 molecule"}, "high": {"L": "6e6 molecule"}},
    ...                            t="10 min", points=3)
    >>> dict(ds.sizes), ds["status"].values.tolist(), str(ds["L_initial"].pint.units)
    ({'scenario': 2, 'time': 3}, ['ok', 'ok'], 'molecule')
    >>> one = dg.simulate("ige_fceri_crosslinking", t="10 min", points=3, initial={"L": "6e6 molecule"})
    >>> bool((ds["RecDim"].sel(scenario="high") == one["RecDim"]).all())
    True
    """
    from degranulation.library import as_model
    from degranulation.simulation import initial_state, parameter_vector, prepare

    model = as_model(model, cache_dir=cache_dir)
    table = read_scenarios(scenarios)
    setup = prepare(model, t, protocol=protocol, points=points, cache_dir=cache_dir)
    base = (
        parameter_vector(model, setup.compiled, params or {}),
        initial_state(model, setup.compiled, initial or {}),
    )
    # Every name and value is checked before anything is solved, so a bad table costs no solving.
    for name, location in table.columns.items():  # even a name whose cells are all empty
        _target(model, setup.compiled, name, table.file, location)
    inputs = [_inputs(model, setup.compiled, row, base, table.file) for row in table.rows]
    outcomes = [
        _solve(setup, row.name, p, x0, solver=solver, rtol=rtol, atol=atol)
        for row, (p, x0) in zip(table.rows, inputs, strict=True)
    ]
    return _dataset(setup, table, inputs, outcomes, setup.provenance(params, initial))


@dataclass(frozen=True)
class _Outcome:
    """A scenario's run (None if it failed), status and message."""

    run: Run | None
    status: str
    message: str


def _inputs(
    model: Model, compiled: CompiledOde, row: Scenario, base: tuple[np.ndarray, np.ndarray], file: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """The parameter vector and initial state of one scenario: ``base`` with its values set."""
    from degranulation.simulation import override_value

    p, x0 = base[0].copy(), base[1].copy()
    for name, value in row.values.items():
        is_species, index = _target(model, compiled, name, file, row.locations[name])
        try:
            number = override_value(model, name, str(value), row.locations[name])
        except DegranulationError as exc:
            raise exc.with_location(file=file) from None
        (x0 if is_species else p)[index] = number
    return p, x0


def _target(
    model: Model, compiled: CompiledOde, name: str, file: str | None, location: str
) -> tuple[bool, int]:
    """Whether ``name`` is a species, and its index in the state or the parameter vector."""
    import difflib

    if name in compiled.species:
        return True, compiled.species.index(name)
    if name in compiled.parameters:
        return False, compiled.parameters.index(name)
    settable = [*compiled.species, *compiled.parameters]
    close = difflib.get_close_matches(name, settable, n=1)
    raise ModelError(
        f"model '{model.id}' has no parameter, compartment or species '{name}'",
        file=file,
        location=location,
        hint=f"did you mean '{close[0]}'?" if close else f"known: {', '.join(settable[:12])}",
    )


def _solve(
    setup: Setup,
    name: ScenarioName,
    p: np.ndarray,
    x0: np.ndarray,
    *,
    solver: str | Solver,
    rtol: float | None,
    atol: Any,
) -> _Outcome:
    """Solve one scenario; its warnings are passed on, each naming the scenario, and the
    package's own are kept in its message."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            run = setup.run(p, x0, solver=solver, rtol=rtol, atol=atol)
        except SimulationError as exc:
            outcome = _Outcome(None, FAILED, str(exc))
        else:
            outcome = _Outcome(run, run.status, "")
    for warning in caught:
        warnings.warn(f"scenario {name!r}: {warning.message}", warning.category, stacklevel=3)
    notes = [str(w.message) for w in caught if issubclass(w.category, DegranulationWarning)]
    return _Outcome(outcome.run, outcome.status, "; ".join(m for m in (outcome.message, *notes) if m))


def _dataset(
    setup: Setup,
    table: ScenarioTable,
    inputs: list[tuple[np.ndarray, np.ndarray]],
    outcomes: list[_Outcome],
    provenance: dict[str, str],
) -> xarray.Dataset:
    """The quantified result: every scenario's variables stacked along ``scenario``."""
    import xarray as xr

    from degranulation.results import attributes, quantify, time_coordinate, variables_of

    model, compiled = setup.model, setup.compiled
    with np.errstate(all="ignore"):  # observables of a failed scenario's NaN state
        columns = [
            variables_of(model, compiled, outcome.run.trajectory if outcome.run else _missing(setup, p))
            for outcome, (p, _) in zip(outcomes, inputs, strict=True)
        ]
    variables: dict[str, Any] = {
        name: (("scenario", "time"), np.stack([column[name][0] for column in columns]), attrs)
        for name, (_, attrs) in columns[0].items()
    }
    variables["status"] = ("scenario", np.array([o.status for o in outcomes], dtype=str))
    variables["message"] = ("scenario", np.array([o.message for o in outcomes], dtype=str))
    coords: dict[str, Any] = {
        "scenario": ("scenario", np.array(table.names)),
        "time": time_coordinate(model, setup.times),
        **_set_values(model, compiled, table, inputs, set(variables)),
    }
    given = [{"scenario": row.name, **{k: str(v) for k, v in row.values.items()}} for row in table.rows]
    runs = [outcome.run for outcome in outcomes]
    attrs = attributes(
        model,
        {
            **provenance,
            "scenarios": json.dumps(given),
            **({"scenario_file": table.file} if table.file else {}),
            "solver": json.dumps([run.solver.describe() if run else None for run in runs]),
            "counters": json.dumps([run.trajectory.counters if run else None for run in runs]),
        },
    )
    return quantify(xr.Dataset(variables, coords=coords, attrs=attrs))


def _missing(setup: Setup, p: np.ndarray) -> Any:
    """A failed scenario's trajectory: NaN throughout, shaped as a solved one."""
    from degranulation.results import Trajectory

    n_times = len(setup.times)
    sets_parameters = setup.state_events is not None and setup.state_events.sets_parameters
    return Trajectory(
        setup.times,
        np.full((len(setup.compiled.species), n_times), np.nan),
        p,
        {},
        np.full((len(p), n_times), np.nan) if sets_parameters else None,
    )


def _set_values(
    model: Model,
    compiled: CompiledOde,
    table: ScenarioTable,
    inputs: list[tuple[np.ndarray, np.ndarray]],
    variables: set[str],
) -> dict[str, Any]:
    """One coordinate along ``scenario`` per name any scenario sets: the value each ran with, in
    the unit the table first gives it; named ``<id>_initial`` where ``<id>`` names one of the
    result's ``variables`` (a species, or a parameter that events change)."""
    from degranulation.values import internal_value

    units: dict[str, str] = {}
    for row in table.rows:
        for name, value in row.values.items():
            units.setdefault(name, value.unit)
    coords = {}
    for name, unit in units.items():
        is_species = name in compiled.species
        index = compiled.species.index(name) if is_species else compiled.parameters.index(name)
        per_unit = internal_value(model, name, UnitValue(1.0, unit))
        shown = [
            _shown(row.values.get(name), unit, (x0 if is_species else p)[index] / per_unit)
            for row, (p, x0) in zip(table.rows, inputs, strict=True)
        ]
        label = f"initial value of {name}" if is_species else name
        attrs = {"units": unit, "units_as_written": unit, "long_name": f"{label}, as each scenario set it"}
        coords[f"{name}_initial" if name in variables else name] = ("scenario", np.array(shown), attrs)
    return coords


def _shown(given: UnitValue | None, unit: str, converted: float) -> float:
    """A scenario's value as the table gave it where it gave it in ``unit`` (no round trip
    through the model's units), else ``converted`` (its value in ``unit``)."""
    return given.value if given is not None and given.unit == unit else converted
