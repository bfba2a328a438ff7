"""The one executor: tasks run in this process, in worker processes, or on a Dask cluster.

Sweeps (chunks of points) and fits (optimiser starts) both hand it a function and a list of
items and take the results as they finish. Data every task needs (a sweep's plan) is passed
as ``shared``: it is sent to each worker process, or scattered to each Dask worker, once.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from degranulation.typing import Scheduler


class _Shared(enum.Enum):
    NOTHING = 0  # no shared data: the function takes the item alone (pickles as itself)


_NOTHING: Any = _Shared.NOTHING
_INSTALLED: list[Any] = []  # in each worker process: the function and its shared data


def check_workers(workers: int, scheduler: Scheduler = None, *, exclusive: bool = True) -> None:
    """Check ``workers`` is a positive integer (and, if ``exclusive``, not given with a scheduler).

    Raises
    ------
    ValueError
        Naming what was given.
    """
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if exclusive and scheduler is not None and workers != 1:
        raise ValueError("give workers (processes on this machine) or scheduler (a Dask cluster), not both")


def as_completed(
    function: Callable[..., Any],
    items: Sequence[Any],
    *,
    workers: int = 1,
    scheduler: Scheduler = None,
    shared: Any = _NOTHING,
    preload: Sequence[str] = (),
) -> Iterator[tuple[int, Any]]:
    """``(i, function(items[i]))``, or ``function(shared, items[i])``, as each task finishes.

    On a Dask cluster when ``scheduler`` is given (a client is used as it is; an address gets a
    client of its own, closed at the end), else in ``workers`` processes when there are two or
    more items, else here in order. A task's exception is raised when its result is reached and
    the tasks not yet started are cancelled. ``preload`` names modules a fork server imports
    once for all its workers.

    Raises
    ------
    ValueError
        For ``workers`` that is not a positive integer.
    ImportError
        For a scheduler without Dask distributed installed.

    Examples
    --------
    >>> from degranulation.parallel import as_completed
    >>> sorted(as_completed(pow, [2, 3], shared=10))
    [(0, 100), (1, 1000)]
    """
    if scheduler is None:
        check_workers(workers)
    items = list(items)
    if not items:
        return iter(())
    if scheduler is not None:
        return _on_dask(function, items, scheduler, shared)
    if workers > 1 and len(items) > 1:
        return _in_processes(function, items, workers, shared, preload)
    call = function if shared is _NOTHING else (lambda item: function(shared, item))
    return ((i, call(item)) for i, item in enumerate(items))


def _install(function: Callable[..., Any], shared: Any, parent: int) -> None:
    from degranulation.lifeline import die_with_parent

    die_with_parent(parent)  # a killed CLI must not leave its workers running
    _INSTALLED[:] = [function, shared]


def _call_installed(item: Any) -> Any:
    function, shared = _INSTALLED
    return function(item) if shared is _NOTHING else function(shared, item)


def _in_processes(
    function: Callable[..., Any], items: list[Any], workers: int, shared: Any, preload: Sequence[str]
) -> Iterator[tuple[int, Any]]:
    import concurrent.futures
    import multiprocessing
    import os
    import threading

    # fork is cheapest and needs no `if __name__ == "__main__"` guard in scripts, but is
    # unsafe once this process runs threads (a Dask client, a GUI); then forkserver.
    methods = multiprocessing.get_all_start_methods()
    context: Any
    if "fork" in methods and threading.active_count() == 1:
        context = multiprocessing.get_context("fork")
    elif "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        if preload:
            context.set_forkserver_preload(list(preload))
    else:
        context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        min(workers, len(items)),
        mp_context=context,
        initializer=_install,
        initargs=(function, shared, os.getpid()),
    ) as pool:
        futures = {pool.submit(_call_installed, item): i for i, item in enumerate(items)}
        try:
            for future in concurrent.futures.as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()


def _on_dask(
    function: Callable[..., Any], items: list[Any], scheduler: Scheduler, shared: Any
) -> Iterator[tuple[int, Any]]:
    try:
        from distributed import Client
        from distributed import as_completed as finished
    except ImportError:
        raise ImportError("scheduler= needs Dask distributed: pip install 'degranulation[dask]'") from None
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        if shared is _NOTHING:
            futures = {client.submit(function, item, pure=False): i for i, item in enumerate(items)}
        else:
            data = client.scatter(shared, broadcast=True, hash=False)
            futures = {client.submit(function, data, item, pure=False): i for i, item in enumerate(items)}
        try:
            for future in finished(futures):
                yield futures[future], future.result()
        finally:
            client.cancel(list(futures))
    finally:
        if client is not scheduler:
            client.close()
