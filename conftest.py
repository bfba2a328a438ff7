"""Pytest configuration shared by tests and doctests."""

collect_ignore = ["degranulation/__main__.py"]
