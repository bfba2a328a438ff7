"""A multistart fit's finished starts on disk, one JSON line each, so an interrupted fit resumes.

The file (``fit.json.starts.jsonl`` beside the CLI's ``fit.json``) begins with a line that says
which fit it belongs to (the problem's fingerprint, the number of starts, the design, the seed)
and holds the start points; each finished start is then appended as one line and flushed to
disk before the next is reported. A line cut short by a kill is ignored on reading, so the
file loses at most the start that was being written. When the fit is complete the file is
removed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from degranulation.errors import DataError

if TYPE_CHECKING:
    from degranulation.fitting import Problem, StartResult


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
    >>> from degranulation.fitting import StartResult
    >>> from degranulation.io.fit_store import StartStore
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
            The start points to use (the stored ones when resuming) and the finished starts.

        Raises
        ------
        DataError
            If the file holds an unfinished fit and ``resume`` is false, if it holds a different
            fit, or if it cannot be read or written.
        """
        if self.path.exists():
            if not resume:
                raise DataError(
                    f"an unfinished fit is stored in '{self.path}'",
                    hint="pass resume=True (--resume) to continue it, or delete the file to start over",
                )
            return self._read()
        header = {"spec": self.spec, "points": np.asarray(points, dtype=float).tolist()}
        try:
            temporary = self.path.with_name(f".{self.path.name}.partial")
            temporary.write_text(json.dumps(header, sort_keys=True) + "\n", encoding="utf-8")
            temporary.replace(self.path)
        except OSError as exc:
            raise DataError(f"cannot write '{self.path}': {exc.strerror}") from None
        return np.asarray(points, dtype=float), []

    def _read(self) -> tuple[np.ndarray, list[StartResult]]:
        from degranulation.fitting import StartResult

        try:
            text = self.path.read_text(encoding="utf-8")
            header = json.loads(text.split("\n", 1)[0])
            if not text.endswith("\n"):  # a kill cut the last line short: drop it before appending
                text = text[: text.rfind("\n") + 1]
                self.path.write_text(text, encoding="utf-8")
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise DataError(
                f"cannot read the stored fit '{self.path}': {exc}", hint="delete it to start over"
            ) from None
        lines = text.split("\n")
        stored = header.get("spec", {})
        differing = sorted(k for k in set(stored) | set(self.spec) if stored.get(k) != self.spec.get(k))
        if differing:
            raise DataError(
                f"the fit stored in '{self.path}' differs from this one in: {', '.join(differing)}",
                hint="resume with exactly the same model, data and arguments, or delete the file",
            )
        finished = []
        for line in filter(None, lines[1:]):
            record = json.loads(line)
            record["initial"] = np.array(record["initial"], dtype=float)
            record["final"] = np.array(record["final"], dtype=float)
            finished.append(StartResult(**record))
        return np.array(header["points"], dtype=float).reshape(len(header["points"]), -1), finished

    def write(self, result: StartResult) -> None:
        """Append one finished start and flush it to disk."""
        record = {
            "index": result.index,
            "initial": result.initial.tolist(),
            "final": result.final.tolist(),
            "cost": result.cost,
            "is_success": result.is_success,
            "is_failed": result.is_failed,
            "message": result.message,
            "nfev": result.nfev,
            "njev": result.njev,
        }
        try:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise DataError(f"cannot write '{self.path}': {exc.strerror}") from None

    def finish(self) -> None:
        """Remove the file: the fit is complete."""
        self.path.unlink(missing_ok=True)
