"""MLPs on the Numba backend: the arrays and tasks of :mod:`.mlp_kernels`.

The registry entry of the kind ``"mlp"`` (:mod:`evoneuro.network.kinds`) names this module,
so :class:`~evoneuro.backends.numba.backend.NumbaBackend` hands every MLP here. Every MLP
runs the fused tile kernels: per member and tile of 64 samples, every layer in cache, the
layer products register-blocked in vector registers (:mod:`.simd`). Plain MLPs and MLPs
with residual shortcuts, LayerNorm, cosine normalisation or RBF units run them directly
(the kernels of a plain MLP hold none of the other layers' code); an MLP with WeightNorm
(``norm="weightnorm"``) runs them on its effective weights (:mod:`.weightnorm`).

Each function takes the backend first, as :mod:`.rnn`'s do, and runs its kernels through
the backend's ``_run`` (its thread pool and tuner). ``loss_and_grad`` splits the samples
into :func:`~._jit.n_groups` groups and adds the groups' gradients in a fixed order, so
results are bit-for-bit the same however the population is chunked and however many
threads run. The mean loss is summed the same way: each group's rows, then the groups in
order (:func:`partial_sums`), so that workers holding shards of whole groups
(:mod:`evoneuro.distributed`) add up to the same bits.
"""

from __future__ import annotations

import functools

import numpy as np

from evoneuro.backends.layers import LN_EPS
from evoneuro.backends.numba import mlp_kernels as kernels, weightnorm
from evoneuro.backends.numba._jit import group_rows, group_sums, layout, ordered_sum
from evoneuro.backends.numba.tiles import TILE, input_tiles

#: From this population size on, a forward task is a whole member rather than one tile: a
#: member's weights are then read by one core only, where splitting its tiles over threads
#: makes every core stream all the weights.
MEMBERS_PER_TASK_FROM = 32

_NORMS = {"dense": kernels.PLAIN, "layernorm": kernels.LAYERNORM, "cosine": kernels.COSINE, "rbf": kernels.RBF}


def supports(net) -> bool:
    """Every MLP runs here (WeightNorm ones on effective weights), so always True."""
    return True


def shortcuts(net):
    """``srcs``, ``is_src`` for the tile kernels: per hidden layer, the hidden layer whose
    output its shortcut adds (``-1``: none), and whether its own output feeds a shortcut."""
    n_hidden = max(1, net.n_layers - 1)
    srcs = np.full(n_hidden, -1, dtype=np.int64)
    for l in range(net.n_layers - 1):
        s = net.skip_source(l)
        srcs[l] = -1 if s is None else s
    is_src = np.zeros(n_hidden, dtype=np.bool_)
    is_src[srcs[srcs >= 0]] = True
    return srcs, is_src


def norms(net):
    """Per hidden layer, its kind's code in the tile kernels (plain, normalised or RBF)."""
    return np.asarray([_NORMS[s.kind] for s in net.layers[:-1]] or [kernels.PLAIN], dtype=np.int64)


@functools.lru_cache(maxsize=64)
def _general(net):
    """What the tile kernels need beyond a plain MLP, built once per net (nets are immutable):
    ``(None, (1, 1, 1))`` for a plain MLP, else ``((srcs, is_src, norms, eps), dims)`` with
    ``dims`` the scratch sizes: hidden layers, widest layer, hidden units."""
    if net.is_plain:
        return None, (1, 1, 1)
    srcs, is_src = shortcuts(net)
    dims = (max(1, net.n_layers - 1), max(net.sizes), max(1, sum(net.sizes[1:-1])))
    return (srcs, is_src, norms(net), LN_EPS), dims


def _targets(net, y, dtype):
    """(labels, targets) with a dummy of the right type for the unused one."""
    if net.output == "softmax":
        return np.ascontiguousarray(y, dtype=np.int64), np.zeros((1, 1), dtype=dtype)
    return np.zeros(1, dtype=np.int64), np.ascontiguousarray(y, dtype=dtype)


def _macs(net) -> int:
    """Multiply-adds per sample of one member's forward pass."""
    return sum(s.fan_in * s.fan_out for s in net.layers)


def _c(a, dtype=None):
    return np.ascontiguousarray(a, dtype=dtype)


def _run_forward(backend, net, Theta, X, mode, y, Y, out, hid, hid_offs, loss):
    """One forward call of the kernels in ``mode`` (outputs, hidden pre-activations or loss rows)."""
    P, N = Theta.shape[0], X.shape[0]
    sizes, offs, codes, ab = layout(net, Theta.dtype)
    softmax = net.output == "softmax"
    macs = P * N * _macs(net)
    general, dims = _general(net)
    n_blocks = -(-N // TILE)
    per_task = n_blocks if P >= MEMBERS_PER_TASK_FROM else 1
    n_tasks = P * -(-n_blocks // per_task)
    args = (Theta, input_tiles(X), N, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid, hid_offs,
            loss, per_task, general, dims[:2])
    backend._run(kernels.forward_work, n_tasks, args, macs, ("tiles", Theta.dtype))


def forward(backend, net, Theta, X, return_hidden: bool = False, lengths=None):
    """Outputs ``(P, N, K)`` (and with ``return_hidden`` every layer's pre-activations), as
    :func:`evoneuro.backends.mlp_array.forward` gives them."""
    if weightnorm.supports(net):
        return weightnorm.forward(backend, net, Theta, X, return_hidden, lengths)
    Theta, X = _c(Theta), _c(X, Theta.dtype)
    P, N = Theta.shape[0], X.shape[0]
    out = np.empty((P, N, net.n_outputs), dtype=Theta.dtype)
    hid_offs = np.concatenate([[0], np.cumsum(net.sizes[1:])]).astype(np.int64)
    hid = np.empty((P, N, hid_offs[-1]) if return_hidden else (1, 1, 1), dtype=Theta.dtype)
    y, Y = np.zeros(1, np.int64), np.zeros((1, 1), Theta.dtype)  # unused
    mode = kernels.OUT_HIDDEN if return_hidden else kernels.OUT
    _run_forward(backend, net, Theta, X, mode, y, Y, out, hid, hid_offs, np.zeros((1, 1)))
    if not return_hidden:
        return out
    zs = [np.ascontiguousarray(hid[:, :, hid_offs[l]:hid_offs[l + 1]]) for l in range(net.n_layers)]
    return out, zs


def loss(backend, net, Theta, X, y, lengths=None):
    """Mean loss per member ``(P,)``."""
    if weightnorm.supports(net):
        return weightnorm.loss(backend, net, Theta, X, y, lengths)
    sums, _ = partial_sums(backend, net, Theta, X, y, group_rows(len(X)), False)
    return ordered_sum(sums) / len(X)


def loss_and_grad(backend, net, Theta, X, y, lengths=None):
    """Mean losses ``(P,)`` and their gradients ``(P, n_params)``."""
    if weightnorm.supports(net):
        return weightnorm.loss_and_grad(backend, net, Theta, X, y, lengths)
    N = len(X)
    sums, G = partial_sums(backend, net, Theta, X, y, group_rows(N), True)
    return ordered_sum(sums) / N, ordered_sum(G)


def supports_partial_sums(net) -> bool:
    """Whether :func:`partial_sums` runs ``net`` (not a WeightNorm MLP)."""
    return not weightnorm.supports(net)


def partial_sums(backend, net, Theta, X, y, per_group: int, need_grad: bool, n_mean: int | None = None):
    """Each sample group's sum of the loss rows ``(P, S)`` and (``need_grad``) of the
    gradients of the *mean* loss over ``n_mean`` rows (default ``len(X)``) ``(P, S, n_params)``.

    ``X`` is cut into groups of ``per_group`` rows (a multiple of ``TILE``; the last group
    holds the rest). :func:`loss` and :func:`loss_and_grad` add them in order
    (:func:`~._jit.ordered_sum`); a worker of :mod:`evoneuro.distributed` holding some of
    the groups returns them as they are, ``n_mean`` being the whole batch's rows.
    """
    Theta, X = _c(Theta), _c(X, Theta.dtype)
    P, N = Theta.shape[0], X.shape[0]
    y, Y = _targets(net, y, Theta.dtype)
    rows = np.empty((P, N))
    if not need_grad:
        unused = np.empty((1, 1, 1), Theta.dtype)
        _run_forward(backend, net, Theta, X, kernels.LOSS, y, Y, unused, unused, np.zeros(1, np.int64), rows)
        return group_sums(rows, per_group), None
    sizes, offs, codes, ab = layout(net, Theta.dtype)
    softmax = net.output == "softmax"
    S = -(-N // per_group)
    G = np.empty((P, S, net.n_params), dtype=Theta.dtype)
    macs = 3 * P * N * _macs(net)
    general, dims = _general(net)
    h_offs = np.concatenate([[0], np.cumsum(net.sizes[:-1])]).astype(np.int64)
    d_offs = np.concatenate([[0], np.cumsum(net.sizes[1:-1])]).astype(np.int64)
    args = (Theta, input_tiles(X), N, N if n_mean is None else int(n_mean), sizes, offs, codes, ab, softmax, y, Y,
            rows, G, S, per_group // TILE,
            h_offs, d_offs, general, dims)
    backend._run(kernels.loss_grad_work, P * S, args, macs, ("tiles-grad", Theta.dtype))
    return group_sums(rows, per_group), G
