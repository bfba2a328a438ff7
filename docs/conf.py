"""Sphinx configuration: the site is built from the code, and every tutorial is executed.

Build: ``python -m pip install '.[docs]' && python -m sphinx -W --keep-going -b html docs docs/_build/html``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import degranulation

sys.path.insert(0, str(Path(__file__).parent / "_ext"))  # local extensions (the model gallery)

project = "degranulation"
author = "degranulation developers"
copyright = "2026, degranulation developers"
release = degranulation.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
    "sphinx_copybutton",
    "model_gallery",
    "sphinxarg.ext",  # the CLI reference, generated from degranulation.cli.build_parser()
]

# Tutorials are MyST notebooks (.md): executed on every build; a cell that raises fails the build.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 600
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]

autosummary_generate = True
autodoc_typehints = "none"  # numpydoc writes the types from the docstrings
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

intersphinx_mapping: dict[str, tuple[str, None]] = {}  # builds offline: no inventories are fetched

exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]
smartquotes_action = "qe"  # quotes and ellipses only: '--plot' in CLI help stays two hyphens
templates_path = ["_templates"]  # autosummary/class.rst: class pages document their methods

html_theme = "pydata_sphinx_theme"
html_title = f"degranulation {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
