"""The reference evaluator, written once for any NumPy-compatible array module.

With ``xp = numpy`` this is the oracle every other backend is tested against: plain
batched ``matmul`` over the population axis, nothing clever. With ``xp = cupy`` the very
same code runs on a GPU (:mod:`evoneuro.backends.cupy_backend`).

Shapes: ``Theta`` ``(P, n)``, ``X`` ``(N, d)``, hidden activations ``(P, N, width)``.
Each layer kind's forward and backward pass sit side by side in :mod:`.layers`; this
module chains them, with residual shortcuts.
"""

from __future__ import annotations

from evoneuro.backends._blas_threads import blas_threads
from evoneuro.backends.layers import BACKWARD, FORWARD, pre_grad
from evoneuro.network.losses import loss_and_dz, output_fn


class ArrayBackend:
    """Population forward/backward passes with an array module ``xp``.

    ``n_jobs`` caps the BLAS threads of the batched matrix products during a call
    (``None``: leave the BLAS library as it is).
    """

    name = "array"

    def __init__(self, xp, n_jobs: int | None = None):
        self.xp = xp
        self.n_jobs = n_jobs

    def __reduce__(self):
        # A module does not pickle; the named subclasses rebuild their module on load,
        # so evaluators, problems and whole trainers can be checkpointed.
        return (type(self), (self.n_jobs,))

    # Host <-> device; identity for NumPy.
    def to_device(self, a):
        return self.xp.asarray(a)

    def to_host(self, a):
        return a

    def _forward(self, net, Theta, X, keep: bool):
        """Pre-activations ``zs`` and caches of every layer; hidden outputs if ``keep``.

        Returns ``zs``, ``caches``, ``ys`` (activation outputs) and ``outs`` (layer outputs
        after any residual shortcut; the same arrays as ``ys`` without shortcuts).
        """
        xp = self.xp
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

    def forward(self, net, Theta, X, return_hidden: bool = False):
        with blas_threads(self.n_jobs):
            return self._forward_out(net, Theta, X, return_hidden)

    def loss(self, net, Theta, X, y):
        with blas_threads(self.n_jobs):
            return self._loss(net, Theta, X, y)

    def loss_and_grad(self, net, Theta, X, y):
        with blas_threads(self.n_jobs):
            return self._loss_and_grad(net, Theta, X, y)

    def _forward_out(self, net, Theta, X, return_hidden):
        xp = self.xp
        Theta, X = self.to_device(Theta), self.to_device(X)
        zs = self._forward(net, Theta, X, keep=False)[0]
        out = output_fn(net.output, zs[-1], xp)
        if return_hidden:
            return self.to_host(out), [self.to_host(z) for z in zs]
        return self.to_host(out)

    def _loss(self, net, Theta, X, y):
        xp = self.xp
        Theta, X, y = self.to_device(Theta), self.to_device(X), self.to_device(y)
        zs = self._forward(net, Theta, X, keep=False)[0]
        loss, _ = loss_and_dz(net.output, zs[-1], y, xp, need_grad=False)
        return self.to_host(loss)

    def _loss_and_grad(self, net, Theta, X, y):
        xp = self.xp
        Theta, X, y = self.to_device(Theta), self.to_device(X), self.to_device(y)
        zs, caches, ys, outs = self._forward(net, Theta, X, keep=True)
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
        return self.to_host(loss), self.to_host(G)
