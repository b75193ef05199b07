"""Numba building blocks for one tile of ``TILE`` samples: matmul, gradient sums, losses.

A tile holds activations *transposed*, ``(width, TILE)`` with the samples along the
contiguous axis. Every inner loop then runs over a compile-time constant ``TILE``
samples, which LLVM turns into a few full-width vector instructions, and a weight is a
scalar broadcast. The layer products are register-blocked vector code
(:mod:`.simd`). Padding columns (``r >= R`` in the last tile) are computed but
ignored. Activations work on a tile as a flat array (:mod:`.activations`).

Compiled with the options of :mod:`._jit`: ``error_model="numpy"``, as a Python-style
zero-division check in a loop stops LLVM from vectorising it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from evoneuro.backends.numba._jit import INNER, OPTS
from evoneuro.backends.numba.activations import exp_nonpositive
from evoneuro.backends.numba.simd import (
    TILE,
    accumulate_rows1,
    accumulate_rows4,
    dot_tile,
    grad_rows,
    lanes_of,
    product_rows1,
    product_rows4,
    sum_tile,
)

# Flags, strides and offsets handed to the shared tile functions (here and in the recurrent
# kernels) as typed values, not literals: a literal argument compiles another copy of the
# callee per value (matmul_tile, matmul_rows, add_products, the loss tiles: seconds of a
# cold start), where int64 and bool share one.
I0, I1 = np.zeros(1, np.int64)[0], np.ones(1, np.int64)[0]
FALSE, TRUE = np.zeros(1, np.bool_)[0], np.ones(1, np.bool_)[0]

# --- matmul ---------------------------------------------------------------------------


# Sums over a tile's samples, in one fixed order on every host (:func:`.simd.dot_tile`).
# Written inside a loop that also updates per-sample arrays, one ordered scalar sum keeps
# LLVM from vectorising the whole loop (the backward passes of the normalised and RBF
# layers call these instead).


@njit(**OPTS, **INNER)
def row_dot(a, b, j):
    """``sum_r a[j, r] * b[j, r]`` over the ``TILE`` samples, in float64."""
    return dot_tile(a, j, b, j, 0.0)


@njit(**OPTS, **INNER)
def row_sum(a, j):
    """``sum_r a[j, r]`` over the ``TILE`` samples, in float64."""
    return sum_tile(a, j, 0.0)


@njit(**OPTS)
def matmul_tile(hT, K, th, w0, sk, sj, zT, N, b0, has_bias, accumulate=False):
    """``zT[j, :] (=|+=) b[j] + sum_k th[w0 + k*sk + j*sj] * hT[k, :]`` for ``j < N``.

    Forward: ``sk = fan_out, sj = 1`` (``W[k, j]``); backward ``dh = W dz``: the same
    kernel with ``sk = 1, sj = fan_out`` and no bias. With ``accumulate`` the sums are
    added to what ``zT`` holds (the bias is not). Register-blocked, four output rows at a
    time (:mod:`.simd`); left out, ``accumulate`` compiles to nothing.
    """
    j = 0
    while j + 4 <= N:
        if accumulate:
            accumulate_rows4(hT, K, th, w0 + j * sj, sk, sj, zT, j, b0 + j, has_bias)
        else:
            product_rows4(hT, K, th, w0 + j * sj, sk, sj, zT, j, b0 + j, has_bias)
        j += 4
    while j < N:
        if accumulate:
            accumulate_rows1(hT, K, th, w0 + j * sj, sk, sj, zT, j, b0 + j, has_bias)
        else:
            product_rows1(hT, K, th, w0 + j * sj, sk, sj, zT, j, b0 + j, has_bias)
        j += 1


@njit(**OPTS)
def grad_tile(hT, K, dzT, N, g, w0, zero, has_bias=True):
    """``g[w0 + k*N + j] += sum_r hT[k, r] dzT[j, r]``, then (``has_bias``) the bias
    ``g[w0+K*N+j] += sum_r dzT[j, r]``.

    Whole logical vectors of outputs (16 float32, 8 float64) at a time by
    :func:`grad_rows`, the rest (``N`` mod the lanes) one output at a time by
    :func:`dot_tile`, in ``zero``'s type; the bias sums in float64. Every sum runs in the
    same order on any host (:mod:`.simd`).
    """
    lanes = lanes_of(g)
    nj = N - N % lanes
    for k in range(K):
        for j in range(0, nj, lanes):
            grad_rows(hT, k, dzT, j, g, w0 + k * N + j)
        for j in range(nj, N):
            g[w0 + k * N + j] += dot_tile(hT, k, dzT, j, zero)
    if not has_bias:
        return
    b0 = w0 + K * N
    for j in range(N):
        g[b0 + j] += sum_tile(dzT, j, 0.0)


@njit(**OPTS, **INNER)
def copy_rows(src, s0, dst, d0, n):
    """``dst[d0 + j, :] = src[s0 + j, :]`` for ``j < n`` (``(rows, TILE)`` tiles), as a loop:
    an array-to-slice assignment compiles a formatted shape-mismatch error (seconds of a cold
    start)."""
    for j in range(n):
        for r in range(TILE):
            dst[d0 + j, r] = src[s0 + j, r]


# --- outputs and losses ----------------------------------------------------------------


@njit(**OPTS, **INNER)
def softmax_tile(zT, K, R, outT):
    """Softmax over the first axis, for the first ``R`` samples; ``outT`` may be ``zT``."""
    for r in range(R):
        m = zT[0, r]
        for j in range(1, K):
            m = max(m, zT[j, r])
        s = 0.0
        for j in range(K):
            e = math.exp(zT[j, r] - m)
            outT[j, r] = e
            s += e
        inv = 1.0 / s
        for j in range(K):
            outT[j, r] = outT[j, r] * inv


@njit(**OPTS)
def softmax_loss_tile(zT, K, R, y, r0, N, loss, need_grad):
    """Cross-entropy of rows ``r0..r0+R`` into ``loss[r0 + r]`` (float64).

    With ``need_grad`` the tile is overwritten by ``dLoss/dz = (softmax - onehot) / N``,
    zero on padding rows. Every pass runs along the samples (vectorised, with the
    vectorisable ``exp`` of :mod:`.activations`). Each sample's largest logit, then its sum
    of exponentials, is kept in ``loss[r0:r0+R]`` on the way (in a scratch row with
    ``need_grad``, where the gradient needs the sums after the loss is written).
    """
    s = np.empty(R) if need_grad else loss[r0:r0 + R]
    for r in range(R):
        s[r] = zT[0, r]
    for j in range(1, K):
        for r in range(R):
            s[r] = max(s[r], zT[j, r])
    for j in range(K):  # shift by the row maximum (exact in the tile's dtype): z <= 0
        for r in range(R):
            zT[j, r] = zT[j, r] - s[r]
    for r in range(R):
        s[r] = 0.0
    for j in range(K):
        for r in range(R):
            s[r] += exp_nonpositive(zT[j, r])
    for r in range(R):
        loss[r0 + r] = math.log(s[r]) - zT[y[r0 + r], r]
    if need_grad:
        # (p_j - [j == c]) / N, the true class's term as -(s - e) / s in float64: a
        # float32 p_c minus a float64 1/N left its rounding (~1e-8 / N) where the
        # exact gradient of a saturated softmax is 1e-17, and backprop scales it up
        for j in range(K):
            for r in range(R):
                e = exp_nonpositive(zT[j, r])
                inv = 1.0 / (s[r] * N)
                zT[j, r] = ((e - s[r]) * inv) if j == y[r0 + r] else e * inv
        for j in range(K):
            for r in range(R, TILE):
                zT[j, r] = 0


@njit(**OPTS, **INNER)
def mse_loss_tile(zT, K, R, Y, r0, N, loss, need_grad):
    """Squared error of rows ``r0..r0+R`` (mean over outputs) into ``loss[r0 + r]``.

    With ``need_grad`` the tile becomes ``2 (z - y) / (N K)``, zero on padding rows.
    """
    scale = 2.0 / (N * K)
    for r in range(R):
        s = 0.0
        for j in range(K):
            d = zT[j, r] - Y[r0 + r, j]
            s += d * d
            if need_grad:
                zT[j, r] = d * scale
        loss[r0 + r] = s / K
    if need_grad:
        for j in range(K):
            for r in range(R, TILE):
                zT[j, r] = 0


def input_tiles(X):
    """The samples as transposed tiles, ``(n_tiles, d, TILE)``, zero past the last sample.

    Built once per call with NumPy and read by every member's first layer in place, rather
    than transposed by every member for itself.
    """
    n, d = X.shape
    nt = -(-n // TILE)
    padded = np.zeros((nt * TILE, d), X.dtype)
    padded[:n] = X
    return np.ascontiguousarray(padded.reshape(nt, TILE, d).transpose(0, 2, 1))
