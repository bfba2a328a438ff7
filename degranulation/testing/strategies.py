"""Hypothesis strategies for random reaction networks with units (for property tests).

The models come from :mod:`degranulation.testing.networks`, drawing every choice from
Hypothesis so that failures shrink to small networks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "degranulation.testing.strategies needs Hypothesis: pip install 'degranulation[test]'"
    ) from exc

from degranulation.network import Model
from degranulation.testing.networks import chain_builder, network_builder

if TYPE_CHECKING:
    from degranulation.codegen import CompiledOde


class _DrawChooser:
    """A :class:`~degranulation.testing.networks.Chooser` drawing from Hypothesis."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self._draw = draw

    def integer(self, low: int, high: int) -> int:
        return int(self._draw(st.integers(low, high)))

    def real(self, low: float, high: float) -> float:
        return float(self._draw(st.floats(low, high)))


def networks(
    *,
    n_species: tuple[int, int] = (1, 6),
    n_reactions: tuple[int, int] = (1, 8),
    allow_boundary: bool = True,
    text: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[Model]:
    """Validated random mass-action networks (see :func:`~degranulation.testing.networks.network_builder`).

    Parameters
    ----------
    n_species, n_reactions : (int, int)
        Inclusive size ranges.
    allow_boundary : bool
        Let some species be boundary species.
    text : SearchStrategy of str, optional
        Titles, labels and descriptions (empty by default).

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from degranulation.testing.strategies import networks
    >>> @settings(max_examples=3, deadline=None)
    ... @given(networks(n_reactions=(2, 4)))
    ... def check(model):
    ...     assert 2 <= len(model.reactions) <= 4
    >>> check()
    """
    labels = text if text is not None else st.just("")

    @st.composite
    def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Model:
        builder = network_builder(
            _DrawChooser(draw),
            n_species=n_species,
            n_reactions=n_reactions,
            allow_boundary=allow_boundary,
            text=lambda: str(draw(labels)),
        )
        return builder.build()

    return build()


def first_order_chains(*, n_species: tuple[int, int] = (2, 6)) -> st.SearchStrategy[Model]:
    """Validated random first-order chains (see :func:`~degranulation.testing.networks.chain_builder`).

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from degranulation.testing.strategies import first_order_chains
    >>> @settings(max_examples=3, deadline=None)
    ... @given(first_order_chains(n_species=(2, 3)))
    ... def check(model):
    ...     assert model.reactions[0].reactants[0] == ("S0", 1)
    >>> check()
    """

    @st.composite
    def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Model:
        return chain_builder(_DrawChooser(draw), n_species=n_species).build()

    return build()


def states(compiled: CompiledOde, *, low: float = 0.0, high: float = 2.0) -> st.SearchStrategy[np.ndarray]:
    """Non-negative states of a compiled model: each species scaled by a factor in ``[low, high]``.

    The scale of a species is its initial value, or where that is zero the largest initial
    value among species of the same kind (amounts or concentrations), or 1.

    Examples
    --------
    >>> import degranulation as dg
    >>> from hypothesis import given, settings
    >>> from degranulation.codegen import compile_model
    >>> from degranulation.testing.strategies import states
    >>> ode = compile_model(dg.load_model("ige_fceri_crosslinking"))
    >>> @settings(max_examples=3, deadline=None)
    ... @given(states(ode))
    ... def check(x):
    ...     assert x.shape == (4,) and (x >= 0).all()
    >>> check()
    """
    scale = state_scale(compiled)
    factors = st.lists(st.floats(low, high), min_size=len(scale), max_size=len(scale))
    return factors.map(lambda f: scale * np.array(f, dtype=float))


def parameter_vectors(compiled: CompiledOde, *, spread: float = 2.0) -> st.SearchStrategy[np.ndarray]:
    """Parameter vectors: each default value times a factor in ``[1/spread, spread]``.

    Examples
    --------
    >>> import degranulation as dg
    >>> from hypothesis import given, settings
    >>> from degranulation.codegen import compile_model
    >>> from degranulation.testing.strategies import parameter_vectors
    >>> ode = compile_model(dg.load_model("ige_fceri_crosslinking"))
    >>> @settings(max_examples=3, deadline=None)
    ... @given(parameter_vectors(ode))
    ... def check(p):
    ...     assert (p <= 2 * ode.default_parameters).all()
    >>> check()
    """
    size = len(compiled.default_parameters)
    factors = st.lists(st.floats(1.0 / spread, spread), min_size=size, max_size=size)
    return factors.map(lambda f: compiled.default_parameters * np.array(f, dtype=float))


def state_scale(compiled: CompiledOde) -> np.ndarray:
    """Typical magnitude of each state variable (see :func:`states`)."""
    x0 = np.asarray(compiled.default_initial, dtype=float)
    is_concentration = compiled.amount_factors >= 0
    scale = x0.copy()
    for kind in (is_concentration, ~is_concentration):
        largest = x0[kind].max(initial=0.0)
        scale[kind & (x0 <= 0)] = largest if largest > 0 else 1.0
    return scale
