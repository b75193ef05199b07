"""Numba's compile time, read so that a budget in seconds leaves it out.

The Numba backend keeps one process-wide listener that sums the seconds of every outermost
compilation (:mod:`evoneuro.backends.numba.compiling`); a step's or a ``predict``'s compile
time is the difference of two readings of :func:`compile_seconds`. Nothing is installed or
removed on the hot path.
"""

from __future__ import annotations

import sys


def compile_seconds() -> float:
    """Seconds Numba has spent compiling in this process so far (0.0 while Numba is not loaded).

    Examples
    --------
    >>> c0 = compile_seconds()
    >>> compile_seconds() - c0 >= 0.0
    True
    """
    if "numba" not in sys.modules:  # nothing can have compiled; importing Numba costs a second
        return 0.0
    from evoneuro.backends.numba.compiling import seconds

    return seconds()


__all__ = ["compile_seconds"]
