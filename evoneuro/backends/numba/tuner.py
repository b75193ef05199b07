"""How many threads a kernel call should use, learned from the calls themselves.

On an idle machine every thread helps. On a busy one a helper that gets descheduled while
it holds a task makes the caller wait for it, and one thread can beat two. The load changes
while a run goes on, so the count is not fixed up front: each candidate (1 and ``n_jobs``)
keeps the median seconds per multiply-add of its last :data:`WINDOW` calls (a median, so a
moment when another process bursts does not flip the choice for long); a call uses the
faster one, and every :data:`EXPLORE_EVERY`-th call tries the other so that its average
follows the load. Results never depend on the choice (see :mod:`.pool`), only the speed
does.

A call is timed from its start to the start of the next call of the same kernel
(:meth:`ThreadTuner.called`), not over the kernel alone: on a busy machine a helper thread
that wakes after the caller finished still takes the GIL for a moment, and the caller's
next Python step waits for it, outside the kernel, so kernel times alone can favour two
threads where a run of calls is faster on one. The work between two calls (the
optimizer's own) is the same whichever count ran, so the comparison stays fair. An
interval of more than :data:`GAP_FACTOR` kernel times plus :data:`GAP_S` is not a loop of
calls (other work ran in between): that call counts its kernel time alone.
"""

from __future__ import annotations

import collections
import itertools
import statistics

EXPLORE_EVERY = 16  # one call in 16 measures the other candidate (<= 1/16 of the calls off the best)
WINDOW = 5  # recent calls per candidate whose median is its estimate
GAP_FACTOR, GAP_S = 4.0, 0.05  # an interval longer than 4 kernel times + 50 ms is a gap


class ThreadTuner:
    """Recent seconds per multiply-add, per kernel and thread count."""

    def __init__(self, n_jobs: int, fixed: bool = False) -> None:
        # fixed=True: always n_jobs threads (benchmarks compare thread counts with it)
        self.candidates = (n_jobs,) if fixed or n_jobs == 1 else (1, n_jobs)
        self._rate: dict = {}  # (key, workers) -> seconds per MAC
        self._seen: set = set()
        self._calls = itertools.count()
        self._last: dict = {}  # key -> (workers, start, end, macs) of its latest call

    def __getstate__(self) -> dict:
        # Timings belong to this machine and moment; an unpickled copy learns afresh.
        return {"candidates": self.candidates}

    def __setstate__(self, state: dict) -> None:
        c = state["candidates"]
        self.__init__(c[-1], fixed=len(c) == 1)

    def choose(self, key) -> int:
        """Thread count for the next call of kernel ``key``."""
        if len(self.candidates) == 1:
            return self.candidates[0]
        known = [c for c in self.candidates if (key, c) in self._rate]
        if len(known) < len(self.candidates):  # measure every candidate once first
            return next(c for c in reversed(self.candidates) if c not in known)
        best = min(self.candidates, key=lambda c: statistics.median(self._rate[key, c]))
        if next(self._calls) % EXPLORE_EVERY == EXPLORE_EVERY - 1:
            return next(c for c in self.candidates if c != best)
        return best

    def called(self, key, workers: int, start: float, end: float, macs: int) -> None:
        """A call of ``key`` on ``workers`` threads ran from ``start`` to ``end`` (seconds of
        one clock): records the previous call of ``key`` over the interval to this start."""
        last = self._last.get(key)
        self._last[key] = (workers, start, end, macs)
        if last is None:
            return
        w, s0, e0, m = last
        interval = start - s0
        self.record(key, w, interval if 0 < interval <= GAP_FACTOR * (e0 - s0) + GAP_S else e0 - s0, m)

    def record(self, key, workers: int, seconds: float, macs: int) -> None:
        """Add one call's time; the first call of a kernel (its compilation) is not counted."""
        if key not in self._seen:
            self._seen.add(key)
            return
        window = self._rate.setdefault((key, workers), collections.deque(maxlen=WINDOW))
        window.append(seconds / max(macs, 1))
