"""The index of a result's unit-carrying coordinates (``time``, a sweep's dose): pint-xarray's
``PintIndex``, except that labels without a unit are read in the coordinate's own unit, so
``ds.sel(time=600)`` selects 600 of the time unit, as xarray users expect, and
``ds.sel(time="10 min")`` or a pint quantity select by value in any time unit.

Imported only when a result is built (it imports pint-xarray).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pint
from pint_xarray.index import PintIndex
from xarray import DataArray, Variable


class UnitIndex(PintIndex):
    """A ``PintIndex`` whose ``sel`` reads bare numbers (and number strings) in its unit."""

    def sel(self, labels: Mapping[Any, Any], **options: Any) -> Any:
        given = {name: _with_unit(label, self.units[name]) for name, label in labels.items()}
        return super().sel(given, **options)


def _with_unit(label: Any, unit: pint.Unit) -> Any:
    """``label`` as a quantity: its own unit if it has one, else ``unit``."""
    from degranulation.units import registry, split_quantity

    if label is None:
        return None
    if isinstance(label, slice):
        return slice(_with_unit(label.start, unit), _with_unit(label.stop, unit), label.step)
    if isinstance(label, DataArray | Variable):
        return label if hasattr(label.data, "units") else label.copy(data=_with_unit(label.data, unit))
    if hasattr(label, "units"):
        return label
    if isinstance(label, str):
        value, written = split_quantity(label)
        return registry().Quantity(value, written or unit)
    return registry().Quantity(np.asarray(label) if np.ndim(label) else label, unit)


def with_unit_indexes(dataset: Any) -> Any:
    """``dataset`` with each ``PintIndex`` replaced by a :class:`UnitIndex` (same units)."""
    import xarray as xr

    replaced: dict[Hashable, UnitIndex] = {
        name: UnitIndex(index=index.index, units=index.units)
        for name, index in dataset.xindexes.items()
        if type(index) is PintIndex
    }
    if not replaced:
        return dataset
    coords = xr.Coordinates({name: dataset[name].variable for name in replaced}, indexes=replaced)
    return dataset.assign_coords(coords)
