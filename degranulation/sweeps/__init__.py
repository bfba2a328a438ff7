"""``sweep`` and ``dose_response``: a model solved over a grid of inputs.

The model is compiled once; the compiled form (plain arrays, picklable) travels to worker
processes or Dask workers once, and each task is a *chunk* of points. Within a chunk, points
are solved ``batch`` at a time as one stacked system (:mod:`degranulation.batching`) when
the solver is LSODA or CVODE, or one by one otherwise. Which points share a stacked solve depends only
on the grid and ``batch``, so results are identical whatever ``workers`` or ``scheduler``
run them. Finished chunks are written under the output path as they arrive
(:mod:`degranulation.sweeps.store`), so an interrupted sweep resumes where it stopped. A
point whose solve fails gets status ``"failed"``, its message, and NaN values; the sweep
goes on.

Modules: :mod:`~degranulation.sweeps.plan` (what to solve), :mod:`~degranulation.sweeps.solve`
(one chunk), :mod:`~degranulation.sweeps.run` (``sweep``, ``dose_response``: here, in processes or
on Dask), :mod:`~degranulation.sweeps.dataset` (the result) and :mod:`~degranulation.sweeps.store`
(finished chunks on disk). Hill fits live in :mod:`degranulation.hill`; ``hill_fit``, ``HillFit``
and ``fit_curves`` are re-exported here, where they used to be.
"""

from degranulation.hill import HillFit, fit_curves, hill_fit
from degranulation.sweeps.plan import geomspace
from degranulation.sweeps.run import dose_response, sweep

__all__ = ["HillFit", "dose_response", "fit_curves", "geomspace", "hill_fit", "sweep"]
