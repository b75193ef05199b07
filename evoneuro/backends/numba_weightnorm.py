"""WeightNorm MLPs on the fused plain-MLP kernels, by reparametrisation.

A WeightNorm layer (Salimans & Kingma 2016) computes ``z = h W + b`` with
``W = g V / ‖V‖`` per unit: the same product as a dense layer, on weights derived from
``(V, g)``. So a population of WeightNorm nets is evaluated as a population of plain
MLPs of the same sizes, activations and output, on the members' effective weights
(:func:`effective`, ``O(P n)`` NumPy work); the gradient the fused kernels return for
``W`` is mapped back to ``(V, g)`` with the chain rule of
:func:`evoneuro.backends.layers.weightnorm_backward`:

    dL/dg = <dL/dW, V> / ‖V‖,    dL/dV = (g / ‖V‖) dL/dW - (g dL/dg / ‖V‖²) V.

The functions take the backend first, as the kinds of
:data:`evoneuro.backends.numba_backend.KINDS` do.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit


def supports(net) -> bool:
    """MLPs whose only departure from a plain one is WeightNorm."""
    return (getattr(net, "kind", None) == "mlp" and net.norm == "weightnorm" and net.residual is None
            and "rbf" not in net.units)


@functools.lru_cache(maxsize=64)
def plain(net):
    """The plain MLP that computes ``net`` on effective weights (same sizes, activations, output)."""
    from evoneuro.network.spec import MLP

    return MLP(net.n_inputs, net.hidden, net.n_outputs, activation=list(net.activations), output=net.output)


@njit(inline="always", cache=True, error_model="numpy")
def _squared_norms(th, v0, fi, fo):
    """``‖V_j‖²`` of each unit ``j`` of the ``(fi, fo)`` directions starting at ``th[v0]``."""
    sq = np.zeros(fo, dtype=np.float64)
    for k in range(fi):
        for j in range(fo):
            x = th[v0 + k * fo + j]
            sq[j] += x * x
    return sq


@njit(cache=True, error_model="numpy")
def _effective_rows(Theta, lay, out):
    """``out[p]``: member ``p`` with ``W = g V / ‖V‖`` in the layers whose ``lay`` row has an
    extra offset (``-1``: dense, copied). Rows of ``lay``: offsets of ``V``, ``b`` and ``g`` in
    ``Theta``, of ``W`` and ``b`` in ``out``, then ``fan_in``, ``fan_out``."""
    for p in range(Theta.shape[0]):
        th, o = Theta[p], out[p]
        for l in range(lay.shape[0]):
            v0, b0, e0, w1, b1, fi, fo = lay[l]
            if e0 < 0:
                o[w1:w1 + fi * fo] = th[v0:v0 + fi * fo]
            else:
                scale = _squared_norms(th, v0, fi, fo)
                for j in range(fo):
                    scale[j] = th[e0 + j] / np.sqrt(scale[j])  # g / ‖V‖
                for k in range(fi):
                    for j in range(fo):
                        o[w1 + k * fo + j] = th[v0 + k * fo + j] * scale[j]
            o[b1:b1 + fo] = th[b0:b0 + fo]


@njit(cache=True, error_model="numpy")
def _grad_rows(Theta, Gp, lay, G):
    """``G[p]`` from the gradient ``Gp[p]`` with respect to the effective weights (the chain rule
    of the module docstring); ``lay`` as in :func:`_effective_rows`."""
    for p in range(Theta.shape[0]):
        th, gp, g = Theta[p], Gp[p], G[p]
        for l in range(lay.shape[0]):
            v0, b0, e0, w1, b1, fi, fo = lay[l]
            if e0 < 0:
                g[v0:v0 + fi * fo] = gp[w1:w1 + fi * fo]
            else:
                sq = _squared_norms(th, v0, fi, fo)
                dot = np.zeros(fo, dtype=np.float64)
                for i in range(fi * fo):
                    dot[i % fo] += gp[w1 + i] * th[v0 + i]
                for j in range(fo):
                    norm = np.sqrt(sq[j])
                    g_gain = dot[j] / norm
                    g[e0 + j] = g_gain
                    sq[j] = th[e0 + j] / norm  # now g / ‖V‖
                    dot[j] = th[e0 + j] * g_gain / (norm * norm)
                for k in range(fi):
                    for j in range(fo):
                        i = k * fo + j
                        g[v0 + i] = sq[j] * gp[w1 + i] - dot[j] * th[v0 + i]
            g[b0:b0 + fo] = gp[b1:b1 + fo]


@functools.lru_cache(maxsize=64)
def _layout(net) -> np.ndarray:
    """The ``lay`` rows of :func:`_effective_rows` for ``net`` and :func:`plain` ``(net)``."""
    return np.array([(s.w_start, s.b_start, s.e_start if s.kind == "weightnorm" else -1, t.w_start, t.b_start,
                      s.fan_in, s.fan_out) for s, t in zip(net.layers, plain(net).layers)], dtype=np.int64)


def effective(net, Theta: np.ndarray) -> np.ndarray:
    """``(P, plain(net).n_params)``: every member with ``W = g V / ‖V‖`` in its WeightNorm layers."""
    Theta = np.ascontiguousarray(Theta)
    out = np.empty((Theta.shape[0], plain(net).n_params), dtype=Theta.dtype)
    _effective_rows(Theta, _layout(net), out)
    return out


def _grad_back(net, Theta: np.ndarray, Gp: np.ndarray) -> np.ndarray:
    """The gradient with respect to ``Theta`` from the one with respect to the effective weights."""
    Theta = np.ascontiguousarray(Theta, dtype=Gp.dtype)
    G = np.empty_like(Theta)
    _grad_rows(Theta, np.ascontiguousarray(Gp), _layout(net), G)
    return G


def forward(backend, net, Theta, X, return_hidden: bool = False, lengths=None):
    return backend.forward(plain(net), effective(net, Theta), X, return_hidden)


def loss(backend, net, Theta, X, y, lengths=None):
    return backend.loss(plain(net), effective(net, Theta), X, y)


def loss_and_grad(backend, net, Theta, X, y, lengths=None):
    losses, Gp = backend.loss_and_grad(plain(net), effective(net, Theta), X, y)
    return losses, _grad_back(net, Theta, Gp)
