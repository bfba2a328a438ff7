"""The SBML Test Suite wrapper, as the suite's Test Runner calls one::

    python -m degranulation.sbml_suite CASES_DIR CASE_ID OUT_DIR [LEVEL VERSION]

It reads ``CASES_DIR/CASE_ID/CASE_ID-sbml-lLvV.xml`` (``CASE_ID-sbml.xml`` when no level is
given or that file is missing) and ``CASE_ID-settings.txt``, simulates, and writes
``OUT_DIR/CASE_ID.csv`` with ``time`` and the settings' variables in SBML's numbers (species
as amounts or concentrations, as the settings say). Exit codes: 0 written; 1 the case uses
something degranulation cannot represent, or is invalid (one line on stderr says what);
2 usage; 3 the solver failed.
"""

from __future__ import annotations

import csv
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from degranulation.errors import (
    DegranulationError,
    ModelError,
    ModelWarning,
    ResultWarning,
    SimulationError,
    UnitError,
)
from degranulation.network import Compartment, Model

if TYPE_CHECKING:
    from degranulation.formats.sbml import SbmlImport

#: Solver tolerances relative to the case's own (``absolute``, ``relative``).
TOLERANCE_FACTOR: Final = 1e-5
EXIT_OK, EXIT_UNSUPPORTED, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


@dataclass(frozen=True)
class Settings:
    """A case's ``-settings.txt``: output times, variables, tolerances and amount/concentration.

    Examples
    --------
    >>> s = Settings(start=0.0, duration=1.0, steps=4, variables=("S1",), absolute=1e-7,
    ...              relative=1e-4, amount=frozenset({"S1"}), concentration=frozenset())
    >>> s.times.tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """

    start: float
    duration: float
    steps: int
    variables: tuple[str, ...]
    absolute: float
    relative: float
    amount: frozenset[str]
    concentration: frozenset[str]

    @property
    def times(self) -> np.ndarray:
        """Output times: ``start + k·duration/steps`` for k = 0 … steps."""
        return self.start + self.duration * np.arange(self.steps + 1) / self.steps


def read_settings(path: str | Path) -> Settings:
    """Read a ``-settings.txt`` file.

    Raises
    ------
    ModelError
        If a required key is missing or a number is malformed.
    """
    entries: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            entries[key.strip().lower()] = value.strip()

    def names(key: str) -> tuple[str, ...]:
        return tuple(n.strip() for n in entries.get(key, "").split(",") if n.strip())

    try:
        return Settings(
            start=float(entries["start"]),
            duration=float(entries["duration"]),
            steps=int(entries["steps"]),
            variables=names("variables"),
            absolute=float(entries["absolute"]),
            relative=float(entries["relative"]),
            amount=frozenset(names("amount")),
            concentration=frozenset(names("concentration")),
        )
    except (KeyError, ValueError) as exc:
        raise ModelError(f"settings file is missing or has a malformed {exc}", file=str(path)) from None


def case_file(
    cases_dir: str | Path, case_id: str, level: int | None = None, version: int | None = None
) -> Path:
    """The case's SBML file: the ``-sbml-lLvV.xml`` one when asked for and present."""
    folder = Path(cases_dir) / case_id
    if level is not None and version is not None:
        specific = folder / f"{case_id}-sbml-l{level}v{version}.xml"
        if specific.is_file():
            return specific
    return folder / f"{case_id}-sbml.xml"


def simulate_case(imported: SbmlImport, settings: Settings) -> list[tuple[str, np.ndarray]]:
    """Simulate an imported case and return the output columns, time first, in SBML's
    numbers. The time column is named ``time`` unless a variable is (SBML ids may be
    ``time``, ``Time``, ``TIME``), then ``time_`` with underscores added until no variable is.

    Raises
    ------
    ModelError
        For a variable the model does not have.
    SimulationError
        If the solver fails.
    """
    from degranulation.simulation import simulate
    from degranulation.units import registry

    time = imported.units["time"]
    times = settings.times
    # The case's own tolerances judge the result: values below its absolute tolerance are
    # expected there, so the ResultWarning that flags them for a user says nothing new here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResultWarning)
        dataset = simulate(  # from SBML's initial state at t = 0, whatever the first output time
            imported.model,
            t=registry().Quantity(times * time.factor, time.text),
            rtol=settings.relative * TOLERANCE_FACTOR,
            atol=settings.absolute * TOLERANCE_FACTOR,
            cache_dir=False,
        )
    time_column = "time"
    while time_column in settings.variables:  # the Test Runner reads time by position, others by name
        time_column += "_"
    columns = [(time_column, times)]
    for variable in settings.variables:
        quantity = _quantity(imported, dataset, variable, settings)
        columns.append((variable, np.broadcast_to(np.asarray(quantity, dtype=float), times.shape)))
    return columns


def _quantity(imported: SbmlImport, dataset: Any, variable: str, settings: Settings) -> Any:
    """One variable as SBML numbers: its value divided by its SBML unit."""
    from degranulation.formats.units import Unit, format_unit
    from degranulation.units import registry

    if variable not in imported.ids or variable not in imported.units:
        raise ModelError(
            f"the case asks for '{variable}', which is not a species, parameter, "
            "compartment or assignment-rule variable of the model"
        )
    name = imported.ids[variable]
    unit = imported.units[variable]
    model = imported.model
    value = dataset[name].data if name in dataset.data_vars else _stepped(model, name, dataset)
    compartment = imported.compartments.get(variable)
    if compartment is not None:
        size = _size(imported, dataset, compartment)
        volume = imported.units[compartment]
        is_amount = value.dimensionality == registry().Quantity(1, "mol").dimensionality
        if variable in settings.amount and not is_amount:
            value = value * size
            unit = Unit(unit.factor * volume.factor, format_unit([(unit.text, 1), (volume.text, 1)]))
        elif variable in settings.concentration and is_amount:
            value = value / size
            unit = Unit(unit.factor / volume.factor, format_unit([(unit.text, 1), (volume.text, -1)]))
    return (value / unit.quantity()).to("dimensionless").magnitude


def _size(imported: SbmlImport, dataset: Any, compartment: str) -> Any:
    """A compartment's size: at each output time where it changes (a model variable or an
    observable of the model, see :mod:`degranulation.formats.sbml`), else its constant size."""
    name = imported.ids[compartment]
    return dataset[name].data if name in dataset.data_vars else _constant(imported.model, name)


def _stepped(model: Model, name: str, dataset: Any) -> Any:
    """A parameter's value or a compartment's size at each output time: the model's value,
    then what the default protocol's steps (SBML events at fixed times) set it to."""
    from degranulation.protocols import protocol_steps
    from degranulation.units import registry

    value = _constant(model, name)
    times = dataset["time"].data
    magnitudes = np.full(np.shape(times), float(value.magnitude))
    for step in protocol_steps(model, None):
        if step.target == name and step.action == "set" and step.value is not None:  # parameters are only set
            after = times >= registry().Quantity(step.at.value, step.at.unit)
            new = registry().Quantity(step.value.value, step.value.unit).to(value.units).magnitude
            magnitudes = np.where(np.asarray(after), new, magnitudes)
    return registry().Quantity(magnitudes, value.units)


def _constant(model: Model, name: str) -> Any:
    """A parameter's value or a compartment's size, as a pint Quantity."""
    from degranulation.units import registry

    record = model.by_id[name]
    given = record.size if isinstance(record, Compartment) else model.get_parameter(name).value
    return registry().Quantity(given.value, given.unit)


def write_columns(columns: Sequence[tuple[str, np.ndarray]], path: str | Path) -> Path:
    """Write ``(name, values)`` columns as the suite's CSV (full float precision)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([name for name, _ in columns])
        for row in zip(*(values for _, values in columns), strict=True):
            writer.writerow([repr(float(v)) for v in row])
    return path


def run_case(
    cases_dir: str | Path,
    case_id: str,
    out_dir: str | Path,
    level: int | None = None,
    version: int | None = None,
) -> Path:
    """Run one case and write ``OUT_DIR/CASE_ID.csv``; returns its path.

    Raises
    ------
    UnsupportedFeatureError
        When the case's model uses what degranulation cannot represent.
    ModelError, SimulationError
        For an invalid case or a solver failure.
    """
    from degranulation.formats.sbml import import_sbml
    from degranulation.validation import validate

    settings = read_settings(Path(cases_dir) / case_id / f"{case_id}-settings.txt")
    imported = import_sbml(case_file(cases_dir, case_id, level, version))
    with warnings.catch_warnings():  # unused parameters are common in SBML and harmless
        warnings.simplefilter("ignore", ModelWarning)
        validate(imported.model)
    columns = simulate_case(imported, settings)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_columns(columns, out / f"{case_id}.csv")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: returns the exit code (see the module docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (3, 5) or (len(args) == 5 and not all(a.isdigit() for a in args[3:])):
        print(
            "usage: python -m degranulation.sbml_suite CASES_DIR CASE_ID OUT_DIR [LEVEL VERSION]",
            file=sys.stderr,
        )
        return EXIT_USAGE
    level, version = (int(args[3]), int(args[4])) if len(args) == 5 else (None, None)
    try:
        run_case(args[0], args[1], args[2], level, version)
    except SimulationError as exc:
        return _fail(exc, EXIT_FAILED)
    except (DegranulationError, UnitError, OSError) as exc:
        return _fail(exc, EXIT_UNSUPPORTED)
    return EXIT_OK


def _fail(exc: BaseException, code: int) -> int:
    print(f"degranulation.sbml_suite: {' '.join(str(exc).split())}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
