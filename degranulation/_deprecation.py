"""Old spellings of public arguments, still accepted with a DeprecationWarning."""

from __future__ import annotations

import warnings
from typing import TypeVar

_T = TypeVar("_T")


def renamed(value: _T, old_value: _T | None, *, old: str, new: str, function: str) -> _T:
    """``old_value`` if the caller used the old name ``old`` (warning that it is now ``new``),
    else ``value``.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     renamed(0.95, 0.9, old="confidence", new="level", function="hill_fit")
    0.9
    >>> str(caught[0].message)
    'hill_fit(confidence=...) is deprecated: use level=...'
    """
    if old_value is None:
        return value
    warnings.warn(f"{function}({old}=...) is deprecated: use {new}=...", DeprecationWarning, stacklevel=3)
    return old_value
