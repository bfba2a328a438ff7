"""``sweep`` and ``dose_response``: plan, solve every chunk not yet stored (here, in processes or
on Dask), store each as it finishes, and assemble the result.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from degranulation.errors import DataError
from degranulation.network import Model
from degranulation.parallel import as_completed, check_workers
from degranulation.sweeps.dataset import _dataset, _part_dataset, _part_from_dataset
from degranulation.sweeps.plan import SweepMode, _make_plan, _Plan, _spec
from degranulation.sweeps.solve import _Part, _solve_chunk
from degranulation.typing import QuantityArray, QuantityLike, Scheduler, TimeSpec

if TYPE_CHECKING:
    import xarray

    from degranulation.protocols import ProtocolLike
    from degranulation.solvers import Solver

Progress = Callable[[int, int], None]


def sweep(
    model: Model | str | Path,
    grid: Mapping[str, QuantityArray],
    *,
    t: TimeSpec | None = None,
    at: TimeSpec | None = None,
    observe: str | Sequence[str] | None = None,
    mode: SweepMode = "product",
    params: Mapping[str, QuantityLike] | None = None,
    initial: Mapping[str, QuantityLike] | None = None,
    protocol: ProtocolLike = None,
    output: str | Path | None = None,
    resume: bool = False,
    workers: int = 1,
    scheduler: Scheduler = None,
    solver: str | Solver | None = None,
    rtol: float | None = None,
    atol: float | str | None = None,
    points: int = 101,
    batch: int | None = None,
    progress: Progress | None = None,
    cache_dir: str | Path | bool | None = None,
) -> xarray.Dataset:
    """Solve a model at every point of a grid of parameters and initial values.

    Parameters
    ----------
    model : Model, str or Path
        A model, a bundled model id, or a path to a model file.
    grid : mapping of str to values
        Swept names (a parameter, a compartment, or a species, meaning its initial value) to
        their values with units: ``{"L": dg.geomspace("1 pM", "10 uM", 41)}`` or
        ``{"km1": ["0.01 1/s", "0.1 1/s"]}``.
    t : str, Quantity or sequence, optional
        For time courses (``at=None``): the end time or the output times, as in
        :func:`degranulation.simulate`. For ``at="steady"``: the horizon to integrate to.
    at : str, Quantity, sequence or "steady", optional
        Read out at one time (``"30 min"``; no time dimension), at several times
        (``["10 min", "30 min"]``; a ``time`` dimension), or at steady state (``"steady"``:
        the state at ``t``, kept where no species moved by more than 100 solver tolerances
        over the second half of ``t``; otherwise the point gets status ``"not_steady"``).
        None gives full time courses.
    observe : str or list of str, optional
        Species and observables to keep (default: all). A swept species' value is called
        ``<id>_readout``, since ``<id>`` names the swept initial value.
    mode : {"product", "zip"}
        Every combination of the values (one dimension per swept name), or the values
        taken together (all of one length; one dimension ``point``).
    params, initial : mapping, optional
        Fixed overrides for every point, as in :func:`degranulation.simulate`.
    protocol : str, list or None
        Steps applied during every run, as in :func:`degranulation.simulate` (None: the
        model's default protocol). Steps act after the swept values are set, so a step that
        sets a swept name overrides its value from then on; pass ``protocol="none"`` to run
        without the model's default steps.
    output : str or Path, optional
        A ``.nc`` file for the result. Finished chunks are stored under
        ``<output>.parts/`` as they finish and removed once the result is written. (A fit, which
        writes no result file, names its progress file ``checkpoint=``; both resume with
        ``resume=True``.)
    resume : bool
        Continue the interrupted sweep stored under ``output`` without recomputing its
        finished points.
    workers : int
        Worker processes on this machine (1: solve in this process).
    scheduler : str or distributed.Client, optional
        A Dask scheduler address (``"tcp://host:8786"``) or client: the chunks are solved on
        that cluster (needs ``pip install 'degranulation[dask]'``).

    Returns
    -------
    xarray.Dataset
        One dimension per swept name (or ``point`` for ``mode="zip"``) with the values as
        given (units kept), plus ``time`` for time courses or several readout times; one
        variable per observed species or observable, quantified with pint-xarray;
        ``status`` (``"ok"``, ``"failed"``, ``"not_steady"``) and ``message`` per point.

    Other Parameters
    ----------------
    solver : {"LSODA", "CVODE", "BDF", "Radau"}, solver options, or None
        None chooses LSODA for models of up to 100 species and BDF for larger ones. With
        LSODA or CVODE (the ``sundials`` extra; the fastest for small models), points are
        solved ``batch`` at a time as one stacked system with a banded Jacobian, each held
        to the tolerances; with BDF or Radau one at a time, and so are the points of a model
        with events triggered by the state (each point's events fire at its own times).
    rtol, atol : float, optional
        Tolerances; ``atol`` as in :func:`degranulation.simulate` (a number in model units, or
        an amount or concentration for every species, converted with the model's compartment
        sizes).
    points : int
        Output times of a time course when ``t`` is an end time.
    batch : int, optional
        Points per stacked solve (default: up to 64, fewer for large models or
        short sweeps). Results depend on it only within solver tolerance.
    progress : callable, optional
        Called as ``progress(points_done, points_total)`` after each chunk.
    cache_dir : path, None or False
        Compiled-model cache (see :func:`degranulation.codegen.compile_model`).

    Raises
    ------
    ModelError, UnitError
        For unknown names or values with the wrong units.
    DataError
        If ``output`` holds an unfinished sweep and ``resume`` is false, or a different one.

    Examples
    --------
    >>> import degranulation as dg
    >>> ds = dg.sweep("ige_fceri_crosslinking", {"kp2": ["1e-4 1/(molecule*s)", "2.5e-4 1/(molecule*s)"],
    ...                                          "L": ["1e5 molecule", "6e6 molecule"]},
    ...               at="10 min", observe="RecDim")
    >>> dict(ds.sizes), ds.status.values.ravel().tolist()
    ({'kp2': 2, 'L': 2}, ['ok', 'ok', 'ok', 'ok'])
    """
    from degranulation.codegen import compile_model
    from degranulation.library import as_model

    model = as_model(model)
    if resume and output is None:
        raise ValueError("resume=True needs the output path of the interrupted sweep")
    output = None if output is None else Path(output)
    if output is not None and output.suffix.lower() != ".nc":
        raise DataError(
            f"a sweep is written to NetCDF; '{output.name}' does not end in .nc",
            hint="name the output e.g. 'dr.nc'",
        )
    check_workers(workers, scheduler)
    compiled = compile_model(model, cache_dir=cache_dir)
    plan = _make_plan(
        model,
        compiled,
        grid,
        t=t,
        at=at,
        observe=observe,
        mode=mode,
        params=params,
        initial=initial,
        protocol=protocol,
        solver=solver,
        rtol=rtol,
        atol=atol,
        points=points,
        batch=batch,
    )
    spec = _spec(
        model,
        plan,
        grid_mode=mode,
        given={"params": params, "initial": initial, "protocol": protocol, "at": at, "t": t},
    )
    if resume and output is not None:
        finished = _finished_result(output, spec)
        if finished is not None:
            return finished
    parts = _run(
        plan, spec, output=output, resume=resume, workers=workers, scheduler=scheduler, progress=progress
    )
    result = _dataset(model, plan, parts, mode=mode, at=at, spec=spec)
    if output is not None:
        from degranulation.sweeps.store import SweepStore

        SweepStore(output, spec).finish(result)
    return result


def dose_response(
    model: Model | str | Path,
    vary: str,
    doses: QuantityArray,
    *,
    observe: str | Sequence[str] | None = None,
    at: TimeSpec | None = None,
    t: TimeSpec | None = None,
    params: Mapping[str, QuantityLike] | None = None,
    initial: Mapping[str, QuantityLike] | None = None,
    protocol: ProtocolLike = None,
    output: str | Path | None = None,
    resume: bool = False,
    workers: int = 1,
    scheduler: Scheduler = None,
    solver: str | Solver | None = None,
    rtol: float | None = None,
    atol: float | str | None = None,
    points: int = 101,
    batch: int | None = None,
    progress: Progress | None = None,
    cache_dir: str | Path | bool | None = None,
) -> xarray.Dataset:
    """A one-factor sweep: ``observe`` at time ``at`` (or steady state) against ``doses`` of ``vary``.

    Same as ``sweep(model, {vary: doses}, ...)``; see :func:`sweep` for every argument.

    Examples
    --------
    >>> import degranulation as dg
    >>> dr = dg.dose_response("ige_fceri_crosslinking", vary="L", doses=dg.geomspace("1e4 molecule",
    ...                       "1e7 molecule", 4), observe="RecDim", at="10 min")
    >>> dr["RecDim"].dims, dr["RecDim"].pint.units == dr["L"].pint.units
    (('L',), True)
    """
    return sweep(
        model,
        {vary: doses},
        t=t,
        at=at,
        observe=observe,
        params=params,
        initial=initial,
        protocol=protocol,
        output=output,
        resume=resume,
        workers=workers,
        scheduler=scheduler,
        solver=solver,
        rtol=rtol,
        atol=atol,
        points=points,
        batch=batch,
        progress=progress,
        cache_dir=cache_dir,
    )


def _finished_result(output: Path, spec: dict[str, Any]) -> xarray.Dataset | None:
    """The complete result of this very sweep, if ``output`` already holds it."""
    from degranulation.store import load
    from degranulation.sweeps.store import SweepStore

    if SweepStore(output, spec).folder.exists() or not output.exists():
        return None
    result = load(output)
    return result if json.loads(result.attrs.get("sweep", "{}")) == spec else None


def _run(
    plan: _Plan,
    spec: dict[str, Any],
    *,
    output: Path | None,
    resume: bool,
    workers: int,
    scheduler: Scheduler,
    progress: Progress | None,
) -> dict[int, _Part]:
    """Solve every chunk not already stored, storing each as it finishes."""
    parts: dict[int, _Part] = {}
    store = None
    if output is not None:
        from degranulation.sweeps.store import SweepStore

        store = SweepStore(output, spec)
        for chunk in store.start(resume=resume):
            parts[chunk] = _part_from_dataset(store.read(chunk), plan)
    todo = [chunk for chunk in range(plan.n_chunks) if chunk not in parts]
    done = sum(len(part.status) for part in parts.values())
    if progress is not None:
        progress(done, plan.n_points)
    for chunk, part in _execute(plan, todo, workers, scheduler):
        parts[chunk] = part
        if store is not None:
            store.write(chunk, _part_dataset(part, plan))
        done += len(part.status)
        if progress is not None:
            progress(done, plan.n_points)
    return parts


def _execute(plan: _Plan, todo: list[int], workers: int, scheduler: Scheduler) -> Iterator[tuple[int, _Part]]:
    preload = ("degranulation.sweeps", "degranulation.codegen", "scipy.integrate")
    finished = as_completed(
        _solve_chunk, todo, workers=workers, scheduler=scheduler, shared=plan, preload=preload
    )
    return ((todo[i], part) for i, part in finished)
