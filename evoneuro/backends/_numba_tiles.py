"""Numba building blocks for one tile of ``TILE`` samples: matmul, gradient sums, losses.

A tile holds activations *transposed*, ``(width, TILE)`` with the samples along the
contiguous axis. Every inner loop then runs over a compile-time constant ``TILE``
samples, which LLVM turns into a few full-width vector instructions, and a weight is a
scalar broadcast. Padding rows (``r >= R`` in the last tile) are computed but ignored.
Activations work on a tile as a flat array (:mod:`._numba_math`).

Compiled with ``error_model="numpy"``: a Python-style zero-division check in a loop
stops LLVM from vectorising it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

TILE = 64  # samples per tile; 64 float32 = four 512-bit registers per row

_FM = {"contract"}  # fused multiply-add only: no reassociation in the forward pass
_FM_REDUCE = {"contract", "reassoc"}  # sums over samples vectorise with reassociation
_OPTS = dict(cache=True, error_model="numpy", fastmath=_FM)

# Flags, strides and offsets handed to the shared tile functions (here and in the recurrent
# kernels) as typed values, not literals: a literal argument compiles another copy of the
# callee per value (matmul_tile, matmul_rows, add_products, the loss tiles: 1.7 s of a cold
# MLP fit, 3 s of a recurrent one), where int64 and bool share one.
I0, I1 = np.zeros(1, np.int64)[0], np.ones(1, np.int64)[0]
FALSE, TRUE = np.zeros(1, np.bool_)[0], np.ones(1, np.bool_)[0]

# --- matmul ---------------------------------------------------------------------------


@njit(**_OPTS)
def matmul_tile(hT, K, th, w0, sk, sj, zT, N, b0, has_bias, zero):
    """``zT[j, :] = b[j] + sum_k th[w0 + k*sk + j*sj] * hT[k, :]`` for ``j < N``.

    Forward: ``sk = fan_out, sj = 1`` (``W[k, j]``); backward ``dh = W dz``: the same
    kernel with ``sk = 1, sj = fan_out`` and no bias; ``zero`` is 0 in the array dtype.
    Blocks of 4 outputs x 4 inputs: 16 broadcast weights per pass over the tile.
    """
    j = 0
    while j + 4 <= N:
        c0 = c1 = c2 = c3 = zero
        if has_bias:
            c0 = th[b0 + j]
            c1 = th[b0 + j + 1]
            c2 = th[b0 + j + 2]
            c3 = th[b0 + j + 3]
        for r in range(TILE):
            zT[j, r] = c0
            zT[j + 1, r] = c1
            zT[j + 2, r] = c2
            zT[j + 3, r] = c3
        k = 0
        while k + 4 <= K:
            o = w0 + k * sk + j * sj
            w00 = th[o]
            w01 = th[o + sj]
            w02 = th[o + 2 * sj]
            w03 = th[o + 3 * sj]
            o += sk
            w10 = th[o]
            w11 = th[o + sj]
            w12 = th[o + 2 * sj]
            w13 = th[o + 3 * sj]
            o += sk
            w20 = th[o]
            w21 = th[o + sj]
            w22 = th[o + 2 * sj]
            w23 = th[o + 3 * sj]
            o += sk
            w30 = th[o]
            w31 = th[o + sj]
            w32 = th[o + 2 * sj]
            w33 = th[o + 3 * sj]
            for r in range(TILE):
                a0 = hT[k, r]
                a1 = hT[k + 1, r]
                a2 = hT[k + 2, r]
                a3 = hT[k + 3, r]
                zT[j, r] += a0 * w00 + a1 * w10 + a2 * w20 + a3 * w30
                zT[j + 1, r] += a0 * w01 + a1 * w11 + a2 * w21 + a3 * w31
                zT[j + 2, r] += a0 * w02 + a1 * w12 + a2 * w22 + a3 * w32
                zT[j + 3, r] += a0 * w03 + a1 * w13 + a2 * w23 + a3 * w33
            k += 4
        while k < K:
            o = w0 + k * sk + j * sj
            w00 = th[o]
            w01 = th[o + sj]
            w02 = th[o + 2 * sj]
            w03 = th[o + 3 * sj]
            for r in range(TILE):
                a0 = hT[k, r]
                zT[j, r] += a0 * w00
                zT[j + 1, r] += a0 * w01
                zT[j + 2, r] += a0 * w02
                zT[j + 3, r] += a0 * w03
            k += 1
        j += 4
    while j < N:
        c0 = zero
        if has_bias:
            c0 = th[b0 + j]
        for r in range(TILE):
            zT[j, r] = c0
        k = 0
        while k + 4 <= K:
            o = w0 + k * sk + j * sj
            w00 = th[o]
            w10 = th[o + sk]
            w20 = th[o + 2 * sk]
            w30 = th[o + 3 * sk]
            for r in range(TILE):
                zT[j, r] += hT[k, r] * w00 + hT[k + 1, r] * w10 + hT[k + 2, r] * w20 + hT[k + 3, r] * w30
            k += 4
        while k < K:
            w00 = th[w0 + k * sk + j * sj]
            for r in range(TILE):
                zT[j, r] += hT[k, r] * w00
            k += 1
        j += 1


@njit(cache=True, error_model="numpy", fastmath=_FM_REDUCE)
def grad_tile(hT, K, dzT, N, g, w0, zero, has_bias=True):
    """``g[w0 + k*N + j] += sum_r hT[k, r] dzT[j, r]``, then (``has_bias``) the bias
    ``g[w0+K*N+j] += sum_r dzT[j, r]``."""
    for k0 in range(0, K - K % 2, 2):
        for j in range(N):
            s0 = zero
            s1 = zero
            for r in range(TILE):
                d = dzT[j, r]
                s0 += hT[k0, r] * d
                s1 += hT[k0 + 1, r] * d
            g[w0 + k0 * N + j] += s0
            g[w0 + (k0 + 1) * N + j] += s1
    if K % 2:
        k0 = K - 1
        for j in range(N):
            s0 = zero
            for r in range(TILE):
                s0 += hT[k0, r] * dzT[j, r]
            g[w0 + k0 * N + j] += s0
    if not has_bias:
        return
    b0 = w0 + K * N
    for j in range(N):
        s0 = zero
        for r in range(TILE):
            s0 += dzT[j, r]
        g[b0 + j] += s0


@njit(**_OPTS)
def copy_rows(src, s0, dst, d0, n):
    """``dst[d0 + j, :] = src[s0 + j, :]`` for ``j < n`` (``(rows, TILE)`` tiles), as a loop:
    an array-to-slice assignment compiles a formatted shape-mismatch error (seconds of a cold
    start)."""
    for j in range(n):
        for r in range(TILE):
            dst[d0 + j, r] = src[s0 + j, r]


# --- outputs and losses ----------------------------------------------------------------


@njit(**_OPTS)
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


@njit(**_OPTS)
def softmax_loss_tile(zT, K, R, y, r0, N, loss, need_grad):
    """Cross-entropy of rows ``r0..r0+R`` into ``loss[r0 + r]`` (float64).

    With ``need_grad`` the tile is overwritten by ``dLoss/dz = (softmax - onehot) / N``,
    zero on padding rows.
    """
    for r in range(R):
        m = zT[0, r]
        for j in range(1, K):
            m = max(m, zT[j, r])
        s = 0.0
        for j in range(K):
            s += math.exp(zT[j, r] - m)
        c = y[r0 + r]
        loss[r0 + r] = math.log(s) - (zT[c, r] - m)
        if need_grad:
            # (p_j - [j == c]) / N, the true class's term as -(s - e) / s in float64: a
            # float32 p_c minus a float64 1/N left its rounding (~1e-8 / N) where the
            # exact gradient of a saturated softmax is 1e-17, and backprop scales it up
            inv = 1.0 / (s * N)
            for j in range(K):
                e = math.exp(zT[j, r] - m)
                zT[j, r] = (e - s if j == c else e) * inv
    if need_grad:
        for j in range(K):
            for r in range(R, TILE):
                zT[j, r] = 0


@njit(**_OPTS)
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


@njit(**_OPTS)
def load_tile(X, r0, R, d, xT):
    """``xT[:d, :R] = X[r0:r0+R].T``, zero padding rows."""
    for r in range(R):
        for k in range(d):
            xT[k, r] = X[r0 + r, k]
    for k in range(d):
        for r in range(R, TILE):
            xT[k, r] = 0
