"""Neural Abstraction Pyramids on the Numba backend: the arrays and tasks of :mod:`.pyramid_kernels`.

:class:`~evoneuro.backends.numba.backend.NumbaBackend` hands a net of kind ``"pyramid"``
here (the kind's registry entry names this module). The kernels cover every pyramid whose
activations have kernel codes (every one of :data:`evoneuro.ACTIVATIONS`); a forward
pass asked for every level's pre-activations (``return_hidden``: diagnostics, the
error-against-iteration curve) runs the NumPy reference, whose arrays those are.

Members x images run in parallel as tasks on the backend's threads, the iterations inside
a task. ``loss_and_grad`` splits the images into :func:`~._jit.n_groups` groups (a number
that depends on ``N`` only) and adds the groups' gradients in a fixed order, so results are
the same bits however the population is chunked and however many threads run. Results
agree with the reference (:mod:`evoneuro.backends.pyramid_array`) to rounding
(``tests/test_pyramid_numba.py``).
"""

from __future__ import annotations

import numpy as np

from evoneuro.backends import pyramid_array
from evoneuro.backends.numba import pyramid_kernels as kernels
from evoneuro.backends.numba._jit import ACT_CODES, act_code, n_groups


def supports(net) -> bool:
    """Whether the kernels cover ``net`` (else the backend runs the reference)."""
    return all(a.name in ACT_CODES for a in net.activations) and net.output_activation.name in ACT_CODES


def _layout(net, dtype):
    """``lev``, ``projs``, ``spec``, ``ab`` as :mod:`.pyramid_kernels` takes them."""
    lev, off = [], 0
    for l, (F, (h, w)) in enumerate(zip(net.features, net.resolutions)):
        lev.append((h, w, F, off, net.layers[l].b_start, act_code(net.activations[l].name, dtype)))
        off += h * w * F
    projs = [(p.level, -1 if p.source is None else p.source, p.size, p.stride, p.pad, p.n_in, p.n_out, p.start,
              p.name == "backward") for level in net.projections for p in level]
    out = net.output_activation
    spec = (net.levels, net.iterations, net.n_outputs, act_code(out.name, dtype), net.border == "wrap", off,
            net.n_inputs)
    ab = [(a.scale, a.slope) for a in net.activations] + [(out.scale, out.slope)]
    return (np.array(lev, np.int64), np.array(projs, np.int64), np.array(spec, np.int64), np.array(ab, dtype))


def _args(net, Theta, X, y):
    Theta = np.ascontiguousarray(Theta)
    dt = Theta.dtype
    X = np.ascontiguousarray(X, dtype=dt)
    Y = np.zeros((1, 1, 1, 1), dt) if y is None else np.ascontiguousarray(y, dtype=dt)
    return Theta, X, Y, _layout(net, dt)


def _macs(net, N: int) -> int:
    return N * net.macs()


def _no_grad(dtype) -> tuple:
    return np.zeros((1, 1, 1), dtype), 1


def forward(backend, net, Theta, X, return_hidden: bool = False, lengths=None):
    """Outputs as :func:`evoneuro.backends.pyramid_array.forward` gives them."""
    if return_hidden:
        return pyramid_array.forward(np, net, Theta, X, True)
    Theta, X, Y, layout = _args(net, Theta, X, None)
    P, N = Theta.shape[0], X.shape[0]
    H, W = net.shape
    out = np.empty((P, N, H * W * net.n_outputs), Theta.dtype)
    rows = np.zeros((1, 1))
    args = (Theta, X, Y, *layout, net.read_weights, 1.0, kernels.OUT, out, rows, *_no_grad(Theta.dtype))
    backend._run(kernels.kernel, P * -(-N // kernels.LANES), args, P * _macs(net, N), ("pyramid", Theta.dtype))
    return out.reshape(P, N, H, W, net.n_outputs)


def loss(backend, net, Theta, X, y, lengths=None):
    """Mean loss per member ``(P,)``."""
    Theta, X, Y, layout = _args(net, Theta, X, y)
    P, N = Theta.shape[0], X.shape[0]
    rows = np.zeros((P, N))
    unused = np.zeros((1, 1, 1), Theta.dtype)
    args = (Theta, X, Y, *layout, net.read_weights, 1.0, kernels.LOSS, unused, rows, *_no_grad(Theta.dtype))
    backend._run(kernels.kernel, P * -(-N // kernels.LANES), args, P * _macs(net, N), ("pyramid", Theta.dtype))
    return rows.sum(axis=1) / Y.size


def loss_and_grad(backend, net, Theta, X, y, lengths=None):
    """Mean losses ``(P,)`` and their gradients ``(P, n_params)`` by BPTT."""
    Theta, X, Y, layout = _args(net, Theta, X, y)
    P, N = Theta.shape[0], X.shape[0]
    S = min(n_groups(N), N)
    rows = np.zeros((P, N))
    G = np.empty((P, S, net.n_params), Theta.dtype)
    unused = np.zeros((1, 1, 1), Theta.dtype)
    args = (Theta, X, Y, *layout, net.read_weights, 1.0 / Y.size, kernels.GRAD, unused, rows, G, S)
    backend._run(kernels.kernel, P * S, args, 3 * P * _macs(net, N), ("pyramid-grad", Theta.dtype))
    grads = G[:, 0].copy() if S == 1 else G.sum(axis=1)
    return rows.sum(axis=1) / Y.size, grads
