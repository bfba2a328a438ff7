"""Type aliases for the values public functions accept (defined once, used in signatures).

Examples
--------
>>> from degranulation.typing import QuantityLike
>>> import degranulation.typing as dgt
>>> sorted(name for name in dgt.__all__)
['QuantityArray', 'QuantityLike', 'Scheduler', 'TimeSpec']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias, Union

if TYPE_CHECKING:
    import distributed
    import pint

__all__ = ["QuantityArray", "QuantityLike", "Scheduler", "TimeSpec"]

#: A value with a unit: text (``"10 nM"``, ``"2e6 1/(M*s)"``), a pint Quantity, or a bare
#: number where the unit is implied (a model's own unit).
QuantityLike: TypeAlias = Union[str, "pint.Quantity", float]

#: Several values with units: a sequence of :data:`QuantityLike` or a pint Quantity array
#: (``dg.geomspace("1 pM", "10 uM", 41)``).
QuantityArray: TypeAlias = Union[Sequence[QuantityLike], "pint.Quantity"]

#: Times: an end time (``"30 min"`` or a scalar Quantity) or the output times (a sequence of
#: such values, or a Quantity array), increasing.
TimeSpec: TypeAlias = Union[str, "pint.Quantity", Sequence[Union[str, "pint.Quantity"]]]

#: Where parallel tasks run besides this machine's processes: a ``distributed.Client``, the
#: address of a Dask scheduler (``"tcp://host:8786"``), or None (this machine).
Scheduler: TypeAlias = Union["distributed.Client", str, None]
