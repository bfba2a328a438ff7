"""A sweep's finished chunks on disk, one NetCDF file each, so an interrupted sweep resumes.

Beside the output ``dr.nc`` the store keeps ``dr.nc.parts/``: ``sweep.json`` (what is being
computed) and ``chunk-000012.nc`` for each finished chunk, written next to its final name and
renamed into place, so a chunk file is either whole or absent whatever kills the process.
When the sweep is complete the assembled result is written to ``dr.nc`` and the folder is
removed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from degranulation.errors import DataError

if TYPE_CHECKING:
    import xarray

SPEC_FILE: Final = "sweep.json"


class SweepStore:
    """Finished chunks of one sweep, kept under ``<output>.parts/``.

    Parameters
    ----------
    output : path
        Where the complete result goes (``.nc``).
    spec : dict
        Plain-data description of the sweep; a resumed sweep must match it exactly.

    Examples
    --------
    >>> import tempfile, pathlib, xarray as xr
    >>> from degranulation.io.sweep_store import SweepStore
    >>> store = SweepStore(pathlib.Path(tempfile.mkdtemp()) / "dr.nc", {"grid": [1, 2]})
    >>> store.start(resume=False)
    []
    >>> store.write(0, xr.Dataset({"y": ("point", [1.0])}))
    >>> SweepStore(store.output, {"grid": [1, 2]}).start(resume=True)
    [0]
    """

    def __init__(self, output: str | Path, spec: dict[str, Any]) -> None:
        self.output = Path(output)
        self.spec = spec
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
                    f"an unfinished sweep is stored in '{self.folder}'",
                    hint="pass resume=True (--resume) to continue it, or delete the folder to start over",
                )
            self._check_same(json.loads(spec_path.read_text(encoding="utf-8")))
            return self.finished()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary = self.folder / f".{SPEC_FILE}.partial"
            temporary.write_text(json.dumps(self.spec, sort_keys=True), encoding="utf-8")
            temporary.replace(spec_path)
        except OSError as exc:
            raise DataError(f"cannot write the sweep folder '{self.folder}': {exc.strerror}") from None
        return []

    def _check_same(self, stored: dict[str, Any]) -> None:
        differing = sorted(k for k in set(stored) | set(self.spec) if stored.get(k) != self.spec.get(k))
        if differing:
            raise DataError(
                f"the sweep stored in '{self.folder}' differs from this one in: {', '.join(differing)}",
                hint="resume with exactly the same model and arguments, or delete the folder to start over",
            )

    def finished(self) -> list[int]:
        """Chunk numbers with a complete file, ascending."""
        return sorted(int(path.stem.split("-")[1]) for path in self.folder.glob("chunk-*.nc"))

    def _path(self, chunk: int) -> Path:
        return self.folder / f"chunk-{chunk:06d}.nc"

    def write(self, chunk: int, part: xarray.Dataset) -> None:
        """Store one finished chunk (atomically: the file is whole or absent)."""
        from degranulation.io.store import save

        try:
            save(part, self._path(chunk))
        except OSError as exc:
            raise DataError(f"cannot write '{self._path(chunk)}': {exc.strerror}") from None

    def read(self, chunk: int) -> xarray.Dataset:
        """A stored chunk, as written."""
        import xarray as xr

        try:
            with xr.open_dataset(self._path(chunk)) as opened:
                return opened.load()
        except (OSError, ValueError) as exc:
            raise DataError(
                f"cannot read '{self._path(chunk)}': {exc}",
                hint="delete that file; resuming recomputes its points",
            ) from None

    def finish(self, result: xarray.Dataset) -> None:
        """Write the complete result to ``output`` and remove the chunk folder."""
        from degranulation.io.store import save

        try:
            save(result, self.output)
        except OSError as exc:
            raise DataError(f"cannot write '{self.output}': {exc.strerror}") from None
        shutil.rmtree(self.folder, ignore_errors=True)
