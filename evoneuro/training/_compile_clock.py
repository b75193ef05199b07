"""Numba's compile time, measured so that a budget in seconds leaves it out.

Numba announces every compilation as a ``numba:compile`` event; a listener sums the
seconds of the outermost ones. :func:`compile_clock` registers one listener for a whole
:meth:`evoneuro.Trainer.run`, so a step only reads its total.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time


class _NoClock:
    total = 0.0  # without Numba nothing compiles


@functools.cache
def _clock_class():
    from numba.core import event

    class CompileClock(event.Listener):
        """Sums the seconds of the outermost ``numba:compile`` events while registered."""

        def __init__(self) -> None:
            self.depth, self.total, self._t = 0, 0.0, 0.0

        def on_start(self, event) -> None:
            if self.depth == 0:
                self._t = time.perf_counter()
            self.depth += 1

        def on_end(self, event) -> None:
            self.depth -= 1
            if self.depth == 0:
                self.total += time.perf_counter() - self._t

    return CompileClock


_ACTIVE: list = []  # the clock of the run in progress (a callback may run another trainer)


@contextlib.contextmanager
def compile_clock():
    """The active compile clock, or a new one registered with Numba for the block.

    ``Trainer.run`` registers one clock for the whole run, so a step only reads its total:
    no listener is installed and removed on the hot path of every step.
    """
    if _ACTIVE or "numba" not in sys.modules:  # already listening, or nothing can compile
        yield _ACTIVE[-1] if _ACTIVE else _NoClock
        return
    from numba.core import event

    clock = _clock_class()()
    event.register("numba:compile", clock)
    _ACTIVE.append(clock)
    try:
        yield clock
    finally:
        _ACTIVE.pop()
        event.unregister("numba:compile", clock)


__all__ = ["compile_clock"]
