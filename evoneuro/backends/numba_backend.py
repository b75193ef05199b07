"""The Numba CPU backend: fused, parallel population evaluation.

One task is one member and one tile of :data:`~evoneuro.backends._numba_kernels.TILE`
samples; it runs the tile through *every* layer (matmul + bias + activation) while the
member's weights and the tile's activations stay in cache, then writes only the outputs
or per-sample losses. Tasks are spread over threads with ``prange``. Deep narrow nets,
where a batched BLAS call per layer is mostly call overhead, are where this wins.

``loss_and_grad`` splits the samples into a fixed number of groups that depends only on
the batch size (never on the population size or the thread count), so results are
bit-for-bit the same however the :class:`~evoneuro.Evaluator` chunks the population.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from evoneuro.backends._numba_kernels import (
    ACT_CODES,
    FAST_CODES,
    TILE,
    activate,
    activate_backward,
    grad_tile,
    load_tile,
    matmul_tile,
    mse_loss_tile,
    softmax_loss_tile,
    softmax_tile,
)

MAX_GROUPS = 8  # sample groups per member in loss_and_grad (parallelism for small P)

_OPTS = dict(cache=True, error_model="numpy", fastmath={"contract"})

# forward modes
_OUT, _OUT_HIDDEN, _LOSS = 0, 1, 2


@njit(**_OPTS)
def _forward_tile(th, X, r0, R, sizes, offs, codes, ab, buf, hid, hid_offs, p, keep):
    """Run one tile through every layer; returns the slot of ``buf`` holding the logits."""
    L = sizes.shape[0] - 1
    load_tile(X, r0, R, sizes[0], buf[0])
    cur = 0
    for l in range(L):
        K = sizes[l]
        n = sizes[l + 1]
        zT = buf[1 - cur]
        matmul_tile(buf[cur], K, th, offs[l], n, 1, zT, n, offs[l] + K * n, True, ab[0, 0] - ab[0, 0])
        if keep:
            for r in range(R):
                for j in range(n):
                    hid[p, r0 + r, hid_offs[l] + j] = zT[j, r]
        if l < L - 1:
            activate(zT, n, codes[l], ab[l, 0], ab[l, 1], zT)
        cur = 1 - cur
    return cur


@njit(parallel=True, **_OPTS)
def _forward_all(Theta, X, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid, hid_offs, loss,
                 n_chunks):
    P = Theta.shape[0]
    N = X.shape[0]
    nt = (N + TILE - 1) // TILE
    n_tasks = P * nt
    bufs = np.empty((n_chunks, 2, sizes.max(), TILE), Theta.dtype)
    for c in prange(n_chunks):
        for task in range(c * n_tasks // n_chunks, (c + 1) * n_tasks // n_chunks):
            _forward_task(Theta, X, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid,
                          hid_offs, loss, bufs[c], task // nt, (task % nt) * TILE)


@njit(**_OPTS)
def _forward_task(Theta, X, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid, hid_offs, loss,
                  buf, p, r0):
    N = X.shape[0]
    K = sizes[-1]
    R = min(TILE, N - r0)
    slot = _forward_tile(Theta[p], X, r0, R, sizes, offs, codes, ab, buf, hid, hid_offs, p,
                         mode == _OUT_HIDDEN)
    zT = buf[slot]
    if mode == _LOSS:
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


@njit(**_OPTS)
def _backprop_tile(th, X, r0, R, N, sizes, offs, codes, ab, softmax, y, Y, loss, g,
                   hs, h_offs, zs, z_offs, dbuf, zero):
    """Forward one tile keeping every layer, loss rows into ``loss``, gradient into ``g``."""
    L = sizes.shape[0] - 1
    load_tile(X, r0, R, sizes[0], hs[h_offs[0]:])
    for l in range(L):
        K = sizes[l]
        n = sizes[l + 1]
        zT = zs[z_offs[l]:] if l < L - 1 else dbuf[0]
        matmul_tile(hs[h_offs[l]:], K, th, offs[l], n, 1, zT, n, offs[l] + K * n, True, zero)
        if l < L - 1:
            activate(zT, n, codes[l], ab[l, 0], ab[l, 1], hs[h_offs[l + 1]:])
    K = sizes[L]
    if softmax:
        softmax_loss_tile(dbuf[0], K, R, y, r0, N, loss, True)
    else:
        mse_loss_tile(dbuf[0], K, R, Y, r0, N, loss, True)
    # Backward: dW_l += h_{l-1}^T dz_l, db_l += sum dz_l, dz_{l-1} = (W_l dz_l) * act'(z_{l-1})
    cur = 0
    for l in range(L - 1, -1, -1):
        K = sizes[l]
        n = sizes[l + 1]
        grad_tile(hs[h_offs[l]:], K, dbuf[cur], n, g, offs[l], zero)
        if l > 0:
            dh = dbuf[1 - cur]
            matmul_tile(dbuf[cur], n, th, offs[l], 1, n, dh, K, 0, False, zero)
            activate_backward(dh, zs[z_offs[l - 1]:], hs[h_offs[l]:], K, codes[l - 1],
                              ab[l - 1, 0], ab[l - 1, 1])
            cur = 1 - cur


@njit(parallel=True, **_OPTS)
def _loss_grad_all(Theta, X, sizes, offs, codes, ab, softmax, y, Y, loss, G, n_groups,
                   h_offs, z_offs, zero, n_chunks):
    P = Theta.shape[0]
    n_tasks = P * n_groups
    hs_all = np.empty((n_chunks, h_offs[-1], TILE), Theta.dtype)
    zs_all = np.empty((n_chunks, max(z_offs[-1], 1), TILE), Theta.dtype)
    dbufs = np.empty((n_chunks, 2, sizes.max(), TILE), Theta.dtype)
    for c in prange(n_chunks):
        for task in range(c * n_tasks // n_chunks, (c + 1) * n_tasks // n_chunks):
            _loss_grad_task(Theta, X, sizes, offs, codes, ab, softmax, y, Y, loss, G, n_groups,
                            h_offs, z_offs, zero, hs_all[c], zs_all[c], dbufs[c],
                            task // n_groups, task % n_groups)


@njit(**_OPTS)
def _loss_grad_task(Theta, X, sizes, offs, codes, ab, softmax, y, Y, loss, G, n_groups,
                    h_offs, z_offs, zero, hs, zs, dbuf, p, s):
    """Member ``p``, sample group ``s``: its tiles' loss rows and gradient ``G[p, s]``."""
    N = X.shape[0]
    nt = (N + TILE - 1) // TILE
    per_group = (nt + n_groups - 1) // n_groups
    g = G[p, s]
    g[:] = zero
    for t in range(s * per_group, min((s + 1) * per_group, nt)):
        r0 = t * TILE
        _backprop_tile(Theta[p], X, r0, min(TILE, N - r0), N, sizes, offs, codes, ab,
                       softmax, y, Y, loss[p], g, hs, h_offs, zs, z_offs, dbuf, zero)


def _layout(net, dtype):
    """Integer layout arrays and activation codes/parameters for the kernels."""
    sizes = np.asarray(net.sizes, dtype=np.int64)
    offs = np.asarray([s.w_start for s in net.layers], dtype=np.int64)
    fast = dtype == np.float32
    codes, ab = [], []
    for act in net.activations:
        code = ACT_CODES[act.name]
        codes.append(FAST_CODES.get(code, code) if fast else code)
        ab.append((act.scale, act.slope))
    codes = np.asarray(codes if codes else [0], dtype=np.int64)
    ab = np.asarray(ab if ab else [(1.0, 1.0)], dtype=dtype).reshape(-1, 2)
    return sizes, offs, codes, ab


def _targets(net, y, dtype):
    """(labels, targets) with a dummy of the right type for the unused one."""
    if net.output == "softmax":
        return np.ascontiguousarray(y, dtype=np.int64), np.zeros((1, 1), dtype=dtype)
    return np.zeros(1, dtype=np.int64), np.ascontiguousarray(y, dtype=dtype)


def _n_chunks(n_tasks: int) -> int:
    """Static blocks of tasks, one per thread (tasks are equal-sized)."""
    return max(1, min(n_tasks, numba.get_num_threads()))


def n_groups(n_samples: int) -> int:
    """Sample groups per member in ``loss_and_grad``: a function of the batch size only."""
    return max(1, min(MAX_GROUPS, -(-n_samples // TILE)))


class NumbaBackend:
    """Parallel fused CPU evaluation with Numba; agrees with the NumPy reference.

    float64 uses exact math; float32 uses a rational ``tanh`` (for ``tanh`` and
    ``sigmoid``) accurate to a few float32 ulps, which vectorises.

    The fused kernels cover plain MLPs (``net.is_plain``). Nets with normalisation,
    residual shortcuts or RBF units run the NumPy reference code instead, with the same
    results.

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> net = en.MLP(n_inputs=4, hidden=(8, 8), n_outputs=3)
    >>> ev = en.Evaluator(net, backend="numba", dtype="float64")
    >>> ref = en.Evaluator(net, backend="numpy", dtype="float64")
    >>> rng = np.random.default_rng(0)
    >>> Theta, X, y = net.init_population(3, rng), rng.normal(size=(5, 4)), np.array([0, 1, 2, 0, 1])
    >>> bool(np.allclose(ev.loss(Theta, X, y), ref.loss(Theta, X, y), rtol=1e-12))
    True
    """

    name = "numba"

    def __init__(self) -> None:
        from evoneuro.backends.numpy_backend import NumpyBackend

        self._reference = NumpyBackend()

    def forward(self, net, Theta, X, return_hidden: bool = False):
        if not net.is_plain:
            return self._reference.forward(net, Theta, X, return_hidden)
        P, N = Theta.shape[0], X.shape[0]
        sizes, offs, codes, ab = _layout(net, Theta.dtype)
        out = np.empty((P, N, net.n_outputs), dtype=Theta.dtype)
        widths = net.sizes[1:]
        hid_offs = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        hid = np.empty((P, N, hid_offs[-1]) if return_hidden else (1, 1, 1), dtype=Theta.dtype)
        y, Y = np.zeros(1, np.int64), np.zeros((1, 1), Theta.dtype)  # unused
        mode = _OUT_HIDDEN if return_hidden else _OUT
        _forward_all(Theta, X, sizes, offs, codes, ab, mode, net.output == "softmax", y, Y,
                     out, hid, hid_offs, np.zeros((1, 1)), _n_chunks(P * -(-N // TILE)))
        if not return_hidden:
            return out
        zs = [np.ascontiguousarray(hid[:, :, hid_offs[l]:hid_offs[l + 1]]) for l in range(net.n_layers)]
        return out, zs

    def loss(self, net, Theta, X, y):
        if not net.is_plain:
            return self._reference.loss(net, Theta, X, y)
        P, N = Theta.shape[0], X.shape[0]
        sizes, offs, codes, ab = _layout(net, Theta.dtype)
        y, Y = _targets(net, y, Theta.dtype)
        rows = np.empty((P, N))
        _forward_all(Theta, X, sizes, offs, codes, ab, _LOSS, net.output == "softmax", y, Y,
                     np.empty((1, 1, 1), Theta.dtype), np.empty((1, 1, 1), Theta.dtype),
                     np.zeros(1, np.int64), rows, _n_chunks(P * -(-N // TILE)))
        return rows.mean(axis=1)

    def loss_and_grad(self, net, Theta, X, y):
        if not net.is_plain:
            return self._reference.loss_and_grad(net, Theta, X, y)
        P, N = Theta.shape[0], X.shape[0]
        sizes, offs, codes, ab = _layout(net, Theta.dtype)
        y, Y = _targets(net, y, Theta.dtype)
        S = n_groups(N)
        h_offs = np.concatenate([[0], np.cumsum(net.sizes[:-1])]).astype(np.int64)
        z_offs = np.concatenate([[0], np.cumsum(net.sizes[1:-1])]).astype(np.int64)
        rows = np.empty((P, N))
        G = np.empty((P, S, net.n_params), dtype=Theta.dtype)
        _loss_grad_all(Theta, X, sizes, offs, codes, ab, net.output == "softmax", y, Y, rows, G,
                       S, h_offs, z_offs, Theta.dtype.type(0), _n_chunks(P * S))
        grads = G[:, 0].copy() if S == 1 else G.sum(axis=1)
        return rows.mean(axis=1), grads
