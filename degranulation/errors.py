"""Exceptions and warnings raised by degranulation.

Every error says what was found, where (file, key path such as ``reactions[2].rate``,
column inside an expression), what was expected, and a hint. Each subclasses the builtin
that callers already catch, and all of them pickle (sweeps and fits run in worker
processes)::

    DegranulationError
    ├── ModelError(ValueError)
    │   ├── ModelFileError              TOML syntax or schema
    │   ├── ExpressionError             unparsable or forbidden expression text, with column
    │   └── ModelValidationError        ExceptionGroup of ModelIssue
    ├── UnitError(ValueError)
    ├── SimulationError(RuntimeError)   t_fail, last state, solver message
    ├── FitError(RuntimeError)
    ├── DataError(ValueError)
    └── UnsupportedFeatureError(NotImplementedError)
    DegranulationWarning(UserWarning) → UnitWarning, ConservationWarning, CacheWarning,
    ResultWarning
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Literal

Severity = Literal["error", "warning"]


class DegranulationError(Exception):
    """Base class of every error raised by degranulation.

    Parameters
    ----------
    message : str
        What was found and what was expected.
    file : str, optional
        The file the problem is in.
    location : str, optional
        Key path inside the file or model, e.g. ``reactions[2].rate``.
    column : int, optional
        1-based column inside an expression.
    hint : str, optional
        What to do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        location: str | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.location = location
        self.column = column
        self.hint = hint

    def _fields(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "location": self.location,
            "column": self.column,
            "hint": self.hint,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self._fields()))

    def with_location(self, *, file: str | None = None, location: str | None = None) -> DegranulationError:
        """Return a copy that also names ``file`` and ``location`` where they were unknown."""
        fields = self._fields()
        if file and not self.file:
            fields["file"] = file
        if location and not self.location:
            fields["location"] = location
        return _rebuild(type(self), self.message, fields)

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.file, self.location) if p)
        text = self.message
        if self.column is not None:
            text = f"{text} (column {self.column})"
        if where:
            text = f"{where}: {text}"
        if self.hint:
            text = f"{text}; hint: {self.hint}"
        return text


def _rebuild(cls: type[DegranulationError], message: str, fields: dict[str, Any]) -> Any:
    err = cls.__new__(cls)
    DegranulationError.__init__(err, message)
    for key, value in fields.items():
        setattr(err, key, value)
    return err


class ModelError(DegranulationError, ValueError):
    """A model is malformed."""


class ModelFileError(ModelError):
    """A model file is not valid TOML or does not follow the model-file schema."""


class ExpressionError(ModelError):
    """Expression text cannot be parsed, or uses something that is not allowed."""


class UnitError(DegranulationError, ValueError):
    """A unit is unknown, or a quantity has the wrong dimension."""


class SimulationError(DegranulationError, RuntimeError):
    """The ODE solver failed.

    Attributes
    ----------
    t_fail : float or None
        The last time the solver reached, in the model's time unit.
    state : dict of str to float
        The state at ``t_fail``, by species id, in the model's units.
    """

    def __init__(
        self,
        message: str,
        *,
        t_fail: float | None = None,
        state: dict[str, float] | None = None,
        hint: str | None = None,
        location: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, location=location)
        self.t_fail = t_fail
        self.state = dict(state or {})

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "t_fail": self.t_fail, "state": self.state}


class FitError(DegranulationError, RuntimeError):
    """Parameter estimation failed."""


class DataError(DegranulationError, ValueError):
    """Assay data are malformed or do not match the model."""


class UnsupportedFeatureError(DegranulationError, NotImplementedError):
    """An input uses features this package does not support; ``features`` lists them all."""

    def __init__(self, message: str, *, features: Sequence[str] = (), file: str | None = None):
        super().__init__(message, file=file)
        self.features = tuple(features)

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "features": self.features}


class ModelIssue(ModelError):
    """One problem found while validating a model.

    Attributes
    ----------
    code : str
        Stable code for pipelines, e.g. ``U101``.
    severity : {"error", "warning"}
    """

    code = "M000"
    severity: Severity = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        severity: Severity = "error",
        file: str | None = None,
        location: str | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, file=file, location=location, column=column, hint=hint)
        if code is not None:
            self.code = code
        self.severity = severity

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "code": self.code, "severity": self.severity}

    def format(self) -> str:
        """One-line text form: ``error[U101] reactions[1].rate: ... (hint: ...)``."""
        where = f" {self.location}:" if self.location else ""
        col = f" (column {self.column})" if self.column is not None else ""
        hint = f"; hint: {self.hint}" if self.hint else ""
        return f"{self.severity}[{self.code}]{where} {self.message}{col}{hint}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: code, severity, file, location, column, message, hint."""
        return {
            "code": self.code,
            "severity": self.severity,
            "file": self.file,
            "location": self.location,
            "column": self.column,
            "message": self.message,
            "hint": self.hint,
        }


class SchemaIssue(ModelIssue):
    """The model file's structure is wrong (unknown key, wrong type, missing field)."""


class SyntaxIssue(ModelIssue):
    """An expression or equation cannot be parsed."""


class UnknownName(ModelIssue):
    """A name is used that the model does not declare."""


class DuplicateName(ModelIssue):
    """An id is declared twice."""


class UnitMismatch(ModelIssue):
    """A unit is unknown or has the wrong dimension for its place."""


class ValueIssue(ModelIssue):
    """A value is not finite, or negative where it must not be."""


class UnusedName(ModelIssue):
    """A declared name is never used."""


class ModelValidationError(ExceptionGroup, ModelError):  # type: ignore[misc,override]
    """Every error found in one model, raised together.

    ``exceptions`` holds the :class:`ModelIssue` instances, so ``except* UnitMismatch``
    works. ``str()`` gives one line per issue.
    """

    def __new__(cls, message: str, issues: Sequence[ModelIssue]) -> ModelValidationError:
        self = super().__new__(cls, message, list(issues))
        return self

    def __init__(self, message: str, issues: Sequence[ModelIssue]) -> None:
        super().__init__(message, list(issues))
        self.file = issues[0].file if issues else None
        self.location = None
        self.column = None
        self.hint = None

    def derive(self, excs: Sequence[Exception]) -> ModelValidationError:  # type: ignore[override]
        return ModelValidationError(self.message, [e for e in excs if isinstance(e, ModelIssue)])

    @property
    def issues(self) -> tuple[ModelIssue, ...]:
        """The issues, in the order they were found."""
        return tuple(e for e in self.exceptions if isinstance(e, ModelIssue))

    def __reduce__(self) -> tuple[Any, ...]:
        return (ModelValidationError, (self.message, self.issues))

    def __str__(self) -> str:
        lines = [self.message] + [issue.format() for issue in self.issues]
        return "\n".join(lines)


class DegranulationWarning(UserWarning):
    """Base class of warnings issued by degranulation."""


class UnitWarning(DegranulationWarning):
    """A unit is suspicious but usable."""


class ConservationWarning(DegranulationWarning):
    """A conservation law drifted more than the solver tolerance along a result."""


class CacheWarning(DegranulationWarning):
    """A cache entry was ignored (another user's, writable by others, or damaged)."""


class ResultWarning(DegranulationWarning):
    """A result is outside what the solver's tolerances vouch for: a species went negative by
    more than its absolute tolerance, or starts below it (so it is not resolved)."""


class ModelWarning(DegranulationWarning):
    """A model has a warning-level issue (e.g. an unused parameter)."""


def settle(
    issues: Sequence[ModelIssue], name: str, *, stacklevel: int = 2, quiet: Collection[str] = ()
) -> list[ModelIssue]:
    """Raise the errors among a model's ``issues`` together; warn about the rest, one
    :class:`ModelWarning` each (but those with a code in ``quiet``, of which the import that
    made the model warned once already), and return them.

    Raises
    ------
    ModelValidationError
        Titled ``"<name>: <n> error(s)"``, holding the errors.
    """
    import warnings

    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise ModelValidationError(f"{name}: {len(errors)} error(s)", errors)
    found = [i for i in issues if i.severity == "warning"]
    for issue in found:
        if issue.code not in quiet:
            warnings.warn(issue.format(), ModelWarning, stacklevel=stacklevel + 1)
    return found
