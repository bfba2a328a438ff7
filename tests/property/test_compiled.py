"""Property tests: the compiled right-hand side, Jacobian and ``dfdp`` of random mass-action
networks against the SymPy system, against mass action evaluated with pint, and against
central finite differences."""

from __future__ import annotations

import re

import numpy as np
import sympy
from hypothesis import given
from hypothesis import strategies as st

from degranulation.codegen import CompiledOde, compile_model
from degranulation.network import Model
from degranulation.symbolic import build_system
from degranulation.testing.strategies import networks, parameter_vectors, state_scale, states
from degranulation.units import parse_unit, registry

_MASS_ACTION = re.compile(r"^mass_action\((\w+)(?:, (\w+))?\)$")


def _compiled(model: Model, *, sensitivities: bool = False) -> CompiledOde:
    return compile_model(model, sensitivities=sensitivities, cache_dir=False)


def _term_magnitude(compiled: CompiledOde, model: Model, x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``|D|·|N|·|v|`` per species: the size of the terms summed into ``dx/dt``, so that
    tolerances hold where forward and reverse rates cancel. ``|v|`` sums the magnitudes of
    each rate's terms: a reversible reaction's net rate is itself 0 at equilibrium
    (``S5 + S0 + S3 <-> S0`` with kf·S5·S3 = kr), where its derivatives are not."""
    system = build_system(model)
    magnitudes = [sympy.Add(*map(sympy.Abs, sympy.Add.make_args(sympy.expand(v)))) for v in system.rates]
    rates = _evaluate(magnitudes, system, x, p)
    stoichiometry = np.abs(system.effective_stoichiometry.toarray())
    return compiled.scales(p) * (stoichiometry @ rates)


def _evaluate(exprs, system, x: np.ndarray, p: np.ndarray) -> np.ndarray:
    values = {s: sympy.Float(v, 17) for s, v in zip(system.species_symbols, x, strict=True)}
    values |= {s: sympy.Float(v, 17) for s, v in zip(system.parameter_symbols, p, strict=True)}
    return np.array([float(e.xreplace(values)) for e in exprs], dtype=float)


@given(model=networks(), data=st.data())
def test_compiled_rhs_equals_sympy_rhs(model: Model, data: st.DataObject) -> None:
    compiled = _compiled(model)
    x, p = data.draw(states(compiled)), data.draw(parameter_vectors(compiled))
    system = build_system(model)
    fun, _ = compiled.functions(p)
    expected = _evaluate(system.rhs, system, x, p)
    # Float64 evaluation order differs: allow a few ulps of the summed terms.
    tolerance = 1e-12 * _term_magnitude(compiled, model, x, p) + 1e-300
    assert np.all(np.abs(fun(0.0, x) - expected) <= tolerance)


@given(model=networks(), data=st.data())
def test_rhs_equals_mass_action_evaluated_with_pint(model: Model, data: st.DataObject) -> None:
    """An oracle independent of degranulation.kinetics: each direction's rate is
    ``k·Π x**order`` computed by pint from the values as written; a concentration per time
    is turned into an extent rate with the volume of its species' compartment (SBML); the
    amount of species ``i`` changes by ``Σ_j N_ij v_j`` (boundary species: 0)."""
    compiled = _compiled(model)
    x = data.draw(states(compiled))
    p = compiled.default_parameters  # the pint side reads the values as written in the model
    fun, _ = compiled.functions(p)
    ureg = registry()
    units = model.units
    per_time = ureg.Quantity(1.0, parse_unit(f"{units.amount}/{units.time}"))
    quantities, is_concentration = {}, {}
    for i, species in enumerate(model.species):
        unit = ureg.Quantity(1.0, parse_unit(species.initial.unit))
        is_concentration[species.id] = unit.check("[concentration]")
        quantities[species.id] = x[i] * ureg.Quantity(
            1.0, parse_unit(units.concentration if is_concentration[species.id] else units.amount)
        )
    size = {c.id: c.size.value * ureg.Quantity(1.0, parse_unit(c.size.unit)) for c in model.compartments}
    constant = {k.id: k.value.value * ureg.Quantity(1.0, parse_unit(k.value.unit)) for k in model.parameters}
    expected = {s.id: 0.0 * per_time for s in model.species}
    magnitude = {s.id: 0.0 for s in model.species}
    for reaction in model.reactions:
        kf, kr = _MASS_ACTION.match(reaction.rate).groups()
        directions = [(kf, reaction.reactants, reaction.products)]
        if kr is not None:
            directions.append((kr, reaction.products, reaction.reactants))
        for name, consumed, produced in directions:
            rate = constant[name]
            for species_id, order in consumed:
                rate = rate * quantities[species_id] ** order
            if rate.check("[concentration]/[time]"):
                involved = [s for s, _ in consumed or produced]
                volumes = {model.get_species(s).compartment for s in involved if is_concentration[s]}
                volumes = volumes or {model.get_species(s).compartment for s in involved}
                (volume,) = volumes
                rate = rate * size[volume]
            rate = rate.to(per_time.units)
            for species_id, order in consumed:
                expected[species_id] -= order * rate
                magnitude[species_id] += order * abs(rate.magnitude)
            for species_id, order in produced:
                expected[species_id] += order * rate
                magnitude[species_id] += order * abs(rate.magnitude)
    got = compiled.amounts(fun(0.0, x)[:, None], p)[:, 0]
    for i, species in enumerate(model.species):
        want = 0.0 if species.boundary else expected[species.id].to(per_time.units).magnitude
        assert abs(got[i] - want) <= 1e-9 * magnitude[species.id] + 1e-300, species.id


def _central_differences(f, point: np.ndarray, steps: np.ndarray) -> np.ndarray:
    columns = []
    for k, h in enumerate(steps):
        delta = np.zeros_like(point)
        delta[k] = h
        columns.append((f(point + delta) - f(point - delta)) / (2 * h))
    return np.column_stack(columns)


@given(model=networks(), data=st.data())
def test_jacobian_matches_central_differences(model: Model, data: st.DataObject) -> None:
    compiled = _compiled(model)
    x, p = data.draw(states(compiled)), data.draw(parameter_vectors(compiled))
    fun, jac = compiled.functions(p)
    scale = state_scale(compiled)
    numeric = _central_differences(lambda y: fun(0.0, y), x, 1e-5 * scale)
    analytic = jac(0.0, x).toarray()
    # Rates are polynomials of degree <= 3: the central-difference error is ~(h/scale)**2 times
    # the terms summed into dx_i/dt near the scale, and J_ik * scale_k is bounded by those terms.
    terms = _term_magnitude(compiled, model, np.maximum(x, scale), p)
    tolerance = 1e-6 * np.outer(terms, 1.0 / scale) + 1e-300
    assert np.all(np.abs(analytic - numeric) <= tolerance)


@given(model=networks(), data=st.data())
def test_dfdp_matches_central_differences(model: Model, data: st.DataObject) -> None:
    compiled = _compiled(model, sensitivities=True)
    x, p = data.draw(states(compiled)), data.draw(parameter_vectors(compiled))
    numeric = _central_differences(lambda q: compiled.functions(q)[0](0.0, x), p, 1e-6 * p)
    analytic = compiled.dfdp(0.0, x, p).toarray()
    terms = _term_magnitude(compiled, model, x, p)
    tolerance = 1e-6 * np.outer(terms, 1.0 / p) + 1e-300
    assert np.all(np.abs(analytic - numeric) <= tolerance)
