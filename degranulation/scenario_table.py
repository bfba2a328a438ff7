"""Scenario tables: named sets of values (parameters, compartment sizes, initial values) for
one model, read from a CSV or JSON file or given in Python, each value with its unit and the
place it was given, for errors to name.

CSV: a header row of names, then one row per scenario. A cell holds a value with its unit
(``2e6 1/(M*s)``, ``3e6 molecule``, as ``--set`` takes them), or a bare number when its
column's header gives the unit in brackets (``k_on [1/(M*s)]``, as in assay files). An empty
cell sets nothing: the value of ``--set``/``params=``/``initial=``, or else the model's, holds.

JSON: a list of objects, or ``{"scenarios": [...]}``; each object maps names to values with
units (``{"k_on": "2e6 1/(M*s)"}``); a missing key or ``null`` sets nothing.

A column or key named ``scenario`` names the rows (every row then needs a name, unique in the
table); without it the rows are named by their position, from 0.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple, TypeAlias

from degranulation.errors import DataError, UnitError
from degranulation.network import UnitValue

NAME: Final = "scenario"  # the column or key that names a row
_HEADER: Final = re.compile(r"^\s*(?P<name>[^\[\]]*?)\s*(?:\[\s*(?P<unit>[^\[\]]*?)\s*\])?\s*$")

ScenarioName: TypeAlias = str | int
ScenariosLike: TypeAlias = "str | Path | Sequence[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]]"


@dataclass(frozen=True)
class Scenario:
    """One row of a table: its name, the values it sets (name → value as given), where the row
    is (``line 3``, ``scenarios[2]``) and where each name appears in it, set or left empty
    (name → e.g. ``line 3, column 'k_on'``)."""

    name: ScenarioName
    values: Mapping[str, UnitValue]
    source: str
    locations: Mapping[str, str]


@dataclass(frozen=True)
class ScenarioTable:
    """The scenarios of one table, in order, and the file they were read from (if any)."""

    rows: tuple[Scenario, ...]
    file: str | None = None

    @property
    def names(self) -> list[ScenarioName]:
        """The scenarios' names, in order."""
        return [row.name for row in self.rows]

    @property
    def as_given(self) -> list[dict[str, Any]]:
        """The table as plain data: one mapping per scenario, its name and its values as text
        (for a result's provenance and a stored batch's identity)."""
        return [{"scenario": row.name, **{k: str(v) for k, v in row.values.items()}} for row in self.rows]

    @property
    def columns(self) -> dict[str, str]:
        """Every name the table mentions (set or left empty), with where it first appears."""
        found: dict[str, str] = {}
        for row in self.rows:
            for name, location in row.locations.items():
                found.setdefault(name, location)
        return found


def read_scenarios(source: ScenarioTable | ScenariosLike) -> ScenarioTable:
    """A scenario table from a ``.csv`` or ``.json`` file, a list of mappings (name → value with
    unit, optionally ``"scenario"`` → its name), or a mapping of scenario names to such mappings.

    Parameters
    ----------
    source : str, Path, list of dict, or dict of dict
        The file's path, or the scenarios themselves (see the module docstring for the formats).

    Returns
    -------
    ScenarioTable
        Its values parsed (units checked to be units), not yet checked against a model.

    Raises
    ------
    DataError
        For a missing, empty or malformed file, a row of the wrong length, or scenario names that
        are missing, empty or repeated; the message names the file and the line or entry.
    UnitError
        For a value without a unit or with an unknown one, naming the file, row and column.

    Examples
    --------
    >>> from degranulation.scenario_table import read_scenarios
    >>> table = read_scenarios([{"scenario": "low", "L": "1e5 molecule"},
    ...                         {"scenario": "high", "L": "6e6 molecule"}])
    >>> table.names, str(table.rows[1].values["L"]), table.rows[1].locations["L"]
    (['low', 'high'], '6000000.0 molecule', 'scenarios[1].L')
    """
    if isinstance(source, ScenarioTable):
        return source
    if isinstance(source, str | Path):
        return _read_file(Path(source))
    entries: list[tuple[Any, str]]
    if isinstance(source, Mapping):
        entries = [
            ({**values, NAME: name} if isinstance(values, Mapping) else values, f"scenarios[{name!r}]")
            for name, values in source.items()
        ]
    elif isinstance(source, Sequence):
        entries = [(entry, f"scenarios[{i}]") for i, entry in enumerate(source)]
    else:
        raise TypeError(
            f"scenarios must be a file path, a list or a dict of mappings, not {type(source).__name__}"
        )
    return _table([_entry(entry, where, None) for entry, where in entries], None)


def _read_file(path: Path) -> ScenarioTable:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise DataError(
            f"cannot read scenarios from '{path.name}': unknown format '{suffix}'",
            file=str(path),
            hint="write a .csv or a .json file",
        )
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a spreadsheet's byte-order mark
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the scenario file: {exc}", file=str(path)) from None
    rows = _csv_rows(text, str(path)) if suffix == ".csv" else _json_rows(text, str(path))
    return _table(rows, str(path))


def _csv_rows(text: str, file: str) -> list[_Row]:
    reader = csv.reader(io.StringIO(text))
    header = next((row for row in reader if any(cell.strip() for cell in row)), None)
    if header is None:
        raise DataError(
            "the scenario file is empty",
            file=file,
            hint="write a header row of names, then a row per scenario",
        )
    where = f"line {reader.line_num}"
    columns = [_column(label, k, file, where) for k, label in enumerate(header)]
    names = [name for name, _ in columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(
            f"column(s) {', '.join(map(repr, repeated))} appear more than once", file=file, location=where
        )
    rows = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        line = reader.line_num
        if len(cells) != len(columns):
            raise DataError(
                f"{len(cells)} cells for {len(columns)} columns", file=file, location=f"line {line}"
            )
        entry = {
            name: _cell(cell.strip(), unit, file, f"line {line}, column '{name}'")
            for (name, unit), cell in zip(columns, cells, strict=True)
        }
        rows.append(_entry(entry, f"line {line}", file, csv_style=True))
    return rows


def _cell(text: str, unit: str | None, file: str, location: str) -> str:
    """A CSV cell's value as text with its unit: the cell's own, or its column's."""
    if unit is None or not text:
        return text
    try:
        float(text)
    except ValueError:
        raise UnitError(
            f"'{text}' is not a number, but its column gives the unit [{unit}]",
            file=file,
            location=location,
            hint="write the number alone, or move the units from the header into each cell",
        ) from None
    return f"{text} {unit}"


def _column(label: str, k: int, file: str, where: str) -> tuple[str, str | None]:
    """A header cell's name and the unit in its brackets (None without); ``where``: its line."""
    match = _HEADER.match(label)
    if match is None or not match["name"]:
        raise DataError(
            f"cannot read header cell {k + 1} {label!r}",
            file=file,
            location=where,
            hint="write a name, or a name and its unit in brackets: 'k_on [1/(M*s)]'",
        )
    name, unit = match["name"], match["unit"]
    if name == NAME and unit is not None:
        raise DataError(f"the '{NAME}' column names rows; it takes no unit", file=file, location=where)
    return name, unit


def _json_rows(text: str, file: str) -> list[_Row]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"not JSON: {exc.msg}", file=file, location=f"line {exc.lineno}, column {exc.colno}"
        ) from None
    if isinstance(data, dict) and set(data) == {"scenarios"}:
        data = data["scenarios"]
    if not isinstance(data, list):
        raise DataError(
            'a JSON scenario file holds a list of objects, or {"scenarios": [...]}',
            file=file,
            hint='e.g. [{"scenario": "low", "L": "1e5 molecule"}, {"scenario": "high", "L": "6e6 molecule"}]',
        )
    return [_entry(entry, f"scenarios[{i}]", file) for i, entry in enumerate(data)]


def _entry(entry: Any, where: str, file: str | None, *, csv_style: bool = False) -> _Row:
    """One row from a mapping of names to values (text, Quantity, UnitValue; None or '' sets
    nothing), and its ``scenario`` entry (None without one)."""
    if not isinstance(entry, Mapping):
        raise DataError(
            f"a scenario is an object of names and values, not {type(entry).__name__}",
            file=file,
            location=where,
        )
    values, locations = {}, {}
    for key, value in entry.items():
        name = str(key)
        if name == NAME:
            continue
        locations[name] = f"{where}, column '{name}'" if csv_style else f"{where}.{name}"
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            values[name] = UnitValue.parse(value)
        except UnitError as exc:
            raise exc.with_location(file=file, location=locations[name]) from None
    given = entry.get(NAME)
    return _Row(
        None if given in (None, "") else given,
        Scenario(name="", values=values, source=where, locations=locations),
    )


class _Row(NamedTuple):
    name: Any  # the ``scenario`` entry as given, None without one
    scenario: Scenario  # not yet named


def _table(rows: list[_Row], file: str | None) -> ScenarioTable:
    """The rows named (by position where none has a name), every name checked."""
    if not rows:
        raise DataError("the table holds no scenarios", file=file, hint="give at least one row")
    if all(row.name is None for row in rows):
        return ScenarioTable(rows=tuple(_named(row.scenario, k) for k, row in enumerate(rows)), file=file)
    seen: dict[ScenarioName, str] = {}
    for row in rows:
        where = row.scenario.source
        if row.name is None:
            raise DataError(
                f"this scenario has no name, but others have one; name every row in its '{NAME}' entry",
                file=file,
                location=where,
            )
        if not isinstance(row.name, str | int) or isinstance(row.name, bool):
            raise DataError(f"scenario name {row.name!r} is not text", file=file, location=where)
        if row.name in seen:
            raise DataError(
                f"scenario name {row.name!r} is used again (first at {seen[row.name]})",
                file=file,
                location=where,
                hint="give each scenario its own name",
            )
        seen[row.name] = where
    return ScenarioTable(rows=tuple(_named(row.scenario, row.name) for row in rows), file=file)


def _named(scenario: Scenario, name: ScenarioName) -> Scenario:
    return Scenario(name=name, values=scenario.values, source=scenario.source, locations=scenario.locations)
