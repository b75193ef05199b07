"""Evaluate a population member by member on an executor, surviving lost workers.

:func:`evaluate_parallel` submits one task per member to any
:class:`concurrent.futures.Executor` (``ProcessPoolExecutor``, ``ThreadPoolExecutor``,
``dask.distributed.Client.get_executor()``) or to a ``dask.distributed.Client`` itself, and
gathers the results in order, so a run gives exactly the values of serial evaluation.

Failures are of two kinds:

- the fitness raised: the other tasks are cancelled and the exception is re-raised (the
  :class:`evoneuro.Trainer` turns it into a :class:`evoneuro.TrainingError` that carries
  the best-so-far result);
- the worker was lost (killed, out of memory, connection closed): the member is submitted
  again, up to ``retries`` times; if it still fails it is reported back, and
  :class:`evoneuro.FitnessProblem` counts it as the worst value with one warning.
  A dask cluster also reschedules the tasks of a dead worker by itself (up to its
  ``distributed.scheduler.allowed-failures``) before reporting ``KilledWorker``.

A ``concurrent.futures.ProcessPoolExecutor`` whose worker dies is *broken* for good (every
later submission fails), so nothing can be retried on it: a clear ``RuntimeError`` is
raised. Use a dask ``Client`` where workers may die.
"""

from __future__ import annotations

import concurrent.futures as cf
from typing import Any, Callable

import numpy as np


def _call(fun: Callable, x: np.ndarray, args: tuple, kwargs: dict) -> Any:
    # one level of indirection, so that the user's kwargs never collide with the
    # executor's own keywords (dask's ``key``, ``pure``, ``retries``...)
    return fun(x, *args, **kwargs)


def _is_dask(executor) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed"


def _is_dask_client(executor) -> bool:
    return _is_dask(executor) and not isinstance(executor, cf.Executor) and hasattr(executor, "gather")


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


def _submit(executor, fun, x, args, kwargs):
    try:
        if _is_dask_client(executor):
            # pure=False: every try gets a fresh key, never the cached result of a failed one
            return executor.submit(_call, fun, x, args, kwargs, pure=False)
        return executor.submit(_call, fun, x, args, kwargs)
    except cf.BrokenExecutor as err:
        raise _broken(err) from err


def _broken(err: BaseException) -> RuntimeError:
    return RuntimeError(
        f"the executor is broken ({type(err).__name__}: {err}); a concurrent.futures process "
        "pool cannot run anything after one of its workers died. Use a dask.distributed "
        "Client, which replaces lost workers, or pass a new executor")


def evaluate_parallel(fun: Callable, Theta, executor, args: tuple = (), kwargs: dict | None = None,
                      retries: int = 2) -> tuple[list, dict[int, BaseException]]:
    """``fun(Theta[i], *args, **kwargs)`` for every row, one task each, gathered in order.

    Parameters
    ----------
    fun : callable
        Must pickle for a process pool or a dask cluster (a module-level function or a
        callable object; dask also ships lambdas and functions of ``__main__``).
    Theta : ndarray (P, n)
    executor : concurrent.futures.Executor or dask.distributed.Client
    args, kwargs
        Extra arguments of ``fun``.
    retries : int, default=2
        How many times a member whose worker was lost is submitted again.

    Returns
    -------
    outputs : list
        ``fun``'s return value for each row (None for the failed ones).
    failed : dict
        Row index -> the last error, for the rows whose worker was lost on every try.

    Raises
    ------
    Exception
        Whatever ``fun`` raised (the other tasks are cancelled).
    RuntimeError
        When the executor is broken (a ``ProcessPoolExecutor`` whose worker died).

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
    lost = lost_worker_errors(executor)
    outputs: list = [None] * len(Theta)
    errors: dict[int, BaseException] = {}
    pending = list(range(len(Theta)))
    for _ in range(int(retries) + 1):
        futures = {i: _submit(executor, fun, Theta[i], args, kwargs) for i in pending}
        again = []
        for i, fut in futures.items():
            try:
                outputs[i] = fut.result()
            except cf.BrokenExecutor as err:
                raise _broken(err) from err
            except lost as err:
                errors[i] = err
                again.append(i)
            except BaseException:
                for f in futures.values():
                    f.cancel()
                raise
        pending = again
        if not pending:
            break
    return outputs, {i: errors[i] for i in pending}


__all__ = ["evaluate_parallel", "lost_worker_errors"]
