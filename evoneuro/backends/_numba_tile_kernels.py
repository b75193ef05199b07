"""The fused-tile kernels: a task runs one tile of samples through every layer in cache.

One task is one member and one tile of :data:`~._numba_tiles.TILE` samples (forward), or
one member and one sample group (gradient). It runs the tile through every layer
(matmul + bias + activation) while the member's weights and the tile's activations stay
in cache, then writes only the outputs, per-sample losses or the gradient. Deep narrow
nets, where a BLAS call per layer is mostly call overhead, are where this wins; it is
also the path for float64 nets with libm activations.

The ``*_work`` functions are the kernels :mod:`._numba_pool` runs on every thread: each
takes task numbers from ``counter`` until ``n_tasks`` are handed out, and returns how
many it ran. They release the GIL.

Residual nets (``MLP(residual=k)``) run here too: ``srcs[l]`` is the hidden layer whose output
is added to hidden layer ``l``'s after its activation (``-1``: none), ``is_src[l]`` whether
layer ``l``'s output is added to a later one's. Plain nets pass ``srcs`` all ``-1``. So do
Normalised nets too: ``norms[l]`` is hidden layer ``l``'s normalisation. ``LAYERNORM``
(Ba et al. 2016): ``a = h W`` (no bias), then ``z = γ (a - mean(a)) / sqrt(var(a) + eps) + β``
per sample, ``β`` in the bias slot and ``γ`` after it. ``COSINE`` (Luo et al. 2018):
``z = (h·w + b) / (‖[h, 1]‖ ‖[w, b]‖)``. ``RBF``: Gaussian radial-basis units, centres
``C`` in the weights' slot and ``ρ`` in the bias slot, ``z = sqrt(r)``,
``r = ‖h - c‖² / (2σ²)``, ``σ = exp(ρ)``, then the ``gaussian`` activation ``exp(-r)``.
The backward passes are those of :mod:`evoneuro.backends.layers`, per tile.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evoneuro.backends._numba_intrinsics import fetch_add
from evoneuro.backends._numba_math import activate, activate_grad, multiply
from evoneuro.backends._numba_tile_layers import (
    add_rows,
    cosine,
    cosine_backward,
    layernorm,
    layernorm_backward,
    rbf,
    rbf_backward,
)
from evoneuro.backends._numba_tiles import (
    TILE,
    grad_tile,
    load_tile,
    matmul_tile,
    mse_loss_tile,
    softmax_loss_tile,
    softmax_tile,
)

_OPTS = dict(cache=True, error_model="numpy", fastmath={"contract"})

# forward modes
OUT, OUT_HIDDEN, LOSS = 0, 1, 2
# hidden layers' normalisations (norms[l])
PLAIN, LAYERNORM, COSINE, RBF = 0, 1, 2, 3


@njit(**_OPTS)
def _forward_tile(th, X, r0, R, sizes, offs, codes, ab, buf, hid, hid_offs, p, keep, srcs, is_src, outs,
                  norms, eps, ahat, inv):
    """Run one tile through every layer; returns the slot of ``buf`` holding the logits.
    ``outs[l]`` keeps hidden layer ``l``'s output (after its shortcut) where ``is_src[l]``."""
    L = sizes.shape[0] - 1
    load_tile(X, r0, R, sizes[0], buf[0])
    cur = 0
    for l in range(L):
        K = sizes[l]
        n = sizes[l + 1]
        zT = buf[1 - cur]
        nk = norms[l] if l < L - 1 else PLAIN
        matmul_tile(buf[cur], K, th, offs[l], n, 1, zT, n, offs[l] + K * n, nk == PLAIN or nk == COSINE,
                    ab[0, 0] - ab[0, 0])
        if nk == LAYERNORM:
            layernorm(zT, n, th, offs[l] + K * n, eps, ahat, inv)
        elif nk == COSINE:
            cosine(zT, n, buf[cur], K, th, offs[l], inv)
        elif nk == RBF:
            rbf(zT, n, buf[cur], K, th, offs[l], ahat)
        if keep:
            for r in range(R):
                for j in range(n):
                    hid[p, r0 + r, hid_offs[l] + j] = zT[j, r]
        if l < L - 1:
            activate(zT[:n].reshape(n * TILE), codes[l], ab[l, 0], ab[l, 1])
            if srcs[l] >= 0:
                add_rows(zT, outs[srcs[l]], n)
            if is_src[l]:
                outs[l, :n] = zT[:n]
        cur = 1 - cur
    return cur


@njit(**_OPTS)
def _forward_task(Theta, X, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid, hid_offs, loss,
                  buf, p, r0, srcs, is_src, outs, norms, eps, ahat, inv):
    N = X.shape[0]
    K = sizes[-1]
    R = min(TILE, N - r0)
    slot = _forward_tile(Theta[p], X, r0, R, sizes, offs, codes, ab, buf, hid, hid_offs, p,
                         mode == OUT_HIDDEN, srcs, is_src, outs, norms, eps, ahat, inv)
    zT = buf[slot]
    if mode == LOSS:
        if softmax:
            softmax_loss_tile(zT, K, R, y, r0, N, loss[p], False)
        else:
            mse_loss_tile(zT, K, R, Y, r0, N, loss[p], False)
    else:
        if softmax:
            softmax_tile(zT, K, R, zT)
        for r in range(R):
            for j in range(K):
                out[p, r0 + r, j] = zT[j, r]


@njit(nogil=True, **_OPTS)
def forward_work(counter, n_tasks, Theta, X, sizes, offs, codes, ab, mode, softmax, y, Y, out,
                 hid, hid_offs, loss, per_task, srcs, is_src, norms, eps):
    """Forward tasks: member ``p``, ``per_task`` consecutive tiles; outputs, hidden
    pre-activations or loss rows."""
    task = fetch_add(counter, 1)
    if task >= n_tasks:
        return 0
    nt = (X.shape[0] + TILE - 1) // TILE
    tasks_per_member = (nt + per_task - 1) // per_task
    buf = np.empty((2, sizes.max(), TILE), Theta.dtype)
    outs = np.empty((is_src.shape[0], sizes.max() if is_src.any() else 1, TILE), Theta.dtype)
    ahat = np.empty((sizes.max() if ((norms == LAYERNORM) | (norms == RBF)).any() else 1, TILE), Theta.dtype)
    inv = np.empty(TILE, Theta.dtype)
    done = 0
    while task < n_tasks:
        p = task // tasks_per_member
        t0 = (task % tasks_per_member) * per_task
        for t in range(t0, min(t0 + per_task, nt)):
            _forward_task(Theta, X, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid,
                          hid_offs, loss, buf, p, t * TILE, srcs, is_src, outs, norms, eps, ahat, inv)
        done += 1
        task = fetch_add(counter, 1)
    return done


@njit(**_OPTS)
def _backprop_tile(th, X, r0, R, N, sizes, offs, codes, ab, softmax, y, Y, loss, g,
                   hs, h_offs, ds, d_offs, dbuf, zero, srcs, is_src, sk, norms, eps, ahats, invs, cs):
    """Forward one tile keeping every layer's input ``hs`` and derivative ``ds``; loss rows
    into ``loss``, gradient added to ``g``. ``sk[j]``: the gradient reaching hidden layer
    ``j``'s output through shortcuts, where ``is_src[j]``; ``ahats``, ``invs``: each LayerNorm
    layer's normalised values and inverse deviations (rows ``d_offs[l]:``, row ``l``), each
    cosine layer's ``z`` and ``‖[h, 1]‖``; ``cs[l]``: a cosine layer's coefficient of ``h``
    in ``dL/dh``."""
    L = sizes.shape[0] - 1
    load_tile(X, r0, R, sizes[0], hs[h_offs[0]:])
    for l in range(L):
        K = sizes[l]
        n = sizes[l + 1]
        zT = ds[d_offs[l]:d_offs[l] + n] if l < L - 1 else dbuf[0]
        nk = norms[l] if l < L - 1 else PLAIN
        matmul_tile(hs[h_offs[l]:], K, th, offs[l], n, 1, zT, n, offs[l] + K * n, nk == PLAIN or nk == COSINE, zero)
        if nk == LAYERNORM:
            layernorm(zT, n, th, offs[l] + K * n, eps, ahats[d_offs[l]:], invs[l])
        elif nk == COSINE:
            cosine(zT, n, hs[h_offs[l]:], K, th, offs[l], invs[l])
            ahats[d_offs[l]:d_offs[l] + n] = zT[:n]  # z, for the backward pass
        elif nk == RBF:
            rbf(zT, n, hs[h_offs[l]:], K, th, offs[l], ahats[d_offs[l]:])
        if l < L - 1:
            h = hs[h_offs[l + 1]:h_offs[l + 1] + n]
            activate_grad(zT.reshape(n * TILE), h.reshape(n * TILE), codes[l], ab[l, 0], ab[l, 1])
            if nk == RBF:  # the backward pass multiplies by -y: dL/dr = -y dL/dy, finite at r = 0
                for jj in range(n):
                    for r in range(TILE):
                        zT[jj, r] = -h[jj, r]
            if srcs[l] >= 0:  # the shortcut: this layer's output is act(z) + the source's output
                add_rows(h, hs[h_offs[srcs[l] + 1]:], n)
            if is_src[l]:
                sk[l, :n] = zero
    K = sizes[L]
    if softmax:
        softmax_loss_tile(dbuf[0], K, R, y, r0, N, loss, True)
    else:
        mse_loss_tile(dbuf[0], K, R, Y, r0, N, loss, True)
    # Backward: dW_l += h_{l-1}^T dz_l, db_l += sum dz_l, dz_{l-1} = (W_l dz_l) * f'(z_{l-1})
    cur = 0
    for l in range(L - 1, -1, -1):
        K = sizes[l]
        n = sizes[l + 1]
        nk = norms[l] if l < L - 1 else PLAIN
        grad_tile(hs[h_offs[l]:], K, dbuf[cur], n, g, offs[l], zero, nk == PLAIN or nk == COSINE)
        if l > 0:
            dh = dbuf[1 - cur]
            matmul_tile(dbuf[cur], n, th, offs[l], 1, n, dh, K, 0, False, zero)
            if nk == COSINE or nk == RBF:  # dL/dh = da W^T + c h (cosine: c = dL/d‖[h,1]‖ / ‖[h,1]‖)
                h = hs[h_offs[l]:]
                c = cs[l]
                for k in range(K):
                    for r in range(TILE):
                        dh[k, r] += c[r] * h[k, r]
            # dh: dL/d(output of hidden layer j = l - 1), plus what reached it through a
            # shortcut; it also flows on through j's own shortcut to j's source
            j = l - 1
            if is_src[j]:
                add_rows(dh, sk[j], K)
            if srcs[j] >= 0:
                add_rows(sk[srcs[j]], dh, K)
            multiply(dh[:K].reshape(K * TILE), ds[d_offs[j]:d_offs[j] + K].reshape(K * TILE))
            if norms[j] == LAYERNORM:  # dL/dz -> dL/da, and beta's and gamma's gradients
                layernorm_backward(dh, K, th, g, offs[j] + sizes[j] * K, ahats[d_offs[j]:], invs[j])
            elif norms[j] == COSINE:  # dL/dz -> dL/da, the weight norms' share of the gradient
                cosine_backward(dh, K, sizes[j], th, g, offs[j], ahats[d_offs[j]:], invs[j], cs[j])
            elif norms[j] == RBF:  # dL/dr -> -2 dL/dr s, the centres' and widths' gradients
                rbf_backward(dh, K, sizes[j], th, g, offs[j], ahats[d_offs[j]:], cs[j])
            cur = 1 - cur


@njit(nogil=True, **_OPTS)
def loss_grad_work(counter, n_tasks, Theta, X, sizes, offs, codes, ab, softmax, y, Y, loss, G,
                   n_groups, h_offs, d_offs, srcs, is_src, norms, eps):
    """Gradient tasks ``p * n_groups + s``: member ``p``'s loss rows and gradient ``G[p, s]``
    over the tiles of sample group ``s``."""
    task = fetch_add(counter, 1)
    if task >= n_tasks:
        return 0
    N = X.shape[0]
    nt = (N + TILE - 1) // TILE
    per_group = (nt + n_groups - 1) // n_groups
    zero = np.zeros(1, Theta.dtype)[0]
    hs = np.empty((h_offs[-1], TILE), Theta.dtype)
    ds = np.empty((max(d_offs[-1], 1), TILE), Theta.dtype)
    dbuf = np.empty((2, sizes.max(), TILE), Theta.dtype)
    sk = np.empty((is_src.shape[0], sizes.max() if is_src.any() else 1, TILE), Theta.dtype)
    ahats = np.empty((max(d_offs[-1], 1) if (norms != PLAIN).any() else 1, TILE), Theta.dtype)
    invs = np.empty((norms.shape[0], TILE), Theta.dtype)
    cs = np.empty((norms.shape[0], TILE), Theta.dtype)
    done = 0
    while task < n_tasks:
        p = task // n_groups
        s = task % n_groups
        g = G[p, s]
        g[:] = 0
        for t in range(s * per_group, min((s + 1) * per_group, nt)):
            r0 = t * TILE
            _backprop_tile(Theta[p], X, r0, min(TILE, N - r0), N, sizes, offs, codes, ab,
                           softmax, y, Y, loss[p], g, hs, h_offs, ds, d_offs, dbuf, zero, srcs, is_src, sk,
                           norms, eps, ahats, invs, cs)
        done += 1
        task = fetch_add(counter, 1)
    return done
