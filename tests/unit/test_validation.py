"""Validation collects every issue with a stable code and location."""

from __future__ import annotations

import pickle

import pytest

import degranulation as dg
from degranulation.errors import ModelValidationError, UnitMismatch, UnknownName
from degranulation.formats.toml import loads_model
from degranulation.validation import find_issues

BAD = """
id = "bad"
[compartments]
cell = "1 pL"
[species]
A = { initial = "1 nm", compartment = "cell" }
B = { initial = "0 nM", compartment = "cell" }
[parameters]
k = "1 1/s"
[[reactions]]
equation = "A -> C"
rate = "mass_action(k)"
[[reactions]]
equation = "B -> 0"
rate = "k * B"
[observables]
total = { expr = "A + B + kk", unit = "nM" }
"""


def test_all_issues_are_reported_together():
    model = loads_model(BAD, file="bad.toml")
    with pytest.raises(ModelValidationError) as caught:
        dg.validate(model)
    issues = caught.value.issues
    assert [(i.code, i.location) for i in issues] == [
        ("U102", "species.A.initial"),
        ("N201", "reactions[0].equation"),
        ("U101", "reactions[1].rate"),
        ("N201", "observables.total.expr"),
    ]
    assert all(i.file == "bad.toml" for i in issues)
    assert issues[0].hint == "nanomolar is 'nM'"
    assert issues[3].hint == "did you mean 'k'?"
    assert issues[3].column == 9


def test_issue_groups_support_except_star():
    model = loads_model(BAD)
    caught = []
    try:
        dg.validate(model)
    except* UnitMismatch as group:
        caught.append(len(group.exceptions))
    except* UnknownName as group:
        caught.append(-len(group.exceptions))
    assert sorted(caught) == [-2, 2]


def test_errors_pickle_with_their_fields():
    with pytest.raises(ModelValidationError) as caught:
        dg.validate(loads_model(BAD, file="bad.toml"))
    again = pickle.loads(pickle.dumps(caught.value))
    assert [i.format() for i in again.issues] == [i.format() for i in caught.value.issues]
    issue = pickle.loads(pickle.dumps(caught.value.issues[0]))
    assert (issue.code, issue.location, issue.hint) == ("U102", "species.A.initial", "nanomolar is 'nM'")


def test_json_form_has_the_documented_keys():
    issue = find_issues(loads_model(BAD))[0]
    assert set(issue.to_dict()) == {"code", "severity", "file", "location", "column", "message", "hint"}


def test_bundled_model_is_clean():
    assert find_issues(dg.load_model("ige_fceri_crosslinking")) == []


def test_mass_action_multiplies_by_volume_for_concentrations():
    # A concentration reaction A -> B (k in 1/s) has extent rate V·k·A; the ODE divides by V.
    model = loads_model(
        BAD.replace("1 nm", "1 nM")
        .replace("A -> C", "A -> B")
        .replace('"k * B"', '"cell * k * B"')
        .replace(" + kk", "")
    )
    from degranulation.symbolic import build_system

    system = build_system(model)
    assert str(system.rates[0]) == "A*cell*k"
    assert str(system.rhs[0]) == "-A*k"


def test_validate_takes_a_path_or_a_bundled_id_as_simulate_does(tmp_path):
    """Issue 15: dg.validate("model.toml") raised AttributeError."""
    good = dg.write_model(dg.load_model("ige_fceri_crosslinking"), tmp_path / "model.toml")
    assert dg.validate(str(good)) == [] and dg.validate(good) == []
    assert dg.validate("ige_fceri_crosslinking") == []
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD)
    with pytest.raises(ModelValidationError) as caught:
        dg.validate(str(bad))
    assert {issue.file for issue in caught.value.issues} == {str(bad)}
    assert len(caught.value.issues) == len(find_issues(loads_model(BAD)))  # every issue, once
    with pytest.raises(dg.ModelError, match="unknown model 'ige_fceri'") as unknown:
        dg.validate("ige_fceri")
    assert unknown.value.hint == "did you mean 'ige_fceri_crosslinking'?"
