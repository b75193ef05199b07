"""One thread knob, ``n_jobs``, as scikit-learn names it.

``n_jobs`` is the number of threads evoneuro may run at once: Numba's parallel loops, and
the BLAS/OpenMP pools of the libraries it calls (pycma's eigendecomposition, numpy's
matrix products in the optimizers). ``None`` and ``-1`` mean every CPU this process may
use (:func:`os.sched_getaffinity`, so a ``taskset`` or a container's CPU set is obeyed),
never more. Pools are limited with :mod:`threadpoolctl` for the duration of a call and
restored afterwards, so evoneuro never changes the caller's settings.
"""

from __future__ import annotations

import contextlib
import os
from numbers import Integral
from typing import Iterator


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def check_n_jobs(n_jobs, name: str = "n_jobs") -> int:
    """``n_jobs`` as a thread count in ``[1, available_cpus()]``.

    ``None`` or ``-1``: all available CPUs; ``k > 0``: ``min(k, available)``; ``-k``
    (joblib's convention): all but ``k - 1``.

    Examples
    --------
    >>> from evoneuro._threads import check_n_jobs, available_cpus
    >>> check_n_jobs(1), check_n_jobs(None) == available_cpus()
    (1, True)
    """
    cpus = available_cpus()
    if n_jobs is None:
        return cpus
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral):
        raise TypeError(f"{name} must be None or a nonzero int, got {n_jobs!r}")
    n = int(n_jobs)
    if n == 0:
        raise ValueError(f"{name} must be None or a nonzero int (-1 for all CPUs), got 0")
    if n < 0:
        n = cpus + 1 + n
    return max(1, min(n, cpus))


@contextlib.contextmanager
def limit_threads(n: int | None) -> Iterator[None]:
    """Limit the BLAS and OpenMP thread pools to ``n`` threads inside the block.

    ``n=None`` leaves them as they are. Restores the previous limits on exit.
    """
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(n)):
        yield


__all__ = ["available_cpus", "check_n_jobs", "limit_threads"]
