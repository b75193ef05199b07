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

from evoneuro._validation import check_positive_int
from evoneuro.evaluator import Evaluator


class Problem:
    """Base class: ``evaluate``, ``begin_step``, and the cost counter ``evals``."""

    n_params: int
    #: True when the same point always gets the same loss (no minibatch noise).
    deterministic: bool = True

    def __init__(self) -> None:
        self.evals = 0
        self._warned_nonfinite = False

    def begin_step(self, rng: np.random.Generator) -> None:
        """Called once before every optimizer step (draws the step's minibatch)."""

    def evaluate(self, Theta, need_grad: bool = False):
        """Losses ``(P,)`` float64 and gradients ``(P, n)`` or None."""
        raise NotImplementedError

    def full_loss(self, x) -> float:
        """Loss of one point on the whole problem (all training data)."""
        return float(self.evaluate(np.atleast_2d(x))[0][0])

    def _nonfinite_to_worst(self, losses: np.ndarray) -> np.ndarray:
        bad = ~np.isfinite(losses)
        if bad.any():
            if not self._warned_nonfinite:
                warnings.warn(
                    f"{int(bad.sum())} of {losses.size} losses were NaN or infinite; they count "
                    "as the worst value (+inf). Further occurrences are not reported.",
                    RuntimeWarning,
                    stacklevel=3,
                )
                self._warned_nonfinite = True
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

    def __init__(self, evaluator: Evaluator, X, y, batch_size: int | None = None) -> None:
        super().__init__()
        if not isinstance(evaluator, Evaluator):
            raise TypeError(f"evaluator must be an evoneuro.Evaluator, got {type(evaluator).__name__}")
        self.evaluator = evaluator
        self.net = evaluator.net
        self.n_params = self.net.n_params
        self.X = evaluator.check_X(X)
        self.y = evaluator.check_y(y, len(self.X))
        self.n_samples = len(self.X)
        bs = check_positive_int(batch_size, "batch_size", allow_none=True)
        self.batch_size = self.n_samples if bs is None or bs >= self.n_samples else bs
        self.deterministic = self.batch_size == self.n_samples
        self._order = np.arange(self.n_samples)
        self._pos = self.n_samples
        self._batch = (self.X, self.y)

    def begin_step(self, rng: np.random.Generator) -> None:
        if self.deterministic:
            return
        # Epoch-wise shuffling: every sample is seen once per pass over the data.
        if self._pos + self.batch_size > self.n_samples:
            self._order = rng.permutation(self.n_samples)
            self._pos = 0
        idx = self._order[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        self._batch = (self.X[idx], self.y[idx])

    def evaluate(self, Theta, need_grad: bool = False):
        Xb, yb = self._batch
        Theta = np.atleast_2d(Theta)
        if need_grad:
            losses, grads = self.evaluator.loss_and_grad(Theta, Xb, yb)
        else:
            losses, grads = self.evaluator.loss(Theta, Xb, yb), None
        self.evals += len(Theta) * len(Xb) * (3 if need_grad else 1)
        return self._nonfinite_to_worst(losses), grads

    def full_loss(self, x) -> float:
        losses = self.evaluator.loss(np.atleast_2d(x), self.X, self.y)
        self.evals += self.n_samples
        return float(losses[0])
