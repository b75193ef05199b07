"""CMA-ES: pycma's full-covariance strategy, and a vectorised separable (diagonal) one.

- :class:`CMAES` ("cmaes") drives :class:`cma.CMAEvolutionStrategy` through its own
  ``ask``/``tell`` (options ``popsize``, ``sigma0``, ``bounds``; IPOP restarts: on pycma's
  stop, start again with twice the population, Auger & Hansen 2005). Its ``n x n``
  covariance does not fit in memory for large networks: above ``memory_limit`` it warns
  and runs :class:`SepCMAES` instead.
- :class:`SepCMAES` ("sep-cmaes") is sep-CMA-ES (Ros & Hansen 2008): CMA-ES with a
  diagonal covariance, whose learning rates ``c_1, c_mu`` are multiplied by ``(n + 2) / 3``
  because a diagonal has only ``n`` entries to learn. pycma's own diagonal mode
  (``CMA_diagonal=True``) runs per-generation Python that costs more than a network
  evaluation at ``n = 20,000``; here each generation is a few passes over the ``P x n``
  sample matrix. Default parameters follow Hansen's tutorial (2016), Table 1.

References
----------
Hansen, N., Ostermeier, A. (2001). Completely Derandomized Self-Adaptation in Evolution
Strategies. Evolutionary Computation 9(2).
Hansen, N. (2016). The CMA Evolution Strategy: A Tutorial. arXiv:1604.00772.
Ros, R., Hansen, N. (2008). A Simple Modification in CMA-ES Achieving Linear Time and
Space Complexity. PPSN X, LNCS 5199, 296-305.
Auger, A., Hansen, N. (2005). A Restart CMA Evolution Strategy with Increasing Population
Size. IEEE CEC 2005. (IPOP)
Hansen, N., Akimoto, Y., Baudis, P. (2019). CMA-ES/pycma. doi:10.5281/zenodo.2559634.
"""

from __future__ import annotations

import math
import warnings

import cma
import numpy as np

from evoneuro._validation import check_dtype
from evoneuro.optimizers._noise import NoiseTable
from evoneuro.optimizers._shaping import cma_weights, weighted_sum
from evoneuro.optimizers.base import Optimizer, worst_to_finite
from evoneuro.optimizers.es import _popsize, _spread


class SepCMAES(Optimizer):
    """sep-CMA-ES: CMA-ES with a diagonal covariance, linear in ``n`` in time and memory.

    Samples ``x_k = m + sigma * d * z_k`` with ``z_k ~ N(0, I)`` and ``d = sqrt(diag C)``;
    updates ``m``, the evolution paths ``p_sigma`` and ``p_c``, ``diag C`` (rank-one and
    rank-mu) and ``sigma`` (cumulative step-size adaptation) as in Hansen's tutorial, with
    the diagonal learning rates of Ros & Hansen (2008).

    Parameters
    ----------
    popsize : int or None, default=None
        ``lambda``; ``None`` means ``4 + floor(3 ln n)``. ``mu = lambda // 2`` parents.
    sigma0 : float, default=0.05
        Initial step size (tuned for network weights; CSA adapts it slowly when ``n`` is
        large, so it matters).
    bounds : (lower, upper) or None, default=None
        Scalars or ``(n,)`` arrays; asked points are clipped into them.
    dtype : {"float32", "float64"}, default="float32"
        Dtype of the asked population (the state is float64).

    Attributes
    ----------
    mean, sigma, diag_C : ndarray (n,), float, ndarray (n,)
        The search distribution ``N(mean, sigma**2 diag(diag_C))``.

    Notes
    -----
    Fit defaults (:class:`~evoneuro.optimizers.base.Optimizer`): ``sigma0`` is 0.03 times
    the start's weight RMS. Test accuracy by ``sigma0`` on digits (X/16), the 10x32 sigmoid
    net from the ``"auto"`` start (weight RMS 0.82), minibatches of 256, 1e7 evaluations,
    seed 0: 0.01x 91.1 %, 0.015x 93.6 %, 0.03x 93.6 %, 0.1x 88.7 %, 0.2x 60.7 %
    (``benchmarks/defaults_table.py --study sweep --relative``). The step size adapts, so
    its start matters most for short budgets; much above 0.1x the sigmoids saturate and
    the search stalls.

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.optimizers.cmaes import SepCMAES
    >>> opt = SepCMAES(sigma0=0.5, dtype="float64").initialize(np.ones(8), np.random.default_rng(0))
    >>> for _ in range(300):
    ...     Theta = opt.ask()
    ...     opt.tell(Theta, (np.arange(1, 9) * Theta ** 2).sum(axis=1))
    >>> bool(opt.best_loss < 1e-8)
    True
    """

    name = "sep-cmaes"
    relative_spreads = {"sigma0": 0.03}

    def __init__(self, popsize: int | None = None, sigma0: float = 0.05, bounds=None,
                 dtype: str = "float32") -> None:
        super().__init__(popsize=popsize, sigma0=sigma0, bounds=bounds, dtype=dtype)

    def _initialize(self, x0: np.ndarray) -> None:
        p, n = self._params, x0.size
        lam = 4 + int(3 * math.log(n)) if p["popsize"] is None else _popsize(p["popsize"])
        self._P = lam
        self._dtype = check_dtype(p["dtype"])
        self._bounds = _check_bounds(p["bounds"], n)
        # --- strategy parameters (Hansen 2016, Table 1; Ros & Hansen 2008 for c1, cmu)
        w = cma_weights(lam)
        self._weights = w
        mueff = 1.0 / np.sum(w**2)
        self.c_sigma = (mueff + 2) / (n + mueff + 5)
        self.d_sigma = 1 + 2 * max(0.0, math.sqrt((mueff - 1) / (n + 1)) - 1) + self.c_sigma
        self.c_c = (4 + mueff / n) / (n + 4 + 2 * mueff / n)
        c1 = 2 / ((n + 1.3) ** 2 + mueff)
        cmu = min(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((n + 2) ** 2 + mueff))
        sep = (n + 2) / 3
        self.c_1 = min(1.0, c1 * sep)
        self.c_mu = min(1 - self.c_1, cmu * sep)
        self.mueff = mueff
        self._chi_n = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n**2))
        # --- state
        self.mean = x0.copy()
        self.sigma = _spread(p["sigma0"], "sigma0")
        self.diag_C = np.ones(n)
        self.p_sigma = np.zeros(n)
        self.p_c = np.zeros(n)
        self._noise = NoiseTable(n, self.rng, self._dtype)
        self._z: np.ndarray | None = None  # the samples told in place of the drawn ones (adopt)
        self._z_offsets: np.ndarray | None = None  # the drawn samples: rows of the noise table

    @property
    def popsize(self) -> int:
        return self._P

    @property
    def x(self) -> np.ndarray:
        if self._bounds is None:
            return self.mean
        return np.clip(self.mean, *self._bounds)

    def adopt(self, Theta) -> None:
        """Make the next :meth:`tell` update from the points ``Theta``, not the asked ones.

        ``tell`` learns from the samples ``z`` drawn in :meth:`ask`; when other points are
        told in their place (a Lamarckian memetic algorithm tells the members after their
        local search), call this first: their samples ``(x - mean) / (sigma d)``, each
        clipped in length as pycma does for points it did not sample (Hansen 2011),
        replace the drawn ones.
        """
        if self._z is None and getattr(self, "_z_offsets", None) is None:
            raise RuntimeError("adopt must come between an ask and its tell")
        from evoneuro.optimizers._samples import clipped_samples

        Theta = np.asarray(Theta)
        if Theta.shape != (self._P, self.n_params):
            raise ValueError(f"adopt expects {(self._P, self.n_params)} points like the last ask, got {Theta.shape}")
        self._z = clipped_samples(Theta, self.mean, self.sigma * np.sqrt(self.diag_C)).astype(self._dtype)
        self._z_offsets = None

    def ask(self) -> np.ndarray:
        from evoneuro.backends.numba.fused import scaled_rows

        # theta = m + sigma d z in one pass from the noise table's rows (the samples z stay
        # in the table: tell gathers the mu it needs), into the array asked two generations ago
        self._z, self._z_offsets = None, self._noise.offsets(self.rng, self._P)
        scale = (self.sigma * np.sqrt(self.diag_C)).astype(self._dtype)
        Theta = self._population_array(self._P)
        scaled_rows(self._noise.table, self._z_offsets, scale, self.mean.astype(self._dtype), Theta)
        if self._bounds is not None:
            np.clip(Theta, *self._bounds, out=Theta)
        return Theta

    def _tell(self, Theta, losses, grads) -> None:
        offsets = getattr(self, "_z_offsets", None)
        if self._z is None and offsets is None:
            raise RuntimeError("tell was called without a matching ask")
        mu = len(self._weights)
        best = np.argsort(losses, kind="stable")[:mu]
        z_sel = self._workspace.array("z_sel", (mu, self.n_params), self._dtype)
        if self._z is not None:
            np.take(self._z, best, axis=0, out=z_sel)
        else:
            self._noise.rows_at(offsets[best], out=z_sel)
        w = self._weights
        d = np.sqrt(self.diag_C)
        # --- mean: m += sigma * d * z_w
        z_w = weighted_sum(w, z_sel).astype(np.float64)
        y_w = d * z_w
        self.mean += self.sigma * y_w
        # --- evolution paths; for diagonal C, C^(-1/2) y_w = z_w
        cs, cc = self.c_sigma, self.c_c
        self.p_sigma = (1 - cs) * self.p_sigma + math.sqrt(cs * (2 - cs) * self.mueff) * z_w
        ps_norm = math.sqrt(np.einsum("i,i->", self.p_sigma, self.p_sigma))  # no BLAS, see weighted_sum
        h_sigma = ps_norm / math.sqrt(1 - (1 - cs) ** (2 * (self.generation + 1))) < (
            (1.4 + 2 / (self.n_params + 1)) * self._chi_n)
        self.p_c = (1 - cc) * self.p_c + h_sigma * math.sqrt(cc * (2 - cc) * self.mueff) * y_w
        # --- diagonal covariance: rank-one + rank-mu, sum_i w_i y_i**2 = d**2 * sum_i w_i z_i**2
        np.square(z_sel, out=z_sel)
        rank_mu = self.diag_C * weighted_sum(w, z_sel).astype(np.float64)
        c1, cmu = self.c_1, self.c_mu
        decay = 1 - c1 - cmu + (1 - h_sigma) * c1 * cc * (2 - cc)
        self.diag_C = decay * self.diag_C + c1 * self.p_c**2 + cmu * rank_mu
        # --- step size (cumulative step-size adaptation)
        self.sigma *= math.exp(min(1.0, (cs / self.d_sigma) * (ps_norm / self._chi_n - 1)))
        self._z = self._z_offsets = None


class _Randn:
    """pycma's ``randn(lam, N)`` option served from our own Generator (so it pickles and
    pycma never touches ``np.random``'s global state)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def __call__(self, *shape: int) -> np.ndarray:
        return self.rng.standard_normal(shape)


class CMAES(Optimizer):
    """Full-covariance CMA-ES from pycma, with IPOP restarts and a memory guard.

    Parameters
    ----------
    popsize : int or None, default=None
        ``lambda``; ``None`` means pycma's default ``4 + floor(3 ln n)``.
    sigma0 : float, default=0.1
        Initial step size.
    bounds : (lower, upper) or None, default=None
        Passed to pycma (its ``BoundTransform``).
    restarts : int, default=0
        IPOP restarts: when pycma's ``stop()`` fires, start again from ``x0`` with twice
        the population size, at most this many times.
    memory_limit : int, default=2**30
        Bytes full CMA-ES may take at its peak, as estimated by :func:`cma_bytes`
        (``7 x 8 n**2``: seven ``n x n`` arrays while pycma decomposes its covariance);
        above it a :class:`SepCMAES` (float32 populations) is run instead, with a
        ``UserWarning``.
    options : dict or None, default=None
        Further pycma options (e.g. ``{"CMA_active": False}``).

    Attributes
    ----------
    es : cma.CMAEvolutionStrategy or None
        The running pycma instance (None after the switch to sep-CMA-ES).
    sep : SepCMAES or None
        The diagonal strategy used instead when the covariance does not fit.
    n_restarts : int
        Restarts done so far.

    Notes
    -----
    Fit defaults (:class:`~evoneuro.optimizers.base.Optimizer`): ``sigma0`` is 0.03 times
    the start's weight RMS, the value measured for :class:`SepCMAES` (full CMA-ES was not
    swept on its own).

    Examples
    --------
    >>> import cma, numpy as np
    >>> from evoneuro.optimizers.cmaes import CMAES
    >>> opt = CMAES(sigma0=0.5).initialize(np.zeros(4), np.random.default_rng(0))
    >>> for _ in range(300):
    ...     Theta = opt.ask()
    ...     opt.tell(Theta, [cma.ff.rosen(t) for t in Theta])
    >>> bool(opt.best_loss < 1e-8)
    True
    """

    name = "cmaes"
    relative_spreads = {"sigma0": 0.03}

    def __init__(self, popsize: int | None = None, sigma0: float = 0.1, bounds=None,
                 restarts: int = 0, memory_limit: int = 1 << 30, options: dict | None = None) -> None:
        super().__init__(popsize=popsize, sigma0=sigma0, bounds=bounds, restarts=restarts,
                         memory_limit=memory_limit, options=options)

    def _initialize(self, x0: np.ndarray) -> None:
        p, n = self._params, x0.size
        self._sigma0 = _spread(p["sigma0"], "sigma0")
        self._popsize0 = None if p["popsize"] is None else _popsize(p["popsize"])
        restarts = p["restarts"]
        if isinstance(restarts, bool) or not isinstance(restarts, (int, np.integer)) or restarts < 0:
            raise ValueError(f"restarts must be an int >= 0, got {restarts!r}")
        self._restarts = int(restarts)
        if p["options"] is not None and not isinstance(p["options"], dict):
            raise TypeError(f"options must be a dict of pycma options, got {type(p['options']).__name__}")
        self._x0 = x0.copy()
        self.n_restarts = 0
        self.es = None
        self.sep = None
        self._asked: list | None = None
        need = cma_bytes(n, self._popsize0)
        if need > p["memory_limit"]:
            warnings.warn(
                f"full CMA-ES on n={n} parameters needs about {need / 2**30:.2f} GiB (pycma's n x n "
                f"covariance and eigenvectors, {8 * n * n / 2**30:.2f} GiB each, and 5 more such arrays "
                f"while it decomposes the covariance) > memory_limit={p['memory_limit'] / 2**30:.2f} GiB; "
                "running sep-CMA-ES (diagonal covariance, Ros & Hansen 2008) instead"
                + (" without restarts" if self._restarts else ""),
                UserWarning, stacklevel=3)
            # n this large means a network: float32 populations, like the evaluator's default
            self.sep = SepCMAES(popsize=self._popsize0, sigma0=self._sigma0, bounds=p["bounds"],
                                dtype="float32").initialize(x0, self.rng)
            return
        self._start(self._popsize0)

    def _start(self, popsize: int | None) -> None:
        opts = {"verbose": -9, "seed": np.nan, "randn": _Randn(self.rng), "verb_log": 0,
                "verb_disp": 0}
        if popsize is not None:
            opts["popsize"] = popsize
        if self._params["bounds"] is not None:
            opts["bounds"] = list(self._params["bounds"])
        opts.update(self._params["options"] or {})
        self.es = cma.CMAEvolutionStrategy(self._x0, self._sigma0, opts)

    @property
    def popsize(self) -> int:
        return self.sep.popsize if self.sep is not None else int(self.es.popsize)

    @property
    def x(self) -> np.ndarray:
        if self.sep is not None:
            return self.sep.x
        return np.asarray(self.es.result.xfavorite, dtype=np.float64)

    @property
    def sigma(self) -> float:
        return self.sep.sigma if self.sep is not None else float(self.es.sigma)

    def ask(self) -> np.ndarray:
        if self.sep is not None:
            return self.sep.ask()
        if self.es.stop() and self.n_restarts < self._restarts:
            self.n_restarts += 1
            self._start(2 * int(self.es.popsize))
        self._asked = self.es.ask()
        return np.array(self._asked, dtype=np.float64)

    def _tell(self, Theta, losses, grads) -> None:
        if self.sep is not None:
            self.sep.tell(Theta, losses)
            return
        if self._asked is None:
            raise RuntimeError("tell was called without a matching ask")
        # pycma finds its own genotypes by the asked arrays; pass them when Theta is unchanged
        asked = np.asarray(self._asked)
        solutions = self._asked if np.array_equal(asked, Theta) else list(np.asarray(Theta, float))
        self.es.tell(solutions, list(worst_to_finite(losses)))
        self._asked = None


def cma_bytes(n: int, popsize: int | None = None) -> int:
    """Peak bytes pycma's full CMA-ES holds at ``n`` parameters (what the memory guard counts).

    pycma keeps the covariance ``C`` and its eigenvectors ``B`` (two ``n x n`` float64
    arrays), and adds one more for the rank-mu update in ``tell``. Its eigendecomposition,
    every few generations, is the peak: the symmetrised copy of ``C``, LAPACK's copy of
    its input, the new eigenvectors and ``syevd``'s workspace (``2 n**2 + 6 n`` doubles)
    live next to ``C`` and the old ``B``: seven ``n x n`` arrays. Add the population and
    its samples (``4 popsize x n``). Measured peaks (``benchmarks/cma_memory.py``, resident
    memory added by the optimizer) lie within 5 % of this at n = 1,000 to 6,000.

    Parameters
    ----------
    n : int
        Number of parameters.
    popsize : int or None, default=None
        ``lambda``; None means pycma's default ``4 + floor(3 ln n)``.

    Examples
    --------
    >>> from evoneuro.optimizers.cmaes import cma_bytes
    >>> round(cma_bytes(6000) / 2**30, 2)  # GiB; 8 n^2 alone is 0.27 GiB
    1.88
    """
    lam = 4 + int(3 * math.log(n)) if popsize is None else int(popsize)
    return 8 * (7 * n * n + 4 * lam * n + 6 * n)


def _check_bounds(bounds, n: int):
    if bounds is None:
        return None
    try:
        lower, upper = bounds
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be None or a pair (lower, upper), got {bounds!r}") from None
    lo = np.broadcast_to(np.asarray(-np.inf if lower is None else lower, dtype=float), (n,))
    hi = np.broadcast_to(np.asarray(np.inf if upper is None else upper, dtype=float), (n,))
    if np.any(lo >= hi):
        raise ValueError("bounds must have lower < upper in every coordinate")
    return lo, hi
