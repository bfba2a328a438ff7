"""The PEtab problem for :mod:`degranulation.estimation.petab`: a
:class:`~degranulation.estimation.problem.Problem` that simulates PEtab's conditions (with
preequilibration), evaluates its observable and noise formulas with forward-sensitivity
gradients, and scores the measurements as PEtab defines it."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from degranulation.codegen import GeneratedCode
from degranulation.errors import DataError, SimulationError, UnsupportedFeatureError
from degranulation.estimation.priors import Prior, count, prior_residuals
from degranulation.estimation.problem import (
    Condition,
    FreeParameter,
    Prediction,
    Readout,
    _chain_factor,
    half_squared_residuals,
    model_values,
    optimizer_bounds,
    parameter_names,
    with_noise_constants,
)
from degranulation.estimation.result import FitResult

if TYPE_CHECKING:
    import pandas

    from degranulation.codegen import CompiledOde
    from degranulation.network import Model
    from degranulation.protocols import Event
    from degranulation.sensitivities import ObservableDerivatives, StateEvents
    from degranulation.solvers import Solver

#: ``c`` in the noise residual ``√(2 ln σ + c)``: σ may go down to ``exp(−c/2)`` ≈ 1e-11.
NOISE_OFFSET: Final = 50.0
#: How long (in the model's time unit, at least) a steady state is looked for.
STEADY_STATE_TIME: Final = 1e9


# ---------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class Source:
    """A value the tables give: ``constant``, or the estimated parameter ``free`` (an index
    into :attr:`PetabProblem.estimated`) when it is not -1."""

    constant: float = math.nan
    free: int = -1


@dataclass(frozen=True)
class Symbol:
    """What a formula's symbol stands for: ``kind`` is ``"state"``, ``"observable"`` (an SBML
    assignment-rule variable), ``"parameter"`` (model parameter or compartment), ``"table"``
    (a parameter-table value), ``"override"`` (a measurement's placeholder), ``"initial"``
    (another species' initial value) or ``"time"``; ``index`` points into the matching array."""

    kind: str
    index: int = -1
    source: Source = Source()
    name: str = ""


@dataclass(frozen=True)
class Formula:
    """One expression of the generated module (value ``f{index}``, partials ``g{index}``)."""

    index: int
    symbols: tuple[Symbol, ...]
    text: str


@dataclass(frozen=True)
class Phase:
    """Parameter values and initial state of one condition, in SBML numbers.

    ``parameters``/``initial`` hold constants; ``parameter_free`` and ``initial_free`` list
    ``(index, estimated parameter)`` pairs set from the parameters; ``initial_formulas`` are
    ``(species, formula)`` pairs in dependency order; ``keep`` marks species that take their
    value from the preequilibration."""

    condition: str
    parameters: np.ndarray
    parameter_free: tuple[tuple[int, int], ...]
    initial: np.ndarray
    initial_free: tuple[tuple[int, int], ...]
    initial_formulas: tuple[tuple[int, Formula], ...]
    keep: np.ndarray


@dataclass(frozen=True)
class PetabCondition(Condition):
    """One simulation: a simulation condition, optionally after a preequilibration.

    ``p`` and ``x0`` are the simulation phase's values at the nominal parameters (model
    units); ``times`` ends with a steady-state time when a measurement is at ``inf``.
    """

    simulation: Phase
    preequilibration: Phase | None
    has_steady_state: bool  # the last output time stands for t = inf


@dataclass(frozen=True)
class Observation:
    """A PEtab observable: its formulas, transformation and noise distribution."""

    id: str
    formula: Formula
    noise: Formula
    transformation: str
    distribution: str


@dataclass(frozen=True)
class PetabSimulation:
    """The outcome of :meth:`PetabProblem.simulate`.

    Attributes
    ----------
    table : pandas.DataFrame
        PEtab's simulation table: the measurement table with ``measurement`` replaced by
        ``simulation``.
    llh : float
        Log-likelihood of the measurements (PEtab's definition).
    chi2 : float
        ``Σ ((T(d) − T(ŷ))/σ)²``.
    sigma : numpy.ndarray
        ``σ`` of each measurement.
    log_prior : float
        ``Σ ln p(θ)`` of the objective priors (0 without priors): PEtab's objective is
        ``−(llh + log_prior)``.
    """

    table: pandas.DataFrame
    llh: float
    chi2: float
    sigma: np.ndarray
    log_prior: float = 0.0


@dataclass(frozen=True, eq=False)
class _Formulas(GeneratedCode):
    """Generated code for every formula; picklable (the module is built on first use)."""

    source: str
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _module_prefix = "degranulation_petab"

    def evaluate(
        self, formula: Formula, values: Sequence[np.ndarray], gradients: Sequence[np.ndarray], n: int, m: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Value (``n``) and gradient (``n × m``) of ``formula`` given its symbols' values
        and gradients (each ``n × m``)."""
        module = self.module
        with np.errstate(all="ignore"):
            value = np.array(np.broadcast_to(getattr(module, f"f{formula.index}")(values), (n,)), dtype=float)
            gradient = np.zeros((n, m))
            if m and formula.symbols:
                partials = getattr(module, f"g{formula.index}")(values)
                for partial, g in zip(partials, gradients, strict=True):
                    if g.any():
                        gradient += np.broadcast_to(partial, (n,))[:, None] * g
        return value, gradient


# ---------------------------------------------------------------------------------------------
# The problem


@dataclass(frozen=True, eq=False)
class PetabProblem:
    """A PEtab problem as a :class:`~degranulation.estimation.problem.Problem`: ``dg.fit(problem)``
    estimates the parameter table's estimated parameters (``free``, values in PEtab's numbers,
    reported in their SBML units); :meth:`simulate` gives PEtab's simulation table, ``llh``
    and ``chi2``.

    ``data`` are the measurements as written; ``times`` the measurement times in the model's
    time unit (``inf`` for steady-state measurements); ``conditions`` are
    :class:`PetabCondition`\\ s. Build one with :func:`read_petab`.
    """

    model: Model
    compiled: CompiledOde
    derivatives: ObservableDerivatives
    free: tuple[FreeParameter, ...]
    conditions: tuple[Condition, ...]
    readouts: tuple[Readout, ...]  # one per PEtab observable
    data: np.ndarray  # measured values, as written
    base_sigma: np.ndarray  # ones: σ comes from the noise formulas
    readout_of: np.ndarray  # per measurement
    times: np.ndarray  # per measurement, model time unit
    labels: tuple[str, ...]  # per measurement: condition label
    solver: Solver
    file: str
    measurement_table: pandas.DataFrame = field(repr=False)
    estimated: tuple[str, ...]  # every estimated parameter; ``free`` are those not held
    held: np.ndarray  # values of estimated parameters held fixed (``fix``), NaN for free ones
    active: tuple[int, ...]  # index into ``estimated`` of each free parameter
    observations: tuple[Observation, ...]
    overrides: dict[str, tuple[np.ndarray, np.ndarray]]  # placeholder → per measurement: constant, free
    time_factor: float  # model time per SBML time unit
    state_factors: np.ndarray  # model value of one SBML unit, per species
    parameter_factors: np.ndarray  # per model parameter (and compartment)
    observable_factors: np.ndarray  # SBML numbers per observable unit
    formulas: _Formulas = field(repr=False)
    events: tuple[Event, ...]
    has_noise_parameters: bool  # σ depends on the parameters (noise residuals are added)
    priors: tuple[Prior | None, ...] = ()  # objective priors, one per ``estimated`` (or none)
    state_events: StateEvents | None = None  # the model's events triggered by the state

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the free parameters, in order."""
        return parameter_names(self.free)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds in optimiser coordinates."""
        return optimizer_bounds(self.free)

    def values(self, phi: np.ndarray) -> np.ndarray:
        """PEtab values of the free parameters at optimiser coordinates ``φ``."""
        return model_values(self.free, phi)

    def cost(self, phi: np.ndarray) -> float:
        """``½ Σ r²`` at ``φ`` (infinite where the model cannot be simulated)."""
        return half_squared_residuals(self, phi)

    def with_sigma(self, sigma: Mapping[str, float]) -> PetabProblem:
        """A copy with the noise constants of some readouts replaced."""
        return with_noise_constants(self, sigma)

    @property
    def nominal(self) -> np.ndarray:
        """The free parameters' nominal values in optimiser coordinates."""
        return np.array([f.to_optimizer(f.nominal) for f in self.free], dtype=float)

    @property
    def sigma(self) -> np.ndarray:
        """``σ_i`` at the nominal parameters (see :meth:`noise` for other values)."""
        return self.noise(self.nominal)

    @property
    def n_residuals(self) -> int:
        """Measurements, twice when ``σ`` depends on the parameters (see the module docstring),
        and one per non-uniform objective prior of a free parameter."""
        return len(self.data) * (2 if self.has_noise_parameters else 1) + count(self._free_priors)

    @property
    def _free_priors(self) -> tuple[Prior | None, ...]:
        return tuple(self.priors[k] for k in self.active) if self.priors else ()

    # -- evaluation ---------------------------------------------------------------------------

    def _theta(self, phi: np.ndarray) -> np.ndarray:
        theta = self.held.copy()
        theta[list(self.active)] = self.values(np.asarray(phi, dtype=float))
        return theta

    def _evaluate(
        self, phi: np.ndarray, *, jacobian: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Predictions ``ŷ``, ``σ`` and their gradients in optimiser coordinates."""
        theta = self._theta(phi)
        columns = np.full(len(self.estimated), -1)
        if jacobian:
            columns[list(self.active)] = np.arange(len(self.active))
        m = len(self.active) if jacobian else 0
        n = len(self.data)
        y, dy = np.empty(n), np.zeros((n, m))
        sigma, d_sigma = np.empty(n), np.zeros((n, m))
        settled: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        for condition in self.conditions:
            run = self._run(condition, theta, columns, m, settled)  # type: ignore[arg-type]
            times = self.times[condition.rows] / self.time_factor
            for o, observation in enumerate(self.observations):
                mine = condition.readout == o
                if not mine.any():
                    continue
                rows, k = condition.rows[mine], condition.time_index[mine]
                for formula, out, d_out in (
                    (observation.formula, y, dy),
                    (observation.noise, sigma, d_sigma),
                ):
                    value, gradient = self._formula(formula, run, rows, k, times[mine], theta, columns)
                    out[rows], d_out[rows] = value, gradient
        if jacobian:
            chain = [_chain_factor(f, v) for f, v in zip(self.free, theta[list(self.active)], strict=True)]
            dy *= chain
            d_sigma *= chain
        return y, dy, sigma, d_sigma

    def _formula(
        self,
        formula: Formula,
        run: _Run,
        rows: np.ndarray,
        k: np.ndarray,
        times: np.ndarray,
        theta: np.ndarray,
        columns: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        n, m = len(rows), run.s.shape[1]
        values, gradients = [], []
        for symbol in formula.symbols:
            if symbol.kind == "state":
                i = symbol.index
                values.append(run.x[i, k] / self.state_factors[i])
                gradients.append(run.s[i][:, k].T / self.state_factors[i])
            elif symbol.kind == "observable":
                q = symbol.index
                values.append(run.observed[q, k] * self.observable_factors[q])
                gradients.append(run.d_observed[q][:, k].T * self.observable_factors[q])
            elif symbol.kind == "parameter" and run.p_t is not None and run.dp_t is not None:
                j = symbol.index  # a parameter events change: its value at each time
                values.append(run.p_t[j, k] / self.parameter_factors[j])
                gradients.append(run.dp_t[j][:, k].T / self.parameter_factors[j])
            elif symbol.kind == "parameter":
                j = symbol.index
                values.append(np.full(n, run.p[j] / self.parameter_factors[j]))
                gradients.append(np.broadcast_to(run.dp[j] / self.parameter_factors[j], (n, m)))
            elif symbol.kind == "time":
                values.append(times)
                gradients.append(np.zeros((n, m)))
            else:
                if symbol.kind == "override":
                    constant, free = (a[rows] for a in self.overrides[symbol.name])
                else:
                    constant, free = np.full(n, symbol.source.constant), np.full(n, symbol.source.free)
                value, gradient = _source_values(constant, free, theta, columns, m)
                values.append(value)
                gradients.append(gradient)
        return self.formulas.evaluate(formula, values, gradients, n, m)

    def _run(
        self,
        condition: PetabCondition,
        theta: np.ndarray,
        columns: np.ndarray,
        m: int,
        settled: dict[bytes, tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> _Run:
        """Simulate one condition (its preequilibration first) with sensitivities.

        ``settled`` keeps the steady states already reached at this θ, by the preequilibration's
        parameters and start: conditions sharing one (Raimundez_PCB2020: 171 conditions, 4
        preequilibrations) settle once."""
        x0, dx0 = None, None
        if condition.preequilibration is not None:
            p, dp, start, d_start = self._phase(condition.preequilibration, theta, columns, m, None, None)
            key = b"|".join(np.ascontiguousarray(a).tobytes() for a in (p, dp, start, d_start))
            settled = {} if settled is None else settled
            if key not in settled:
                settled[key] = self._settle(p, dp, start, d_start)
            x0, dx0 = settled[key]
        p, dp, start, d_start = self._phase(condition.simulation, theta, columns, m, x0, dx0)
        return self._solve(
            p, dp, start, d_start, condition.times, self.events, condition.has_steady_state, self.state_events
        )

    def _phase(
        self,
        phase: Phase,
        theta: np.ndarray,
        columns: np.ndarray,
        m: int,
        x_pre: np.ndarray | None,
        s_pre: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Parameter vector, initial state and their gradients (model units) of a phase."""
        p, dp = phase.parameters.copy(), np.zeros((len(phase.parameters), m))
        for k, j in phase.parameter_free:
            p[k] = theta[j]
            if columns[j] >= 0:
                dp[k, columns[j]] = 1.0
        x0, dx0 = phase.initial.copy(), np.zeros((len(phase.initial), m))
        for i, j in phase.initial_free:
            x0[i] = theta[j]
            if columns[j] >= 0:
                dx0[i, columns[j]] = 1.0
        for i, formula in phase.initial_formulas:
            values, gradients = [], []
            for symbol in formula.symbols:
                if symbol.kind == "parameter":
                    values.append(p[symbol.index : symbol.index + 1])
                    gradients.append(dp[symbol.index : symbol.index + 1])
                elif symbol.kind == "initial":
                    values.append(x0[symbol.index : symbol.index + 1])
                    gradients.append(dx0[symbol.index : symbol.index + 1])
                else:  # time: initial values are at t = 0
                    values.append(np.zeros(1))
                    gradients.append(np.zeros((1, m)))
            value, gradient = self.formulas.evaluate(formula, values, gradients, 1, m)
            x0[i], dx0[i] = value[0], gradient[0]
        factors = self.state_factors
        x0, dx0 = x0 * factors, dx0 * factors[:, None]
        if x_pre is not None and s_pre is not None:
            x0 = np.where(phase.keep, x_pre, x0)
            dx0 = np.where(phase.keep[:, None], s_pre, dx0)
        return p * self.parameter_factors, dp * self.parameter_factors[:, None], x0, dx0

    def _solve(
        self,
        p: np.ndarray,
        dp: np.ndarray,
        x0: np.ndarray,
        dx0: np.ndarray,
        times: np.ndarray,
        events: Sequence[Event],
        is_steady: bool,
        state_events: StateEvents | None = None,
        solver: Solver | None = None,
    ) -> _Run:
        """States and ``∂x/∂θ`` at ``times``: sensitivities are taken with respect to the
        model parameters and initial values that depend on θ, then combined by the chain
        rule (``dp``, ``dx0`` are those dependencies). ``solver`` defaults to the problem's."""
        from degranulation.sensitivities import Target, integrate_sensitivities, observable_sensitivities

        compiled = self.compiled
        parameters = np.flatnonzero(np.any(dp != 0, axis=1))
        initials = np.flatnonzero(np.any(dx0 != 0, axis=1))
        wrt = [Target(compiled.parameters[k], False, int(k)) for k in parameters] + [
            Target(f"{compiled.species[i]}.initial", True, int(i)) for i in initials
        ]
        chain = np.vstack([dp[parameters], dx0[initials]])
        solver = solver or self.solver
        run = integrate_sensitivities(compiled, times, x0, p, solver, events, wrt, state_events)
        s = np.einsum("ijt,jk->ikt", run.s, chain)
        observed = compiled.observe(run.x, run.parameters, run.t)
        if wrt and len(compiled.observables):
            d_observed = np.einsum("ojt,jk->okt", observable_sensitivities(self.derivatives, run, wrt), chain)
        else:
            d_observed = np.zeros((len(compiled.observables), dp.shape[1], len(times)))
        if is_steady:
            self._check_steady(run.x[:, -1], run.p, times[-1])
        p_t, dp_t = run.p_t, None
        if run.dp_t is not None:
            dp_t = np.einsum("ljt,jk->lkt", run.dp_t, chain)
        return _Run(run.x, s, observed, d_observed, run.p, dp, p_t, dp_t)

    def _settle(
        self, p: np.ndarray, dp: np.ndarray, x: np.ndarray, dx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The steady state reached from ``x`` and its sensitivities (:meth:`_settle_with`).

        Where BDF fails on the way, LSODA settles it again from ``x``, with the same tolerances
        and limits: a steady state does not depend on the integrator, and BDF can crawl near
        one (Raimundez_PCB2020: 10⁶ right-hand sides past t = 1e5, where LSODA settles all four
        preequilibrations in seconds)."""
        from degranulation.solvers import BDF, LSODA, Solver

        try:
            return self._settle_with(self.solver, p, dp, x, dx)
        except SimulationError:
            if not isinstance(self.solver, BDF):
                raise
            # Every option the solvers share (tolerances, tighten, limits), as BDF had them.
            shared = {f.name: getattr(self.solver, f.name) for f in dataclasses.fields(Solver)}
            return self._settle_with(LSODA(**shared), p, dp, x, dx)

    def _settle_with(
        self, solver: Solver, p: np.ndarray, dp: np.ndarray, x: np.ndarray, dx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The steady state reached from ``x`` and its sensitivities, integrated over windows ten
        times longer each (10, 100, … up to :data:`STEADY_STATE_TIME`) until the state no longer
        changes and the sensitivities stopped moving between windows. One solve to 1e9 instead
        lets BDF's Newton iteration stall at large times once everything has settled."""
        atol = np.asarray(solver.absolute)  # one number, or one per species
        tolerance = atol + solver.rtol * np.abs(x)
        atol_s = atol[:, None] if atol.ndim else atol  # per species, for every sensitivity column
        window, elapsed = 10.0, 0.0
        while True:
            run = self._solve(p, dp, x, dx, np.array([0.0, window]), (), False, solver=solver)
            x_new, dx_new = run.x[:, -1], run.s[:, :, -1]
            elapsed += window
            fun, _ = self.compiled.functions(p)
            settled = np.all(np.abs(fun(elapsed, x_new)) <= tolerance)
            still = np.all(np.abs(dx_new - dx) <= solver.rtol * np.abs(dx_new) + atol_s)
            x, dx = x_new, dx_new
            if (settled and still) or elapsed >= STEADY_STATE_TIME:
                break
            window *= 10.0
        self._check_steady(x, p, elapsed)
        return x, dx

    def _check_steady(self, x: np.ndarray, p: np.ndarray, t: float) -> None:
        fun, _ = self.compiled.functions(p)
        rate = np.abs(fun(t, x))
        if np.any(rate > self.solver.absolute + self.solver.rtol * np.abs(x)):
            worst = self.compiled.species[int(np.argmax(rate))]
            raise SimulationError(
                f"no steady state within {t:g} {self.model.units.time}: '{worst}' still changes",
                t_fail=float(t),
                hint="PEtab's preequilibration and time 'inf' need a model that settles",
            )

    # -- FitProblem interface -----------------------------------------------------------------

    def predict(self, phi: np.ndarray, *, jacobian: bool = True) -> Prediction:
        """PEtab's simulated values ``ŷ`` of every measurement at ``φ`` and ``∂ŷ/∂φ``.

        Raises
        ------
        SimulationError
            If a condition cannot be simulated (or a steady state is not reached).
        """
        y, dy, _, _ = self._evaluate(phi, jacobian=jacobian)
        return Prediction(y=y, dy=dy if jacobian else None, model=y, nuisance={})

    def residuals(self, phi: np.ndarray, *, jacobian: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """``(T(ŷ) − T(d))/σ`` per measurement, then (when ``σ`` depends on the parameters)
        ``√(2 ln σ + c)``, then one residual per objective prior
        (:mod:`degranulation.estimation.priors`), and their Jacobian ``∂r/∂φ``.

        Raises
        ------
        UnsupportedFeatureError
            For Laplace noise, which least squares cannot hold.
        SimulationError
            If the model cannot be simulated, or ``σ`` is below ``exp(−c/2)``.
        """
        laplace = [o.id for o in self.observations if o.distribution == "laplace"]
        if laplace:
            raise UnsupportedFeatureError(
                f"fitting observables with Laplace noise ({', '.join(laplace)}) is not supported: "
                "least squares needs normal noise",
                features=[f"noiseDistribution laplace ({name})" for name in laplace],
                file=self.file,
            )
        y, dy, sigma, d_sigma = self._evaluate(phi, jacobian=jacobian)
        t_y, t_dy = self._transform(y, dy)
        t_data, _ = self._transform(self.data, None)
        r = (t_y - t_data) / sigma
        jac = None if t_dy is None else t_dy / sigma[:, None] - (r / sigma)[:, None] * d_sigma
        if self.has_noise_parameters:
            rho, d_rho = self._noise_residuals(sigma, d_sigma if jac is not None else None)
            r, jac = _stack(r, jac, rho, d_rho)
        else:
            self._check_sigma(sigma)
        prior, d_prior = prior_residuals(self._free_priors, np.asarray(phi, float), jacobian=jacobian)
        return _stack(r, jac, prior, d_prior)

    def _check_sigma(self, sigma: np.ndarray) -> None:
        """The tables fix ``σ`` when it does not depend on the parameters: they are at fault."""
        for row in np.flatnonzero(~(sigma > 0))[:1]:
            observable = self.measurement_table["observableId"].iloc[row]
            raise DataError(
                f"the noise σ of measurement row {row + 1} is {sigma[row]:g}, not a positive number",
                file=self.file,
                location=f"observables[{observable}].noiseFormula",
                hint="a noise formula (with its noiseParameters) must give σ > 0",
            )

    @staticmethod
    def _noise_residuals(
        sigma: np.ndarray, d_sigma: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``√(2 ln σ + c)`` per measurement and its Jacobian."""
        with np.errstate(all="ignore"):
            squared = 2.0 * np.log(sigma) + NOISE_OFFSET
        if not np.all(squared > 0):
            raise SimulationError(f"a noise σ is below exp(-{NOISE_OFFSET / 2:g}) or not positive")
        rho = np.sqrt(squared)
        return rho, None if d_sigma is None else d_sigma / (sigma * rho)[:, None]

    def _transform(
        self, values: np.ndarray, gradient: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``T(values)`` by each measurement's observable transformation, and ``∂T/∂φ``."""
        kinds = np.array([self.observations[o].transformation for o in self.readout_of])
        with np.errstate(all="ignore"):
            out = np.where(
                kinds == "log", np.log(values), np.where(kinds == "log10", np.log10(values), values)
            )
            slope = np.where(
                kinds == "log", 1.0 / values, np.where(kinds == "log10", 1.0 / (values * math.log(10)), 1.0)
            )
        return out, None if gradient is None else gradient * slope[:, None]

    def noise(self, phi: np.ndarray) -> np.ndarray:
        """``σ_i`` of every measurement at ``φ`` (on the transformed scale)."""
        return self._evaluate(phi, jacobian=False)[2]

    def negative_log_likelihood(self, phi: np.ndarray) -> float:
        """``−llh`` at ``φ`` as PEtab defines it (see :meth:`simulate`)."""
        y, _, sigma, _ = self._evaluate(phi, jacobian=False)
        return -self._llh(y, sigma)

    def _llh(self, y: np.ndarray, sigma: np.ndarray) -> float:
        """PEtab's log-likelihood (``petab.v1.calculate.calculate_single_llh``)."""
        t_y, _ = self._transform(y, None)
        t_data, _ = self._transform(self.data, None)
        kinds = [self.observations[o] for o in self.readout_of]
        jacobian = np.array(
            [
                {"lin": 1.0, "log": d, "log10": d * math.log(10)}[o.transformation]
                for o, d in zip(kinds, self.data, strict=True)
            ]
        )  # the density of d from that of T(d)
        laplace = np.array([o.distribution == "laplace" for o in kinds])
        scaled = (t_y - t_data) / sigma
        with np.errstate(all="ignore"):
            normal = 0.5 * np.log(2 * math.pi * (sigma * jacobian) ** 2) + 0.5 * scaled**2
            double_exponential = np.log(2 * sigma * jacobian) + np.abs(scaled)
        return -float(np.sum(np.where(laplace, double_exponential, normal)))

    def fix(self, name: str, value: float) -> PetabProblem:
        """A copy that estimates one parameter fewer, holding ``name`` at ``value`` (PEtab's
        numbers; used by profile likelihood)."""
        k = self.names.index(name)
        held = self.held.copy()
        held[self.active[k]] = value
        return dataclasses.replace(
            self,
            free=self.free[:k] + self.free[k + 1 :],
            active=self.active[:k] + self.active[k + 1 :],
            held=held,
        )

    def curves(self, phi: np.ndarray, points: int = 200) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
        """Simulated observables at ``φ`` on ``points`` times from 0 to each condition's last
        finite measurement time (placeholders as in the first measurement of each)."""
        theta = self._theta(phi)
        columns = np.full(len(self.estimated), -1)
        found = []
        for condition in self.conditions:
            assert isinstance(condition, PetabCondition)
            finite = condition.times[:-1] if condition.has_steady_state else condition.times
            times = np.linspace(0.0, float(finite[-1]), points)
            dense = dataclasses.replace(condition, times=times, has_steady_state=False)
            run = self._run(dense, theta, columns, 0)
            for o in dict.fromkeys(condition.readout.tolist()):
                first = condition.rows[condition.readout == o][0]
                rows = np.full(points, first)
                formula = self.observations[o].formula
                y, _ = self._formula(
                    formula, run, rows, np.arange(points), times / self.time_factor, theta, columns
                )
                found.append((condition.label, self.observations[o].id, times, y))
        return found

    # -- PEtab outputs ------------------------------------------------------------------------

    def simulate(self, parameters: Mapping[str, float] | FitResult | None = None) -> PetabSimulation:
        """PEtab's simulation table, ``llh`` and ``chi2`` at the given parameters.

        Parameters
        ----------
        parameters : mapping, FitResult or None
            Values (PEtab's numbers, not scaled) of some estimated parameters, by id; the
            others stay at their nominal values. A :class:`~degranulation.FitResult` of this
            problem gives its best estimate.

        Returns
        -------
        PetabSimulation

        Raises
        ------
        DataError
            For an id that is not an estimated parameter.
        SimulationError
            If the model cannot be simulated.

        Examples
        --------
        See :func:`read_petab`.
        """
        if isinstance(parameters, FitResult):
            phi = parameters.best
        else:
            phi = self.nominal
            for name, value in (parameters or {}).items():
                if name not in self.names:
                    raise DataError(
                        f"'{name}' is not an estimated parameter of this problem",
                        file=self.file,
                        hint=f"estimated: {', '.join(self.names)}",
                    )
                k = self.names.index(name)
                phi[k] = self.free[k].to_optimizer(float(value))
        y, _, sigma, _ = self._evaluate(phi, jacobian=False)
        t_y, _ = self._transform(y, None)
        t_data, _ = self._transform(self.data, None)
        table = self.measurement_table.rename(columns={"measurement": "simulation"})
        table["simulation"] = y
        chi2 = float(np.sum(((t_y - t_data) / sigma) ** 2))
        theta = self._theta(phi)
        log_prior = -sum(p.negative_log_density(t) for p, t in zip(self.priors, theta, strict=False) if p)
        return PetabSimulation(
            table=table, llh=self._llh(y, sigma), chi2=chi2, sigma=sigma, log_prior=float(log_prior)
        )


@dataclass(frozen=True)
class _Run:
    """One simulated phase: states ``x`` (model units, species × times), ``s = ∂x/∂θ``
    (species × free × times), observables and their gradients, parameters and ``∂p/∂θ``
    (and, where events set parameters, both at each time)."""

    x: np.ndarray
    s: np.ndarray
    observed: np.ndarray
    d_observed: np.ndarray
    p: np.ndarray
    dp: np.ndarray
    p_t: np.ndarray | None = None  # parameters × times
    dp_t: np.ndarray | None = None  # parameters × free × times


def _source_values(
    constant: np.ndarray, free: np.ndarray, theta: np.ndarray, columns: np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """Values of sources given as arrays (``free`` -1 for constants) and their gradients."""
    is_free = free >= 0
    value = np.where(is_free, theta[np.maximum(free, 0)], constant)
    gradient = np.zeros((len(free), m))
    column = np.where(is_free, columns[np.maximum(free, 0)], -1)
    rows = np.flatnonzero(column >= 0)
    gradient[rows, column[rows]] = 1.0
    return value, gradient


def _stack(
    r: np.ndarray, jac: np.ndarray | None, more: np.ndarray, d_more: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Residuals and Jacobians one above the other."""
    if not len(more):
        return r, jac
    return np.concatenate([r, more]), None if jac is None or d_more is None else np.vstack([jac, d_more])
