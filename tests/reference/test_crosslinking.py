"""ige_fceri_crosslinking (biology.md M1) against references no one here wrote.

- BioNetGen 2.9.3's own trajectory of fceri_ji (RecMon, RecDim; biology.md D1.1), which
  depends only on the ligand module.
- The closed-form equilibrium of bivalent ligand / monovalent receptor crosslinking
  (biology.md §1.2, Dembo & Goldstein 1978): peak at x = 2·K1·L_free = 1 with height
  (√(1+κ)−1)²/κ, symmetric in log x.
- Receptor and ligand conservation.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from data_files import DATA

import degranulation as dg
from degranulation.codegen import compile_model
from degranulation.units import registry

# The bundled model is fceri_ji scaled from 1/1000 of a cell to a whole cell.
CELL_FRACTION = 1000.0


def read_gdat(path):
    with path.open() as handle:
        names = handle.readline().lstrip("#").split()
    data = np.loadtxt(path)
    return {name: data[:, k] for k, name in enumerate(names)}


@pytest.fixture(scope="module")
def model():
    return dg.load_model("ige_fceri_crosslinking")


def test_matches_bionetgen_fceri_ji_trajectory(model):
    # Reference: BioNetGen fceri_ji.gdat (simulate_ode t_end=600, n_steps=10, rtol=atol=1e-8).
    gdat = read_gdat(DATA / "bionetgen" / "fceri_ji" / "fceri_ji.gdat")
    times = [f"{t} s" for t in gdat["time"]]
    ds = dg.simulate(model, t=times, rtol=1e-10, atol=1e-6)
    for name in ("RecMon", "RecDim"):
        ours = ds[name].pint.to("molecule").pint.magnitude / CELL_FRACTION
        np.testing.assert_allclose(ours, gdat[name], rtol=1e-6, atol=1e-9, err_msg=name)


def test_matches_published_d1_1_table(model):
    # biology.md Table D1.1 (BioNetGen DAT_validate/fceri_ji.gdat, printed to 3 decimals).
    rec_mon = [400, 330.555, 273.433, 226.370, 187.535, 155.450, 128.915, 106.951, 88.757, 73.678, 61.175]
    ds = dg.simulate(model, t="600 s", points=11, rtol=1e-10, atol=1e-6)
    ours = ds["RecMon"].pint.magnitude / CELL_FRACTION
    np.testing.assert_allclose(ours, rec_mon, atol=6e-4)
    np.testing.assert_allclose(
        ds["RecDim"].pint.magnitude / CELL_FRACTION, 400 - np.array(rec_mon), atol=6e-4
    )


def phi_closed_form(x, kappa):
    """Fraction of receptors crosslinked at equilibrium (biology.md §1.2)."""
    r = (-(1 + x) + np.sqrt((1 + x) ** 2 + 4 * kappa * x)) / (2 * kappa * x)
    return kappa * x * r**2


@pytest.mark.parametrize("kappa", [1.0, 10.0, 100.0])
def test_equilibrium_crosslinking_matches_closed_form(model, kappa):
    # With off-rates the steady state must satisfy the detailed-balance closed form, whatever
    # the ligand dose; the peak over free ligand is at x = 1 with height (√(1+κ)−1)²/κ.
    r_total = 4e5
    km1, km2 = 0.01, 0.05
    kp1 = 1.32845238e-10
    kp2 = kappa * km2 / r_total  # κ = Kx·R_T with Kx = kp2/km2
    xs, phis = [], []
    for ligand in np.geomspace(1e5, 1e10, 11):
        ds = dg.simulate(
            model,
            t="1e6 s",
            points=2,
            params={"km1": f"{km1} 1/s", "km2": f"{km2} 1/s", "kp2": f"{kp2} 1/(molecule*s)"},
            initial={"L": f"{ligand} molecule"},
            rtol=1e-10,
            atol=1e-6,
        )
        final = {name: float(ds[name].pint.magnitude[-1]) for name in ("L", "R", "LR", "RLR")}
        x = 2 * (kp1 / km1) * final["L"]
        xs.append(x)
        phis.append(2 * final["RLR"] / r_total)
        assert phis[-1] == pytest.approx(phi_closed_form(x, kappa), rel=1e-6)
    # The closed form's own claims (biology.md §1.2): maximum at x = 1, symmetric in log x.
    grid = np.geomspace(1e-4, 1e4, 2001)
    values = phi_closed_form(grid, kappa)
    assert grid[np.argmax(values)] == pytest.approx(1.0, rel=1e-2)
    assert values.max() == pytest.approx((math.sqrt(1 + kappa) - 1) ** 2 / kappa, rel=1e-6)
    assert phi_closed_form(0.01, kappa) == pytest.approx(phi_closed_form(100.0, kappa), rel=1e-12)
    # Free-ligand doses around the peak were actually sampled, so the check covers the bell.
    assert min(xs) < 1 < max(xs)


def test_published_phi_max_values():
    # biology.md §1.2 lists φ_max = 0.172, 0.537, 0.819, 0.939 for κ = 1, 10, 100, 1000.
    for kappa, expected in [(1, 0.172), (10, 0.537), (100, 0.819), (1000, 0.939)]:
        assert (math.sqrt(1 + kappa) - 1) ** 2 / kappa == pytest.approx(expected, abs=6e-4)


def test_receptor_and_ligand_are_conserved(model):
    compiled = compile_model(model)
    # Conservation laws from the exact left null space of N: receptor R + LR + 2 RLR, ligand L + LR + RLR.
    assert set(compiled.conservation_laws) == {(0, 1, 1, 2), (1, 0, 1, 1)}
    ds = dg.simulate(model, t="600 s", params={"km1": "0.1 1/s", "km2": "0.2 1/s"}, rtol=1e-9, atol=1e-6)
    x = np.vstack([ds[name].pint.magnitude for name in compiled.species])
    for law in compiled.conservation_laws:
        total = np.asarray(law) @ x
        np.testing.assert_allclose(total, total[0], rtol=1e-8)


def mixed_unit_model(k_unit_value: str) -> dg.Model:
    """The same crosslinking network with the ligand as a concentration in the medium.

    1e6 cells/mL gives 1 nL of medium per cell, so 6e6 ligand molecules per cell are
    6e6 / (N_A · 1 nL) = 9.963 nM, and the per-site capture constant 1.32845238e-10 per
    molecule per s is 1.32845238e-10 · N_A · 1 nL in 1/(M*s).
    """
    return (
        dg.ModelBuilder(
            "crosslinking_mixed", units={"time": "min", "concentration": "uM", "amount": "molecule"}
        )
        .compartment("medium", "1 nL")
        .compartment("cell", "1.4 pL")
        .species("L", f"{6e6 / (6.02214076e23 * 1e-9) * 1e9!r} nM", compartment="medium")
        .species("R", "4e5 molecule", compartment="cell")
        .species("LR", "0 molecule", compartment="cell")
        .species("RLR", "0 molecule", compartment="cell")
        .parameter("kp1", k_unit_value)
        .parameter("kp2", "2.5e-4 1/(molecule*s)")
        .reaction("L + R -> LR", "mass_action(2*kp1)")
        .reaction("LR + R -> RLR", "mass_action(kp2)")
        .observable("RecDim", "2*RLR", "molecule")
        .build()
    )


def test_mixed_units_give_the_same_trajectory(model):
    # Ligand in nM in the medium, receptors in molecules per cell, time in minutes: once
    # converted, the trajectory equals the all-molecules model.
    kp1_per_molar = 1.32845238e-10 * 6.02214076e23 * 1e-9
    per_molar = mixed_unit_model(f"{kp1_per_molar!r} 1/(M*s)")
    per_nanomolar_minute = mixed_unit_model(f"{kp1_per_molar * 1e-9 * 60!r} 1/(nM*min)")
    times = [f"{t} s" for t in range(0, 601, 60)]
    reference_run = dg.simulate(model, t=times, rtol=1e-11, atol=1e-8)
    for variant in (per_molar, per_nanomolar_minute):
        ds = dg.simulate(variant, t=times, rtol=1e-11, atol=1e-8)
        np.testing.assert_allclose(
            ds["RecDim"].pint.to("molecule").pint.magnitude,
            reference_run["RecDim"].pint.magnitude,
            rtol=1e-7,
        )
        ligand_molecules = ds["L"].pint.to("nM").pint.magnitude * 1e-9 * 6.02214076e23 * 1e-9
        np.testing.assert_allclose(ligand_molecules, reference_run["L"].pint.magnitude, rtol=1e-7)
    # 1/(M*s) and 1/(nM*min) are the same constant: identical to rounding.
    a = dg.simulate(per_molar, t=times, rtol=1e-11, atol=1e-8)["RecDim"].pint.magnitude
    b = dg.simulate(per_nanomolar_minute, t=times, rtol=1e-11, atol=1e-8)["RecDim"].pint.magnitude
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_one_physical_atol_serves_mixed_units():
    # atol = "1e-3 molecule" means 1e-3 molecule for the receptor species (molecules per cell)
    # and 1e-3 molecule per nL of medium for the ligand (uM in the model): converted by pint here.
    ureg = registry()
    model = mixed_unit_model(f"{1.32845238e-10 * 6.02214076e23 * 1e-9!r} 1/(M*s)")
    times = [f"{t} s" for t in range(0, 601, 60)]
    ds = dg.simulate(model, t=times, rtol=1e-9, atol="1e-3 molecule")
    atol = dict(zip(["L", "R", "LR", "RLR"], json.loads(ds.attrs["solver"])["atol"], strict=True))
    per_medium = (ureg.Quantity(1e-3, "molecule") / ureg.Quantity(1.0, "nL")).to("uM").magnitude
    assert atol["L"] == pytest.approx(per_medium, rel=1e-12)
    assert atol["R"] == atol["LR"] == atol["RLR"] == pytest.approx(1e-3)
    reference = dg.simulate(model, t=times, rtol=1e-12, atol=1e-12)
    for name in ("L", "RecDim"):
        np.testing.assert_allclose(ds[name].pint.magnitude, reference[name].pint.magnitude, rtol=1e-6)
    # A concentration converts the other way: 1 fM of receptors in 1.4 pL is 8.4e-4 molecule.
    in_cell = (ureg.Quantity(1.0, "fM") * ureg.Quantity(1.4, "pL")).to("molecule").magnitude
    ds = dg.simulate(model, t=times, rtol=1e-9, atol="1 fM")
    assert json.loads(ds.attrs["solver"])["atol"][1] == pytest.approx(in_cell, rel=1e-12)
    # The batched sweep (stacked, banded order) and the sensitivities take it too.
    swept = dg.dose_response(
        model, "kp2", ["2.5e-4 1/(molecule*s)"], at="600 s", rtol=1e-9, atol="1e-3 molecule"
    )
    assert swept["RecDim"].pint.magnitude[0] == pytest.approx(
        reference["RecDim"].pint.magnitude[-1], rel=1e-6
    )
    sensitive = dg.simulate_sensitivities(model, t="600 s", wrt=["kp2"], points=3, atol="1e-3 molecule")
    assert sensitive["RecDim"].pint.magnitude[-1] == pytest.approx(
        reference["RecDim"].pint.magnitude[-1], rel=1e-5
    )


@pytest.mark.parametrize(
    ("atol", "message"),
    [("1 s", "'1 s' is .time.; an absolute tolerance must be"), ("-1 nM", "must be a positive amount")],
)
def test_a_tolerance_that_is_no_amount_is_refused(atol, message):
    model = mixed_unit_model(f"{1.32845238e-10 * 6.02214076e23 * 1e-9!r} 1/(M*s)")
    with pytest.raises(dg.UnitError, match=message) as caught:
        dg.simulate(model, t="1 s", atol=atol)
    assert caught.value.location == "atol"
