"""``Model`` → ``OdeSystem``: stoichiometry, per-reaction rates, sparse exact Jacobian, ``dfdp``
and exact conservation laws, all in SymPy and in the model's unit system.

The system is ``dx/dt = D · N · v(x, p, t)``: ``N`` the stoichiometry (species × reactions),
``v`` the extent rates and ``D`` the diagonal of ``1/V`` for concentration species, ``1`` for
amounts and ``0`` for boundary species. Derivatives are taken per reaction, only over the
names that reaction's rate uses, so thousands of reactions build in seconds.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.sparse
import sympy

from degranulation.dimensions import dims, species_dimension
from degranulation.expressions import symbol
from degranulation.kinetics import RateLaw, rate_law, symbol_dimensions
from degranulation.network import Model, exact
from degranulation.values import internal_value


@dataclass(frozen=True, eq=False)
class OdeSystem:
    """The symbolic ODE system of a model.

    Attributes
    ----------
    model : Model
    species : tuple of str
        State order.
    parameters : tuple of str
        Order of the parameter vector ``p``: parameters, then compartment sizes.
    laws : tuple of RateLaw
        Extent rate of each reaction (with mass-action terms where declared so).
    stoichiometry : scipy.sparse.csr_array
        ``N`` (species × reactions), int64, or float64 where a coefficient is not a whole
        number (``0.5 A -> B``); boundary species' rows included.
    volumes : tuple of str or None
        For each species, the compartment whose size divides its rate (concentrations).
    boundary : numpy.ndarray of bool
        Species that reactions do not change.
    """

    model: Model
    species: tuple[str, ...]
    parameters: tuple[str, ...]
    laws: tuple[RateLaw, ...]
    stoichiometry: scipy.sparse.csr_array
    volumes: tuple[str | None, ...]
    boundary: np.ndarray

    @property
    def rates(self) -> tuple[sympy.Expr, ...]:
        """``v``: the extent rate of each reaction."""
        return tuple(law.expr for law in self.laws)

    @functools.cached_property
    def species_symbols(self) -> tuple[sympy.Symbol, ...]:
        """SymPy symbols of the state, in order."""
        return tuple(symbol(s) for s in self.species)

    @functools.cached_property
    def parameter_symbols(self) -> tuple[sympy.Symbol, ...]:
        """SymPy symbols of ``p``, in order."""
        return tuple(symbol(s) for s in self.parameters)

    @functools.cached_property
    def effective_stoichiometry(self) -> scipy.sparse.csr_array:
        """``N`` with boundary species' rows zeroed."""
        keep = scipy.sparse.diags_array((~self.boundary).astype(np.int64), dtype=np.int64)
        return scipy.sparse.csr_array(keep @ self.stoichiometry)

    def _scale(self, row: int) -> sympy.Expr:
        if self.boundary[row]:
            return sympy.Integer(0)
        volume = self.volumes[row]
        return sympy.Integer(1) if volume is None else 1 / symbol(volume)

    @functools.cached_property
    def rhs(self) -> tuple[sympy.Expr, ...]:
        """``dx/dt`` for each species, as SymPy expressions."""
        n = self.stoichiometry.tocoo()
        sums: list[list[sympy.Expr]] = [[] for _ in self.species]
        for i, j, coefficient in zip(n.row, n.col, n.data, strict=True):
            sums[i].append(_number(coefficient) * self.laws[j].expr)
        return tuple(self._scale(i) * sympy.Add(*terms) for i, terms in enumerate(sums))

    def rate_derivatives(self, wrt: tuple[sympy.Symbol, ...]) -> dict[tuple[int, int], sympy.Expr]:
        """``∂v_j/∂w_k`` for every reaction ``j`` and every ``w_k`` its rate uses (non-zero)."""
        position = {s: k for k, s in enumerate(wrt)}
        found: dict[tuple[int, int], sympy.Expr] = {}
        for j, law in enumerate(self.laws):
            for name in law.expr.free_symbols & position.keys():
                derivative = derivative_of(law.expr, name)
                if derivative != 0:
                    found[(j, position[name])] = derivative
        return found

    def _chain(self, derivatives: dict[tuple[int, int], sympy.Expr]) -> dict[tuple[int, int], sympy.Expr]:
        n = self.effective_stoichiometry.tocsc()
        entries: dict[tuple[int, int], list[sympy.Expr]] = {}
        for (j, k), derivative in derivatives.items():
            for pointer in range(n.indptr[j], n.indptr[j + 1]):
                i = int(n.indices[pointer])
                entries.setdefault((i, k), []).append(_number(n.data[pointer]) * derivative)
        return {key: self._scale(key[0]) * sympy.Add(*terms) for key, terms in entries.items()}

    @functools.cached_property
    def jac(self) -> dict[tuple[int, int], sympy.Expr]:
        """Sparse Jacobian ``∂(dx_i/dt)/∂x_k`` as ``{(i, k): expr}``, built per reaction."""
        return self._chain(self.rate_derivatives(self.species_symbols))

    @functools.cached_property
    def dfdp(self) -> dict[tuple[int, int], sympy.Expr]:
        """Sparse ``∂(dx_i/dt)/∂p_k`` as ``{(i, k): expr}`` (compartment sizes included)."""
        position = {name: k for k, name in enumerate(self.parameters)}
        # Concentration species also depend on their compartment's size through 1/V.
        divided = [
            (i, position[volume])
            for i, volume in enumerate(self.volumes)
            if volume is not None and not self.boundary[i]
        ]
        through_rates = self.rate_derivatives(self.parameter_symbols)
        derivatives = self._chain(through_rates)
        derivatives.update(self._volume_derivatives(divided, through_rates))
        return {key: value for key, value in derivatives.items() if value != 0}

    def _volume_derivatives(
        self, divided: list[tuple[int, int]], through_rates: dict[tuple[int, int], sympy.Expr]
    ) -> dict[tuple[int, int], sympy.Expr]:
        """``∂(dx_i/dt)/∂V`` for concentration species ``i`` in compartment ``V``.

        ``dx_i/dt = (1/V)·Σ_j N_ij·v_j``, so the derivative is ``(1/V)·Σ_j N_ij·(∂v_j/∂V − v_j/V)``.
        Taken per reaction and term by term, a rate proportional to ``V`` (an SBML rate in
        amount per time, ``V·k·a·b − V·kd·c``) cancels exactly as SymPy builds the
        difference, without simplifying whole sums.
        """
        n = self.effective_stoichiometry.tocsr()
        differences: dict[tuple[int, int], sympy.Expr] = {}  # each reaction's, for every species it changes
        found: dict[tuple[int, int], sympy.Expr] = {}
        for i, k in divided:
            volume = self.parameter_symbols[k]
            terms = []
            for pointer in range(n.indptr[i], n.indptr[i + 1]):
                j = int(n.indices[pointer])
                if (j, k) not in differences:
                    per_volume = sympy.Add(
                        *(term / volume for term in sympy.Add.make_args(self.laws[j].expr))
                    )
                    differences[(j, k)] = through_rates.get((j, k), 0) - per_volume
                terms.append(int(n.data[pointer]) * differences[(j, k)])
            found[(i, k)] = sympy.Add(*terms) / volume
        return found

    @functools.cached_property
    def conservation_laws(self) -> tuple[tuple[int, ...], ...]:
        """Integer vectors ``l`` with ``lᵀ·N = 0`` (exact, in amounts).

        ``Σ l_i · a_i`` is constant along any trajectory, where ``a_i`` is species ``i``'s
        amount (its concentration times its compartment's size).
        """
        return conservation_laws(self.effective_stoichiometry)

    def default_parameters(self) -> np.ndarray:
        """``p`` from the model's values, in the model's unit system."""
        model = self.model
        values = [internal_value(model, p.id, p.value) for p in model.parameters]
        values += [internal_value(model, c.id, c.size) for c in model.compartments]
        return np.array(values, dtype=float)

    def default_initial(self) -> np.ndarray:
        """``x(0)`` from the model's species, in the model's unit system."""
        model = self.model
        return np.array([internal_value(model, s.id, s.initial) for s in model.species], dtype=float)


class _Power(sympy.Function):
    """``base**exponent`` with a symbolic exponent, differentiated by the power rule."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        base, exponent = self.args
        if argindex == 1:
            return exponent * base ** (exponent - 1)
        return base**exponent * sympy.log(base)


def derivative_of(expr: sympy.Expr, name: sympy.Symbol) -> sympy.Expr:
    """``∂expr/∂name``, finite wherever it is defined for the solvers.

    SymPy writes ``d(x**n)/dx`` as ``n*x**n/x`` (NaN at ``x = 0``, where Hill functions start);
    powers with a symbolic exponent are differentiated by the power rule, ``n*x**(n - 1)``.
    ``floor`` and ``ceiling`` are steps, so their derivative is 0 almost everywhere (SymPy
    leaves it unevaluated, which cannot be printed).

    Examples
    --------
    >>> import sympy
    >>> from degranulation.symbolic import derivative_of
    >>> x, n, K = sympy.symbols("x n K")
    >>> derivative_of(x**n, x)
    n*x**(n - 1)
    >>> derivative_of((x / K) ** n, x)
    n*(x/K)**(n - 1)/K
    >>> derivative_of(3 * sympy.floor(2 * x) + x, x)
    1
    """
    # Sums and products are differentiated here, only in the terms and factors that use
    # ``name``: sympy.diff builds a Derivative for every subexpression, a few milliseconds
    # per rate law, which made the derivatives of a model with 800 reactions take 10 s.
    if expr == name:
        return sympy.Integer(1)
    if not expr.has_free(name):
        return sympy.Integer(0)
    if expr.is_Add:
        return sympy.Add(*(derivative_of(term, name) for term in expr.args))
    if expr.is_Mul:
        factors = expr.args
        return sympy.Add(
            *(
                sympy.Mul(*factors[:k], derivative_of(factor, name), *factors[k + 1 :])
                for k, factor in enumerate(factors)
                if factor.has_free(name)
            )
        )
    return _function_derivative(expr, name)


def _function_derivative(expr: sympy.Expr, name: sympy.Symbol) -> sympy.Expr:
    """``∂expr/∂name`` of a symbol, power or function call, as :func:`derivative_of` says."""
    if any(not power.exp.is_number for power in expr.atoms(sympy.Pow)):
        wrapped = expr.replace(lambda e: e.is_Pow and not e.exp.is_number, lambda e: _Power(*e.args))
        derivative = sympy.diff(wrapped, name).replace(
            lambda e: isinstance(e, _Power), lambda e: sympy.Pow(*e.args)
        )
    else:
        derivative = sympy.diff(expr, name)
    steps = (sympy.floor, sympy.ceiling)
    if derivative.has(sympy.Derivative):
        derivative = derivative.replace(
            lambda e: (
                isinstance(e, sympy.Subs)
                and isinstance(e.expr, sympy.Derivative)
                and e.expr.expr.func in steps
            ),
            lambda e: sympy.Integer(0),
        ).replace(
            lambda e: isinstance(e, sympy.Derivative) and e.expr.func in steps,
            lambda e: sympy.Integer(0),
        )
    return derivative


def build_system(model: Model) -> OdeSystem:
    """Turn a (validated) model into its symbolic ODE system.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.symbolic import build_system
    >>> system = build_system(dg.load_model("ige_fceri_crosslinking"))
    >>> system.species
    ('L', 'R', 'LR', 'RLR')
    """
    table = symbol_dimensions(model)
    laws = tuple(rate_law(model, j, table) for j in range(len(model.reactions)))
    stoichiometry = _stoichiometry(model)
    # A chemical species that is not an amount is a concentration: divided by its compartment's size.
    amount = dims(substance=1)
    volumes = tuple(
        s.compartment if species_dimension(s) != amount and not s.variable else None for s in model.species
    )
    return OdeSystem(
        model=model,
        species=model.species_ids,
        parameters=tuple(p.id for p in model.parameters) + tuple(c.id for c in model.compartments),
        laws=laws,
        stoichiometry=stoichiometry,
        volumes=volumes,
        boundary=np.array([s.boundary for s in model.species], dtype=bool),
    )


def _stoichiometry(model: Model) -> scipy.sparse.csr_array:
    """``N``: int64 when every coefficient is a whole number, else float64 (net changes
    summed exactly, so ``0.1 A -> 0.3 A`` changes ``A`` by 0.2)."""
    index = {name: i for i, name in enumerate(model.species_ids)}
    rows: list[int] = []
    cols: list[int] = []
    data: list[Fraction] = []
    for j, reaction in enumerate(model.reactions):
        change: dict[int, Fraction] = {}
        for sign, side in ((-1, reaction.reactants), (1, reaction.products)):
            for name, coefficient in side:
                change[index[name]] = change.get(index[name], Fraction(0)) + sign * exact(coefficient)
        for i, value in change.items():
            if value:
                rows.append(i)
                cols.append(j)
                data.append(value)
    whole = all(value.denominator == 1 for value in data)
    values = np.array([int(v) if whole else float(v) for v in data], dtype=np.int64 if whole else float)
    return scipy.sparse.csr_array(
        (values, (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64))),
        shape=(len(model.species), len(model.reactions)),
    )


def _entry(value: float) -> Fraction:
    """An entry of ``N`` exactly (a float as the decimal it is written as)."""
    return exact(int(value) if float(value).is_integer() else float(value))


def _number(value: float) -> sympy.Rational:
    entry = _entry(value)
    return sympy.Rational(entry.numerator, entry.denominator)


def conservation_laws(stoichiometry: scipy.sparse.sparray) -> tuple[tuple[int, ...], ...]:
    """Exact integer basis of the left null space of a stoichiometry matrix (integers, or
    floats taken as the decimals they are written as).

    Examples
    --------
    >>> import scipy.sparse
    >>> from degranulation.symbolic import conservation_laws
    >>> n = scipy.sparse.csr_array([[-1], [-1], [1]])   # A + B -> C
    >>> conservation_laws(n)
    ((1, 0, 1), (0, 1, 1))
    >>> conservation_laws(scipy.sparse.csr_array([[-1.0], [0.5]]))   # A -> 0.5 B: A + 2 B
    ((1, 2),)
    """
    from sympy.polys.domains import QQ
    from sympy.polys.matrices import DomainMatrix

    n_species = stoichiometry.shape[0]
    # Distinct reaction columns, up to sign, span the same space; dropping repeats (and the
    # reverse of each reversible step) keeps elimination small.
    csc = scipy.sparse.csc_array(stoichiometry)
    csc.sort_indices()
    columns = {
        tuple(zip(csc.indices[a:b].tolist(), (np.sign(csc.data[a]) * csc.data[a:b]).tolist(), strict=True))
        for a, b in zip(csc.indptr[:-1], csc.indptr[1:], strict=True)
        if b > a
    }
    if not columns:
        return tuple(tuple(int(i == k) for i in range(n_species)) for k in range(n_species))
    # Species are eliminated last-declared first: complexes become pivots, so the free
    # variables are the simple species and the basis vectors come out non-negative
    # (receptor and ligand totals) in the usual case.
    last = n_species - 1
    rows = {
        r: {last - i: QQ(*_entry(v).as_integer_ratio()) for i, v in column}
        for r, column in enumerate(sorted(columns))
    }
    matrix = DomainMatrix(rows, (len(rows), n_species), QQ)
    basis = matrix.nullspace().to_Matrix()
    laws = []
    for r in range(basis.rows):
        vector = [basis[r, last - c] for c in range(n_species)]
        denominator = functools.reduce(sympy.ilcm, (sympy.fraction(v)[1] for v in vector), 1)
        integers = [int(v * denominator) for v in vector]
        divisor = functools.reduce(sympy.igcd, integers, 0) or 1
        if sum(integers) < 0:
            divisor = -divisor
        laws.append(tuple(v // divisor for v in integers))
    return tuple(sorted(laws, reverse=True))
