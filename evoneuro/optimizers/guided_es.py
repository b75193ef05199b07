"""Guided evolution strategies: antithetic ES whose search leans on a surrogate gradient.

A surrogate gradient (biased, noisy, or from a different loss — backprop through a
saturated net is one) spans a k-dimensional subspace ``U`` (QR of the last k
surrogates). Perturbations are drawn from

    ε ~ N(0, σ² (α/n I + (1−α)/k U Uᵀ)),

so a share ``1−α`` of the search variance goes along the surrogate directions and ``α``
everywhere else. The antithetic estimate

    g = β / (2σ²P) Σ_i ε_i (f(x+ε_i) − f(x−ε_i))

is an unbiased estimate of the true gradient *projected through that covariance*, so
guided ES descends the true loss quickly along the subspace yet cannot be dragged off by
the surrogate's bias. The update is plain gradient descent, ``x ← x − lr·g``.

References
----------
Maheswaranathan, Metz, Tucker, Choi, Sohl-Dickstein (2019). Guided evolutionary
strategies: augmenting random search with surrogate gradients. ICML.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from evoneuro._validation import check_dtype
from evoneuro.optimizers._noise import NoiseTable
from evoneuro.optimizers._shaping import weighted_sum
from evoneuro.optimizers.base import Optimizer


class GuidedES(Optimizer):
    """Guided ES (Maheswaranathan et al. 2019), one surrogate gradient per iteration.

    One iteration is two ask/tell rounds: the current point ``x`` alone, told *with* its
    gradient (the surrogate), then ``popsize`` antithetic points told without
    gradients. :attr:`needs_grad` is true exactly while the first round is pending, so a
    generic ``ask → problem.evaluate(need_grad=opt.needs_grad) → tell`` loop pays for
    one gradient per iteration; :meth:`step` runs both rounds. With a ``surrogate``
    callable (or ``alpha=1``, vanilla ES) there is no first round.

    Parameters
    ----------
    sigma : float, default=0.1
        Overall perturbation scale σ (the total variance of ε is σ²).
    alpha : float in [0, 1], default=0.5
        Share of the variance spent on the full space; 1 is vanilla ES.
    beta : float, default=2.0
        Scale of the gradient estimate (the paper's toy: 2 for guided, 1 for vanilla ES).
    k : int, default=1
        Number of past surrogate gradients spanning the guiding subspace.
    learning_rate : float, default=0.2
        Gradient-descent step size.
    popsize : int, default=2
        Antithetic points per iteration, even: ``P = popsize/2`` pairs ``x ± ε_i``.
    surrogate : callable or None, default=None
        ``surrogate(x) -> (n,)`` gradient guess. ``None``: the problem's gradient at
        ``x`` (for a saturated net, backprop's own vanishing gradient). A module-level
        function pickles with the optimizer; a lambda does not.
    dtype : {"float32", "float64"}, default="float32"
        Dtype of the antithetic points (``x`` and the subspace are kept in float64). The
        isotropic part of ε comes from a shared noise table (Salimans et al. 2017), so a
        generation costs a few passes over the ``P x n`` matrix, not ``P x n`` fresh draws.

    Notes
    -----
    Fit defaults (:class:`~evoneuro.optimizers.base.Optimizer`): ``sigma`` is 0.03 times
    the start's weight RMS, the spread measured for OpenAI-ES, SNES and sep-CMA-ES (see
    :class:`~evoneuro.optimizers.es.SNES`); guided ES was not swept on its own.

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.optimizers.guided_es import GuidedES
    >>> f = lambda Theta: 0.5 * (Theta ** 2).sum(axis=1)
    >>> biased = lambda x: x + 0.5 * np.linalg.norm(x)   # a gradient with a bias
    >>> opt = GuidedES(sigma=0.1, learning_rate=0.5, popsize=8, surrogate=biased)
    >>> opt = opt.initialize(np.ones(10), np.random.default_rng(0))
    >>> for _ in range(300):
    ...     Theta = opt.ask()
    ...     opt.tell(Theta, f(Theta))
    >>> bool(f(opt.x[None])[0] < 1e-3)
    True
    """

    name = "guided-es"
    relative_spreads = {"sigma": 0.03}

    def __init__(
        self,
        sigma: float = 0.1,
        alpha: float = 0.5,
        beta: float = 2.0,
        k: int = 1,
        learning_rate: float = 0.2,
        popsize: int = 2,
        surrogate: Callable[[np.ndarray], np.ndarray] | None = None,
        dtype: str = "float32",
    ) -> None:
        super().__init__(sigma=sigma, alpha=alpha, beta=beta, k=k, learning_rate=learning_rate,
                         popsize=popsize, surrogate=surrogate, dtype=dtype)
        self._pending_center = True

    @property  # type: ignore[override]
    def needs_grad(self) -> bool:
        """True while the gradient at the current point is still to be told."""
        p = self._params
        return p["surrogate"] is None and p["alpha"] < 1 and self._pending_center

    # --- state ------------------------------------------------------------------------

    def _initialize(self, x0: np.ndarray) -> None:
        p = self._params
        for arg in ("sigma", "beta", "learning_rate"):
            v = p[arg]
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not v > 0:
                raise ValueError(f"{arg} must be a positive number, got {v!r}")
        a = p["alpha"]
        if isinstance(a, bool) or not isinstance(a, (int, float, np.integer, np.floating)) or not 0 <= a <= 1:
            raise ValueError(f"alpha must be a number in [0, 1], got {a!r}")
        k, P = p["k"], p["popsize"]
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be an int >= 1, got {k!r}")
        if isinstance(P, bool) or not isinstance(P, (int, np.integer)) or P < 2 or P % 2:
            raise ValueError(f"popsize must be an even int >= 2 (antithetic pairs), got {P!r}")
        if p["surrogate"] is not None and not callable(p["surrogate"]):
            raise TypeError(f"surrogate must be a callable x -> gradient or None, got {p['surrogate']!r}")
        self._dtype = check_dtype(p["dtype"])
        self._noise = NoiseTable(x0.size, self.rng, self._dtype)
        self._x = x0.copy()
        self._history = np.empty((x0.size, 0))  # the last <= k surrogate gradients, as columns
        self._U = np.empty((x0.size, 0))  # orthonormal basis of their span
        self._eps: np.ndarray | None = None
        self._pending_center = True
        self.iteration = 0

    @property
    def x(self) -> np.ndarray:
        return self._x

    @property
    def popsize(self) -> int:
        """Antithetic points per iteration (plus ``x`` itself when it needs its gradient)."""
        return self._params["popsize"]

    @property
    def subspace(self) -> np.ndarray:
        """Orthonormal basis ``U`` ``(n, j)``, ``j <= k``, of the guiding subspace."""
        return self._U

    def tell_surrogate(self, grad) -> None:
        """Add a surrogate gradient at the current ``x`` to the subspace (QR of the last k)."""
        g = np.asarray(grad, dtype=np.float64).reshape(-1)
        if g.size != self.n_params:
            raise ValueError(f"surrogate gradient must have {self.n_params} entries, got {g.size}")
        self._pending_center = False
        self._eps = None
        norm = math.sqrt(np.einsum("i,i->", g, g))  # no BLAS: see _orthonormal
        if not (np.isfinite(norm) and norm > 0):
            return  # no direction to add; the subspace keeps its last span
        self._history = np.column_stack([self._history, g / norm])[:, -self._params["k"]:]
        self._U = _orthonormal(self._history)

    # --- ask: ε ~ N(0, σ²(α/n I + (1−α)/j U Uᵀ)), antithetic pairs ----------------------

    def ask(self) -> np.ndarray:
        """``x`` alone (``(1, n)``) while its gradient is pending, else ``[x+ε; x−ε]``."""
        p = self._params
        if self.needs_grad:
            return self._x[None].copy()
        if self._pending_center and p["surrogate"] is not None and p["alpha"] < 1:
            self.tell_surrogate(p["surrogate"](self._x.copy()))
        if self._eps is None:
            n, P, sigma = self.n_params, p["popsize"] // 2, p["sigma"]
            j = self._U.shape[1] if p["alpha"] < 1 else 0
            alpha = p["alpha"] if j else 1.0  # no direction known yet: all variance isotropic
            t = self._dtype.type
            eps = self._noise.rows(self.rng, P, out=self._workspace.array("eps", (P, n), self._dtype))
            eps *= t(sigma * math.sqrt(alpha / n))
            if j:
                # + Z Uᵀ, column by column: j <= k is small, and a (P, j) @ (j, n) product
                # would wake BLAS threads for a few outer products
                Z = self.rng.standard_normal((P, j)) * (sigma * math.sqrt((1.0 - alpha) / j))
                for c in range(j):
                    eps += Z[:, c:c + 1].astype(self._dtype) * self._U[:, c].astype(self._dtype)
            self._eps = eps
        x = self._x.astype(self._dtype)
        Theta = self._population_array(2 * len(self._eps))
        np.add(x, self._eps, out=Theta[: len(self._eps)])
        np.subtract(x, self._eps, out=Theta[len(self._eps):])
        return Theta

    # --- tell: g = β/(2σ²P) Σ ε (f⁺ − f⁻), x ← x − lr g ---------------------------------

    def _tell(self, Theta: np.ndarray, losses: np.ndarray, grads: np.ndarray | None) -> None:
        p = self._params
        if self.needs_grad:
            if len(Theta) != 1:
                raise ValueError(f"guided-es asked for x alone (1 row) and was told {len(Theta)} rows")
            self.tell_surrogate(grads[0])
            return
        P = p["popsize"] // 2
        if self._eps is None or len(Theta) != 2 * P:
            raise ValueError(f"guided-es expects the {2 * P} antithetic points of its last ask")
        # a pair with a non-finite (worst) member says nothing about the slope: it is
        # dropped, not given a made-up finite difference that can throw x far away
        both = np.isfinite(losses[:P]) & np.isfinite(losses[P:])
        diff = np.where(both, losses[:P] - np.where(both, losses[P:], 0.0), 0.0)
        g = (p["beta"] / (2.0 * p["sigma"] ** 2 * P)) * weighted_sum(diff, self._eps).astype(np.float64)
        self._x = self._x - p["learning_rate"] * g
        self._eps = None
        self._pending_center = True
        self.iteration += 1

    def step(self, problem) -> np.ndarray:
        """One iteration: the surrogate gradient at ``x`` (if needed), then the pairs.

        Returns the losses of every point evaluated (``x`` first when it was).
        """
        told = []
        if self.needs_grad:
            X0 = self.ask()
            l0, g0 = problem.evaluate(X0, need_grad=True)
            self.tell(X0, l0, g0)
            told.append(np.asarray(l0, dtype=np.float64).reshape(-1))
        Theta = self.ask()
        losses, _ = problem.evaluate(Theta, need_grad=False)
        self.tell(Theta, losses)
        told.append(np.asarray(losses, dtype=np.float64).reshape(-1))
        return np.concatenate(told)


def _orthonormal(H: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the columns of ``H`` ``(n, j)``: the Q of its QR, by
    Gram-Schmidt applied twice (stable to working precision). ``j <= k`` is small, and
    numpy's norm and LAPACK's QR start multithreaded BLAS, which on a busy machine costs
    more than a whole generation (see ``docs/guide/optimizers.md``); a column already
    in the span of the others adds nothing and is dropped."""
    cols: list[np.ndarray] = []
    for c in range(H.shape[1]):
        v = H[:, c].copy()
        for _ in range(2):
            for u in cols:
                v -= np.einsum("i,i->", u, v) * u
        norm = math.sqrt(np.einsum("i,i->", v, v))
        if norm > 1e-8:
            cols.append(v / norm)
    return np.stack(cols, axis=1) if cols else np.empty((H.shape[0], 0))

