"""Sub-population tasks: the population in a few chunks per worker, the fixed data sent once.

A task costs an executor about a millisecond (dask) however small it is, and ships its
arguments each time. :func:`evaluate_chunks` therefore sends a generation as a few
contiguous chunks of the population per worker (:data:`CHUNKS_PER_WORKER`), each evaluated
on its worker in one call of a vectorised fitness (or one member after another for a
per-vector fitness). The fitness and its fixed arguments travel once: on a dask
``Client`` they are scattered to every worker (:class:`Payload`) and each task names them,
so a task carries only its rows of the population.

Chunks are sized from the measured cost of a member (:func:`n_chunks`): the workers report
how long their chunk took, and a chunk holds at least :data:`MIN_CHUNK_SECONDS` of work,
so the per-task overhead stays a small share of a generation.

Failures keep the guarantees of the per-member tasks (:mod:`.members`): a chunk whose
worker was lost or that timed out is not retried whole, its members are evaluated again
one task each, with the per-member retries; a member that kills its worker is thus found
and counted as the worst value, at the cost of one more worker death than per-member
tasks (the chunk's). An exception raised by the fitness stops the run (``"raise"``) or, with
``on_error="worst"``, makes the members it concerns the worst value: the member for a
per-vector fitness, the whole chunk for a vectorised one (as serially, where it is the
whole population).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from evoneuro.distributed.members import (
    POLL_SECONDS,
    FitnessRaised,
    _dask_client,
    _no_workers_error,
    _no_workers_timeout,
    check_on_error,
    evaluate_parallel,
)

#: Chunks per worker thread in a generation: a few, so a slow worker or chunk is balanced
#: by the others, and few, so the per-task overhead stays small.
CHUNKS_PER_WORKER = 4
#: Seconds of work a chunk holds at least, once a member's cost is measured: 50 times dask's
#: per-task overhead (about 1 ms, ``benchmarks/bench_distributed.py``), i.e. under 2 % of it.
MIN_CHUNK_SECONDS = 0.05
#: From this many seconds per member, ``parallel="auto"`` sends one task per member: the
#: overhead is then under 1 % of a member, and a member that takes much longer than the
#: others (a simulation that runs to its step limit) holds up one worker, not a chunk.
MEMBER_TASKS_FROM = 0.1


class Payload:
    """What every task of a problem needs, sent to the workers once: the fitness and its
    fixed arguments, or the evaluator and the rows.

    On a dask ``Client`` they are scattered to every worker (``broadcast=True``) and a
    task carries only the key; on another executor they travel with every task. A worker
    that joins later fetches them from the others; if every copy was lost they are
    scattered again.
    """

    def __init__(self, *parts: Any) -> None:
        self.value = parts  # (fun, args, kwargs) for a fitness; (evaluator, X, y, lengths) for rows
        self._future = None
        self._client = None

    def ref(self, executor):
        """What a task passes for the payload on ``executor``: a dask future or the value."""
        client = _dask_client(executor)
        if client is None:
            return self.value
        if self._future is None or self._client is not client or self._future.status != "finished":
            wait_for_workers(client)
            [self._future] = client.scatter([self.value], broadcast=True, hash=False,
                                            timeout=max(_no_workers_timeout(), POLL_SECONDS))
            self._client = client
        return self._future

    def __getstate__(self) -> dict:
        return {"value": self.value, "_future": None, "_client": None}


def wait_for_workers(client) -> None:
    """Return once ``client``'s cluster has a worker; a ``RuntimeError`` after
    ``distributed.scheduler.no-workers-timeout`` without one (dask's ``scatter`` would wait
    for a worker without a bound)."""
    start = time.monotonic()
    while not any(client.nthreads().values()):
        waited = time.monotonic() - start
        if waited >= _no_workers_timeout():
            raise _no_workers_error(waited, 0)
        time.sleep(min(POLL_SECONDS, 0.1))


class ChunkTask:
    """Evaluates one chunk on a worker: ``(values, errors, seconds)``.

    ``values`` is the fitness's output (the array of a vectorised fitness, else one
    output per member), ``errors`` the members whose per-vector fitness raised (index ->
    exception) under ``keep_errors``, ``seconds`` the worker's time for the chunk.
    """

    def __init__(self, vectorized: bool, keep_errors: bool) -> None:
        self.vectorized = vectorized
        self.keep_errors = keep_errors

    def __call__(self, chunk: np.ndarray, payload) -> tuple[Any, dict, float]:
        fun, args, kwargs = payload
        t0 = time.perf_counter()
        errors: dict[int, BaseException] = {}
        if self.vectorized:
            chunk = chunk.view()
            chunk.flags.writeable = False  # as serially: the optimizer's population, read-only
            values = fun(chunk, *args, **kwargs)
        else:
            values = []
            for i, t in enumerate(chunk):
                try:
                    values.append(fun(np.array(t, dtype=np.float64), *args, **kwargs))
                except Exception as err:
                    if not self.keep_errors:
                        raise
                    values.append(None)
                    errors[i] = err
        return values, errors, time.perf_counter() - t0


class MemberTask:
    """One member of a lost chunk, evaluated alone (a vectorised fitness on one row)."""

    def __init__(self, vectorized: bool) -> None:
        self.vectorized = vectorized

    def __call__(self, x: np.ndarray, payload) -> Any:
        fun, args, kwargs = payload
        if not self.vectorized:
            return fun(np.array(x, dtype=np.float64), *args, **kwargs)
        row = np.array(x[None])
        row.flags.writeable = False
        out = np.asarray(fun(row, *args, **kwargs), dtype=np.float64).reshape(-1)
        if out.size != 1:
            raise ValueError(f"a vectorized fitness must return one value per row; got {out.size} for one row")
        return float(out[0])


def worker_threads(executor) -> int:
    """Threads that run tasks: a dask cluster's total, a pool's ``max_workers``, else 1."""
    client = _dask_client(executor)
    if client is not None:
        return max(1, sum(int(n) for n in client.nthreads().values()))
    return max(1, int(getattr(executor, "_max_workers", 1) or 1))


def n_chunks(P: int, workers: int, member_seconds: float | None) -> int:
    """Chunks for ``P`` members on ``workers`` threads, a member taking ``member_seconds``.

    :data:`CHUNKS_PER_WORKER` per thread, fewer when a chunk would hold less than
    :data:`MIN_CHUNK_SECONDS` of work, but one per thread at least (while there are members).

    Examples
    --------
    >>> n_chunks(100, 2, None), n_chunks(100, 2, 0.01), n_chunks(100, 2, 1e-6), n_chunks(3, 2, None)
    (8, 8, 2, 3)
    """
    most = min(P, CHUNKS_PER_WORKER * workers)
    least = min(P, workers)
    if member_seconds is None or member_seconds <= 0:
        return max(least, most)
    per_chunk = math.ceil(MIN_CHUNK_SECONDS / member_seconds)
    return int(min(most, max(least, math.ceil(P / per_chunk))))


def evaluate_chunks(payload: Payload, Theta: np.ndarray, executor, *, vectorized: bool, chunks: int,
                    retries: int = 2, timeout: float | None = None,
                    on_error: str = "raise") -> tuple[list, dict[int, BaseException], float | None]:
    """Evaluate ``Theta`` in ``chunks`` contiguous chunks; lost chunks member by member.

    Parameters
    ----------
    payload : Payload
        The fitness and its fixed arguments.
    Theta : ndarray (P, n)
    executor : concurrent.futures.Executor or dask.distributed.Client
    vectorized : bool
        Whether the fitness takes a matrix of members.
    chunks : int
        Chunks to cut the population into (:func:`n_chunks`).
    retries, timeout, on_error
        As for :func:`~.members.evaluate_parallel`; ``timeout`` bounds each try of the
        chunks and each try of the members of lost chunks.

    Returns
    -------
    outputs : list
        The fitness's output per member (None for failed members).
    failed : dict
        Row -> error for the members that failed (as :func:`~.members.evaluate_parallel`).
    member_seconds : float or None
        The measured seconds per member, from the chunks that finished.

    Examples
    --------
    >>> import numpy as np
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> from evoneuro.distributed import Payload, evaluate_chunks
    >>> with ThreadPoolExecutor(2) as ex:
    ...     out, failed, _ = evaluate_chunks(Payload(np.sum, (), {"axis": 1}), np.arange(8.0).reshape(4, 2),
    ...                                      ex, vectorized=True, chunks=2)
    >>> [float(v) for v in out], failed
    ([1.0, 5.0, 9.0, 13.0], {})
    """
    keep_errors = check_on_error(on_error) == "worst"
    P = len(Theta)
    bounds = np.linspace(0, P, max(1, min(chunks, P)) + 1).round().astype(int)
    parts = [np.ascontiguousarray(Theta[a:b]) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    starts = [int(a) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    def ref():  # read at every submission: a payload whose copies all died is sent again
        return (payload.ref(executor),)

    results, chunk_failed = evaluate_parallel(ChunkTask(vectorized, keep_errors), parts, executor, ref,
                                              retries=0, timeout=timeout, on_error=on_error,
                                              per_thread=CHUNKS_PER_WORKER)
    outputs: list = [None] * P
    failed: dict[int, BaseException] = {}
    lost: list[int] = []
    seconds, members = 0.0, 0
    for c, (start, part) in enumerate(zip(starts, parts)):
        rows = range(start, start + len(part))
        err = chunk_failed.get(c)
        if isinstance(err, FitnessRaised):  # a vectorised fitness raised: the chunk is its answer
            failed.update(dict.fromkeys(rows, err))
        elif err is not None:
            lost.extend(rows)
        else:
            values, errors, took = results[c]
            seconds, members = seconds + took, members + len(part)
            if vectorized:
                values = np.asarray(values, dtype=np.float64)
                if values.shape not in ((len(part),), (len(part), 1)):
                    raise ValueError(f"a vectorized fitness must return shape ({len(part)},) for a chunk of "
                                     f"shape {part.shape}; got shape {values.shape}")
                values = list(values.reshape(-1))
            for i, r in enumerate(rows):
                if i in errors:
                    failed[r] = FitnessRaised(errors[i])
                else:
                    outputs[r] = values[i]
    if lost:  # the members of lost chunks, one task each: a member that kills its worker is found
        again, again_failed = evaluate_parallel(MemberTask(vectorized), Theta[lost], executor, ref,
                                                retries=retries, timeout=timeout, on_error=on_error)
        for i, r in enumerate(lost):
            if i in again_failed:
                failed[r] = again_failed[i]
            else:
                outputs[r] = again[i]
    return outputs, failed, (seconds / members if members else None)




class EvaluatorTask:
    """Evaluates a chunk of a supervised problem on a worker: ``(losses, grads, seconds)``.

    The payload is ``(evaluator, X, y, lengths)``, sent once; a task carries its chunk of
    the population and the step's rows (``index``, None for all of them, or the rows
    themselves in ``batch`` when they change every step, as with input noise).
    """

    def __call__(self, chunk: np.ndarray, payload, index, batch, need_grad: bool):
        evaluator, X, y, lengths = payload
        t0 = time.perf_counter()
        if batch is not None:
            X, y, lengths = batch
        elif index is not None:
            X, y, lengths = X[index], y[index], None if lengths is None else lengths[index]
        if need_grad:
            losses, grads = evaluator._loss_and_grad(chunk, X, y, lengths)
        else:
            losses, grads = evaluator._loss(chunk, X, y, lengths), None
        return losses, grads, time.perf_counter() - t0


def evaluate_evaluator_chunks(payload: Payload, Theta: np.ndarray, executor, *, index, batch, need_grad: bool,
                              chunks: int, retries: int = 2, timeout: float | None = None):
    """A supervised problem's population in chunks: ``(losses (P,), grads or None, failed,
    member_seconds)``; a failed member's loss is +inf and its gradient zero.

    As :func:`evaluate_chunks`, with :class:`EvaluatorTask`: the evaluator and the rows are
    the payload (sent once), a task carries its chunk and the step's row indices.
    """
    P, n = Theta.shape
    bounds = np.linspace(0, P, max(1, min(chunks, P)) + 1).round().astype(int)
    spans = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    parts = [np.ascontiguousarray(Theta[a:b]) for a, b in spans]
    def args():  # read at every submission: a payload whose copies all died is sent again
        return (payload.ref(executor), index, batch, need_grad)

    results, chunk_failed = evaluate_parallel(EvaluatorTask(), parts, executor, args, retries=0, timeout=timeout,
                                              per_thread=CHUNKS_PER_WORKER)
    losses = np.full(P, np.inf)
    grads = np.zeros((P, n), dtype=Theta.dtype) if need_grad else None
    seconds, members, lost = 0.0, 0, []
    for c, (a, b) in enumerate(spans):
        if c in chunk_failed:
            lost.extend(range(a, b))
            continue
        values, g, took = results[c]
        losses[a:b] = values
        if need_grad:
            grads[a:b] = g
        seconds, members = seconds + took, members + (b - a)
    failed: dict[int, BaseException] = {}
    if lost:  # the members of lost chunks, one task each
        rows = [np.ascontiguousarray(Theta[r:r + 1]) for r in lost]
        again, again_failed = evaluate_parallel(EvaluatorTask(), rows, executor, args, retries=retries,
                                                timeout=timeout)
        for i, r in enumerate(lost):
            if i in again_failed:
                failed[r] = again_failed[i]
                continue
            values, g, _ = again[i]
            losses[r] = values[0]
            if need_grad:
                grads[r] = g[0]
    return losses, grads, failed, (seconds / members if members else None)


__all__ = ["CHUNKS_PER_WORKER", "ChunkTask", "EvaluatorTask", "MEMBER_TASKS_FROM", "MIN_CHUNK_SECONDS", "MemberTask",
           "Payload", "evaluate_chunks", "evaluate_evaluator_chunks", "n_chunks", "worker_threads"]
