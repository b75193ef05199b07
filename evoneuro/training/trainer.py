"""The training loop: budgets, callbacks, history, checkpoints (:func:`evoneuro.minimize` wraps it).

A :class:`Trainer` repeats one step — ``problem.begin_step(rng)`` (the step's minibatch)
then ``optimizer.step(problem)`` — until a budget runs out: steps, evaluations counted in
sample-forward equivalents (``problem.evals``), seconds, or a target loss. Its whole
state (optimizer, problem with its minibatch order, random generator, history,
callbacks) pickles, so a run checkpointed mid-way and resumed ends exactly as an
uninterrupted run with the same seed would.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from evoneuro.training._compile_clock import compile_seconds
from evoneuro._threads import check_n_jobs, limit_threads
from evoneuro._validation import check_positive_float, check_positive_int
from evoneuro.training.lsuv import INIT_ROWS, data_init
from evoneuro.training.callbacks import Callback, Checkpoint, History, ProgressBar
from evoneuro.optimizers.base import Optimizer
from evoneuro.optimizers.registry import get_optimizer
from evoneuro.problems import Problem

BUDGETS = ("max_evals", "max_time", "max_steps", "target")


@dataclass
class OptimizeResult:
    """What a run returns.

    Attributes
    ----------
    x : ndarray (n,)
        The solution: the best point told (deterministic problems), or the optimizer's
        current point (minibatch problems, whose told losses are noisy).
    fun : float
        Its loss: the best told loss, or the full-data loss of ``x`` for minibatch
        problems (computed free of charge: not counted in ``n_evals``).
    history : History
        Per-step records (a snapshot); see :class:`evoneuro.History`.
    n_steps : int
        Steps done.
    n_evals : int
        Cost in sample-forward equivalents (a custom fitness: calls of ``f``).
    seconds : float
        Wall-clock seconds spent in steps (callbacks included).
    stop_reason : str
        ``"max_steps"``, ``"max_evals"``, ``"max_time"``, ``"target"``,
        ``"interrupted"`` (Ctrl-C), ``"error"``, or a callback's ``stop_reason``
        (``"early_stopping"``).
    optimizer : str
        The optimizer's name.
    compile_seconds : float
        Seconds spent compiling Numba kernels during the run; not part of ``seconds``
        nor of a ``max_time`` budget (0 once the kernels are cached).
    """

    x: np.ndarray
    fun: float
    history: History
    n_steps: int
    n_evals: int
    seconds: float
    stop_reason: str
    optimizer: str
    compile_seconds: float = 0.0


class TrainingError(RuntimeError):
    """A step (the fitness, the optimizer or a callback) raised; the run so far is kept.

    The original exception is the ``__cause__``; ``.result`` is the
    :class:`OptimizeResult` of the run up to the failed step.
    """

    def __init__(self, message: str, result: OptimizeResult) -> None:
        super().__init__(message)
        self.result = result


def _seed_sequence(random_state) -> np.random.SeedSequence:
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2**63)))
    if random_state is None or (isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool)):
        if random_state is not None and random_state < 0:
            raise ValueError(f"random_state must be None, an int >= 0 or a numpy Generator, got {random_state!r}")
        return np.random.SeedSequence(None if random_state is None else int(random_state))
    raise TypeError(f"random_state must be None, an int or a numpy Generator, got {random_state!r}")


def _check_budget(name: str, value):
    if value is None:
        return None
    if name in ("max_evals", "max_steps"):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)  # max_evals=2e7 reads naturally
        return check_positive_int(value, name)
    if name == "max_time":
        return check_positive_float(value, name)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"target must be a number, got {value!r}")
    if not np.isfinite(value):  # NaN is never reached, +inf at once, -inf never
        raise ValueError(f"target must be a finite number, got {value!r}")
    return float(value)


class Trainer:
    """Run an optimizer on a problem within a budget, with callbacks and a history.

    Parameters
    ----------
    problem : Problem
        What to minimise, e.g. a :class:`evoneuro.SupervisedProblem`.
    optimizer : Optimizer or str
        An optimizer instance or registry name. An uninitialised optimizer is set up
        (``optimizer.setup(problem)``) and initialised at ``x0`` here; an initialised
        one continues from its state when ``x0`` is None.
    x0 : array-like, int or None, default=None
        Start vector. An int ``n`` means ``N(0, 0.1^2)`` draws of length ``n``; None
        means ``problem.net.init(rng)`` (Glorot) for a network problem.
    max_evals : int, optional
        Budget in sample-forward equivalents (``problem.evals``). A step is not started
        when the previous step's cost would take the total past the budget, so the
        budget is exceeded only when step costs vary, by less than one step.
    max_time : float, optional
        Wall-clock seconds of the steps (callbacks included, Numba's one-off compilation
        not). Checked between steps: the run stops at the end of the first step that
        reaches it, so it runs over by less than one step.
    max_steps : int, optional
        Number of steps (each one minibatch, one optimizer generation).
    target : float, optional
        Stop once the best told loss is ``<= target``.
    callbacks : sequence of Callback, default=()
        See :mod:`evoneuro.training.callbacks`. The first :class:`History` among them becomes
        ``trainer.history`` (a default one is made otherwise).
    progress : bool, default=False
        Add a :class:`ProgressBar`.
    random_state : None, int or numpy Generator, default=None
        Seeds three independent streams: ``x0``, the optimizer, and the minibatches.
    n_jobs : int or None, default=None
        Threads for the BLAS and OpenMP pools while the trainer runs (pycma's
        eigendecomposition, the optimizers' matrix products); ``None`` or ``-1``: the CPUs
        this process may use. The evaluator's own threads are its ``n_jobs``.

    Notes
    -----
    At least one of ``max_evals``, ``max_time`` and ``max_steps`` is required (a target
    alone may never be reached). Budgets are totals over the trainer's life:
    ``run(max_steps=k)`` stops at step ``k`` and a later ``run()`` continues.

    The trainer always records a :class:`History`; ``result.history`` is a snapshot of it.
    A stop requested by a callback is part of the state (a checkpoint taken at that step
    resumes to the same end), so a later :meth:`run` returns at once.

    Numba compiles a kernel the first time a run needs it; that time is measured
    (``compile_seconds``) and left out of ``seconds`` and of ``max_time``.

    Ctrl-C during :meth:`run` ends the run and returns the result so far
    (``stop_reason="interrupted"``). An exception in a step is re-raised as
    :class:`TrainingError` carrying ``.result`` — except in the very first step, where
    there is nothing to keep and the exception (usually a mistake in the fitness, e.g. a
    ``ValueError`` for a wrongly shaped return) propagates unchanged. Either may hit
    mid-step; the trainer can then continue, but no longer bit-identically to an
    uninterrupted run.

    Examples
    --------
    >>> import copy
    >>> import evoneuro as en
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> net = en.MLP(4, (8,), 3, activation="sigmoid")
    >>> prob = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y)
    >>> trainer = en.Trainer(prob, "irprop+", max_steps=50, random_state=0)
    >>> half = trainer.run(max_steps=20)
    >>> resumed = copy.deepcopy(trainer).run()  # as after pickle.dumps / pickle.loads
    >>> full = en.Trainer(prob, "irprop+", max_steps=50, random_state=0).run()
    >>> bool(resumed.fun == full.fun), resumed.n_steps, resumed.stop_reason
    (True, 50, 'max_steps')
    """

    def __init__(
        self,
        problem: Problem,
        optimizer: Optimizer | str,
        *,
        x0: ArrayLike | int | None = None,
        max_evals: int | None = None,
        max_time: float | None = None,
        max_steps: int | None = None,
        target: float | None = None,
        callbacks: Sequence[Callback] = (),
        progress: bool = False,
        random_state: int | np.random.Generator | None = None,
        n_jobs: int | None = None,
    ) -> None:
        if not isinstance(problem, Problem):
            raise TypeError(f"problem must be an evoneuro Problem, got {type(problem).__name__}")
        self.problem = problem
        self.optimizer = get_optimizer(optimizer)
        self.budget = {k: _check_budget(k, v) for k, v in
                       zip(BUDGETS, (max_evals, max_time, max_steps, target))}
        if all(self.budget[k] is None for k in ("max_evals", "max_time", "max_steps")):
            raise ValueError("give at least one budget: max_evals, max_time or max_steps "
                             "(target alone may never be reached)")
        self.callbacks = self._order_callbacks(callbacks, progress)
        init_seed, opt_seed, step_seed = _seed_sequence(random_state).spawn(3)
        self.rng = np.random.default_rng(step_seed)
        if x0 is not None or not self.optimizer.initialized:
            self.optimizer.setup(problem)
            self.optimizer.initialize(self._start(x0, np.random.default_rng(init_seed)),
                                      np.random.default_rng(opt_seed))
        self.n_jobs = check_n_jobs(n_jobs)
        self.n_steps = 0
        self.seconds = 0.0
        self.compile_seconds = 0.0
        self.stop_reason: str | None = None
        self._evals0 = problem.evals
        self._last_cost: int | None = None
        self._callback_stop: str | None = None

    def _order_callbacks(self, callbacks, progress: bool) -> list[Callback]:
        callbacks = list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be evoneuro Callback instances, got {type(cb).__name__}")
        histories = [cb for cb in callbacks if isinstance(cb, History)]
        self.history = histories[0] if histories else History()
        if progress and not any(isinstance(cb, ProgressBar) for cb in callbacks):
            callbacks.append(ProgressBar())
        rest = [cb for cb in callbacks if cb is not self.history]
        return ([self.history] + [cb for cb in rest if not isinstance(cb, Checkpoint)]
                + [cb for cb in rest if isinstance(cb, Checkpoint)])

    def _start(self, x0, rng: np.random.Generator) -> np.ndarray:
        n = self.problem.n_params
        if x0 is None:
            net = getattr(self.problem, "net", None)
            if net is None:
                raise ValueError("x0 is required for a problem without a network")
            # With data at hand, the estimators' default start (every unit standardised); else Glorot's.
            X = getattr(self.problem, "X", None)
            return data_init(net, np.asarray(X)[:INIT_ROWS], rng) if X is not None else net.init(rng)
        if isinstance(x0, (int, np.integer)) and not isinstance(x0, bool):
            if x0 != n:
                raise ValueError(f"x0 as an int is the number of parameters; the problem has {n}, got {x0}")
            return rng.normal(0.0, 0.1, size=n)
        try:
            x0 = np.asarray(x0, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"x0 must be numbers of shape ({n},), an int or None; got {x0!r:.80}") from None
        if x0.shape != (n,):
            raise ValueError(f"x0 must have shape ({n},), got {x0.shape}")
        return x0

    # --- counters -------------------------------------------------------------------

    @property
    def n_evals(self) -> int:
        """Cost spent by this trainer, in the problem's units."""
        return int(self.problem.evals - self._evals0)

    def _budget_reason(self, budget: dict) -> str | None:
        if budget["max_steps"] is not None and self.n_steps >= budget["max_steps"]:
            return "max_steps"
        if budget["max_evals"] is not None:
            if self.n_evals + (self._last_cost or 0) > budget["max_evals"] or self.n_evals >= budget["max_evals"]:
                return "max_evals"
        if budget["max_time"] is not None and self.seconds >= budget["max_time"]:
            return "max_time"
        if budget["target"] is not None and self.optimizer.best_loss <= budget["target"]:
            return "target"
        return None

    # --- one step -------------------------------------------------------------------

    def step(self) -> dict:
        """One minibatch, one optimizer step, then the callbacks; returns the step's record."""
        t0 = time.perf_counter()
        evals0 = self.problem.evals
        c0 = compile_seconds()
        self.problem.begin_step(self.rng)
        losses = self.optimizer.step(self.problem)
        compiled = compile_seconds() - c0
        t0 += compiled  # one-off compilation is not part of the run's time
        self.compile_seconds += compiled
        self.n_steps += 1
        self._last_cost = self.problem.evals - evals0
        losses = np.asarray(losses if losses is not None else [np.nan], dtype=np.float64).ravel()
        finite = losses[np.isfinite(losses)]
        record = {
            "step": self.n_steps,
            "evals": self.n_evals,
            "seconds": self.seconds + time.perf_counter() - t0,
            "loss": float(finite.mean()) if finite.size else np.inf,
            "best_loss": float(self.optimizer.best_loss),
        }
        try:
            for cb in self.callbacks:
                if cb.on_step(self, record) and self._callback_stop is None:
                    self._callback_stop = getattr(cb, "stop_reason", "callback")
        finally:
            self.seconds += time.perf_counter() - t0
        return record

    # --- the loop -------------------------------------------------------------------

    def run(self, *, max_evals: int | None = None, max_time: float | None = None,
            max_steps: int | None = None, target: float | None = None) -> OptimizeResult:
        """Step until a budget is spent; arguments override the trainer's budgets for this call.

        Raises
        ------
        TrainingError
            When a step after the first raises; ``.result`` holds the result so far. An
            exception in the first step propagates unchanged.
        """
        budget = dict(self.budget)
        for k, v in zip(BUDGETS, (max_evals, max_time, max_steps, target)):
            if v is not None:
                budget[k] = _check_budget(k, v)
        for cb in self.callbacks:
            cb.on_start(self)
        reason = None
        try:
            with limit_threads(self.n_jobs):
                while reason is None:
                    reason = self._callback_stop or self._budget_reason(budget)
                    if reason is None:
                        self.step()
        except KeyboardInterrupt:
            reason = "interrupted"
        except Exception as exc:
            result = self._finish("error")
            if self.n_steps == 0:
                raise  # nothing to keep yet: most likely a mistake in the fitness, shown as is
            raise TrainingError(
                f"training stopped at step {self.n_steps + 1} by {type(exc).__name__}: {exc}. "
                "The result so far is in this error's .result", result) from exc
        return self._finish(reason)

    def _finish(self, reason: str) -> OptimizeResult:
        self.stop_reason = reason
        result = self.result()
        for cb in self.callbacks:
            try:
                cb.on_end(self, result)
            except Exception:
                if reason != "error":
                    raise
        return result

    def result(self) -> OptimizeResult:
        """The result so far (see :class:`OptimizeResult`)."""
        opt, prob = self.optimizer, self.problem
        if prob.deterministic and np.isfinite(opt.best_loss):
            x, fun = opt.best_x.copy(), float(opt.best_loss)
        else:
            x = opt.x
            try:
                fun = prob.full_loss(x)  # not charged to the budget
            except Exception:  # the problem itself failed: report what the optimizer saw
                fun = float(opt.best_loss)
        return OptimizeResult(x=x, fun=fun, history=self.history.snapshot(), n_steps=self.n_steps,
                              n_evals=self.n_evals, seconds=self.seconds,
                              stop_reason=self.stop_reason or "not run", optimizer=opt.name,
                              compile_seconds=self.compile_seconds)


__all__ = ["OptimizeResult", "Trainer", "TrainingError"]
