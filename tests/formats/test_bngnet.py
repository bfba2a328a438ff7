"""BioNetGen ``.net`` import against BioNetGen's own outputs (tests/data/bionetgen).

Every network in the reference folder imports with the counts its file declares and validates;
each network BioNetGen simulated reproduces its ``.gdat`` by BioNetGen's own validation rule
(``bng2/Perl2/verify.pl``: ``sqrt(Σ(ours − ref)² / Σ ref²) ≤ 1e-7`` over all rows and
observables), phase by phase as the ``.bngl`` actions ran.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from data_files import DATA, unpacked

import degranulation as dg
from degranulation.cli import main
from degranulation.errors import ModelFileError, UnsupportedFeatureError
from degranulation.formats.bngnet import read_bngnet, read_gdat
from degranulation.validation import find_issues

BIONETGEN = DATA / "bionetgen"
#: verify.pl's BUILD_ERR_THRESH.
NORM_ERROR = 1e-7
NETWORKS = sorted(p.name for p in BIONETGEN.iterdir() if p.is_dir())
SLOW = {"fceri_gamma2"}


def net(name: str) -> Path:
    return BIONETGEN / name / f"{name}.net"


def norm_error(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.sqrt(np.sum((ours - reference) ** 2) / np.sum(reference**2)))


def block_count(path: Path, block: str) -> int:
    text = path.read_text()
    found = re.search(rf"^begin {block}\n(.*?)^end {block}", text, re.S | re.M)
    return len([line for line in found[1].splitlines() if line.strip()]) if found else 0


def observed(ds, names) -> np.ndarray:
    """Observables as rows x times, in molecules (the import's amount unit)."""
    return np.array([ds[name].pint.to("molecule").pint.magnitude for name in names])


def run(model, times, *, initial=None, params=None, rtol=1e-8, atol=1e-8):
    """One BioNetGen simulate_ode phase (default tolerances 1e-8, as BioNetGen's)."""
    return dg.simulate(
        model,
        t=[f"{float(t)!r} s" for t in times],
        initial=initial,
        params=params,
        rtol=rtol,
        atol=atol,
        cache_dir=False,
    )


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in NETWORKS]
)
def test_every_network_imports_with_its_counts(name, tmp_path):
    path = unpacked(net(name), tmp_path)  # fceri_gamma2.net is stored gzipped
    model = read_bngnet(path)
    assert len(model.species) == block_count(path, "species")
    assert len(model.reactions) == block_count(path, "reactions")
    assert [o.id for o in model.observables] == [line.split()[1] for line in _block_lines(path, "groups")]
    if name not in SLOW:  # validating 58276 reactions takes half a minute; the rest of the import is checked
        assert find_issues(model) == []


def _block_lines(path: Path, block: str) -> list[str]:
    found = re.search(rf"^begin {block}\n(.*?)^end {block}", path.read_text(), re.S | re.M)
    return [line for line in found[1].splitlines() if line.strip()] if found else []


# (name, tolerances of the simulate_ode action in the .bngl); single-phase runs from t = 0.
SINGLE_PHASE = {
    "fceri_ji": {"rtol": 1e-8, "atol": 1e-8},
    "Haugh2b": {"rtol": 1e-12, "atol": 1e-12},
    "localfunc": {},
    "simple_system": {},
    "test_fixed": {},
    "univ_synth": {},
    "tlbr": {},
    "Motivating_example": {},
    # steady_state=>1: BioNetGen stopped writing rows once at steady state; compare those.
    "SHP2_base_model": {"rtol": 1e-8, "atol": 1e-10},
    # The .net holds the state after phase 1 (equilibration with egf = 0), and egf set back
    # to egf_tot: BioNetGen writes the network at the start of the last simulate_ode.
    "egfr_net": {"rtol": 1e-8, "atol": 1e-8},
}


@pytest.mark.parametrize("name", sorted(SINGLE_PHASE))
@pytest.mark.parametrize("suffix", [".gdat", ".reference.gdat"])
def test_single_phase_networks_reproduce_bionetgen(name, suffix):
    # NAME.gdat: BioNetGen 2.9.3's run here; NAME.reference.gdat: BioNetGen's committed
    # regression reference (bng2/Validate/DAT_validate).
    reference = read_gdat(BIONETGEN / name / f"{name}{suffix}")
    names = [k for k in reference if k != "time"]
    ds = run(read_bngnet(net(name)), reference["time"], **SINGLE_PHASE[name])
    ours = observed(ds, names)
    assert norm_error(ours, np.array([reference[k] for k in names])) <= NORM_ERROR


def test_toy_jim_equilibration_reproduces_bionetgen():
    # toy-jim.bngl: simulate_ode({suffix=>"equil", t_end=>1000, atol=>1e-10, rtol=>1e-8,
    # steady_state=>1}); BioNetGen stopped at steady state after the t = 100 row.
    reference = read_gdat(BIONETGEN / "toy-jim" / "toy-jim_equil.gdat")
    names = [k for k in reference if k != "time"]
    ds = run(read_bngnet(net("toy-jim")), reference["time"], rtol=1e-8, atol=1e-10)
    assert norm_error(observed(ds, names), np.array([reference[k] for k in names])) <= NORM_ERROR


def test_toy_jim_reference_kinetics_phase_is_not_in_this_bngl():
    pytest.skip(
        "toy-jim.reference.gdat is a kinetics phase whose actions are no longer in "
        "toy-jim.bngl (only the equilibration and writeSBML remain); nothing defines it"
    )


def test_egfr_equilibration_phase_has_no_output_to_compare():
    pytest.skip(
        "egfr_net.bngl's first phase (equilibration, steady_state=>1) wrote egfr_net.gdat, "
        "which the second phase overwrote; its result is the .net's initial state, and "
        "the second phase is compared in test_single_phase_networks_reproduce_bionetgen"
    )


def continue_phases(model, reference, boundary, before, between):
    """BioNetGen's simulate_ode, a change, then simulate_ode({continue=>1}): the second phase
    starts from the state the first one ended in, with ``between`` applied to it. A solve
    starts at t = 0, so the second phase's times are counted from the boundary (the networks
    are autonomous)."""
    times = reference["time"]
    first = run(model, times[times <= boundary], **before)
    end = {s: f"{float(first[s].pint.magnitude[-1])!r} molecule" for s in model.species_ids}
    for species, amount in between.get("add", {}).items():
        end[species] = f"{float(first[species].pint.magnitude[-1]) + amount!r} molecule"
    second = run(model, times[times >= boundary] - boundary, initial=end, params=between.get("params"))
    names = [k for k in reference if k != "time"]
    # The boundary row is the first phase's last (BioNetGen prints it once).
    ours = np.concatenate([observed(first, names), observed(second, names)[:, 1:]], axis=1)
    return ours, np.array([reference[k] for k in names])


@pytest.mark.parametrize("suffix", [".gdat", ".reference.gdat"])
def test_heise_two_phases(suffix):
    # heise.bngl: vu = 1, vl = 0 from an empty system for 0..20; then setParameter vu = 0,
    # vl = 1 and continue to 40. The .net holds the phase-2 parameters.
    model = read_bngnet(net("heise"))
    empty = dict.fromkeys(model.species_ids, "0 molecule")
    before = {"initial": empty, "params": {"vu": "1 molecule/s", "vl": "0 molecule/s"}}
    between = {"params": {"vu": "0 molecule/s", "vl": "1 molecule/s"}}
    ours, reference = continue_phases(
        model, read_gdat(BIONETGEN / "heise" / f"heise{suffix}"), 20.0, before, between
    )
    assert norm_error(ours, reference) <= NORM_ERROR


@pytest.mark.parametrize("suffix", [".gdat", ".reference.gdat"])
def test_michment_two_phases(suffix):
    # michment.bngl: setConcentration S(a~0,c~R) = S0 (100) with E = E0 (10), simulate 0..10;
    # addConcentration S(a~0,c~R) += S0 and continue to 20. S1 is S(a~0,c~R); the .net holds
    # the phase-2 start, so the phase-1 start is given here.
    model = read_bngnet(net("michment"))
    start = {
        "S1": "100 molecule",
        "S2": "10 molecule",
        "S3": "0 molecule",
        "S4": "0 molecule",
        "S5": "0 molecule",
    }
    ours, reference = continue_phases(
        model,
        read_gdat(BIONETGEN / "michment" / f"michment{suffix}"),
        10.0,
        {"initial": start},
        {"add": {"S1": 100.0}},
    )
    assert norm_error(ours, reference) <= NORM_ERROR


def test_networks_without_trajectories():
    # blbr and fceri_gamma2 only generate their networks (no simulate action): the counts test
    # covers them. Their .bngl files say so:
    for name in ("blbr", "fceri_gamma2"):
        assert "simulate" not in (BIONETGEN / name / f"{name}.bngl").read_text()


def test_units_follow_mass_action():
    model = read_bngnet(net("fceri_ji"))
    units = {p.id: p.value.unit for p in model.parameters}
    assert units["kp1"] == "1/(molecule*s)"  # ligand capture: two reactants
    assert units["kmL"] == "1/s"
    assert str(model.get_species("S1").initial) == "6000.0 molecule"  # Lig_tot
    assert "Lig_tot" not in units  # used only as an initial amount, which is evaluated
    assert model.reactions[0].rate == "mass_action(2*kp1)"  # statistical factor kept
    # michment: Km is added to an observable (molecules); kcat/(Km + Sa0) times two amounts.
    michment = read_bngnet(net("michment"))
    assert {p.id: p.value.unit for p in michment.parameters} == {
        "kcat": "1/s",
        "Km": "molecule",
        "kRT": "1/s",
        "kTR": "1/s",
    }
    assert michment.reactions[0].rate == "((kcat/(Km+(S1 + S4))))*S1*S2"


def test_constant_used_for_several_orders_gets_unit_factors():
    # univ_synth (cBNGL): k1 is the first-order constant of A -> A + C and, times each
    # compartment volume, the zero-order synthesis constant; the majority use sets k1 = 1/s.
    model = read_bngnet(net("univ_synth"))
    assert str(model.get_parameter("k1").value) == "1.0 1/s"
    assert str(model.get_parameter("bng_molecule").value) == "1.0 molecule"
    assert model.reactions[0].rate == "mass_action((10*k1)*bng_molecule)"


def test_fixed_species_are_boundary_species():
    model = read_bngnet(net("test_fixed"))
    assert [s.id for s in model.species if s.boundary] == ["S1", "S2", "S3"]  # $A, $Degr, $Trash


def test_reserved_names_are_renamed():
    # localfunc's __R1_local1 = k_synthC*(0^2) folds to 0; a parameter keeps the reaction.
    model = read_bngnet(net("localfunc"))
    assert str(model.get_parameter("bng_R1_local1").value) == "0.0 1/s"


def test_cli_simulates_a_net_file(capsys):
    assert main(["simulate", str(net("simple_system")), "--t-end", "10s", "--points", "3"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.startswith("time [s],S1 [molecule]")
    assert "X_free [molecule]" in header


def test_load_model_reads_net_files():
    assert dg.load_model(net("simple_system")).id == "simple_system"


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("begin species\n 1 A() 1\nend species\n", ModelFileError, "no 'reactions' block"),
        (
            "begin reactions\n 1 2 0 k\nend reactions\nbegin species\n 1 A() 1\nend species\n",
            ModelFileError,
            "species 2 is not declared",
        ),
        (
            "begin species\n 1 A() 1\nend species\nbegin reactions\n 1 1 0 kdeg\nend reactions\n",
            ModelFileError,
            "line 5: unknown name 'kdeg'",
        ),
        (
            "begin parameters\n 1 k 1\nend parameters\nbegin species\n 1 A() 1\nend species\n"
            "begin reactions\n 1 1 0 erf(k)\nend reactions\n",
            UnsupportedFeatureError,
            "erf()",
        ),
        (
            "begin functions\n 1 f(x) x\nend functions\nbegin species\n 1 A() 1\nend species\n"
            "begin reactions\nend reactions\n",
            UnsupportedFeatureError,
            "local functions",
        ),
        ("begin molecule types\nend molecule types\n", UnsupportedFeatureError, "molecule"),
        ("simulate_ode()\n", ModelFileError, "text outside a block"),
    ],
)
def test_bad_networks_are_refused_with_their_line(tmp_path, text, error, message):
    path = tmp_path / "bad.net"
    path.write_text(text)
    with pytest.raises(error) as raised:
        read_bngnet(path)
    assert message in str(raised.value)
    assert "bad.net" in str(raised.value)


def test_read_gdat_checks_its_header(tmp_path):
    path = tmp_path / "x.gdat"
    path.write_text("0 1\n")
    with pytest.raises(ModelFileError, match="header"):
        read_gdat(path)
