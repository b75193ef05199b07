"""The one fit recipe: a network, data, an optimizer and a start, built into a run and run.

Every fit of a network on data in evoneuro goes through :func:`fit_network` — the
estimators' ``fit`` and ``partial_fit``, ``evoneuro compare``, the long-time-lag task
runner and each layer of :func:`~evoneuro.training.pretraining.pretrain` — so a default
changed here (the minibatch, an optimizer's measured scales, how held-out data stops a
run) changes for all of them at once. The steps:

1. an :class:`~evoneuro.Evaluator` for the net (backend, precision, threads);
2. a :class:`~evoneuro.SupervisedProblem` on the data, with the optimizer's default
   minibatch (:func:`~evoneuro.training.defaults.default_batch_size`) and the
   regularisation asked for;
3. the optimizer: a registry name completed by its measured defaults, scaled to the
   start (:func:`~evoneuro.training.defaults.new_optimizer`), a copy of a given instance,
   or — with no start — the given instance continued as it is (a warm start);
4. a :class:`~evoneuro.Trainer` with a :class:`~evoneuro.History`, held-out scoring and
   early stopping when :class:`Validation` is given, and a progress bar when asked;
5. the run, and a :class:`Fit` with everything it built.

The recipe takes the start as a vector. Choosing one from a user's ``init`` (which may
itself be a whole pretraining, a fit of its own) is
:func:`~evoneuro.training.starts.resolve_init`'s work, done by the caller before the recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from evoneuro.evaluator import Evaluator
from evoneuro.optimizers.base import Optimizer
from evoneuro.problems import Problem, SupervisedProblem
from evoneuro.training.callbacks import Callback, EarlyStopping, History, ProgressBar
from evoneuro.training.defaults import default_batch_size, default_run_budget, new_optimizer
from evoneuro.training.trainer import OptimizeResult, Trainer


@dataclass
class Validation:
    """Held-out data a fit scores once per pass over its training data.

    Parameters
    ----------
    X, y : arrays
        The held-out inputs and targets, as the evaluator takes them.
    score : callable
        ``score(y_true, outputs) -> float``, larger is better (accuracy, R²).
    lengths : array or None
        Valid steps per sequence (recurrent nets).
    patience : int or None, default=10
        Stop when the score has not improved by ``tol`` for this many passes (scikit-learn's
        ``n_iter_no_change``) and for the optimizer's ``patience_steps`` steps (see
        :class:`~evoneuro.optimizers.base.Optimizer`); None scores without stopping.
    tol : float, default=1e-4
        The smallest improvement that counts.
    """

    X: Any
    y: Any
    score: Callable[[np.ndarray, np.ndarray], float]
    lengths: Any = None
    patience: int | None = 10
    tol: float = 1e-4


class ValidationScore:
    """``x -> score`` on held-out data for ``History(validation=...)``; keeps the best ``x``.

    Examples
    --------
    >>> import numpy as np, evoneuro as en
    >>> from evoneuro.training.recipe import ValidationScore
    >>> net = en.MLP(2, (), 2)
    >>> X, y = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 1])
    >>> accuracy = lambda y, out: float(np.mean(out.argmax(axis=1) == y))
    >>> val = ValidationScore(en.Evaluator(net, dtype="float64"), X, y, accuracy)
    >>> val(np.array([1.0, -1.0, -1.0, 1.0, 0.0, 0.0])), val.best_score
    (1.0, 1.0)
    """

    def __init__(self, evaluator: Evaluator, X, y, score, lengths=None) -> None:
        self.evaluator, self.X, self.y, self.score, self.lengths = evaluator, X, y, score, lengths
        self.scores: list[float] = []
        self.best_score, self.best_x = -np.inf, None

    def __call__(self, x) -> float:
        s = float(self.score(self.y, self.evaluator.predict(x, self.X, lengths=self.lengths).astype(np.float64)))
        self.scores.append(s)
        if s > self.best_score:
            self.best_score, self.best_x = s, np.array(x, dtype=np.float64)
        return s


@dataclass
class Fit:
    """What :func:`fit_network` built and what its run returned.

    ``x`` is the weight vector to keep: the best-validation point when held-out data was
    scored, else the run's ``result.x``.
    """

    net: Any
    evaluator: Evaluator
    problem: Problem
    trainer: Trainer
    result: OptimizeResult
    history: History
    validation: ValidationScore | None = None
    #: The budget :func:`~evoneuro.training.defaults.default_run_budget` set when none was given, else None.
    default_budget: dict | None = None

    @property
    def capped(self) -> bool:
        """Whether the default budget, not a rule or a budget the caller gave, ended the run."""
        return self.default_budget is not None and self.result.stop_reason in ("max_steps", "max_evals")

    @property
    def optimizer(self) -> Optimizer:
        """The optimizer with the state the run left it in."""
        return self.trainer.optimizer

    @property
    def x(self) -> np.ndarray:
        best = None if self.validation is None else self.validation.best_x
        return self.result.x if best is None else best


def fit_network(
    net,
    X,
    y,
    *,
    optimizer: str | Optimizer = "adam",
    x0: np.ndarray | None = None,
    optimizer_params: dict | None = None,
    batch_size: int | str | None = "auto",
    lengths=None,
    regularization: dict | None = None,
    backend: str = "auto",
    dtype: Any = "float32",
    n_jobs: int | None = None,
    max_evals: int | None = None,
    max_time: float | None = None,
    max_steps: int | None = None,
    max_epochs: int | None = None,
    validation: Validation | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool | str = False,
    random_state: Any = None,
    wrap: Callable[[SupervisedProblem], Problem] | None = None,
    executor: Any = None,
) -> Fit:
    """Build the evaluator, problem, optimizer and trainer for ``net`` on ``(X, y)`` and run it.

    Parameters
    ----------
    net : MLP, RNN or another registered network kind
    X, y : arrays
        Training data, as the evaluator takes it.
    optimizer : str or Optimizer, default="adam"
        A registry name (its unset hyperparameters take their measured defaults, scaled to
        ``x0``) or an instance (copied; with ``x0=None``, continued as it is).
    x0 : ndarray (n_params,) or None
        The start (see :func:`~evoneuro.training.starts.resolve_init`). None continues the
        given optimizer instance from its own state.
    optimizer_params : dict or None
        Hyperparameters of a named optimizer.
    batch_size : int, "auto" or None, default="auto"
        Rows per step; "auto": the optimizer's default; None: the full batch.
    lengths : array or None
        Valid steps per sequence (recurrent nets).
    regularization : dict or None
        The problem's ``alpha``, ``input_noise``, ``weight_noise``, ``dropout``.
    backend, dtype, n_jobs :
        The evaluator (see :class:`~evoneuro.Evaluator`); ``n_jobs`` also bounds the trainer's
        threads.
    max_evals, max_time, max_steps : int, float, int or None
        Budgets (see :class:`~evoneuro.Trainer`); the first spent ends the run.
    max_epochs : int or None
        A budget in passes over the training data (steps per pass times this). With no
        budget at all, :func:`~evoneuro.training.defaults.default_run_budget`'s cap applies.
    validation : Validation or None
        Held-out data scored once per pass, with early stopping when it has a patience;
        the fit keeps the best-scoring weights.
    callbacks : sequence of Callback
        More callbacks for the trainer.
    progress : bool or str
        A tqdm progress bar; a string is its description (and the bar is cleared at the end).
    random_state : None, int or numpy Generator
        Seeds the minibatches and the optimizer.
    wrap : callable or None
        ``wrap(problem) -> Problem``: a problem built on the supervised one (a tied
        autoencoder). ``x0`` is then in the wrapped problem's parameters, and it maps them
        to the net's with ``net_theta(x)`` for the optimizer's scales.
    executor : dask.distributed.Client, concurrent.futures.Executor or None
        Evaluate the problem on it (:class:`~evoneuro.SupervisedProblem`'s ``executor``,
        ``parallel="auto"``): the same result as without.

    Returns
    -------
    Fit

    Examples
    --------
    >>> import numpy as np, evoneuro as en
    >>> from evoneuro.training.recipe import fit_network
    >>> from evoneuro.training.starts import resolve_init
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4)); y = (X[:, 0] > 0).astype(int)
    >>> net = en.MLP(4, (8,), 2, activation="tanh")
    >>> x0 = resolve_init(net, "auto", rng, X)
    >>> fit = fit_network(net, X, y, optimizer="irprop+", x0=x0, max_steps=100, random_state=0)
    >>> fit.problem.deterministic, fit.result.n_steps, fit.result.fun < fit.problem.full_loss(x0)  # full batch
    (True, 100, True)
    """
    evaluator = Evaluator(net, backend=backend, dtype=dtype, n_jobs=n_jobs)
    if batch_size == "auto":
        batch_size = default_batch_size(optimizer, len(X))
    supervised = SupervisedProblem(evaluator, X, y, batch_size=batch_size, lengths=lengths, executor=executor,
                                   **(regularization or {}))
    problem = supervised if wrap is None else wrap(supervised)
    if x0 is None and isinstance(optimizer, Optimizer):
        opt = optimizer  # a warm start: the optimizer goes on from its own state
    elif x0 is None:
        raise ValueError("x0 is required unless optimizer is an Optimizer instance to continue")
    else:
        opt = new_optimizer(optimizer, net, x0 if wrap is None else problem.net_theta(x0), optimizer_params)

    history, stopping = _validation_callbacks(evaluator, validation, supervised.steps_per_epoch,
                                              type(opt).patience_steps)
    extra = list(callbacks)
    if isinstance(progress, str):
        extra.append(ProgressBar(desc=progress, leave=False))
    if max_epochs is not None:
        steps = max_epochs * supervised.steps_per_epoch
        max_steps = steps if max_steps is None else min(max_steps, steps)
    capped = None
    if max_evals is None and max_time is None and max_steps is None:
        capped = default_run_budget(supervised)
        max_steps, max_evals = capped["max_steps"], capped["max_evals"]
    trainer = Trainer(problem, opt, x0=x0, max_evals=max_evals, max_time=max_time, max_steps=max_steps,
                      callbacks=[history, *stopping, *extra], progress=progress is True, n_jobs=n_jobs,
                      random_state=random_state)
    result = trainer.run()
    return Fit(net, evaluator, problem, trainer, result, history,
               history.validation if validation is not None else None, capped)


def _validation_callbacks(evaluator: Evaluator, validation: Validation | None, steps_per_epoch: int,
                          patience_steps: int):
    """The trainer's History (scoring held-out data once per pass) and an EarlyStopping
    whose patience is ``validation.patience`` passes and the optimizer's ``patience_steps``."""
    if validation is None:
        return History(), []
    if not isinstance(validation, Validation):
        raise TypeError(f"validation must be a Validation or None, got {type(validation).__name__}")
    scorer = ValidationScore(evaluator, validation.X, validation.y, validation.score, validation.lengths)
    history = History(validation=scorer, validation_every=steps_per_epoch)
    stopping = [] if validation.patience is None else [
        EarlyStopping(validation.patience, validation.tol, monitor="val_score", min_steps=patience_steps)]
    return history, stopping


__all__ = ["Fit", "Validation", "ValidationScore", "fit_network"]
