"""What an SBML import gives (:class:`SbmlImport`) and reading an SBML document with libsbml,
for :mod:`degranulation.formats.sbml`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from degranulation.errors import ModelFileError
from degranulation.formats.units import Unit
from degranulation.limits import check_file_size
from degranulation.network import Model


@dataclass(frozen=True)
class SbmlImport:
    """An SBML file read into a model, with what links the two.

    Attributes
    ----------
    model : Model
    ids : dict of str to str
        SBML id → model id (ids that clash with reserved names are renamed, e.g. ``S`` → ``S_``).
    units : dict of str to Unit
        SBML id → what one unit of its SBML value is (a species: of its symbol, the amount
        when ``hasOnlySubstanceUnits``, else the concentration). ``"time"`` is the time unit.
    compartments : dict of str to str
        SBML species id → SBML id of its compartment.
    """

    model: Model
    ids: dict[str, str]
    units: dict[str, Unit]
    compartments: dict[str, str]


def read_document(libsbml: Any, path: Path) -> Any:
    """Read an SBML file with libsbml, refusing files with errors (ModelFileError)."""
    if not path.is_file():
        raise ModelFileError(f"no such SBML file '{path}'", file=str(path), hint="check the path")
    check_file_size(path, "SBML file")
    document = libsbml.readSBMLFromFile(str(path))
    problems = [
        f"line {error.getLine()}: {' '.join(error.getShortMessage().split())}"
        for error in (document.getError(i) for i in range(document.getNumErrors()))
        if error.getSeverity() >= libsbml.LIBSBML_SEV_ERROR
    ]
    if problems:
        raise ModelFileError(
            f"not valid SBML: {'; '.join(problems[:5])}",
            file=str(path),
            hint="check the file with an SBML validator (e.g. https://sbml.org/validator)",
        )
    if document.getModel() is None:
        raise ModelFileError("the SBML file has no model", file=str(path))
    return document
