"""A sweep's finished chunks on disk, one NetCDF file each, so an interrupted sweep resumes.

Beside the output ``dr.nc`` the store keeps ``dr.nc.parts/``: ``sweep.json`` (what is being
computed) and ``chunk-000012.nc`` for each finished chunk, written next to its final name,
flushed to disk and renamed into place, so a chunk file is either whole or absent whatever
kills the process. Each chunk file names its chunk, the sweep it belongs to (a digest of
``sweep.json``) and a checksum of its values, so a file copied over another, one from another
sweep or one altered since is refused rather than resumed. When the sweep is complete the
assembled result is written durably to ``dr.nc``, and only then is the folder removed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from degranulation.atomic import write_text
from degranulation.errors import DataError

if TYPE_CHECKING:
    import xarray

SPEC_FILE: Final = "sweep.json"
CHUNK_NAME: Final = re.compile(r"chunk-(\d{6})\.nc")


class SweepStore:
    """Finished chunks of one sweep, kept under ``<output>.parts/``.

    Parameters
    ----------
    output : path
        Where the complete result goes (``.nc``).
    spec : dict
        Plain-data description of the sweep; a resumed sweep must match it exactly.
    kind : str
        What is stored, for messages (``"sweep"``; ``"batch of scenarios"`` for
        :func:`degranulation.simulate_scenarios`).

    Examples
    --------
    >>> import tempfile, pathlib, xarray as xr
    >>> from degranulation.sweeps.store import SweepStore
    >>> store = SweepStore(pathlib.Path(tempfile.mkdtemp()) / "dr.nc", {"grid": [1, 2]})
    >>> store.start(resume=False)
    []
    >>> store.write(0, xr.Dataset({"y": ("point", [1.0])}))
    >>> SweepStore(store.output, {"grid": [1, 2]}).start(resume=True)
    [0]
    """

    def __init__(self, output: str | Path, spec: dict[str, Any], *, kind: str = "sweep") -> None:
        self.output = Path(output)
        self.spec = spec
        self.kind = kind
        self.folder = self.output.with_name(f"{self.output.name}.parts")

    def start(self, *, resume: bool) -> list[int]:
        """Prepare the folder; return the chunks already finished (none unless ``resume``).

        Raises
        ------
        DataError
            If an unfinished sweep is there and ``resume`` is false, if the one there is a
            different sweep, or if the folder cannot be written.
        """
        spec_path = self.folder / SPEC_FILE
        if spec_path.exists():
            if not resume:
                raise DataError(
                    f"an unfinished {self.kind} is stored in '{self.folder}'",
                    hint="pass resume=True (--resume) to continue it, or delete the folder to start over",
                )
            try:
                stored = json.loads(spec_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise DataError(
                    f"cannot read '{spec_path}': {exc}", hint="delete the folder to start over"
                ) from None
            self._check_same(stored if isinstance(stored, dict) else {"sweep.json": stored})
            return self.finished()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"cannot write the {self.kind} folder '{self.folder}': {exc.strerror}") from None
        write_text(spec_path, json.dumps(self.spec, sort_keys=True))
        return []

    def _check_same(self, stored: dict[str, Any]) -> None:
        differing = sorted(k for k in set(stored) | set(self.spec) if stored.get(k) != self.spec.get(k))
        if differing:
            raise DataError(
                f"the {self.kind} stored in '{self.folder}' differs from this one in: {', '.join(differing)}",
                hint="resume with exactly the same model and arguments, or delete the folder to start over",
            )

    def finished(self) -> list[int]:
        """Chunk numbers with a complete file, ascending.

        Raises
        ------
        DataError
            If the folder holds a file named like a chunk that is not one (``chunk-abc.nc``).
        """
        chunks = []
        for path in sorted(self.folder.glob("chunk-*.nc")):
            match = CHUNK_NAME.fullmatch(path.name)
            if match is None:
                raise DataError(
                    f"'{path}' is not a chunk file of this {self.kind} (expected chunk-NNNNNN.nc)",
                    hint="move it out of the folder and resume again",
                )
            chunks.append(int(match[1]))
        return chunks

    def _path(self, chunk: int) -> Path:
        return self.folder / f"chunk-{chunk:06d}.nc"

    def _digest(self) -> str:
        return hashlib.sha256(json.dumps(self.spec, sort_keys=True).encode()).hexdigest()

    def write(self, chunk: int, part: xarray.Dataset) -> None:
        """Store one finished chunk (atomically and durably: the file is whole or absent)."""
        from degranulation.store import save

        labelled = part.assign_attrs(chunk=chunk, sweep=self._digest(), checksum=checksum(part))
        save(labelled, self._path(chunk))

    def read(self, chunk: int) -> xarray.Dataset:
        """A stored chunk, as written.

        Raises
        ------
        DataError
            If the file cannot be read, holds another chunk or another sweep's chunk, or its
            values do not match its checksum.
        """
        import xarray as xr

        path = self._path(chunk)
        hint = "delete that file; resuming recomputes its points"
        try:
            with xr.open_dataset(path) as opened:
                part = opened.load()
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read '{path}': {exc}", hint=hint) from None
        attrs = dict(part.attrs)
        part.attrs = {}
        if "chunk" not in attrs or int(attrs["chunk"]) != chunk:
            found = f"chunk {int(attrs['chunk'])}" if "chunk" in attrs else "no chunk number"
            raise DataError(f"'{path}' holds {found}, not chunk {chunk} (copied or renamed?)", hint=hint)
        if attrs.get("sweep") != self._digest():
            raise DataError(f"'{path}' belongs to another {self.kind}", hint=hint)
        if attrs.get("checksum") != checksum(part):
            raise DataError(f"'{path}' does not match its checksum: it was altered or damaged", hint=hint)
        return part

    def finish(self, result: xarray.Dataset) -> None:
        """Write the complete result to ``output`` durably, then remove the chunk folder."""
        from degranulation.store import save

        save(result, self.output)
        shutil.rmtree(self.folder, ignore_errors=True)


def checksum(dataset: xarray.Dataset) -> str:
    """SHA-256 of a dataset's variables (names, shapes, values), the same after a NetCDF round trip."""
    import numpy as np

    digest = hashlib.sha256()
    for name in sorted(map(str, dataset.variables)):
        values = np.asarray(dataset[name].values)
        digest.update(f"{name}{values.shape}".encode())
        if values.dtype.kind in "biuf":
            digest.update(np.ascontiguousarray(values, dtype=float).tobytes())
        else:
            digest.update("\0".join(map(str, values.ravel())).encode())
    return digest.hexdigest()
