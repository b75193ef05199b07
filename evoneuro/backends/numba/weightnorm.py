"""WeightNorm MLPs on the fused MLP kernels, by reparametrisation.

A WeightNorm layer (Salimans & Kingma 2016) computes ``z = h W + b`` with
``W = g V / ‖V‖`` per unit: the same product as a dense layer, on weights derived from
``(V, g)``. So a population of WeightNorm nets is evaluated as a population of MLPs
without normalisation (the same sizes, activations, output, shortcuts and RBF layers: see
:func:`plain`), on the members' effective weights
(:func:`effective`, ``O(P n)`` work); the gradient the fused kernels return for
``W`` is mapped back to ``(V, g)`` with the chain rule of
:func:`evoneuro.backends.layers.weightnorm_backward`:

    dL/dg = <dL/dW, V> / ‖V‖,    dL/dV = (g / ‖V‖) dL/dW - (g dL/dg / ‖V‖²) V.

:mod:`.mlp` hands a net with ``norm="weightnorm"`` here; the functions take the backend
first, as :mod:`.mlp`'s do, and evaluate :func:`plain` through it.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit

from evoneuro.backends.numba import compiling
from evoneuro.backends.numba._jit import NUMPY_ERRORS


def supports(net) -> bool:
    """Whether ``net`` runs here: an MLP with WeightNorm layers (``norm="weightnorm"``)."""
    return net.norm == "weightnorm"


@functools.lru_cache(maxsize=64)
def plain(net):
    """The MLP that computes ``net`` on effective weights (same sizes, activations, output,
    shortcuts and RBF layers, no normalisation)."""
    from evoneuro.network.spec import MLP

    return MLP(net.n_inputs, net.hidden, net.n_outputs, activation=list(net.activations), output=net.output,
               residual=net.residual, units=list(net.units))


@njit(**NUMPY_ERRORS)
def _effective_rows(Theta, lay, out, inv):
    """``out[p]``: member ``p`` with ``W = g V / ‖V‖`` in the layers whose ``lay`` row has an
    extra offset (``-1``: dense, copied), and ``inv[p]``: each such unit's ``1 / ‖V‖``, for
    :func:`_grad_rows`. Rows of ``lay``: offsets of ``V``, ``b`` and ``g`` in ``Theta``, of
    ``W`` and ``b`` in ``out``, of the units in ``inv``, then ``fan_in``, ``fan_out``."""
    for p in range(Theta.shape[0]):
        th, o, iv = Theta[p], out[p], inv[p]
        for l in range(lay.shape[0]):
            v0, b0, e0, w1, b1, u0, fi, fo = lay[l]
            if e0 < 0:
                o[w1:w1 + fi * fo] = th[v0:v0 + fi * fo]
            else:
                # rows of V (k) outer, units (j) inner: contiguous, so the loops vectorise
                # (an index i % fo per element would keep them from it)
                sq = np.zeros(fo, dtype=np.float64)
                for k in range(fi):
                    for j in range(fo):
                        v = th[v0 + k * fo + j]
                        sq[j] += v * v
                for j in range(fo):
                    iv[u0 + j] = 1.0 / np.sqrt(sq[j])
                    sq[j] = th[e0 + j] * iv[u0 + j]  # now g / ‖V‖
                for k in range(fi):
                    for j in range(fo):
                        o[w1 + k * fo + j] = th[v0 + k * fo + j] * sq[j]
            o[b1:b1 + fo] = th[b0:b0 + fo]


@njit(**NUMPY_ERRORS)
def _grad_rows(Theta, Gp, lay, inv, G):
    """``G[p]`` from the gradient ``Gp[p]`` with respect to the effective weights (the chain rule
    of the module docstring), with the ``1 / ‖V‖`` that :func:`_effective_rows` left in ``inv``."""
    for p in range(Theta.shape[0]):
        th, gp, iv, g = Theta[p], Gp[p], inv[p], G[p]
        for l in range(lay.shape[0]):
            v0, b0, e0, w1, b1, u0, fi, fo = lay[l]
            if e0 < 0:
                g[v0:v0 + fi * fo] = gp[w1:w1 + fi * fo]
            else:
                dot = np.zeros(fo, dtype=np.float64)
                for k in range(fi):
                    for j in range(fo):
                        dot[j] += gp[w1 + k * fo + j] * th[v0 + k * fo + j]
                c_w = np.empty(fo, dtype=np.float64)  # dL/dV = c_w dL/dW - c_v V
                c_v = np.empty(fo, dtype=np.float64)
                for j in range(fo):
                    g_gain = dot[j] * iv[u0 + j]  # <dL/dW, V> / ‖V‖
                    g[e0 + j] = g_gain
                    c_w[j] = th[e0 + j] * iv[u0 + j]  # g / ‖V‖
                    c_v[j] = c_w[j] * g_gain * iv[u0 + j]  # g dL/dg / ‖V‖²
                for k in range(fi):
                    for j in range(fo):
                        i = k * fo + j
                        g[v0 + i] = c_w[j] * gp[w1 + i] - c_v[j] * th[v0 + i]
            g[b0:b0 + fo] = gp[b1:b1 + fo]


compiling.name("MLP", _effective_rows, _grad_rows)


@functools.lru_cache(maxsize=64)
def _layout(net) -> tuple[np.ndarray, int]:
    """The ``lay`` rows of :func:`_effective_rows` for ``net`` and :func:`plain` ``(net)``, and
    the number of WeightNorm units."""
    rows, units = [], 0
    for s, t in zip(net.layers, plain(net).layers):
        wn = s.kind == "weightnorm"
        rows.append((s.w_start, s.b_start, s.e_start if wn else -1, t.w_start, t.b_start, units,
                     s.fan_in, s.fan_out))
        units += s.fan_out if wn else 0
    return np.array(rows, dtype=np.int64), units


def effective(net, Theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(P, plain(net).n_params)`` parameters, every member with ``W = g V / ‖V‖`` in its
    WeightNorm layers, and ``(P, units)`` ``1 / ‖V‖`` of those layers' units (float64)."""
    Theta = np.ascontiguousarray(Theta)
    lay, units = _layout(net)
    out = np.empty((Theta.shape[0], plain(net).n_params), dtype=Theta.dtype)
    inv = np.empty((Theta.shape[0], units))
    _effective_rows(Theta, lay, out, inv)
    return out, inv


def forward(backend, net, Theta, X, return_hidden: bool = False, lengths=None):
    """Outputs (and hidden pre-activations) of ``plain(net)`` on the effective weights."""
    return backend.forward(plain(net), effective(net, Theta)[0], X, return_hidden)


def loss(backend, net, Theta, X, y, lengths=None):
    """Mean loss per member ``(P,)``."""
    return backend.loss(plain(net), effective(net, Theta)[0], X, y)


def loss_and_grad(backend, net, Theta, X, y, lengths=None):
    """Mean losses ``(P,)`` and their gradients ``(P, n_params)`` with respect to ``(V, g)``."""
    Theta = np.ascontiguousarray(Theta)
    W, inv = effective(net, Theta)
    losses, Gp = backend.loss_and_grad(plain(net), W, X, y)
    G = np.empty_like(Theta, dtype=Gp.dtype)
    _grad_rows(Theta.astype(Gp.dtype, copy=False), np.ascontiguousarray(Gp), _layout(net)[0], inv, G)
    return losses, G
