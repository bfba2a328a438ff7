"""Progress on the command line: a tqdm bar on a terminal, else one line per step on stderr;
what a resumed fit or sweep reused. Used by :mod:`degranulation.cli` only."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any


def note(message: str) -> None:
    """One line on stderr (above a progress bar, if one is drawn)."""
    line = f"degranulation: {message}"
    if "tqdm" in sys.modules:
        from tqdm import tqdm

        tqdm.write(line, file=sys.stderr)
    else:
        print(line, file=sys.stderr)


class FitProgress:
    """A fit's starts as they finish: a tqdm bar on a terminal, else one line per start; what
    a resumed fit reused."""

    def __init__(self, total: int, checkpoint: Path | None) -> None:
        self.total, self.new, self.best = total, 0, float("inf")
        self.checkpoint = checkpoint if checkpoint is not None and checkpoint.exists() else None
        if checkpoint is not None and self.checkpoint is None:
            note(f"no interrupted fit in {checkpoint}: starting afresh")
        self.bar = bar(total, "start", "fit")
        self.started = time.monotonic()

    def __call__(self, done: int, total: int, start: Any) -> None:
        self.new += 1
        self.best = min(self.best, start.cost)
        if self.new == 1 and self.checkpoint is not None:
            note(f"resumed {done - 1} of {total} starts from {self.checkpoint}")
        outcome = "converged" if start.is_success else f"stopped: {start.message}"
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            self.bar.set_postfix(best=f"{self.best:.4g}")
        else:
            note(
                f"fit: start {start.index + 1} finished ({done}/{total}): cost {start.cost:.6g}, "
                f"{outcome}; best {self.best:.6g}"
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def summary(self, result: Any) -> None:
        if self.new == 0 and self.checkpoint is not None:
            note(f"resumed {self.total} of {self.total} starts from {self.checkpoint}")
        converged = sum(s.is_success for s in result.starts)
        note(
            f"fit: {converged}/{result.n_starts} starts converged in "
            f"{time.monotonic() - self.started:.1f} s; best cost {result.cost:.6g}"
        )


def bar(total: int, unit: str, label: str) -> Any:
    """A tqdm progress bar on stderr when it is a terminal, else None."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=label, file=sys.stderr, dynamic_ncols=True, leave=True)


class SweepProgress:
    """A sweep's points as they finish: a tqdm bar on a terminal, else one summary line at the
    end; what a resumed sweep reused."""

    def __init__(self, resumed_from: Path | None) -> None:
        self.resumed_from, self.calls, self.reused = resumed_from, 0, 0
        self.bar: Any = None
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        self.calls += 1
        if self.calls == 1:
            self.reused = done
            if self.resumed_from is not None:
                parts = self.resumed_from.with_name(f"{self.resumed_from.name}.parts")
                note(f"resumed {done} of {total} points from {parts}")
            self.bar = bar(total, "point", "sweep")
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def summary(self, total: int, failed: int) -> None:
        if self.calls == 0 and self.resumed_from is not None:
            note(f"{self.resumed_from} already holds this complete sweep: nothing recomputed")
            return
        reused = f" ({self.reused} resumed)" if self.reused else ""
        note(
            f"sweep: {total} points{reused} in {time.monotonic() - self.started:.1f} s; "
            f"{total - failed} ok, {failed} failed"
        )
