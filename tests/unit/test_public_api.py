"""The top-level namespace: the plotting helpers and ``simulate_scenarios`` are public names of
``degranulation``, loaded lazily like the rest, and ``dir()`` lists them (so tab completion and the
API reference see them)."""

from __future__ import annotations

import degranulation as dg
from degranulation import plotting

PLOTTING = ("plot_dose_response", "plot_fit", "plot_profiles")


def test_plotting_helpers_are_exported_at_top_level():
    for name in PLOTTING:
        assert getattr(dg, name) is getattr(plotting, name)


def test_dir_lists_the_plotting_helpers():
    assert set(PLOTTING) <= set(dir(dg))


def test_simulate_scenarios_is_exported_at_top_level():
    from degranulation import scenarios

    assert dg.simulate_scenarios is scenarios.simulate_scenarios
    assert "simulate_scenarios" in dir(dg)
