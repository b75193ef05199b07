"""The reference evaluator, written once for any NumPy-compatible array module.

With ``xp = numpy`` this is the oracle every other backend is tested against: plain
batched ``matmul`` over the population axis, nothing clever. With ``xp = cupy`` the very
same code runs on a GPU (:mod:`evoneuro.backends.cupy_backend`).

Shapes: ``Theta`` ``(P, n)``, ``X`` ``(N, d)``, hidden activations ``(P, N, width)``.
The backward pass sits right under the forward pass it differentiates.
"""

from __future__ import annotations

from evoneuro.network.losses import loss_and_dz, output_fn


class ArrayBackend:
    """Population forward/backward passes with an array module ``xp``."""

    name = "array"

    def __init__(self, xp):
        self.xp = xp

    def __reduce__(self):
        # A module does not pickle; the named subclasses rebuild their module on load,
        # so evaluators, problems and whole trainers can be checkpointed.
        return (type(self), ())

    # Host <-> device; identity for NumPy.
    def to_device(self, a):
        return self.xp.asarray(a)

    def to_host(self, a):
        return a

    def _forward(self, net, Theta, X, keep: bool):
        """Pre-activations ``zs`` of every layer, and hidden outputs ``hs`` if ``keep``."""
        xp = self.xp
        h = X
        zs, hs = [], [X]
        last = net.n_layers - 1
        for l, s in enumerate(net.layers):
            z = xp.matmul(h, s.weights(Theta))  # (N,d)@(P,d,h) broadcasts X over members
            z += s.bias(Theta)[:, None, :]
            zs.append(z)
            if l < last:
                h = net.activations[l](z, xp)
                if keep:
                    hs.append(h)
        return zs, hs

    def forward(self, net, Theta, X, return_hidden: bool = False):
        xp = self.xp
        Theta, X = self.to_device(Theta), self.to_device(X)
        zs, _ = self._forward(net, Theta, X, keep=False)
        out = output_fn(net.output, zs[-1], xp)
        if return_hidden:
            return self.to_host(out), [self.to_host(z) for z in zs]
        return self.to_host(out)

    def loss(self, net, Theta, X, y):
        xp = self.xp
        Theta, X, y = self.to_device(Theta), self.to_device(X), self.to_device(y)
        zs, _ = self._forward(net, Theta, X, keep=False)
        loss, _ = loss_and_dz(net.output, zs[-1], y, xp, need_grad=False)
        return self.to_host(loss)

    def loss_and_grad(self, net, Theta, X, y):
        xp = self.xp
        Theta, X, y = self.to_device(Theta), self.to_device(X), self.to_device(y)
        zs, hs = self._forward(net, Theta, X, keep=True)
        loss, dz = loss_and_dz(net.output, zs[-1], y, xp, need_grad=True)
        G = xp.empty_like(Theta)
        # Backward: dL/dW_l = h_{l-1}^T dz_l,  dL/db_l = sum_n dz_l,
        #           dz_{l-1} = (dz_l W_l^T) * act'(z_{l-1}).
        for l in range(net.n_layers - 1, -1, -1):
            s = net.layers[l]
            s.weights(G)[...] = xp.matmul(hs[l].swapaxes(-1, -2), dz)
            s.bias(G)[...] = dz.sum(axis=1)
            if l > 0:
                dh = xp.matmul(dz, s.weights(Theta).swapaxes(-1, -2))
                dz = dh * net.activations[l - 1].derivative(zs[l - 1], hs[l], xp)
        return self.to_host(loss), self.to_host(G)
