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
    "validate": "degranulation.validation",
    "ModelBuilder": "degranulation.builder",
    "read_model": "degranulation.io.model_file",
    "write_model": "degranulation.io.model_file",
    "save": "degranulation.io.store",
    "load": "degranulation.io.store",
    "BDF": "degranulation.solvers",
    "Radau": "degranulation.solvers",
    "LSODA": "degranulation.solvers",
    "CVODE": "degranulation.solvers",
    "Model": "degranulation.network",
    "UnitSystem": "degranulation.units",
    "read_sbml": "degranulation.io.sbml",
    "write_sbml": "degranulation.io.sbml",
    "read_bngnet": "degranulation.io.bngnet",
    "sweep": "degranulation.sweeps",
    "dose_response": "degranulation.sweeps",
    "hill_fit": "degranulation.hill",
    "HillFit": "degranulation.hill",
    "geomspace": "degranulation.sweeps",
    "read_assay": "degranulation.io.assay",
    "AssayData": "degranulation.io.assay",
    "fit": "degranulation.fitting",
    "make_problem": "degranulation.fitting",
    "FitProblem": "degranulation.fitting",
    "Problem": "degranulation.fitting",
    "FitResult": "degranulation.fitting",
    "profile_likelihood": "degranulation.profiles",
    "ProfileResult": "degranulation.profiles",
    "simulate_sensitivities": "degranulation.sensitivities",
    "read_petab": "degranulation.io.petab",
    "PetabProblem": "degranulation.io.petab",
}

if TYPE_CHECKING:
    from degranulation.builder import ModelBuilder as ModelBuilder
    from degranulation.fitting import FitProblem as FitProblem
    from degranulation.fitting import FitResult as FitResult
    from degranulation.fitting import Problem as Problem
    from degranulation.fitting import fit as fit
    from degranulation.fitting import make_problem as make_problem
    from degranulation.hill import HillFit as HillFit
    from degranulation.hill import hill_fit as hill_fit
    from degranulation.io.assay import AssayData as AssayData
    from degranulation.io.assay import read_assay as read_assay
    from degranulation.io.bngnet import read_bngnet as read_bngnet
    from degranulation.io.model_file import read_model as read_model
    from degranulation.io.model_file import write_model as write_model
    from degranulation.io.petab import PetabProblem as PetabProblem
    from degranulation.io.petab import read_petab as read_petab
    from degranulation.io.sbml import read_sbml as read_sbml
    from degranulation.io.sbml import write_sbml as write_sbml
    from degranulation.io.store import load as load
    from degranulation.io.store import save as save
    from degranulation.library import list_models as list_models
    from degranulation.library import load_model as load_model
    from degranulation.network import Model as Model
    from degranulation.profiles import ProfileResult as ProfileResult
    from degranulation.profiles import profile_likelihood as profile_likelihood
    from degranulation.sensitivities import simulate_sensitivities as simulate_sensitivities
    from degranulation.simulation import simulate as simulate
    from degranulation.solvers import BDF as BDF
    from degranulation.solvers import CVODE as CVODE
    from degranulation.solvers import LSODA as LSODA
    from degranulation.solvers import Radau as Radau
    from degranulation.sweeps import dose_response as dose_response
    from degranulation.sweeps import geomspace as geomspace
    from degranulation.sweeps import sweep as sweep
    from degranulation.units import UnitSystem as UnitSystem
    from degranulation.validation import validate as validate


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from degranulation.results import version

        return version()
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'degranulation' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, "__version__"])
