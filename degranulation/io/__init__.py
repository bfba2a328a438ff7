"""Deprecated module paths (``degranulation.io.model_file``, ``.sbml``, ``.bngnet``, ``.store``, ...):
each re-exports its names from their new home with a DeprecationWarning."""
