"""The Numba CPU backend: fused population evaluation on ``n_jobs`` threads.

:class:`NumbaBackend` looks a net's code up in the network-kind registry
(:func:`evoneuro.network.kinds.kind_of`): the module its kind names for Numba
(:mod:`.mlp`, :mod:`.rnn`) runs the net when its ``supports(net)`` says so, else the NumPy
reference does. The lookup is made once per net (nets are immutable and hashable).

A call is many small tasks that up to ``n_jobs`` threads take as they become
free (:mod:`.pool`): no thread waits for another to start, so a busy machine slows
a call down by the CPU it lacks, not by the slowest thread's delay. Whether a call uses
one thread or ``n_jobs`` is learned from the timings of earlier calls
(:mod:`.tuner`): on a loaded machine one thread can be the faster.

Activations saturate exactly and their derivatives are computed from the pre-activation,
so gradients are right where units saturate (:mod:`.activations`).

``loss_and_grad`` splits the samples into a fixed number of groups that depends only on
the batch size (:func:`~._jit.n_groups`; never on the population size or the thread count),
so results are bit-for-bit the same however the :class:`~evoneuro.Evaluator` chunks the
population and however many threads run it. Each kernel is compiled on first use for the
dtypes it meets and cached on disk (``NUMBA_CACHE_DIR``, else next to the source, else the
user's cache directory when the install is read-only); the first compilation of a kind in a
process says so on stderr, once, with its duration (:mod:`.compiling`). A kind's first
gradient call that compiles also compiles its forward kernel on one sample: ``predict`` and
held-out scores need it, so a fit compiles, and counts in its ``compile_seconds``,
everything the first ``predict`` will run.
"""

from __future__ import annotations

import functools
import time

from evoneuro._threads import check_n_jobs
from evoneuro.backends.numba import compiling, pool, readout
from evoneuro.backends.numba.tuner import ThreadTuner
from evoneuro.network.kinds import kind_of, table

# Below this many multiply-adds (about half a millisecond on one core) a call runs on the
# calling thread alone. Helpers are Python threads: on a loaded machine one that wakes late
# still takes the GIL for a moment after the call, which costs a small call more than a
# second core saves. The tuner's call-to-call timing (:mod:`.tuner`) sees that cost too,
# which may make this threshold unnecessary.
MIN_PARALLEL_MACS = 16_000_000


def __getattr__(name: str):
    # The kind -> Numba modules table this module kept before the kind registry, read from it.
    if name == "KINDS":
        return {kind: (path,) for kind, path in table("numba", load=False).items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.lru_cache(maxsize=64)
def _kind_code(net):
    """The Numba module of ``net``'s kind when it supports ``net``, else None (the reference
    runs it): looked up once per net, not at every evaluation."""
    code = kind_of(net).load("numba")
    return code if code.supports(net) else None


class NumbaBackend:
    """Parallel fused CPU evaluation with Numba; agrees with the NumPy reference.

    The fused kernels cover every MLP (:mod:`.mlp`) and the recurrent nets whose cells,
    outputs and update :mod:`.rnn` supports; other nets run the NumPy reference.

    Parameters
    ----------
    n_jobs : int or None, default=None
        Threads per call (the caller's included); ``None``/``-1``: every CPU this
        process may use. Results do not depend on it.

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> net = en.MLP(n_inputs=4, hidden=(8, 8), n_outputs=3)
    >>> ev = en.Evaluator(net, backend="numba", dtype="float64", n_jobs=2)
    >>> ref = en.Evaluator(net, backend="numpy", dtype="float64")
    >>> rng = np.random.default_rng(0)
    >>> Theta, X, y = net.init_population(3, rng), rng.normal(size=(5, 4)), np.array([0, 1, 2, 0, 1])
    >>> bool(np.allclose(ev.loss(Theta, X, y), ref.loss(Theta, X, y), rtol=1e-12))
    True
    """

    name = "numba"

    def __init__(self, n_jobs: int | None = None) -> None:
        from evoneuro.backends.numpy_backend import NumpyBackend

        self.n_jobs = check_n_jobs(n_jobs)
        self._reference = NumpyBackend(n_jobs=self.n_jobs)
        self._tuner = ThreadTuner(self.n_jobs)

    def _run(self, kernel, n_tasks: int, args: tuple, macs: int, key) -> None:
        """Run a kernel on the thread count the tuner picks (one thread for small calls)."""
        if macs < MIN_PARALLEL_MACS:
            pool.run(kernel, n_tasks, args, 1)
            return
        workers = self._tuner.choose(key)
        t0 = time.perf_counter()
        pool.run(kernel, n_tasks, args, workers)
        self._tuner.called(key, workers, t0, time.perf_counter(), macs)

    def fit_readouts(self, Z, T, y, ridge, temperature=True, loo=True, **activation):
        """Ridge readouts of a population on this backend's threads (see
        :func:`.readout.fit_readouts`, whose arguments these are)."""
        try:
            return readout.fit_readouts(Z, T, y, ridge, temperature, loo, n_jobs=self.n_jobs, **activation)
        finally:
            compiling.close()

    def forward(self, net, Theta, X, return_hidden: bool = False, lengths=None):
        code = _kind_code(net)
        if code is None:
            return self._reference.forward(net, Theta, X, return_hidden, lengths)
        try:
            return code.forward(self, net, Theta, X, return_hidden, lengths)
        finally:
            compiling.close()

    def loss(self, net, Theta, X, y, lengths=None):
        code = _kind_code(net)
        if code is None:
            return self._reference.loss(net, Theta, X, y, lengths)
        try:
            return code.loss(self, net, Theta, X, y, lengths)
        finally:
            compiling.close()

    def loss_and_grad(self, net, Theta, X, y, lengths=None):
        code = _kind_code(net)
        if code is None:
            return self._reference.loss_and_grad(net, Theta, X, y, lengths)
        compiled = compiling.seconds()
        try:
            result = code.loss_and_grad(self, net, Theta, X, y, lengths)
            if compiling.seconds() != compiled:  # a cold start: the forward kernel too, on one sample
                code.loss(self, net, Theta[:1], X[:1], y[:1], None if lengths is None else lengths[:1])
            return result
        finally:
            compiling.close()

    def supports_partial_sums(self, net) -> bool:
        """Whether :meth:`partial_sums` runs ``net`` (its kind's Numba module has them)."""
        code = _kind_code(net)
        return code is not None and hasattr(code, "partial_sums") and code.supports_partial_sums(net)

    def partial_sums(self, net, Theta, X, y, per_group: int, need_grad: bool, n_mean: int | None = None):
        """Each sample group's loss sum ``(P, S)`` and gradient ``(P, S, n)`` (or None):
        the kind's ``partial_sums``, which :meth:`loss` and :meth:`loss_and_grad` add in order."""
        if not self.supports_partial_sums(net):
            raise ValueError(f"the Numba backend has no per-group sums for this net ({net!r}); evaluate it whole")
        try:
            return _kind_code(net).partial_sums(self, net, Theta, X, y, per_group, need_grad, n_mean)
        finally:
            compiling.close()

