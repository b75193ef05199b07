"""What every module of the Numba backend shares: jit options, activation codes, layouts.

Jit options
    Every kernel is compiled on first use and cached on disk (:data:`CACHED`). The tile
    kernels add ``error_model="numpy"`` (:data:`NUMPY_ERRORS`): a Python-style
    zero-division check inside a loop stops LLVM from vectorising it. :data:`OPTS` allows
    fused multiply-adds only, so every sum runs in the order written; :data:`REDUCE` also
    lets LLVM reassociate, for sums over samples that vectorise only that way (their
    results depend on the build, never on the thread count). A function only compiled
    code calls adds :data:`INNER`: no Python wrapper is built for it.

Activation codes
    A hidden activation reaches the kernels as an integer code (:data:`ACT_CODES`) and its
    ``(scale, slope)``; float32 sigmoid, tanh and gaussian have codes of their own
    (:data:`F32_CODES`, see :mod:`.activations`). :func:`act_code` picks the code for a dtype.

The on-disk cache
    Numba stamps a cached kernel with its own source file only, so a kernel that inlines a
    helper from another module (every tile kernel inlines :mod:`.simd` and :mod:`.tiles`)
    kept running the helper's old code after the helper changed. Here a kernel is stamped
    with its module's source, the sources of the modules of this package it imports
    (transitively) and the vector width (:data:`.simd.VBYTES`): a change to any of them
    recompiles it, and the 256- and 512-bit builds never load each other.

Layouts and sample groups
    :func:`layout` gives the kernels a net's sizes, weight offsets and activations as
    arrays. A gradient call splits the samples into :func:`n_groups` groups, a number that
    depends on the batch size only, so results do not depend on how the population is
    chunked or how many threads run.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re

import numpy as np
from numba.core import caching

from evoneuro.backends.numba import simd
from evoneuro.backends.numba.simd import TILE

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


_IMPORT = re.compile(r"^\s*from evoneuro\.backends\.numba(?:\.(\w+))? import ([\w, ()\n]+?)(?:$|#)", re.M)


def _local_imports(name: str) -> set[str]:
    """The modules of this package that module ``name`` imports (``from ... import``)."""
    with open(os.path.join(_PACKAGE, name + ".py"), encoding="utf-8") as fh:
        text = fh.read()
    found = set()
    for module, names in _IMPORT.findall(text):
        if module:
            found.add(module)
        else:
            found.update(n.split(" as ")[0].strip(" ()") for n in names.split(","))
    return {m for m in found if m and os.path.exists(os.path.join(_PACKAGE, m + ".py"))}


@functools.lru_cache(maxsize=256)
def _stamp(name: str, stats: tuple) -> bytes:
    seen, todo = set(), [name]
    while todo:  # the module and every module of this package it imports, transitively
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(_local_imports(m))
    h = hashlib.sha256(str(simd.VBYTES).encode())
    for m in sorted(seen):
        with open(os.path.join(_PACKAGE, m + ".py"), "rb") as fh:
            h.update(m.encode() + b"\0" + fh.read())
    return h.digest()


def package_stamp(py_file: str) -> bytes:
    """The cache stamp of a kernel defined in ``py_file``: its module's source, the sources of
    the modules of this package it imports (transitively), and the vector width."""
    stats = tuple((n, os.stat(os.path.join(_PACKAGE, n)).st_mtime_ns) for n in sorted(os.listdir(_PACKAGE))
                  if n.endswith(".py"))
    return _stamp(os.path.splitext(os.path.basename(py_file))[0], stats)


def _package_locator(base):
    class Locator(base):
        __doc__ = f"{base.__name__} for this package's kernels, stamped by :func:`package_stamp`."
        _py_file: str

        @classmethod
        def from_function(cls, py_func, py_file):
            if os.path.dirname(os.path.abspath(py_file)) != _PACKAGE:
                return None
            return super().from_function(py_func, py_file)

        def get_source_stamp(self):
            return package_stamp(self._py_file)

    Locator.__name__ = Locator.__qualname__ = f"Evoneuro{base.__name__}"
    return Locator


if not any(getattr(c, "__module__", "") == __name__ for c in caching.CacheImpl._locator_classes):
    caching.CacheImpl._locator_classes[:0] = [_package_locator(caching.UserProvidedCacheLocator),
                                              _package_locator(caching.InTreeCacheLocator)]

CACHED = {"cache": True}
NUMPY_ERRORS = {**CACHED, "error_model": "numpy"}
OPTS = {**NUMPY_ERRORS, "fastmath": {"contract"}}
REDUCE = {**NUMPY_ERRORS, "fastmath": {"contract", "reassoc"}}
#: For the kernels' helpers, which only compiled code calls: Numba otherwise builds a Python
#: wrapper for every function and signature, unboxing each argument (tuples of arrays for
#: some helpers), about a fifth of a cold start's compile time (``bench_startup.py``). The
#: kernels the pool runs, and the few helpers the tests call from Python, keep theirs.
INNER = {"no_cpython_wrapper": True, "no_cfunc_wrapper": True}

IDENTITY, SIGMOID, TANH, SOFTSIGN, GAUSSIAN, RELU, SIGMOID_F32, TANH_F32, GAUSSIAN_F32 = range(9)
ACT_CODES = {"identity": IDENTITY, "sigmoid": SIGMOID, "tanh": TANH, "softsign": SOFTSIGN,
             "gaussian": GAUSSIAN, "relu": RELU}
F32_CODES = {SIGMOID: SIGMOID_F32, TANH: TANH_F32, GAUSSIAN: GAUSSIAN_F32}

#: Sample groups per member in a gradient call, at most (parallelism for small populations).
MAX_GROUPS = 8


def act_code(name: str, dtype) -> int:
    """The kernels' code of activation ``name`` for arrays of ``dtype``.

    Examples
    --------
    >>> import numpy as np
    >>> act_code("tanh", np.float64) == TANH, act_code("tanh", np.float32) == TANH_F32
    (True, True)
    >>> act_code("relu", np.float32) == RELU
    True
    """
    code = ACT_CODES[name]
    return F32_CODES.get(code, code) if dtype == np.float32 else code


def layout(net, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(sizes, offs, codes, ab)``: the layer widths, each layer's weight offset, each hidden
    layer's activation code and ``(scale, slope)`` row (in ``dtype``), as the kernels take them.

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> sizes, offs, codes, ab = layout(en.MLP(4, (8,), 3, activation="tanh"), np.float64)
    >>> sizes.tolist(), offs.tolist(), codes.tolist() == [TANH], ab.tolist()
    ([4, 8, 3], [0, 40], True, [[1.0, 1.0]])
    """
    sizes = np.asarray(net.sizes, dtype=np.int64)
    offs = np.asarray([s.w_start for s in net.layers], dtype=np.int64)
    codes = [act_code(act.name, dtype) for act in net.activations]
    ab = [(act.scale, act.slope) for act in net.activations]
    codes = np.asarray(codes if codes else [0], dtype=np.int64)
    ab = np.asarray(ab if ab else [(1.0, 1.0)], dtype=dtype).reshape(-1, 2)
    return sizes, offs, codes, ab


def n_groups(n_samples: int) -> int:
    """Sample groups per member in a gradient call: a function of the batch size only.

    Examples
    --------
    >>> n_groups(1), n_groups(TILE + 1), n_groups(100 * TILE)
    (1, 2, 8)
    """
    return max(1, min(MAX_GROUPS, -(-n_samples // TILE)))


def group_rows(n_samples: int) -> int:
    """Rows of each sample group (the last one holds the rest): a multiple of ``TILE``.

    The groups are the fixed logical shards of a batch: a gradient call sums each group's
    tiles in order, and the groups' sums (losses and gradients) are added in group order
    (:func:`ordered_sum`), on one machine as across the workers of
    :mod:`evoneuro.distributed` that hold them.

    Examples
    --------
    >>> group_rows(1), group_rows(TILE + 1), group_rows(100 * TILE)
    (64, 64, 832)
    """
    n_tiles = max(1, -(-n_samples // TILE))
    S = n_groups(n_samples)
    return -(-n_tiles // S) * TILE


def group_sums(rows: np.ndarray, per_group: int) -> np.ndarray:
    """``(P, S)``: each group's sum of the loss rows ``(P, N)``, groups of ``per_group`` rows.

    Examples
    --------
    >>> group_sums(np.arange(6.0).reshape(1, 6), 4).tolist()
    [[6.0, 9.0]]
    """
    N = rows.shape[1]
    return np.stack([rows[:, a:a + per_group].sum(axis=1) for a in range(0, max(N, 1), per_group)], axis=1)


def ordered_sum(parts: np.ndarray) -> np.ndarray:
    """``parts[:, 0] + parts[:, 1] + ...`` left to right: ``(P, S, ...)`` -> ``(P, ...)``.

    Examples
    --------
    >>> ordered_sum(np.array([[1.0, 2.0, 3.0]])).tolist()
    [6.0]
    """
    total = parts[:, 0].copy()
    for s in range(1, parts.shape[1]):
        total += parts[:, s]
    return total
