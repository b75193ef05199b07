"""The reference evaluator, written once for any NumPy-compatible array module.

With ``xp = numpy`` this is the oracle every other backend is tested against: plain
batched ``matmul`` over the population axis, nothing clever. With ``xp = cupy`` the very
same code runs on a GPU (:mod:`evoneuro.backends.cupy_backend`).

Each network kind has its reference code in a module of its own, named by the kind's
entry in :mod:`evoneuro.network.kinds`: :mod:`.mlp_array` (layers of :mod:`.layers`) and
:mod:`.rnn_array` (cells of :mod:`.cells`, BPTT). A module gives
``forward(xp, net, Theta, X, return_hidden, lengths)``, ``loss(xp, net, Theta, X, y,
lengths)`` and ``loss_and_grad(...)`` on arrays already on the device.
"""

from __future__ import annotations

from evoneuro.backends._blas_threads import blas_threads
from evoneuro.network.kinds import kind_of, table


def __getattr__(name: str):
    # The kind -> reference module table this module kept before the kind registry, read from it.
    if name == "KINDS":
        return table("reference", load=False)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def kind_code(net):
    """The reference-code module of ``net``'s kind."""
    return kind_of(net).load("reference")


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

    def _put(self, *arrays):
        return [None if a is None else self.to_device(a) for a in arrays]

    def forward(self, net, Theta, X, return_hidden: bool = False, lengths=None):
        code = kind_code(net)
        with blas_threads(self.n_jobs):
            out = code.forward(self.xp, net, *self._put(Theta, X), return_hidden, *self._put(lengths))
        if return_hidden:
            return self.to_host(out[0]), [self.to_host(z) for z in out[1]]
        return self.to_host(out)

    def loss(self, net, Theta, X, y, lengths=None):
        code = kind_code(net)
        with blas_threads(self.n_jobs):
            return self.to_host(code.loss(self.xp, net, *self._put(Theta, X, y, lengths)))

    def loss_and_grad(self, net, Theta, X, y, lengths=None):
        code = kind_code(net)
        with blas_threads(self.n_jobs):
            loss, G = code.loss_and_grad(self.xp, net, *self._put(Theta, X, y, lengths))
        return self.to_host(loss), self.to_host(G)
