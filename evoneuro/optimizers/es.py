"""Natural-gradient-style evolution strategies: OpenAI-ES and separable NES (SNES).

Both keep a Gaussian search distribution around a mean ``mu`` (the recommendation
``x``), sample a population from it, and move it with a rank-shaped estimate of the
gradient; only the step-size handling differs.

- :class:`OpenAIES` ("es") keeps ``sigma`` fixed, samples antithetic pairs
  ``mu +- sigma * eps``, shapes losses by centred ranks and feeds the gradient estimate
  (plus weight decay) to Adam (Salimans et al., 2017).
- :class:`SNES` ("snes") adapts one step size per coordinate with the separable natural
  gradient and NES utilities (Schaul, Glasmachers & Schmidhuber, 2011).

Noise rows come from a shared table (:mod:`._noise`), as in Salimans et al.: slicing is
cheap, drawing ``P x n`` fresh Gaussians is not.

References
----------
Salimans, T., Ho, J., Chen, X., Sidor, S., Sutskever, I. (2017). Evolution Strategies as
a Scalable Alternative to Reinforcement Learning. arXiv:1703.03864.
Schaul, T., Glasmachers, T., Schmidhuber, J. (2011). High Dimensions and Heavy Tails for
Natural Evolution Strategies. GECCO '11, 845-852.
Wierstra, D. et al. (2014). Natural Evolution Strategies. JMLR 15, 949-980.
Kingma, D. P., Ba, J. (2015). Adam: A Method for Stochastic Optimization. ICLR.
Brockhoff, D., Auger, A., Hansen, N., Arnold, D. V., Hohm, T. (2010). Mirrored Sampling
and Sequential Selection for Evolution Strategies. PPSN XI. (antithetic sampling)
"""

from __future__ import annotations

import math

import numpy as np

from evoneuro._validation import check_dtype
from evoneuro.distributed.seeds import seeds_step
from evoneuro.optimizers._noise import NoiseTable
from evoneuro.optimizers._shaping import by_rank, centered_ranks, nes_utilities, weighted_sum
from evoneuro.optimizers.base import Optimizer


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 < value < np.inf:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return float(value)


#: Largest search spread (``sigma``, ``sigma0``): a few times it must stay finite in float32
#: populations, and no weight vector needs a wider search.
MAX_SPREAD = 1e30


def _spread(value, name: str) -> float:
    """A search spread: a finite number in ``(0, MAX_SPREAD]``."""
    value = _positive(value, name)
    if value > MAX_SPREAD:
        raise ValueError(f"{name} must be at most {MAX_SPREAD:g} (wider members overflow float32 to infinity), "
                         f"got {value!r}")
    return value


def _popsize(value, name: str = "popsize", minimum: int = 2) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


class OpenAIES(Optimizer):
    """OpenAI evolution strategy: antithetic sampling, centred ranks, Adam, weight decay.

    Each step samples ``popsize / 2`` directions ``eps_j ~ N(0, I)`` and asks for
    ``mu + sigma * eps_j`` and ``mu - sigma * eps_j``. With centred ranks ``r`` of the
    losses (``-0.5`` best), the loss gradient estimate is
    ``g = sum_j (r_j+ - r_j-) eps_j / (popsize * sigma) + weight_decay * mu``, and Adam
    takes one step on ``mu`` along ``-g``.

    Parameters
    ----------
    popsize : int, default=32
        Points per step; even (antithetic pairs).
    sigma : float, default=0.02
        Fixed standard deviation of the perturbations (Salimans et al.'s value).
    learning_rate : float, default=0.02
        Adam's step size. The defaults are tuned on a 10-layer sigmoid net for digits
        (``benchmarks/digits_60s.py``); Salimans et al. used ``sigma=0.02``, ``0.01``.
    weight_decay : float, default=0.005
        L2 coefficient added to the gradient estimate (Salimans et al. use 0.005).
    beta1, beta2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's moment decay rates and denominator guard.
    dtype : {"float32", "float64"}, default="float32"
        Dtype of the asked population (the mean is kept in float64).

    Notes
    -----
    Fit defaults (:class:`~evoneuro.optimizers.base.Optimizer`): ``sigma`` is 0.03 times
    the start's weight RMS, and ``popsize`` is 64. On digits (X/16), the 10x32 sigmoid net
    from the ``"auto"`` start (weight RMS 0.82), minibatches of 256, seed 0, 1e7
    evaluations gave a test accuracy of 65.3 % at ``sigma`` 0.01x and 0.03x with
    ``learning_rate=0.05``, 91.3 % at 0.03x with 0.02 (``benchmarks/defaults_table.py
    --study sweep --relative``). ``sigma`` does not adapt, so the minibatch noise in the
    gradient estimate is what limits the search, and a larger population halves it: 2.5e7
    evaluations, seeds 0-1, popsize 32 91.2 %, 64 93.3 %.

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.optimizers.es import OpenAIES
    >>> opt = OpenAIES(popsize=20, sigma=0.1, learning_rate=0.1, dtype="float64")
    >>> opt = opt.initialize(np.full(5, 2.0), np.random.default_rng(0))
    >>> for _ in range(200):
    ...     Theta = opt.ask()
    ...     opt.tell(Theta, (Theta ** 2).sum(axis=1))
    >>> bool((opt.x ** 2).sum() < 0.05)
    True
    """

    name = "es"
    relative_spreads = {"sigma": 0.03}
    fit_defaults = {"popsize": 64}

    def __init__(self, popsize: int = 32, sigma: float = 0.02, learning_rate: float = 0.02,
                 weight_decay: float = 0.005, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, dtype: str = "float32") -> None:
        super().__init__(popsize=popsize, sigma=sigma, learning_rate=learning_rate,
                         weight_decay=weight_decay, beta1=beta1, beta2=beta2, epsilon=epsilon,
                         dtype=dtype)

    def _initialize(self, x0: np.ndarray) -> None:
        p = self._params
        self._P = _popsize(p["popsize"])
        if self._P % 2:
            raise ValueError(f"popsize must be even (antithetic pairs), got {self._P}")
        self.sigma = _spread(p["sigma"], "sigma")
        self._lr = _positive(p["learning_rate"], "learning_rate")
        self._wd = float(p["weight_decay"])
        if self._wd < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self._wd}")
        self._b1, self._b2 = float(p["beta1"]), float(p["beta2"])
        if not (0 <= self._b1 < 1 and 0 <= self._b2 < 1):
            raise ValueError(f"beta1 and beta2 must lie in [0, 1), got {self._b1}, {self._b2}")
        self._adam_eps = _positive(p["epsilon"], "epsilon")
        self._dtype = check_dtype(p["dtype"])
        self.mu = x0.copy()
        self._m = np.zeros_like(x0)
        self._v = np.zeros_like(x0)
        self._t = 0
        self._noise = NoiseTable(x0.size, self.rng, self._dtype)
        self._eps: np.ndarray | None = None

    @property
    def popsize(self) -> int:
        return self._P

    @property
    def x(self) -> np.ndarray:
        return self.mu

    def ask(self) -> np.ndarray:
        h, n, work = self._P // 2, self.n_params, self._workspace
        self._eps = self._noise.rows(self.rng, h, out=work.array("eps", (h, n), self._dtype))
        step = np.multiply(self._eps, self._dtype.type(self.sigma), out=work.array("step", (h, n), self._dtype))
        mu = self.mu.astype(self._dtype)
        Theta = self._population_array(self._P)
        np.add(mu, step, out=Theta[:h])
        np.subtract(mu, step, out=Theta[h:])
        return Theta

    def step(self, problem) -> np.ndarray:
        """One generation; on a dask ``Client`` with ``parallel="auto"``, seeds-only
        (:mod:`evoneuro.distributed.seeds`: the workers rebuild the members from the noise
        table), with the bits of the ordinary step."""
        losses = seeds_step(self, problem)
        return super().step(problem) if losses is None else losses

    def _tell(self, Theta, losses, grads) -> None:
        if self._eps is None:
            raise RuntimeError("tell was called without a matching ask")
        h = self._P // 2
        r = centered_ranks(losses)
        w = (r[:h] - r[h:]) / (self._P * self.sigma)
        # --- gradient estimate of the loss, plus weight decay
        g = weighted_sum(w, self._eps).astype(np.float64)
        g += self._wd * self.mu
        # --- Adam (Kingma & Ba 2015, Algorithm 1)
        self._t += 1
        self._m = self._b1 * self._m + (1 - self._b1) * g
        self._v = self._b2 * self._v + (1 - self._b2) * g * g
        m_hat = self._m / (1 - self._b1 ** self._t)
        v_hat = self._v / (1 - self._b2 ** self._t)
        self.mu -= self._lr * m_hat / (np.sqrt(v_hat) + self._adam_eps)
        self._eps = None


class SNES(Optimizer):
    """Separable natural evolution strategy: one adapted step size per coordinate.

    Each step samples ``s_k ~ N(0, I)`` and asks for ``mu + sigma * s_k``. With NES
    utilities ``u_k`` by rank (they sum to zero), the natural gradients are
    ``grad_mu = sum_k u_k s_k`` and ``grad_sigma = sum_k u_k (s_k**2 - 1)``, and

    ``mu += eta_mu * sigma * grad_mu``,  ``sigma *= exp(eta_sigma / 2 * grad_sigma)``.

    Parameters
    ----------
    popsize : int or None, default=None
        Points per step; ``None`` means ``4 + floor(3 ln n)`` (Schaul et al.).
    sigma0 : float, default=0.05
        Initial step size of every coordinate (tuned for network weights of scale 0.1-1;
        set it to about a quarter of the distance to the optimum elsewhere).
    eta_mu : float, default=1.0
        Learning rate of the mean.
    eta_sigma : float or None, default=None
        Learning rate of the step sizes; ``None`` means ``(3 + ln n) / (5 sqrt(n))``.
    antithetic : bool, default=False
        Mirrored sampling: ask ``mu + sigma * s_k`` and ``mu - sigma * s_k`` (Brockhoff et
        al. 2010); needs an even ``popsize``.
    dtype : {"float32", "float64"}, default="float32"
        Dtype of the asked population (``mu`` and ``sigma`` are kept in float64).

    Notes
    -----
    Fit defaults (:class:`~evoneuro.optimizers.base.Optimizer`): ``sigma0`` is 0.03 times
    the start's weight RMS. Test accuracy by ``sigma0`` on digits (X/16), the 10x32 sigmoid
    net from the ``"auto"`` start (weight RMS 0.82), minibatches of 256, 1e7 evaluations,
    seed 0: 0.01x 92.2 %, 0.015x 94.7 %, 0.03x 95.6 %, 0.1x 91.6 %, 0.2x 65.3 %
    (``benchmarks/defaults_table.py --study sweep --relative``). The step sizes adapt, so
    their start matters most for short budgets; much above 0.1x the sigmoids saturate and
    the search stalls.

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.optimizers.es import SNES
    >>> opt = SNES(sigma0=1.0, dtype="float64").initialize(np.full(5, 3.0), np.random.default_rng(0))
    >>> for _ in range(300):
    ...     Theta = opt.ask()
    ...     opt.tell(Theta, (Theta ** 2).sum(axis=1))
    >>> bool((opt.x ** 2).sum() < 1e-6)
    True
    """

    name = "snes"
    relative_spreads = {"sigma0": 0.03}

    def __init__(self, popsize: int | None = None, sigma0: float = 0.05, eta_mu: float = 1.0,
                 eta_sigma: float | None = None, antithetic: bool = False,
                 dtype: str = "float32") -> None:
        super().__init__(popsize=popsize, sigma0=sigma0, eta_mu=eta_mu, eta_sigma=eta_sigma,
                         antithetic=antithetic, dtype=dtype)

    def _initialize(self, x0: np.ndarray) -> None:
        p, n = self._params, x0.size
        default_p = 4 + int(3 * math.log(n))
        self._P = default_p if p["popsize"] is None else _popsize(p["popsize"])
        self._eta_mu = _positive(p["eta_mu"], "eta_mu")
        self._eta_sigma = ((3 + math.log(n)) / (5 * math.sqrt(n)) if p["eta_sigma"] is None
                           else _positive(p["eta_sigma"], "eta_sigma"))
        self._dtype = check_dtype(p["dtype"])
        self._antithetic = bool(p["antithetic"])
        if self._antithetic and self._P % 2:
            raise ValueError(f"antithetic sampling needs an even popsize, got {self._P}")
        self._utilities = nes_utilities(self._P)
        self.mu = x0.copy()
        self.sigma = np.full(n, _spread(p["sigma0"], "sigma0"))
        self._noise = NoiseTable(n, self.rng, self._dtype)
        self._s: np.ndarray | None = None

    @property
    def popsize(self) -> int:
        return self._P

    @property
    def x(self) -> np.ndarray:
        return self.mu

    def adopt(self, Theta) -> None:
        """Make the next :meth:`tell` update from the points ``Theta``, not the asked ones.

        ``tell`` learns from the samples ``s`` drawn in :meth:`ask`; when other points are
        told in their place (a Lamarckian memetic algorithm tells the members after their
        local search), call this first: their samples ``(x - mu) / sigma``, each clipped in
        length as pycma does for points it did not sample (Hansen 2011), replace the
        drawn ones.
        """
        if self._s is None:
            raise RuntimeError("adopt must come between an ask and its tell")
        from evoneuro.optimizers._samples import clipped_samples

        Theta = np.asarray(Theta)
        if Theta.shape != self._s.shape:
            raise ValueError(f"adopt expects {self._s.shape} points like the last ask, got {Theta.shape}")
        self._s = clipped_samples(Theta, self.mu, self.sigma).astype(self._s.dtype)

    def ask(self) -> np.ndarray:
        shape, work = (self._P, self.n_params), self._workspace
        s = work.array("s", shape, self._dtype)
        if self._antithetic:
            h = self._P // 2
            self._noise.rows(self.rng, h, out=s[:h])
            np.negative(s[:h], out=s[h:])
        else:
            self._noise.rows(self.rng, self._P, out=s)
        self._s = s
        Theta = np.multiply(s, self.sigma.astype(self._dtype), out=self._population_array(self._P))
        Theta += self.mu.astype(self._dtype)
        return Theta

    def step(self, problem) -> np.ndarray:
        """One generation, seeds-only on a dask ``Client`` (see :meth:`OpenAIES.step`)."""
        losses = seeds_step(self, problem)
        return super().step(problem) if losses is None else losses

    def _tell(self, Theta, losses, grads) -> None:
        if self._s is None:
            raise RuntimeError("tell was called without a matching ask")
        u = by_rank(losses, self._utilities)
        s = self._s
        grad_mu = weighted_sum(u, s).astype(np.float64)
        np.square(s, out=s)  # the samples are not needed any more; sum(u) = 0 drops the -1
        grad_sigma = weighted_sum(u, s).astype(np.float64)
        self.mu += self._eta_mu * self.sigma * grad_mu
        self.sigma *= np.exp(0.5 * self._eta_sigma * grad_sigma)
        self._s = None
