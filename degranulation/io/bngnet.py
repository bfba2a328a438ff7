"""Deprecated: moved to :mod:`degranulation.formats.bngnet`."""

import warnings

from degranulation.formats.bngnet import AMOUNT_FACTOR as AMOUNT_FACTOR
from degranulation.formats.bngnet import TIME_FACTOR as TIME_FACTOR
from degranulation.formats.bngnet import loads_bngnet as loads_bngnet
from degranulation.formats.bngnet import read_bngnet as read_bngnet
from degranulation.formats.bngnet import read_gdat as read_gdat
from degranulation.formats.bngnet import unit_text as unit_text

__all__ = ["AMOUNT_FACTOR", "TIME_FACTOR", "loads_bngnet", "read_bngnet", "read_gdat", "unit_text"]

warnings.warn(
    "degranulation.io.bngnet moved to degranulation.formats.bngnet", DeprecationWarning, stacklevel=2
)
