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
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

_NONE: Mapping = MappingProxyType({})


class Optimizer(ABC):
    """Base class of every evoneuro optimizer.

    Subclasses set ``name`` and ``needs_grad``, take their hyperparameters as keyword
    arguments in ``__init__`` (stored unchanged, scikit-learn style), and implement
    ``_initialize``, ``ask`` and ``_tell``.

    Fit defaults
    ------------
    What a fit gives the optimizer when the user sets nothing (the estimators, ``evoneuro
    compare`` and the fit recipe read them through :mod:`evoneuro.training.defaults`). A
    class whose measured defaults differ from these sets them, and says in its docstring
    what measurement chose them; subclasses inherit them.

    full_batch : bool, default=False
        Take the whole training set every step when the fit's ``batch_size`` is
        ``"auto"``, instead of minibatches of 256 rows: for algorithms that minibatch
        noise misleads.
    relative_spreads : mapping of str to float, default={}
        Initial spreads (``sigma0``, ``sigma``, ...) as fractions of the start's weight
        RMS (:func:`evoneuro.training.defaults.start_scale`), so that a search explores
        the same relative neighbourhood whatever the fan-in, activation or init.
    fit_defaults : mapping of str to object, default={}
        Fixed hyperparameters of a fit that differ from ``__init__``'s own defaults.
    inner_relative_spreads : mapping of str or None to mapping of str to float, default={}
        Hybrids (an ``inner`` optimizer by registry name, with ``inner_params``): the
        inner optimizer's initial spreads, relative as above, by inner optimizer name;
        ``None`` stands for the hybrid's own choice when ``inner`` is ``None``. An inner
        optimizer not named keeps its own defaults.
    patience_steps : int, default=2000
        The held-out rule's patience in steps: a fit that scores held-out data stops when
        the score has not improved for ``n_iter_no_change`` passes over the training data
        *and* for this many steps. A pass can be one step (a small data set, or a
        full-batch method), and a population's held-out score rises over thousands of
        generations, so passes alone would stop it early. Measured with sep-CMA-ES on 12
        fits of ``benchmarks/defaults_suite.py``'s tasks (6 tasks x 1x32 tanh, 6x32
        sigmoid): mean test score 0.699 with 500 steps, 0.720 with 2,000 (10 classes:
        0.36 -> 0.48 and 0.44 -> 0.52); the other populations inherit it unmeasured.

    Every key must be a parameter of ``__init__`` (the inner optimizer's, for
    ``inner_relative_spreads``): a class naming one it does not take is refused when it
    is defined.

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
    # fit defaults: described in the class docstring, checked by __init_subclass__
    full_batch: ClassVar[bool] = False
    relative_spreads: ClassVar[Mapping[str, float]] = _NONE
    fit_defaults: ClassVar[Mapping[str, Any]] = _NONE
    inner_relative_spreads: ClassVar[Mapping[str | None, Mapping[str, float]]] = _NONE
    patience_steps: ClassVar[int] = 2000

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        check_fit_defaults(cls)

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
        use, so that an optimizer unpickled from a state without them runs too; never pickled."""
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


def init_parameters(cls: type) -> frozenset[str] | None:
    """The keyword parameters ``cls(...)`` takes; ``None`` when it takes any (``**kwargs``)."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def _check_fractions(owner: str, spreads) -> None:
    if not isinstance(spreads, Mapping):
        raise TypeError(f"{owner} must be a mapping of parameter names to fractions, got {spreads!r}")
    for key, frac in spreads.items():
        if (isinstance(frac, bool) or not isinstance(frac, (int, float, np.number))
                or not (math.isfinite(frac) and frac > 0)):
            raise ValueError(f"{owner}[{key!r}] must be a positive fraction of the start's weight RMS, "
                             f"got {frac!r}")


def check_fit_defaults(cls: type) -> None:
    """Refuse fit defaults (see :class:`Optimizer`) that ``cls`` cannot take.

    Run for every subclass when it is defined, on the values it declares or inherits, so
    that a misspelt parameter fails there instead of being passed to (or ignored by) a fit.
    The names in ``inner_relative_spreads`` are checked against the inner optimizers when
    the defaults are read (:func:`evoneuro.training.defaults.optimizer_params`).
    """
    owner = cls.__name__
    if not isinstance(cls.full_batch, bool):
        raise TypeError(f"{owner}.full_batch must be a bool, got {cls.full_batch!r}")
    if isinstance(cls.patience_steps, bool) or not isinstance(cls.patience_steps, int) or cls.patience_steps < 0:
        raise TypeError(f"{owner}.patience_steps must be an int >= 0, got {cls.patience_steps!r}")
    _check_fractions(f"{owner}.relative_spreads", cls.relative_spreads)
    if not isinstance(cls.fit_defaults, Mapping):
        raise TypeError(f"{owner}.fit_defaults must be a mapping of parameter names to values, "
                        f"got {cls.fit_defaults!r}")
    inner = cls.inner_relative_spreads
    if not isinstance(inner, Mapping):
        raise TypeError(f"{owner}.inner_relative_spreads must be a mapping of inner optimizer names to "
                        f"spreads, got {inner!r}")
    for name, spreads in inner.items():
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{owner}.inner_relative_spreads keys must be registry names or None, got {name!r}")
        _check_fractions(f"{owner}.inner_relative_spreads[{name!r}]", spreads)
    both = sorted(set(cls.relative_spreads) & set(cls.fit_defaults))
    if both:
        raise ValueError(f"{owner} gives {both} both in relative_spreads and in fit_defaults")
    takes = init_parameters(cls)
    if takes is None:
        return
    for attr, keys in (("relative_spreads", cls.relative_spreads), ("fit_defaults", cls.fit_defaults),
                       ("inner_relative_spreads", ("inner", "inner_params") if inner else ())):
        unknown = sorted(set(keys) - takes)
        if unknown:
            what = "passes the inner optimizer's spreads through" if attr == "inner_relative_spreads" else "names"
            raise TypeError(f"{owner}.{attr} {what} {unknown}, which {owner}() does not take; "
                            f"it takes {sorted(takes)}")


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
