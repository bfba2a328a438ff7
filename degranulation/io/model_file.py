"""Deprecated: moved to :mod:`degranulation.formats.toml` (the dict schema to :mod:`degranulation.schema`)."""

import warnings

from degranulation.formats.toml import dumps_model as dumps_model
from degranulation.formats.toml import loads_model as loads_model
from degranulation.formats.toml import read_model as read_model
from degranulation.formats.toml import write_model as write_model
from degranulation.schema import model_from_dict as model_from_dict
from degranulation.schema import model_to_dict as model_to_dict
from degranulation.schema import parse_steps as parse_steps

__all__ = [
    "dumps_model",
    "loads_model",
    "model_from_dict",
    "model_to_dict",
    "parse_steps",
    "read_model",
    "write_model",
]

warnings.warn(
    "degranulation.io.model_file moved to degranulation.formats.toml and degranulation.schema",
    DeprecationWarning,
    stacklevel=2,
)
