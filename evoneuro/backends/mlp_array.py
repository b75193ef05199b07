"""The MLP kind of the reference backend: chains the layers of :mod:`.layers`, with shortcuts.

Written once for any NumPy-compatible array module ``xp``. Shapes: ``Theta`` ``(P, n)``,
``X`` ``(N, d)``, hidden activations ``(P, N, width)``. Arrays come in on the device and
go back on it; :class:`~evoneuro.backends.array_backend.ArrayBackend` moves them.
"""

from __future__ import annotations

from evoneuro.backends.layers import BACKWARD, FORWARD, pre_grad
from evoneuro.network.losses import loss_and_dz, output_fn


def _forward(xp, net, Theta, X, keep: bool):
    """Pre-activations ``zs`` and caches of every layer; hidden outputs if ``keep``.

    Returns ``zs``, ``caches``, ``ys`` (activation outputs) and ``outs`` (layer outputs
    after any residual shortcut; the same arrays as ``ys`` without shortcuts).
    """
    h = X
    zs, caches, ys, outs = [], [], [], []
    last = net.n_layers - 1
    for l, s in enumerate(net.layers):
        z, cache = FORWARD[s.kind](s, Theta, h, xp)
        zs.append(z)
        caches.append(cache)
        if l < last:
            y = net.activations[l](z, xp)
            src = net.skip_source(l)
            h = y + outs[src] if src is not None else y
            if keep or net.residual is not None:
                ys.append(y)
                outs.append(h)
    return zs, caches, ys, outs


def forward(xp, net, Theta, X, return_hidden: bool = False, lengths=None):
    """Outputs ``(P, N, n_outputs)``; with ``return_hidden`` also every layer's ``z``."""
    zs = _forward(xp, net, Theta, X, keep=False)[0]
    out = output_fn(net.output, zs[-1], xp)
    return (out, zs) if return_hidden else out


def loss(xp, net, Theta, X, y, lengths=None):
    zs = _forward(xp, net, Theta, X, keep=False)[0]
    return loss_and_dz(net.output, zs[-1], y, xp, need_grad=False)[0]


def loss_and_grad(xp, net, Theta, X, y, lengths=None):
    zs, caches, ys, outs = _forward(xp, net, Theta, X, keep=True)
    loss, g = loss_and_dz(net.output, zs[-1], y, xp, need_grad=True)
    G = xp.empty_like(Theta)
    skip_grad = [None] * len(outs)  # dL/d(out_j) arriving through shortcuts
    # Backward through layer l: parameter gradients from (input, g), then dL/d(input);
    # a hidden output feeds the next layer and, through a shortcut, a later one.
    for l in range(net.n_layers - 1, -1, -1):
        s = net.layers[l]
        inp = X if l == 0 else outs[l - 1]
        dh = BACKWARD[s.kind](s, Theta, inp, g, caches[l], G, xp, need_dh=l > 0)
        if l == 0:
            break
        j = l - 1
        if skip_grad[j] is not None:
            dh = dh + skip_grad[j]
        src = net.skip_source(j)
        if src is not None:
            skip_grad[src] = dh if skip_grad[src] is None else skip_grad[src] + dh
        g = pre_grad(net.layers[j].kind, net.activations[j], dh, zs[j], ys[j], xp)
    return loss, G
