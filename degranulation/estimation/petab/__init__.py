"""PEtab problems (format version 1, one SBML model): read, check, fit and simulate them.

:func:`read_petab` reads the YAML file and its tables with the ``petab`` library (the optional
``petab`` extra), lints them with ``petab.v1.lint``, reads the model with
:func:`degranulation.read_sbml`, and returns a :class:`PetabProblem`: a
:class:`~degranulation.estimation.problem.FitProblem` that :func:`degranulation.fit` fits as it is, and
that :meth:`PetabProblem.simulate` turns into PEtab's simulation table with ``llh`` and
``chi2``.

Semantics (PEtab 1.0, as its test suite checks them). Every number in the tables is an SBML
number: a species is its amount or concentration as the SBML file declares it, a parameter
or compartment size is in its SBML unit, time in the SBML model's time unit; values are
converted into the model's units (and back) at the edges.

=====================================  ===================================================
PEtab                                  here
=====================================  ===================================================
parameter table                        estimated parameters (``estimate`` 1) are the fit's
                                       free parameters on their ``parameterScale`` (lin,
                                       log, log10) within the bounds; the others are fixed at
                                       ``nominalValue``
condition table                        per condition: parameter and compartment values,
                                       initial species values (a number or a parameter id;
                                       NaN keeps the model's value)
SBML initial assignments, initial      evaluated for every condition with its parameter
amounts or concentrations              values (so a changed compartment size or parameter
                                       changes the initial state as SBML says)
measurement table                      one prediction per row; ``observableParameters`` and
                                       ``noiseParameters`` override the placeholders per row
                                       (numbers or parameter ids, also per time point)
preequilibration condition             simulated to steady state first; species the
                                       simulation condition sets (not NaN) are re-initialised
time ``inf``                           the steady state of the simulation condition
observable and noise formulas          parsed by PEtab's grammar (``petab.v1.math``), never
                                       evaluated as text; may use species, parameters,
                                       compartments, SBML assignment-rule variables, table
                                       parameters, placeholders and ``time``
observableTransformation               lin, log, log10
noiseDistribution                      normal, laplace (laplace is simulated and scored,
                                       not fitted: least squares cannot hold it)
objectivePriorType                     all eight of PEtab 1, in the objective and its
                                       gradient (:mod:`degranulation.estimation.priors`)
SBML events                            at fixed times the tables leave alone: protocol steps;
                                       triggered by the state, or using a parameter the
                                       tables set (``time >= t_ins`` with ``t_ins`` per
                                       condition): run per condition with its values, the
                                       gradient jumping at each event
                                       (:mod:`degranulation.sensitivities`)
=====================================  ===================================================

Fitting minimises ``½Σr²`` with ``r_i = (T(ŷ_i) − T(d_i))/σ_i`` (``T`` the transformation).
When ``σ`` depends on the parameters (estimated noise parameters, or noise formulas of the
state), each measurement adds the residual ``√(2 ln σ_i + c)`` (``c`` = :data:`NOISE_OFFSET`),
so that ``½Σr²`` is PEtab's negative log-likelihood plus a constant; gradients come from
forward sensitivities (also through the preequilibration and the initial assignments).

Refused, with an :class:`~degranulation.errors.UnsupportedFeatureError` that lists every
case: PEtab 2, several problems or models in one YAML file, extensions, initialisation priors
other than ``parameterScaleUniform``,
condition-table entries for assignment-rule variables, initial assignments of parameters or
compartments that depend on what the tables change, preequilibration of models with events,
SBML events with a delay that are not protocol steps (the gradient does not follow a delayed
event's time), and everything :func:`degranulation.read_sbml` refuses. Visualisation tables
are ignored (they do not change the problem).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from degranulation.estimation.petab.problem import (
    NOISE_OFFSET,
    STEADY_STATE_TIME,
    PetabCondition,
    PetabProblem,
    PetabSimulation,
)

if TYPE_CHECKING:
    from degranulation.solvers import Solver

__all__ = [
    "NOISE_OFFSET",
    "STEADY_STATE_TIME",
    "PetabCondition",
    "PetabProblem",
    "PetabSimulation",
    "read_petab",
]


def read_petab(
    path: str | Path,
    *,
    solver: str | Solver = "BDF",
    rtol: float = 1e-8,
    atol: float | None = None,
    cache_dir: str | Path | bool | None = None,
    strict_units: bool = False,
) -> PetabProblem:
    r"""Read a PEtab problem (format version 1, one SBML model) into a fit problem.

    Parameters
    ----------
    path : str or Path
        The problem's YAML file.
    solver, rtol, atol
        ODE solver and tolerances (``atol`` in model units; default ``1e-3·rtol`` times the
        largest nominal initial value).
        ``rtol`` defaults to 1e-8 as in :func:`degranulation.fit`.
    cache_dir : path, None or False
        Compiled-model cache, as in :func:`degranulation.simulate`.
    strict_units : bool
        Refuse an SBML model whose units disagree, as :func:`degranulation.read_sbml` does
        with ``strict_units=True``; by default it is read with its numbers as written and
        one ``UnitWarning``.

    Returns
    -------
    PetabProblem
        Pass it to :func:`degranulation.fit`, or call its :meth:`~PetabProblem.simulate`.

    Raises
    ------
    DataError
        For a missing or malformed file, and every error ``petab.v1.lint`` finds, naming the
        YAML file and the table.
    UnsupportedFeatureError
        Listing every PEtab or SBML construct the problem uses that is not supported (see
        the module docstring).
    ImportError
        Without the ``petab`` library (``pip install 'degranulation[petab]'``).

    Examples
    --------
    Crosslinked receptors (the library model exported as SBML) at two ligand doses:

    >>> import pathlib, tempfile, degranulation as dg
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = dg.write_sbml(dg.load_model("ige_fceri_crosslinking"), folder / "model.xml")
    >>> tables = {
    ...     "conditions": "conditionId\tL\nhigh\t6e6\nlow\t1.5e6\n",
    ...     "observables": "observableId\tobservableFormula\tnoiseFormula\ndimers\tRecDim\t2000\n",
    ...     "parameters": "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\n"
    ...                   "kp1\tlog10\t1e-12\t1e-8\t1e-10\t1\n",
    ...     "measurements": "observableId\tsimulationConditionId\ttime\tmeasurement\n"
    ...                     "dimers\thigh\t30\t36000\ndimers\tlow\t30\t9500\n",
    ... }
    >>> for name, text in tables.items():
    ...     _ = (folder / f"{name}.tsv").write_text(text)
    >>> _ = (folder / "problem.yaml").write_text(
    ...     "format_version: 1\nparameter_file: parameters.tsv\nproblems:\n- sbml_files: [model.xml]\n"
    ...     "  condition_files: [conditions.tsv]\n  measurement_files: [measurements.tsv]\n"
    ...     "  observable_files: [observables.tsv]\n")
    >>> problem = dg.read_petab(folder / "problem.yaml")
    >>> problem.names
    ('kp1',)
    >>> result = dg.fit(problem, n_starts=2, seed=0)
    >>> f"{result.parameters['kp1'].magnitude:.2e}"
    '1.31e-10'
    >>> simulated = problem.simulate(result)
    >>> simulated.table["simulation"].round(-2).tolist(), round(simulated.chi2, 2)
    ([36000.0, 9300.0], 0.01)
    """
    from degranulation.estimation.petab.reader import load

    return load(
        Path(path), solver=solver, rtol=rtol, atol=atol, cache_dir=cache_dir, strict_units=strict_units
    )
