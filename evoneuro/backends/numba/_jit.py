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

Layouts and sample groups
    :func:`layout` gives the kernels a net's sizes, weight offsets and activations as
    arrays. A gradient call splits the samples into :func:`n_groups` groups, a number that
    depends on the batch size only, so results do not depend on how the population is
    chunked or how many threads run.
"""

from __future__ import annotations

import numpy as np

from evoneuro.backends.numba.simd import TILE

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
