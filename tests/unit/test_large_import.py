"""Importing a large model stays structural (issues 12 and 13).

Chen_MSB2009 (500 species, 827 reactions) took over 5 minutes to import: 150 s went to
``sympy.simplify`` of the compartment-size column of ``dfdp``, 20 s to ``sympy.diff``
building a ``Derivative`` for every subexpression of every rate law, and each PEtab formula
cell was parsed twice and compiled three times. These tests pin the structure that removed
that work: no ``simplify``, ``diff`` only at the leaves that are not sums or products, one parse
per formula cell. Timings are not asserted here (benchmarks/test_sbml_import.py reports them).

References: the generated model as written (its own compiled right-hand side) for the SBML
round trip; central differences of the compiled right-hand side for ``dfdp``; the product and
sum rules by hand for the derivatives.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import sympy
from data_files import DATA

import degranulation as dg
from degranulation.codegen import compile_model
from degranulation.symbolic import build_system, derivative_of
from degranulation.testing.networks import random_network

N_SPECIES, N_REACTIONS = 500, 800


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[dg.Model, dg.Model]:
    """A seeded 500-species network and the same network read back from SBML."""
    model = random_network(N_SPECIES, N_REACTIONS, seed=0)
    path = dg.write_sbml(model, tmp_path_factory.mktemp("large") / "network.xml")
    return model, dg.read_sbml(path)


def test_large_sbml_import_gives_the_model_as_written(large: tuple[dg.Model, dg.Model]) -> None:
    written, imported = large
    assert len(imported.species) == N_SPECIES
    assert len(imported.reactions) == N_REACTIONS
    ours, theirs = (compile_model(m, cache_dir=False) for m in (written, imported))
    assert theirs.species == ours.species
    rhs_written = ours.functions(ours.default_parameters)[0](0.0, ours.default_initial)
    rhs_imported = theirs.functions(theirs.default_parameters)[0](0.0, theirs.default_initial)
    np.testing.assert_allclose(rhs_imported, rhs_written, rtol=1e-10, atol=1e-12 * np.abs(rhs_written).max())


def test_dfdp_of_a_large_model_needs_no_simplification(large: tuple[dg.Model, dg.Model]) -> None:
    """The compartment-size columns, where rates in amount per time cancel against 1/V."""
    _, model = large
    system = build_system(model)
    with mock.patch.object(sympy, "simplify", side_effect=AssertionError("simplify called")):
        dfdp = system.dfdp
    # A concentration species changed only by rates proportional to its compartment's size
    # (v = V·g, g free of V) does not depend on that size: no entry, not an entry that is 0.
    stoichiometry = system.effective_stoichiometry.tocsr()
    for i, volume in enumerate(system.volumes):
        if volume is None:
            continue
        v = sympy.Symbol(volume)
        k = system.parameters.index(volume)
        reactions = stoichiometry.indices[stoichiometry.indptr[i] : stoichiometry.indptr[i + 1]]
        if all(not (term / v).has(v) for j in reactions for term in sympy.Add.make_args(system.laws[j].expr)):
            assert (i, k) not in dfdp
    # The numbers: central differences of the compiled right-hand side over each size.
    compiled = compile_model(model, cache_dir=False, sensitivities=True)
    x, p = compiled.default_initial, compiled.default_parameters
    analytic = compiled.dfdp(0.0, x, p).toarray()
    for k in range(len(model.parameters), len(p)):
        h = 1e-6 * p[k]
        up, down = p.copy(), p.copy()
        up[k] += h
        down[k] -= h
        numeric = (compiled.functions(up)[0](0.0, x) - compiled.functions(down)[0](0.0, x)) / (2 * h)
        np.testing.assert_allclose(analytic[:, k], numeric, rtol=1e-6, atol=1e-8 * np.abs(numeric).max())


def test_sums_and_products_are_differentiated_without_sympy_diff() -> None:
    a, b, c, k1, k2, volume, t = sympy.symbols("a b c k1 k2 V t")
    rate = volume * (k1 * a * b - k2 * c)
    with mock.patch.object(sympy, "diff", wraps=sympy.diff) as diff:
        assert derivative_of(rate, a) == volume * k1 * b
        assert derivative_of(rate, volume) == k1 * a * b - k2 * c
        assert derivative_of(rate, t) == 0
    assert diff.call_count == 0
    # A piecewise input is differentiated by SymPy, alone: the product rule does the rest.
    step = sympy.Piecewise((0, t < k2), (k1, True))
    with mock.patch.object(sympy, "diff", wraps=sympy.diff) as diff:
        assert derivative_of(step * a * b, k1) == sympy.Piecewise((0, t < k2), (1, True)) * a * b
    assert diff.call_count == 1


def test_each_petab_formula_cell_is_parsed_once(tmp_path: Path) -> None:
    from petab.v1 import math as petab_math

    from degranulation.estimation.petab.formulas import parse_formula

    shutil.copytree(DATA / "petab_test_suite" / "0001", tmp_path / "0001")
    parse_formula.cache_clear()
    with mock.patch.object(petab_math, "sympify_petab", wraps=petab_math.sympify_petab) as parse:
        dg.read_petab(tmp_path / "0001" / "_0001.yaml", cache_dir=False)
    # obs_a's observableFormula 'A' and noiseFormula '0.5' (petab's own reading of the
    # tables may parse them too, through its own module's name for the function).
    formulas = [call.args[0] for call in parse.call_args_list]
    assert sorted(map(str, formulas)) == ["0.5", "A"]


def test_a_repeated_input_is_computed_once_per_right_hand_side() -> None:
    """Chen_MSB2009's rate laws repeat the same piecewise inputs of time (266 calls of
    numpy.where per right-hand side, 744 µs); each repeated subexpression is now one local.
    Reference: the rates by hand, k·u(t)·x with u(t) = 2 after t = 1, else 1."""
    x, t = sympy.symbols("x t")
    u = sympy.Piecewise((2.0, t > 1), (1.0, True))
    from degranulation.codegen import _function_body, _printer_class

    printer = _printer_class()({x: "x[0]"})
    statements, printed = _function_body(printer, [3 * u * x, 5 * u * x**2, u])
    assert statements == ["_s0 = numpy.where(numpy.greater(t, 1), 2.0, 1.0)"]
    assert printed[2] == "_s0" and all("where" not in text for text in printed)
    namespace = {"numpy": np, "x": [4.0]}
    for time, input_value in ((0.5, 1.0), (2.0, 2.0)):
        namespace["t"] = time
        exec(statements[0], namespace)
        values = [eval(text, namespace) for text in printed]
        np.testing.assert_allclose(values, [12 * input_value, 80 * input_value, input_value])


def test_a_petab_formula_gradient_computes_a_repeated_root_once() -> None:
    """Fiedler_BMCSystBiol2016's observables are a closed-form steady state whose gradients
    repeat the same square root dozens of times (3 ms per call); the generated gradient now
    computes each repeated subexpression once. Reference: the derivatives by hand,
    d/da (a·r + r) = r + (a + 1)·b/(2r) and d/db = (a + 1)·a/(2r), with r = sqrt(a·b + 1)."""
    from degranulation.estimation.petab.formulas import compiled_text

    a, b = sympy.symbols("a b")
    r = sympy.sqrt(a * b + 1)
    value, gradient, modules = compiled_text(a * r + r, [a, b])
    assert gradient.count("sqrt(") == 1
    namespace: dict = {m: __import__(m) for m in modules | {"numpy"}}
    exec(f"def f(v):\n{value}\ndef g(v):\n{gradient}", namespace)
    va, vb = 3.0, 5.0
    root = np.sqrt(va * vb + 1)
    np.testing.assert_allclose(namespace["f"]([va, vb]), (va + 1) * root, rtol=1e-14)
    expected = [root + (va + 1) * vb / (2 * root), (va + 1) * va / (2 * root)]
    np.testing.assert_allclose(namespace["g"]([va, vb]), expected, rtol=1e-14)
