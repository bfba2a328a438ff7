"""The one executor (degranulation.parallel) that sweeps and fits share: every item's result
once, tagged with its index, whatever runs it; errors surface; shared data reaches every task."""

import threading

import pytest

from degranulation.parallel import as_completed, check_workers


def _scaled(shared, item):
    return shared["factor"] * item


def _fails_on_three(item):
    if item == 3:
        raise ArithmeticError(f"item {item}")
    return item


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_carry_their_index_in_processes_and_here(workers):
    items = [5, 1, 4, 2, 3]
    results = dict(as_completed(_scaled, items, workers=workers, shared={"factor": 10}))
    assert results == {i: 10 * item for i, item in enumerate(items)}


def test_serial_runs_in_order_and_lazily():
    seen = []
    finished = as_completed(lambda item: seen.append(item) or item, [1, 2, 3])
    assert seen == []  # nothing runs before the results are asked for
    assert list(finished) == [(0, 1), (1, 2), (2, 3)]


def test_items_without_shared_data_and_no_items():
    assert sorted(as_completed(abs, [-2, 3, -4], workers=2)) == [(0, 2), (1, 3), (2, 4)]
    assert list(as_completed(abs, [], workers=2)) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_task_raises_its_error(workers):
    with pytest.raises(ArithmeticError, match="item 3"):
        list(as_completed(_fails_on_three, [1, 2, 3, 4], workers=workers))


def test_forkserver_when_threads_run():
    # A running thread makes fork unsafe: the executor then starts workers from a fork
    # server (which imports the preloaded modules once); results are the same.
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        results = dict(as_completed(_scaled, [1, 2], workers=2, shared={"factor": 3}, preload=["math"]))
    finally:
        stop.set()
        thread.join()
    assert results == {0: 3, 1: 6}


@pytest.mark.parametrize(
    ("workers", "scheduler", "message"),
    [(0, None, "positive integer"), (True, None, "positive integer"), (2, "tcp://x:1", "not both")],
)
def test_check_workers(workers, scheduler, message):
    with pytest.raises(ValueError, match=message):
        check_workers(workers, scheduler)


def test_bad_workers_are_refused_before_anything_runs():
    with pytest.raises(ValueError, match="positive integer"):
        as_completed(abs, [1], workers=0)


@pytest.mark.slow  # starting a LocalCluster takes seconds
def test_dask_by_address_and_by_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        on_address = dict(
            as_completed(_scaled, [1, 2, 3], scheduler=cluster.scheduler_address, shared={"factor": 2})
        )
        with distributed.Client(cluster) as client:
            on_client = dict(as_completed(abs, [-1, -2], scheduler=client))
            assert client.status == "running"  # a client given is not closed
            with pytest.raises(ArithmeticError, match="item 3"):
                list(as_completed(_fails_on_three, [1, 3], scheduler=client))
    assert on_address == {0: 2, 1: 4, 2: 6}
    assert on_client == {0: 1, 1: 2}
