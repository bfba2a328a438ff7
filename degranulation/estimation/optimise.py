"""``fit``: estimate parameters from assay data by bounded least squares with sensitivity
Jacobians, multistart, noise models and scale/offset readouts.

The problem is ``min ½ Σ r_i²`` with ``r_i = (ŷ_i(θ) − d_i)/σ_i`` over the measurements of
every condition (each distinct protocol and set of condition columns is one simulation). The
optimiser (SciPy ``least_squares``, trust-region reflective) works on ``φ = log10 θ`` or
``φ = θ`` per parameter, within bounds, and gets ``∂r/∂φ`` from forward sensitivities
(:mod:`degranulation.sensitivities`), never from finite differences.

Noise models give ``σ_i``: ``"sd"`` the data's ``sd`` column; ``"additive"`` a constant per
readout; ``"proportional"`` a fraction of the measured value. Constants not given are
estimated (maximum likelihood, alternated with the fit until they settle). Readouts in
arbitrary units take a scale factor and/or an offset, ``ŷ = s·y + o``; these are solved for
in closed form at every step (weighted linear least squares) and enter the Jacobian through
their derivatives, so each profile and interval accounts for them.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np

from degranulation.errors import FitError, SimulationError
from degranulation.estimation.measurements import make_problem
from degranulation.estimation.problem import NoiseModel, Problem
from degranulation.estimation.result import DEFAULT_LEVEL, FitResult, StartResult, _result
from degranulation.network import Model
from degranulation.parallel import as_completed
from degranulation.typing import QuantityLike, Scheduler

if TYPE_CHECKING:
    from degranulation.protocols import ProtocolLike
    from degranulation.solvers import Solver

Design = Literal["lhs", "sobol"]
DESIGNS: Final = ("lhs", "sobol")
#: Residual given to every measurement when the model cannot be simulated at a point.
FAILED_RESIDUAL: Final = 1e6
MAX_STARTS: Final = 100_000  # most multistart runs one fit makes
#: Evaluations after which a least-squares run that has not converged is restarted from where
#: it got to (see ``_least_squares``).
ROUND: Final = 100


class _Objective:
    """Residuals and Jacobian for ``least_squares``, computed together once per point."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.point: np.ndarray | None = None
        self.value: tuple[np.ndarray, np.ndarray] | None = None
        self.failures = 0

    def evaluate(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.point is None or not np.array_equal(phi, self.point):
            n, m = self.problem.n_residuals, len(phi)
            try:
                with np.errstate(all="ignore"):
                    r, jac = self.problem.residuals(phi)
                assert jac is not None  # residuals give the Jacobian by default
                if not (np.all(np.isfinite(r)) and np.all(np.isfinite(jac))):
                    raise SimulationError("the model gave non-finite values")
            except SimulationError:
                self.failures += 1
                r, jac = np.full(n, FAILED_RESIDUAL), np.zeros((n, m))
            self.point, self.value = phi.copy(), (r, jac)  # type: ignore[assignment]
        assert self.value is not None
        return self.value

    def residuals(self, phi: np.ndarray) -> np.ndarray:
        return self.evaluate(phi)[0]

    def jacobian(self, phi: np.ndarray) -> np.ndarray:
        return self.evaluate(phi)[1]


def optimize(
    problem: Problem, phi0: np.ndarray, index: int = 0, *, max_nfev: int | None = None
) -> StartResult:
    """One bounded least-squares run (``trf``) from ``φ0``; a failure to simulate is a large
    residual, not an exception."""
    lower, upper = problem.bounds
    start = np.clip(np.asarray(phi0, dtype=float), lower, upper)
    objective = _Objective(problem)
    if len(start) == 0:
        r = objective.residuals(start)
        return StartResult(
            index=index,
            initial=start,
            final=start,
            cost=0.5 * float(r @ r),
            is_success=True,
            is_failed=bool(np.all(r == FAILED_RESIDUAL)),
            message="nothing to estimate",
            nfev=1,
            njev=0,
        )
    solution, nfev, njev = _least_squares(objective, start, (lower, upper), max_nfev or 100 * len(start))
    r = objective.residuals(solution.x)
    is_failed = bool(np.all(r == FAILED_RESIDUAL))
    return StartResult(
        index=index,
        initial=start,
        final=np.asarray(solution.x),
        cost=0.5 * float(r @ r),
        is_success=bool(solution.success) and not is_failed,
        is_failed=is_failed,
        message="the model could not be simulated here" if is_failed else str(solution.message),
        nfev=nfev,
        njev=njev,
    )


def _least_squares(
    objective: _Objective, start: np.ndarray, bounds: tuple[np.ndarray, np.ndarray], budget: int
) -> tuple[Any, int, int]:
    """``least_squares`` from ``start`` within ``budget`` evaluations, restarted from where it
    got to every :data:`ROUND` evaluations that end without convergence.

    Why: with ``x_scale="jac"`` SciPy's trust region scales each parameter by the largest
    Jacobian column norm seen so far, a scale that only grows. A start that passes through a
    steep region keeps a scale too large for the flat valley after it and crawls to the
    evaluation limit (Boehm 2014: 2 of 5 starts used all 900; restarted from where one
    crawled, it reached its minimum in 18). A restart measures the scale afresh."""
    from scipy.optimize import least_squares

    x, nfev, njev = start, 0, 0
    while True:
        solution = least_squares(
            objective.residuals,
            x,
            jac=objective.jacobian,
            bounds=bounds,
            method="trf",
            x_scale="jac",
            max_nfev=min(ROUND, budget - nfev),
        )
        nfev, njev = nfev + int(solution.nfev), njev + int(solution.njev or 0)
        if solution.status != 0 or nfev >= budget or np.array_equal(solution.x, x):
            return solution, nfev, njev
        x = solution.x


def start_points(
    problem: Problem, n_starts: int, *, design: Design = "lhs", seed: int | None = None
) -> np.ndarray:
    """``n_starts`` points (rows) spread over the bounds in optimiser coordinates.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.library import models_folder
    >>> data = models_folder() / "data" / "crosslinking_synthetic.csv"
    >>> problem = make_problem("ige_fceri_crosslinking", data, estimate=["kp1", "kp2"])
    >>> start_points(problem, 4, seed=0).shape
    (4, 2)
    """
    from scipy.stats import qmc

    if design not in DESIGNS:
        raise ValueError(f"unknown design '{design}'; expected one of {', '.join(DESIGNS)}")
    if not isinstance(n_starts, int) or isinstance(n_starts, bool) or not 1 <= n_starts <= MAX_STARTS:
        raise ValueError(f"n_starts must be an integer from 1 to {MAX_STARTS}, got {n_starts!r}")
    lower, upper = problem.bounds
    m = len(lower)
    if m == 0:
        return np.zeros((n_starts, 0))
    sampler = qmc.LatinHypercube(d=m, rng=seed) if design == "lhs" else qmc.Sobol(d=m, rng=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Sobol prefers powers of two; any n is valid
        unit = sampler.random(n_starts)
    return np.asarray(qmc.scale(unit, lower, upper))


def run_starts(
    problem: Problem,
    points: np.ndarray,
    *,
    workers: int = 1,
    scheduler: Scheduler = None,
    progress: Callable[[int, int, StartResult], None] | None = None,
    max_nfev: int | None = None,
    finished: Sequence[StartResult] = (),
    record: Callable[[StartResult], None] | None = None,
) -> list[StartResult]:
    """Optimise from every point: in this process, in ``workers`` processes, or on a Dask
    cluster (``scheduler``: a ``distributed.Client`` or its address). Starts in ``finished``
    (by index) are not run again; ``record`` sees each new one as it finishes."""
    results = list(finished)
    done = {s.index for s in results}
    tasks = [(problem, phi, i, max_nfev) for i, phi in enumerate(points) if i not in done]
    for _, result in as_completed(_start_job, tasks, workers=workers, scheduler=scheduler):
        if record is not None:
            record(result)
        results.append(result)
        if progress is not None:
            progress(len(results), len(points), result)
    return sorted(results, key=lambda s: s.index)


def _start_job(job: tuple[Problem, np.ndarray, int, int | None]) -> StartResult:
    problem, phi, index, max_nfev = job
    return optimize(problem, phi, index, max_nfev=max_nfev)


def fit(
    model: Model | str | Path | Problem,
    data: Any = None,
    *,
    estimate: Sequence[str] | Mapping[str, Any] | None = None,
    n_starts: int = 10,
    seed: int | None = None,
    design: Design = "lhs",
    noise: NoiseModel | Mapping[str, NoiseModel] | None = None,
    sigma: Mapping[str, QuantityLike] | None = None,
    scale: Iterable[str] = (),
    offset: Iterable[str] = (),
    protocols: Mapping[str, ProtocolLike] | None = None,
    level: float = DEFAULT_LEVEL,
    workers: int = 1,
    scheduler: Scheduler = None,
    solver: str | Solver = "BDF",
    rtol: float | None = 1e-8,
    atol: float | str | None = None,
    max_nfev: int | None = None,
    progress: Callable[[int, int, StartResult], None] | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    cache_dir: str | Path | bool | None = None,
    keep_checkpoint: bool = False,
) -> FitResult:
    """Estimate parameters from assay data: multistart bounded least squares with
    sensitivity-based Jacobians.

    Parameters
    ----------
    model : Model, str, Path or Problem
        A model (or bundled id, or model file), or a ready :class:`Problem` (a
        :class:`FitProblem` or a PEtab problem; then ``data`` and the problem options stay unset).
    data : AssayData, path, DataFrame or sequence of them
        Measurements (:func:`degranulation.read_assay`); several tables are fitted together.
    estimate : sequence of str, or mapping
        Parameters, compartment sizes or initial values (``"Ag.initial"``) to estimate. A
        mapping may give each ``{"bounds": [low, high], "scale": "log10" | "lin"}`` (values with
        units); otherwise the model file's ``estimate`` table applies, and failing that log10
        scale for rate constants (lin for the rest) within 1/1000…1000× the model's value
        (0…10× on lin scale).
    n_starts : int
        Local optimisations, started from a space-filling ``design`` over the bounds.
    seed : int, optional
        Makes the start points reproducible.

    Returns
    -------
    FitResult

    Other Parameters
    ----------------
    design : {"lhs", "sobol"}
        Latin hypercube or scrambled Sobol start points (``scipy.stats.qmc``).
    noise : {"sd", "additive", "proportional"} or mapping by readout
        Default: ``"sd"`` when the data have an ``sd`` column, else ``"additive"``.
    sigma : mapping, optional
        Noise constants by readout: an SD with units (additive) or a fraction such as
        ``"10 percent"`` (proportional). Those not given are estimated.
    scale, offset : iterable of str
        Readouts fitted as ``s·y + o`` (arbitrary-unit data); ``s`` and ``o`` are estimated.
    protocols : mapping, optional
        Protocols the data's ``protocol`` column names, beyond those in the model file, by
        that name (plural, unlike :func:`degranulation.simulate`'s ``protocol``: each row of
        the data picks its own).
    level : float
        Confidence level of the intervals (Fisher information; see
        :func:`degranulation.profile_likelihood` for profile intervals).
    workers : int
        Processes for the starts; ``scheduler`` (a ``distributed.Client`` or an address)
        sends them to a Dask cluster instead.
    solver, rtol, atol
        ODE solver and tolerances for states and sensitivities (``atol`` as in
        :func:`degranulation.simulate`; default ``1e-3·rtol`` times the largest initial
        value, in model units). ``rtol`` defaults to 1e-8, tighter than a simulation's
        (the solver's own 1e-6): the optimiser's steps and the Fisher intervals rest on
        the sensitivities, whose error follows the solver's, and a Jacobian off by 1e-6
        stalls least squares near the optimum. ``solver="CVODE"`` (the ``sundials`` extra)
        steps in C and is the fastest for small models: on the PEtab benchmark problem Boehm
        2014 (8 species, 9 parameters) a start took 2.5 s against BDF's 9.8 s
        (``benchmarks/petab_fits.py``).
    cache_dir : path, None or False
        Compiled-model cache, as in :func:`degranulation.simulate`.
    max_nfev : int, optional
        Most model evaluations per start (default: SciPy's, 100 per parameter). A run that
        has not converged after 100 is restarted from where it got to, within this budget.
    progress : callable, optional
        Called as ``progress(done, total, start_result)`` after each start.
    checkpoint : path, optional
        A file that every finished start is written to as it finishes (JSON lines, removed
        when the fit completes), so that an interrupted fit loses no finished start. (A sweep
        writes its result to ``output=`` and keeps its progress beside it.)
    resume : bool
        Continue the interrupted fit stored in ``checkpoint``: its start points are reused and
        its finished starts are not run again.
    keep_checkpoint : bool
        Leave ``checkpoint`` in place when the fit completes, for a caller that removes it
        once it has stored the result (the CLI does after writing ``fit.json``), so that a
        failure to store the result loses no finished start.

    Raises
    ------
    DataError
        Data that do not fit the model (located by row and column); a ``checkpoint`` that holds
        an unfinished fit (without ``resume``) or another fit.
    FitError
        If no start could simulate the model.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.library import models_folder
    >>> data = dg.read_assay(models_folder() / "data" / "crosslinking_synthetic.csv")
    >>> result = dg.fit("ige_fceri_crosslinking", data, estimate=["kp1", "R"], n_starts=2, seed=0)
    >>> result.success, f"{result.parameters['kp1'].magnitude:.2e}", result.problem.free[1].unit
    (True, '1.67e-10', 'molecule')
    """
    if not isinstance(model, Model | str | Path):  # a Problem
        if data is not None or estimate is not None:
            raise TypeError("pass either a FitProblem, or a model with data and estimate=[...]")
        problem = model
    else:
        if estimate is None:
            raise TypeError("fit() needs estimate=[...]: the parameters to estimate")
        problem = make_problem(
            model,
            data,
            estimate=estimate,
            noise=noise,
            sigma=sigma,
            scale=scale,
            offset=offset,
            protocols=protocols,
            solver=solver,
            rtol=rtol,
            atol=atol,
            cache_dir=cache_dir,
        )
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    points = start_points(problem, n_starts, design=design, seed=seed)
    store = None
    finished: list[StartResult] = []
    if checkpoint is not None:
        from degranulation.estimation.checkpoint import StartStore, problem_fingerprint

        spec = {"problem": problem_fingerprint(problem), "n_starts": n_starts, "design": design, "seed": seed}
        store = StartStore(checkpoint, spec)
        points, finished = store.start(points, resume=resume)
    elif resume:
        raise ValueError("resume=True needs the checkpoint file of the interrupted fit")
    starts = run_starts(
        problem,
        points,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        max_nfev=max_nfev,
        finished=finished,
        record=None if store is None else store.write,
    )
    best = min(starts, key=lambda s: s.cost)
    if best.is_failed:
        raise FitError(
            f"the model could not be simulated from any of the {n_starts} starts",
            hint="check the bounds for extreme values, or the solver tolerances",
        )
    if not math.isfinite(best.cost):
        raise FitError(
            f"the cost is not a finite number ({best.cost}) at any of the {n_starts} starts",
            hint="rescale the data or the noise so that (prediction - data)/sd stays below 1e150",
        )
    problem, best = _estimate_noise(problem, best)
    result = _result(problem, best, starts, level)
    if store is not None and not keep_checkpoint:
        store.finish()
    return result


def _estimate_noise(problem: Problem, best: StartResult, rounds: int = 10) -> tuple[Problem, StartResult]:
    """Alternate maximum-likelihood noise constants with re-optimisation until they settle."""
    estimated = [r for r in problem.readouts if r.is_sigma_estimated]
    if not estimated:
        return problem, best
    for _ in range(rounds):
        prediction = problem.predict(best.final, jacobian=False)
        new = {}
        for index, r in enumerate(problem.readouts):
            if not r.is_sigma_estimated:
                continue
            rows = problem.readout_of == index
            relative = (prediction.y[rows] - problem.data[rows]) / problem.base_sigma[rows]
            dof = max(rows.sum() - len(problem.free) * rows.sum() / len(problem.data), 1.0)
            new[r.name] = max(math.sqrt(float(relative @ relative) / dof), 1e-300)
        old = {r.name: r.sigma for r in problem.readouts}
        problem = problem.with_sigma(new)
        if all(abs(new[k] - old[k]) <= 1e-4 * new[k] for k in new):
            break
        best = optimize(problem, best.final, best.index)
    final = optimize(problem, best.final, best.index) if len(estimated) > 1 else best
    return problem, dataclasses.replace(final, cost=problem.cost(final.final))
