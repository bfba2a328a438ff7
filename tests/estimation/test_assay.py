"""read_assay: the tidy CSV format of DESIGN.md, DataFrames, and errors located by row and column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import degranulation as dg
from degranulation.library import models_folder

HEADER = "observable,time [min],value [molecule],sd [molecule],L [molecule]\n"


@pytest.fixture
def write(tmp_path):
    def make(text, name="assay.csv"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return make


def test_reads_units_conditions_and_comments(write):
    path = write("# a comment line\n" + HEADER + "RecDim,1,100,10,6e6\n\nRecDim,2.5,250,20,1.5e6\n")
    data = dg.read_assay(path)
    assert data.observable == ("RecDim", "RecDim")
    assert (data.time_unit, data.value_unit, data.sd_unit) == ("min", "molecule", "molecule")
    np.testing.assert_array_equal(data.time, [1.0, 2.5])
    np.testing.assert_array_equal(data.sd, [10.0, 20.0])
    values, unit = data.conditions["L"]
    assert unit == "molecule" and list(values) == [6e6, 1.5e6]
    assert data.rows == ("line 3", "line 5")  # file lines, comments and blank lines counted


def test_dataframe_gives_the_same_data(write):
    from_file = dg.read_assay(models_folder() / "data" / "crosslinking_synthetic.csv")
    frame = from_file.to_dataframe()
    from_frame = dg.read_assay(frame)
    assert from_frame.observable == from_file.observable
    np.testing.assert_array_equal(from_frame.value, from_file.value)
    np.testing.assert_array_equal(from_frame.conditions["L"][0], from_file.conditions["L"][0])
    assert from_frame.rows[0] == "row 0"


def test_harmon_example_file_holds_the_published_numbers():
    # biology.md D3.1 (PyBNF examples/degranulation/p*.exp): H_out in copies per cell and SD.
    data = dg.read_assay(models_folder() / "data" / "harmon2017_beta_hex.csv")
    np.testing.assert_array_equal(data.value, [1.028e5, 3.53e4, 6.6e4, 1.01e5, 1.556e5, 3.95e5])
    np.testing.assert_array_equal(data.sd, [7.26e3, 3.05e3, 6.55e3, 7.93e3, 7.37e3, 9.16e3])
    np.testing.assert_array_equal(data.time, [5, 15, 40, 70, 130, 250])  # 5 + gap + 5 min
    assert data.protocol[1:] == ("pulse_5min", "pulse_30min", "pulse_60min", "pulse_120min", "pulse_240min")


@pytest.mark.parametrize(
    ("text", "message", "location"),
    [
        ("observable,time [min]\nRecDim,1\n", "missing column 'value'", "line 1"),
        ("observable,time,value [nM]\nRecDim,1,2\n", "has no unit", "line 1"),
        ("observable,time [min],value [frobnitz]\nRecDim,1,2\n", "unknown unit", "line 1"),
        ("observable,time [min],value [nM],value [nM]\nRecDim,1,2,3\n", "appears twice", "line 1"),
        ("observable [nM],time [min],value [nM]\nRecDim,1,2\n", "takes no unit", "line 1"),
        (
            "observable,time [min],value [nM]\nRecDim,1,nan\n",
            "not a finite number",
            "line 2, column 'value [nM]'",
        ),
        ("observable,time [min],value [nM]\nRecDim,1,\n", "empty cell", "line 2, column 'value [nM]'"),
        (
            "observable,time [min],value [nM]\nRecDim,x,2\n",
            "'x' is not a number",
            "line 2, column 'time [min]'",
        ),
        (
            "observable,time [min],value [nM]\nRecDim,1,2\nRecDim,-1,2\n",
            "negative",
            "line 3, column 'time [min]'",
        ),
        ("observable,time [nM],value [nM]\nRecDim,1,2\n", "not a time unit", "column 'time [nM]'"),
        (
            "observable,time [min],value [nM],sd [nM]\nRecDim,1,2,0\n",
            "not positive",
            "line 2, column 'sd [nM]'",
        ),
        ("observable,time [min],value [nM],sd [s]\nRecDim,1,2,1\n", "does not match", "column 'sd [s]'"),
        ("observable,time [min],value [nM]\nRecDim,1\n", "the row has 2 cells", "line 2"),
        (
            "observable,time [min],value [nM]\n,1,2\n",
            "empty cell in column 'observable'",
            "line 2, column 'observable'",
        ),
        ("observable,time [min],value [nM]\n", "no rows", None),
    ],
)
def test_errors_name_line_and_column(write, text, message, location):
    path = write(text)
    with pytest.raises(dg.DataError, match=message) as caught:
        dg.read_assay(path)
    assert caught.value.file == str(path)
    if location is not None:
        assert caught.value.location == location


def test_dataframe_errors_name_the_row():
    frame = pd.DataFrame(
        {"observable": ["RecDim", "RecDim"], "time [min]": [1.0, np.nan], "value [molecule]": [1, 2]}
    )
    with pytest.raises(dg.DataError, match="empty cell") as caught:
        dg.read_assay(frame)
    assert caught.value.location == "row 1, column 'time [min]'"
    assert caught.value.file is None


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(dg.DataError, match="cannot read"):
        dg.read_assay(tmp_path / "absent.csv")


def test_readouts_are_checked_against_the_model(write):
    model = dg.load_model("ige_fceri_crosslinking")
    unknown = dg.read_assay(write("observable,time [min],value [molecule]\nRecDim,1,2\nRecDimer,2,3\n"))
    with pytest.raises(dg.DataError, match=r"unknown observable 'RecDimer'.*did you mean 'RecDim'") as caught:
        unknown.readout_values(model)
    assert caught.value.location == "line 3, column 'observable'"
    wrong = dg.read_assay(write("observable,time [min],value [s]\nRecDim,1,2\n"))
    with pytest.raises(dg.DataError, match="cannot be compared with observable 'RecDim'") as caught:
        wrong.readout_values(model)
    assert caught.value.location == "line 2, column 'value [s]'"


def test_values_convert_to_the_readout_unit(write):
    # 'crosslinked' is declared in percent: 0.25 dimensionless = 25 percent. 'R' is a species
    # in molecules; 1 amol = 602214.076 molecules (exact Avogadro constant).
    model = dg.load_model("ige_fceri_crosslinking")
    data = dg.read_assay(write("observable,time [s],value [amol],sd [zmol]\nR,1,1,1000\n"))
    values, sd = data.readout_values(model)
    np.testing.assert_allclose(values, [602214.076], rtol=1e-12)
    np.testing.assert_allclose(sd, [602214.076], rtol=1e-12)
    percent = dg.read_assay(write("observable,time [s],value [dimensionless]\ncrosslinked,1,0.25\n"))
    np.testing.assert_allclose(percent.readout_values(model)[0], [25.0])
