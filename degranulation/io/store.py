"""Deprecated: moved to :mod:`degranulation.store`."""

import warnings

from degranulation.store import FORMATS as FORMATS
from degranulation.store import from_csv as from_csv
from degranulation.store import from_json as from_json
from degranulation.store import json_text as json_text
from degranulation.store import load as load
from degranulation.store import netcdf4_engine as netcdf4_engine
from degranulation.store import save as save
from degranulation.store import to_csv as to_csv
from degranulation.store import to_json as to_json

__all__ = [
    "FORMATS",
    "from_csv",
    "from_json",
    "json_text",
    "load",
    "netcdf4_engine",
    "save",
    "to_csv",
    "to_json",
]

warnings.warn("degranulation.io.store moved to degranulation.store", DeprecationWarning, stacklevel=2)
