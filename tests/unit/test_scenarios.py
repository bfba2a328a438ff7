"""``dg.simulate_scenarios`` (issue 13): many scenarios of one model in one call give the numbers
of separate ``dg.simulate`` runs (the reference: each scenario simulated on its own), from a
list, a CSV or a JSON table; bad tables are refused with the file, row and column; a failing
scenario gets NaN and its status while the others are solved; results round-trip through
every format with their ``scenario`` dimension."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import degranulation as dg
from degranulation.errors import DataError, ModelError, UnitError

MODEL = "ige_fceri_crosslinking"
RUN = {"t": "2 min", "points": 5}
SCENARIOS = [
    {"scenario": "low_dose", "L": "1e5 molecule"},
    {"scenario": "fast_dimers", "kp2": "5e-4 1/(molecule*s)", "L": "3e6 molecule"},
    {"scenario": "model_values"},
]
FAILING = "1e150 1/(molecule*s)"  # kp1 so large that the first step divides by zero


def _separate(scenario, params=None):
    """One scenario simulated on its own: the reference the batch must reproduce."""
    model = dg.load_model(MODEL)
    species = {s.id for s in model.species}
    own = {k: v for k, v in scenario.items() if k != "scenario"}
    return dg.simulate(
        MODEL,
        **RUN,
        params={**(params or {}), **{k: v for k, v in own.items() if k not in species}},
        initial={k: v for k, v in own.items() if k in species},
    )


def _assert_same(batch, name, alone):
    for variable in alone.data_vars:
        np.testing.assert_allclose(
            batch[variable].sel(scenario=name).pint.magnitude,
            alone[variable].pint.magnitude,
            rtol=1e-8,
            atol=0,
        )
        assert batch[variable].pint.units == alone[variable].pint.units


def test_a_batch_gives_the_numbers_of_separate_runs():
    batch = dg.simulate_scenarios(MODEL, SCENARIOS, **RUN)
    assert dict(batch.sizes) == {"scenario": 3, "time": 5}
    assert batch["scenario"].values.tolist() == ["low_dose", "fast_dimers", "model_values"]
    assert batch["status"].values.tolist() == ["ok"] * 3
    for scenario in SCENARIOS:
        _assert_same(batch, scenario["scenario"], _separate(scenario))
    # what each scenario ran with, in the table's units (the model's own where a row sets nothing)
    assert batch["L_initial"].pint.magnitude.tolist() == [1e5, 3e6, 6e6]
    assert batch["kp2"].pint.magnitude.tolist() == pytest.approx([2.5e-4, 5e-4, 2.5e-4], rel=1e-12)
    assert len(json.loads(batch.attrs["counters"])) == 3


def test_common_overrides_hold_where_a_scenario_sets_nothing():
    common = {"kp2": "1e-4 1/(molecule*s)"}
    batch = dg.simulate_scenarios(MODEL, SCENARIOS, params=common, **RUN)
    _assert_same(batch, "low_dose", _separate(SCENARIOS[0], common))
    _assert_same(batch, "fast_dimers", _separate(SCENARIOS[1]))  # its own kp2 wins


def test_unnamed_scenarios_are_numbered_from_zero():
    batch = dg.simulate_scenarios(MODEL, [{"L": "1e5 molecule"}, {"L": "1e6 molecule"}], **RUN)
    assert batch["scenario"].values.tolist() == [0, 1]


def test_csv_with_units_in_cells_or_headers(tmp_path):
    path = tmp_path / "scenarios.csv"
    path.write_text(
        "scenario,L [molecule],kp2\nlow_dose,1e5,\nfast_dimers,3e6,5e-4/molecule/s\nmodel_values,,\n"
    )
    batch = dg.simulate_scenarios(MODEL, path, **RUN)
    for scenario in SCENARIOS:
        _assert_same(batch, scenario["scenario"], _separate(scenario))
    assert batch.attrs["scenario_file"] == str(path)


def test_json_as_a_list_or_under_scenarios(tmp_path):
    for k, payload in enumerate((SCENARIOS, {"scenarios": SCENARIOS})):
        path = tmp_path / f"scenarios{k}.json"
        path.write_text(json.dumps(payload))
        batch = dg.simulate_scenarios(MODEL, path, **RUN)
        _assert_same(batch, "fast_dimers", _separate(SCENARIOS[1]))


@pytest.mark.parametrize(
    ("text", "error", "where", "words"),
    [
        ("scenario,kp9\na,1/s\n", ModelError, "line 2, column 'kp9'", "did you mean 'kp2'"),
        ("scenario,L\na,1e5 s\n", UnitError, "line 2, column 'L'", "needs [substance]"),
        ("scenario,L\na,1e5\n", UnitError, "line 2, column 'L'", "'100000.0' is dimensionless"),
        ("scenario,L\na,-1 molecule\n", ModelError, "line 2, column 'L'", "negative"),
        (
            "scenario,L [molecule]\na,1e5 molecule\n",
            UnitError,
            "line 2, column 'L'",
            "its column gives the unit",
        ),
        ("scenario,L,L\na,1 molecule,2 molecule\n", DataError, "line 1", "'L' appear more than once"),
        ("", DataError, "", "empty"),
        ("scenario,L\n", DataError, "", "no scenarios"),
        ("scenario,L\na,1e5 molecule\na,1e6 molecule\n", DataError, "line 3", "used again"),
        ("scenario,L\na,1e5 molecule,3\n", DataError, "line 2", "3 cells for 2 columns"),
    ],
)
def test_bad_csv_tables_name_the_file_row_and_column(tmp_path, text, error, where, words):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(error) as caught:
        dg.simulate_scenarios(MODEL, path, **RUN)
    assert caught.value.file == str(path) and (caught.value.location or "") == where
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_bad_json_tables_name_the_entry(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"L": "1e5 molecule"}, {"L": 3}]))
    with pytest.raises(UnitError, match="no unit") as caught:
        dg.simulate_scenarios(MODEL, path, **RUN)
    assert caught.value.location == "scenarios[1].L"
    path.write_text('{"L": "1e5 molecule"}')
    with pytest.raises(DataError, match="list of objects"):
        dg.simulate_scenarios(MODEL, path, **RUN)


def test_a_failing_scenario_gets_nan_and_its_message_and_the_others_are_solved():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy's overflow in the failing scenario
        with pytest.raises(dg.SimulationError) as alone:
            dg.simulate(MODEL, **RUN, params={"kp1": FAILING})
        batch = dg.simulate_scenarios(MODEL, {"bad": {"kp1": FAILING}, "good": {"L": "1e5 molecule"}}, **RUN)
    assert batch["status"].values.tolist() == ["failed", "ok"]
    assert batch["message"].sel(scenario="bad").item() == str(alone.value)
    assert np.isnan(batch["RecDim"].sel(scenario="bad").pint.magnitude).all()
    _assert_same(batch, "good", _separate({"L": "1e5 molecule"}))


@pytest.mark.parametrize("suffix", [".json", ".csv", ".nc"])
def test_results_round_trip_with_their_scenario_dimension(tmp_path, suffix):
    batch = dg.simulate_scenarios(MODEL, SCENARIOS, **RUN)
    loaded = dg.load(dg.save(batch, tmp_path / f"batch{suffix}"))
    assert loaded["scenario"].values.tolist() == batch["scenario"].values.tolist()
    for name in (*batch.data_vars, "L_initial", "kp2"):
        # CSV repeats what varies by scenario only on each of its rows; the others keep dims
        values = loaded[name].isel(time=0) if loaded[name].ndim > batch[name].ndim else loaded[name]
        assert values.dims == batch[name].dims, name
        if name in ("status", "message"):
            assert values.values.tolist() == batch[name].values.tolist()
        else:
            assert values.pint.units == batch[name].pint.units, name
            np.testing.assert_array_equal(values.pint.magnitude, batch[name].pint.magnitude)


def test_protocols_and_state_events_act_in_every_scenario_as_in_separate_runs():
    """A washout step (the model's default protocol) and an event that doubles a rate constant
    (reported over time as a variable): both resolved once, applied in each scenario."""
    from degranulation.network import (
        Model,
        ModelEvent,
        Parameter,
        Protocol,
        Reaction,
        Species,
        Step,
        UnitValue,
    )

    model = Model(
        "decay",
        species=(Species("x", UnitValue(1.0, "molecule")), Species("y", UnitValue(1.0, "molecule"))),
        parameters=(Parameter("k", UnitValue(0.3, "1/s")), Parameter("half", UnitValue(0.5, "molecule"))),
        reactions=(Reaction("r", "x -> 0", "k*x"), Reaction("s", "y -> 0", "k*y")),
        events=(ModelEvent("faster", "x < half", (("k", "2*k"),)),),
        protocols=(Protocol("washout", (Step(UnitValue(1, "s"), "set", "y", UnitValue(0, "molecule")),)),),
        default_protocol="washout",
    )
    table = {"slow": {"k": "0.3 1/s"}, "fast": {"k": "0.6 1/s", "x": "2 molecule"}}
    batch = dg.simulate_scenarios(model, table, t="5 s", points=11, cache_dir=False)
    for name, values in table.items():
        alone = dg.simulate(
            model,
            t="5 s",
            points=11,
            params={"k": values["k"]},
            initial={k: v for k, v in values.items() if k != "k"},
            cache_dir=False,
        )
        _assert_same(batch, name, alone)
    assert batch["k"].dims == ("scenario", "time")  # the parameter the event sets, over time
    assert batch["k_initial"].pint.magnitude.tolist() == [0.3, 0.6]  # so its set value is k_initial
    assert batch["y"].sel(time=2).pint.magnitude.tolist() == [0.0, 0.0]  # washed out at 1 s


def test_a_scenarios_warnings_name_it_and_stay_in_its_message():
    with pytest.warns(dg.DegranulationWarning, match="^scenario 'tiny': the initial value of 'LR'") as record:
        batch = dg.simulate_scenarios(MODEL, {"tiny": {"LR": "1 molecule"}, "plain": {}}, atol=1e3, **RUN)
    assert {w.filename for w in record if "scenario 'tiny'" in str(w.message)} == {__file__}  # the caller
    assert batch["status"].values.tolist() == ["below_atol", "ok"]
    assert "is below the absolute tolerance" in batch["message"].sel(scenario="tiny").item()
    assert batch["message"].sel(scenario="plain").item() == ""


def _interrupt_after(monkeypatch, n_runs):
    """Make the (n_runs + 1)-th solve raise KeyboardInterrupt, as Ctrl-C would; return the
    list that counts solves."""
    from degranulation import simulation

    run, calls = simulation.Setup.run, []

    def counted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == n_runs + 1:
            raise KeyboardInterrupt
        return run(self, *args, **kwargs)

    monkeypatch.setattr(simulation.Setup, "run", counted)
    return calls


DOSES = {f"dose{k}": {"L": f"{10 ** (k + 4)} molecule"} for k in range(5)}


def test_an_interrupted_batch_resumes_without_solving_its_finished_scenarios(tmp_path, monkeypatch):
    output = tmp_path / "batch.nc"
    reference = dg.simulate_scenarios(MODEL, DOSES, **RUN)
    _interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        dg.simulate_scenarios(MODEL, DOSES, **RUN, output=output)
    stored = sorted(p.name for p in (tmp_path / "batch.nc.parts").glob("chunk-*.nc"))
    assert stored == ["chunk-000000.nc", "chunk-000001.nc"]  # one scenario per part for 5 scenarios
    with pytest.raises(DataError, match="an unfinished batch of scenarios is stored"):
        dg.simulate_scenarios(MODEL, DOSES, **RUN, output=output)
    with pytest.raises(DataError, match="differs from this one in: scenarios"):
        dg.simulate_scenarios(MODEL, {**DOSES, "more": {}}, **RUN, output=output, resume=True)
    calls = _interrupt_after(monkeypatch, 99)
    resumed = dg.simulate_scenarios(MODEL, DOSES, **RUN, output=output, resume=True)
    assert len(calls) == 3 and not (tmp_path / "batch.nc.parts").exists()
    for result in (resumed, dg.load(output)):
        for name in reference.variables:
            assert result[name].values.tolist() == reference[name].values.tolist(), name
        assert result.attrs["counters"] == reference.attrs["counters"]


def test_a_stored_batch_is_netcdf(tmp_path):
    with pytest.raises(DataError, match=r"does not end in \.nc"):
        dg.simulate_scenarios(MODEL, DOSES, **RUN, output=tmp_path / "batch.csv")
