"""Files written whole or not at all, and on disk before anything that depends on them.

Every result, model and checkpoint is written to a temporary file beside its destination,
flushed to the disk (``fsync``) and renamed into place, and the folder's entry is flushed too;
so a kill, a power loss or a full disk leaves either the old file or the new one, never half
of one, and a checkpoint is removed only once the output that replaces it is really stored.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from degranulation.errors import DataError


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A temporary path to write; on success it becomes ``path``, durably.

    On any failure the temporary file is removed and ``path`` keeps its old content.

    Raises
    ------
    DataError
        If the file cannot be written (read-only folder, full disk, ...), naming ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from degranulation.atomic import replacing
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with replacing(path) as temporary:
    ...     _ = temporary.write_text("done")
    >>> path.read_text(), sorted(p.name for p in path.parent.iterdir())
    ('done', ['out.txt'])
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        yield temporary
        fsync(temporary)
        os.replace(temporary, path)
        fsync(path.parent)
    except OSError as exc:
        raise DataError(f"cannot write '{path}': {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):  # the folder refused the write: nothing was left there
            temporary.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole and durably (see :func:`replacing`)."""
    path = Path(path)
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return path


def fsync(path: str | Path) -> None:
    """Flush a file, or a folder's entries, to the disk (folders: not on Windows)."""
    if os.name == "nt" and Path(path).is_dir():
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
