"""``simulate_scenarios``: one model solved under many scenarios (each a set of parameter,
compartment-size and initial-value overrides) in one call, into one Dataset with a
``scenario`` dimension.

The model is checked and compiled once, and its protocol and output times resolved once; each
scenario is then solved exactly as :func:`degranulation.simulate` would solve it alone (same
solver, same per-species default tolerances from its own initial state), so a batch gives the
numbers of separate runs without paying their start-up. A scenario whose solve fails gets NaN
values, status ``"failed"`` and the solver's message; the others are unaffected. Given an
output file, finished scenarios are stored as they finish, in parts, by the sweeps' store
(:class:`~degranulation.sweeps.store.SweepStore`), so an interrupted batch resumes.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from degranulation.errors import (
    DataError,
    DegranulationError,
    DegranulationWarning,
    ModelError,
    SimulationError,
)
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
    from degranulation.sweeps.store import SweepStore

FAILED = "failed"
CHUNKS: Final = 16  # parts a batch is stored in as it goes (at most this many files)


def simulate_scenarios(
    model: Model | str | Path,
    scenarios: ScenarioTable | ScenariosLike,
    t: TimeSpec = "100 s",
    *,
    params: Mapping[str, QuantityLike] | None = None,
    initial: Mapping[str, QuantityLike] | None = None,
    protocol: ProtocolLike = None,
    solver: str | Solver | None = None,
    rtol: float | None = None,
    atol: float | str | None = None,
    points: int = DEFAULT_POINTS,
    output: str | Path | None = None,
    resume: bool = False,
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
    output : str or Path, optional
        A ``.nc`` file for the result. Finished scenarios are stored under ``<output>.parts/``
        as they finish (in about 16 parts) and the folder is removed once the result is
        written, so an interrupted batch loses at most the part it was solving.
    resume : bool
        Continue the interrupted batch stored under ``output`` without solving its finished
        scenarios again (the model, table and every other argument must be the same).

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
        For a scenario file that cannot be read, or scenarios that are empty or named twice;
        if ``output`` holds an unfinished batch and ``resume`` is false, or a different one.
    ModelError, UnitError
        For a name the model does not have, or a value with the wrong unit or sign; the message
        names the file, the row and the column. Nothing is solved then.
    ValueError
        For ``resume=True`` without ``output``.

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
    provenance = setup.provenance(params, initial)
    size = -(-len(table.rows) // CHUNKS)
    store = None
    if output is not None:
        spec = _spec(setup, table, provenance, solver=solver, rtol=rtol, atol=atol, chunk_size=size)
        store = _store(output, spec)
    elif resume:
        raise ValueError("resume=True needs the output path of the interrupted batch")
    outcomes = _solve_all(setup, table, inputs, size, store, resume, solver=solver, rtol=rtol, atol=atol)
    result = _dataset(setup, table, inputs, outcomes, provenance)
    if store is not None:
        store.finish(result)
    return result


@dataclass(frozen=True)
class _Outcome:
    """A scenario's result as plain data: each variable's values over time (NaN if it failed),
    status, message, and the solver options and counters of its run (None if it failed)."""

    values: dict[str, np.ndarray]
    status: str
    message: str
    solver: dict[str, Any] | None
    counters: dict[str, int] | None


def _solve_all(
    setup: Setup,
    table: ScenarioTable,
    inputs: list[tuple[np.ndarray, np.ndarray]],
    size: int,
    store: SweepStore | None,
    resume: bool,
    *,
    solver: str | Solver | None,
    rtol: float | None,
    atol: Any,
) -> list[_Outcome]:
    """Every scenario's outcome, ``size`` scenarios a part: read from ``store`` where it holds the
    part (when resuming), else solved, and stored there as each part finishes."""
    finished = store.start(resume=resume) if store is not None else []
    outcomes: list[_Outcome] = []
    for chunk, first in enumerate(range(0, len(table.rows), size)):
        if store is not None and chunk in finished:
            outcomes += _stored_outcomes(store.read(chunk), setup, inputs[0][0])
            continue
        rows, values = table.rows[first : first + size], inputs[first : first + size]
        part = []
        # A loop, not a comprehension (a frame of its own before Python 3.12), so that the
        # warnings _solve passes on point at the caller of simulate_scenarios.
        for row, (p, x0) in zip(rows, values, strict=True):
            part.append(_solve(setup, row.name, p, x0, solver=solver, rtol=rtol, atol=atol))
        if store is not None:
            store.write(chunk, _part_dataset(part))
        outcomes += part
    return outcomes


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
    from degranulation.simulation import name_hint

    if name in compiled.species:
        return True, compiled.species.index(name)
    if name in compiled.parameters:
        return False, compiled.parameters.index(name)
    raise ModelError(
        f"model '{model.id}' has no parameter, compartment or species '{name}'",
        file=file,
        location=location,
        hint=name_hint(name, [*compiled.species, *compiled.parameters]),
    )


def _solve(
    setup: Setup,
    name: ScenarioName,
    p: np.ndarray,
    x0: np.ndarray,
    *,
    solver: str | Solver | None,
    rtol: float | None,
    atol: Any,
) -> _Outcome:
    """Solve one scenario; its warnings are passed on, each naming the scenario, and the
    package's own are kept in its message."""
    from degranulation.results import variables_of

    run: Run | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            run = setup.run(p, x0, solver=solver, rtol=rtol, atol=atol)
        except SimulationError as exc:
            failure = str(exc)
    for warning in caught:
        warnings.warn(f"scenario {name!r}: {warning.message}", warning.category, stacklevel=4)
    notes = [str(w.message) for w in caught if issubclass(w.category, DegranulationWarning)]
    if run is None:
        values = {name: v for name, (v, _) in _template(setup, p).items()}
        return _Outcome(values, FAILED, "; ".join([failure, *notes]), None, None)
    values = {name: v for name, (v, _) in variables_of(setup.model, setup.compiled, run.trajectory).items()}
    return _Outcome(values, run.status, "; ".join(notes), run.solver.describe(), run.trajectory.counters)


def _dataset(
    setup: Setup,
    table: ScenarioTable,
    inputs: list[tuple[np.ndarray, np.ndarray]],
    outcomes: list[_Outcome],
    provenance: dict[str, str],
) -> xarray.Dataset:
    """The quantified result: every scenario's variables stacked along ``scenario``."""
    import xarray as xr

    from degranulation.results import attributes, quantify, time_coordinate

    model, compiled = setup.model, setup.compiled
    variables: dict[str, Any] = {
        name: (("scenario", "time"), np.stack([o.values[name] for o in outcomes]), attrs)
        for name, (_, attrs) in _template(setup, inputs[0][0]).items()
    }
    variables["status"] = ("scenario", np.array([o.status for o in outcomes], dtype=str))
    variables["message"] = ("scenario", np.array([o.message for o in outcomes], dtype=str))
    coords: dict[str, Any] = {
        "scenario": ("scenario", np.array(table.names)),
        "time": time_coordinate(model, setup.times),
        **_set_values(model, compiled, table, inputs, set(variables)),
    }
    attrs = attributes(
        model,
        {
            **provenance,
            "scenarios": json.dumps(table.as_given),
            **({"scenario_file": table.file} if table.file else {}),
            "solver": json.dumps([o.solver for o in outcomes]),
            "counters": json.dumps([o.counters for o in outcomes]),
        },
    )
    return quantify(xr.Dataset(variables, coords=coords, attrs=attrs))


def _store(output: str | Path, spec: dict[str, Any]) -> SweepStore:
    from degranulation.sweeps.store import SweepStore

    path = Path(output)
    if path.suffix.lower() != ".nc":
        raise DataError(
            f"a batch stored as it goes is written to NetCDF; '{path.name}' does not end in .nc",
            hint="name the output e.g. 'batch.nc'",
        )
    return SweepStore(path, spec, kind="batch of scenarios")


def _spec(
    setup: Setup,
    table: ScenarioTable,
    provenance: dict[str, str],
    *,
    solver: str | Solver | None,
    rtol: float | None,
    atol: Any,
    chunk_size: int,
) -> dict[str, Any]:
    """Plain-data identity of a batch: a resumed batch must have exactly this."""
    return {
        "model_hash": setup.model.content_hash,
        "scenarios": table.as_given,
        "times": [repr(float(v)) for v in setup.times],
        **provenance,
        "solver": solver if solver is None or isinstance(solver, str) else str(solver.describe()),
        "rtol": rtol,
        "atol": atol,
        "chunk_size": chunk_size,
    }


def _part_dataset(outcomes: list[_Outcome]) -> xarray.Dataset:
    """Finished scenarios as plain data, for their part's file."""
    import xarray as xr

    def texts(values: list[Any]) -> tuple[str, np.ndarray]:
        return ("scenario", np.array(values, dtype=str))

    variables: dict[str, Any] = {
        name: (("scenario", "time"), np.stack([o.values[name] for o in outcomes]))
        for name in outcomes[0].values
    }
    variables["scenario_status"] = texts([o.status for o in outcomes])
    variables["scenario_message"] = texts([o.message for o in outcomes])
    variables["scenario_solver"] = texts([json.dumps(o.solver) for o in outcomes])
    variables["scenario_counters"] = texts([json.dumps(o.counters) for o in outcomes])
    return xr.Dataset(variables)


def _stored_outcomes(part: xarray.Dataset, setup: Setup, p: np.ndarray) -> list[_Outcome]:
    """The finished scenarios of a stored part."""
    names = list(_template(setup, p))
    return [
        _Outcome(
            {name: np.asarray(part[name].values[k], dtype=float) for name in names},
            str(part["scenario_status"].values[k]),
            str(part["scenario_message"].values[k]),
            json.loads(str(part["scenario_solver"].values[k])),
            json.loads(str(part["scenario_counters"].values[k])),
        )
        for k in range(part.sizes["scenario"])
    ]


def _template(setup: Setup, p: np.ndarray) -> dict[str, tuple[np.ndarray, dict[str, str]]]:
    """The result's variables with their attributes, NaN throughout: what a failed scenario
    reports, shaped as a solved one."""
    from degranulation.results import Trajectory, variables_of

    n_times = len(setup.times)
    sets_parameters = setup.state_events is not None and setup.state_events.sets_parameters
    missing = Trajectory(
        setup.times,
        np.full((len(setup.compiled.species), n_times), np.nan),
        p,
        {},
        np.full((len(p), n_times), np.nan) if sets_parameters else None,
    )
    with np.errstate(all="ignore"):  # observables of a NaN state
        return variables_of(setup.model, setup.compiled, missing)


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
