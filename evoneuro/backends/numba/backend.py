"""The Numba CPU backend: fused population evaluation on ``n_jobs`` threads.

Every MLP runs the fused tile kernels (:mod:`.mlp_kernels`): per member and tile
of 64 samples, every layer in cache, the layer products register-blocked in vector
registers (:mod:`.simd`). A second family, one single-threaded BLAS ``gemm`` per
member and layer, was removed when the tiles overtook it everywhere: float32, one thread,
idle 2-core Zen 5 VM, configs A-D of ``shared/bench/configs.json``, tiles / BLAS time
0.46-0.47 forward and 0.51-1.0 with the gradient (BLAS's sgemm runs 256-bit kernels at
~100 GFLOP/s; the tiles' products reach ~200).

A call is many small tasks that up to ``n_jobs`` threads take as they become
free (:mod:`.pool`): no thread waits for another to start, so a busy machine slows
a call down by the CPU it lacks, not by the slowest thread's delay. Whether a call uses
one thread or ``n_jobs`` is learned from the timings of earlier calls
(:mod:`.tuner`): on a loaded machine one thread can be the faster.

Activations saturate exactly and their derivatives are computed from the pre-activation,
so gradients are right where units saturate (:mod:`.activations`).

``loss_and_grad`` splits the samples into a fixed number of groups that depends only on
the batch size (never on the population size or the thread count), so results are
bit-for-bit the same however the :class:`~evoneuro.Evaluator` chunks the population and
however many threads run it. Each kernel is compiled on first use for the dtypes it meets
and cached on disk (``NUMBA_CACHE_DIR``, else next to the source, else the user's cache
directory when the install is read-only).
"""

from __future__ import annotations

import functools
import importlib
import time

import numpy as np

from evoneuro._threads import check_n_jobs
from evoneuro.backends.numba import mlp_kernels as tiles, pool
from evoneuro.backends.numba.activations import ACT_CODES, F32_CODES
from evoneuro.backends.numba.tuner import ThreadTuner
from evoneuro.backends.numba.tiles import TILE, input_tiles
from evoneuro.backends.layers import LN_EPS

#: Network kind -> modules of fused kernels (``supports(net)``, ``forward``, ``loss``,
#: ``loss_and_grad``, each taking the backend first); the first that supports a net runs
#: it. Plain MLPs run the kernels below; WeightNorm MLPs run them on effective weights.
KINDS = {"rnn": ("evoneuro.backends.numba.rnn",), "mlp": ("evoneuro.backends.numba.weightnorm",)}


@functools.lru_cache(maxsize=64)
def _fused_code(net):
    """The module of fused kernels that covers ``net`` (nets are immutable and hashable), or
    None: looked up once per net, not at every evaluation."""
    for name in KINDS.get(getattr(net, "kind", None), ()):
        code = importlib.import_module(name)
        if code.supports(net):
            return code
    return None


MAX_GROUPS = 8  # sample groups per member in loss_and_grad (parallelism for small P)
MEMBERS_PER_TASK_FROM = 32  # from this population size on, a forward task is a whole member
# Below this many multiply-adds (about half a millisecond on one core since the
# register-blocked kernels) a call runs on the calling thread alone. Helpers are Python
# threads: on a loaded machine one that wakes late still takes the GIL for a moment after
# the call. Measured under two busy loops, before the tuner timed calls from one start to
# the next (it sees that cost now): adam on digits (8.9M per step) did 6,266 steps in 10 s
# with helpers against 10,065 on one thread; idle, one thread cost it under 10 %. Not
# re-measured with the interval timing, which may make this threshold unnecessary.
MIN_PARALLEL_MACS = 16_000_000


def layout(net, dtype):
    """Integer layout arrays and activation codes/parameters for the kernels."""
    sizes = np.asarray(net.sizes, dtype=np.int64)
    offs = np.asarray([s.w_start for s in net.layers], dtype=np.int64)
    f32 = dtype == np.float32
    codes, ab = [], []
    for act in net.activations:
        code = ACT_CODES[act.name]
        codes.append(F32_CODES.get(code, code) if f32 else code)
        ab.append((act.scale, act.slope))
    codes = np.asarray(codes if codes else [0], dtype=np.int64)
    ab = np.asarray(ab if ab else [(1.0, 1.0)], dtype=dtype).reshape(-1, 2)
    return sizes, offs, codes, ab


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


_NORMS = {"dense": tiles.PLAIN, "layernorm": tiles.LAYERNORM, "cosine": tiles.COSINE, "rbf": tiles.RBF}


def norms(net):
    """Per hidden layer, its kind's code in the tile kernels (plain, normalised or RBF)."""
    return np.asarray([_NORMS[s.kind] for s in net.layers[:-1]] or [tiles.PLAIN], dtype=np.int64)


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


def _tiles_cover(net) -> bool:
    """Plain MLPs, and MLPs with residual shortcuts, LayerNorm, cosine normalisation or RBF
    units: the fused kernels here (the tile kernels for those departures from plain). Not
    WeightNorm, which :mod:`.weightnorm` maps onto these kernels."""
    return net.is_plain or (getattr(net, "kind", None) == "mlp" and net.norm != "weightnorm")


def _targets(net, y, dtype):
    """(labels, targets) with a dummy of the right type for the unused one."""
    if net.output == "softmax":
        return np.ascontiguousarray(y, dtype=np.int64), np.zeros((1, 1), dtype=dtype)
    return np.zeros(1, dtype=np.int64), np.ascontiguousarray(y, dtype=dtype)


def n_groups(n_samples: int) -> int:
    """Sample groups per member in ``loss_and_grad``: a function of the batch size only."""
    return max(1, min(MAX_GROUPS, -(-n_samples // TILE)))


class NumbaBackend:
    """Parallel fused CPU evaluation with Numba; agrees with the NumPy reference.

    The fused kernels cover every MLP: plain ones, and residual, LayerNorm, cosine-normalised
    and RBF ones on the tile kernels; and the kinds of :data:`KINDS` (recurrent nets:
    :mod:`.rnn`; WeightNorm MLPs, with shortcuts and RBF layers or not, on effective
    weights: :mod:`.weightnorm`).

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

    def _kind(self, net, method: str):
        """``net``'s fused ``method`` (this backend bound first), or the reference's."""
        code = _fused_code(net)
        if code is not None:
            return functools.partial(getattr(code, method), self)
        return getattr(self._reference, method)

    def _run(self, kernel, n_tasks: int, args: tuple, macs: int, key) -> None:
        """Run a kernel on the thread count the tuner picks (one thread for small calls)."""
        if macs < MIN_PARALLEL_MACS:
            pool.run(kernel, n_tasks, args, 1)
            return
        workers = self._tuner.choose(key)
        t0 = time.perf_counter()
        pool.run(kernel, n_tasks, args, workers)
        self._tuner.called(key, workers, t0, time.perf_counter(), macs)

    def _run_forward(self, net, Theta, X, mode, y, Y, out, hid, hid_offs, loss):
        P, N = Theta.shape[0], X.shape[0]
        sizes, offs, codes, ab = layout(net, Theta.dtype)
        softmax = net.output == "softmax"
        macs = P * N * _macs(net)
        general, dims = _general(net)
        n_blocks = -(-N // TILE)
        # With enough members a task is a whole member: a member's weights are then read
        # by one core only (splitting its blocks over threads made both cores stream all
        # the weights: 1.5x slower on config B, 12 MB of weights).
        per_task = n_blocks if P >= MEMBERS_PER_TASK_FROM else 1
        n_tasks = P * -(-n_blocks // per_task)
        args = (Theta, input_tiles(X), N, sizes, offs, codes, ab, mode, softmax, y, Y, out, hid, hid_offs,
                loss, per_task, general, dims[:2])
        self._run(tiles.forward_work, n_tasks, args, macs, ("tiles", Theta.dtype))

    def forward(self, net, Theta, X, return_hidden: bool = False, lengths=None):
        if not _tiles_cover(net):
            return self._kind(net, "forward")(net, Theta, X, return_hidden, lengths)
        Theta, X = _c(Theta), _c(X, Theta.dtype)
        P, N = Theta.shape[0], X.shape[0]
        out = np.empty((P, N, net.n_outputs), dtype=Theta.dtype)
        hid_offs = np.concatenate([[0], np.cumsum(net.sizes[1:])]).astype(np.int64)
        hid = np.empty((P, N, hid_offs[-1]) if return_hidden else (1, 1, 1), dtype=Theta.dtype)
        y, Y = np.zeros(1, np.int64), np.zeros((1, 1), Theta.dtype)  # unused
        mode = tiles.OUT_HIDDEN if return_hidden else tiles.OUT
        self._run_forward(net, Theta, X, mode, y, Y, out, hid, hid_offs, np.zeros((1, 1)))
        if not return_hidden:
            return out
        zs = [np.ascontiguousarray(hid[:, :, hid_offs[l]:hid_offs[l + 1]]) for l in range(net.n_layers)]
        return out, zs

    def loss(self, net, Theta, X, y, lengths=None):
        if not _tiles_cover(net):
            return self._kind(net, "loss")(net, Theta, X, y, lengths)
        Theta, X = _c(Theta), _c(X, Theta.dtype)
        P, N = Theta.shape[0], X.shape[0]
        y, Y = _targets(net, y, Theta.dtype)
        rows = np.empty((P, N))
        unused = np.empty((1, 1, 1), Theta.dtype)
        self._run_forward(net, Theta, X, tiles.LOSS, y, Y, unused, unused, np.zeros(1, np.int64), rows)
        return rows.mean(axis=1)

    def loss_and_grad(self, net, Theta, X, y, lengths=None):
        if not _tiles_cover(net):
            return self._kind(net, "loss_and_grad")(net, Theta, X, y, lengths)
        Theta, X = _c(Theta), _c(X, Theta.dtype)
        P, N = Theta.shape[0], X.shape[0]
        sizes, offs, codes, ab = layout(net, Theta.dtype)
        y, Y = _targets(net, y, Theta.dtype)
        softmax = net.output == "softmax"
        S = n_groups(N)
        rows = np.empty((P, N))
        G = np.empty((P, S, net.n_params), dtype=Theta.dtype)
        macs = 3 * P * N * _macs(net)
        general, dims = _general(net)
        h_offs = np.concatenate([[0], np.cumsum(net.sizes[:-1])]).astype(np.int64)
        d_offs = np.concatenate([[0], np.cumsum(net.sizes[1:-1])]).astype(np.int64)
        args = (Theta, input_tiles(X), N, sizes, offs, codes, ab, softmax, y, Y, rows, G, S, h_offs, d_offs,
                general, dims)
        self._run(tiles.loss_grad_work, P * S, args, macs, ("tiles-grad", Theta.dtype))
        grads = G[:, 0].copy() if S == 1 else G.sum(axis=1)
        return rows.mean(axis=1), grads


def _macs(net) -> int:
    """Multiply-adds per sample of one member's forward pass."""
    return sum(s.fan_in * s.fan_out for s in net.layers)


def _c(a, dtype=None):
    return np.ascontiguousarray(a, dtype=dtype)
