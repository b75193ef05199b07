"""The BLAS kernels: one single-threaded ``gemm`` per member, layer and block of rows.

A forward task is one member and a block of up to ``rows`` samples; each layer is one
SciPy BLAS ``gemm`` on the member's own weights (:mod:`._numba_blas`), followed at once
by the bias and the activation while the block is still in cache. The backward pass adds
the gemms ``dW = h^T dz`` and ``dh = dz W^T``. BLAS runs single-threaded meanwhile; the
parallelism is the work pool's, over tasks (:mod:`._numba_pool`).

``fn`` is the address of ``?gemm`` (:func:`~._numba_blas.gemm_address`), ``one`` 1 in
the array dtype. The ``*_work`` functions are the pool's kernels (see
:mod:`._numba_tile_kernels`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evoneuro.backends._numba_blas import gemm_rm
from evoneuro.backends._numba_intrinsics import fetch_add
from evoneuro.backends._numba_math import activate, activate_grad, bias_activate_rows, multiply
from evoneuro.backends._numba_rows import (
    add_bias_rows,
    add_column_sums,
    loss_grad_rows,
    mse_loss_rows,
    output_rows,
    softmax_loss_rows,
)
from evoneuro.backends._numba_tile_kernels import LOSS, OUT_HIDDEN
from evoneuro.backends._numba_tiles import TILE

_OPTS = dict(cache=True, error_model="numpy", fastmath={"contract"})


@njit(**_OPTS)
def _forward_block(th, X, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid, hid_offs,
                   loss, buf, p, r0, R, fn, one):
    """Member ``p``, rows ``r0..r0+R``: every layer's gemm, bias and activation, then the
    loss rows or outputs."""
    L = sizes.shape[0] - 1
    isz = th.itemsize
    zero = one - one
    src = X.ctypes.data + r0 * sizes[0] * isz
    cur = 0
    for l in range(L):
        K = sizes[l]
        n = sizes[l + 1]
        z = buf[cur]
        gemm_rm(fn, False, False, R, n, K, one, src, K, th.ctypes.data + offs[l] * isz, n, zero,
                z.ctypes.data, n)
        z2 = z[:R * n].reshape((R, n))
        bias = th[offs[l] + K * n:offs[l] + K * n + n]
        keep = mode == OUT_HIDDEN
        if keep or l == L - 1 or not bias_activate_rows(z2, bias, codes[l], ab[l, 0], ab[l, 1]):
            add_bias_rows(z2, bias, hid, p, r0, hid_offs[l], keep)
            if l < L - 1:
                activate(z[:R * n], codes[l], ab[l, 0], ab[l, 1])
        src = z.ctypes.data
        cur = 1 - cur
    K = sizes[L]
    z = buf[1 - cur][:R * K].reshape((R, K))
    if mode == LOSS:
        if softmax:
            softmax_loss_rows(z, y, r0, loss[p])
        else:
            mse_loss_rows(z, Y, r0, loss[p])
    else:
        output_rows(z, softmax, out, p, r0)


@njit(nogil=True, **_OPTS)
def forward_work(counter, n_tasks, Theta, X, sizes, offs, codes, ab, mode, softmax, y, Y, out,
                 hid, hid_offs, loss, rows, per_task, fn, one):
    """Forward tasks: member ``p``, ``per_task`` consecutive blocks of ``rows`` samples."""
    task = fetch_add(counter, 1)
    if task >= n_tasks:
        return 0
    N = X.shape[0]
    nb = (N + rows - 1) // rows
    tasks_per_member = (nb + per_task - 1) // per_task
    buf = np.empty((2, rows * sizes[1:].max()), Theta.dtype)
    done = 0
    while task < n_tasks:
        p = task // tasks_per_member
        b0 = (task % tasks_per_member) * per_task
        for b in range(b0, min(b0 + per_task, nb)):
            r0 = b * rows
            _forward_block(Theta[p], X, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid,
                           hid_offs, loss, buf, p, r0, min(rows, N - r0), fn, one)
        done += 1
        task = fetch_add(counter, 1)
    return done


@njit(**_OPTS)
def _backprop_block(th, X, r0, R, sizes, offs, codes, ab, softmax, y, Y, loss, g, hs, ds,
                    dbuf, fn, one):
    """Rows ``r0..r0+R``: forward keeping every hidden output ``hs`` and derivative ``ds``,
    loss rows, gradient added to ``g``."""
    N = X.shape[0]
    L = sizes.shape[0] - 1
    isz = th.itemsize
    zero = one - one
    tp = th.ctypes.data
    src = X.ctypes.data + r0 * sizes[0] * isz
    o = 0  # offset of layer l's block in hs / ds
    for l in range(L):
        K = sizes[l]
        n = sizes[l + 1]
        z = ds[o:o + R * n] if l < L - 1 else dbuf[0, :R * n]
        gemm_rm(fn, False, False, R, n, K, one, src, K, tp + offs[l] * isz, n, zero,
                z.ctypes.data, n)
        add_bias_rows(z.reshape((R, n)), th[offs[l] + K * n:offs[l] + K * n + n],
                      dbuf[0, :1].reshape((1, 1, 1)), 0, 0, 0, False)
        if l < L - 1:
            h = hs[o:o + R * n]
            activate_grad(z, h, codes[l], ab[l, 0], ab[l, 1])
            src = h.ctypes.data
            o += R * n
    K = sizes[L]
    loss_grad_rows(dbuf[0, :R * K].reshape((R, K)), softmax, y, Y, r0, N, loss)
    # Backward: dW_l += h_{l-1}^T dz_l, db_l += sum dz_l, dz_{l-1} = (dz_l W_l^T) * f'(z_{l-1})
    gp = g.ctypes.data
    cur = 0
    for l in range(L - 1, -1, -1):
        K = sizes[l]
        n = sizes[l + 1]
        dz = dbuf[cur, :R * n]
        if l > 0:
            o -= R * K
            hin = hs.ctypes.data + o * isz
        else:
            hin = X.ctypes.data + r0 * K * isz
        gemm_rm(fn, True, False, K, n, R, one, hin, K, dz.ctypes.data, n, one,
                gp + offs[l] * isz, n)
        add_column_sums(dz.reshape((R, n)), g[offs[l] + K * n:offs[l] + K * n + n])
        if l > 0:
            dh = dbuf[1 - cur, :R * K]
            gemm_rm(fn, False, True, R, K, n, one, dz.ctypes.data, n, tp + offs[l] * isz, n,
                    zero, dh.ctypes.data, K)
            multiply(dh, ds[o:o + R * K])
            cur = 1 - cur


@njit(nogil=True, **_OPTS)
def loss_grad_work(counter, n_tasks, Theta, X, sizes, offs, codes, ab, softmax, y, Y, loss, G,
                   n_groups, rows, fn, one):
    """Gradient tasks ``p * n_groups + s`` (the sample groups of the tile kernels), ``rows``
    samples per block."""
    task = fetch_add(counter, 1)
    if task >= n_tasks:
        return 0
    N = X.shape[0]
    L = sizes.shape[0] - 1
    nt = (N + TILE - 1) // TILE
    per_group = (nt + n_groups - 1) // n_groups
    hidden = max(sizes[1:L].sum(), 1)
    hs = np.empty(rows * hidden, Theta.dtype)
    ds = np.empty(rows * hidden, Theta.dtype)
    dbuf = np.empty((2, rows * sizes.max()), Theta.dtype)
    done = 0
    while task < n_tasks:
        p = task // n_groups
        s = task % n_groups
        g = G[p, s]
        g[:] = 0
        lo = min(s * per_group * TILE, N)
        hi = min((s + 1) * per_group * TILE, N)
        for r0 in range(lo, hi, rows):
            _backprop_block(Theta[p], X, r0, min(rows, hi - r0), sizes, offs, codes, ab, softmax,
                            y, Y, loss[p], g, hs, ds, dbuf, fn, one)
        done += 1
        task = fetch_add(counter, 1)
    return done
