"""Model files: TOML text ⇄ :class:`~degranulation.network.Model`.

Reading checks the file's structure (known keys, types, required fields, values written as
``"number unit"``) and reports every structural problem at once with its key path; units,
names and rate laws are checked afterwards by :mod:`degranulation.validation`. Writing gives
TOML that reads back to an equal model.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from degranulation.errors import ModelError, ModelFileError
from degranulation.network import Model
from degranulation.schema import model_from_dict, model_to_dict


def read_model(path: str | Path) -> Model:
    """Read a model file.

    Parameters
    ----------
    path : str or Path
        A ``.toml`` model file.

    Returns
    -------
    Model
        Not yet validated; :func:`degranulation.load_model` reads and validates.

    Raises
    ------
    ModelFileError
        If the file cannot be read or is not TOML (with line and column).
    ModelValidationError
        Grouping every structural problem, each with its key path.
    """
    from degranulation.limits import read_model_text

    path = Path(path)
    return loads_model(read_model_text(path, "model file"), file=str(path))


def loads_model(text: str, *, file: str | None = None) -> Model:
    """Read a model from TOML text (see :func:`read_model`)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ModelFileError(
            f"not valid TOML: {message}",
            file=file,
            location=f"line {where[1]}" if where else None,
            column=int(where[2]) if where else None,
            hint="check quotes, brackets and '=' signs",
        ) from None
    return model_from_dict(data, file=file)


def dumps_model(model: Model) -> str:
    """TOML text of a model."""
    import tomli_w

    return tomli_w.dumps(model_to_dict(model))


def write_model(model: Model, path: str | Path) -> Path:
    """Write a model as a TOML file that :func:`read_model` reads back to an equal model.

    Examples
    --------
    >>> import degranulation as dg, tempfile, pathlib
    >>> model = dg.load_model("ige_fceri_crosslinking")
    >>> path = dg.write_model(model, pathlib.Path(tempfile.mkdtemp()) / "copy.toml")
    >>> dg.load_model(path) == model
    True

    Raises
    ------
    ModelError
        For a model that does not enforce units (imported with units that disagree): a model
        file enforces them, so its rate laws would mean other numbers.
    """
    from degranulation.atomic import write_text

    if not model.units_enforced:
        raise ModelError(
            f"model '{model.id}' was imported with units that disagree, its numbers taken as written; "
            "a model file enforces units, so it would mean other numbers",
            file=str(path),
            hint="fix the units in the source file (its UnitWarning lists them), or save it as SBML (.xml)",
        )
    return write_text(path, dumps_model(model))
