"""Memetic evolution: a gradient-free population whose members learn before selection.

Each generation the inner optimizer (CMA-ES, sep-CMA-ES, SNES, a GA, ...) asks for a
population; every member then takes ``local_steps`` steps of a local gradient method
(iRprop- or Adam, one state per member) on the step's minibatch, all members
at once: one ``problem.evaluate(Theta, need_grad=True)`` per local step serves the whole
population. The refined members are evaluated once more and their losses are told.

- ``lamarckian=True``: the refined weights are written back, i.e. told in place of the
  asked ones (acquired traits are inherited; Moscato's memetic algorithm).
- ``lamarckian=False`` (Baldwinian): the asked genotypes are told, with the losses the
  members reach *after* learning (Hinton & Nowlan 1987): evolution is steered towards
  regions where learning works, while the genotypes stay the inner optimizer's own.

How refined points are told, by inner optimizer:

- ``cmaes`` (pycma): told as they are; pycma recognises points it did not sample and
  clips their Mahalanobis length (``check_points=None``, Hansen 2011), so a long local
  search cannot blow up the step size. The mean still moves towards the refined
  points, which is the point of Lamarckian learning, and biases the covariance towards
  the local method's directions (documented, not corrected).
- ``sep-cmaes``, ``snes``: these update from the samples they drew, not from the told
  points, so the refined points are handed to them first through their ``adopt``
  method, which takes their samples ``z = (x - m) / (sigma d)`` with the same
  Mahalanobis clipping as pycma's.
- ``ga``, ``random``, ``pso``: told as they are; they store the told points (GA: genomes,
  elites; random search: the parent; PSO: personal bests), which is the classic
  Lamarckian memetic algorithm.
- ``es`` (antithetic OpenAI-ES) cannot take refined points (its pairs would no longer be
  antithetic): only ``lamarckian=False`` is accepted.

Cost, honestly counted by the problem: ``local_steps`` gradient evaluations (``3N``
each) plus one forward (``N``) per member per generation.

References
----------
Moscato, P. (1989). On evolution, search, optimization, genetic algorithms and martial
arts: towards memetic algorithms. Caltech Concurrent Computation Program, Report 826.
Hinton, G. E. & Nowlan, S. J. (1987). How learning can guide evolution. Complex Systems
1, 495-502. (the Baldwin effect)
Igel, C. & Hüsken, M. (2003). Empirical evaluation of the improved Rprop learning
algorithms. Neurocomputing 50, 105-123. (iRprop-, the default local search)
Hansen, N. (2011). Injecting external solutions into CMA-ES. arXiv:1110.4181.
(clipping the Mahalanobis length of told points that were not sampled)
"""

from __future__ import annotations

import warnings

import numpy as np

from evoneuro._validation import check_positive_int
from evoneuro.optimizers.base import Optimizer
from evoneuro.optimizers.registry import get_optimizer

LOCAL_METHODS = ("irprop-", "adam")
_LOCAL_DEFAULTS = {
    "irprop-": {"initial_step": 0.0125, "eta_plus": 1.2, "eta_minus": 0.5, "step_min": 1e-6, "step_max": 50.0},
    "adam": {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}
#: Above this many parameters the default inner optimizer is sep-CMA-ES, not full CMA-ES
#: (whose n x n covariance costs O(n^2) per sample and O(n^3) per decomposition).
FULL_CMA_MAX_PARAMS = 1000


def _local_search(problem, X: np.ndarray, method: str, k: int, p: dict,
                  delta0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``k`` steps of iRprop- or Adam on every row of ``X`` at once, each row with its own
    state, iRprop- starting from step sizes ``delta0`` ``(n,)``. Returns the refined points,
    their losses (one more forward) and the final iRprop- step sizes ``(P, n)``."""
    X = np.array(X, dtype=np.float64)
    delta = None
    if method == "irprop-":
        delta = np.empty_like(X)
        delta[:] = p["initial_step"] if delta0 is None else delta0
        g_prev = np.zeros_like(X)
    else:
        m, v = np.zeros_like(X), np.zeros_like(X)
    for t in range(1, k + 1):
        _, g = problem.evaluate(X, need_grad=True)
        g = np.nan_to_num(np.asarray(g, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        if method == "irprop-":
            # Igel & Hüsken (2003): grow on equal signs, shrink and skip on a sign change
            prod = g_prev * g
            delta = np.where(prod > 0, np.minimum(delta * p["eta_plus"], p["step_max"]), delta)
            delta = np.where(prod < 0, np.maximum(delta * p["eta_minus"], p["step_min"]), delta)
            g[prod < 0] = 0.0
            X -= np.sign(g) * delta
            g_prev = g
        else:
            # Kingma & Ba (2015), bias-corrected moments
            m = p["beta1"] * m + (1 - p["beta1"]) * g
            v = p["beta2"] * v + (1 - p["beta2"]) * g * g
            X -= p["learning_rate"] * (m / (1 - p["beta1"] ** t)) / (np.sqrt(v / (1 - p["beta2"] ** t)) + p["eps"])
    losses, _ = problem.evaluate(X, need_grad=False)
    return X, np.asarray(losses, dtype=np.float64), delta


def _hand_over_refined(inner: Optimizer, Theta: np.ndarray) -> None:
    """Make a strategy that updates from its own stored samples update from ``Theta``."""
    if getattr(inner, "sep", None) is not None:  # CMAES switched to sep-CMA-ES
        inner = inner.sep
    adopt = getattr(inner, "adopt", None)  # SepCMAES, SNES: their public hook
    if adopt is not None:
        adopt(Theta)


class Memetic(Optimizer):
    """A gradient-free population refined by a few local gradient steps per generation.

    Parameters
    ----------
    inner : str or None, default=None
        The gradient-free optimizer, by registry name. ``None`` means, Lamarckian: the
        elitist ``"ga"`` with ``popsize=8`` (its elites keep their learned weights
        unchanged, whereas CMA-ES re-samples around a mean and blurs them; on a small
        sigmoid net it reached a loss 2-4 times lower than memetic sep-CMA-ES in the same
        budget); Baldwinian: ``"cmaes"`` up to :data:`FULL_CMA_MAX_PARAMS` parameters,
        ``"sep-cmaes"`` above (full CMA-ES's covariance is too slow for thousands of
        weights).
    inner_params : dict or None, default=None
        Its hyperparameters (e.g. ``{"popsize": 16, "sigma0": 0.05}``).
    local : {"irprop-", "adam"}, default="irprop-"
        The local gradient method; each member has its own state for the generation.
    local_steps : int, default=10
        Local steps ``k`` per member per generation (``0``: the inner optimizer alone).
    local_params : dict or None, default=None
        Overrides of the local method's parameters: ``initial_step``, ``eta_plus``,
        ``eta_minus``, ``step_min``, ``step_max`` (iRprop-, defaults of Igel & Hüsken
        2003) or ``learning_rate`` (0.01), ``beta1``, ``beta2``, ``eps`` (Adam).
    lamarckian : bool, default=True
        Tell the refined weights (Lamarckian) or the asked genotypes with the refined
        losses (Baldwinian).
    inherit_steps : bool, default=True
        iRprop-: start each generation's local search from the step sizes the previous
        generation ended with (their geometric mean over the members), so that the local
        steps adapt over the run as in one long Rprop run; False restarts every member
        from ``initial_step``.

    Attributes
    ----------
    inner_ : Optimizer
        The running inner optimizer.
    genotypes_, refined_ : ndarray (P, n)
        The last generation as asked and after local search.
    step_sizes_ : ndarray (n,)
        iRprop- step sizes the next generation's local search starts from.

    Notes
    -----
    ``x`` is the best refined member of the last generation: a trained network in both
    modes. A plain ``ask``/``tell`` loop (without :meth:`step`) runs the inner optimizer
    alone.

    Fit defaults (:class:`~evoneuro.optimizers.base.Optimizer`): the inner optimizer's
    ``sigma0`` is 0.03 times the start's weight RMS when it is the default choice
    (``inner=None``), ``"cmaes"``, ``"sep-cmaes"`` or ``"snes"``: the spread measured for
    sep-CMA-ES and SNES alone (see :class:`~evoneuro.optimizers.es.SNES`). Other inner
    optimizers keep their own defaults.

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> X = np.random.default_rng(0).normal(size=(40, 3)); y = (X[:, 0] > 0).astype(int)
    >>> prob = en.SupervisedProblem(en.Evaluator(en.MLP(3, (4,), 2), dtype="float64"), X, y)
    >>> opt = en.get_optimizer("memetic", inner_params={"popsize": 4}, local_steps=3)
    >>> res = en.Trainer(prob, opt, max_steps=10, random_state=0).run()
    >>> bool(res.fun < prob.full_loss(np.zeros(prob.n_params))), res.n_evals  # 10 x 4 x (3*3+1) x 40
    (True, 16000)
    """

    name = "memetic"
    inner_relative_spreads = dict.fromkeys((None, "cmaes", "sep-cmaes", "snes"), {"sigma0": 0.03})

    def __init__(self, inner: str | None = None, inner_params: dict | None = None, local: str = "irprop-",
                 local_steps: int = 10, local_params: dict | None = None, lamarckian: bool = True,
                 inherit_steps: bool = True) -> None:
        if inner is not None and not isinstance(inner, str):
            raise TypeError(f"inner must be a registry name (str) or None, got {inner!r}")
        if inner_params is not None and not isinstance(inner_params, dict):
            raise TypeError(f"inner_params must be a dict or None, got {type(inner_params).__name__}")
        if not isinstance(local, str) or local.lower() not in LOCAL_METHODS:
            raise ValueError(f"local must be one of {list(LOCAL_METHODS)}, got {local!r}")
        check_positive_int(local_steps, "local_steps", minimum=0)
        if local_params is not None:
            if not isinstance(local_params, dict):
                raise TypeError(f"local_params must be a dict or None, got {type(local_params).__name__}")
            unknown = set(local_params) - set(_LOCAL_DEFAULTS[local.lower()])
            if unknown:
                raise ValueError(f"local_params for {local!r} may hold {sorted(_LOCAL_DEFAULTS[local.lower()])}, "
                                 f"got {sorted(unknown)}")
        super().__init__(inner=inner, inner_params=inner_params, local=local.lower(), local_steps=local_steps,
                         local_params=local_params, lamarckian=bool(lamarckian), inherit_steps=bool(inherit_steps))

    def setup(self, problem) -> None:
        self._problem_for_setup = problem

    def _initialize(self, x0: np.ndarray) -> None:
        p = self._params
        name, params = p["inner"], dict(p["inner_params"] or {})
        if name is None and p["lamarckian"]:
            name, params = "ga", {"popsize": 8, **params}
        elif name is None:
            name = "cmaes" if x0.size <= FULL_CMA_MAX_PARAMS else "sep-cmaes"
        if name.lower() in ("memetic", "readout"):
            raise ValueError(f"inner must be a gradient-free optimizer, got {name!r}")
        self.inner_ = get_optimizer(name, **params)
        if self.inner_.needs_grad:
            raise ValueError(f"inner must be a gradient-free optimizer, got {name!r} (needs gradients)")
        if p["lamarckian"] and type(self.inner_).__name__ == "OpenAIES":
            raise ValueError("lamarckian=True cannot be used with the antithetic 'es'; use lamarckian=False")
        problem = self.__dict__.pop("_problem_for_setup", None)
        if problem is not None:
            self.inner_.setup(problem)
        self.inner_.initialize(x0, self.rng)
        self._local = {**_LOCAL_DEFAULTS[p["local"]], **(p["local_params"] or {})}
        self._x = x0.copy()
        self.genotypes_: np.ndarray | None = None
        self.refined_: np.ndarray | None = None
        self._told: np.ndarray | None = None
        self._hand_over = False
        self.step_sizes_ = np.full(x0.size, float(self._local.get("initial_step", 0.0)))

    @property
    def popsize(self) -> int:
        return self.inner_.popsize

    @property
    def x(self) -> np.ndarray:
        return self._x

    def ask(self) -> np.ndarray:
        return self.inner_.ask()

    def _tell(self, Theta, losses, grads) -> None:
        told = Theta if self._told is None else self._told
        self._x = np.array(Theta[int(np.argmin(losses))], dtype=np.float64)
        if self._hand_over:
            _hand_over_refined(self.inner_, told)
        self._told, self._hand_over = None, False
        with warnings.catch_warnings():
            # pycma warns that its mean-shift injections were not told back, as refined
            # points replace them; expected here
            warnings.filterwarnings("ignore", message="orphanated injected solution")
            self.inner_.tell(told, losses)

    def step(self, problem) -> np.ndarray:
        """Ask, refine every member by ``local_steps`` gradient steps, tell; returns the
        refined losses."""
        G = self.inner_.ask()
        p = self._params
        R, losses, delta = _local_search(problem, G, p["local"], p["local_steps"], self._local,
                                         self.step_sizes_ if p["inherit_steps"] else None)
        if delta is not None and p["inherit_steps"]:
            # the next generation starts from the step sizes this one adapted to
            self.step_sizes_ = np.exp(np.log(delta).mean(axis=0))
        self.genotypes_, self.refined_ = G, R
        lamarckian = self._params["lamarckian"]
        self._told, self._hand_over = (R, True) if lamarckian else (G, False)
        self.tell(R, losses)  # the bookkeeping (best_x, x) is on the trained networks
        return losses
