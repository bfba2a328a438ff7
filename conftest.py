"""Pytest configuration shared by tests and doctests."""

import importlib.util

collect_ignore = ["degranulation/__main__.py"]
if importlib.util.find_spec("petab") is None:  # the optional 'petab' extra: its doctests need it
    collect_ignore.append("degranulation/io/petab.py")
