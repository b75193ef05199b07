"""Recurrent nets on the Numba backend: the arrays and tasks of :mod:`.rnn_kernels`.

:class:`~evoneuro.backends.numba.backend.NumbaBackend` hands a net of kind ``"rnn"`` here
(the kind's registry entry names this module) when :func:`supports` says the kernels cover
it (every cell, activation, output and readout, stacked layers and masked
self-connections; not ``update="sequential"``, whose few-unit nets run the reference).
Results agree with the NumPy reference (:mod:`evoneuro.backends.rnn_array`) to rounding.

Like the MLP kernels, ``loss_and_grad`` splits the sequences into a number of groups that
depends on ``N`` only (:func:`~._jit.n_groups`) and adds the groups' gradients in a fixed
order, so results are bit-for-bit the same however the population is chunked and however
many threads run.
"""

from __future__ import annotations

import numpy as np

from evoneuro.backends.numba import rnn_kernels as kernels
from evoneuro.backends.numba._jit import ACT_CODES, act_code, layout, n_groups
from evoneuro.backends.numba.rnn_cells import CELLS, GATES, N_COEF
from evoneuro.backends.numba.rnn_tiles import LINEAR, SOFTMAX
from evoneuro.backends.numba.rnn_tiles import SIGMOID as SIGMOID_OUTPUT
from evoneuro.backends.numba.tiles import TILE
from evoneuro.network.losses import output_fn

OUTPUTS = {"softmax": SOFTMAX, "sigmoid": SIGMOID_OUTPUT, "linear": LINEAR}


def supports(net) -> bool:
    """Whether the recurrent kernels cover ``net`` (else the backend runs the reference)."""
    return (net.cell in CELLS and net.output in OUTPUTS and net.update == "parallel"
            and all(a.name in ACT_CODES for a in net.activations))


def _spec(net, dtype):
    """The layout arrays (:func:`~._jit.layout`) and ``spec``, as :mod:`.rnn_kernels` takes them."""
    sizes, offs, codes, ab = layout(net, dtype)
    cell = CELLS[net.cell]
    sig = act_code("sigmoid", dtype)
    spec = np.array([cell, sig, OUTPUTS[net.output], net.readout == "all", net.self_connections,
                     GATES[cell], N_COEF[cell]], dtype=np.int64)
    return sizes, offs, codes, ab, spec


def _data(net, Theta, X, y, lengths):
    """Contiguous arrays, lengths ``(N,)``, labels ``(N, Ty)`` and targets ``(N, Ty, K)``."""
    dtype = Theta.dtype
    X = np.ascontiguousarray(X, dtype=dtype)
    N, T = X.shape[:2]
    Ty = T if net.readout == "all" else 1
    lens = np.full(N, T, np.int64) if lengths is None else np.ascontiguousarray(lengths, np.int64)
    labels, targets = np.zeros((1, 1), np.int64), np.zeros((1, 1, 1), dtype)
    if y is not None and net.output == "softmax":
        labels = np.ascontiguousarray(np.reshape(y, (N, Ty)), dtype=np.int64)
    elif y is not None:
        targets = np.ascontiguousarray(np.reshape(y, (N, Ty, net.n_outputs)), dtype=dtype)
    return X, lens, labels, targets


def _prepare(net, Theta, X, y, lengths):
    """One call's contiguous ``Theta``, its data (:func:`_data`) and the net's layout (:func:`_spec`)."""
    Theta = np.ascontiguousarray(Theta)
    X, lens, labels, targets = _data(net, Theta, X, y, lengths)
    return Theta, X, lens, labels, targets, _spec(net, Theta.dtype)


def _loss_rows(net, P: int, N: int, T: int) -> np.ndarray:
    """Per-member, per-sequence (and per-step with ``readout="all"``) loss terms, zeroed."""
    return np.zeros((P, N, T if net.readout == "all" else 1))


def _macs(net, X_shape) -> int:
    """Multiply-adds of one member's forward pass over ``X``."""
    N, T = X_shape[:2]
    return N * T * sum(s.fan_in * s.fan_out for s in net.layers)


def _no_grad(dtype) -> tuple:
    """The kernel's gradient arguments ``(G, n_groups)`` in a forward call: placeholders."""
    return np.empty((1, 1, 1), dtype), 1


def _denominator(net, X, lens) -> float:
    """Number of terms the mean loss averages: sequences (last) or valid steps (all)."""
    return float(lens.sum()) if net.readout == "all" else float(X.shape[0])


def forward(backend, net, Theta, X, return_hidden: bool = False, lengths=None):
    """Outputs as :func:`evoneuro.backends.rnn_array.forward` gives them."""
    Theta, X, lens, labels, targets, layout = _prepare(net, Theta, X, None, lengths)
    P, (N, T) = Theta.shape[0], X.shape[:2]
    out = np.empty((P, N, T if net.readout == "all" else 1, net.n_outputs), Theta.dtype)
    widths = [s.fan_out for s in net.layers[:-1]]
    hid_offs = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
    hid = np.empty((P, N, T, hid_offs[-1]) if return_hidden else (1, 1, 1, 1), Theta.dtype)
    args = (Theta, X, lens, *layout, labels, targets, np.zeros((1, 1, 1)), 1.0,
            out, hid, hid_offs, kernels.OUT, return_hidden, *_no_grad(Theta.dtype))
    backend._run(kernels.KERNELS[CELLS[net.cell]], P * -(-N // TILE), args, P * _macs(net, X.shape),
                 ("rnn", Theta.dtype))
    z = out if net.readout == "all" else out[:, :, 0]
    y = output_fn(net.output, z, np)
    if not return_hidden:
        return y
    zs = [np.ascontiguousarray(hid[..., hid_offs[l]:hid_offs[l + 1]]) for l in range(net.n_recurrent)]
    return y, zs + [z]


def loss(backend, net, Theta, X, y, lengths=None):
    """Mean loss per member ``(P,)``."""
    Theta, X, lens, labels, targets, layout = _prepare(net, Theta, X, y, lengths)
    P, (N, T) = Theta.shape[0], X.shape[:2]
    rows = _loss_rows(net, P, N, T)
    unused = np.empty((1, 1, 1, 1), Theta.dtype)
    args = (Theta, X, lens, *layout, labels, targets, rows, 1.0, unused, unused,
            np.zeros(1, np.int64), kernels.LOSS, False, *_no_grad(Theta.dtype))
    backend._run(kernels.KERNELS[CELLS[net.cell]], P * -(-N // TILE), args, P * _macs(net, X.shape),
                 ("rnn", Theta.dtype))
    return rows.sum(axis=(1, 2)) / _denominator(net, X, lens)


def loss_and_grad(backend, net, Theta, X, y, lengths=None):
    """Mean losses ``(P,)`` and their gradients ``(P, n_params)`` by BPTT."""
    Theta, X, lens, labels, targets, layout = _prepare(net, Theta, X, y, lengths)
    P, (N, T) = Theta.shape[0], X.shape[:2]
    rows = _loss_rows(net, P, N, T)
    S = n_groups(N)
    G = np.empty((P, S, net.n_params), Theta.dtype)
    denom = _denominator(net, X, lens)
    unused = np.empty((1, 1, 1, 1), Theta.dtype)
    args = (Theta, X, lens, *layout, labels, targets, rows, 1.0 / denom, unused, unused,
            np.zeros(1, np.int64), kernels.GRAD, False, G, S)
    backend._run(kernels.KERNELS[CELLS[net.cell]], P * S, args, 3 * P * _macs(net, X.shape),
                 ("rnn-grad", Theta.dtype))
    grads = G[:, 0].copy() if S == 1 else G.sum(axis=1)
    return rows.sum(axis=(1, 2)) / denom, grads
