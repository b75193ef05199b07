"""Dynamic scheduling for the Numba kernels: the caller works, helper threads join in.

A call is split into many small tasks (a member and a block of samples). The calling
thread and up to ``n_jobs - 1`` helper threads run the same compiled ``nogil`` kernel,
which takes task numbers from a shared atomic counter until none are left
(:func:`~.intrinsics.fetch_add`). The caller then waits only for tasks already
*taken*, never for a helper to start: on a busy machine, where a helper may not get a
core for milliseconds, the caller simply does the work itself. That keeps the default
from collapsing under load, where Numba's ``prange`` (one static chunk per thread, then a
barrier every thread must reach) waits for the slowest thread on every call and runs many
times slower than one thread.

Results never depend on which thread ran a task: every task writes its own slice of
the output, and partial sums are added in a fixed order afterwards.

Fork-safe by construction: in a forked child the helper threads are gone, and the
caller does every task itself; the pool starts new helpers on first use there.
"""

from __future__ import annotations

import os
import queue
import threading

import numpy as np


class _Call:
    """Completion count of one call's tasks."""

    __slots__ = ("n_tasks", "done", "error", "lock", "event")

    def __init__(self, n_tasks: int) -> None:
        self.n_tasks = n_tasks
        self.done = 0
        self.error = None
        self.lock = threading.Lock()
        self.event = threading.Event()

    def finish(self, k: int) -> None:
        with self.lock:
            self.done += k
            if self.done >= self.n_tasks:
                self.event.set()

    def fail(self, exc: BaseException) -> None:
        self.error = exc
        self.event.set()


class WorkPool:
    """Helper threads that run kernels ``kernel(counter, n_tasks, *args) -> tasks done``."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._n_threads = 0
        self._lock = threading.Lock()

    def _grow(self, n: int) -> None:
        with self._lock:
            while self._n_threads < n:
                threading.Thread(target=self._work, name=f"evoneuro-numba-{self._n_threads}",
                                 daemon=True).start()
                self._n_threads += 1

    def _work(self) -> None:
        while True:
            kernel, counter, n_tasks, args, call = self._jobs.get()
            if counter[0] >= n_tasks:
                # Woken after every task was taken (the caller did them): return at once.
                # Calling the kernel would unbox its arguments holding the GIL, and a
                # helper descheduled while it holds the GIL stalls the caller's next step.
                continue
            try:
                k = kernel(counter, n_tasks, *args)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                call.fail(exc)
            else:
                call.finish(k)

    def run(self, kernel, n_tasks: int, args: tuple, n_workers: int) -> None:
        """Run all ``n_tasks`` tasks of ``kernel`` on the caller and ``n_workers - 1`` helpers."""
        counter = np.zeros(1, dtype=np.int64)
        helpers = max(0, min(n_workers, n_tasks) - 1)
        call = _Call(n_tasks)
        if helpers:
            self._grow(helpers)
            for _ in range(helpers):
                self._jobs.put((kernel, counter, n_tasks, args, call))
        call.finish(kernel(counter, n_tasks, *args))
        if not call.event.is_set():
            call.event.wait()
        if call.error is not None:
            raise call.error


POOL = WorkPool()


def _reset_after_fork() -> None:
    global POOL
    POOL = WorkPool()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def run(kernel, n_tasks: int, args: tuple, n_workers: int) -> None:
    """Run ``kernel`` over ``n_tasks`` tasks on ``n_workers`` threads (the caller included)."""
    if n_tasks <= 0:
        return
    POOL.run(kernel, n_tasks, args, n_workers)
