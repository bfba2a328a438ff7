"""Validation outcomes, cached: a model read again (the same model file in a fresh process)
is not validated again, which spares the run SymPy's import and the dimension checks.

An entry records that a model's content has no errors, and its warnings (to report them
again). It is kept in the user cache folder beside the compiled models (see
:mod:`degranulation.user_cache`: private folder, trusted entries only, atomic writes) as
JSON data, never code, under a key made of the model's content hash, the package version
and a digest of the package's own modules (so a change to the checks in a source checkout
is a miss, as a new release is). Models with errors are not stored: they are checked again
each time. A damaged entry is reported (:class:`~degranulation.errors.CacheWarning`) and
replaced.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any, Final

from degranulation.errors import (
    CacheWarning,
    DuplicateName,
    ModelIssue,
    SchemaIssue,
    SyntaxIssue,
    UnitMismatch,
    UnknownName,
    UnusedName,
    ValueIssue,
    settle,
)
from degranulation.network import NOT_ENFORCED, Model
from degranulation.user_cache import cache_folder, read_trusted, source_digest, version, write_private

_KINDS: Final = {
    kind.__name__: kind
    for kind in (
        ModelIssue, SchemaIssue, SyntaxIssue, UnknownName, DuplicateName, UnitMismatch, ValueIssue, UnusedName
    )
}  # fmt: skip
_FIELDS: Final = ("code", "severity", "location", "column", "message", "hint")

_MEMORY: dict[str, list[dict[str, Any]]] = {}  # key -> issue records, this process


def validate(model: Model, *, cache_dir: str | Path | bool | None = None) -> list[ModelIssue]:
    """:func:`degranulation.validation.validate` with the cache: raise every error at once,
    return (and warn about) the warnings.

    Parameters
    ----------
    model : Model
    cache_dir : path, None or False
        As for :func:`degranulation.codegen.compile_model` (None: the user cache folder,
        False: no disk cache).

    Examples
    --------
    >>> import degranulation as dg
    >>> from degranulation.checked import validate
    >>> validate(dg.load_model("ige_fceri_crosslinking", validate=False))
    []
    """
    name = model.source or f"model '{model.id}'"
    return settle(find_issues(model, cache_dir=cache_dir), name, quiet=NOT_ENFORCED)


def find_issues(model: Model, *, cache_dir: str | Path | bool | None = None) -> list[ModelIssue]:
    """:func:`degranulation.validation.find_issues`, from the cache when this model's content
    was found free of errors before (by this version of the package)."""
    key = hashlib.sha256(f"{model.content_hash}:{version()}:{source_digest()}".encode()).hexdigest()
    folder = cache_folder(cache_dir)
    records = _MEMORY.get(key)
    if records is None and folder is not None:
        records = _read(folder / f"{key}.json", key)
    if records is None:
        from degranulation.validation import find_issues as check

        records = [_record(issue) for issue in check(model)]
        if folder is not None and all(r["severity"] != "error" for r in records):
            _write(folder / f"{key}.json", key, records)
    _MEMORY[key] = records
    return [_issue(record, model.source) for record in records]


def _read(path: Path, key: str) -> list[dict[str, Any]] | None:
    """The entry's issue records; None when it is absent or untrusted, or damaged (warned)."""
    content = read_trusted(path)
    if content is None:
        return None
    try:
        entry = json.loads(content)
        records = entry["issues"]
        if entry["key"] != key or entry["checksum"] != _checksum(records):
            raise ValueError("its key or checksum does not match")
        for record in records:
            _issue(record, None)  # every record must make an issue
        return list(records)
    except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError and UnicodeError too
        warnings.warn(
            f"ignoring the damaged validated-model cache entry '{path}' ({exc}); validating again",
            CacheWarning,
            stacklevel=4,
        )
        return None


def _write(path: Path, key: str, records: list[dict[str, Any]]) -> None:
    entry = {"key": key, "issues": records, "checksum": _checksum(records)}
    write_private(path, json.dumps(entry, sort_keys=True).encode())


def _checksum(records: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()


def _record(issue: ModelIssue) -> dict[str, Any]:
    """An issue as data (its file is the model's, given back when it is read)."""
    fields = issue.to_dict()
    return {"kind": type(issue).__name__, **{name: fields[name] for name in _FIELDS}}


def _issue(record: dict[str, Any], file: str | None) -> ModelIssue:
    kind = _KINDS.get(record["kind"])
    if kind is None or record["severity"] not in ("error", "warning"):
        raise ValueError(f"unknown issue kind or severity in {record!r}")
    column = record["column"]
    if column is not None and not isinstance(column, int):
        raise TypeError(f"column {column!r} is not a number")
    return kind(
        str(record["message"]),
        code=str(record["code"]),
        severity=record["severity"],
        file=file,
        location=None if record["location"] is None else str(record["location"]),
        column=column,
        hint=None if record["hint"] is None else str(record["hint"]),
    )
