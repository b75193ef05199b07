"""Data-parallel evaluation: each dask worker holds a shard of the rows, all workers evaluate
the whole population, and the shards' sums are added in one fixed order.

A batch of ``N`` rows is cut into the evaluator's fixed sample groups
(``backends.numba._jit.group_rows``: at most 8 groups of whole 64-row tiles, a function
of ``N`` only). :class:`ShardedData` gives each worker a contiguous run of whole groups,
scattered to it once and kept there; a call sends the population (``P x n`` numbers per
worker) and gets back each group's loss sum ``(P, S_w)`` and, for the gradient optimizers,
each group's gradient ``(P, S_w, n)``. The client adds the groups in group order, exactly
as :meth:`evoneuro.Evaluator.loss` and ``loss_and_grad`` do on one machine: the losses and
gradients are the same bits on 1, 2 or 8 workers, and the same as serial evaluation.

Reliability: every task is pinned to the worker holding its shard; a worker that leaves is
seen within :data:`~.members.POLL_SECONDS`, its shards are scattered again to the workers
left and their tasks run again (``retries`` times at most); a call that takes more than
``timeout`` seconds is tried again the same way; a cluster without a worker for
``distributed.scheduler.no-workers-timeout`` raises a ``RuntimeError``. When the tries are
spent the call raises :class:`ShardLost` (a ``RuntimeError``): a loss computed on part of
the rows would be a different problem, so there is no worst value to fall back on.
"""

from __future__ import annotations

import time

import numpy as np

from evoneuro.distributed.members import (
    POLL_SECONDS,
    _dask_client,
    _no_workers_error,
    _no_workers_timeout,
    _outcome,
    _PENDING,
    _wait_any,
    lost_worker_errors,
)


class ShardLost(RuntimeError):
    """A shard's evaluation failed on every try (its workers lost, or past the timeout)."""


def _shard_task(evaluator, Theta, shard, per_group: int, need_grad: bool, n_mean: int):
    X, y = shard
    return evaluator.partial_sums(Theta, X, y, per_group, need_grad, n_mean)


def plan(n_groups: int, workers: list[str]) -> list[tuple[str, int, int]]:
    """Contiguous runs of groups per worker, as even as whole groups allow:
    ``[(worker, first group, end group), ...]``, at most one run per worker.

    Examples
    --------
    >>> plan(8, ["a", "b", "c"])
    [('a', 0, 3), ('b', 3, 6), ('c', 6, 8)]
    >>> plan(2, ["a", "b", "c"])
    [('a', 0, 1), ('b', 1, 2)]
    """
    W = min(len(workers), n_groups)
    cuts = [-(-i * n_groups // W) for i in range(W + 1)]
    return [(workers[i], cuts[i], cuts[i + 1]) for i in range(W)]


class ShardedData:
    """Rows ``(X, y)`` held by a dask cluster's workers in whole sample groups.

    Parameters
    ----------
    client : dask.distributed.Client
    evaluator : Evaluator
        Sent to the workers once; it must support per-group sums
        (:meth:`evoneuro.Evaluator.supports_partial_sums`: the Numba backend, MLPs).
    X, y : ndarray
        Validated rows (``evaluator.check_X``, ``check_y``).
    retries : int, default=2
        Further tries of a shard whose worker was lost or that timed out.
    timeout : float or None, default=None
        Seconds one try of a call may take.

    Examples
    --------
    >>> from evoneuro.distributed import plan
    >>> [end - start for _, start, end in plan(8, ["w1", "w2"])]
    [4, 4]
    """

    def __init__(self, client, evaluator, X: np.ndarray, y: np.ndarray, *, retries: int = 2,
                 timeout: float | None = None) -> None:
        if _dask_client(client) is None:
            raise TypeError(f"data-parallel evaluation needs a dask.distributed Client, got {type(client).__name__}")
        if not evaluator.supports_partial_sums():
            raise ValueError("data-parallel evaluation needs per-group sums, which this evaluator has not "
                             f"(backend {evaluator.backend!r}, net {evaluator.net!r}); use backend='numba' "
                             "with an MLP, or sub-population tasks")
        from evoneuro.backends.numba._jit import group_rows

        self.client = _dask_client(client)
        self.evaluator = evaluator
        self.X, self.y = X, y
        self.n_rows = len(X)
        self.per_group = group_rows(self.n_rows)
        self.n_groups = -(-self.n_rows // self.per_group)
        self.retries = retries
        self.timeout = timeout
        self._placed: dict[tuple[int, int], tuple[str, object]] = {}  # (start, end) -> (worker, future)
        self._evaluator_on: dict[str, object] = {}
        self._layout: list[tuple[str, int, int]] = []

    # --- placing the shards ----------------------------------------------------------------

    def _workers(self) -> list[str]:
        return sorted(w for w, n in self.client.nthreads().items() if n)

    def _place(self, workers: list[str]) -> None:
        """Scatter the shards of the plan for ``workers`` that are not already where it wants them."""
        layout = plan(self.n_groups, workers)
        keep = {}
        for w, a, b in layout:
            held = self._placed.get((a, b))
            if held is not None and held[0] == w and held[1].status == "finished":
                keep[(a, b)] = held
                continue
            rows = slice(a * self.per_group, min(b * self.per_group, self.n_rows))
            [fut] = self.client.scatter([(self.X[rows], self.y[rows])], workers=[w], broadcast=False, hash=False,
                                        timeout=max(_no_workers_timeout(), POLL_SECONDS))
            keep[(a, b)] = (w, fut)
        self._placed = keep
        self._layout = layout
        for w in {w for w, _, _ in layout} - set(self._evaluator_on):
            [self._evaluator_on[w]] = self.client.scatter([self.evaluator], workers=[w], hash=False,
                                                          timeout=max(_no_workers_timeout(), POLL_SECONDS))

    # --- one call ------------------------------------------------------------------------

    def evaluate(self, Theta: np.ndarray, need_grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Mean losses ``(P,)`` over all rows and (``need_grad``) their gradients ``(P, n)``."""
        from evoneuro.backends.numba._jit import ordered_sum

        lost_errors = lost_worker_errors(self.client)
        tries = 0
        no_workers_since = None
        last_error: BaseException | None = None
        while True:
            workers = self._workers()
            if not workers:
                now = time.monotonic()
                no_workers_since = now if no_workers_since is None else no_workers_since
                if now - no_workers_since >= _no_workers_timeout():
                    raise _no_workers_error(now - no_workers_since, len(Theta))
                time.sleep(POLL_SECONDS)
                continue
            no_workers_since = None
            if tries > self.retries:
                raise ShardLost(f"data-parallel evaluation failed on each of {self.retries + 1} tries "
                                f"(last: {type(last_error).__name__}: {str(last_error)[:160]})") from last_error
            tries += 1
            # a failed try is run again whole, on the workers left: the groups' layout may change
            try:
                self._place(workers)
            except (TimeoutError, OSError, *lost_errors) as err:  # a worker left while its shard was sent
                self._placed.clear()
                self._evaluator_on.clear()
                last_error = err
                continue
            running = {}
            for w, a, b in self._layout:
                fut = self.client.submit(_shard_task, self._evaluator_on[w], Theta, self._placed[(a, b)][1],
                                         self.per_group, need_grad, self.n_rows, pure=False, workers=[w],
                                         allow_other_workers=False)
                running[(a, b)] = (w, fut)
            sums: dict[int, np.ndarray] = {}
            grads: dict[int, np.ndarray] = {}
            last_error = self._gather(running, sums, grads, lost_errors)
            if last_error is None:
                break
        # the groups' sums in group order, added left to right: Evaluator.loss's own order
        losses = ordered_sum(np.concatenate([sums[a] for a in sorted(sums)], axis=1)) / self.n_rows
        if not need_grad:
            return losses, None
        return losses, ordered_sum(np.concatenate([grads[a] for a in sorted(grads)], axis=1))

    def _gather(self, running: dict, sums: dict, grads: dict, lost_errors: tuple) -> BaseException | None:
        """Wait for ``running`` ((start, end) -> (worker, future)); store what finished.
        Returns the last error of a lost or timed-out shard (None when all finished)."""
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        error = None
        checked = time.monotonic()
        try:
            while running:
                for key, (w, fut) in list(running.items()):
                    value, err = _outcome(fut)
                    if value is _PENDING:
                        continue
                    del running[key]
                    if err is None:
                        s, g = value
                        sums[key[0]] = s
                        if g is not None:
                            grads[key[0]] = g
                    elif isinstance(err, lost_errors) or type(err).__name__ == "NoValidWorkerError":
                        error = err
                    else:
                        raise err
                if not running:
                    break
                now = time.monotonic()
                if now - checked >= POLL_SECONDS:
                    checked = now
                    alive = set(self._workers())
                    for key, (w, fut) in list(running.items()):
                        if w not in alive:
                            fut.cancel()
                            del running[key]
                            self._placed.pop(key, None)
                            self._evaluator_on.pop(w, None)
                            error = ConnectionError(f"worker {w} left the cluster while evaluating its shard")
                if deadline is not None and now >= deadline:
                    for w, fut in running.values():
                        fut.cancel()
                    running.clear()
                    error = TimeoutError(f"a shard did not finish within timeout={self.timeout:g} s")
                    break
                if running:
                    wait = POLL_SECONDS if deadline is None else min(POLL_SECONDS, max(deadline - now, 0.0))
                    _wait_any([fut for _, fut in running.values()], wait)
        except BaseException:
            for _, fut in running.values():
                fut.cancel()
            raise
        return error

    def __getstate__(self) -> dict:
        raise TypeError("ShardedData holds futures of a live cluster and does not pickle")


__all__ = ["ShardLost", "ShardedData", "plan"]
