"""``OdeSystem`` → ``CompiledOde``: plain float64 callables with a fixed sparsity pattern,
picklable, and cached on disk by the model's content hash.

Mass-action terms (most reactions) are evaluated together as one NumPy expression over index
arrays: each term's reactants are listed slot by slot (``2 A`` fills two slots), so a rate is
``c · Π x[slots]`` and its derivative for slot ``s`` is ``c · Π x[other slots]``. Their
constants are printed once per distinct expression (a generated network has thousands of
reactions but a few dozen constants such as ``2*kp1``) and gathered by index; observables that
are weighted sums of species (all of a generated network's) are one sparse matrix. Everything
else (explicit rate laws, other observables, ``dfdp``) is printed by SymPy's NumPy printer into
one generated module, loaded from memory (no file is executed, no text from a model file
reaches it except through the SymPy expressions built by :mod:`degranulation.expressions`).

Loading a compiled model from the cache needs neither SymPy nor the symbolic stages: they are
imported only to compile.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.abc
import importlib.util
import io
import json
import types
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import scipy.sparse

from degranulation.user_cache import cache_folder, read_trusted, source_digest, version, write_private

if TYPE_CHECKING:
    import sympy

    from degranulation.network import Model
    from degranulation.symbolic import OdeSystem

CODEGEN_VERSION: Final = "4"  # 3: entries carry their key and a checksum; 4: power-rule Jacobians
#: Jacobians with at most this many non-zeros are applied entry by entry in
#: ``CompiledOde.jacobian_product``; larger ones as a sparse matrix, which is faster there.
SMALL_JACOBIAN: Final = 100
_ARRAYS: Final = (
    "term_index", "coefficient_index", "term_stoich_data", "term_stoich_indices", "term_stoich_indptr",
    "generic_stoich_data", "generic_stoich_indices", "generic_stoich_indptr",
    "volume_index", "jac_indices", "jac_indptr", "jac_rows",
    "term_map_data", "term_map_indices", "term_map_indptr",
    "generic_map_data", "generic_map_indices", "generic_map_indptr",
    "term_entries", "observable_factors", "dfdp_rows", "dfdp_cols",
    "observable_data", "observable_indices", "observable_indptr", "observable_generic",
)  # fmt: skip


class _MemoryLoader(importlib.abc.SourceLoader):
    """Loads a generated module from text held in memory."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source

    def get_filename(self, fullname: str) -> str:
        return f"<degranulation generated {self.name}>"

    def get_data(self, path: str) -> bytes:
        return self.source.encode()


def _load_module(name: str, source: str) -> types.ModuleType:
    loader = _MemoryLoader(name, source)
    spec = importlib.util.spec_from_loader(name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


class GeneratedCode:
    """What a frozen dataclass holding generated ``source`` needs: the module, loaded from
    memory on first use, and pickling without it (workers rebuild it from ``source``).

    The dataclass declares ``source: str`` and
    ``_cache: dict = field(default_factory=dict, repr=False)``.
    """

    source: str
    _cache: dict[str, Any]
    _module_prefix: str = "degranulation_generated"

    def __getstate__(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_cache"}  # type: ignore[arg-type]

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_cache", {})

    @property
    def module(self) -> types.ModuleType:
        """The generated functions (loaded on first use, also after unpickling)."""
        if "module" not in self._cache:
            digest = hashlib.sha256(self.source.encode()).hexdigest()[:16]
            self._cache["module"] = _load_module(f"{self._module_prefix}_{digest}", self.source)
        return self._cache["module"]


@dataclass(frozen=True, eq=False)
class CompiledOde(GeneratedCode):
    """Numeric form of an :class:`~degranulation.symbolic.OdeSystem`.

    All arrays are plain NumPy; ``source`` is the generated module. Call :meth:`functions`
    once per parameter vector to get the ``fun(t, x)`` and ``jac(t, x)`` a solver needs.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.codegen import compile_model
    >>> ode = compile_model(dg.load_model("ige_fceri_crosslinking"))
    >>> fun, jac = ode.functions(ode.default_parameters)
    >>> fun(0.0, ode.default_initial).shape
    (4,)
    """

    key: str
    species: tuple[str, ...]
    parameters: tuple[str, ...]
    observables: tuple[str, ...]
    default_parameters: np.ndarray
    default_initial: np.ndarray
    conservation_laws: tuple[tuple[int, ...], ...]
    amount_factors: np.ndarray  # compartment size per species (1 for amounts), index into p or -1
    source: str
    has_dfdp: bool
    term_index: np.ndarray
    coefficient_index: np.ndarray  # each term's constant among the distinct generated ones
    term_stoich_data: np.ndarray
    term_stoich_indices: np.ndarray
    term_stoich_indptr: np.ndarray
    generic_stoich_data: np.ndarray
    generic_stoich_indices: np.ndarray
    generic_stoich_indptr: np.ndarray
    volume_index: np.ndarray
    boundary: np.ndarray
    jac_indices: np.ndarray
    jac_indptr: np.ndarray
    jac_rows: np.ndarray
    term_map_data: np.ndarray
    term_map_indices: np.ndarray
    term_map_indptr: np.ndarray
    generic_map_data: np.ndarray
    generic_map_indices: np.ndarray
    generic_map_indptr: np.ndarray
    term_entries: np.ndarray
    observable_factors: np.ndarray
    dfdp_rows: np.ndarray
    dfdp_cols: np.ndarray
    observable_data: np.ndarray  # observables that are weighted sums of species, as CSR rows
    observable_indices: np.ndarray
    observable_indptr: np.ndarray
    observable_generic: np.ndarray  # the others, computed by the generated module
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, init=False)

    @property
    def n_species(self) -> int:
        """Number of state variables."""
        return len(self.species)

    @functools.cached_property
    def _matrices(self) -> dict[str, scipy.sparse.csr_array]:
        """The right-hand side's and Jacobian's fixed matrices, sparse even when small: a dense
        product sums each row in another order, and at a stiff equilibrium its rounding no
        longer cancels (bivalent_hapten_bivalent_ige, 3 µM hapten clamped: BDF then needed
        10⁶ evaluations where it needs a few hundred)."""
        n = self.n_species
        n_entries = len(self.term_entries)
        return {
            "terms": scipy.sparse.csr_array(
                (self.term_stoich_data, self.term_stoich_indices, self.term_stoich_indptr),
                shape=(n, len(self.term_index)),
            ),
            "generic": scipy.sparse.csr_array(
                (self.generic_stoich_data, self.generic_stoich_indices, self.generic_stoich_indptr),
                shape=(n, self.module.N_GENERIC),
            ),
            "term_map": scipy.sparse.csr_array(
                (self.term_map_data, self.term_map_indices, self.term_map_indptr),
                shape=(len(self.jac_indices), n_entries),
            ),
            "generic_map": scipy.sparse.csr_array(
                (self.generic_map_data, self.generic_map_indices, self.generic_map_indptr),
                shape=(len(self.jac_indices), self.module.N_GENERIC_JAC),
            ),
            "observables": scipy.sparse.csr_array(
                (self.observable_data, self.observable_indices, self.observable_indptr),
                shape=(len(self.observables), n),
            ),
        }

    def scales(self, p: np.ndarray) -> np.ndarray:
        """``1/V`` for concentration species, 1 for amounts, 0 for boundary species."""
        volumes = _sizes(self.volume_index, p)
        return np.where(self.boundary, 0.0, 1.0 / volumes)

    def coefficients(self, p: np.ndarray) -> np.ndarray:
        """Mass-action term constants for parameter vector ``p``."""
        return np.asarray(self.module.coefficients(p), dtype=float)[self.coefficient_index]

    def functions(
        self, p: np.ndarray, frozen: np.ndarray | None = None
    ) -> tuple[Callable[[float, np.ndarray], np.ndarray], Callable[[float, np.ndarray], Any]]:
        """``fun(t, x)`` and ``jac(t, x)`` (sparse CSC) for ``solve_ivp`` at parameters ``p``.

        ``frozen`` (a boolean mask over species) holds those species constant (clamps).
        """
        fun, values = self._closures(p, frozen)
        n, indices, indptr = self.n_species, self.jac_indices, self.jac_indptr

        def jac(t: float, x: np.ndarray) -> scipy.sparse.csc_array:
            return scipy.sparse.csc_array((values(t, x), indices, indptr), shape=(n, n))

        return fun, jac

    def jacobian_product(
        self, p: np.ndarray, frozen: np.ndarray | None = None
    ) -> Callable[[float, np.ndarray, np.ndarray], np.ndarray]:
        """``product(t, x, s)``: the Jacobian at ``(t, x)`` times the matrix ``s`` (species ×
        columns), e.g. forward sensitivities.

        A Jacobian of at most :data:`SMALL_JACOBIAN` non-zeros is applied entry by entry:
        building its sparse matrix costs tens of microseconds a call, more than the product.
        Terms are summed in the sparse product's order either way, since at a stiff
        equilibrium only that order's rounding cancels (see :attr:`_matrices`).
        """
        _, values = self._closures(p, frozen)
        n, indices, indptr = self.n_species, self.jac_indices, self.jac_indptr
        if len(indices) > SMALL_JACOBIAN:
            return lambda t, x, s: scipy.sparse.csc_array((values(t, x), indices, indptr), shape=(n, n)) @ s
        cols = np.repeat(np.arange(n), np.diff(indptr))

        def product(t: float, x: np.ndarray, s: np.ndarray) -> np.ndarray:
            out = np.zeros(s.shape)
            np.add.at(out, indices, values(t, x)[:, None] * s[cols])
            return out

        return product

    def _closures(
        self, p: np.ndarray, frozen: np.ndarray | None
    ) -> tuple[Callable[[float, np.ndarray], np.ndarray], Callable[[float, np.ndarray], np.ndarray]]:
        """``fun(t, x)`` and the Jacobian's non-zero values in CSC order (``jac_indices``)."""
        p = np.asarray(p, dtype=float)
        c = self.coefficients(p)
        scale = self.scales(p)
        if frozen is not None:
            scale = np.where(frozen, 0.0, scale)
        matrices = self._matrices
        terms, generic = matrices["terms"], matrices["generic"]
        term_map, generic_map = matrices["term_map"], matrices["generic_map"]
        index = self.term_index
        slots = index.shape[1]
        n = self.n_species
        module = self.module
        has_generic = generic.shape[1] > 0
        jac_scale = scale[self.jac_rows]
        entries = self.term_entries
        buffer = np.ones(n + 1)
        columns = [np.ascontiguousarray(index[:, s]) for s in range(slots)]

        def fun(t: float, x: np.ndarray) -> np.ndarray:
            buffer[:n] = x
            w = c.copy()
            for column in columns:  # a product per slot: faster than a reduction over few slots
                w *= buffer[column]
            dx = terms @ w
            if has_generic:
                dx += generic @ module.generic_rates(x, p, t)
            return scale * dx

        def values(t: float, x: np.ndarray) -> np.ndarray:
            buffer[:n] = x
            gathered = buffer[index]
            others = np.empty_like(gathered)
            for s in range(slots):
                others[:, s] = np.prod(np.delete(gathered, s, axis=1), axis=1) if slots > 1 else 1.0
            result = term_map @ (c[:, None] * others).ravel()[entries]
            if has_generic:
                result += generic_map @ module.generic_jac(x, p, t)
            return jac_scale * result

        return fun, values

    def dfdp(self, t: float, x: np.ndarray, p: np.ndarray) -> scipy.sparse.csr_array:
        """``∂f/∂p`` at ``(t, x, p)`` (needs ``compile_model(..., sensitivities=True)``)."""
        if not self.has_dfdp:
            raise ValueError("compiled without dfdp; use compile_model(model, sensitivities=True)")
        values = np.asarray(self.module.dfdp(x, p, t), dtype=float)
        return scipy.sparse.csr_array(
            (values, (self.dfdp_rows, self.dfdp_cols)), shape=(self.n_species, len(self.parameters))
        )

    def observe(self, x: np.ndarray, p: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Observables (rows) at states ``x`` (species × times), in their declared units."""
        if not self.observables:
            return np.zeros((0, np.shape(t)[0]))
        values = np.asarray(self._matrices["observables"] @ x, dtype=float)
        if len(self.observable_generic):
            values[self.observable_generic] = np.asarray(self.module.observables(x, p, t), dtype=float)
        return values * self.observable_factors[:, None]

    def amounts(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Amounts (state times compartment size) of states ``x`` (species × times)."""
        sizes = _sizes(self.amount_factors, p)
        return x * sizes[:, None]


def _sizes(index: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``p[index]`` where ``index >= 0``, else 1 (``p`` may be empty: a model of amounts and
    model variables, with no parameter or compartment)."""
    if not (index >= 0).any():
        return np.ones(len(index))
    return np.where(index >= 0, p[np.maximum(index, 0)], 1.0)


def compile_model(
    model: Model, *, sensitivities: bool = False, cache_dir: str | Path | bool | None = None
) -> CompiledOde:
    """Compile a validated model, reusing the in-process and on-disk caches.

    Parameters
    ----------
    model : Model
    sensitivities : bool
        Also generate ``dfdp``.
    cache_dir : path, None or False
        Where compiled models are kept; None means the user cache folder
        (``$XDG_CACHE_HOME/degranulation`` or ``~/.cache/degranulation``); False disables it.
    """
    # The package's version and source are in the key, so that code generated by another
    # version (or an editable install before a change) is never reused.
    stamp = f"{CODEGEN_VERSION}:{version()}:{source_digest()}"
    key = hashlib.sha256(f"{model.content_hash}:{stamp}:{sensitivities}".encode()).hexdigest()
    if key in _MEMORY:
        return _MEMORY[key]
    folder = cache_folder(cache_dir)
    compiled = _read_cache(folder, key) if folder else None
    if compiled is None:
        from degranulation.symbolic import build_system

        compiled = compile_system(build_system(model), key=key, sensitivities=sensitivities)
        if folder:
            _write_cache(folder, compiled)
    _MEMORY[key] = compiled
    return compiled


_MEMORY: dict[str, CompiledOde] = {}


def _read_cache(folder: Path, key: str) -> CompiledOde | None:
    """The cached entry for ``key``, or None if it is absent, broken, altered or untrusted.

    The entry holds generated source that runs when the model is used, so it is loaded only
    if it can be trusted (:func:`~degranulation.user_cache.read_trusted`), it was made for
    ``key`` and its content matches its checksum; otherwise it is rebuilt (and replaced) by
    the caller.
    """
    content = read_trusted(folder / f"{key}.npz")
    if content is None:
        return None
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as data:
            stated, text = str(data["checksum"]), str(data["meta"])
            arrays = {name: data[name] for name in data.files if name not in ("meta", "checksum")}
        meta = json.loads(text)
        if meta.get("key") != key or stated != _checksum(text, arrays):
            return None  # damaged, truncated, altered or another model's: never run it
        return CompiledOde(
            key=key,
            species=tuple(meta["species"]),
            parameters=tuple(meta["parameters"]),
            observables=tuple(meta["observables"]),
            conservation_laws=tuple(tuple(v) for v in meta["conservation_laws"]),
            source=meta["source"],
            has_dfdp=meta["has_dfdp"],
            **arrays,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, zipfile.BadZipFile):
        return None  # broken (power loss, full disk): rebuilt, never fatal


def _checksum(meta: str, arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256(meta.encode())
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _write_cache(folder: Path, compiled: CompiledOde) -> None:
    """Store ``compiled`` under its key (:func:`~degranulation.user_cache.write_private`)."""
    meta = {
        "key": compiled.key,
        "species": compiled.species,
        "parameters": compiled.parameters,
        "observables": compiled.observables,
        "conservation_laws": compiled.conservation_laws,
        "source": compiled.source,
        "has_dfdp": compiled.has_dfdp,
    }
    arrays = {
        name: np.asarray(getattr(compiled, name))
        for name in (*_ARRAYS, "default_parameters", "default_initial", "amount_factors", "boundary")
    }
    text = json.dumps(meta, sort_keys=True)
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(text), checksum=np.array(_checksum(text, arrays)), **arrays)  # type: ignore[arg-type]  # numpy stubs type **kwds as allow_pickle
    write_private(folder / f"{compiled.key}.npz", buffer.getvalue())


def compile_system(system: OdeSystem, *, key: str = "", sensitivities: bool = False) -> CompiledOde:
    """Generate the numeric form of a symbolic system (no caching; see :func:`compile_model`)."""

    from degranulation.symbolic import derivative_of

    terms, term_reaction, generic = _split_laws(system)
    n = len(system.species)
    names = {s: f"x[{i}]" for i, s in enumerate(system.species_symbols)}
    names.update({s: f"p[{k}]" for k, s in enumerate(system.parameter_symbols)})
    printer = _printer_class()(names)
    stoich = system.effective_stoichiometry.tocsc()

    slots = max((sum(order for _, order in term.orders) for term in terms), default=0)
    index_of = {name: i for i, name in enumerate(system.species)}
    term_index = np.full((len(terms), slots), n, dtype=np.int64)
    for t, term in enumerate(terms):
        flat = [index_of[name] for name, order in term.orders for _ in range(order)]
        term_index[t, : len(flat)] = flat
    signs = np.array([term.sign for term in terms], dtype=float)
    term_stoich = (
        scipy.sparse.csr_array(stoich[:, term_reaction] @ scipy.sparse.diags_array(signs))
        if terms
        else scipy.sparse.csr_array((n, 0))
    )
    generic_stoich = scipy.sparse.csr_array(stoich[:, generic]) if generic else scipy.sparse.csr_array((n, 0))

    generic_jac = [
        (g, index_of[s.name], derivative_of(system.laws[j].expr, s))
        for g, j in enumerate(generic)
        for s in sorted(system.laws[j].expr.free_symbols & set(system.species_symbols), key=str)
    ]
    generic_jac = [entry for entry in generic_jac if entry[2] != 0]
    pattern = _jacobian_pattern(term_index, n, term_stoich, generic_stoich, generic_jac)

    dfdp = system.dfdp if sensitivities else {}
    distinct: dict[sympy.Expr, int] = {}
    coefficient_index = np.array(
        [distinct.setdefault(term.coefficient, len(distinct)) for term in terms], dtype=np.int64
    )
    observable_exprs = _observable_exprs(system)
    observables, generic_observables = _linear_observables(observable_exprs, index_of)
    source = _module_source(
        printer,
        coefficients=list(distinct),
        generic_rates=[system.laws[j].expr for j in generic],
        generic_jac=[expr for _, _, expr in generic_jac],
        observables=[observable_exprs[k] for k in generic_observables],
        dfdp=list(dfdp.values()),
    )
    amount_factors = np.array(
        [-1 if v is None else system.parameters.index(v) for v in system.volumes], dtype=np.int64
    )
    return CompiledOde(
        key=key or hashlib.sha256(source.encode()).hexdigest(),
        species=system.species,
        parameters=system.parameters,
        observables=tuple(o.id for o in system.model.observables),
        default_parameters=system.default_parameters(),
        default_initial=system.default_initial(),
        conservation_laws=system.conservation_laws,
        amount_factors=amount_factors,
        source=source,
        has_dfdp=sensitivities,
        term_index=term_index,
        coefficient_index=coefficient_index,
        term_stoich_data=term_stoich.data.astype(float),
        term_stoich_indices=term_stoich.indices.astype(np.int64),
        term_stoich_indptr=term_stoich.indptr.astype(np.int64),
        generic_stoich_data=generic_stoich.data.astype(float),
        generic_stoich_indices=generic_stoich.indices.astype(np.int64),
        generic_stoich_indptr=generic_stoich.indptr.astype(np.int64),
        volume_index=amount_factors,
        boundary=np.asarray(system.boundary, dtype=bool),
        observable_factors=_observable_factors(system, observable_exprs),
        observable_data=observables.data.astype(float),
        observable_indices=observables.indices.astype(np.int64),
        observable_indptr=observables.indptr.astype(np.int64),
        observable_generic=np.array(generic_observables, dtype=np.int64),
        dfdp_rows=np.array([i for i, _ in dfdp], dtype=np.int64),
        dfdp_cols=np.array([k for _, k in dfdp], dtype=np.int64),
        **pattern,
    )


def _split_laws(system: OdeSystem) -> tuple[list[Any], list[int], list[int]]:
    terms: list[Any] = []
    term_reaction: list[int] = []
    generic: list[int] = []
    for j, law in enumerate(system.laws):
        if law.terms is None:
            generic.append(j)
            continue
        for term in law.terms:
            terms.append(term)
            term_reaction.append(j)
    return terms, term_reaction, generic


def _jacobian_pattern(
    term_index: np.ndarray,
    n: int,
    term_stoich: scipy.sparse.csr_array,
    generic_stoich: scipy.sparse.csr_array,
    generic_jac: Sequence[tuple[int, int, sympy.Expr]],
) -> dict[str, np.ndarray]:
    """Fixed CSC pattern of J and the maps from rate derivatives to its non-zeros."""
    slots = term_index.shape[1]
    real = (term_index < n).ravel()
    entries = np.flatnonzero(real)
    entry_term, entry_species = entries // max(slots, 1), term_index.ravel()[entries]
    rows_t, cols_t, vals_t, src_t = _expand(scipy.sparse.csc_array(term_stoich), entry_term, entry_species)
    g_reaction = np.array([g for g, _, _ in generic_jac], dtype=np.int64)
    g_species = np.array([k for _, k, _ in generic_jac], dtype=np.int64)
    rows_g, cols_g, vals_g, src_g = _expand(scipy.sparse.csc_array(generic_stoich), g_reaction, g_species)
    keys = np.concatenate([cols_t * n + rows_t, cols_g * n + rows_g])
    unique, position = np.unique(keys, return_inverse=True)
    jac_cols, jac_rows = unique // n, unique % n
    indptr = np.searchsorted(jac_cols, np.arange(n + 1)).astype(np.int64)
    n_t = len(rows_t)
    term_map = scipy.sparse.csr_array((vals_t, (position[:n_t], src_t)), shape=(len(unique), len(entries)))
    generic_map = scipy.sparse.csr_array(
        (vals_g, (position[n_t:], src_g)), shape=(len(unique), len(generic_jac))
    )
    return {
        "jac_indices": jac_rows.astype(np.int64),
        "jac_indptr": indptr,
        "jac_rows": jac_rows.astype(np.int64),
        "term_map_data": term_map.data.astype(float),
        "term_map_indices": term_map.indices.astype(np.int64),
        "term_map_indptr": term_map.indptr.astype(np.int64),
        "generic_map_data": generic_map.data.astype(float),
        "generic_map_indices": generic_map.indices.astype(np.int64),
        "generic_map_indptr": generic_map.indptr.astype(np.int64),
        "term_entries": entries.astype(np.int64),
    }


def _expand(
    stoich: scipy.sparse.csc_array, columns: np.ndarray, species: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For derivative entries (column j, species k): every (row i, k, N[i, j], entry)."""
    starts = stoich.indptr[columns]
    counts = stoich.indptr[columns + 1] - starts
    source = np.repeat(np.arange(len(columns)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    pointers = np.repeat(starts, counts) + offsets
    return (
        stoich.indices[pointers].astype(np.int64),
        species[source].astype(np.int64),
        stoich.data[pointers].astype(float),
        source,
    )


def _observable_exprs(system: OdeSystem) -> list[sympy.Expr]:
    from degranulation.expressions import parse_expression

    return [parse_expression(o.expr).expr for o in system.model.observables]


def _linear_observables(
    exprs: Sequence[sympy.Expr], index_of: dict[str, int]
) -> tuple[scipy.sparse.csr_array, list[int]]:
    """Weighted sums of species as CSR rows; the positions of the other observables."""
    import sympy

    rows, cols, data, generic = [], [], [], []
    for k, expr in enumerate(exprs):
        terms = expr.as_coefficients_dict()
        if all(
            isinstance(s, sympy.Symbol) and s.name in index_of and isinstance(c, sympy.Number)
            for s, c in terms.items()
        ):
            for s, c in terms.items():
                rows.append(k)
                cols.append(index_of[s.name])
                data.append(float(c))
        else:
            generic.append(k)
    positions = (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64))
    matrix = scipy.sparse.csr_array((np.array(data), positions), shape=(len(exprs), len(index_of)))
    return matrix, generic


def _observable_factors(system: OdeSystem, exprs: Sequence[sympy.Expr]) -> np.ndarray:
    """Factor from an observable's internal value to its declared unit."""
    from degranulation.kinetics import expression_dimension, symbol_dimensions
    from degranulation.units import dimensionality, parse_unit, registry

    table = symbol_dimensions(system.model)
    factors = []
    for observable, expr in zip(system.model.observables, exprs, strict=True):
        # A model that does not enforce units takes the value as written, in the declared unit.
        model = system.model
        dim = expression_dimension(expr, table) if model.units_enforced else dimensionality(observable.unit)
        internal = model.units.scale(dim)
        declared = registry().Quantity(1.0, parse_unit(observable.unit)).to_base_units().magnitude
        factors.append(internal / float(declared))
    return np.array(factors, dtype=float)


@functools.cache
def _printer_class() -> type:
    """SymPy's NumPy printer writing model names as ``x[i]``, ``p[k]`` and time as ``t``
    (made on first use, so that loading a compiled model does not import SymPy)."""
    from sympy import Basic, true
    from sympy.printing.numpy import NumPyPrinter

    class _Printer(NumPyPrinter):  # type: ignore[misc]
        def __init__(self, names: dict[sympy.Symbol, str]) -> None:
            options = {"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": False}
            super().__init__(options)
            self._names = {s.name: text for s, text in names.items()}
            self._printed: dict[Basic, str] = {}

        def _print_Symbol(self, expr: sympy.Symbol) -> str:
            return self._names.get(expr.name, expr.name)

        def _print_Piecewise(self, expr: sympy.Piecewise) -> str:
            # Nested numpy.where, not SymPy's numpy.select: 4.5 µs against 19 µs a call on the
            # scalars a solver passes, where a model of many inputs spends its right-hand side.
            text = "numpy.nan"  # no condition holds: undefined, as SymPy's default
            for value, condition in reversed(expr.args):
                printed = self._print(value)
                text = (
                    printed
                    if condition is true
                    else f"numpy.where({self._print(condition)}, {printed}, {text})"
                )
            return text

        def _print(self, expr: Any, **kwargs: Any) -> str:
            # The derivatives of a large model repeat the same subexpressions (a piecewise
            # input in every entry of dfdp): each is printed once. Atoms are not kept (a
            # float's text depends on its depth), nor text whose printing noted an
            # unsupported construct or a number constant, which each doprint must see.
            if kwargs or not isinstance(expr, Basic) or expr.is_Atom:
                return super()._print(expr, **kwargs)
            text = self._printed.get(expr)
            if text is None:
                noted = len(self._not_supported) + len(self._number_symbols)
                text = super()._print(expr)
                if len(self._not_supported) + len(self._number_symbols) == noted:
                    self._printed[expr] = text
            return text

    return _Printer


def __getattr__(name: str) -> Any:
    if name == "_Printer":  # kept importable by name for the modules that print expressions
        return _printer_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _repeated(exprs: Sequence[sympy.Expr]) -> list[sympy.Expr]:
    """The subexpressions (not symbols or numbers) that occur more than once in ``exprs``,
    inner ones before those that contain them."""
    from sympy.functions.elementary.piecewise import ExprCondPair

    count: dict[sympy.Expr, int] = {}
    order: list[sympy.Expr] = []

    def visit(expr: sympy.Expr) -> None:
        if expr.is_Atom:
            return
        if isinstance(expr, ExprCondPair):  # a piecewise's (value, condition): not a value
            visit(expr.expr)
            visit(expr.cond)
            return
        if expr in count:  # its parts are counted once: computed once, with it
            count[expr] += 1
            return
        count[expr] = 1
        for arg in expr.args:
            visit(arg)
        order.append(expr)

    for expr in exprs:
        visit(expr)
    return [expr for expr in order if count[expr] > 1]


def _function_body(printer: Any, exprs: Sequence[sympy.Expr]) -> tuple[list[str], list[str]]:
    """Statements computing each repeated subexpression once (``_s0 = …``), and the text of
    each expression using them: a model whose inputs are piecewise functions of time repeats
    the same input in every rate law that uses it (Chen_MSB2009: the same few inputs in 266
    calls of ``numpy.where`` per right-hand side)."""
    saved = dict(printer._printed)  # the names are this function's locals
    statements = []
    for k, expr in enumerate(_repeated(exprs)):
        statements.append(f"_s{k} = {printer.doprint(expr)}")
        printer._printed[expr] = f"_s{k}"
    printed = [printer.doprint(e) for e in exprs]
    printer._printed = saved
    return statements, printed


def _module_source(printer: Any, **lists: list[sympy.Expr]) -> str:
    body = []
    for name, exprs in lists.items():
        arguments = "p" if name == "coefficients" else "x, p, t"
        statements, printed = _function_body(printer, exprs)
        if name == "observables" and printed:
            values = f"numpy.array(numpy.broadcast_arrays({', '.join(printed)}, t))[:-1]"
        elif printed:
            values = "numpy.array([\n        " + ",\n        ".join(printed) + ",\n    ], dtype=float)"
        else:
            values = "numpy.zeros(0)"
        lines = [*statements, f"return {values}"]
        if any("numpy.where(" in text for text in statements + printed):
            # A piecewise evaluates every branch; one not taken may divide by zero harmlessly.
            lines = ["with numpy.errstate(divide='ignore', invalid='ignore'):", *("    " + s for s in lines)]
        body.append(f"def {name}({arguments}):\n" + "".join(f"    {line}\n" for line in lines))
    imports = sorted(printer.module_imports)
    header = "\n".join(f"import {module}" for module in {"numpy", *imports})
    counts = f"N_GENERIC = {len(lists['generic_rates'])}\nN_GENERIC_JAC = {len(lists['generic_jac'])}\n"
    return f'"""Generated by degranulation.codegen; do not edit."""\n{header}\n\n{counts}\n\n' + "\n\n".join(
        body
    )
