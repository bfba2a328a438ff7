"""Every bundled model file (models/*.toml): it loads and validates with no issue at all, its
metadata says where each number comes from, it conserves what its biology says it conserves,
and its default protocol simulates from the command line.

What each model must conserve is written here by hand from the biology (receptor, kinase,
granule and cell totals), independently of the model file, and must lie in the span of the
exact conservation laws the compiled model finds.
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

import degranulation as dg
from degranulation.cli import main
from degranulation.codegen import compile_model
from degranulation.formats.toml import read_model
from degranulation.library import list_models
from degranulation.network import Species
from degranulation.validation import find_issues

MODELS = [info.id for info in list_models()]
STATUSES = {"measured", "fitted", "assumed", "derived"}

_HARMON_RECEPTORS = [
    "R", "AgR", "Rp", "Rp_Syk", "Rp_Ship", "Rp_ShipX", "Rp_Syk_Ship", "Rp_Syk_ShipX",
    "AgRp", "AgRp_Syk", "AgRp_Ship", "AgRp_ShipX", "AgRp_Syk_Ship", "AgRp_Syk_ShipX",
]  # fmt: skip
_EFFECTORS = ["E0", "E1", "C0", "C1", "Cs"]

#: Totals each model must conserve (species: coefficient, in amounts), from the biology.
CONSERVED: dict[str, list[dict[str, int]]] = {
    "ige_fceri_crosslinking": [{"L": 1, "LR": 1, "RLR": 1}, {"R": 1, "LR": 1, "RLR": 2}],
    "bivalent_hapten_bivalent_ige": [
        {"L0": 1, "L1a": 1, "L1b": 1, "L2aa": 1, "L2ab": 1, "L2bb": 1},  # bivalent hapten
        {"Fa": 1, "L1a": 1, "L2aa": 2, "L2ab": 1, "HmFa": 1},  # IgE sites, population a
        {"Fb": 1, "L1b": 1, "L2bb": 2, "L2ab": 1, "HmFb": 1},  # IgE sites, population b
        {"Hm": 1, "HmFa": 1, "HmFb": 1},  # monovalent hapten
    ],
    "kinetic_proofreading_dimer": [
        {"L": 1, "LR": 1, **{f"D{i}": 1 for i in range(6)}},
        {"R": 1, "LR": 1, **{f"D{i}": 2 for i in range(6)}},
    ],
    "harmon2017_fceri_degranulation": [
        dict.fromkeys(_HARMON_RECEPTORS, 1),
        {"Syk": 1, **{name: 1 for name in _HARMON_RECEPTORS if "Syk" in name}},
        {"Ship1": 1, "Ship1X": 1, **{name: 1 for name in _HARMON_RECEPTORS if "Ship" in name}},
        {"H_in": 1, "H_out": 1},
    ],
    "mast_cell_ca_granule_pools": [
        dict.fromkeys(["G_R", "G_D", "G_P1", "G_P2", "G_Ca1", "G_Ca2", "G_Ca3", "G_F", "G_X", "G_out"], 1)
    ],
    "basophil_all_or_none_release": [
        {"L0": 1, "L1": 1, "L2": 1},
        {"F": 1, "L1": 1, "L2": 2},
        {"U": 1, "A": 1, "D": 1, "N0": 1},  # basophils
    ],
    "neutrophil_granule_hierarchy_ca": [
        {f"{granule}_in": 1, f"{granule}_out": 1} for granule in ("SV", "GG", "SG", "AG")
    ],
    "cytotoxic_synapse_serial_killing": [
        dict.fromkeys(_EFFECTORS, 1),  # effectors
        {"T": 1, "Td": 1, "C0": 1, "C1": 1, "Cs": 1},  # targets
    ],
    "eosinophil_granule_protein_release": [
        {f"{protein}_in": 1, f"{protein}_ves": 1, f"{protein}_out": 1}
        for protein in ("MBP", "EPO", "ECP", "EDN")
    ],
}


@pytest.fixture(scope="module", params=MODELS)
def model(request):
    return dg.load_model(request.param)


def test_library_has_every_cell_type():
    # Issue 4: mast cell, basophil, eosinophil, neutrophil and CTL/NK models are bundled.
    cell_types = " ".join(info.cell_type.lower() for info in list_models())
    for cell_type in ("mast cell", "basophil", "eosinophil", "neutrophil", "cytotoxic t cell", "nk cell"):
        assert cell_type in cell_types


def test_validates_without_any_issue(model):
    issues = find_issues(read_model(model.source))
    assert issues == [], [issue.format() for issue in issues]


def test_metadata_says_where_every_number_comes_from(model):
    assert model.title and model.cell_type and model.description and model.references
    for parameter in model.parameters:
        assert parameter.status in STATUSES, parameter.id
        assert parameter.source, f"{parameter.id} has no source"
        assert parameter.description, f"{parameter.id} has no description"
    if model.protocols:
        assert model.default_protocol in [p.id for p in model.protocols]
    assert model.observables, "a model reports what an assay measures"


def _protocol_end(model) -> float:
    """Seconds: 30 min past the default protocol's last step."""
    steps = model.get_protocol(model.default_protocol).steps if model.default_protocol else ()
    last = max((model.units.magnitude(s.at.value, s.at.unit) for s in steps), default=0.0)
    return dg.UnitSystem(time="s").magnitude(last, model.units.time) + 1800.0


def test_conserves_its_exact_laws_along_the_default_protocol(model):
    # Every exact conservation law of the stoichiometry holds along a simulation, except those
    # involving a species the protocol sets, adds or clamps (the protocol changes those totals).
    compiled = compile_model(model)
    ds = dg.simulate(model, t=f"{_protocol_end(model)} s", points=41, rtol=1e-9, atol=1e-9)
    amounts = compiled.amounts(
        np.array([ds[name].pint.magnitude for name in compiled.species]), compiled.default_parameters
    )
    steps = model.get_protocol(model.default_protocol).steps if model.default_protocol else ()
    touched = {compiled.species.index(s.target) for s in steps if isinstance(model.by_id[s.target], Species)}
    checked = 0
    for law in compiled.conservation_laws:
        vector = np.array(law, dtype=float)
        if any(vector[i] for i in touched):
            continue
        total = vector @ amounts
        scale = np.abs(vector) @ np.abs(amounts).max(axis=1) or 1.0
        np.testing.assert_allclose(total, total[0], rtol=0, atol=1e-6 * scale, err_msg=str(law))
        checked += 1
    assert checked >= 1


@pytest.mark.parametrize("model_id", sorted(CONSERVED))
def test_conserves_what_its_biology_says(model_id):
    compiled = compile_model(dg.load_model(model_id))
    laws = np.array(compiled.conservation_laws, dtype=float)
    rank = np.linalg.matrix_rank(laws)
    for expected in CONSERVED[model_id]:
        vector = np.array([expected.get(name, 0) for name in compiled.species], dtype=float)
        assert set(expected) <= set(compiled.species)
        assert np.linalg.matrix_rank(np.vstack([laws, vector])) == rank, expected


def test_default_protocol_simulates_from_the_command_line(model, capsys):
    minutes = _protocol_end(model) / 60.0
    assert main(["simulate", model.id, "--t-end", f"{minutes}min", "--points", "5"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    rows = list(csv.reader(io.StringIO(captured.out)))
    header = [name.split(" [")[0] for name in rows[0]]
    assert header[1:] == [s.id for s in model.species] + [o.id for o in model.observables]
    values = np.array(rows[1:], dtype=float)
    assert values.shape == (5, len(header))
    assert np.all(np.isfinite(values))
    assert math.isclose(values[-1, 0], model.units.magnitude(_protocol_end(model), "s"), rel_tol=1e-9)


def test_show_lists_parameters_with_units_status_and_source(model, capsys):
    assert main(["models", "show", model.id]) == 0
    text = capsys.readouterr().out
    for parameter in model.parameters:
        line = next(line for line in text.splitlines() if line.split()[:1] == [parameter.id])
        assert parameter.value.unit in line and parameter.status in line
    for record in (*model.species, *model.observables):
        assert record.id in text
    assert all(reference in text for reference in model.references)
