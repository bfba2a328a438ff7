"""Kinetic models of immune-cell degranulation: unit-checked reaction networks, SymPy-generated
ODEs solved with SciPy, unit-aware xarray results.

``import degranulation`` is cheap: SymPy, SciPy, pint and xarray load on first use.

Examples
--------
>>> import degranulation as dg
>>> ds = dg.simulate("ige_fceri_crosslinking", t="10 min")
>>> str(ds["RecDim"].pint.units)
'molecule'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from degranulation.errors import (
    DataError as DataError,
)
from degranulation.errors import (
    DegranulationError as DegranulationError,
)
from degranulation.errors import (
    DegranulationWarning as DegranulationWarning,
)
from degranulation.errors import (
    ExpressionError as ExpressionError,
)
from degranulation.errors import (
    FitError as FitError,
)
from degranulation.errors import (
    ModelError as ModelError,
)
from degranulation.errors import (
    ModelFileError as ModelFileError,
)
from degranulation.errors import (
    ModelIssue as ModelIssue,
)
from degranulation.errors import (
    ModelValidationError as ModelValidationError,
)
from degranulation.errors import (
    SimulationError as SimulationError,
)
from degranulation.errors import (
    UnitError as UnitError,
)
from degranulation.errors import (
    UnitMismatch as UnitMismatch,
)
from degranulation.errors import (
    UnknownName as UnknownName,
)
from degranulation.errors import (
    UnsupportedFeatureError as UnsupportedFeatureError,
)

_LAZY = {
    "load_model": "degranulation.library",
    "list_models": "degranulation.library",
    "simulate": "degranulation.simulation",
    "simulate_scenarios": "degranulation.scenarios",
    "validate": "degranulation.library",
    "ModelBuilder": "degranulation.builder",
    "read_model": "degranulation.formats.toml",
    "write_model": "degranulation.formats.toml",
    "save": "degranulation.store",
    "load": "degranulation.store",
    "BDF": "degranulation.solvers",
    "Radau": "degranulation.solvers",
    "LSODA": "degranulation.solvers",
    "CVODE": "degranulation.solvers",
    "Model": "degranulation.network",
    "UnitSystem": "degranulation.units",
    "read_sbml": "degranulation.formats.sbml",
    "write_sbml": "degranulation.formats.sbml",
    "read_bngnet": "degranulation.formats.bngnet",
    "sweep": "degranulation.sweeps",
    "dose_response": "degranulation.sweeps",
    "hill_fit": "degranulation.hill",
    "HillFit": "degranulation.hill",
    "geomspace": "degranulation.sweeps",
    "read_assay": "degranulation.estimation.assay",
    "AssayData": "degranulation.estimation.assay",
    "fit": "degranulation.estimation.optimise",
    "make_problem": "degranulation.estimation.measurements",
    "FitProblem": "degranulation.estimation.problem",
    "Problem": "degranulation.estimation.problem",
    "FitResult": "degranulation.estimation.result",
    "profile_likelihood": "degranulation.estimation.profiles",
    "ProfileResult": "degranulation.estimation.profiles",
    "simulate_sensitivities": "degranulation.sensitivities",
    "read_petab": "degranulation.estimation.petab",
    "PetabProblem": "degranulation.estimation.petab",
    "plot_dose_response": "degranulation.plotting",
    "plot_fit": "degranulation.plotting",
    "plot_profiles": "degranulation.plotting",
}

if TYPE_CHECKING:
    from degranulation.builder import ModelBuilder as ModelBuilder
    from degranulation.estimation.assay import AssayData as AssayData
    from degranulation.estimation.assay import read_assay as read_assay
    from degranulation.estimation.measurements import make_problem as make_problem
    from degranulation.estimation.optimise import fit as fit
    from degranulation.estimation.petab import PetabProblem as PetabProblem
    from degranulation.estimation.petab import read_petab as read_petab
    from degranulation.estimation.problem import FitProblem as FitProblem
    from degranulation.estimation.problem import Problem as Problem
    from degranulation.estimation.profiles import ProfileResult as ProfileResult
    from degranulation.estimation.profiles import profile_likelihood as profile_likelihood
    from degranulation.estimation.result import FitResult as FitResult
    from degranulation.formats.bngnet import read_bngnet as read_bngnet
    from degranulation.formats.sbml import read_sbml as read_sbml
    from degranulation.formats.sbml import write_sbml as write_sbml
    from degranulation.formats.toml import read_model as read_model
    from degranulation.formats.toml import write_model as write_model
    from degranulation.hill import HillFit as HillFit
    from degranulation.hill import hill_fit as hill_fit
    from degranulation.library import list_models as list_models
    from degranulation.library import load_model as load_model
    from degranulation.library import validate as validate
    from degranulation.network import Model as Model
    from degranulation.plotting import plot_dose_response as plot_dose_response
    from degranulation.plotting import plot_fit as plot_fit
    from degranulation.plotting import plot_profiles as plot_profiles
    from degranulation.scenarios import simulate_scenarios as simulate_scenarios
    from degranulation.sensitivities import simulate_sensitivities as simulate_sensitivities
    from degranulation.simulation import simulate as simulate
    from degranulation.solvers import BDF as BDF
    from degranulation.solvers import CVODE as CVODE
    from degranulation.solvers import LSODA as LSODA
    from degranulation.solvers import Radau as Radau
    from degranulation.store import load as load
    from degranulation.store import save as save
    from degranulation.sweeps import dose_response as dose_response
    from degranulation.sweeps import geomspace as geomspace
    from degranulation.sweeps import sweep as sweep
    from degranulation.units import UnitSystem as UnitSystem


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from degranulation.user_cache import version

        return version()
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'degranulation' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, "__version__"])
