"""Assay data: tidy tables with units in the column headers (CSV files or pandas DataFrames).

One measurement per row. Columns: ``observable`` (a model observable or species id),
``time [min]``, ``value [percent]``, optional ``sd [percent]``, and optional condition
columns named after a parameter, compartment or species (``Ag [ng/mL]``, or
``Ag.initial [nM]``) that set that value for the row's simulation. Two optional text columns:
``protocol`` names a protocol of the model (or ``none``) for the row's simulation, and
``condition`` labels rows for plots and tables. In CSV files, lines starting with ``#`` are
comments. Every problem is reported with its line (CSV) or row (DataFrame) and column.
"""

from __future__ import annotations

import csv
import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from degranulation.errors import DataError, UnitError

if TYPE_CHECKING:
    import pandas

    from degranulation.network import Model

_HEADER_RE = re.compile(r"^\s*(?P<name>[^\[\]]*?)\s*(?:\[(?P<unit>[^\[\]]*)\])?\s*$")
_TEXT_COLUMNS: Final = ("observable", "protocol", "condition")
_REQUIRED: Final = ("observable", "time", "value")
#: Values of this magnitude or more are refused: a residual's square would overflow float64.
MAX_DATA_MAGNITUDE: Final = 1e150


@dataclass(frozen=True, eq=False)
class AssayData:
    """Measurements read by :func:`read_assay`; values stay in the units of their columns.

    Attributes
    ----------
    observable : tuple of str
        Readout of each row (an observable or species id).
    time, value : numpy.ndarray
        In ``time_unit`` and ``value_unit``.
    sd : numpy.ndarray or None
        Standard deviations, in ``value_unit``.
    conditions : mapping of str to (numpy.ndarray, str)
        Condition column name → (values, unit).
    protocol, label : tuple of str or None
        The ``protocol`` and ``condition`` columns, if present.
    rows : tuple of str
        Where each row came from (``"line 7"``, ``"row 3"``), for messages.
    source : str or None
        The file read, if any.
    """

    observable: tuple[str, ...]
    time: np.ndarray
    time_unit: str
    value: np.ndarray
    value_unit: str
    sd: np.ndarray | None = None
    sd_unit: str | None = None
    conditions: Mapping[str, tuple[np.ndarray, str]] = field(default_factory=dict)
    protocol: tuple[str, ...] | None = None
    label: tuple[str, ...] | None = None
    rows: tuple[str, ...] = ()
    source: str | None = None

    def __len__(self) -> int:
        return len(self.observable)

    def error(self, row: int | None, column: str, message: str, hint: str | None = None) -> DataError:
        """A :class:`DataError` located at ``row`` (index) and ``column`` of this table."""
        where = f"column '{column}'" if row is None else f"{self.rows[row]}, column '{column}'"
        return DataError(message, file=self.source, location=where, hint=hint)

    def header(self, name: str) -> str:
        """The header text of a column, e.g. ``"value [percent]"``."""
        units = {"time": self.time_unit, "value": self.value_unit, "sd": self.sd_unit}
        unit = units.get(name) or (self.conditions[name][1] if name in self.conditions else None)
        return f"{name} [{unit}]" if unit is not None else name

    def readout_values(
        self, model: Model, *, any_unit: Sequence[str] = ()
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Values and SDs converted to each readout's unit in the model (an observable's
        declared unit, a species' unit in the model's unit system).

        Readouts named in ``any_unit`` (those fitted with a scale factor) keep their values.

        Raises
        ------
        DataError
            For an unknown readout, or a value unit whose dimension does not fit it.
        """
        factors = np.ones(len(self))
        for name in dict.fromkeys(self.observable):
            first = self.observable.index(name)
            if name in any_unit:
                continue
            factor = _readout_factor(model, name, self.value_unit)
            if isinstance(factor, tuple):
                column, message = factor
                raise self.error(first, self.header(column), message, hint=_readout_hint(model, name))
            factors[np.asarray(self.observable) == name] = factor
        sd = None if self.sd is None else self.sd * factors * _ratio(self.sd_unit or "", self.value_unit)
        return self.value * factors, sd

    def to_dataframe(self) -> pandas.DataFrame:
        """The table as a pandas DataFrame with the same column headers.

        Examples
        --------
        >>> from degranulation.library import models_folder
        >>> data = read_assay(models_folder() / "data" / "harmon2017_beta_hex.csv")
        >>> list(data.to_dataframe().columns)[:3]
        ['condition', 'protocol', 'observable']
        """
        import pandas as pd

        columns: dict[str, Any] = {}
        if self.label is not None:
            columns["condition"] = list(self.label)
        if self.protocol is not None:
            columns["protocol"] = list(self.protocol)
        columns["observable"] = list(self.observable)
        columns[self.header("time")] = self.time
        columns[self.header("value")] = self.value
        if self.sd is not None:
            columns[self.header("sd")] = self.sd
        for name, (values, unit) in self.conditions.items():
            columns[f"{name} [{unit}]"] = values
        return pd.DataFrame(columns)


def read_assay(source: str | Path | pandas.DataFrame) -> AssayData:
    """Read assay measurements from a CSV file or a pandas DataFrame.

    Parameters
    ----------
    source : str, Path or pandas.DataFrame
        A CSV file with units in the headers (``time [min]``, ``value [percent]``), or a
        DataFrame with the same columns.

    Returns
    -------
    AssayData

    Raises
    ------
    DataError
        For a missing or unknown column, a header without a unit, an unknown unit, an empty,
        non-numeric, NaN or infinite cell, a negative time or a non-positive SD; located by
        line (CSV) or row (DataFrame) and column.

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.library import models_folder
    >>> data = dg.read_assay(models_folder() / "data" / "harmon2017_beta_hex.csv")
    >>> len(data), data.value_unit, data.protocol[:2]
    (6, 'molecule', ('continuous', 'pulse_5min'))
    """
    if not isinstance(source, str | Path) and hasattr(source, "columns") and hasattr(source, "itertuples"):
        headers = [str(c) for c in source.columns]
        cells = [[_cell_text(v) for v in row] for row in source.itertuples(index=False)]
        rows = [f"row {label}" for label in source.index]
        return _parse(headers, cells, rows, None)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"cannot read assay file: {exc.strerror}", file=str(path)) from None
    except UnicodeDecodeError as exc:  # guessing another encoding could misread 'µ' silently
        line = exc.object[: exc.start].count(b"\n") + 1
        raise DataError(
            f"byte 0x{exc.object[exc.start]:02x} is not UTF-8 text",
            file=str(path),
            location=f"line {line}",
            hint="save the file as UTF-8 (e.g. 'CSV UTF-8' in a spreadsheet)",
        ) from None
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise DataError(
            "the file has no header and no rows",
            file=str(path),
            hint="write a header such as 'observable,time [min],value [percent]'",
        )
    parsed = list(csv.reader([line for _, line in lines]))
    return _parse(
        parsed[0],
        parsed[1:],
        [f"line {number}" for number, _ in lines[1:]],
        str(path),
        header_location=f"line {lines[0][0]}",
    )


def _cell_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _columns(
    headers: list[str], source: str | None, header_location: str
) -> dict[str, tuple[int, str | None]]:
    """Each column's position and unit by name, from the header row; refuses unnamed,
    repeated, unitless or missing columns."""
    columns: dict[str, tuple[int, str | None]] = {}
    for position, header in enumerate(headers):
        match = _HEADER_RE.match(header)
        name = match["name"] if match else ""
        unit = match["unit"] if match else None
        if not name:
            raise DataError(
                f"column {position + 1} has no name ('{header}')", file=source, location=header_location
            )
        if name in columns:
            raise DataError(f"column '{name}' appears twice", file=source, location=header_location)
        if name in _TEXT_COLUMNS and unit is not None:
            raise DataError(
                f"column '{header}' holds names and takes no unit",
                file=source,
                location=header_location,
                hint=f"write '{name}'",
            )
        if name not in _TEXT_COLUMNS:
            if unit is None:
                raise DataError(
                    f"column '{header}' has no unit",
                    file=source,
                    location=header_location,
                    hint=f"put the unit in brackets, e.g. '{name} [min]' or '{name} [dimensionless]'",
                )
            _check_unit(unit, header, source, header_location)
        columns[name] = (position, unit)
    for name in _REQUIRED:
        if name not in columns:
            close = difflib.get_close_matches(name, list(columns), n=1)
            hint = (
                f"did you mean '{close[0]}'?"
                if close
                else ("headers look like 'observable,time [min],value [percent],sd [percent]'")
            )
            raise DataError(f"missing column '{name}'", file=source, location=header_location, hint=hint)
    return columns


def _parse(
    headers: list[str],
    cells: list[list[str]],
    rows: list[str],
    source: str | None,
    header_location: str = "header",
) -> AssayData:
    columns = _columns(headers, source, header_location)
    if not rows:
        raise DataError("the table has no rows", file=source)
    for row, line in enumerate(cells):
        if len(line) != len(headers):
            raise DataError(
                f"the row has {len(line)} cells; the header has {len(headers)}",
                file=source,
                location=rows[row],
            )

    def text_column(name: str) -> tuple[str, ...] | None:
        if name not in columns:
            return None
        values = []
        for row, line in enumerate(cells):
            value = line[columns[name][0]].strip()
            if not value:
                raise DataError(
                    f"empty cell in column '{name}'", file=source, location=f"{rows[row]}, column '{name}'"
                )
            values.append(value)
        return tuple(values)

    def number_column(name: str) -> np.ndarray:
        position, unit = columns[name]
        header = f"{name} [{unit}]"
        values = np.empty(len(cells))
        for row, line in enumerate(cells):
            values[row] = _number(line[position], header, rows[row], source)
        return values

    data = AssayData(
        observable=text_column("observable") or (),
        time=number_column("time"),
        time_unit=str(columns["time"][1]),
        value=number_column("value"),
        value_unit=str(columns["value"][1]),
        sd=number_column("sd") if "sd" in columns else None,
        sd_unit=columns["sd"][1] if "sd" in columns else None,
        conditions={
            name: (number_column(name), str(unit))
            for name, (_, unit) in columns.items()
            if name not in (*_TEXT_COLUMNS, "time", "value", "sd")
        },
        protocol=text_column("protocol"),
        label=text_column("condition"),
        rows=tuple(rows),
        source=source,
    )
    _check_values(data)
    return data


def _check_unit(unit: str, header: str, source: str | None, location: str) -> None:
    from degranulation.units import parse_unit

    try:
        parse_unit(unit)
    except UnitError as exc:
        raise DataError(
            f"column '{header}': {exc.message}", file=source, location=location, hint=exc.hint
        ) from None


def _number(text: str, header: str, row: str, source: str | None) -> float:
    where = f"{row}, column '{header}'"
    stripped = text.strip()
    if not stripped:
        raise DataError("empty cell", file=source, location=where, hint="every row needs a number here")
    try:
        value = float(stripped)
    except ValueError:
        raise DataError(f"'{stripped}' is not a number", file=source, location=where) from None
    if not math.isfinite(value):
        raise DataError(
            f"'{stripped}' is not a finite number",
            file=source,
            location=where,
            hint="drop rows without a measurement instead of writing NaN",
        )
    return value


def _check_values(data: AssayData) -> None:
    from degranulation.units import dimensionality

    if dict(dimensionality(data.time_unit)) != {"[time]": 1}:
        raise data.error(
            None,
            data.header("time"),
            f"'{data.time_unit}' is not a time unit",
            hint="write e.g. 'time [min]' or 'time [s]'",
        )
    for row in np.flatnonzero(data.time < 0)[:1]:
        raise data.error(int(row), data.header("time"), f"time {data.time[row]:g} is negative")
    for row in np.flatnonzero(np.abs(data.value) >= MAX_DATA_MAGNITUDE)[:1]:
        raise data.error(
            int(row),
            data.header("value"),
            f"value {data.value[row]:g} is too large to fit: its squared residual overflows",
            hint="give the values in a larger unit",
        )
    if data.sd is not None:
        if dimensionality(data.sd_unit or "") != dimensionality(data.value_unit):
            raise data.error(
                None,
                data.header("sd"),
                f"the sd unit '{data.sd_unit}' does not match the value unit '{data.value_unit}'",
            )
        for row in np.flatnonzero(data.sd <= 0)[:1]:
            raise data.error(
                int(row),
                data.header("sd"),
                f"sd {data.sd[row]:g} is not positive",
                hint="an SD must be > 0; drop the column to fit without given SDs",
            )


def _ratio(unit: str, to: str) -> float:
    from degranulation.units import parse_unit, registry

    return float(registry().Quantity(1.0, parse_unit(unit)).to(parse_unit(to)).magnitude)


def _readout_factor(model: Model, name: str, unit: str) -> float | tuple[str, str]:
    """Factor from ``unit`` to readout ``name``'s unit in the model, or (column, reason)."""
    from degranulation.dimensions import species_dimension, unit_description
    from degranulation.network import Observable, Species, UnitValue
    from degranulation.units import dimensionality
    from degranulation.values import internal_value

    record = model.by_id.get(name)
    if isinstance(record, Observable):
        if dimensionality(unit) != dimensionality(record.unit):
            return (
                "value",
                f"values in '{unit}' ({unit_description(unit)}) cannot be compared with "
                f"observable '{name}' in '{record.unit}' ({unit_description(record.unit)})",
            )
        return _ratio(unit, record.unit)
    if isinstance(record, Species):
        try:
            return internal_value(model, name, UnitValue(1.0, unit))
        except UnitError:
            from degranulation.units import format_dimension

            return (
                "value",
                f"values in '{unit}' ({unit_description(unit)}) cannot be compared with "
                f"species '{name}' ({format_dimension(species_dimension(record))})",
            )
    return ("observable", f"unknown observable '{name}' in model '{model.id}'")


def _readout_hint(model: Model, name: str) -> str:
    known = [o.id for o in model.observables] + list(model.species_ids)
    close = difflib.get_close_matches(name, known, n=1)
    if close and close[0] != name:
        return f"did you mean '{close[0]}'?"
    if name in known:
        return "give the value column a unit of the readout's dimension, or fit it with a scale factor"
    return f"readouts: {', '.join(known[:12])}"
