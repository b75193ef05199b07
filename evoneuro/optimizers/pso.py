"""Global-best particle swarm optimisation, in the inertia or the constriction form.

Each particle ``i`` has a position ``x_i``, a velocity ``v_i`` and a personal best ``p_i``;
``g`` is the swarm's best. With ``r1, r2 ~ U[0, 1)`` drawn per coordinate:

- inertia form (Shi & Eberhart 1998):
  ``v <- w v + c1 r1 (p - x) + c2 r2 (g - x)``;
- constriction form (Clerc & Kennedy 2002):
  ``v <- chi (v + phi1 r1 (p - x) + phi2 r2 (g - x))``,
  ``chi = 2 / |2 - phi - sqrt(phi**2 - 4 phi)|``, ``phi = phi1 + phi2 > 4``;

then ``x <- x + v``, with each velocity coordinate clamped to ``[-vmax, vmax]``
(Eberhart & Kennedy 1995) when ``vmax`` is set. With ``phi1 = phi2 = 2.05`` the
constriction form is the inertia form with ``w = chi = 0.7298`` and
``c1 = c2 = chi * 2.05 = 1.49618``, the defaults here. Velocities start at zero
(Engelbrecht 2012). Uniform numbers come from a shared table (:mod:`._noise`).

References
----------
Kennedy, J., Eberhart, R. (1995). Particle swarm optimization. ICNN'95, 1942-1948.
Shi, Y., Eberhart, R. (1998). A modified particle swarm optimizer. IEEE ICEC, 69-73.
Clerc, M., Kennedy, J. (2002). The particle swarm - explosion, stability, and
convergence in a multidimensional complex space. IEEE TEVC 6(1), 58-73.
Engelbrecht, A. (2012). Particle swarm optimization: Velocity initialization. IEEE CEC.
"""

from __future__ import annotations

import math

import numpy as np

from evoneuro._validation import check_dtype
from evoneuro.optimizers._noise import NoiseTable
from evoneuro.optimizers.base import Optimizer
from evoneuro.optimizers.es import _popsize, _positive, _spread


def constriction_factor(phi1: float, phi2: float) -> float:
    """Clerc & Kennedy's ``chi`` for ``phi = phi1 + phi2 > 4``.

    >>> round(constriction_factor(2.05, 2.05), 4)
    0.7298
    """
    phi = phi1 + phi2
    if phi <= 4:
        raise ValueError(f"constriction needs phi1 + phi2 > 4, got {phi}")
    return 2.0 / abs(2.0 - phi - math.sqrt(phi * phi - 4.0 * phi))


class PSO(Optimizer):
    """Global-best particle swarm (inertia or constriction form) with velocity clamping.

    Parameters
    ----------
    popsize : int, default=32
        Number of particles.
    form : {"inertia", "constriction"}, default="inertia"
        Velocity update; see the module description.
    inertia, c1, c2 : float, default=0.7298, 1.49618, 1.49618
        ``w``, cognitive and social coefficients of the inertia form.
    phi1, phi2 : float, default=2.05, 2.05
        Coefficients of the constriction form (``phi1 + phi2 > 4``).
    vmax : float or None, default=None
        Velocity clamp per coordinate; ``None`` for none.
    sigma0 : float, default=0.1
        Initial positions are ``x0 + sigma0 * N(0, I)``; particle 0 starts at ``x0``.
    dtype : {"float32", "float64"}, default="float32"
        Dtype of positions and velocities.

    Notes
    -----
    Fit defaults (:class:`~evoneuro.optimizers.base.Optimizer`): the full batch, and
    ``sigma0`` 0.03 times the start's weight RMS. The personal and global bests are
    remembered losses, and on minibatches the lucky ones stick. Test accuracy on digits
    (X/16), the 10x32 sigmoid net from the ``"auto"`` start (weight RMS 0.82), 1e7
    evaluations, seed 0: on minibatches of 256, ``sigma0`` 0.03x 45.8 %, 0.1x 51.8 %; on
    the full batch 0.03x 64.7 %, 0.1x 56.7 % (``benchmarks/defaults_table.py --study sweep
    --relative``).

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.optimizers.pso import PSO
    >>> opt = PSO(sigma0=1.0, dtype="float64").initialize(np.full(3, 2.0), np.random.default_rng(0))
    >>> for _ in range(200):
    ...     Theta = opt.ask()
    ...     opt.tell(Theta, (Theta ** 2).sum(axis=1))
    >>> bool((opt.x ** 2).sum() < 1e-6)
    True
    """

    name = "pso"
    full_batch = True
    relative_spreads = {"sigma0": 0.03}

    def __init__(self, popsize: int = 32, form: str = "inertia", inertia: float = 0.7298,
                 c1: float = 1.49618, c2: float = 1.49618, phi1: float = 2.05, phi2: float = 2.05,
                 vmax: float | None = None, sigma0: float = 0.1, dtype: str = "float32") -> None:
        super().__init__(popsize=popsize, form=form, inertia=inertia, c1=c1, c2=c2, phi1=phi1,
                         phi2=phi2, vmax=vmax, sigma0=sigma0, dtype=dtype)

    def _initialize(self, x0: np.ndarray) -> None:
        p, n = self._params, x0.size
        self._P = _popsize(p["popsize"], minimum=1)
        self._dtype = dt = check_dtype(p["dtype"])
        if p["form"] == "inertia":
            w, c1, c2 = float(p["inertia"]), _positive(p["c1"], "c1"), _positive(p["c2"], "c2")
        elif p["form"] == "constriction":
            chi = constriction_factor(_positive(p["phi1"], "phi1"), _positive(p["phi2"], "phi2"))
            w, c1, c2 = chi, chi * p["phi1"], chi * p["phi2"]
        else:
            raise ValueError(f"form must be 'inertia' or 'constriction', got {p['form']!r}")
        self.coefficients = (w, c1, c2)
        self._vmax = None if p["vmax"] is None else _positive(p["vmax"], "vmax")
        sigma0 = _spread(p["sigma0"], "sigma0")
        normal = NoiseTable(n, self.rng, dt)
        self._uniform = NoiseTable(n, self.rng, dt, kind="uniform")
        X = normal.rows(self.rng, self._P) * dt.type(sigma0)
        X += x0.astype(dt)
        X[0] = x0
        self._X = X
        self._V = np.zeros_like(X)
        self._pbest = X.copy()
        self._pbest_loss = np.full(self._P, np.inf)
        self._g = 0  # index of the global best among the personal bests

    @property
    def popsize(self) -> int:
        return self._P

    @property
    def x(self) -> np.ndarray:
        return np.asarray(self._pbest[self._g], dtype=np.float64)

    def ask(self) -> np.ndarray:
        return self._X

    def _tell(self, Theta, losses, grads) -> None:
        # --- personal and global bests
        better = losses < self._pbest_loss
        self._pbest[better] = Theta[better]
        self._pbest_loss[better] = losses[better]
        self._g = int(np.argmin(self._pbest_loss))
        # --- velocities: V = w V + c1 r1 (P - X) + c2 r2 (g - X); positions X + V, written into
        # the positions of two generations ago (a new array if a caller still holds those).
        # One fused pass (evoneuro.backends.numba.fused); the same float32 operations in NumPy
        # make ~30 passes over (P, n) arrays.
        from evoneuro.backends.numba.fused import pso_update

        t = self._dtype.type
        w, c1, c2 = self.coefficients
        o1 = self._uniform.offsets(self.rng, self._P)
        o2 = self._uniform.offsets(self.rng, self._P)
        X_new = self._population_array(self._P)
        pso_update(self._X, self._V, self._pbest, self._pbest[self._g], self._uniform.table, o1, o2, t(w), t(c1),
                   t(c2), t(0.0 if self._vmax is None else self._vmax), self._vmax is not None, X_new)
        self._X = X_new
