"""Random search: pure random sampling, and (1+lambda) local search with a success rule.

- ``mode="global"``: every step samples ``popsize`` points ``x0 + sigma * z``
  (``z ~ N(0, I)``) around the *start*; the recommendation is the best point seen. The
  baseline every other optimizer has to beat.
- ``mode="local"`` (default): a (1+lambda) random search. Each step asks for the parent
  and ``lambda`` offspring ``x + sigma * z_k``; the best offspring replaces the parent
  when it is at least as good. ``sigma`` follows the 1/5th success rule (Rechenberg 1973;
  Schumer & Steiglitz 1968) in the smoothed form for lambda offspring of Igel, Hansen &
  Roth (2007): the smoothed fraction ``p`` of offspring at least as good as their parent
  moves ``sigma`` by
  ``exp((p - p_target) / (d (1 - p_target)))`` with ``p_target = 1 / (5 + sqrt(lambda) / 2)``.
- ``mode="global", distribution="uniform"``: random weight guessing as Schmidhuber &
  Hochreiter (1996) define it: every point is drawn afresh, each coordinate uniform in
  ``[low, high]`` (scalars or one bound per coordinate; ``low == high`` pins a
  coordinate), independently of the start. See :func:`evoneuro.tasks.guess`.

The parent is asked again every step, so with minibatches parent and offspring are
compared on the same data: an old lucky loss cannot freeze the search.

References
----------
Schumer, M. A., Steiglitz, K. (1968). Adaptive step size random search. IEEE Transactions
on Automatic Control 13(3), 270-276.
Rechenberg, I. (1973). Evolutionsstrategie. Frommann-Holzboog.
Igel, C., Hansen, N., Roth, S. (2007). Covariance Matrix Adaptation for Multi-objective
Optimization. Evolutionary Computation 15(1), 1-28. (success rule for (1+lambda))
Schmidhuber, J., Hochreiter, S. (1996). Guessing can outperform many long time lag
algorithms. Technical Report IDSIA-19-96. (uniform guessing)
"""

from __future__ import annotations

import math

import numpy as np

from evoneuro._validation import check_dtype
from evoneuro.optimizers._noise import NoiseTable
from evoneuro.optimizers.base import Optimizer
from evoneuro.optimizers.es import _popsize, _spread


class RandomSearch(Optimizer):
    """Random search, global (pure sampling) or local ((1+lambda) with step-size control).

    Parameters
    ----------
    mode : {"local", "global"}, default="local"
        See the module description.
    popsize : int, default=16
        Points sampled per step (``lambda``); in local mode the parent is asked as well,
        so a step asks ``popsize + 1`` points.
    sigma : float, default=0.05
        Sampling scale; in local mode its initial value, then adapted.
    dtype : {"float32", "float64"}, default="float32"
        Dtype of the asked population.
    distribution : {"normal", "uniform"}, default="normal"
        ``"uniform"`` (global mode only) draws every point uniformly in ``[low, high]``
        instead of ``x0 + sigma * N(0, I)``; ``sigma`` is then unused.
    low, high : float or array-like (n,), default=None
        The box of ``distribution="uniform"``; both required there.

    Attributes
    ----------
    sigma : float
        The current step size (local mode).
    success_rate : float
        The smoothed fraction of offspring at least as good as their parent (local mode).

    Notes
    -----
    Fit defaults (:class:`~evoneuro.optimizers.base.Optimizer`): the full batch, and
    ``sigma`` 0.02 times the start's weight RMS. Measured on digits (X/16), the 10x32
    sigmoid net from the ``"auto"`` start (weight RMS 0.82), seed 0, test accuracy:

    - ``sigma``, minibatches of 256, 1e7 evaluations: 0.02x 85.1 %, 0.05x 60.4 %
      (``benchmarks/defaults_table.py --study sweep --relative``).
    - Minibatches: the success rule counts offspring that beat the parent on one
      minibatch's noise as successes, so the step size grows and the search drifts. After
      1e7 / 3e7 / 6e7 evaluations, minibatches of 256 gave 88.0 / 78.2 / 57.6 % with the
      step size growing from 0.014 to 0.030; the full batch gave 83.3 / 91.3 / 96.2 % with
      it shrinking from 0.015 to 0.006.

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.optimizers.random_search import RandomSearch
    >>> opt = RandomSearch(sigma=1.0, dtype="float64").initialize(np.full(4, 3.0), np.random.default_rng(0))
    >>> for _ in range(300):
    ...     Theta = opt.ask()
    ...     opt.tell(Theta, (Theta ** 2).sum(axis=1))
    >>> bool((opt.x ** 2).sum() < 1e-6)
    True

    Guessing in a box, one coordinate pinned:

    >>> opt = RandomSearch(mode="global", distribution="uniform", low=[-100, -100, 1], high=[100, 100, 1],
    ...                    popsize=4, dtype="float64").initialize(np.zeros(3), np.random.default_rng(0))
    >>> Theta = opt.ask()
    >>> Theta.shape, bool((np.abs(Theta) <= 100).all()), Theta[:, 2].tolist()
    ((4, 3), True, [1.0, 1.0, 1.0, 1.0])
    """

    name = "random"
    full_batch = True
    relative_spreads = {"sigma": 0.02}

    def __init__(self, mode: str = "local", popsize: int = 16, sigma: float = 0.05,
                 dtype: str = "float32", distribution: str = "normal", low=None, high=None) -> None:
        super().__init__(mode=mode, popsize=popsize, sigma=sigma, dtype=dtype,
                         distribution=distribution, low=low, high=high)

    def _initialize(self, x0: np.ndarray) -> None:
        p, n = self._params, x0.size
        if p["mode"] not in ("local", "global"):
            raise ValueError(f"mode must be 'local' or 'global', got {p['mode']!r}")
        self.mode = p["mode"]
        self._lam = _popsize(p["popsize"], minimum=1)
        self.sigma = _spread(p["sigma"], "sigma")
        self._dtype = check_dtype(p["dtype"])
        self._center = x0.copy()  # the parent (local) or the fixed start (global)
        self._noise = NoiseTable(n, self.rng, self._dtype)
        self._box = self._check_box(p.get("distribution", "normal"), p.get("low"), p.get("high"), n)
        # --- success rule (Igel, Hansen & Roth 2007, with lambda offspring)
        self._p_target = 1 / (5 + math.sqrt(self._lam) / 2)
        self._c_p = self._p_target * self._lam / (2 + self._p_target * self._lam)
        self._damping = 1 + n / (2 * self._lam)
        self.success_rate = self._p_target

    def _check_box(self, distribution, low, high, n: int):
        """``(low, high - low)`` as float64 ``(n,)`` arrays for uniform guessing, else None."""
        if distribution not in ("normal", "uniform"):
            raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")
        if distribution == "normal":
            return None
        if self.mode != "global":
            raise ValueError("distribution='uniform' needs mode='global' (independent guesses)")
        if low is None or high is None:
            raise ValueError("distribution='uniform' needs both low and high")
        lo, hi = (np.broadcast_to(np.asarray(b, dtype=np.float64), (n,)).copy() for b in (low, high))
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()) or (hi < lo).any():
            raise ValueError("low and high must be finite with low <= high")
        return lo, hi - lo

    @property
    def popsize(self) -> int:
        return self._lam + (self.mode == "local")

    @property
    def x(self) -> np.ndarray:
        return self._center if self.mode == "local" else self.best_x

    def ask(self) -> np.ndarray:
        center = self._center.astype(self._dtype)
        sigma = self._dtype.type(self.sigma)
        if getattr(self, "_box", None) is not None:  # a pickled state may lack _box
            # Fresh draws, not noise-table rows: guesses must be independent trials, and
            # the nets guessed have few parameters, so drawing costs nothing.
            lo, width = self._box
            return (lo + width * self.rng.random((self._lam, self.n_params))).astype(self._dtype)
        # the guesses go into the array asked two generations ago, if no caller holds it
        Theta = self._population_array(self._lam + (self.mode != "global"))
        rows = Theta if self.mode == "global" else Theta[1:]
        self._noise.rows(self.rng, self._lam, out=rows)
        rows *= sigma
        rows += center
        if self.mode != "global":
            Theta[0] = center
        return Theta

    def _tell(self, Theta, losses, grads) -> None:
        if self.mode == "global":
            return
        k = 1 + int(np.argmin(losses[1:]))
        if losses[k] <= losses[0] and np.isfinite(losses[k]):
            self._center = np.array(Theta[k], dtype=np.float64)
        successes = np.count_nonzero((losses[1:] <= losses[0]) & np.isfinite(losses[1:]))
        self.success_rate += self._c_p * (successes / self._lam - self.success_rate)
        self.sigma *= math.exp((self.success_rate - self._p_target)
                               / (self._damping * (1 - self._p_target)))
