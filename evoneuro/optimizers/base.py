"""The one optimizer contract: ``ask`` -> evaluate -> ``tell``, wrapped by ``step``.

Every optimizer, gradient-based or not, is an object with

- ``initialize(x0, rng)``: set up the state around a start vector ``x0`` ``(n,)``;
- ``ask() -> Theta`` of shape ``(P, n)``: the points to evaluate this step;
- ``tell(Theta, losses, grads=None)``: what they cost (and their gradients when
  ``needs_grad``);
- ``step(problem)``: one generation; by default ask -> ``problem.evaluate`` -> tell.
  Hybrids override it.

Losses are always *minimised*. The constructor only stores hyperparameters; all state is
created by ``initialize`` and lives on the object, which pickles, so a run can be
checkpointed mid-way and resumed with the same result. :meth:`Optimizer.tell` does the
bookkeeping common to all (best-so-far, counters, non-finite losses) once, then calls the
algorithm's ``_tell`` (the evosax habit).

References
----------
Hansen, N. (2009-). pycma's ``OOOptimizer`` ask/tell interface, ``cma/interfaces.py``.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np


class Optimizer(ABC):
    """Base class of every evoneuro optimizer.

    Subclasses set ``name`` and ``needs_grad``, take their hyperparameters as keyword
    arguments in ``__init__`` (stored unchanged, scikit-learn style), and implement
    ``_initialize``, ``ask`` and ``_tell``.

    Attributes (after ``initialize``)
    ---------------------------------
    x : ndarray (n,)
        The current recommendation: the iterate (gradient methods), the search
        distribution's mean (ES, CMA-ES), or the best individual (GA, PSO).
    best_x, best_loss : ndarray (n,), float
        The best point told so far and its loss (on the minibatch it was told with).
    generation : int
        Number of completed ``tell`` calls.
    n_told : int
        Number of points told.
    """

    name: ClassVar[str] = "base"
    needs_grad: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self._params = dict(params)
        self.rng: np.random.Generator | None = None
        self.n_params: int = 0
        self.generation = 0
        self.n_told = 0
        self.best_x: np.ndarray | None = None
        self.best_loss = np.inf

    # --- scikit-learn style parameter access ------------------------------------------

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters this optimizer was built with."""
        return dict(self._params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        return f"{type(self).__name__}({args})"

    # --- lifecycle --------------------------------------------------------------------

    @property
    def initialized(self) -> bool:
        return self.rng is not None

    def setup(self, problem) -> None:
        """Read structure from ``problem`` before :meth:`initialize`; default: nothing.

        :class:`evoneuro.Trainer` calls it once, before initialising. Layer-wise
        gradient methods take ``problem.layer_slices`` here; hybrids may take the network.
        """

    def initialize(self, x0, rng: np.random.Generator) -> "Optimizer":
        """Create the state around ``x0`` (float64 copy), drawing randomness from ``rng``."""
        x0 = np.array(x0, dtype=np.float64)
        if x0.ndim != 1 or x0.size == 0:
            raise ValueError(f"x0 must be a non-empty 1-D vector, got shape {x0.shape}")
        if not np.isfinite(x0).all():
            raise ValueError("x0 contains NaN or infinity")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
        self.rng = rng
        self.n_params = x0.size
        self.generation = 0
        self.n_told = 0
        self.best_x = x0.copy()
        self.best_loss = np.inf
        self._initialize(x0)
        return self

    @abstractmethod
    def _initialize(self, x0: np.ndarray) -> None:
        """Algorithm-specific state around ``x0``."""

    @abstractmethod
    def ask(self) -> np.ndarray:
        """Points to evaluate, shape ``(P, n)``."""

    def tell(self, Theta, losses, grads=None, *, ranking=None) -> None:
        """Report the losses (and gradients) of the points from :meth:`ask`.

        ``ranking``, optional ``(P,)``: values the algorithm's update uses in place of the
        losses (a hybrid's leave-one-out or validation score, say); ``losses`` still decide
        :attr:`best_x`. NaN counts as the worst value in both.
        """
        Theta = np.asarray(Theta)
        losses = np.asarray(losses, dtype=np.float64).reshape(-1)
        if Theta.ndim != 2 or Theta.shape != (losses.size, self.n_params):
            raise ValueError(
                f"tell expects Theta of shape (P, {self.n_params}) and P losses; "
                f"got Theta {Theta.shape} and {losses.size} losses"
            )
        if self.needs_grad and (grads is None or np.shape(grads) != Theta.shape):
            raise ValueError(f"{self.name} needs gradients of shape {Theta.shape} in tell")
        if ranking is not None:
            ranking = np.asarray(ranking, dtype=np.float64).reshape(-1)
            if ranking.size != losses.size:
                raise ValueError(f"ranking must hold one value per point ({losses.size}), got {ranking.size}")
            ranking = np.where(np.isnan(ranking), np.inf, ranking)
        losses = np.where(np.isnan(losses), np.inf, losses)
        i = int(np.argmin(losses))
        if losses[i] < self.best_loss:
            self.best_loss = float(losses[i])
            self.best_x = np.array(Theta[i], dtype=np.float64)
        self._tell(Theta, losses if ranking is None else ranking, grads)
        self.generation += 1
        self.n_told += losses.size

    @abstractmethod
    def _tell(self, Theta: np.ndarray, losses: np.ndarray, grads: np.ndarray | None) -> None:
        """Algorithm-specific update; ``losses`` are float64 with NaN turned into +inf."""

    def step(self, problem) -> np.ndarray:
        """One generation on ``problem``; returns the losses of the evaluated points."""
        Theta = self.ask()
        losses, grads = problem.evaluate(Theta, need_grad=self.needs_grad)
        self.tell(Theta, losses, grads)
        return losses

    @property
    @abstractmethod
    def x(self) -> np.ndarray:
        """The current recommendation, shape ``(n,)``."""

    @property
    def popsize(self) -> int:
        """Points asked per step."""
        return 1

    def copy(self) -> "Optimizer":
        """A deep copy (state included)."""
        return copy.deepcopy(self)

    @property
    def _workspace(self):
        """Arrays reused from one generation to the next (:mod:`._workspace`), made on first
        use, so optimizers pickled before it existed load; never pickled."""
        work = self.__dict__.get("_work")
        if work is None:
            from evoneuro.optimizers._workspace import Workspace

            work = self.__dict__["_work"] = Workspace()
        return work

    def _population_array(self, rows: int) -> np.ndarray:
        """An uninitialised ``(rows, n_params)`` array in ``self._dtype`` for this generation's
        population: the one of two generations ago when no caller still holds it (the current
        one is being told, so the two alternate), else a new array."""
        return self._workspace.array(f"population{self.generation % 2}", (rows, self.n_params), self._dtype)

    def fresh(self) -> "Optimizer":
        """A new, uninitialised optimizer with the same hyperparameters."""
        return type(self)(**self._params)


def worst_to_finite(losses: np.ndarray) -> np.ndarray:
    """Replace +inf losses by a finite value worse than every finite one.

    For algorithms that need arithmetic on losses (pycma, weighted means); rank-based
    ones can use +inf directly.
    """
    bad = ~np.isfinite(losses)
    if not bad.any():
        return losses
    finite = losses[~bad]
    worst = finite.max() + abs(finite.max()) + 1.0 if finite.size else 1e300
    out = losses.copy()
    out[bad] = worst
    return out
