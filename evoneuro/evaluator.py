"""One call turns a population of weight vectors into losses (and gradients)."""

from __future__ import annotations

from typing import Any

import numpy as np

from evoneuro._threads import check_n_jobs
from evoneuro._validation import check_dtype, check_positive_int
from evoneuro.backends import get_backend, numba_available
from evoneuro.network.base import Network

DEFAULT_MAX_MEMORY = 1 << 30  # bytes of intermediate arrays per backend call


def _lengths_kw(lengths) -> dict:
    # Backends are only handed lengths when there are some, so a backend object written
    # for MLPs (forward/loss/loss_and_grad without lengths) keeps working.
    return {} if lengths is None else {"lengths": lengths}


class Evaluator:
    """Evaluate a whole population of networks in one call.

    Every optimizer in evoneuro talks only to an evaluator, so backprop and CMA-ES are
    compared on exactly the same computation.

    Parameters
    ----------
    net : MLP or RNN
        The network specification: any :class:`~evoneuro.network.base.Network` kind. An
        MLP takes ``X`` of shape ``(N, n_inputs)``, an RNN ``(N, T, n_inputs)``.
    backend : {"numpy", "numba", "cupy", "auto"}, default="numpy"
        ``numpy`` is the reference; ``auto`` picks ``numba`` where it imports.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the computation; gradient checks use float64.
    max_memory : int, default=2**30
        Bytes of intermediate arrays one backend call may hold. A larger population is
        evaluated in chunks of members; the results are identical.
    n_jobs : int or None, default=None
        Threads one call may use: the Numba kernels' threads, or the BLAS threads of the
        numpy backend. ``None`` or ``-1``: every CPU this process may use
        (:func:`os.sched_getaffinity`), never more; ``-k``: all but ``k - 1``. Results
        do not depend on it. The resolved count is ``evaluator.n_jobs``.

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> net = en.MLP(n_inputs=4, hidden=(8,) * 3, n_outputs=3, activation="sigmoid")
    >>> ev = en.Evaluator(net, backend="numpy", dtype="float64")
    >>> rng = np.random.default_rng(0)
    >>> Theta = net.init_population(5, rng)
    >>> X, y = rng.normal(size=(10, 4)), rng.integers(0, 3, size=10)
    >>> ev.forward(Theta, X).shape
    (5, 10, 3)
    >>> losses, grads = ev.loss_and_grad(Theta, X, y)
    >>> losses.shape, grads.shape
    ((5,), (5, 211))
    >>> en.Evaluator(net, backend="numpy", n_jobs=1).n_jobs
    1

    A recurrent net takes sequences, with optional per-sequence lengths (padding masked):

    >>> rnn = en.RNN(n_inputs=1, hidden=(8,), n_outputs=2, cell="gru")
    >>> ev = en.Evaluator(rnn, dtype="float64")
    >>> X, y = rng.normal(size=(10, 6)), rng.integers(0, 2, size=10)   # (N, T) when d == 1
    >>> ev.loss(rnn.init_population(5, rng), X, y, lengths=np.full(10, 4)).shape
    (5,)
    """

    def __init__(self, net: Network, backend: str = "numpy", dtype: Any = "float32",
                 max_memory: int = DEFAULT_MAX_MEMORY, n_jobs: int | None = None) -> None:
        if not isinstance(net, Network):
            raise TypeError(f"net must be an evoneuro.MLP or evoneuro.RNN (a Network), got {type(net).__name__}")
        self.net = net
        self.dtype = check_dtype(dtype)
        self.max_memory = check_positive_int(max_memory, "max_memory")
        self._n_jobs_param = n_jobs
        self.n_jobs = check_n_jobs(n_jobs)
        self._backend = get_backend(backend, self.n_jobs)
        self.backend = self._backend.name

    def __setstate__(self, state: dict) -> None:
        # Unpickled on another machine (a dask worker, a resumed checkpoint), n_jobs=None
        # means that machine's CPUs, not the ones of the machine that pickled it.
        self.__dict__.update(state)
        param = state.get("_n_jobs_param")
        if param is None or (isinstance(param, int) and param < 0):
            n = check_n_jobs(param)
            if n != self.n_jobs and hasattr(self._backend, "n_jobs"):
                self.n_jobs = n
                self._backend = get_backend(self.backend, n)

    def __repr__(self) -> str:
        return f"Evaluator({self.net!r}, backend={self.backend!r}, dtype={self.dtype.name!r})"

    @property
    def implementation(self):
        """The backend object behind this evaluator; code that can use a backend's extra
        abilities (the Numba backend's readout solve) asks it with ``getattr``."""
        return self._backend

    # --- input handling --------------------------------------------------------------

    def check_Theta(self, Theta) -> np.ndarray:
        """``Theta`` as a C-contiguous ``(P, n_params)`` array of the evaluator's dtype."""
        arr = self.net.check_theta(Theta, "Theta")
        return np.ascontiguousarray(np.atleast_2d(arr), dtype=self.dtype)

    def check_X(self, X) -> np.ndarray:
        """``X`` in the shape the net's kind takes, finite, C-contiguous in the evaluator's dtype."""
        return self.net.check_X(X, self.dtype)

    def check_y(self, y, n_samples: int, X=None) -> np.ndarray:
        """Labels for softmax nets, targets ``(N, n_outputs)`` otherwise (per step for an RNN
        with ``readout="all"``; the checked ``X``, when given, fixes the number of steps)."""
        return self.net.check_y(y, n_samples, self.dtype, X=X)

    def check_lengths(self, lengths, X) -> np.ndarray | None:
        """Per-sequence lengths ``(N,)`` as int64 in ``[1, T]`` for the checked ``X``, or None."""
        return self.net.check_lengths(lengths, X)

    def chunk_size(self, n_samples, need_grad: bool) -> int:
        """Members per backend call so that intermediates stay under ``max_memory``.

        ``n_samples`` is the number of rows, or the shape of the checked ``X``.
        """
        shape = tuple(n_samples) if isinstance(n_samples, tuple) else (int(n_samples),)
        per_member = self.net.memory_per_member(shape, need_grad) * self.dtype.itemsize
        return max(1, self.max_memory // per_member)

    def _chunks(self, P: int, X_shape: tuple, need_grad: bool):
        step = self.chunk_size(X_shape, need_grad)
        return [slice(i, min(i + step, P)) for i in range(0, P, step)]

    # --- evaluation ------------------------------------------------------------------

    def forward(self, Theta, X, return_hidden: bool = False, lengths=None):
        """Network outputs ``(P, N, n_outputs)``: class probabilities or linear outputs.

        ``Theta`` of shape ``(n_params,)`` is a population of one (``P = 1``). With
        ``return_hidden=True`` also returns the list of every layer's pre-activations
        (for an MLP ``z_l`` of shape ``(P, N, width_l)``; for an RNN ``(P, N, T, G*H)`` per
        recurrent layer), the output layer's logits last. An RNN with ``readout="all"``
        gives ``(P, N, T, n_outputs)``; ``lengths`` (RNN only) are the valid steps per
        sequence.
        """
        Theta, X = self.check_Theta(Theta), self.check_X(X)
        kw = _lengths_kw(self.check_lengths(lengths, X))
        parts = [self._backend.forward(self.net, Theta[c], X, return_hidden, **kw)
                 for c in self._chunks(len(Theta), X.shape, return_hidden)]
        if not return_hidden:
            return parts[0] if len(parts) == 1 else np.concatenate(parts)
        out = np.concatenate([p[0] for p in parts])
        hidden = [np.concatenate([p[1][l] for p in parts]) for l in range(len(parts[0][1]))]
        return out, hidden

    def loss(self, Theta, X, y, lengths=None) -> np.ndarray:
        """Mean loss of each member ``(P,)`` (float64): cross-entropy or mean squared error.

        ``lengths`` (RNN only): valid steps per sequence; the padding after them is masked.
        """
        Theta, X = self.check_Theta(Theta), self.check_X(X)
        return self._loss(Theta, X, self.check_y(y, len(X), X), self.check_lengths(lengths, X))

    def loss_and_grad(self, Theta, X, y, lengths=None) -> tuple[np.ndarray, np.ndarray]:
        """Mean losses ``(P,)`` (float64) and their gradients ``(P, n_params)`` (evaluator dtype)."""
        Theta, X = self.check_Theta(Theta), self.check_X(X)
        return self._loss_and_grad(Theta, X, self.check_y(y, len(X), X), self.check_lengths(lengths, X))

    # The unchecked versions take inputs already passed through check_Theta/check_X/check_y
    # (and check_lengths): a SupervisedProblem validates its data once, not at every step.

    def _loss(self, Theta: np.ndarray, X: np.ndarray, y: np.ndarray, lengths=None) -> np.ndarray:
        kw = _lengths_kw(lengths)
        parts = [self._backend.loss(self.net, Theta[c], X, y, **kw) for c in self._chunks(len(Theta), X.shape, False)]
        losses = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return losses.astype(np.float64, copy=False)

    def _loss_and_grad(self, Theta: np.ndarray, X: np.ndarray, y: np.ndarray,
                       lengths=None) -> tuple[np.ndarray, np.ndarray]:
        kw = _lengths_kw(lengths)
        parts = [self._backend.loss_and_grad(self.net, Theta[c], X, y, **kw)
                 for c in self._chunks(len(Theta), X.shape, True)]
        if len(parts) == 1:  # the usual case: no copy of the (P, n) gradient
            losses, grads = parts[0]
        else:
            losses, grads = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        return losses.astype(np.float64, copy=False), grads.astype(self.dtype, copy=False)

    def supports_partial_sums(self) -> bool:
        """Whether :meth:`partial_sums` runs this net here: its losses and gradients then
        split into fixed sample groups whose sums add up, in order, to the same bits
        (data-parallel evaluation, :mod:`evoneuro.distributed`)."""
        fn = getattr(self._backend, "supports_partial_sums", None)
        return bool(fn is not None and fn(self.net))

    def partial_sums(self, Theta, X, y, per_group: int, need_grad: bool = False,
                     n_mean: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Each group of ``per_group`` rows' loss sum ``(P, S)`` and its share of the
        gradient of the mean loss over ``n_mean`` rows ``(P, S, n_params)`` (or None).

        On validated arrays (``check_Theta``, ``check_X``, ``check_y``); the groups of a
        batch of ``N`` rows are ``backends.numba._jit.group_rows(N)`` rows each, and
        ``loss`` is their sums added in group order, divided by ``N``.

        Examples
        --------
        >>> import numpy as np
        >>> import evoneuro as en
        >>> net = en.MLP(4, (8,), 3)
        >>> ev = en.Evaluator(net, backend="numba", dtype="float64")
        >>> rng = np.random.default_rng(0)
        >>> Theta, X, y = net.init_population(2, rng), rng.normal(size=(200, 4)), rng.integers(0, 3, 200)
        >>> sums, _ = ev.partial_sums(Theta, X, y, per_group=64)
        >>> sums.shape, bool(np.array_equal(ev.loss(Theta, X, y), (((sums[:, 0] + sums[:, 1]) + sums[:, 2])
        ...                                                          + sums[:, 3]) / 200))
        ((2, 4), True)
        """
        if not self.supports_partial_sums():
            raise ValueError(f"backend {self.backend!r} has no per-group sums for this net; "
                             "use backend='numba' (or evaluate the rows in one place)")
        parts = [self._backend.partial_sums(self.net, Theta[c], X, y, per_group, need_grad, n_mean)
                 for c in self._chunks(len(Theta), X.shape, need_grad)]
        sums = np.concatenate([p[0] for p in parts])
        return sums, (np.concatenate([p[1] for p in parts]) if need_grad else None)

    def predict(self, theta, X, lengths=None) -> np.ndarray:
        """Outputs of one network ``theta`` ``(n_params,)`` on ``X``: shape ``(N, n_outputs)``."""
        theta = self.net.check_theta(theta, "theta")
        if theta.ndim != 1:
            raise ValueError(f"theta must be one vector of shape ({self.net.n_params},), got {theta.shape}")
        return self.forward(theta, X, lengths=lengths)[0]


def warmup_names() -> dict[str, tuple[str, ...]]:
    """What :func:`warmup` can compile: every registered network kind (its
    :meth:`~evoneuro.network.base.Network.warmup_examples`), and each of those examples
    alone (``"rnn"`` is its three cells, ``"lstm"`` one of them).

    Examples
    --------
    >>> from evoneuro.evaluator import warmup_names
    >>> warmup_names()["rnn"], warmup_names()["lstm"]
    (('elman', 'lstm', 'gru'), ('lstm',))
    """
    from evoneuro.network.kinds import KINDS

    names: dict[str, tuple[str, ...]] = {}
    for kind in KINDS.values():
        examples = tuple(kind.load("spec").warmup_examples())
        names[kind.name] = examples
        names.update((example, (example,)) for example in examples if example != kind.name)
    return names


def warmup(kinds=("mlp", "rnn"), dtypes=("float32",)) -> dict[str, float]:
    """Compile the Numba kernels of ``kinds`` now, so that no later fit waits for them.

    Numba compiles a kind's kernels for this CPU the first time a process needs them (a
    few seconds to tens of seconds, said once on stderr) and caches them on disk, so a
    later process loads them in a fraction of a second. ``evoneuro warmup`` runs this once
    after installing: every fit, ``minimize`` and ``predict`` then starts at once. Each
    kind's forward and gradient kernels are compiled, as the estimators use them (float32
    by default), on the small nets its specification's ``warmup_examples`` gives.

    Parameters
    ----------
    kinds : sequence of str, default=("mlp", "rnn")
        Registered network kinds (``"mlp"``, ``"rnn"`` — the Elman, LSTM and GRU cells —,
        ``"pyramid"``) or single recurrent cells ``"elman"``, ``"lstm"``, ``"gru"``; see
        :func:`warmup_names`.
    dtypes : sequence of {"float32", "float64"}, default=("float32",)

    Returns
    -------
    dict
        Seconds spent compiling per example (``"mlp"``, ``"elman"``, ...; dtypes summed):
        0.0 for kernels already in the disk cache. Empty when Numba is not installed
        (nothing to compile: the NumPy backend runs).

    Examples
    --------
    >>> import evoneuro as en
    >>> seconds = en.warmup(kinds=["mlp"])   # compiles, or loads the cached kernels
    >>> sorted(seconds)
    ['mlp']
    """
    from evoneuro.network.kinds import KINDS

    if isinstance(kinds, str):
        kinds = [k.strip() for k in kinds.split(",") if k.strip()]
    if isinstance(dtypes, str):
        dtypes = [dtypes]
    names = warmup_names()
    wrong = [k for k in kinds if k not in names]
    if wrong or not kinds:
        raise ValueError(f"kinds must name some of {list(names)}, got {list(kinds)!r}")
    dtypes = [check_dtype(d) for d in dtypes]
    if not numba_available():
        return {}
    from evoneuro.backends.numba.compiling import seconds

    examples = {name: case for kind in KINDS.values() for name, case in kind.load("spec").warmup_examples().items()}
    rng = np.random.default_rng(0)
    spent: dict[str, float] = {}
    for name in dict.fromkeys(k for kind in kinds for k in names[kind]):
        net, X, y = examples[name]
        c0 = seconds()
        for dtype in dtypes:
            ev = Evaluator(net, backend="numba", dtype=dtype, n_jobs=1)
            Theta = net.init_population(2, rng)
            ev.loss_and_grad(Theta, X, y)
            ev.loss(Theta, X, y)  # the forward kernel, when the gradient's came from the cache
        spent[name] = seconds() - c0
    return spent
