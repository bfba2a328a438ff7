"""The user cache folder, shared by the compiled-model cache (:mod:`degranulation.codegen`) and
the validated-model cache (:mod:`degranulation.checked`): where it is, reading an entry only
when it can be trusted, and writing one privately and atomically.

An entry is trusted when this user owns it and no one else may write it; each cache also
checks that an entry was made for its key and matches its checksum. A cache that cannot be
read or written costs only speed, never a failure.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import warnings
from pathlib import Path

from degranulation.atomic import fsync
from degranulation.errors import CacheWarning


def cache_folder(cache_dir: str | Path | bool | None) -> Path | None:
    """The folder a cache keeps its entries in.

    Parameters
    ----------
    cache_dir : path, None or False
        None (or True) means the user cache folder (``$XDG_CACHE_HOME/degranulation`` or
        ``~/.cache/degranulation``); False disables caching (None is returned).

    Examples
    --------
    >>> from degranulation.user_cache import cache_folder
    >>> cache_folder(False) is None, str(cache_folder("/tmp/models"))
    (True, '/tmp/models')
    """
    if cache_dir is False:
        return None
    if cache_dir is None or cache_dir is True:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "degranulation"
    return Path(cache_dir)


def read_trusted(path: Path) -> bytes | None:
    """The content of ``path``, or None when it is absent, unreadable or untrusted (owned by
    another user, or writable by others: warned about once per folder)."""
    try:
        with path.open("rb") as handle:  # checked through the open file: it cannot be swapped
            if not _is_trusted(path, os.fstat(handle.fileno())):
                return None
            return handle.read()
    except OSError:
        return None


_WARNED: set[Path] = set()


def _is_trusted(path: Path, status: os.stat_result) -> bool:
    """Whether this user owns ``path`` and no one else may write it (warns once per folder)."""
    if not hasattr(os, "getuid"):  # Windows: no owner or mode bits to check
        return True
    if status.st_uid == os.getuid() and not status.st_mode & 0o022:
        return True
    if path.parent not in _WARNED:
        _WARNED.add(path.parent)
        reason = "owned by another user" if status.st_uid != os.getuid() else "writable by others"
        warnings.warn(
            f"ignoring the cache entry '{path}': it is {reason}; rebuilding it "
            "(cache folders should be writable only by their user)",
            CacheWarning,
            stacklevel=5,
        )
    return False


def write_private(path: Path, content: bytes) -> None:
    """Store ``content`` at ``path``: in a folder made private to this user (0700), written to
    a fresh private file, flushed to disk and renamed into place, so that a reader sees a whole
    entry or none. An unwritable folder is ignored (a read-only cache costs only speed)."""
    temporary = None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        temporary = Path(name)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
        temporary = None
        fsync(path.parent)
    except OSError:
        return
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


@functools.cache
def version() -> str:
    """The installed package version, which cache keys include ("unknown" when running from a
    bare source tree; looked up once: the lookup scans the installed distributions)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as metadata_version

    try:
        return metadata_version("degranulation")
    except PackageNotFoundError:
        return "unknown"


@functools.cache
def source_digest() -> str:
    """SHA-256 of the package's top-level modules (the checks, the code generator and
    everything they use), which cache keys include: an entry made by other code, such as an
    editable install's earlier state or a development build under the same version, is not
    used."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
