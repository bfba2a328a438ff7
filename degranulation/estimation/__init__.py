"""Parameter estimation: assay data, fit problems, multistart least squares, results,
checkpoints, profile likelihoods and PEtab problems.

Submodules, top of the stack first (each imports only those below it):
:mod:`~degranulation.estimation.petab` (a ``Problem`` from a PEtab problem) and
:mod:`~degranulation.estimation.profiles` (profile likelihoods);
:mod:`~degranulation.estimation.optimise` (``fit``, multistart);
:mod:`~degranulation.estimation.checkpoint` (resumable fits);
:mod:`~degranulation.estimation.result` (``FitResult``) and
:mod:`~degranulation.estimation.measurements` (``make_problem``: model and data → problem);
:mod:`~degranulation.estimation.problem` (``FitProblem``, the ``Problem`` protocol);
:mod:`~degranulation.estimation.assay` (reading assay tables).

The public names are imported lazily: ``import degranulation.estimation`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "AssayData": "degranulation.estimation.assay",
    "read_assay": "degranulation.estimation.assay",
    "Condition": "degranulation.estimation.problem",
    "FitProblem": "degranulation.estimation.problem",
    "FreeParameter": "degranulation.estimation.problem",
    "Problem": "degranulation.estimation.problem",
    "Readout": "degranulation.estimation.problem",
    "make_problem": "degranulation.estimation.measurements",
    "FitResult": "degranulation.estimation.result",
    "StartResult": "degranulation.estimation.result",
    "fisher_intervals": "degranulation.estimation.result",
    "identifiability": "degranulation.estimation.result",
    "fit": "degranulation.estimation.optimise",
    "optimize": "degranulation.estimation.optimise",
    "run_starts": "degranulation.estimation.optimise",
    "start_points": "degranulation.estimation.optimise",
    "ProfileResult": "degranulation.estimation.profiles",
    "profile_likelihood": "degranulation.estimation.profiles",
    "PetabProblem": "degranulation.estimation.petab",
    "read_petab": "degranulation.estimation.petab",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:
    from degranulation.estimation.assay import AssayData as AssayData
    from degranulation.estimation.assay import read_assay as read_assay
    from degranulation.estimation.measurements import make_problem as make_problem
    from degranulation.estimation.optimise import fit as fit
    from degranulation.estimation.optimise import optimize as optimize
    from degranulation.estimation.optimise import run_starts as run_starts
    from degranulation.estimation.optimise import start_points as start_points
    from degranulation.estimation.petab import PetabProblem as PetabProblem
    from degranulation.estimation.petab import read_petab as read_petab
    from degranulation.estimation.problem import Condition as Condition
    from degranulation.estimation.problem import FitProblem as FitProblem
    from degranulation.estimation.problem import FreeParameter as FreeParameter
    from degranulation.estimation.problem import Problem as Problem
    from degranulation.estimation.problem import Readout as Readout
    from degranulation.estimation.profiles import ProfileResult as ProfileResult
    from degranulation.estimation.profiles import profile_likelihood as profile_likelihood
    from degranulation.estimation.result import FitResult as FitResult
    from degranulation.estimation.result import StartResult as StartResult
    from degranulation.estimation.result import fisher_intervals as fisher_intervals
    from degranulation.estimation.result import identifiability as identifiability


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'degranulation.estimation' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
