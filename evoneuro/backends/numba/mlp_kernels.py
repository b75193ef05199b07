"""The fused-tile kernels: a task runs one tile of samples through every layer in cache.

One task is one member and one tile of :data:`~.tiles.TILE` samples (forward), or
one member and one sample group (gradient). It runs the tile through every layer
(matmul + bias + activation) while the member's weights and the tile's activations stay
in cache, then writes only the outputs, per-sample losses or the gradient. The inputs'
tiles are made once per call (:func:`~.tiles.input_tiles`) and read in place by
every member.

The ``*_work`` functions are the kernels :mod:`.pool` runs on every thread: each
takes task numbers from ``counter`` until ``n_tasks`` are handed out, and returns how
many it ran. They release the GIL.

Residual nets (``MLP(residual=k)``) run here too, given ``general = (srcs, is_src, norms,
eps)`` (plain nets pass ``None``, and get kernels compiled without the code below):
``srcs[l]`` is the hidden layer whose output is added to hidden layer ``l``'s after its
activation (``-1``: none), ``is_src[l]`` whether layer ``l``'s output is added to a later
one's. Normalised nets run here too: ``norms[l]`` is hidden layer ``l``'s normalisation. ``LAYERNORM``
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

from evoneuro.backends.numba import compiling
from evoneuro.backends.numba._jit import INNER, OPTS
from evoneuro.backends.numba.intrinsics import fetch_add
from evoneuro.backends.numba.activations import activate, activate_grad, multiply
from evoneuro.backends.numba.mlp_layers import (
    add_rows,
    cosine,
    cosine_backward,
    layernorm,
    layernorm_backward,
    rbf,
    rbf_backward,
)
from evoneuro.backends.numba.tiles import (
    FALSE,
    I0,
    I1,
    TILE,
    TRUE,
    copy_rows,
    grad_tile,
    matmul_tile,
    mse_loss_tile,
    softmax_loss_tile,
    softmax_tile,
)


# forward modes
OUT, OUT_HIDDEN, LOSS = 0, 1, 2
# hidden layers' normalisations (norms[l])
PLAIN, LAYERNORM, COSINE, RBF = 0, 1, 2, 3


@njit(**OPTS, **INNER)
def _kind(general, l, L):
    """Hidden layer ``l``'s kind code (``PLAIN`` for the output layer)."""
    return general[2][l] if l < L - 1 else PLAIN


@njit(**OPTS, **INNER)
def _forward_tile(th, XT, r0, R, sizes, offs, codes, ab, buf, hid, hid_offs, p, keep, general, scratch):
    """Run one tile through every layer; returns the slot of ``buf`` holding the logits.

    ``general``: ``None`` for a plain MLP, else ``(srcs, is_src, norms, eps)``, and
    ``scratch = (outs, ahat, inv)``: ``outs[l]`` keeps hidden layer ``l``'s output (after its
    shortcut) where ``is_src[l]``. Numba prunes the branches on ``general is None`` when it
    compiles, so a plain net's kernels hold none of the other kinds' code.
    """
    L = sizes.shape[0] - 1
    cur = 0
    for l in range(L):
        K = sizes[l]
        n = sizes[l + 1]
        hT = XT[r0 // TILE] if l == 0 else buf[cur]  # the inputs' tile, shared by all members
        zT = buf[1 - cur]
        if general is None:
            matmul_tile(hT, K, th, offs[l], n, I1, zT, n, offs[l] + K * n, TRUE)
        else:
            nk = _kind(general, l, L)
            matmul_tile(hT, K, th, offs[l], n, I1, zT, n, offs[l] + K * n, nk == PLAIN or nk == COSINE)
            ahat, inv = scratch[1], scratch[2]
            if nk == LAYERNORM:
                layernorm(zT, n, th, offs[l] + K * n, general[3], ahat, inv)
            elif nk == COSINE:
                cosine(zT, n, hT, K, th, offs[l], inv)
            elif nk == RBF:
                rbf(zT, n, hT, K, th, offs[l], ahat)
        if keep:
            for r in range(R):
                for j in range(n):
                    hid[p, r0 + r, hid_offs[l] + j] = zT[j, r]
        if l < L - 1:
            activate(zT[:n].reshape(n * TILE), codes[l], ab[l, 0], ab[l, 1])
            if general is not None:
                srcs, is_src, outs = general[0], general[1], scratch[0]
                if srcs[l] >= 0:
                    add_rows(zT, outs[srcs[l]], n)
                if is_src[l]:
                    copy_rows(zT, I0, outs[l], I0, n)
        cur = 1 - cur
    return cur


@njit(inline="always", **OPTS)  # into its one kernel: compiled on its own, its code would compile twice
def _forward_task(Theta, XT, N, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid, hid_offs, loss,
                  buf, p, r0, general, scratch):
    K = sizes[-1]
    R = min(TILE, N - r0)
    slot = _forward_tile(Theta[p], XT, r0, R, sizes, offs, codes, ab, buf, hid, hid_offs, p,
                         mode == OUT_HIDDEN, general, scratch)
    zT = buf[slot]
    if mode == LOSS:
        if softmax:
            softmax_loss_tile(zT, K, R, y, r0, N, loss[p], FALSE)
        else:
            mse_loss_tile(zT, K, R, Y, r0, N, loss[p], FALSE)
    else:
        if softmax:
            softmax_tile(zT, K, R, zT)
        for r in range(R):
            for j in range(K):
                out[p, r0 + r, j] = zT[j, r]


@njit(nogil=True, **OPTS)
def forward_work(counter, n_tasks, Theta, XT, N, sizes, offs, codes, ab, mode, softmax, y, Y, out,
                 hid, hid_offs, loss, per_task, general, dims):
    """Forward tasks: member ``p``, ``per_task`` consecutive tiles; outputs, hidden
    pre-activations or loss rows. ``general``: see :func:`_forward_tile`; ``dims = (H, W)``
    the scratch's hidden layers and width (``(1, 1)`` for a plain net, which uses none)."""
    task = fetch_add(counter, 1)
    if task >= n_tasks:
        return 0
    nt = XT.shape[0]
    tasks_per_member = (nt + per_task - 1) // per_task
    buf = np.empty((2, sizes.max(), TILE), Theta.dtype)
    H, W = dims
    scratch = (np.empty((H, W, TILE), Theta.dtype), np.empty((W, TILE), Theta.dtype), np.empty(TILE, Theta.dtype))
    done = 0
    while task < n_tasks:
        p = task // tasks_per_member
        t0 = (task % tasks_per_member) * per_task
        for t in range(t0, min(t0 + per_task, nt)):
            _forward_task(Theta, XT, N, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid,
                          hid_offs, loss, buf, p, t * TILE, general, scratch)
        done += 1
        task = fetch_add(counter, 1)
    return done


@njit(inline="always", **OPTS)  # into its one kernel: compiled on its own, its code would compile twice
def _backprop_tile(th, XT, r0, R, N, sizes, offs, codes, ab, softmax, y, Y, loss, g,
                   hs, h_offs, ds, d_offs, dbuf, zero, general, scratch):
    """Forward one tile keeping every layer's input ``hs`` and derivative ``ds``; loss rows
    into ``loss``, gradient added to ``g``. ``general`` as in :func:`_forward_tile`;
    ``scratch = (sk, ahats, invs, cs)``: ``sk[j]`` the gradient reaching hidden layer ``j``'s
    output through shortcuts, where ``is_src[j]``; ``ahats``, ``invs``: each LayerNorm
    layer's normalised values and inverse deviations (rows ``d_offs[l]:``, row ``l``), each
    cosine layer's ``z`` and ``‖[h, 1]‖``, each RBF layer's ``r``; ``cs[l]``: a cosine or RBF
    layer's coefficient of ``h`` in ``dL/dh``."""
    L = sizes.shape[0] - 1
    copy_rows(XT[r0 // TILE], I0, hs, h_offs[0], sizes[0])
    for l in range(L):
        K = sizes[l]
        n = sizes[l + 1]
        zT = ds[d_offs[l]:d_offs[l] + n] if l < L - 1 else dbuf[0]
        if general is None:
            matmul_tile(hs[h_offs[l]:], K, th, offs[l], n, I1, zT, n, offs[l] + K * n, TRUE)
        else:
            nk = _kind(general, l, L)
            matmul_tile(hs[h_offs[l]:], K, th, offs[l], n, I1, zT, n, offs[l] + K * n,
                        nk == PLAIN or nk == COSINE)
            ahats, invs = scratch[1], scratch[2]
            if nk == LAYERNORM:
                layernorm(zT, n, th, offs[l] + K * n, general[3], ahats[d_offs[l]:], invs[l])
            elif nk == COSINE:
                cosine(zT, n, hs[h_offs[l]:], K, th, offs[l], invs[l])
                copy_rows(zT, I0, ahats, d_offs[l], n)  # z, for the backward pass
            elif nk == RBF:
                rbf(zT, n, hs[h_offs[l]:], K, th, offs[l], ahats[d_offs[l]:])
        if l < L - 1:
            h = hs[h_offs[l + 1]:h_offs[l + 1] + n]
            activate_grad(zT.reshape(n * TILE), h.reshape(n * TILE), codes[l], ab[l, 0], ab[l, 1])
            if general is not None:
                srcs, is_src, sk = general[0], general[1], scratch[0]
                if general[2][l] == RBF:  # the backward pass multiplies by -y: dL/dr = -y dL/dy
                    for jj in range(n):
                        for r in range(TILE):
                            zT[jj, r] = -h[jj, r]
                if srcs[l] >= 0:  # the shortcut: this layer's output is act(z) + the source's output
                    add_rows(h, hs[h_offs[srcs[l] + 1]:], n)
                if is_src[l]:
                    sk[l, :n] = zero
    K = sizes[L]
    if softmax:
        softmax_loss_tile(dbuf[0], K, R, y, r0, N, loss, TRUE)
    else:
        mse_loss_tile(dbuf[0], K, R, Y, r0, N, loss, TRUE)
    # Backward: dW_l += h_{l-1}^T dz_l, db_l += sum dz_l, dz_{l-1} = (W_l dz_l) * f'(z_{l-1})
    cur = 0
    for l in range(L - 1, -1, -1):
        K = sizes[l]
        n = sizes[l + 1]
        if general is None:
            grad_tile(hs[h_offs[l]:], K, dbuf[cur], n, g, offs[l], zero, TRUE)
        else:
            nk = _kind(general, l, L)
            grad_tile(hs[h_offs[l]:], K, dbuf[cur], n, g, offs[l], zero, nk == PLAIN or nk == COSINE)
        if l > 0:
            dh = dbuf[1 - cur]
            matmul_tile(dbuf[cur], n, th, offs[l], I1, n, dh, K, I0, FALSE)
            j = l - 1
            if general is not None:
                srcs, is_src, norms = general[0], general[1], general[2]
                sk, ahats, invs, cs = scratch
                if nk == COSINE or nk == RBF:  # dL/dh = da W^T + c h
                    h = hs[h_offs[l]:]
                    c = cs[l]
                    for k in range(K):
                        for r in range(TILE):
                            dh[k, r] += c[r] * h[k, r]
                # dh: dL/d(output of hidden layer j), plus what reached it through a shortcut;
                # it also flows on through j's own shortcut to j's source
                if is_src[j]:
                    add_rows(dh, sk[j], K)
                if srcs[j] >= 0:
                    add_rows(sk[srcs[j]], dh, K)
            multiply(dh[:K].reshape(K * TILE), ds[d_offs[j]:d_offs[j] + K].reshape(K * TILE))
            if general is not None:
                if norms[j] == LAYERNORM:  # dL/dz -> dL/da, and beta's and gamma's gradients
                    layernorm_backward(dh, K, th, g, offs[j] + sizes[j] * K, ahats[d_offs[j]:], invs[j])
                elif norms[j] == COSINE:  # dL/dz -> dL/da, the weight norms' share of the gradient
                    cosine_backward(dh, K, sizes[j], th, g, offs[j], ahats[d_offs[j]:], invs[j], cs[j])
                elif norms[j] == RBF:  # dL/dr -> -2 dL/dr s, the centres' and widths' gradients
                    rbf_backward(dh, K, sizes[j], th, g, offs[j], ahats[d_offs[j]:], cs[j])
            cur = 1 - cur


@njit(nogil=True, **OPTS)
def loss_grad_work(counter, n_tasks, Theta, XT, N, n_mean, sizes, offs, codes, ab, softmax, y, Y, loss, G,
                   n_groups, per_group, h_offs, d_offs, general, dims):
    """Gradient tasks ``p * n_groups + s``: member ``p``'s loss rows and gradient ``G[p, s]``
    over the tiles of sample group ``s`` (``per_group`` tiles, the last group the rest), of
    the mean loss over ``n_mean`` rows (``N`` here, or more on a worker holding a shard). ``general``: see :func:`_forward_tile`; ``dims =
    (H, W, A)`` the scratch's hidden layers, width and rows of ``ahats`` (all 1 for a plain net)."""
    task = fetch_add(counter, 1)
    if task >= n_tasks:
        return 0
    nt = XT.shape[0]
    zero = np.zeros(1, Theta.dtype)[0]
    hs = np.empty((h_offs[-1], TILE), Theta.dtype)
    ds = np.empty((max(d_offs[-1], 1), TILE), Theta.dtype)
    dbuf = np.empty((2, sizes.max(), TILE), Theta.dtype)
    H, W, A = dims
    scratch = (np.empty((H, W, TILE), Theta.dtype), np.empty((A, TILE), Theta.dtype),
               np.empty((H, TILE), Theta.dtype), np.empty((H, TILE), Theta.dtype))
    done = 0
    while task < n_tasks:
        p = task // n_groups
        s = task % n_groups
        g = G[p, s]
        g[:] = 0
        for t in range(s * per_group, min((s + 1) * per_group, nt)):
            r0 = t * TILE
            _backprop_tile(Theta[p], XT, r0, min(TILE, N - r0), n_mean, sizes, offs, codes, ab,
                           softmax, y, Y, loss[p], g, hs, h_offs, ds, d_offs, dbuf, zero, general, scratch)
        done += 1
        task = fetch_add(counter, 1)
    return done


compiling.name("MLP", forward_work, loss_grad_work)
