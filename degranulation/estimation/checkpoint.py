"""A multistart fit's finished starts on disk, one JSON line each, so an interrupted fit resumes.

The file (``fit.json.starts.jsonl`` beside the CLI's ``fit.json``) begins with a line that says
which fit it belongs to (the problem's fingerprint, the number of starts, the design, the seed)
and holds the start points; each finished start is then appended as one line and flushed to
disk before the next is reported. A line cut short by a kill is ignored on reading, so the
file loses at most the start that was being written. Every line carries a SHA-256 checksum of
its content and of the fit it belongs to, and every start its index: a garbled, altered or
foreign line is reported with its line number, a repeated line is read once. When the fit is
complete (for the CLI: once ``fit.json`` is on disk) the file is removed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from degranulation.atomic import write_text
from degranulation.errors import DataError

if TYPE_CHECKING:
    from degranulation.estimation.problem import Problem
    from degranulation.estimation.result import StartResult

RECORD_KEYS: Final = (
    "index",
    "initial",
    "final",
    "cost",
    "is_success",
    "is_failed",
    "message",
    "nfev",
    "njev",
)


def problem_fingerprint(problem: Problem) -> str:
    """A hash of what a fit computes: the model, the free parameters and their bounds, the
    measurements and the solver, so that a stored start is reused only for the same fit."""
    digest = hashlib.sha256()
    digest.update(problem.compiled.key.encode())
    digest.update(json.dumps([(f.name, f.unit, f.scale, f.lower, f.upper) for f in problem.free]).encode())
    digest.update(json.dumps(problem.solver.describe(), sort_keys=True, default=str).encode())
    digest.update(json.dumps(list(problem.labels)).encode())
    for array in (problem.data, problem.base_sigma, problem.times, problem.readout_of):
        digest.update(np.ascontiguousarray(array, dtype=float).tobytes())
    return digest.hexdigest()


class StartStore:
    """Finished starts of one multistart fit, in ``path`` (JSON lines).

    Parameters
    ----------
    path : path
        The file; its folder must exist.
    spec : dict
        Plain-data description of the fit; a resumed fit must match it exactly.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from degranulation.estimation.result import StartResult
    >>> from degranulation.estimation.checkpoint import StartStore
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "fit.json.starts.jsonl"
    >>> store = StartStore(path, {"fit": "abc"})
    >>> store.start(np.zeros((2, 1)), resume=False)[1]
    []
    >>> store.write(StartResult(index=1, initial=np.zeros(1), final=np.ones(1), cost=0.5,
    ...                         is_success=True, is_failed=False, message="", nfev=3, njev=3))
    >>> points, done = StartStore(path, {"fit": "abc"}).start(np.ones((2, 1)), resume=True)
    >>> points.tolist(), [(s.index, s.cost) for s in done]
    ([[0.0], [0.0]], [(1, 0.5)])
    """

    def __init__(self, path: str | Path, spec: dict[str, Any]) -> None:
        self.path = Path(path)
        self.spec = spec

    def start(self, points: np.ndarray, *, resume: bool) -> tuple[np.ndarray, list[StartResult]]:
        """Begin the file with ``points``, or (``resume``) read the stored points and starts.

        Returns
        -------
        points, finished
            The start points to use (the stored ones when resuming) and the finished starts,
            one per index.

        Raises
        ------
        DataError
            If the file holds an unfinished fit and ``resume`` is false, if it holds a different
            fit, if a line is garbled, incomplete, altered or contradicts another, or if the
            file cannot be read or written.
        """
        if self.path.exists():
            if not resume:
                raise DataError(
                    f"an unfinished fit is stored in '{self.path}'",
                    hint="pass resume=True (--resume) to continue it, or delete the file to start over",
                )
            return self._read()
        header = {"spec": self.spec, "points": np.asarray(points, dtype=float).tolist()}
        write_text(self.path, self._line(header))
        return np.asarray(points, dtype=float), []

    def _digest(self) -> str:
        return hashlib.sha256(json.dumps(self.spec, sort_keys=True).encode()).hexdigest()

    def _checksum(self, record: dict[str, Any]) -> str:
        return hashlib.sha256((self._digest() + json.dumps(record, sort_keys=True)).encode()).hexdigest()

    def _line(self, record: dict[str, Any]) -> str:
        return json.dumps({**record, "sha256": self._checksum(record)}, sort_keys=True) + "\n"

    def _read(self) -> tuple[np.ndarray, list[StartResult]]:
        try:
            text = self.path.read_text(encoding="utf-8")
            if not text.endswith("\n"):  # a kill cut the last line short: drop it before appending
                text = text[: text.rfind("\n") + 1]
                self.path.write_text(text, encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(
                f"cannot read the stored fit '{self.path}': {exc}", hint="delete it to start over"
            ) from None
        lines = text.split("\n")[:-1]
        try:  # a different fit is told apart before checksums, which depend on the fit
            header = json.loads(lines[0]) if lines else None
        except ValueError:
            header = None
        stored = header.get("spec") if isinstance(header, dict) else None
        if isinstance(stored, dict) and stored != self.spec:
            differing = sorted(k for k in set(stored) | set(self.spec) if stored.get(k) != self.spec.get(k))
            raise DataError(
                f"the fit stored in '{self.path}' differs from this one in: {', '.join(differing)}",
                hint="resume with exactly the same model, data and arguments, or delete the file",
            )
        header = self._record(lines[0] if lines else "", 1, ("spec", "points"))
        try:
            points = np.array(header["points"], dtype=float)
            points = points.reshape(len(points), -1)
        except (TypeError, ValueError):
            raise self._error(1, "the start points are not a table of numbers") from None
        finished: dict[int, StartResult] = {}
        stored_lines: dict[int, dict[str, Any]] = {}
        for number, line in enumerate(lines[1:], start=2):
            record = self._record(line, number, RECORD_KEYS)
            index = record["index"]
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(points):
                raise self._error(number, f"start index {index!r} is not one of 0..{len(points) - 1}")
            if index in stored_lines:
                if stored_lines[index] != record:
                    raise self._error(number, f"start {index} is stored twice, with different results")
                continue  # the same line twice: read once
            stored_lines[index] = record
            finished[index] = self._start(record, number)
        return points, [finished[i] for i in sorted(finished)]

    def _error(self, number: int, message: str) -> DataError:
        return DataError(
            message,
            file=str(self.path),
            location=f"line {number}",
            hint="delete that line to run its start again, or the file to start over",
        )

    def _record(self, line: str, number: int, keys: tuple[str, ...]) -> dict[str, Any]:
        """One line's record, its checksum verified."""
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise self._error(number, f"not a JSON record ({exc.msg})") from None
        if not isinstance(record, dict):
            raise self._error(number, "not a JSON record")
        missing = [key for key in (*keys, "sha256") if key not in record]
        if missing:
            raise self._error(number, f"the record lacks {', '.join(map(repr, missing))}")
        stated = record.pop("sha256")
        if stated != self._checksum(record):
            raise self._error(number, "the record does not match its checksum: it was altered or damaged")
        return record

    def _start(self, record: dict[str, Any], number: int) -> StartResult:
        from degranulation.estimation.result import StartResult

        try:
            values = {key: record[key] for key in RECORD_KEYS}
            values["initial"] = np.array(values["initial"], dtype=float)
            values["final"] = np.array(values["final"], dtype=float)
            values["cost"] = float(values["cost"])
            return StartResult(**values)
        except (TypeError, ValueError) as exc:
            raise self._error(number, f"the record holds a value of the wrong kind ({exc})") from None

    def write(self, result: StartResult) -> None:
        """Append one finished start and flush it to disk."""
        record = {
            "index": result.index,
            "initial": result.initial.tolist(),
            "final": result.final.tolist(),
            "cost": float(result.cost),
            "is_success": bool(result.is_success),
            "is_failed": bool(result.is_failed),
            "message": result.message,
            "nfev": int(result.nfev),
            "njev": int(result.njev),
        }
        try:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(self._line(record))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise DataError(f"cannot write '{self.path}': {exc.strerror}") from None

    def finish(self) -> None:
        """Remove the file: the fit is complete and its result stored."""
        self.path.unlink(missing_ok=True)
