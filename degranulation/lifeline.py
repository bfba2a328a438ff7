"""Worker processes that die with the process that started them.

A pool's workers wait on a pipe that their siblings also hold open, so when the parent is
killed outright (SIGKILL, the out-of-memory killer) they never see it close and would wait,
or go on computing, forever. :func:`die_with_parent`, run first in each worker (a pool's
``initializer``), ties the worker's life to its parent's: on Linux the kernel kills the worker
when its parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere a daemon thread watches the
parent and ends the worker within a second of its death. Dask workers are Dask's to manage.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Final

PR_SET_PDEATHSIG: Final = 1  # from <linux/prctl.h>
POLL_S: Final = 0.5


def die_with_parent(parent: int | None = None) -> None:
    """End this process as soon as its parent process ends.

    Parameters
    ----------
    parent : int, optional
        The pid of the process that started this one, as it knew itself (``os.getpid()`` there,
        passed as the pool's ``initargs``); it tells a parent that died before this call from
        a live one. None: the current parent.

    Examples
    --------
    >>> import concurrent.futures, os
    >>> from degranulation.lifeline import die_with_parent
    >>> with concurrent.futures.ProcessPoolExecutor(1, initializer=die_with_parent,
    ...                                             initargs=(os.getpid(),)) as pool:
    ...     pool.submit(abs, -3).result()
    3
    """
    expected = os.getppid() if parent is None else parent
    if not (sys.platform.startswith("linux") and _set_death_signal()):
        threading.Thread(target=_watch, args=(os.getppid(),), name="die-with-parent", daemon=True).start()
    if not _is_alive(expected):  # the parent died before the death signal was set
        os._exit(1)


def _set_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when the thread that created it ends."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    """Poll until the parent is gone (it is re-parented: ``getppid`` changes), then exit."""
    while os.getppid() == parent:
        time.sleep(POLL_S)
    os._exit(1)


def _is_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate it; Windows pipes break with their owner
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
