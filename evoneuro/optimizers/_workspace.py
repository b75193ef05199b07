"""Arrays an optimizer rewrites every generation, kept from one generation to the next.

A population-sized temporary (64 x 11,914 float32 is 3 MB) is above glibc's mmap threshold
until the allocator adapts it, and depending on the process's allocation history each new one
may come as fresh pages from the kernel, whose page faults can cost several times the update
itself (figures in ``docs/guide/optimizers.md``). A :class:`Workspace` hands out the same
array again as long as nobody but the workspace holds it. An array the optimizer returned (a
population from ``ask``) that a caller keeps is never overwritten: it is replaced by a new one.

The workspace is not pickled or deep-copied: every array it hands out is rewritten before it
is read, so a resumed run draws and computes exactly the same values.
"""

from __future__ import annotations

import sys

import numpy as np


def _refs(a) -> int:
    return sys.getrefcount(a)


def _baseline() -> int:
    # the count of an array held by the workspace's dict and the caller's local only, taken
    # through the same calls as in Workspace.array
    arrays = {"probe": np.empty(0)}
    a = arrays.get("probe")
    return _refs(a)


_ONLY_OURS = _baseline()


class Workspace:
    """Named arrays reused across generations.

    Examples
    --------
    >>> work = Workspace()
    >>> a = work.array("z", (2, 3), np.float32)
    >>> a_id = id(a); del a  # nobody holds it now: the next call hands it out again
    >>> id(work.array("z", (2, 3), np.float32)) == a_id
    True
    >>> kept = work.array("z", (2, 3), np.float32)
    >>> work.array("z", (2, 3), np.float32) is kept  # a caller holds it: a new array
    False
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def array(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        """An uninitialised array ``name`` of ``shape`` and ``dtype``: the one handed out last
        time if nothing outside the workspace holds it (no reference, no view), else a new one."""
        a = self._arrays.get(name)
        if a is None or a.shape != tuple(shape) or a.dtype != dtype or _refs(a) > _ONLY_OURS:
            a = np.empty(shape, dtype)
            self._arrays[name] = a
        return a

    def __deepcopy__(self, memo) -> "Workspace":
        return Workspace()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self._arrays = {}
