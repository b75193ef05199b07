"""Set the process's BLAS thread pools for the duration of a call, in microseconds.

:mod:`threadpoolctl`'s ``threadpool_limits`` re-queries every loaded library on every
call (about 0.1 ms); an evaluator call can take less than that. Here the controllers are
found once, and each call is one ``ctypes`` call per library each way.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

_LIBS: list = []


def _blas_libs() -> list:
    if not _LIBS:
        from threadpoolctl import ThreadpoolController

        _LIBS.append(list(ThreadpoolController().select(user_api="blas").lib_controllers))
    return _LIBS[0]


def refresh() -> None:
    """Look for BLAS libraries again (one loaded since the first call)."""
    _LIBS.clear()


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """At most ``n`` BLAS threads inside the block (``None``: leave them alone); restored after."""
    if n is None:
        yield
        return
    saved = []
    try:
        for lib in _blas_libs():
            current = lib.get_num_threads()
            if current is not None and current > n:
                lib.set_num_threads(n)
                saved.append((lib, current))
        yield
    finally:
        for lib, current in saved:
            lib.set_num_threads(current)
