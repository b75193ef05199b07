"""Per-member tasks: a population evaluated member by member on an executor, surviving lost workers.

:func:`evaluate_parallel` submits one task per member to any
:class:`concurrent.futures.Executor` (``ProcessPoolExecutor``, ``ThreadPoolExecutor``,
``dask.distributed.Client.get_executor()``) or to a ``dask.distributed.Client`` itself, and
gathers the results as they finish, in order, so a run gives exactly the values of
serial evaluation.

It never waits without a bound: results are collected in polls of at most
:data:`POLL_SECONDS`, between which it checks the deadline (``timeout``) and whether the
executor can still make progress. Failures are of three kinds:

- the fitness raised: the other tasks are cancelled and the exception is re-raised (the
  :class:`evoneuro.Trainer` turns it into a :class:`evoneuro.TrainingError` that carries
  the best-so-far result); with ``on_error="worst"`` the member is reported back instead,
  wrapped in :class:`FitnessRaised`, and not tried again;
- the worker was lost (killed, out of memory, connection closed) or the member did not
  finish within ``timeout`` seconds: the member is submitted again, up to ``retries``
  times; if it still fails it is reported back, and :class:`evoneuro.FitnessProblem`
  counts it as the worst value with one warning;
- the executor cannot run anything any more: a dask cluster that has had no worker for
  ``distributed.scheduler.no-workers-timeout`` (60 s when unset) raises a ``RuntimeError``.
  A ``LocalCluster`` ends in that state when workers die again within
  ``distributed.deploy.lost-worker-timeout`` of their restart: it stops restarting them.

A member counts as failed after ``retries + 1`` tries. Its retries run *one at a time*
(time-outs excepted): a dying worker takes the tasks queued on it along (and a breaking
process pool every task in flight), so an innocent member that shared the workers with a
killer gets its value on its first retry, while the killer takes only its own workers.

**Dask.** The scheduler reschedules by itself the tasks of a worker that died, up to
``distributed.scheduler.allowed-failures`` (3) times, before it reports ``KilledWorker``:
one member that kills its worker would cost 4 worker deaths per try, 12 for evoneuro's 3
tries, and a ``LocalCluster`` whose workers die that often retires them. So on a
``dask.distributed.Client`` (or its ``get_executor()``) evoneuro places every try itself:
each task is pinned to one worker (``workers=[address], allow_other_workers=False``), at
most one task per worker thread, the next member going to the first free thread. A worker
that dies takes only the members running on it, the scheduler has nowhere to move them,
and evoneuro sees the worker leave and counts one try: a member that kills its worker
costs at most ``retries + 1`` worker deaths (3 by default), whatever the cluster's
``allowed-failures``. The price: dask's work stealing and adaptive scaling see no queue
of waiting tasks (start the workers before the run).

A ``concurrent.futures.ProcessPoolExecutor`` whose worker dies is *broken* for good:
every task in flight fails and nothing more can be submitted to it. Here it is replaced
by a new pool of the same size, start method and initializer, used in its place for as
long as the broken pool object lives (then shut down); the members that were in flight
are retried.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
import weakref
from typing import Any, Callable

import numpy as np

#: Longest single wait, in seconds, between checks of the deadline and of the workers.
POLL_SECONDS = 0.5
#: Seconds a dask cluster may have no worker while members wait, when dask's own
#: ``distributed.scheduler.no-workers-timeout`` is not set.
NO_WORKERS_TIMEOUT = 60.0


def _call(fun: Callable, x: np.ndarray, args: tuple, kwargs: dict) -> Any:
    # one level of indirection, so that the user's kwargs never collide with the
    # executor's own keywords (dask's ``key``, ``pure``, ``retries``...)
    return fun(x, *args, **kwargs)


def _args(args) -> tuple:
    """The extra arguments of a task: ``args``, or what it returns when it is callable (read
    at every submission: a dask future that was lost is replaced before a retry)."""
    return args() if callable(args) else args


def _is_dask(executor) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed"


def _is_dask_client(executor) -> bool:
    return _is_dask(executor) and not isinstance(executor, cf.Executor) and hasattr(executor, "gather")


def _dask_client(executor):
    """The ``Client`` behind a dask executor (a ``Client`` or its ``get_executor()``), or None."""
    if _is_dask_client(executor):
        return executor
    return getattr(executor, "_client", None) if _is_dask(executor) else None


def lost_worker_errors(executor) -> tuple[type[BaseException], ...]:
    """Exception types that mean "the worker was lost", not "the fitness raised"."""
    errors: list[type[BaseException]] = [cf.CancelledError]
    if _is_dask(executor):
        from distributed import KilledWorker
        from distributed.comm.core import CommClosedError

        errors += [KilledWorker, CommClosedError]
        try:
            from distributed.client import FutureCancelledError
            errors.append(FutureCancelledError)
        except ImportError:  # pragma: no cover - older distributed
            pass
    return tuple(errors)


class MemberTimeout(TimeoutError):
    """A member did not finish within ``timeout`` seconds (counted as a lost worker)."""


class WorkerLost(ConnectionError):
    """The dask worker a member was pinned to left the cluster while evaluating it."""


class FitnessRaised(Exception):
    """The fitness raised for a member, under ``on_error="worst"``: the member is reported
    back (not retried) with the exception as :attr:`error` (and ``__cause__``)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error
        self.__cause__ = error


ON_ERROR = ("raise", "worst")


def check_on_error(on_error) -> str:
    """``on_error`` checked: ``"raise"`` or ``"worst"``."""
    if not isinstance(on_error, str) or on_error not in ON_ERROR:
        raise ValueError(f"on_error must be 'raise' (a fitness that raises stops the run) or 'worst' (the member "
                         f"counts as the worst value, with one warning), got {on_error!r}")
    return on_error


# --- process pools: a broken pool is replaced, for as long as the user's pool lives ------

_SPARES: "weakref.WeakKeyDictionary[cf.ProcessPoolExecutor, cf.ProcessPoolExecutor]" = (
    weakref.WeakKeyDictionary())


def _live(executor):
    """The executor to submit to: ``executor``, or the pool that replaced it once it broke."""
    if not isinstance(executor, cf.ProcessPoolExecutor):
        return executor
    pool = _SPARES.get(executor, executor)
    if not getattr(pool, "_broken", False):
        return pool
    try:
        spare = cf.ProcessPoolExecutor(
            max_workers=executor._max_workers, mp_context=executor._mp_context,
            initializer=executor._initializer, initargs=executor._initargs,
            **({"max_tasks_per_child": executor._max_tasks_per_child}
               if getattr(executor, "_max_tasks_per_child", None) else {}))
    except (AttributeError, TypeError, ValueError):  # pragma: no cover - another Python's pool
        return pool  # submitting to it raises BrokenExecutor: the clear error below
    if pool is not executor:
        pool.shutdown(wait=False, cancel_futures=True)
    _SPARES[executor] = spare
    # the spare's processes end with the pool object it stands in for
    weakref.finalize(executor, spare.shutdown, wait=False, cancel_futures=True)
    return spare


def _broken(err: BaseException) -> RuntimeError:
    return RuntimeError(
        f"the executor is broken ({type(err).__name__}: {err}) and cannot be replaced; "
        "pass a new executor, or a dask.distributed Client, which replaces lost workers")


def _submit(executor, fun, x, args, kwargs):
    try:
        return executor.submit(_call, fun, x, args, kwargs)
    except cf.BrokenExecutor as err:
        raise _broken(err) from err


# --- waiting with a bound ----------------------------------------------------------------

_PENDING = object()


def _outcome(fut):
    """``(value, None)``, ``(None, exception)``, or ``(_PENDING, None)``; never blocks long."""
    if isinstance(fut, cf.Future):
        if not fut.done():
            return _PENDING, None
        if fut.cancelled():
            return None, cf.CancelledError("the task was cancelled")
        err = fut.exception(timeout=0)
        return (None, err) if err is not None else (fut.result(timeout=0), None)
    from distributed.client import FutureCancelledError

    status = fut.status  # a dask Future
    try:
        if status == "finished":
            try:
                return fut.result(timeout=POLL_SECONDS), None
            except TimeoutError:  # its data was lost with a worker meanwhile: being recomputed
                return _PENDING, None
        if status == "error":
            try:
                return None, fut.exception(timeout=POLL_SECONDS)
            except TimeoutError:  # retried by the scheduler meanwhile
                return _PENDING, None
    except (FutureCancelledError, cf.CancelledError) as err:
        # cancelled between the status and the fetch: its result was lost with a worker and
        # the scheduler forgot the key (seen under load when a member kills its worker)
        return None, err
    if status == "cancelled":
        return None, FutureCancelledError(fut.key, "cancelled", None)
    return _PENDING, None  # pending, or lost and being recomputed


def _wait_any(futures: list, seconds: float) -> None:
    if isinstance(futures[0], cf.Future):
        cf.wait(futures, timeout=seconds, return_when=cf.FIRST_COMPLETED)
        return
    from distributed import wait

    try:
        wait(futures, timeout=seconds, return_when="FIRST_COMPLETED")
    except TimeoutError:
        pass
    except Exception as err:  # noqa: BLE001 - a task cancelled as its inputs were lost: seen by _outcome
        if type(err).__name__ != "FuturesCancelledError":
            raise


def _no_workers_timeout() -> float:
    import dask
    from dask.utils import parse_timedelta

    value = dask.config.get("distributed.scheduler.no-workers-timeout", None)
    return NO_WORKERS_TIMEOUT if value is None else float(parse_timedelta(value))


def _no_workers_error(seconds: float, n: int) -> RuntimeError:
    return RuntimeError(
        f"the dask cluster has had no worker for {seconds:.0f} s while {n} member(s) wait to be "
        "evaluated; a LocalCluster stops restarting workers that die again within "
        "distributed.deploy.lost-worker-timeout. Start a new cluster (the run so far is kept "
        "in TrainingError.result); distributed.scheduler.no-workers-timeout sets this wait")


def _settle(i: int, value, err, outputs: list, failed: dict, lost: tuple, keep_errors: bool) -> bool:
    """Store member ``i``'s outcome; True when its executor is a broken process pool.

    Re-raises the fitness's own exception unless ``keep_errors``.
    """
    if err is None:
        outputs[i] = value
    elif isinstance(err, cf.BrokenExecutor):
        failed[i] = err
        return True
    elif isinstance(err, lost) or type(err).__name__ == "NoValidWorkerError":
        failed[i] = err  # NoValidWorkerError: dask's no-workers-timeout on a pinned task
    elif keep_errors:
        failed[i] = FitnessRaised(err)
    else:
        raise err
    return False


def _gather(futures: dict, outputs: list, lost: tuple, timeout: float | None,
            keep_errors: bool) -> tuple[dict, bool]:
    """Wait for the ``concurrent.futures`` ``futures`` (row -> future); store their results.

    Returns the rows whose worker was lost, that timed out or (``keep_errors``) whose
    fitness raised (row -> error), and whether a process pool broke. Otherwise re-raises the
    fitness's own exception after cancelling the rest.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    waiting = dict(futures)
    failed: dict[int, BaseException] = {}
    broke = False
    try:
        while waiting:
            for i, fut in list(waiting.items()):
                value, err = _outcome(fut)
                if value is _PENDING:
                    continue
                del waiting[i]
                broke |= _settle(i, value, err, outputs, failed, lost, keep_errors)
            if not waiting:
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                for i, fut in waiting.items():
                    fut.cancel()
                    failed[i] = MemberTimeout(f"not finished within timeout={timeout:g} s")
                waiting.clear()
                break
            wait = POLL_SECONDS if deadline is None else min(POLL_SECONDS, max(deadline - now, 0.0))
            _wait_any(list(waiting.values()), wait)
    except BaseException:
        for fut in waiting.values():
            fut.cancel()
        raise
    return failed, broke


# --- dask: every try pinned to one worker, one task per worker thread --------------------

def _dask_options(executor) -> tuple[dict, list | None]:
    """``submit`` keywords of a ``Client.get_executor(...)`` worth keeping, and its
    ``workers`` restriction (the workers evoneuro may pin to), or ``({}, None)``."""
    kwargs = dict(getattr(executor, "_kwargs", None) or {}) if not _is_dask_client(executor) else {}
    allowed = kwargs.pop("workers", None)
    for k in ("pure", "allow_other_workers"):
        kwargs.pop(k, None)
    if allowed is not None and not isinstance(allowed, (list, tuple, set)):
        allowed = [allowed]
    return kwargs, None if allowed is None else list(allowed)


def _run_on_dask(client, options: tuple[dict, list | None], fun, Theta, batch: list[int], args, kwargs,
                 outputs: list, lost: tuple, timeout: float | None, keep_errors: bool, per_thread: int = 1) -> dict:
    """Evaluate the rows ``batch`` on ``client``, each try pinned to one worker, at most
    ``per_thread`` tasks per worker thread at a time.

    Returns the failed rows (row -> error), as :func:`_gather`.
    """
    submit_kw, allowed = options
    start = time.monotonic()
    deadline = None if timeout is None else start + timeout
    queue = list(batch)
    running: dict[int, tuple[Any, str]] = {}  # row -> (future, the worker it is pinned to)
    failed: dict[int, BaseException] = {}
    workers: dict[str, int] = {}
    refreshed = -np.inf
    no_workers_since = None
    try:
        while queue or running:
            for i, (fut, _) in list(running.items()):
                value, err = _outcome(fut)
                if value is not _PENDING:
                    del running[i]
                    _settle(i, value, err, outputs, failed, lost, keep_errors)
            now = time.monotonic()
            if now - refreshed >= POLL_SECONDS or not workers:
                workers = {w: int(n) for w, n in client.nthreads(workers=allowed).items() if n}
                refreshed = now
                for i, (fut, w) in list(running.items()):
                    if w not in workers:  # its worker died (or left): this try is over
                        fut.cancel()
                        del running[i]
                        failed[i] = WorkerLost(f"worker {w} left the cluster while evaluating member {i}")
            if deadline is not None and now >= deadline:
                for i, (fut, _) in running.items():
                    fut.cancel()
                for i in [*running, *queue]:
                    failed[i] = MemberTimeout(f"not finished within timeout={timeout:g} s")
                running.clear()
                queue.clear()
                break
            if queue:
                if workers:
                    no_workers_since = None
                elif no_workers_since is None:
                    no_workers_since = now
                elif now - no_workers_since >= _no_workers_timeout():
                    raise _no_workers_error(now - no_workers_since, len(queue) + len(running))
                load = dict.fromkeys(workers, 0)
                for _, w in running.values():
                    if w in load:
                        load[w] += 1
                while queue:
                    free = [w for w in workers if load[w] < workers[w] * per_thread]
                    if not free:
                        break
                    w = min(free, key=lambda a: load[a] / workers[a])
                    i = queue.pop(0)
                    # pure=False: every try a fresh key, never the cached result of a failed one
                    running[i] = (client.submit(_call, fun, Theta[i], _args(args), kwargs, pure=False, workers=[w],
                                                allow_other_workers=False, **submit_kw), w)
                    load[w] += 1
            if not (queue or running):
                break
            wait = POLL_SECONDS if deadline is None else min(POLL_SECONDS, max(deadline - now, 0.0))
            if running:
                _wait_any([fut for fut, _ in running.values()], wait)
            else:
                time.sleep(wait)  # no worker yet: wait for one
    except BaseException:
        for fut, _ in running.values():
            fut.cancel()
        raise
    return failed


def evaluate_parallel(fun: Callable, Theta, executor, args: tuple | Callable[[], tuple] = (),
                      kwargs: dict | None = None,
                      retries: int = 2, timeout: float | None = None,
                      on_error: str = "raise", per_thread: int = 1) -> tuple[list, dict[int, BaseException]]:
    """``fun(Theta[i], *args, **kwargs)`` for every row, one task each, gathered in order.

    Parameters
    ----------
    fun : callable
        Must pickle for a process pool or a dask cluster (a module-level function or a
        callable object; dask also ships lambdas and functions of ``__main__``).
    Theta : ndarray (P, n)
    executor : concurrent.futures.Executor or dask.distributed.Client
    args, kwargs
        Extra arguments of ``fun``; ``args`` may be a callable returning them, called at
        every submission.
    retries : int, default=2
        How many times a member whose worker was lost (or that timed out) is submitted
        again, alone (see the module docstring); with 0, members in flight on a worker
        that dies count as failed at once. On dask, a member costs at most
        ``retries + 1`` worker deaths.
    timeout : float or None, default=None
        Seconds one try of the population may take; the members not finished by then
        are cancelled and count as lost. None: no limit on the fitness's own run time
        (a lost worker or a cluster without workers is still detected). A cancelled
        task may keep its thread or process busy until it returns by itself.
    on_error : {"raise", "worst"}, default="raise"
        What an exception raised by ``fun`` does: stop (re-raised, the other tasks
        cancelled), or report the member as failed (a :class:`FitnessRaised`), not retried.
    per_thread : int, default=1
        On dask, tasks queued per worker thread on a first try (retries always run one
        per thread): 1 isolates a member that kills its worker; sub-population chunks,
        whose lost members are retried one by one anyway, queue all of theirs at once and
        save a round trip per chunk.

    Returns
    -------
    outputs : list
        ``fun``'s return value for each row (None for the failed ones).
    failed : dict
        Row index -> the last error, for the rows lost on every try (``KilledWorker``,
        :class:`WorkerLost`, ``BrokenProcessPool``, :class:`MemberTimeout`, ...) and, with
        ``on_error="worst"``, the rows whose fitness raised (:class:`FitnessRaised`).

    Raises
    ------
    Exception
        Whatever ``fun`` raised (the other tasks are cancelled), with ``on_error="raise"``.
    RuntimeError
        When the executor cannot run anything any more: a dask cluster without workers
        (see the module docstring), or a broken executor that is not a process pool.

    Examples
    --------
    >>> import numpy as np
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> from evoneuro.distributed import evaluate_parallel
    >>> with ThreadPoolExecutor(2) as ex:
    ...     out, failed = evaluate_parallel(np.sum, np.arange(6.0).reshape(3, 2), ex)
    >>> [float(v) for v in out], failed
    ([1.0, 5.0, 9.0], {})
    """
    kwargs = {} if kwargs is None else kwargs
    keep_errors = check_on_error(on_error) == "worst"
    lost = lost_worker_errors(executor) + (cf.BrokenExecutor, MemberTimeout, WorkerLost)
    client = _dask_client(executor)
    options = _dask_options(executor) if client is not None else None
    outputs: list = [None] * len(Theta)
    errors: dict[int, BaseException] = {}
    tries = [0] * len(Theta)
    alone: set[int] = set()  # suspects: lost while sharing the workers with others
    pending = list(range(len(Theta)))
    while pending:
        shared = [i for i in pending if i not in alone]
        again = []
        for batch in ([shared] if shared else []) + [[i] for i in pending if i in alone]:
            if client is not None:
                failed = _run_on_dask(client, options, fun, Theta, batch, args, kwargs, outputs, lost, timeout,
                                      keep_errors, per_thread if batch is shared else 1)
            else:
                pool = _live(executor)
                futures = {i: _submit(pool, fun, Theta[i], _args(args), kwargs) for i in batch}
                failed, broke = _gather(futures, outputs, lost, timeout, keep_errors)
                del futures
                if broke and _live(executor) is pool:  # not a process pool: nothing replaces it
                    raise _broken(next(e for e in failed.values() if isinstance(e, cf.BrokenExecutor)))
            for i, err in failed.items():
                errors[i] = err
                if isinstance(err, FitnessRaised):  # the fitness's own answer: never retried
                    tries[i] = retries + 1
                    continue
                tries[i] += 1
                if tries[i] <= retries:
                    again.append(i)
                    if not isinstance(err, MemberTimeout):
                        # a dying worker (or a breaking pool) takes the tasks queued on it
                        # along: retried alone, an innocent member gets its value
                        alone.add(i)
        pending = sorted(again)
    return outputs, {i: errors[i] for i in range(len(Theta)) if tries[i] > retries}


__all__ = ["FitnessRaised", "MemberTimeout", "WorkerLost", "check_on_error", "evaluate_parallel",
           "lost_worker_errors"]
