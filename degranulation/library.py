"""The bundled model library: ``load_model(name_or_path)`` and ``list_models()``.

Bundled models are the ``models/*.toml`` files, shipped inside the wheel as
``degranulation/models``; in a source checkout they are read from the repository's
``models/`` folder.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from degranulation.errors import ModelError, ModelIssue
from degranulation.network import Model

SBML_SUFFIXES = (".xml", ".sbml")


def models_folder() -> Path:
    """Folder holding the bundled model files."""
    packaged = Path(str(resources.files("degranulation"))) / "models"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "models"


@dataclass(frozen=True)
class ModelInfo:
    """One line of the library: id, title, cell type and file."""

    id: str
    title: str
    cell_type: str
    path: Path


def list_models() -> list[ModelInfo]:
    """The bundled models, sorted by id (files are read, not validated).

    Examples
    --------
    >>> import degranulation as dg
    >>> "ige_fceri_crosslinking" in [m.id for m in dg.list_models()]
    True
    """
    found = []
    for path in sorted(models_folder().glob("*.toml")):
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        found.append(ModelInfo(path.stem, str(data.get("title", "")), str(data.get("cell_type", "")), path))
    return found


def model_path(name_or_path: str | Path) -> Path:
    """Resolve a bundled id or a path to a model file.

    Raises
    ------
    ModelError
        For an unknown id (with the closest bundled ids) or a missing file.
    """
    text = str(name_or_path)
    path = Path(text)
    if path.suffix or path.exists() or "/" in text:
        if not path.is_file():
            raise ModelError(f"no such model file '{text}'", file=text, hint="check the path")
        return path
    bundled = models_folder() / f"{text}.toml"
    if bundled.is_file():
        return bundled
    known = sorted(p.stem for p in models_folder().glob("*.toml"))
    close = [k for k in known if k.startswith(text)] or difflib.get_close_matches(text, known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else "run 'degranulation models' to list them"
    raise ModelError(f"unknown model '{text}'", hint=hint)


def read_model_file(path: str | Path, *, strict_units: bool = False) -> Model:
    """Read a model file by its extension: ``.toml`` (model file), ``.xml`` or ``.sbml``
    (SBML, needs the ``sbml`` extra) or ``.net`` (BioNetGen network); not validated.
    ``strict_units`` refuses an SBML or BioNetGen file whose units disagree (model files
    always enforce units)."""
    suffix = Path(path).suffix.lower()
    if suffix in SBML_SUFFIXES:
        from degranulation.formats.sbml import read_sbml

        return read_sbml(path, strict_units=strict_units)
    if suffix == ".net":
        from degranulation.formats.bngnet import read_bngnet

        return read_bngnet(path, strict_units=strict_units)
    from degranulation.formats.toml import read_model

    return read_model(path)


def save_model(model: Model, path: str | Path) -> Path:
    """Write a model in the format its extension names: ``.toml``, or ``.xml``/``.sbml`` (SBML).

    Raises
    ------
    ModelError
        For another extension (BioNetGen ``.net`` files are read, not written).

    Examples
    --------
    >>> import degranulation as dg, tempfile, pathlib
    >>> from degranulation.library import save_model
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> dg.load_model(save_model(dg.load_model("ige_fceri_crosslinking"), folder / "m.toml")).id
    'ige_fceri_crosslinking'
    """
    suffix = Path(path).suffix.lower()
    if suffix in SBML_SUFFIXES:
        from degranulation.formats.sbml import write_sbml

        return write_sbml(model, path)
    if suffix != ".toml":
        raise ModelError(
            f"cannot write a model as '{suffix or path}'",
            file=str(path),
            hint="write .toml (model file) or .xml/.sbml (SBML)",
        )
    from degranulation.formats.toml import write_model

    return write_model(model, path)


def load_model(
    name_or_path: str | Path,
    *,
    validate: bool = True,
    strict_units: bool = False,
    cache_dir: str | Path | bool | None = None,
) -> Model:
    """Load a bundled model by id, or a model file by path, and validate it.

    Parameters
    ----------
    name_or_path : str or Path
        ``"ige_fceri_crosslinking"``, ``"path/to/model.toml"``, an SBML file (``.xml``,
        ``.sbml``) or a BioNetGen network (``.net``).
    validate : bool
        Check names, units and values (raises ``ModelValidationError`` on errors).
    strict_units : bool
        Refuse an SBML file or BioNetGen network whose units disagree
        (``UnsupportedFeatureError``); by default it is read with its numbers as written and
        one ``UnitWarning`` (see :func:`degranulation.read_sbml`). Model files always
        enforce units.
    cache_dir : path, None or False
        Where the outcomes of validation are remembered, so that the same model content is
        checked once (see :mod:`degranulation.checked`); None means the user cache folder
        (as for compiled models), False disables it.

    Examples
    --------
    >>> import degranulation as dg
    >>> model = dg.load_model("ige_fceri_crosslinking")
    >>> [s.id for s in model.species]
    ['L', 'R', 'LR', 'RLR']
    """
    model = read_model_file(model_path(name_or_path), strict_units=strict_units)
    if validate:
        from degranulation.checked import validate as check

        check(model, cache_dir=cache_dir)
    return model


def validate(model: Model | str | Path) -> list[ModelIssue]:
    """:func:`degranulation.validation.validate` for a model, a bundled model id or a model
    file's path (as :func:`degranulation.simulate` takes): raise every error at once, return
    (and warn about) the rest.

    Examples
    --------
    >>> import degranulation as dg
    >>> dg.validate("ige_fceri_crosslinking")
    []
    """
    from degranulation.validation import validate as check

    return check(as_model(model, validate=False))


def as_model(
    model: Model | str | Path, *, validate: bool = True, cache_dir: str | Path | bool | None = None
) -> Model:
    """The model every public function takes: a :class:`Model` as it is, or a bundled id or a
    model file's path loaded with :func:`load_model` (validated unless ``validate=False``;
    ``cache_dir`` as there).

    Examples
    --------
    >>> from degranulation.library import as_model
    >>> model = as_model("ige_fceri_crosslinking")
    >>> as_model(model) is model
    True
    """
    return model if isinstance(model, Model) else load_model(model, validate=validate, cache_dir=cache_dir)
