"""Pytest configuration shared by tests and doctests.

Tests and doctests that need an optional extra carry a ``requires_<extra>`` marker (registered
in pyproject.toml); without the extra's packages they are skipped with a reason that names the
extra, never failed. Doctests get their marker from ``DOCTESTS`` below.
"""

from __future__ import annotations

import importlib.util

import pytest

#: marker → (extra that installs it, top-level modules it needs)
EXTRAS = {
    "requires_sbml": ("sbml", ("libsbml",)),
    "requires_petab": ("petab", ("petab", "libsbml")),
    "requires_sundials": ("sundials", ("sksundae",)),
    "requires_dask": ("dask", ("distributed",)),
    "requires_plot": ("plot", ("matplotlib",)),
    "requires_roadrunner": ("bench", ("roadrunner",)),
    "requires_build": ("test", ("build", "hatchling")),
}
#: doctests (a module's, or one object's) that need an extra → their marker
DOCTESTS = {
    "degranulation.formats.sbml": "requires_sbml",
    "degranulation.estimation.petab": "requires_petab",
    "degranulation.plotting": "requires_plot",
    "degranulation.solvers.CVODE": "requires_sundials",
}

collect_ignore = ["degranulation/__main__.py", "degranulation/rules/__main__.py"]


# Looked up once, when pytest loads this file.
MISSING = {
    marker: [name for name in modules if importlib.util.find_spec(name) is None]
    for marker, (_, modules) in EXTRAS.items()
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if hasattr(item, "dtest"):  # a doctest: its name is the object's dotted path
            for prefix, marker in DOCTESTS.items():
                if item.name == prefix or item.name.startswith(prefix + "."):
                    item.add_marker(marker)
        for mark in item.iter_markers():
            if mark.name in EXTRAS:
                extra, missing = EXTRAS[mark.name][0], MISSING[mark.name]
                if missing:
                    install = f"pip install 'degranulation[{extra}]'"
                    reason = f"needs the '{extra}' extra, {install} ({', '.join(missing)} missing)"
                    item.add_marker(pytest.mark.skip(reason=reason))
