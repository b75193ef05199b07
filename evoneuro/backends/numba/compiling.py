"""Numba's compile time: summed for budgets, and said once per kind on stderr.

One listener on Numba's ``numba:compile`` events, registered when this module is first
imported, adds up the seconds of the outermost compilations of the process
(:func:`seconds`, every jitted function included, a custom fitness's too). A run's compile
time is the difference of two readings (:mod:`evoneuro.training._compile_clock`): it is
reported (``compile_seconds``) and left out of ``max_time``.

Each kernel module names its kernels (:func:`name`). The first compilation of a named kind
in a process says so on stderr, once, with its duration::

    evoneuro: compiling the LSTM kernels for this CPU, once: 12 s

The line opens when the compilation starts (on a terminal; elsewhere it is written whole at
the end) and closes when the call that needed the kernels returns (:func:`close`, which
:class:`~.backend.NumbaBackend` calls), so the duration covers every kernel the call
compiled. Numba caches compiled kernels on disk (``NUMBA_CACHE_DIR``): later processes
load them in a fraction of a second and say nothing. ``evoneuro warmup``
(:func:`evoneuro.warmup`) compiles them ahead of time. Set :data:`QUIET` to silence the line.
"""

from __future__ import annotations

import atexit
import os
import sys
import time

from numba.core import event

#: Leave out the compile line (the seconds are still counted); ``EVONEURO_QUIET=1`` sets it.
QUIET = os.environ.get("EVONEURO_QUIET", "") not in ("", "0")

_LABELS: dict = {}  # kernel dispatcher -> (what the line names, whether its compile ends the line)


def name(label: str, *kernels, closes: bool = False) -> None:
    """Name ``kernels`` (Numba dispatchers) as the kernels of ``label`` in the compile line.

    ``closes=True`` for kernels no :func:`close` follows (an optimizer's own kernels): the
    end of their compilation closes the line.
    """
    for kernel in kernels:
        _LABELS[kernel] = (label, closes)


class _State:
    depth = 0  # Numba compiles under one global lock: one nesting count suffices
    total = 0.0  # seconds of outermost compilations so far
    started = 0.0
    open_label: str | None = None  # the kind whose line is open
    open_total = 0.0  # ``total`` when it opened
    closes = False
    announced: set = set()


def seconds() -> float:
    """Seconds Numba has spent compiling in this process since this module was imported."""
    return _State.total


def _tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _write(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (AttributeError, ValueError, OSError):  # stderr closed or replaced by something odd
        pass


def _duration(s: float) -> str:
    return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"


def close() -> None:
    """End the open compile line with the seconds compiled since it opened (no-op otherwise)."""
    label = _State.open_label
    if label is None:
        return
    _State.open_label = None
    took = _duration(_State.total - _State.open_total)
    if _tty():
        _write(f": {took}\n")
    else:
        _write(f"evoneuro: compiling the {label} kernels for this CPU, once: {took}\n")


class _Listener(event.Listener):
    def on_start(self, ev) -> None:
        _State.depth += 1
        if _State.depth > 1:
            return
        _State.started = time.perf_counter()
        data = ev.data if isinstance(ev.data, dict) else {}
        label, closes = _LABELS.get(data.get("dispatcher"), (None, False))
        if label is None or label in _State.announced or QUIET:
            return
        close()  # a line left open by a kernel called outside the backend
        _State.announced.add(label)
        _State.open_label, _State.open_total, _State.closes = label, _State.total, closes
        if _tty():
            _write(f"evoneuro: compiling the {label} kernels for this CPU, once")

    def on_end(self, ev) -> None:
        _State.depth -= 1
        if _State.depth > 0:
            return
        _State.total += time.perf_counter() - _State.started
        if _State.closes:
            _State.closes = False
            close()


event.register("numba:compile", _Listener())
atexit.register(close)

__all__ = ["QUIET", "close", "name", "seconds"]
