"""BioNetGen ``.net`` constructs of BioNetGen 2.9 output (issue 12), each against a closed form or
an independent SciPy solve of the equations written by hand.

BioNetGen's rate laws are those of its Network3 engine (``rxn_rate`` in RuleWorld/bionetgen,
``bng2/Network3``): ``MM kcat Km`` with reactants ``S, E…`` is ``kcat·E·S_f/(Km + S_f)``,
``S_f = ½(b + √(b² + 4·S·Km))``, ``b = S − Km − E``; ``Sat k K`` with reactants ``X1, X2`` is
``k·X1/(K + X1)·X2``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import degranulation as dg
from degranulation.errors import ModelValidationError, UnitWarning, UnsupportedFeatureError
from degranulation.formats.bngnet import loads_bngnet
from degranulation.network import Observable

TIMES = np.linspace(0.0, 10.0, 11)


def _run(model, **options):
    ds = dg.simulate(
        model, t=[f"{float(t)!r} s" for t in TIMES], rtol=1e-10, atol=1e-10, cache_dir=False, **options
    )
    return {name: ds[name].pint.to("molecule").pint.magnitude for name in ds.data_vars}


def _reference(rhs, y0):
    return solve_ivp(rhs, (0, TIMES[-1]), y0, method="LSODA", t_eval=TIMES, rtol=1e-11, atol=1e-11).y


def test_fixed_species_after_a_compartment_prefix_is_not_used_up():
    # Was: '@C::$X()' was not fixed, so X decayed as exp(-k t); fixed, Y = k·X0·t exactly.
    text = (
        'version("2.9.1")\nsetOption("SpeciesLabel","HNauty")\n'  # were refused as text outside a block
        "begin parameters\n 1 k 0.1\nend parameters\n"
        "begin species\n 1 @C::$X() 100\n 2 @C::Y() 0\nend species\n"
        "begin reactions\n 1 1 2 k\nend reactions\n"
    )
    model = loads_bngnet(text)
    assert [s.boundary for s in model.species] == [True, False]
    values = _run(model)
    np.testing.assert_allclose(values["S1"], 100.0)
    np.testing.assert_allclose(values["S2"], 0.1 * 100.0 * TIMES, rtol=1e-8)


def test_michaelis_menten_is_bionetgen_quadratic_free_substrate():
    kcat, km, s0, e0 = 0.7, 30.0, 200.0, 50.0
    text = (
        f"begin parameters\n 1 kcat {kcat}\n 2 Km {km}\nend parameters\n"
        f"begin species\n 1 S() {s0}\n 2 E() {e0}\n 3 P() 0\nend species\n"
        "begin reactions\n 1 1,2 2,3 MM kcat Km #_R1\nend reactions\n"
    )
    values = _run(loads_bngnet(text))

    def rhs(t, y):
        s, e, _ = y
        b = s - km - e
        free = 0.5 * (b + np.sqrt(b * b + 4 * s * km))
        rate = kcat * e * free / (km + free)
        return [-rate, 0.0, rate]

    reference = _reference(rhs, [s0, e0, 0.0])
    for k, name in enumerate(["S1", "S2", "S3"]):
        np.testing.assert_allclose(values[name], reference[k], rtol=1e-7, atol=1e-7)
    # With the enzyme at quasi-steady state the free substrate is less than the total.
    assert values["S3"][1] < kcat * e0 * s0 / (km + s0) * TIMES[1]


def test_saturation_law():
    k, K = 0.02, 40.0
    text = (
        f"begin parameters\n 1 k {k}\n 2 K {K}\nend parameters\n"
        "begin species\n 1 A() 100\n 2 B() 20\n 3 C() 0\nend species\n"
        "begin reactions\n 1 1,2 3 Sat k K\nend reactions\n"
    )
    model = loads_bngnet(text)
    assert {p.id: p.value.unit for p in model.parameters} == {"k": "1/s", "K": "molecule"}

    def rhs(t, y):
        a, b, _ = y
        rate = k * a / (K + a) * b
        return [-rate, -rate, rate]

    reference = _reference(rhs, [100.0, 20.0, 0.0])
    values = _run(model)
    for j, name in enumerate(["S1", "S2", "S3"]):
        np.testing.assert_allclose(values[name], reference[j], rtol=1e-7, atol=1e-7)


def test_if_with_any_logical_operator():
    # A decays at k2 only while Atot >= 50 and the switch is on (k == 1 && !(k != 1) || never):
    # A = 100·exp(-k2 t) until it reaches 50 at t* = ln 2 / k2, then stays at 50.
    k2 = 0.2
    text = (
        f"begin parameters\n 1 k 1\n 2 k2 {k2}\nend parameters\n"
        "begin species\n 1 A() 100\nend species\n"
        "begin functions\n 1 f() if(Atot>=50&&k==1&&!(k!=1)||Atot<0,k2,0)\nend functions\n"
        "begin reactions\n 1 1 0 f\nend reactions\n"
        "begin groups\n 1 Atot 1\nend groups\n"
    )
    values = _run(loads_bngnet(text))
    expected = np.maximum(100.0 * np.exp(-k2 * TIMES), 50.0)
    np.testing.assert_allclose(values["S1"], expected, rtol=1e-6, atol=1e-6)


def test_group_named_like_a_species_does_not_replace_it():
    # Was: group 'S1' (= 2*S2) became observable S1, and dg.simulate returned it for species S1.
    text = (
        "begin parameters\n 1 k 0.1\nend parameters\n"
        "begin species\n 1 A() 100\n 2 B() 0\nend species\n"
        "begin reactions\n 1 1 2 k\nend reactions\n"
        "begin groups\n 1 S1 2*2\nend groups\n"
    )
    model = loads_bngnet(text)
    values = _run(model)
    np.testing.assert_allclose(values["S1"], 100.0 * np.exp(-0.1 * TIMES), rtol=1e-7)
    np.testing.assert_allclose(values["S1_group"], 2 * 100.0 * (1 - np.exp(-0.1 * TIMES)), rtol=1e-7)


def test_simulate_refuses_an_invalid_model():
    model = loads_bngnet(
        "begin parameters\n 1 k 0.1\nend parameters\nbegin species\n 1 A() 100\nend species\n"
        "begin reactions\n 1 1 0 k\nend reactions\n"
    )
    clash = type(model)(**{**model.__dict__, "observables": (Observable("S1", "S1", "molecule"),)})
    with pytest.raises(ModelValidationError) as refused:
        dg.simulate(clash, t="1 s", cache_dir=False)
    assert "already used" in str(refused.value.issues[0])


def test_a_function_whose_units_disagree_is_read_as_written():
    """f() = k1*(1 + Atot) adds a number to a molecule count: BioNetGen has no units and uses the
    numbers, dA/dt = -k1(1 + A)A, so A = 1/((1/A0 + 1)·exp(k1 t) − 1) (closed form, Bernoulli)."""
    text = (
        "begin parameters\n 1 k1 0.5\nend parameters\n"
        "begin functions\n 1 f() k1*(1 + Atot)\nend functions\n"
        "begin species\n 1 A() 10\n 2 B() 0\nend species\n"
        "begin reactions\n 1 1 2 f #R1\nend reactions\n"
        "begin groups\n 1 Atot 1\nend groups\n"
    )
    with pytest.warns(UnitWarning) as caught:
        model = loads_bngnet(text)
    assert len(caught) == 1 and "'molecule' vs 'dimensionless'" in str(caught[0].message)
    assert not model.units_enforced
    values = _run(model)
    np.testing.assert_allclose(values["S1"], 1.0 / ((1 / 10 + 1) * np.exp(0.5 * TIMES) - 1), rtol=1e-7)
    with pytest.raises(UnsupportedFeatureError, match="different dimensions"):
        loads_bngnet(text, strict_units=True)
