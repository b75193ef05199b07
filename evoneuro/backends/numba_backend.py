"""The Numba CPU backend: fused, parallel population evaluation.

Two kernel families, chosen per call by :func:`_blas_pays`:

* **BLAS** (the usual one): a task is one member and a block of up to
  :data:`BLAS_ROWS` samples; each layer is one single-threaded SciPy BLAS ``gemm`` on the
  member's own weights (:mod:`._numba_blas`), followed at once by the bias and the
  activation while the block is still in cache. The backward pass adds the gemms
  ``dW = h^T dz`` and ``dh = dz W^T``. BLAS runs single-threaded meanwhile; the
  parallelism is Numba's, over tasks.
* **Fused tiles**, described next, for float64 nets with libm activations (there BLAS
  does not pay) and, in ``loss_and_grad``, narrow nets; also if SciPy's BLAS is missing.

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
    GAUSSIAN,
    SIGMOID,
    TANH,
    TILE,
    activate,
    activate_backward,
    activate_backward_flat,
    activate_flat,
    add_bias_rows,
    add_column_sums,
    bias_activate_rows,
    grad_tile,
    load_tile,
    loss_grad_rows,
    matmul_tile,
    mse_loss_rows,
    mse_loss_tile,
    output_rows,
    softmax_loss_rows,
    softmax_loss_tile,
    softmax_tile,
)

try:
    from evoneuro.backends._numba_blas import (
        gemm_address,
        gemm_rm,
        single_threaded_blas,
    )
except (ImportError, AttributeError, ValueError):  # no SciPy BLAS: fused tiles only
    gemm_address = None

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


# --- forward with one BLAS gemm per member, layer and block of rows --------------------


@njit(parallel=True, **_OPTS)
def _forward_blas_all(Theta, X, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid, hid_offs,
                      loss, n_chunks, rows, fn, one):
    """Like :func:`_forward_all`; a task is one member and one block of ``rows`` samples.

    ``fn`` is the address of ``?gemm`` (:func:`~._numba_blas.gemm_address`), ``one`` 1 in
    the array dtype.
    """
    P = Theta.shape[0]
    N = X.shape[0]
    nb = (N + rows - 1) // rows
    n_tasks = P * nb
    width = sizes[1:].max()
    bufs = np.empty((n_chunks, 2, rows * width), Theta.dtype)
    for c in prange(n_chunks):
        for task in range(c * n_tasks // n_chunks, (c + 1) * n_tasks // n_chunks):
            p = task // nb
            r0 = (task % nb) * rows
            _forward_blas_task(Theta[p], X, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid,
                               hid_offs, loss, bufs[c], p, r0, min(rows, N - r0), fn, one)


@njit(**_OPTS)
def _forward_blas_task(th, X, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid, hid_offs,
                       loss, buf, p, r0, R, fn, one):
    """Member ``p``, rows ``r0..r0+R``: every layer's gemm, bias and activation, then the
    loss rows or outputs (the same modes as :func:`_forward_task`)."""
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
        keep = mode == _OUT_HIDDEN
        if keep or l == L - 1 or not bias_activate_rows(z2, bias, codes[l], ab[l, 0], ab[l, 1]):
            add_bias_rows(z2, bias, hid, p, r0, hid_offs[l], keep)
            if l < L - 1:
                activate_flat(z[:R * n], codes[l], ab[l, 0], ab[l, 1])
        src = z.ctypes.data
        cur = 1 - cur
    K = sizes[L]
    z = buf[1 - cur][:R * K].reshape((R, K))
    if mode == _LOSS:
        if softmax:
            softmax_loss_rows(z, y, r0, loss[p])
        else:
            mse_loss_rows(z, Y, r0, loss[p])
    else:
        output_rows(z, softmax, out, p, r0)


@njit(parallel=True, **_OPTS)
def _loss_grad_blas_all(Theta, X, sizes, offs, codes, ab, softmax, y, Y, loss, G, n_groups,
                        n_chunks, rows, fn, one):
    """Like :func:`_loss_grad_all` (same sample groups), with BLAS gemms per block of rows."""
    P = Theta.shape[0]
    n_tasks = P * n_groups
    L = sizes.shape[0] - 1
    hidden = sizes[1:L].sum()
    hz = np.empty((n_chunks, 2, max(rows * hidden, 1)), Theta.dtype)
    dbufs = np.empty((n_chunks, 2, rows * sizes.max()), Theta.dtype)
    for c in prange(n_chunks):
        for task in range(c * n_tasks // n_chunks, (c + 1) * n_tasks // n_chunks):
            p = task // n_groups
            s = task % n_groups
            _loss_grad_blas_task(Theta[p], X, sizes, offs, codes, ab, softmax, y, Y, loss[p],
                                 G[p, s], n_groups, s, hz[c, 0], hz[c, 1], dbufs[c], rows, fn, one)


@njit(**_OPTS)
def _loss_grad_blas_task(th, X, sizes, offs, codes, ab, softmax, y, Y, loss, g, n_groups, s,
                         hs, zs, dbuf, rows, fn, one):
    """Member ``p``, sample group ``s`` (as in :func:`_loss_grad_task`), ``rows`` at a time."""
    N = X.shape[0]
    nt = (N + TILE - 1) // TILE
    per_group = (nt + n_groups - 1) // n_groups
    g[:] = 0
    lo = min(s * per_group * TILE, N)
    hi = min((s + 1) * per_group * TILE, N)
    for r0 in range(lo, hi, rows):
        _backprop_blas_block(th, X, r0, min(rows, hi - r0), sizes, offs, codes, ab, softmax, y,
                             Y, loss, g, hs, zs, dbuf, fn, one)


@njit(**_OPTS)
def _backprop_blas_block(th, X, r0, R, sizes, offs, codes, ab, softmax, y, Y, loss, g, hs, zs,
                         dbuf, fn, one):
    """Rows ``r0..r0+R``: forward keeping every layer, loss rows, gradient added to ``g``."""
    N = X.shape[0]
    L = sizes.shape[0] - 1
    isz = th.itemsize
    zero = one - one
    tp = th.ctypes.data
    src = X.ctypes.data + r0 * sizes[0] * isz
    o = 0  # offset of layer l's block in hs / zs
    for l in range(L):
        K = sizes[l]
        n = sizes[l + 1]
        z = zs[o:o + R * n] if l < L - 1 else dbuf[0, :R * n]
        gemm_rm(fn, False, False, R, n, K, one, src, K, tp + offs[l] * isz, n, zero,
                z.ctypes.data, n)
        add_bias_rows(z.reshape((R, n)), th[offs[l] + K * n:offs[l] + K * n + n],
                      dbuf[0, :1].reshape((1, 1, 1)), 0, 0, 0, False)
        if l < L - 1:
            h = hs[o:o + R * n]
            h[:] = z
            activate_flat(h, codes[l], ab[l, 0], ab[l, 1])
            src = h.ctypes.data
            o += R * n
    K = sizes[L]
    loss_grad_rows(dbuf[0, :R * K].reshape((R, K)), softmax, y, Y, r0, N, loss)
    # Backward: dW_l += h_{l-1}^T dz_l, db_l += sum dz_l, dz_{l-1} = (dz_l W_l^T) * act'(z_{l-1})
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
            activate_backward_flat(dh, zs[o:o + R * K], hs[o:o + R * K], codes[l - 1],
                                   ab[l - 1, 0], ab[l - 1, 1])
            cur = 1 - cur


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


BLAS_ROWS = 256  # samples per task of the BLAS forward pass
USE_BLAS = gemm_address is not None
_LIBM_CODES = (SIGMOID, TANH, GAUSSIAN)  # scalar libm calls per element (float64)


def _blas_pays(dtype, codes, sizes, grad: bool = False) -> bool:
    """Whether the BLAS kernels beat the fused tiles (measured on a 2-core AVX-512 VM).

    float64 nets whose hidden units call libm ``tanh``/``exp`` spend most of their time
    in those scalar calls either way; there the fused tiles are a little faster. The
    backward pass needs hidden layers about 24 wide or more to pay for its extra gemms.
    """
    if not USE_BLAS:
        return False
    hidden = sizes[1:-1]
    codes = codes[:len(hidden)]
    if dtype != np.float32 and any(int(c) in _LIBM_CODES for c in codes):
        return False
    return not grad or (len(hidden) > 0 and hidden.mean() >= 24)


def _run_forward(Theta, X, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid, hid_offs, loss):
    """Forward pass for ``forward``/``loss``: per-member BLAS gemms, or the fused tiles."""
    P, N = Theta.shape[0], X.shape[0]
    if _blas_pays(Theta.dtype, codes, sizes):
        Theta, X = np.ascontiguousarray(Theta), np.ascontiguousarray(X, dtype=Theta.dtype)
        rows = max(1, min(BLAS_ROWS, N))
        with single_threaded_blas():
            _forward_blas_all(Theta, X, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid,
                              hid_offs, loss, _n_chunks(P * -(-N // rows)), rows,
                              gemm_address(Theta.dtype), Theta.dtype.type(1))
    else:
        _forward_all(Theta, X, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid, hid_offs,
                     loss, _n_chunks(P * -(-N // TILE)))


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
        _run_forward(Theta, X, sizes, offs, codes, ab, mode, net.output == "softmax", y, Y,
                     out, hid, hid_offs, np.zeros((1, 1)))
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
        _run_forward(Theta, X, sizes, offs, codes, ab, _LOSS, net.output == "softmax", y, Y,
                     np.empty((1, 1, 1), Theta.dtype), np.empty((1, 1, 1), Theta.dtype),
                     np.zeros(1, np.int64), rows)
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
        if _blas_pays(Theta.dtype, codes, sizes, grad=True):
            Theta, X = np.ascontiguousarray(Theta), np.ascontiguousarray(X, dtype=Theta.dtype)
            with single_threaded_blas():
                _loss_grad_blas_all(Theta, X, sizes, offs, codes, ab, net.output == "softmax", y,
                                    Y, rows, G, S, _n_chunks(P * S), max(1, min(BLAS_ROWS, N)),
                                    gemm_address(Theta.dtype), Theta.dtype.type(1))
        else:
            _loss_grad_all(Theta, X, sizes, offs, codes, ab, net.output == "softmax", y, Y, rows,
                           G, S, h_offs, z_offs, Theta.dtype.type(0), _n_chunks(P * S))
        grads = G[:, 0].copy() if S == 1 else G.sum(axis=1)
        return rows.mean(axis=1), grads
