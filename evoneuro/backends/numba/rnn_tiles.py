"""Numba building blocks of the recurrent kernels: a tile matmul, BPTT sums, the readout loss.

A tile holds one member's state for :data:`~.tiles.TILE` sequences, *transposed*:
``(units, TILE)``, the sequences along the contiguous axis, as in the MLP's fused tiles.
Every inner loop runs over ``range(TILE)`` (a compile-time constant, indices that Numba
knows are non-negative), so LLVM vectorises it, and a weight is a scalar broadcast. A
member's weights are one flat vector ``w`` read with explicit offsets and strides: the
forward product ``z = x W`` and the backward ``dx = W dz`` are the same loop with the
strides swapped, register-blocked (:mod:`.simd`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from evoneuro.backends.numba._jit import INNER, OPTS
from evoneuro.backends.numba.simd import sum_tile
from evoneuro.backends.numba.tiles import I0, I1, TILE, matmul_tile


# matmul_rows modes: start from 0, from the bias, or add to what zT holds (typed, not
# literals: see tiles.I0)
ZERO, BIAS, ACC = I0, I1, np.full(1, 2, np.int64)[0]
# output kinds, as net.output names them
SOFTMAX, SIGMOID, LINEAR = 0, 1, 2


@njit(**OPTS)
def matmul_rows(hT, K, w, w0, sk, sj, zT, N, b0, mode):
    """``zT[j, :] (=|+=) [b_j +] sum_{k<K} w[w0 + k sk + j sj] hT[k, :]`` for ``j < N``.

    Forward ``z = x W`` (``W (K, n)`` row-major at ``w0``): ``sk = n, sj = 1``; backward
    ``dx = W dz``: ``sk = 1, sj = n``. ``mode``: :data:`ZERO`, :data:`BIAS` (``b_j`` at
    ``w[b0 + j]``) or :data:`ACC` (add to ``zT``): :func:`~.tiles.matmul_tile`.
    """
    matmul_tile(hT, K, w, w0, sk, sj, zT, N, b0, mode == BIAS, mode == ACC)


@njit(**OPTS, **INNER)
def add_products(A, a0, nk, ta, B, b0, nj, ns, g, goff, ldg, boff):
    """BPTT's weight sums over a chunk of ``ns`` steps of one tile.

    ``g[goff + k ldg + j] += sum A[a0 + k, ta:ta + ns, :] * B[b0 + j, :ns, :]`` and the bias
    ``g[boff + j] += sum B[b0 + j, :ns, :]``: the inputs of the steps (``A``, ``(rows,
    steps, TILE)``) against their ``dL/dz`` (``B``); blocks of 4 inputs x 2 outputs. Each
    sum runs in ``TILE`` lanes, lane ``r`` adding the steps' sample ``r`` in step order (a
    loop along the samples, which vectorises), and the lanes meet in
    :func:`~.simd.sum_tile`'s fixed tree: the same bits on any host.
    """
    zero = g[0] - g[0]
    acc = np.empty((8, TILE), g.dtype)
    k = 0
    while k < nk:
        k1 = min(k + 1, nk - 1)
        k2 = min(k + 2, nk - 1)
        k3 = min(k + 3, nk - 1)
        for j in range(0, nj, 2):
            j1 = min(j + 1, nj - 1)
            for q in range(8):
                for r in range(TILE):
                    acc[q, r] = zero
            for t in range(ns):
                for r in range(TILE):
                    u = B[b0 + j, t, r]
                    v = B[b0 + j1, t, r]
                    x0 = A[a0 + k, ta + t, r]
                    x1 = A[a0 + k1, ta + t, r]
                    x2 = A[a0 + k2, ta + t, r]
                    x3 = A[a0 + k3, ta + t, r]
                    acc[0, r] += x0 * u
                    acc[1, r] += x0 * v
                    acc[2, r] += x1 * u
                    acc[3, r] += x1 * v
                    acc[4, r] += x2 * u
                    acc[5, r] += x2 * v
                    acc[6, r] += x3 * u
                    acc[7, r] += x3 * v
            # duplicated rows (k1 == k at the edge) are written once: the checks below
            g[goff + k * ldg + j] += sum_tile(acc, 0, zero)
            if k1 != k:
                g[goff + k1 * ldg + j] += sum_tile(acc, 2, zero)
            if k2 != k1:
                g[goff + k2 * ldg + j] += sum_tile(acc, 4, zero)
            if k3 != k2:
                g[goff + k3 * ldg + j] += sum_tile(acc, 6, zero)
            if j1 != j:
                g[goff + k * ldg + j1] += sum_tile(acc, 1, zero)
                if k1 != k:
                    g[goff + k1 * ldg + j1] += sum_tile(acc, 3, zero)
                if k2 != k1:
                    g[goff + k2 * ldg + j1] += sum_tile(acc, 5, zero)
                if k3 != k2:
                    g[goff + k3 * ldg + j1] += sum_tile(acc, 7, zero)
        k += 4
    for j in range(nj):
        for r in range(TILE):
            acc[0, r] = zero
        for t in range(ns):
            for r in range(TILE):
                acc[0, r] += B[b0 + j, t, r]
        g[boff + j] += sum_tile(acc, 0, zero)


@njit(**OPTS, **INNER)
def readout_loss(O, K, valid, n0, ty, output, y, Y, rows, inv, dO, need_grad):
    """Loss of the logits tile ``O (K, TILE)`` for the ``valid`` lanes into ``rows[n0 + r, ty]``.

    ``softmax``: cross-entropy with label ``y[n, ty]``; ``sigmoid``: binary cross-entropy
    from the logits, ``max(z, 0) - y z + log1p(exp(-|z|))``, mean over outputs;
    ``linear``: squared error, mean over outputs (targets ``Y[n, ty, :]``). With
    ``need_grad``, ``dO`` gets ``dLoss/dO`` of the mean loss, ``inv`` being 1 over the number
    of terms averaged (0 on invalid lanes).
    """
    for r in range(TILE):
        if not valid[r]:
            if need_grad:
                for j in range(K):
                    dO[j, r] = 0
            continue
        n = n0 + r
        if output == SOFTMAX:
            m = O[0, r]
            for j in range(1, K):
                m = max(m, O[j, r])
            s = 0.0
            for j in range(K):
                s += math.exp(O[j, r] - m)
            c = y[n, ty]
            rows[n, ty] = math.log(s) - (O[c, r] - m)
            if need_grad:
                for j in range(K):  # the true class's term as -(s - e) / s: see tiles
                    e = math.exp(O[j, r] - m)
                    dO[j, r] = (e - s if j == c else e) / s * inv
        elif output == SIGMOID:
            acc = 0.0
            for j in range(K):
                z = O[j, r]
                t = Y[n, ty, j]
                acc += max(z, 0.0) - z * t + math.log1p(math.exp(-abs(z)))
                if need_grad:
                    dO[j, r] = (0.5 + 0.5 * math.tanh(0.5 * z) - t) * (inv / K)
            rows[n, ty] = acc / K
        else:
            acc = 0.0
            for j in range(K):
                dd = O[j, r] - Y[n, ty, j]
                acc += dd * dd
                if need_grad:
                    dO[j, r] = dd * (2.0 * inv / K)
            rows[n, ty] = acc / K


@njit(**OPTS, **INNER)
def store_step(src, s0, dst, d0, n, t):
    """``dst[d0 + j, t, :] = src[s0 + j, :]``: a step's tile into a ``(rows, steps, TILE)`` history."""
    for j in range(n):
        for r in range(TILE):
            dst[d0 + j, t, r] = src[s0 + j, r]
