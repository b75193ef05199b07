"""The task container, its "solved" criteria, and random weight guessing over it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from evoneuro._validation import check_positive_float, check_positive_int
from evoneuro.evaluator import Evaluator
from evoneuro.network.init import check_rng
from evoneuro.network.rnn import RNN
from evoneuro.optimizers.random_search import RandomSearch

Criterion = Callable[[np.ndarray, np.ndarray], np.ndarray]


# --- solved criteria: (outputs (P, N, K), the net's targets (N, K)) -> (P,) bool --------

def within(tolerance: float) -> Criterion:
    """Every sequence's every output within ``tolerance`` of its target (the papers'
    "absolute error at sequence end below ...")."""
    tolerance = check_positive_float(tolerance, "tolerance")

    def criterion(out, y):
        return (np.abs(out - y) < tolerance).all(axis=(1, 2))
    criterion.__doc__ = f"all |output - target| < {tolerance}"
    return criterion


def same_sign() -> Criterion:
    """Every sequence's output on the side of zero of its target (classification by sign)."""
    def criterion(out, y):
        return (np.sign(out) == np.sign(y)).all(axis=(1, 2))
    criterion.__doc__ = "all sign(output) == sign(target)"
    return criterion


def mse_below(threshold: float) -> Criterion:
    """Mean squared error over sequences and outputs below ``threshold``."""
    threshold = check_positive_float(threshold, "threshold")

    def criterion(out, y):
        return ((out - y) ** 2).mean(axis=(1, 2)) < threshold
    criterion.__doc__ = f"mean squared error < {threshold}"
    return criterion


# --- the task -------------------------------------------------------------------------

@dataclass
class Task:
    """A generated long-time-lag task: data, the paper's net, and its "solved" criterion.

    The targets come two ways. ``y_train`` and ``y_test`` are what the matching estimator
    takes as they are: class labels ``(N,)`` for a classification task
    (:attr:`classification`: :class:`~evoneuro.EvoRNNClassifier`), values ``(N,)`` for a
    regression task (:class:`~evoneuro.EvoRNNRegressor`). :meth:`targets` and
    :meth:`net_data` give what the paper's :attr:`net` is trained on and judged by:
    ``(N, n_outputs)`` values (``class_targets[y]`` for a classification task).

    Attributes
    ----------
    name : str
    X_train, y_train, X_test, y_test : ndarray
        Sequences ``(N, T, d)`` padded to the longest, and targets ``(N,)`` read at each
        sequence's last valid step: class labels ``0..n_classes-1`` (int) or values.
    lengths_train, lengths_test : ndarray of int (N,) or None
        Valid steps per sequence (None: all ``T``).
    net : RNN
        The architecture the paper uses.
    criterion : callable
        ``criterion(outputs (P, N, K), targets (N, K)) -> (P,) bool`` (:meth:`targets`).
    guess_range : float or None
        Random guessing draws each free weight uniformly in ``[-r, r]``; None for tasks
        the papers do not guess.
    free : ndarray of bool (n_params,) or None
        The parameters the paper treats as free (None: all); the others keep
        :attr:`fixed`'s values, in guessing and in :meth:`bounds`.
    fixed : ndarray (n_params,) or None
        Values of the parameters that are not free.
    params : dict
        The generator's settings, for the record.
    reference : str
        Where the protocol comes from.
    class_targets : ndarray (n_classes, n_outputs) or None
        A classification task's target row of each class for :attr:`net` (the papers'
        +-0.8, 0/1 or one-hot values); None for a regression task.

    Examples
    --------
    >>> import evoneuro as en
    >>> from evoneuro.tasks import temporal_order
    >>> task = temporal_order(n_train=6, n_test=2, random_state=0)
    >>> task.classification, task.y_train.tolist(), task.targets("train").shape
    (True, [3, 0, 1, 2, 2, 3], (6, 4))
    >>> X, y, lengths = task.data("train")  # what an estimator takes
    >>> clf = en.EvoRNNClassifier(hidden_layer_sizes=(4,), cell="lstm", max_iter=2, random_state=0)
    >>> clf.fit(X, y, lengths=lengths).predict(X, lengths=lengths).shape
    (6,)
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    lengths_train: np.ndarray | None
    lengths_test: np.ndarray | None
    net: RNN
    criterion: Criterion
    guess_range: float | None = None
    free: np.ndarray | None = None
    fixed: np.ndarray | None = None
    params: dict = field(default_factory=dict)
    reference: str = ""
    class_targets: np.ndarray | None = None

    @property
    def classification(self) -> bool:
        """Whether ``y`` holds class labels (an :class:`~evoneuro.EvoRNNClassifier` task)."""
        return self.class_targets is not None

    def data(self, split: str = "train") -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(X, y, lengths)`` of ``split`` (``"train"`` or ``"test"``), ``y`` as an
        estimator takes it: ``clf.fit(X, y, lengths=lengths)``."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if split == "train":
            return self.X_train, self.y_train, self.lengths_train
        return self.X_test, self.y_test, self.lengths_test

    def targets(self, split: str = "train") -> np.ndarray:
        """The targets ``(N, n_outputs)`` of :attr:`net` on ``split``, which :attr:`criterion`
        judges: ``class_targets[y]``, or the values as one column."""
        y = self.data(split)[1]
        if self.class_targets is not None:
            return self.class_targets[y]
        return np.asarray(y, dtype=np.float64).reshape(len(y), -1)

    def net_data(self, split: str = "train") -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(X, targets, lengths)`` of ``split``: what the paper's :attr:`net` trains on
        (``en.SupervisedProblem(evaluator, X, targets, lengths=lengths)``)."""
        X, _, lengths = self.data(split)
        return X, self.targets(split), lengths

    def evaluator(self, dtype: str = "float64", backend: str = "numpy") -> Evaluator:
        """An :class:`~evoneuro.Evaluator` of :attr:`net`."""
        return Evaluator(self.net, backend=backend, dtype=dtype)

    def predict(self, Theta, split: str = "train", evaluator: Evaluator | None = None) -> np.ndarray:
        """Outputs ``(P, N, n_outputs)`` of a population (or ``(1, N, K)`` of one vector)."""
        X, _, lengths = self.data(split)
        ev = evaluator if evaluator is not None else self.evaluator()
        return ev.forward(Theta, X, lengths=lengths)

    def solved(self, theta, split: str = "train", evaluator: Evaluator | None = None):
        """Whether ``theta`` meets the criterion on ``split``: a bool, or ``(P,)`` bools for a matrix."""
        ok = self.criterion(self.predict(theta, split, evaluator), self.targets(split))
        return bool(ok[0]) if np.ndim(theta) == 1 else ok

    def bounds(self, r: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)`` of guessing: ``[-r, r]`` on the free parameters, pinned elsewhere."""
        if r is None and self.guess_range is None:
            raise ValueError(f"task {self.name!r} has no guessing range; pass r > 0")
        r = check_positive_float(self.guess_range if r is None else r, "r")
        n = self.net.n_params
        low, high = np.full(n, -r), np.full(n, r)
        if self.free is not None:
            low[~self.free] = high[~self.free] = self.fixed[~self.free]
        return low, high


# --- random weight guessing -----------------------------------------------------------

@dataclass
class GuessResult:
    """What :func:`guess` found: ``trials`` (None if unsolved), the solution, and its test."""

    trials: int | None
    theta: np.ndarray | None
    solved_test: bool | None
    evaluated: int
    seconds: float


def guess(task: Task, max_trials: int = 100_000, random_state=None, batch: int = 1024,
          screen: int = 8, r: float | None = None, evaluator: Evaluator | None = None) -> GuessResult:
    """Random weight guessing: draw nets until one classifies every training sequence.

    Each trial draws every free weight uniformly in ``[-r, r]`` (Schmidhuber & Hochreiter
    1996), through :class:`~evoneuro.optimizers.random_search.RandomSearch` with
    ``distribution="uniform"``; trials are evaluated as populations, many per
    :class:`~evoneuro.Evaluator` call. The trial count is the index of the first
    solution in draw order, as if trials ran one by one; only the batch size decides
    how many extra draws are evaluated after it, never the count.

    Parameters
    ----------
    task : Task
    max_trials : int, default=100_000
        Give up after this many trials (``trials`` is then None).
    random_state : int, Generator or None
    batch : int, default=1024
        Largest population per call; batches start at 8 and double, so a task solved in
        a few trials costs a few evaluations.
    screen : int, default=8
        Trials are first run on this many training sequences; only those that classify
        them all are run on the whole training set. A net that fails the screen fails the
        criterion, so the count is the same as without it, for a fraction of the work.
    r : float or None
        Guessing range; default ``task.guess_range``.
    evaluator : Evaluator or None
        Default ``task.evaluator()`` (numpy, float64).

    Returns
    -------
    GuessResult
        ``trials``, ``theta`` (float64), ``solved_test`` (the solution's criterion on the
        test set), ``evaluated`` (nets run, the screen included) and ``seconds``.

    Examples
    --------
    >>> from evoneuro.tasks import latch, guess
    >>> task = latch(variant=1, n_train=20, n_test=20, min_length=50, max_length=60, random_state=0)
    >>> res = guess(task, max_trials=500, random_state=0)
    >>> res.trials is not None and res.trials <= 500, res.solved_test
    (True, True)
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be an evoneuro.tasks.Task (from latch(), parity(), ...), got "
                        f"{type(task).__name__} {task!r:.60}")
    max_trials = check_positive_int(max_trials, "max_trials")
    batch = check_positive_int(batch, "batch")
    screen = check_positive_int(screen, "screen", minimum=0)
    if r is not None:
        r = check_positive_float(r, "r")
    if evaluator is not None and not isinstance(evaluator, Evaluator):
        raise TypeError(f"evaluator must be an evoneuro.Evaluator of task.net or None, got {type(evaluator).__name__}")
    if evaluator is not None and evaluator.net != task.net:
        raise ValueError(f"evaluator must evaluate task.net ({task.net!r}), got one of {evaluator.net!r}")
    t0 = time.perf_counter()
    rng = check_rng(random_state)
    ev = evaluator if evaluator is not None else task.evaluator()
    low, high = task.bounds(r)
    X, y, lengths = task.net_data("train")
    k = min(int(screen), len(X)) if screen else len(X)
    Xs, ys, ls = X[:k], y[:k], None if lengths is None else lengths[:k]
    opt = RandomSearch(mode="global", distribution="uniform", low=low, high=high, popsize=int(batch),
                       dtype=ev.dtype.name).initialize(np.clip(0.0, low, high), rng)
    done, evaluated, size = 0, 0, 8
    while done < max_trials:
        Theta = opt.ask()[: max_trials - done]
        losses = np.full(len(Theta), np.inf)  # rows after a solution are never run
        start = 0
        while start < len(Theta):
            # growing chunks: a task solved in a few trials runs a few nets, not a batch
            rows = slice(start, min(start + size, len(Theta)))
            ok = task.criterion(ev.forward(Theta[rows], Xs, lengths=ls), ys)
            evaluated += len(ok)
            if ok.any() and k < len(X):
                idx = np.flatnonzero(ok)
                ok[idx] = task.criterion(ev.forward(Theta[rows][idx], X, lengths=lengths), y)
                evaluated += len(idx)
            losses[rows] = np.where(ok, 0.0, 1.0)
            if ok.any():
                opt.tell(Theta, losses)  # the solution becomes opt.best_x
                first = start + int(np.argmax(ok))
                theta = np.array(Theta[first], dtype=np.float64)
                return GuessResult(done + first + 1, theta, task.solved(theta, "test", ev), evaluated,
                                   time.perf_counter() - t0)
            start, size = rows.stop, min(2 * size, batch)
        opt.tell(Theta, losses)
        done += len(Theta)
    return GuessResult(None, None, None, evaluated, time.perf_counter() - t0)
