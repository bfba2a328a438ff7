"""Deprecated: moved to :mod:`degranulation.formats.sbml`."""

import warnings

from degranulation.formats.sbml import SbmlImport as SbmlImport
from degranulation.formats.sbml import import_sbml as import_sbml
from degranulation.formats.sbml import read_sbml as read_sbml
from degranulation.formats.sbml import write_sbml as write_sbml

__all__ = ["SbmlImport", "import_sbml", "read_sbml", "write_sbml"]

warnings.warn("degranulation.io.sbml moved to degranulation.formats.sbml", DeprecationWarning, stacklevel=2)
