"""Many points of one model solved as one stacked ODE system with a banded Jacobian (LSODA
or CVODE).

A sweep of a small model is dominated by per-solve overhead: SciPy steps its solvers from
Python, and a 58-species network spends most of its time there, not in arithmetic. Stacking
``B`` points into one system of ``B·n`` states pays that overhead once per step for all of
them. Each point keeps its own error control: LSODA measures the error in a weighted
*max* norm, so a stacked solve is at least as accurate per point as a lone one; CVODE's RMS
norm would dilute one point's error among the others, so its tolerances are divided by √B
(:func:`stacked_solver`).

The stacked Jacobian is block-diagonal. Each block's species are put in reverse
Cuthill–McKee order so that the blocks, and hence the whole matrix, are banded, and LSODA's
banded LU costs ``O(B·n·bandwidth²)``. Rate laws that are mass action are evaluated for all
points at once; explicit rate laws are evaluated point by point.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np

if TYPE_CHECKING:
    from degranulation.codegen import CompiledOde
    from degranulation.protocols import Event
    from degranulation.solvers import Solver

MAX_STATES: Final = 2048  # states per stacked solve chosen by default_batch (EARM's 58 species: 35)
DENSE_LIMIT: Final = 1 << 16  # entries of a stoichiometry matrix multiplied as a dense array


def default_batch(n_species: int, n_points: int) -> int:
    """Points per stacked solve: up to 64, and at most ``MAX_STATES`` states in all.

    Each step's Python overhead is shared by the batch, so bigger batches are faster until
    the arithmetic dominates, or until the points differ enough that the stacked solve needs
    many more steps than one point would (the step size is the smallest any point needs).

    Examples
    --------
    >>> from degranulation.batching import default_batch
    >>> default_batch(4, 1000), default_batch(58, 1000), default_batch(354, 1000), default_batch(4, 41)
    (64, 35, 5, 41)
    """
    return max(1, min(64, n_points, MAX_STATES // max(n_species, 1)))


@dataclass(frozen=True, eq=False)
class StackedOde:
    """``size`` copies of a compiled model as one system, species in banded order.

    It offers what :func:`degranulation.simulation.integrate` uses of a
    :class:`~degranulation.codegen.CompiledOde` (``species`` and ``functions``); the state and
    parameter vectors are the points' vectors concatenated, each state in ``order``.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.codegen import compile_model
    >>> from degranulation.batching import StackedOde
    >>> ode = compile_model(dg.load_model("ige_fceri_crosslinking"))
    >>> stacked = StackedOde(ode, 3)
    >>> fun, jac = stacked.functions(np.tile(ode.default_parameters, 3))
    >>> y0 = stacked.stack(np.tile(ode.default_initial, (3, 1)))
    >>> bool(np.allclose(fun(0.0, y0)[:4], stacked.stack(ode.functions(ode.default_parameters)[0](
    ...     0.0, ode.default_initial)[None, :])))
    True
    """

    compiled: CompiledOde
    size: int

    @functools.cached_property
    def order(self) -> np.ndarray:
        """Species indices in banded (reverse Cuthill–McKee) order."""
        import scipy.sparse
        from scipy.sparse.csgraph import reverse_cuthill_mckee

        n = self.compiled.n_species
        rows, cols = self._pattern
        pattern = scipy.sparse.csr_array((np.ones(len(rows)), (rows, cols)), shape=(n, n))
        return np.asarray(reverse_cuthill_mckee(pattern + pattern.T, symmetric_mode=True), dtype=np.int64)

    @functools.cached_property
    def position(self) -> np.ndarray:
        """Where each species sits in the banded order (the inverse of ``order``)."""
        position = np.empty_like(self.order)
        position[self.order] = np.arange(len(self.order))
        return position

    @property
    def _pattern(self) -> tuple[np.ndarray, np.ndarray]:
        compiled = self.compiled
        columns = np.repeat(np.arange(compiled.n_species), np.diff(compiled.jac_indptr))
        return compiled.jac_rows, columns

    @functools.cached_property
    def bands(self) -> tuple[int, int]:
        """``(lower, upper)`` bandwidth of one block in banded order."""
        rows, cols = self._pattern
        offsets = self.position[rows] - self.position[cols]
        return int(max(offsets.max(initial=0), 0)), int(max((-offsets).max(initial=0), 0))

    @functools.cached_property
    def _packed_index(self) -> np.ndarray:
        """Flat index into LSODA's packed banded Jacobian of every block's non-zeros."""
        n, total = self.compiled.n_species, self.size * self.compiled.n_species
        rows, cols = self._pattern
        shift = n * np.arange(self.size)[:, None]
        i, j = self.position[rows][None, :] + shift, self.position[cols][None, :] + shift
        return ((self.bands[1] + i - j) * total + j).ravel()

    @property
    def species(self) -> tuple[str, ...]:
        """State names in stacked order, e.g. ``R[2]`` for species R of point 2."""
        names = self.compiled.species
        return tuple(f"{names[k]}[{b}]" for b in range(self.size) for k in self.order)

    def stack(self, states: np.ndarray) -> np.ndarray:
        """Points' states (points × species) as one stacked vector."""
        return np.asarray(states, dtype=float)[:, self.order].ravel()

    def unstack(self, x: np.ndarray) -> np.ndarray:
        """Stacked states (stacked × times) back to points × species × times."""
        n = self.compiled.n_species
        return x.reshape(self.size, n, -1)[:, self.position, :]

    def shift(self, events: Sequence[Event]) -> tuple[Event, ...]:
        """Each point's copy of protocol events, indexed into the stacked vectors."""
        n, n_p = self.compiled.n_species, len(self.compiled.parameters)
        return tuple(
            dataclasses.replace(
                event,
                index=b * n + int(self.position[event.index]) if event.is_species else b * n_p + event.index,
            )
            for b in range(self.size)
            for event in events
        )

    @functools.cached_property
    def _banded(self) -> dict[str, Any]:
        """The compiled model's index arrays and matrices with species in banded order.

        Working in banded order throughout spares ``fun`` and ``jac`` two permutations of
        the whole stacked state per call.
        """
        compiled, n = self.compiled, self.compiled.n_species
        matrices = compiled._matrices
        terms, generic = matrices["terms"], matrices["generic"]
        index = np.append(self.position, n)[compiled.term_index]  # slot n (a factor 1) stays n
        dense = terms.shape[0] * terms.shape[1] <= DENSE_LIMIT
        return {
            "columns": [np.ascontiguousarray(index[:, s]) for s in range(index.shape[1])],
            # Small stoichiometry matrices are faster dense: SciPy's sparse product costs tens
            # of microseconds of Python per call, more than the arithmetic of a small model.
            "to_rates": terms[self.order].toarray().T if dense else None,
            "terms": terms[self.order],
            "generic": generic[self.order] if generic.shape[1] else None,
        }

    def functions(
        self, p: np.ndarray, frozen: np.ndarray | None = None
    ) -> tuple[Callable[[float, np.ndarray], np.ndarray], Callable[[float, np.ndarray], np.ndarray]]:
        """``fun(t, y)`` and the packed banded ``jac(t, y)`` for stacked parameters ``p``."""
        compiled, size, n = self.compiled, self.size, self.compiled.n_species
        points = np.asarray(p, dtype=float).reshape(size, -1)
        c = np.stack([compiled.coefficients(q) for q in points])
        scale = np.stack([compiled.scales(q) for q in points])
        if frozen is not None:
            scale = np.where(frozen.reshape(size, n)[:, self.position], 0.0, scale)
        jac_scale = scale[:, compiled.jac_rows]
        scale = scale[:, self.order]
        banded = self._banded
        columns, to_rates, terms, generic = (banded[k] for k in ("columns", "to_rates", "terms", "generic"))
        term_map, generic_map = compiled._matrices["term_map"], compiled._matrices["generic_map"]
        entries, position, module = compiled.term_entries, self.position, compiled.module
        packed_index = self._packed_index
        shape = (sum(self.bands) + 1, size * n)
        buffer = np.ones((size, n + 1))  # column n is the factor 1 of unused slots
        # Flat positions in ``buffer`` per slot: ``take`` gathers faster than 2-D indexing.
        flat = [(np.arange(size)[:, None] * (n + 1) + column[None, :]).ravel() for column in columns]
        product = np.empty_like(c)
        # Points that share their compartment sizes (a dose sweep) share the scale: fold it in.
        is_shared = to_rates is not None and generic is None and bool(np.all(scale == scale[0]))
        rates_matrix = to_rates * scale[0] if is_shared else to_rates

        def fun(t: float, y: np.ndarray) -> np.ndarray:
            buffer[:, :n] = y.reshape(size, n)
            w = np.multiply(c, buffer.take(flat[0]).reshape(size, -1), out=product) if flat else c.copy()
            for slot in flat[1:]:  # a product per slot: faster than a reduction over few slots
                w *= buffer.take(slot).reshape(size, -1)
            if is_shared:
                return (w @ rates_matrix).ravel()
            dx = w @ rates_matrix if rates_matrix is not None else (terms @ w.T).T
            if generic is not None:
                x = buffer[:, position]  # the generated code takes species in model order
                rates = np.stack([module.generic_rates(x[b], points[b], t) for b in range(size)])
                dx += (generic @ rates.T).T
            return (scale * dx).ravel()

        def jac(t: float, y: np.ndarray) -> np.ndarray:
            buffer[:, :n] = y.reshape(size, n)
            gathered = [buffer[:, column] for column in columns]
            # ∂(c·Π x_slot)/∂x_s: the product over the other slots
            others = [
                functools.reduce(np.multiply, gathered[:s] + gathered[s + 1 :], c)
                for s in range(len(gathered))
            ]
            flat = np.stack(others, axis=2).reshape(size, -1) if others else np.empty((size, 0))
            values = (term_map @ flat[:, entries].T).T
            if generic is not None:
                x = buffer[:, position]
                rates = np.stack([module.generic_jac(x[b], points[b], t) for b in range(size)])
                values += (generic_map @ rates.T).T
            packed = np.zeros(shape)
            packed.ravel()[packed_index] = (jac_scale * values).ravel()
            return packed

        return fun, jac


def stacked_solver(solver: Solver, stacked: StackedOde) -> Solver:
    """``solver`` (LSODA or CVODE) for ``stacked``: banded, with a per-state ``atol`` in
    stacked order.

    LSODA's max norm holds each point to the tolerances as they stand. CVODE's norm is a root
    mean square over all states, so its tolerances are divided by ``√size``: the stacked norm
    is then ``√(Σ_b r_b²)`` with ``r_b`` each point's own CVODE norm at the given tolerances,
    and a step it accepts keeps every point within them.
    """
    lower, upper = stacked.bands
    atol = np.asarray(solver.atol, dtype=float)
    if atol.ndim:  # per species: into banded order, once per point
        atol = np.tile(atol[stacked.order], stacked.size)
    shrink = math.sqrt(stacked.size) if solver.name == "CVODE" else 1.0
    return dataclasses.replace(
        solver,  # LSODA or CVODE: both take bands
        rtol=solver.rtol / shrink,
        atol=tuple((atol / shrink).tolist()) if atol.ndim else float(atol) / shrink,
        lower=lower,  # type: ignore[call-arg]
        upper=upper,
    )
