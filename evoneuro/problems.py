"""What an optimizer evaluates, and what it costs.

A problem turns a population ``Theta`` ``(P, n)`` into losses ``(P,)`` (and gradients) and
keeps the books: cost is counted in **sample-forward equivalents** — a forward pass over N
samples costs N, a backward pass 2N more — so a gradient step and a generation of CMA-ES
are charged on the same scale. For a custom fitness one call of ``f(x)`` costs 1.

:class:`SupervisedProblem` draws one minibatch per step (``begin_step``), shared by the
whole population: a fair comparison, and less noise between members.
"""

from __future__ import annotations

import warnings

import numpy as np

from evoneuro._validation import check_bool, check_positive_float, check_positive_int, fitness_numbers
from evoneuro.distributed import check_on_error, check_parallel
from evoneuro.evaluator import Evaluator
from evoneuro.regularization import Regularization, check_droppable, penalty, perturb, weight_mask


class Problem:
    """Base class: ``evaluate``, ``begin_step``, and the cost counter ``evals``."""

    n_params: int
    #: True when the same point always gets the same loss (no minibatch noise).
    deterministic: bool = True
    #: ``(start, end)`` ranges of the parameter vector that form one layer each (used by
    #: layer-wise optimizers); ``None`` means the whole vector is one block.
    layer_slices: list[tuple[int, int]] | None = None

    def __init__(self) -> None:
        self.evals = 0
        self._warned: set[str] = set()

    def begin_step(self, rng: np.random.Generator) -> None:
        """Called once before every optimizer step (draws the step's minibatch)."""

    def evaluate(self, Theta, need_grad: bool = False):
        """Losses ``(P,)`` float64 and gradients ``(P, n)`` or None."""
        raise NotImplementedError

    def full_loss(self, x) -> float:
        """Loss of one point on the whole problem (all training data).

        A measurement for reporting: it is not charged to :attr:`evals`, so it never eats
        into a budget or changes a run.
        """
        evals = self.evals
        try:
            return float(self.evaluate(np.atleast_2d(x))[0][0])
        finally:
            self.evals = evals

    def _set_executor(self, executor, parallel: str, retries: int, timeout: float | None,
                      modes: tuple[str, ...]) -> None:
        """Check and set the executor settings both problem kinds take: ``executor``
        (anything with a ``submit`` method, or None), ``parallel`` (one of ``modes``),
        ``retries`` and ``timeout``; the payload and the measured member cost start empty."""
        if executor is not None and not callable(getattr(executor, "submit", None)):
            raise TypeError("executor must be a concurrent.futures.Executor or a dask.distributed "
                            f"Client (an object with a submit method), got {type(executor).__name__}")
        self.parallel = check_parallel(parallel)
        if self.parallel not in modes:
            raise ValueError(f"a {type(self).__name__} takes parallel in {list(modes)}, got {parallel!r} "
                             "('members' is for a fitness function, 'data' shards a SupervisedProblem's rows)")
        self.executor = executor
        self.retries = check_positive_int(retries, "retries", minimum=0)
        self.timeout = check_positive_float(timeout, "timeout", allow_none=True)
        self._payload = None
        self._member_seconds: float | None = None

    def _warn_once(self, cause: str, message: str) -> None:
        """Warn about ``cause`` the first time only: one warning per cause per problem."""
        warned = self.__dict__.setdefault("_warned", set())  # problems pickled before it existed
        if cause not in warned:
            warned.add(cause)
            warnings.warn(message, RuntimeWarning, stacklevel=4)

    def _nonfinite_to_worst(self, losses: np.ndarray, reported: np.ndarray | None = None) -> np.ndarray:
        """NaN and +-inf losses become +inf (the worst), with one warning per problem;
        ``reported`` marks members already warned about for another cause."""
        bad = ~np.isfinite(losses)
        if bad.any():
            new = bad if reported is None else bad & ~reported
            if new.any():
                self._warn_once("nonfinite", f"{int(new.sum())} of {losses.size} losses were NaN or infinite; "
                                "they count as the worst value (+inf). Further occurrences are not reported.")
            losses = np.where(bad, np.inf, losses)
        return losses


class SupervisedProblem(Problem):
    """Mean loss of a network on ``(X, y)``, one shared minibatch per step.

    Parameters
    ----------
    evaluator : Evaluator
        Computes losses and gradients for the whole population.
    X, y : array-like
        Training data; ``y`` holds class labels ``0..K-1`` (softmax nets) or targets.
    batch_size : int or None, default=None
        Rows per step; ``None`` or ``>= len(X)`` means full batch.
    alpha : float, default=0.0
        L2 weight decay with scikit-learn's meaning: ``0.5 * alpha * ||W||² / n`` added to
        the mean loss of a batch of ``n`` rows (weight matrices only), and its gradient.
    input_noise, weight_noise : float, default=0.0
        Standard deviation of Gaussian noise added to the step's inputs (shared by the
        population) or to each member's weights before each evaluation.
    dropout : float, default=0.0
        Probability of dropping each hidden unit, per member and evaluation, the same
        for every row of the batch. See :mod:`evoneuro.regularization`.
    lengths : array-like of int (N,) or None, default=None
        Recurrent nets: the valid steps of each sequence (the padding after them is
        masked). A sequence of ``T`` steps costs ``T`` in :attr:`evals`.
    executor : dask.distributed.Client, concurrent.futures.Executor or None, default=None
        Evaluate on it, with the bits of serial evaluation (:mod:`evoneuro.distributed`).
        Not pickled with the problem.
    parallel : {"auto", "chunks", "data"}, default="auto"
        With an executor: ``"chunks"``, a few chunks of the population per worker, the rows
        sent to the workers once; ``"data"``, each worker of a dask ``Client`` holds a shard
        of the rows and evaluates the whole population on it (a full batch, without input
        noise, on an evaluator with per-group sums: the Numba backend's MLPs). ``"auto"``
        chooses per call: ``"data"`` where it applies and the population is smaller than
        the workers' threads (the gradient optimizers), else ``"chunks"``.
    retries, timeout : int, float or None
        With an executor: further tries of a lost or timed-out task, and the seconds one
        try may take (see :mod:`evoneuro.distributed`).

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> net = en.MLP(4, (8,), 3)
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(20, 4)), rng.integers(0, 3, 20)
    >>> prob = en.SupervisedProblem(en.Evaluator(net), X, y, batch_size=10)
    >>> prob.begin_step(rng)
    >>> losses, _ = prob.evaluate(net.init_population(4, rng))
    >>> losses.shape, prob.evals
    ((4,), 40)
    """

    def __init__(self, evaluator: Evaluator, X, y, batch_size: int | None = None, *, alpha: float = 0.0,
                 input_noise: float = 0.0, weight_noise: float = 0.0, dropout: float = 0.0, lengths=None,
                 executor=None, parallel: str = "auto", retries: int = 2, timeout: float | None = None) -> None:
        super().__init__()
        if not isinstance(evaluator, Evaluator):
            raise TypeError(f"evaluator must be an evoneuro.Evaluator, got {type(evaluator).__name__}")
        self.evaluator = evaluator
        self.net = evaluator.net
        self.n_params = self.net.n_params
        self.X = evaluator.check_X(X)
        self.y = evaluator.check_y(y, len(self.X), self.X)
        self.lengths = evaluator.check_lengths(lengths, self.X)
        self.n_samples = len(self.X)
        bs = check_positive_int(batch_size, "batch_size", allow_none=True)
        self.batch_size = self.n_samples if bs is None or bs >= self.n_samples else bs
        self.regularization = Regularization(alpha, input_noise, weight_noise, dropout)
        largest = float(np.finfo(evaluator.dtype).max)
        for name in ("input_noise", "weight_noise"):
            sd = getattr(self.regularization, name)
            if not 8.0 * sd < largest:  # eight standard deviations stay finite
                raise ValueError(f"{name}={sd:g} is too large for the evaluator's {evaluator.dtype.name}: its noise "
                                 f"would overflow to infinity (largest {largest:.3g}); give a standard deviation "
                                 f"below {largest / 8:.3g}")
        if self.regularization.dropout:
            check_droppable(self.net)
        self._not_decayed = np.flatnonzero(~weight_mask(self.net))  # biases, gains: a few hundred
        self._full_batch = self.batch_size == self.n_samples
        self.deterministic = self._full_batch and not self.regularization.stochastic
        self.layer_slices = [(s.w_start, s.end) for s in self.net.layers]
        self._order = np.arange(self.n_samples)
        self._pos = self.n_samples
        self._batch = (self.X, self.y)
        self._batch_lengths = self.lengths
        self._batch_index: np.ndarray | None = None  # the step's rows; None: all of them
        self._noise_rng: np.random.Generator | None = None
        self._set_executor(executor, parallel, retries, timeout, ("auto", "chunks", "data"))
        self._shards = None
        if executor is not None and self.parallel == "data":
            self._data_parallel_or_error()

    def begin_step(self, rng: np.random.Generator) -> None:
        reg = self.regularization
        if not self._full_batch:
            self._next_batch(rng)
        if not reg.stochastic:
            return
        # Noise is drawn from a generator seeded here, so a run without it draws exactly
        # what it drew before regularisation existed, and a resumed run continues it.
        if reg.input_noise:
            Xb, yb = self._batch if not self._full_batch else (self.X, self.y)
            noise = rng.standard_normal(Xb.shape, dtype=Xb.dtype)
            self._batch = (Xb + reg.input_noise * noise, yb)
        if reg.perturbs_weights:
            self._noise_rng = np.random.default_rng(rng.integers(2**63))

    def _next_batch(self, rng: np.random.Generator) -> None:
        # Epoch-wise shuffling: every sample is seen exactly once per pass over the data.
        # The remainder of N / batch_size is a batch of its own when it is at least half a
        # batch, else the pass's last batch takes it (a population ranked on a handful of
        # rows would learn noise): batches hold between 1/2 and 3/2 batch_size rows.
        if self._pos >= self.n_samples:
            self._order = rng.permutation(self.n_samples)
            self._pos = 0
        end = self._pos + self.batch_size
        if self.n_samples - end < self.batch_size / 2:
            end = self.n_samples
        idx = self._order[self._pos : end]
        self._pos = end
        self._batch_index = idx
        self._batch = (self.X[idx], self.y[idx])
        self._batch_lengths = None if self.lengths is None else self.lengths[idx]

    @property
    def steps_per_epoch(self) -> int:
        """Steps of one pass over the data (1 for the full batch)."""
        full, rest = divmod(self.n_samples, self.batch_size)
        return full + (1 if rest >= self.batch_size / 2 or full == 0 else 0)

    def evaluate(self, Theta, need_grad: bool = False):
        Xb, yb = self._batch  # validated once, in __init__
        Theta = self.evaluator.check_Theta(Theta)
        reg = self.regularization
        evaluated, factor = Theta, None
        if reg.perturbs_weights:
            if self._noise_rng is None:  # evaluated before any begin_step
                self._noise_rng = np.random.default_rng(0)
            evaluated, factor = perturb(reg, self.net, self._not_decayed, Theta, self._noise_rng)
        if self.__dict__.get("executor") is not None:
            losses, grads = self._distributed(evaluated, need_grad)
            if factor is not None and grads is not None:
                grads = grads * factor
        elif need_grad:
            losses, grads = self.evaluator._loss_and_grad(evaluated, Xb, yb, self._batch_lengths)
            if factor is not None:
                grads = grads * factor
        else:
            losses, grads = self.evaluator._loss(evaluated, Xb, yb, self._batch_lengths), None
        if reg.alpha:
            losses = losses + penalty(reg, self._not_decayed, Theta, len(Xb), grads)
        self.evals += len(Theta) * self.net.forward_cost(Xb.shape) * (3 if need_grad else 1)
        losses = self._nonfinite_to_worst(losses)
        if grads is not None:
            grads = self._nonfinite_grads_to_zero(losses, grads)
        return losses, grads

    # --- on an executor (evoneuro.distributed) -------------------------------------------

    def _data_parallel_or_error(self) -> None:
        """Raise a ValueError saying why ``parallel="data"`` cannot shard these rows."""
        from evoneuro.distributed.members import _dask_client

        why = None
        if _dask_client(self.executor) is None:
            why = "it needs a dask.distributed Client"
        elif not self._full_batch:
            why = "it shards the full batch (batch_size=None); minibatches run in chunks"
        elif self.regularization.input_noise:
            why = "input noise changes the rows every step"
        elif not self.evaluator.supports_partial_sums():
            why = f"the evaluator (backend {self.evaluator.backend!r}) has no per-group sums for this net"
        if why is not None:
            raise ValueError(f"parallel='data' cannot shard these rows: {why}; use parallel='chunks' or 'auto'")

    def _can_shard(self) -> bool:
        try:
            self._data_parallel_or_error()
        except ValueError:
            return False
        return True

    def _distributed(self, Theta: np.ndarray, need_grad: bool):
        """Losses and gradients of ``Theta`` on the executor, the bits of serial evaluation."""
        from evoneuro.distributed import ShardedData, worker_threads

        mode = self.parallel
        if mode == "auto":
            mode = "data" if self._can_shard() and len(Theta) < worker_threads(self.executor) else "chunks"
        if mode == "data":
            if self.__dict__.get("_shards") is None:
                self._shards = ShardedData(self.executor, self.evaluator, self.X, self.y, retries=self.retries,
                                           timeout=self.timeout)
            return self._shards.evaluate(Theta, need_grad)
        return self._chunked(Theta, need_grad)

    def _chunked(self, Theta: np.ndarray, need_grad: bool):
        from evoneuro.distributed import Payload, evaluate_evaluator_chunks, n_chunks, worker_threads

        if self.__dict__.get("_payload") is None:
            self._payload = Payload(self.evaluator, self.X, self.y, self.lengths)
        batch = None
        if self.regularization.input_noise:  # rows of this step only: they travel with the tasks
            batch = (self._batch[0], self._batch[1], self._batch_lengths)
        index = None if self._full_batch else self._batch_index
        chunks = n_chunks(len(Theta), worker_threads(self.executor), self._member_seconds)
        losses, grads, failed, seconds = evaluate_evaluator_chunks(
            self._payload, Theta, self.executor, index=index, batch=batch, need_grad=need_grad, chunks=chunks,
            retries=self.retries, timeout=self.timeout)
        if seconds is not None:
            self._member_seconds = seconds if self._member_seconds is None else 0.5 * (self._member_seconds + seconds)
        if failed:
            rows = sorted(failed)
            err = failed[rows[0]]
            self._warn_once("lost", f"member(s) {rows[:20]} of {len(Theta)} were lost on each of {self.retries + 1} "
                            f"tries (last: {type(err).__name__}: {str(err)[:120]}); they count as the worst value "
                            "(+inf). Further occurrences are not reported.")
        return losses, grads

    def seeds_source(self):
        """What a worker evaluates in a seeds-only generation (the evaluator and the rows), or
        None when the losses need this process's random draws (weight noise, dropout, input noise)."""
        from evoneuro.distributed.seeds import RowsSource

        reg = self.regularization
        if reg.perturbs_weights or reg.input_noise:
            return None
        if self.__dict__.get("_seeds_source") is None:
            self._seeds_source = RowsSource(self.evaluator, self.X, self.y, self.lengths)
        return self._seeds_source

    def seeds_index(self):
        """The step's rows a seeds-only task carries: the minibatch's indices, None for all."""
        return None if self._full_batch else self._batch_index

    def seeds_finish(self, Theta: np.ndarray, raw: np.ndarray, index) -> np.ndarray:
        """The losses of members whose mean losses ``raw`` workers computed, as :meth:`evaluate`
        gives them (weight decay added, the cost counted)."""
        Xb = self._batch[0]
        losses = np.asarray(raw, dtype=np.float64)
        reg = self.regularization
        if reg.alpha:
            losses = losses + penalty(reg, self._not_decayed, self.evaluator.check_Theta(Theta), len(Xb), None)
        self.evals += len(Theta) * self.net.forward_cost(Xb.shape)
        return self._nonfinite_to_worst(losses)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["executor"] = None  # executors do not pickle: an unpickled problem evaluates here
        state["_payload"] = None
        state["_shards"] = None
        state["_seeds_source"] = None
        return state

    def _nonfinite_grads_to_zero(self, losses: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """A member whose loss is the worst value, or whose gradient overflowed, gets a zero
        gradient: a gradient step from it would write NaN into the weights."""
        bad = ~np.isfinite(losses) | ~np.isfinite(grads).all(axis=1)
        if not bad.any():
            return grads
        if (np.isfinite(losses) & bad).any():
            self._warn_once("nonfinite_grad", f"{int((np.isfinite(losses) & bad).sum())} of {losses.size} "
                            "gradients were NaN or infinite for a finite loss; they count as zero (no step). "
                            "Further occurrences are not reported.")
        grads = grads.copy() if not grads.flags.writeable else grads
        grads[bad] = 0.0
        return grads

    def full_loss(self, x) -> float:
        """The loss of ``x`` on all training rows, weight decay included (no noise, no dropout)."""
        Theta = self.evaluator.check_Theta(x)
        loss = float(self.evaluator._loss(Theta, self.X, self.y, self.lengths)[0])
        reg = self.regularization
        if reg.alpha:
            loss += float(penalty(reg, self._not_decayed, Theta, self.n_samples)[0])
        return loss


class FitnessProblem(Problem):
    """A user's fitness function as a problem: ``f(x) -> float``, or ``f(Theta) -> (P,)``.

    Each evaluated member costs 1 in :attr:`evals` (and 2 more for its gradient). A NaN or
    infinite value counts as the worst loss (+inf) and warns once; a return that is not a
    number (None, a bool, a string) is a ``TypeError`` at once. An exception raised by
    ``fun`` stops the run (``on_error="raise"``), or counts as the worst value with one
    warning (``on_error="worst"``): a flaky simulator does not end a long run.

    A per-vector ``fun`` gets each vector as a float64 array of its own (it may keep or
    change it). A vectorized ``fun`` gets the population as the optimizer asked it, without
    a copy: a read-only array in the optimizer's dtype (float32 for the population methods
    by default; ``optimizer_params={"dtype": "float64"}`` where they have it), so a
    generation costs no more than the fitness itself. A ``Theta`` given to :meth:`evaluate`
    as a list or in another dtype is converted to float64.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args, **kwargs) -> float`` for one vector ``x`` ``(n_params,)``; with
        ``vectorized=True``, ``fun(Theta, *args, **kwargs) -> (P,)`` for a matrix.
    n_params : int
        Length of the parameter vector.
    vectorized : bool, default=False
        Whether ``fun`` takes the whole population at once.
    args : tuple, default=()
        Extra positional arguments for ``fun`` (and ``grad``).
    kwargs : dict or None, default=None
        Extra keyword arguments for ``fun`` (and ``grad``).
    maximize : bool, default=False
        Maximize ``fun``: the problem's loss is ``-fun``.
    grad : callable or None, default=None
        ``grad(x, *args, **kwargs) -> (n_params,)``, the gradient of ``fun`` (of
        ``fun(Theta)`` row by row, ``(P, n_params)``, when ``vectorized``). Needed only
        by gradient optimizers.
    executor : concurrent.futures.Executor, dask.distributed.Client or None, default=None
        Evaluate the members in parallel, gathered in order (results identical to serial
        evaluation); ``fun`` must then pickle. See :mod:`evoneuro.distributed`. The
        executor is not pickled with the problem: an unpickled (checkpointed) problem
        evaluates serially until ``problem.executor`` is set again.
    parallel : {"auto", "chunks", "members"}, default="auto"
        With an executor: ``"chunks"`` sends a few chunks of the population per worker,
        ``fun`` and its arguments once (:func:`evoneuro.distributed.evaluate_chunks`);
        ``"members"`` one task per member (:func:`evoneuro.distributed.evaluate_parallel`;
        not for a vectorized ``fun``). ``"auto"``: chunks, until a member is measured to take
        :data:`evoneuro.distributed.MEMBER_TASKS_FROM` seconds or more (a slow, uneven
        simulation), then members.
    retries : int, default=2
        With an executor: how often a member whose worker was lost (or that timed out)
        is submitted again; if it still fails it counts as the worst value, with one
        warning that names it.
    timeout : float or None, default=None
        With an executor: seconds one try of a generation may take; unfinished members
        are cancelled and retried, then count as the worst value. None: no limit on the
        fitness's run time (lost workers and a cluster without workers are detected all
        the same).
    on_error : {"raise", "worst"}, default="raise"
        What an exception raised by ``fun`` does. ``"raise"``: it stops the run (a
        :class:`evoneuro.TrainingError` that carries the best result so far, unless it
        happens in the first step). ``"worst"``: the member counts as the worst value
        (+inf as a loss), is not tried again, and the first such exception is shown in one
        warning per problem; with ``vectorized=True`` an exception makes the whole
        population the worst value. Only ``Exception`` subclasses are caught (Ctrl-C still
        stops the run), and only ``fun``'s: a return that is not a number, or a ``grad``
        that raises, is an error either way.

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> prob = en.FitnessProblem(lambda x: float(np.sum(x ** 2)), n_params=3)
    >>> losses, _ = prob.evaluate(np.ones((4, 3)))
    >>> losses, prob.evals
    (array([3., 3., 3., 3.]), 4)

    A simulator that fails for some inputs, counted as the worst value instead of ending
    the run:

    >>> import warnings
    >>> def simulate(x):
    ...     if x[0] > 1.0:
    ...         raise RuntimeError("the simulation diverged")
    ...     return float(np.sum(x ** 2))
    >>> flaky = en.FitnessProblem(simulate, n_params=2, on_error="worst")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     losses, _ = flaky.evaluate(np.array([[0.5, 0.0], [2.0, 0.0], [3.0, 0.0]]))
    >>> losses, len(caught)
    (array([0.25,  inf,  inf]), 1)
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    member(s) [1, 2] of 3 raised ...; first: RuntimeError: the simulation diverged (...)...
    """

    def __init__(self, fun, n_params: int, *, vectorized: bool = False, args=(), kwargs=None,
                 maximize: bool = False, grad=None, executor=None, retries: int = 2,
                 timeout: float | None = None, on_error: str = "raise", parallel: str = "auto") -> None:
        super().__init__()
        if not callable(fun):
            raise TypeError(f"fun must be callable, got {type(fun).__name__}")
        if grad is not None and not callable(grad):
            raise TypeError(f"grad must be callable or None, got {type(grad).__name__}")
        if not isinstance(args, tuple):
            raise TypeError(f"args must be a tuple, got {type(args).__name__}")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise TypeError(f"kwargs must be a dict or None, got {type(kwargs).__name__}")
        self.fun = fun
        self.grad = grad
        self.n_params = check_positive_int(n_params, "n_params")
        self.vectorized = check_bool(vectorized, "vectorized")
        self.args = args
        self.kwargs = {} if kwargs is None else dict(kwargs)
        self.maximize = check_bool(maximize, "maximize")
        self.deterministic = True
        self._set_executor(executor, parallel, retries, timeout, ("auto", "chunks", "members"))
        if self.parallel == "members" and self.vectorized:
            raise ValueError("parallel='members' evaluates members one by one; it needs vectorized=False "
                             "(a vectorized fitness runs in chunks: parallel='chunks' or 'auto')")
        self.on_error = check_on_error(on_error)

    def _values(self, Theta: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``fun``'s values ``(P,)`` and the mask of members already counted as the worst
        value (lost on an executor, or raising under ``on_error="worst"``), or None."""
        P = len(Theta)
        worst = getattr(self, "on_error", "raise") == "worst"  # problems pickled before it existed
        if getattr(self, "executor", None) is not None and self._mode() == "chunks":
            outs, lost = self._chunked(Theta)
            return self._numbers(outs, lost), lost
        if self.vectorized:
            try:
                out = self.fun(Theta, *self.args, **self.kwargs)
            except Exception as err:
                if not worst:
                    raise
                self._warn_raised(list(range(P)), P, err)
                return np.full(P, np.inf), np.ones(P, dtype=bool)
            values = fitness_numbers(out, P)
            if values.shape not in ((P,), (P, 1)):
                raise ValueError(
                    f"a vectorized fitness must return shape ({P},) for Theta of shape "
                    f"{Theta.shape}; got shape {values.shape}"
                )
            return values.reshape(P), None
        lost = None
        if getattr(self, "executor", None) is not None:
            outs, lost = self._parallel(Theta)
        else:
            # each vector a float64 copy of its own: the user may keep or change it, and
            # f(result.x) is exactly the value told
            outs, raised = [], {}
            for i, t in enumerate(Theta):
                try:
                    outs.append(self.fun(np.array(t, dtype=np.float64), *self.args, **self.kwargs))
                except Exception as err:
                    if not worst:
                        raise
                    outs.append(None)
                    raised[i] = err
            if raised:
                self._warn_raised(list(raised), P, next(iter(raised.values())))
                lost = np.zeros(P, dtype=bool)
                lost[list(raised)] = True
        return self._numbers(outs, lost), lost

    def _numbers(self, outs: list, lost: np.ndarray | None) -> np.ndarray:
        """The members' outputs as values ``(P,)``, ``+inf`` where ``lost``."""
        P = len(outs)
        values = np.empty(P)
        for i, out in enumerate(outs):
            if lost is not None and lost[i]:
                values[i] = np.inf
                continue
            v = fitness_numbers(out, None)
            if v.size != 1:
                raise ValueError(f"fitness must return one number per vector, got {out!r:.80}; "
                                 "pass vectorized=True for a function of the whole population")
            values[i] = v.reshape(())
        return values

    def _mode(self) -> str:
        """``"chunks"`` or ``"members"`` for the next generation (see ``parallel``)."""
        from evoneuro.distributed import MEMBER_TASKS_FROM

        parallel = getattr(self, "parallel", "members")  # problems pickled before it existed
        if parallel != "auto":
            return parallel
        slow = self.__dict__.get("_member_seconds") is not None and self._member_seconds >= MEMBER_TASKS_FROM
        return "members" if slow and not self.vectorized else "chunks"

    def _chunked(self, Theta: np.ndarray) -> tuple[list, np.ndarray]:
        from evoneuro.distributed import Payload, evaluate_chunks, n_chunks, worker_threads

        if self.__dict__.get("_payload") is None:
            self._payload = Payload(self.fun, self.args, self.kwargs)
        if not self.vectorized:
            Theta = np.asarray(Theta, dtype=np.float64)  # what a per-vector fun gets serially
        chunks = n_chunks(len(Theta), worker_threads(self.executor), self.__dict__.get("_member_seconds"))
        outs, failed, seconds = evaluate_chunks(self._payload, Theta, self.executor, vectorized=self.vectorized,
                                                chunks=chunks, retries=self.retries,
                                                timeout=getattr(self, "timeout", None),
                                                on_error=getattr(self, "on_error", "raise"))
        if seconds is not None:  # the cost of a member, smoothed over generations
            old = self.__dict__.get("_member_seconds")
            self._member_seconds = seconds if old is None else 0.5 * (old + seconds)
        return outs, self._report_failed(failed, len(Theta))

    def _gradients(self, Theta: np.ndarray) -> np.ndarray:
        if self.grad is None:
            raise ValueError(
                "this optimizer needs gradients, but the fitness has none: pass grad= "
                "(the gradient of the fitness) or choose a gradient-free optimizer"
            )
        if self.vectorized:
            grads = np.asarray(self.grad(Theta, *self.args, **self.kwargs), dtype=np.float64)
        else:
            grads = np.stack([np.asarray(self.grad(np.array(t, dtype=np.float64), *self.args, **self.kwargs),
                                         dtype=np.float64) for t in Theta])
        if grads.shape != Theta.shape:
            raise ValueError(f"grad must return shape {Theta.shape[1:] if not self.vectorized else Theta.shape}, "
                             f"got {grads.shape[1:] if not self.vectorized else grads.shape}")
        return -grads if self.maximize else grads

    def _warn_raised(self, rows: list[int], P: int, err: BaseException) -> None:
        """One warning per problem for members whose fitness raised (``on_error="worst"``),
        showing the first exception and where it was raised."""
        import traceback

        frames = traceback.extract_tb(err.__traceback__)
        where = f"at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else "no traceback"
        more = " ..." if len(rows) > 20 else ""
        self._warn_once("raised", f"member(s) {rows[:20]}{more} of {P} raised an exception in the fitness; first: "
                        f"{type(err).__name__}: {str(err)[:200]} ({where}). on_error='worst': they count as "
                        "the worst value (+inf). Further occurrences are not reported.")

    def _parallel(self, Theta: np.ndarray) -> tuple[list, np.ndarray]:
        from evoneuro.distributed import evaluate_parallel

        Theta = np.asarray(Theta, dtype=np.float64)  # what a per-vector fun gets serially
        outs, failed = evaluate_parallel(self.fun, Theta, self.executor, self.args, self.kwargs,
                                         self.retries, getattr(self, "timeout", None),
                                         getattr(self, "on_error", "raise"))
        return outs, self._report_failed(failed, len(Theta))

    def _report_failed(self, failed: dict, P: int) -> np.ndarray:
        """Warn once per cause about the members an executor reported failed; their mask."""
        from evoneuro.distributed import FitnessRaised, MemberTimeout

        lost = np.zeros(P, dtype=bool)
        lost[list(failed)] = True
        raised = sorted(i for i, e in failed.items() if isinstance(e, FitnessRaised))
        if raised:
            self._warn_raised(raised, P, failed[raised[0]].error)
        for cause, rows in (("timeout", [i for i, e in failed.items() if isinstance(e, MemberTimeout)]),
                            ("lost", [i for i, e in failed.items()
                                      if not isinstance(e, (MemberTimeout, FitnessRaised))])):
            if rows:
                err = failed[rows[0]]
                why = ("did not finish in time" if cause == "timeout"
                       else "lost its worker (killed, out of memory or disconnected)")
                self._warn_once(cause, f"member(s) {sorted(rows)} of {P} {why} on each of "
                                f"{self.retries + 1} tries (last: {type(err).__name__}: {str(err)[:120]}); "
                                "they count as the worst value (+inf). Further occurrences are not reported.")
        return lost

    # --- seeds-only evolution strategies (evoneuro.distributed.seeds) ------------------

    def seeds_source(self):
        """What a worker evaluates in a seeds-only generation: the fitness and its arguments."""
        from evoneuro.distributed.seeds import FitnessSource

        if self.__dict__.get("_seeds_source") is None:
            self._seeds_source = FitnessSource(self.fun, self.args, self.kwargs, self.vectorized)
        return self._seeds_source

    def seeds_index(self):
        """The step's rows a seeds-only task carries: none for a fitness."""
        return None

    def seeds_finish(self, Theta: np.ndarray, raw: np.ndarray, index) -> np.ndarray:
        """The losses of members whose values ``raw`` workers computed, as :meth:`evaluate` gives them."""
        self.evals += len(Theta)
        losses = -raw if self.maximize else np.array(raw, dtype=np.float64)
        return self._nonfinite_to_worst(losses)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["executor"] = None  # executors do not pickle; see the class docstring
        state["_payload"] = None
        state["_seeds_source"] = None
        return state

    def evaluate(self, Theta, need_grad: bool = False):
        if isinstance(Theta, np.ndarray) and Theta.dtype in (np.float32, np.float64):
            # the optimizer's own population: no copy, read-only so the fitness cannot
            # change what the optimizer will be told
            Theta = Theta.view()
            Theta.flags.writeable = False
        else:
            Theta = np.array(Theta, dtype=np.float64)
        if Theta.ndim == 1:
            Theta = Theta[None]
        if Theta.ndim != 2 or Theta.shape[1] != self.n_params:
            raise ValueError(f"Theta must have shape (P, {self.n_params}), got {Theta.shape}")
        values, lost = self._values(Theta)
        grads = self._gradients(Theta) if need_grad else None
        self.evals += len(Theta) * (3 if need_grad else 1)
        losses = -values if self.maximize else values
        if lost is not None:
            losses[lost] = np.inf  # already reported, as lost or raising
        return self._nonfinite_to_worst(losses, reported=lost), grads
