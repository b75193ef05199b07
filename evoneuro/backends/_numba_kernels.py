"""Numba building blocks for one tile of ``TILE`` samples: matmul, activations, losses.

A tile holds activations *transposed*, ``(width, TILE)`` with the samples along the
contiguous axis. Every inner loop then runs over a compile-time constant ``TILE``
samples, which LLVM turns into a few full-width vector instructions, and a weight is a
scalar broadcast. Padding rows (``r >= R`` in the last tile) are computed but ignored.

Activation codes (see :data:`ACT_CODES`) select a loop outside the sample loop, so each
loop body stays branch-free and vectorises. The ``*_FAST`` codes are float32-only
rational approximations of ``tanh`` (no SVML here, so ``math.tanh`` would be a scalar
libm call per element); float64 always uses exact libm math.

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

IDENTITY, SIGMOID, TANH, SOFTSIGN, GAUSSIAN, RELU, SIGMOID_FAST, TANH_FAST = range(8)
ACT_CODES = {"identity": IDENTITY, "sigmoid": SIGMOID, "tanh": TANH, "softsign": SOFTSIGN,
             "gaussian": GAUSSIAN, "relu": RELU}
FAST_CODES = {SIGMOID: SIGMOID_FAST, TANH: TANH_FAST}

# Rational minimax tanh on [-7.905, 7.905] (Eigen's float tanh): |error| < 2 float32 ulp.
_T_CLAMP = np.float32(7.90531110763549805)


@njit(inline="always", **_OPTS)
def _tanh_f32(x):
    x = min(max(x, -_T_CLAMP), _T_CLAMP)
    x2 = x * x
    p = np.float32(-2.76076847742355e-16) * x2 + np.float32(2.00018790482477e-13)
    p = p * x2 + np.float32(-8.60467152213735e-11)
    p = p * x2 + np.float32(5.12229709037114e-08)
    p = p * x2 + np.float32(1.48572235717979e-05)
    p = p * x2 + np.float32(6.37261928875436e-04)
    p = p * x2 + np.float32(4.89352455891786e-03)
    q = np.float32(1.19825839466702e-06) * x2 + np.float32(1.18534705686654e-04)
    q = q * x2 + np.float32(2.26843463243900e-03)
    q = q * x2 + np.float32(4.89352518554385e-03)
    return x * p / q


@njit(**_OPTS)
def tanh_f32(x):
    """Vectorisable float32 tanh of an array (for tests)."""
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = _tanh_f32(x[i])
    return out


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
def grad_tile(hT, K, dzT, N, g, w0, zero):
    """``g[w0 + k*N + j] += sum_r hT[k, r] dzT[j, r]``, then the bias ``g[w0+K*N+j] += sum_r dzT[j, r]``."""
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
    b0 = w0 + K * N
    for j in range(N):
        s0 = zero
        for r in range(TILE):
            s0 += dzT[j, r]
        g[b0 + j] += s0


# --- activations: value next to derivative --------------------------------------------


@njit(**_OPTS)
def activate(zT, N, code, a, b, yT):
    """``yT[:N] = a * f(b * zT[:N])``; ``yT`` may be ``zT`` (in place)."""
    if code == SIGMOID_FAST:
        hb = b * np.float32(0.5)
        ha = a * np.float32(0.5)
        for j in range(N):
            for r in range(TILE):
                yT[j, r] = ha + ha * _tanh_f32(zT[j, r] * hb)
    elif code == TANH_FAST:
        for j in range(N):
            for r in range(TILE):
                yT[j, r] = a * _tanh_f32(zT[j, r] * b)
    elif code == SIGMOID:
        for j in range(N):
            for r in range(TILE):
                yT[j, r] = a * (0.5 + 0.5 * math.tanh(0.5 * (b * zT[j, r])))
    elif code == TANH:
        for j in range(N):
            for r in range(TILE):
                yT[j, r] = a * math.tanh(b * zT[j, r])
    elif code == SOFTSIGN:
        for j in range(N):
            for r in range(TILE):
                u = b * zT[j, r]
                yT[j, r] = a * (u / (1.0 + abs(u)))
    elif code == GAUSSIAN:
        for j in range(N):
            for r in range(TILE):
                u = b * zT[j, r]
                yT[j, r] = a * math.exp(-(u * u))
    elif code == RELU:
        for j in range(N):
            for r in range(TILE):
                yT[j, r] = a * max(b * zT[j, r], 0.0)
    else:
        for j in range(N):
            for r in range(TILE):
                yT[j, r] = a * (b * zT[j, r])


@njit(**_OPTS)
def activate_backward(dT, zT, yT, N, code, a, b):
    """``dT[:N] *= d/dz a f(b z)``, from the pre-activation ``zT`` and the output ``yT``."""
    ab = a * b
    one = a / a  # 1 in the array dtype: a Python literal would promote float32 to float64
    ia = one / a
    if code == SIGMOID or code == SIGMOID_FAST:
        for j in range(N):
            for r in range(TILE):
                fy = yT[j, r] * ia
                dT[j, r] *= ab * (fy * (one - fy))
    elif code == TANH or code == TANH_FAST:
        for j in range(N):
            for r in range(TILE):
                fy = yT[j, r] * ia
                dT[j, r] *= ab * (one - fy * fy)
    elif code == SOFTSIGN:
        for j in range(N):
            for r in range(TILE):
                d = one + abs(b * zT[j, r])
                dT[j, r] *= ab / (d * d)
    elif code == GAUSSIAN:
        for j in range(N):
            for r in range(TILE):
                dT[j, r] *= ab * (-2 * (b * zT[j, r]) * (yT[j, r] * ia))
    elif code == RELU:
        for j in range(N):
            for r in range(TILE):
                if b * zT[j, r] <= 0:
                    dT[j, r] = 0
                else:
                    dT[j, r] *= ab
    else:
        for j in range(N):
            for r in range(TILE):
                dT[j, r] *= ab


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
            inv = 1.0 / (s * N)
            for j in range(K):
                zT[j, r] = math.exp(zT[j, r] - m) * inv
            zT[c, r] -= 1.0 / N
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


# --- row-major blocks (the BLAS path): ``z`` is ``(R, n)`` with samples along rows -------
# Every index below is a loop variable of a ``range`` (never ``r * n + j``), so Numba
# knows it is non-negative, adds no wrap-around select, and LLVM vectorises the loops.


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
def bias_activate_rows(z, bias, code, a, b):
    """``z[r, :] = a f(b (z[r, :] + bias))`` in one pass.

    Returns ``False`` (doing nothing) for a ``code`` without a fused loop here.
    """
    R, n = z.shape
    if code == SIGMOID_FAST:
        hb = b * np.float32(0.5)
        ha = a * np.float32(0.5)
        for r in range(R):
            for j in range(n):
                z[r, j] = ha + ha * _tanh_f32((z[r, j] + bias[j]) * hb)
    elif code == TANH_FAST:
        for r in range(R):
            for j in range(n):
                z[r, j] = a * _tanh_f32((z[r, j] + bias[j]) * b)
    elif code == RELU:
        for r in range(R):
            for j in range(n):
                z[r, j] = a * max(b * (z[r, j] + bias[j]), 0.0)
    else:
        return False
    return True


@njit(**_OPTS)
def activate_flat(z, code, a, b):
    """``z = a f(b z)`` in place, over a flat array."""
    m = z.shape[0]
    if code == SIGMOID_FAST:
        hb = b * np.float32(0.5)
        ha = a * np.float32(0.5)
        for i in range(m):
            z[i] = ha + ha * _tanh_f32(z[i] * hb)
    elif code == TANH_FAST:
        for i in range(m):
            z[i] = a * _tanh_f32(z[i] * b)
    elif code == SIGMOID:
        for i in range(m):
            z[i] = a * (0.5 + 0.5 * math.tanh(0.5 * (b * z[i])))
    elif code == TANH:
        for i in range(m):
            z[i] = a * math.tanh(b * z[i])
    elif code == SOFTSIGN:
        for i in range(m):
            u = b * z[i]
            z[i] = a * (u / (1.0 + abs(u)))
    elif code == GAUSSIAN:
        for i in range(m):
            u = b * z[i]
            z[i] = a * math.exp(-(u * u))
    elif code == RELU:
        for i in range(m):
            z[i] = a * max(b * z[i], 0.0)
    else:
        for i in range(m):
            z[i] = a * (b * z[i])


@njit(**_OPTS)
def softmax_loss_rows(z, y, r0, loss):
    """Cross-entropy of the rows of ``z`` (samples ``r0..``) into ``loss[r0 + r]``."""
    R, K = z.shape
    for r in range(R):
        m = z[r, 0]
        for j in range(1, K):
            m = max(m, z[r, j])
        s = 0.0
        for j in range(K):
            s += math.exp(z[r, j] - m)
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
def activate_backward_flat(d, z, y, code, a, b):
    """``d *= d/dz a f(b z)`` over flat arrays, from the pre-activation ``z`` and output ``y``."""
    m = d.shape[0]
    ab = a * b
    one = a / a  # 1 in the array dtype: a Python literal would promote float32 to float64
    ia = one / a
    if code == SIGMOID or code == SIGMOID_FAST:
        for i in range(m):
            fy = y[i] * ia
            d[i] *= ab * (fy * (one - fy))
    elif code == TANH or code == TANH_FAST:
        for i in range(m):
            fy = y[i] * ia
            d[i] *= ab * (one - fy * fy)
    elif code == SOFTSIGN:
        for i in range(m):
            q = one + abs(b * z[i])
            d[i] *= ab / (q * q)
    elif code == GAUSSIAN:
        for i in range(m):
            d[i] *= ab * (-2 * (b * z[i]) * (y[i] * ia))
    elif code == RELU:
        for i in range(m):
            if b * z[i] <= 0:
                d[i] = 0
            else:
                d[i] *= ab
    else:
        for i in range(m):
            d[i] *= ab


@njit(**_OPTS)
def loss_grad_rows(z, softmax, y, Y, r0, N, loss):
    """Loss rows ``r0..`` into ``loss`` and ``z`` overwritten by ``dLoss/dz`` (mean over ``N``)."""
    R, K = z.shape
    if softmax:
        for r in range(R):
            m = z[r, 0]
            for j in range(1, K):
                m = max(m, z[r, j])
            s = 0.0
            for j in range(K):
                s += math.exp(z[r, j] - m)
            c = y[r0 + r]
            loss[r0 + r] = math.log(s) - (z[r, c] - m)
            inv = 1.0 / (s * N)
            for j in range(K):
                z[r, j] = math.exp(z[r, j] - m) * inv
            z[r, c] -= 1.0 / N
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
