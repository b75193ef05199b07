"""Numba building blocks for row-major blocks of samples (the BLAS path).

A block ``z`` is ``(R, n)``: ``R`` samples along rows, as BLAS ``gemm`` writes it. Every
index below is a loop variable of a ``range`` (never ``r * n + j``), so Numba knows it
is non-negative, adds no wrap-around select, and LLVM vectorises the loops.
"""

from __future__ import annotations

import math

from numba import njit

_OPTS = dict(cache=True, error_model="numpy", fastmath={"contract"})

@njit(**_OPTS)
def add_bias_rows(z, bias, hid, p, r0, h0, keep):
    """``z[r, :] += bias``; copied to ``hid[p, r0 + r, h0:]`` if ``keep``."""
    R, n = z.shape
    for r in range(R):
        for j in range(n):
            z[r, j] += bias[j]
    if keep:
        for r in range(R):
            for j in range(n):
                hid[p, r0 + r, h0 + j] = z[r, j]


@njit(**_OPTS)
def _max_and_shifted_exp_sum(z, r):
    """Row ``r``'s maximum ``m`` and ``sum_j exp(z[r, j] - m)``: the log-sum-exp shift."""
    m = z[r, 0]
    for j in range(1, z.shape[1]):
        m = max(m, z[r, j])
    s = 0.0
    for j in range(z.shape[1]):
        s += math.exp(z[r, j] - m)
    return m, s


@njit(**_OPTS)
def softmax_loss_rows(z, y, r0, loss):
    """Cross-entropy of the rows of ``z`` (samples ``r0..``) into ``loss[r0 + r]``."""
    for r in range(z.shape[0]):
        m, s = _max_and_shifted_exp_sum(z, r)
        loss[r0 + r] = math.log(s) - (z[r, y[r0 + r]] - m)


@njit(**_OPTS)
def mse_loss_rows(z, Y, r0, loss):
    """Squared error (mean over outputs) of the rows of ``z`` into ``loss[r0 + r]``."""
    R, K = z.shape
    for r in range(R):
        s = 0.0
        for j in range(K):
            d = z[r, j] - Y[r0 + r, j]
            s += d * d
        loss[r0 + r] = s / K


@njit(**_OPTS)
def output_rows(z, softmax, out, p, r0):
    """``out[p, r0 + r] = softmax(z[r])`` (or ``z[r]``)."""
    R, K = z.shape
    for r in range(R):
        if softmax:
            m = z[r, 0]
            for j in range(1, K):
                m = max(m, z[r, j])
            s = 0.0
            for j in range(K):
                e = math.exp(z[r, j] - m)
                out[p, r0 + r, j] = e
                s += e
            inv = 1.0 / s
            for j in range(K):
                out[p, r0 + r, j] = out[p, r0 + r, j] * inv
        else:
            for j in range(K):
                out[p, r0 + r, j] = z[r, j]


@njit(**_OPTS)
def loss_grad_rows(z, softmax, y, Y, r0, N, loss):
    """Loss rows ``r0..`` into ``loss`` and ``z`` overwritten by ``dLoss/dz`` (mean over ``N``)."""
    R, K = z.shape
    if softmax:
        for r in range(R):
            m, s = _max_and_shifted_exp_sum(z, r)
            c = y[r0 + r]
            loss[r0 + r] = math.log(s) - (z[r, c] - m)
            inv = 1.0 / (s * N)
            for j in range(K):  # the true class's term as -(s - e) / s: see _numba_tiles
                e = math.exp(z[r, j] - m)
                z[r, j] = (e - s if j == c else e) * inv
    else:
        scale = 2.0 / (N * K)
        for r in range(R):
            s = 0.0
            for j in range(K):
                dd = z[r, j] - Y[r0 + r, j]
                s += dd * dd
                z[r, j] = dd * scale
            loss[r0 + r] = s / K


@njit(**_OPTS)
def add_column_sums(d, g):
    """``g[j] += sum_r d[r, j]``, row after row (the inner loop runs along ``j``)."""
    R, n = d.shape
    for r in range(R):
        for j in range(n):
            g[j] += d[r, j]
