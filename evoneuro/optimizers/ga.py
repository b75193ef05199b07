"""A real-coded genetic algorithm on DEAP: tournament selection, blend/SBX crossover,
Gaussian mutation, elitism.

DEAP does what it does well: individuals carry a ``deap.base.Fitness``; parents are
picked by ``deap.tools.selTournament``; ``deap.tools.HallOfFame`` keeps the best
individuals seen, ``deap.tools.Statistics`` and ``deap.tools.Logbook`` record each
generation. DEAP's variation operators loop over genes in Python, which at 10,000 genes
costs more than evaluating the whole population, so crossover and mutation are the same
operators (``cxBlend``, ``cxSimulatedBinary``, ``mutGaussian``) applied to the population
matrix: blend crossover in one fused Numba pass (:mod:`evoneuro.optimizers._fused`), SBX and
the mutation with numpy. An individual is a thin wrapper: its row index, a view of its genome,
and its fitness.

One generation (generational GA with elitism, Goldberg 1989; De Jong 1975): the
``n_elite`` best are copied unchanged; ``popsize - n_elite`` parents are chosen by
tournaments of ``tournsize``; consecutive parents are paired and crossed with probability
``cxpb``; every gene of every child is mutated with probability ``indpb`` by adding
``N(0, mutation_sigma**2)``. Elites are evaluated again next generation, which under
minibatch noise stops one lucky loss from ruling the population.

References
----------
Fortin, F.-A., De Rainville, F.-M., Gardner, M.-A., Parizeau, M., Gagne, C. (2012).
DEAP: Evolutionary Algorithms Made Easy. JMLR 13, 2171-2175.
Eshelman, L. J., Schaffer, J. D. (1993). Real-coded genetic algorithms and
interval-schemata. FOGA 2. (blend crossover, BLX-alpha)
Deb, K., Agrawal, R. B. (1995). Simulated binary crossover for continuous search space.
Complex Systems 9(2). (SBX)
Goldberg, D. E. (1989). Genetic Algorithms in Search, Optimization and Machine Learning.
"""

from __future__ import annotations

import random

import numpy as np
from deap import base, creator, tools

from evoneuro._validation import check_dtype
from evoneuro.optimizers._noise import NoiseTable
from evoneuro.optimizers.base import Optimizer
from evoneuro.optimizers.es import _popsize, _positive

# deap.creator classes must exist before a pickled GA is loaded: create them at import.
if not hasattr(creator, "EvoneuroFitnessMin"):
    creator.create("EvoneuroFitnessMin", base.Fitness, weights=(-1.0,))
if not hasattr(creator, "EvoneuroIndividual"):
    creator.create("EvoneuroIndividual", object, fitness=creator.EvoneuroFitnessMin)

CROSSOVERS = ("blend", "sbx", "none")


def _same_genome(a, b) -> bool:
    return a is b or np.array_equal(a.genome, b.genome)


def _loss_of(ind) -> float:
    return ind.fitness.values[0]


class _OverFinite:
    """A logbook statistic over the finite losses only: NaN/inf losses are the worst value,
    already reported once by the problem, and would otherwise make numpy warn
    ("invalid value") in every generation's record. NaN when no loss is finite."""

    def __init__(self, stat: str) -> None:
        self.stat = stat

    def __call__(self, values) -> float:
        values = np.asarray(values, dtype=np.float64)
        finite = values[np.isfinite(values)]
        return float(getattr(np, self.stat)(finite)) if finite.size else float("nan")


class GA(Optimizer):
    """Generational real-coded GA with DEAP selection and bookkeeping, numpy variation.

    Parameters
    ----------
    popsize : int, default=64
        Individuals per generation.
    n_elite : int, default=2
        Best individuals copied unchanged into the next generation.
    tournsize : int, default=3
        Tournament size of ``deap.tools.selTournament``.
    crossover : {"blend", "sbx", "none"}, default="blend"
        Blend crossover BLX-``alpha`` (as ``deap.tools.cxBlend``) or simulated binary
        crossover with index ``eta`` (as ``deap.tools.cxSimulatedBinary``).
    cxpb : float, default=0.5
        Probability that a pair of parents is crossed.
    alpha : float, default=0.5
        BLX-alpha: children lie in the parents' interval widened by ``alpha`` each side.
    eta : float, default=15.0
        SBX distribution index: higher keeps children closer to their parents.
    indpb : float, default=0.05
        Probability that a gene is mutated.
    mutation_sigma : float, default=0.02
        Standard deviation of the Gaussian mutation.
    sigma0 : float, default=0.1
        The first generation is ``x0`` plus ``N(0, sigma0**2)`` noise (individual 0 is ``x0``).
    hof_size : int, default=5
        Size of the hall of fame.
    dtype : {"float32", "float64"}, default="float32"
        Dtype of the population matrix.

    Attributes
    ----------
    hall_of_fame : deap.tools.HallOfFame
        The best individuals told so far (each with ``.genome`` and ``.fitness``); with
        minibatches, their losses are on the minibatch they were told with.
    logbook : deap.tools.Logbook
        One record per generation: ``gen``, ``nevals``, ``min``, ``avg``, ``max``, ``std``.

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.optimizers.ga import GA
    >>> opt = GA(sigma0=1.0, mutation_sigma=0.1, indpb=0.3).initialize(np.full(4, 2.0), np.random.default_rng(0))
    >>> for _ in range(100):
    ...     Theta = opt.ask()
    ...     opt.tell(Theta, (Theta ** 2).sum(axis=1))
    >>> bool(opt.hall_of_fame[0].fitness.values[0] < 0.05), len(opt.logbook)
    (True, 100)
    """

    name = "ga"

    def __init__(self, popsize: int = 64, n_elite: int = 2, tournsize: int = 3,
                 crossover: str = "blend", cxpb: float = 0.5, alpha: float = 0.5, eta: float = 15.0,
                 indpb: float = 0.05, mutation_sigma: float = 0.02, sigma0: float = 0.1,
                 hof_size: int = 5, dtype: str = "float32") -> None:
        super().__init__(popsize=popsize, n_elite=n_elite, tournsize=tournsize, crossover=crossover,
                         cxpb=cxpb, alpha=alpha, eta=eta, indpb=indpb,
                         mutation_sigma=mutation_sigma, sigma0=sigma0, hof_size=hof_size, dtype=dtype)

    def _initialize(self, x0: np.ndarray) -> None:
        p, n = self._params, x0.size
        self._P = _popsize(p["popsize"])
        self._n_elite = int(p["n_elite"])
        if not 0 <= self._n_elite < self._P:
            raise ValueError(f"n_elite must be in [0, popsize), got {p['n_elite']!r}")
        self._tournsize = _popsize(p["tournsize"], "tournsize", minimum=1)
        if p["crossover"] not in CROSSOVERS:
            raise ValueError(f"crossover must be one of {list(CROSSOVERS)}, got {p['crossover']!r}")
        for key in ("cxpb", "indpb"):
            if not 0 <= p[key] <= 1:
                raise ValueError(f"{key} must be a probability in [0, 1], got {p[key]!r}")
        self._alpha = float(p["alpha"])
        self._eta = _positive(p["eta"], "eta")
        self._mutation_sigma = _positive(p["mutation_sigma"], "mutation_sigma")
        self._dtype = dt = check_dtype(p["dtype"])
        self._uniform = NoiseTable(n, self.rng, dt, kind="uniform")
        # DEAP's selection draws from Python's `random`; it gets its own state, swapped in
        # for each call, so runs are reproducible and resume from a pickle.
        self._random_state = random.Random(int(self.rng.integers(2**63))).getstate()
        self.hall_of_fame = tools.HallOfFame(_popsize(p["hof_size"], "hof_size", 1), similar=_same_genome)
        self.stats = tools.Statistics(key=_loss_of)
        for stat in ("min", "mean", "max", "std"):
            self.stats.register("avg" if stat == "mean" else stat, _OverFinite(stat))
        self.logbook = tools.Logbook()
        self.logbook.header = ["gen", "nevals", "min", "avg", "max", "std"]
        pop = NoiseTable(n, self.rng, dt).rows(self.rng, self._P) * dt.type(_positive(p["sigma0"], "sigma0"))
        pop += x0.astype(dt)
        pop[0] = x0
        self._pop = pop
        self._x = x0.copy()

    @property
    def popsize(self) -> int:
        return self._P

    @property
    def x(self) -> np.ndarray:
        """The best individual of the last generation told."""
        return self._x

    def ask(self) -> np.ndarray:
        return self._pop

    def _tell(self, Theta, losses, grads) -> None:
        Theta = np.asarray(Theta, dtype=self._dtype)
        population = []
        for i, loss in enumerate(losses):
            ind = creator.EvoneuroIndividual()
            ind.index, ind.genome = i, Theta[i]
            ind.fitness.values = (float(loss),)
            population.append(ind)
        # --- DEAP bookkeeping
        self.hall_of_fame.update(population)
        self.logbook.record(gen=self.generation, nevals=len(population), **self.stats.compile(population))
        # --- elitism, tournament selection, variation
        elite = np.argsort(losses, kind="stable")[: max(self._n_elite, 1)]
        self._x = np.array(Theta[elite[0]], dtype=np.float64)
        chosen = self._select(population, self._P - self._n_elite)
        self._pop = self._vary(Theta, elite[: self._n_elite], np.array([ind.index for ind in chosen]))

    def _select(self, population: list, k: int) -> list:
        outside = random.getstate()
        random.setstate(self._random_state)
        try:
            return tools.selTournament(population, k, self._tournsize)
        finally:
            self._random_state = random.getstate()
            random.setstate(outside)

    def _vary(self, Theta: np.ndarray, elite: np.ndarray, parents: np.ndarray) -> np.ndarray:
        """The next population: ``Theta[elite]``, then the children of ``Theta[parents]``
        after crossover of consecutive pairs and Gaussian mutation (a new array)."""
        m, n = parents.size, Theta.shape[1]
        t = self._dtype.type
        crossed = self.rng.random(m // 2) < self._params["cxpb"]
        if self._params["crossover"] == "sbx" and crossed.any():
            pop = np.concatenate([Theta[elite], Theta[parents]])
            self._sbx(pop[len(elite):], np.flatnonzero(crossed))
        else:
            # one fused pass (evoneuro.optimizers._fused): the elites and the blend-crossed
            # children are written straight into the new population, the uniform noise read
            # from the table in place; the same float32 operations as cxBlend on arrays
            from evoneuro.optimizers._fused import ga_blend

            crossed &= self._params["crossover"] == "blend"
            offsets = np.zeros(m // 2, dtype=np.int64)
            offsets[crossed] = self._uniform.offsets(self.rng, int(crossed.sum()))  # no draw for none
            pop = np.empty((len(elite) + m, n), dtype=self._dtype)
            # cxBlend: gamma = (1 + 2 alpha) u - alpha; a' = a + gamma (b - a), b' = b - gamma (b - a)
            ga_blend(np.ascontiguousarray(Theta), elite, parents, crossed, self._uniform.table, offsets,
                     t(1 + 2 * self._alpha), t(self._alpha), pop)
        # mutGaussian with per-gene probability indpb: draw only the genes that mutate
        count = self.rng.binomial(m * n, self._params["indpb"])
        if count:
            where = self.rng.integers(0, m * n, size=count)
            flat = pop[len(elite):].reshape(-1)
            flat[where] += (self._mutation_sigma * self.rng.standard_normal(count)).astype(self._dtype)
        return pop

    def _sbx(self, children: np.ndarray, pairs: np.ndarray) -> None:
        """cxSimulatedBinary on the consecutive pairs ``pairs`` of ``children``, in place:
        spread factor beta from u, children mean-preserving."""
        t = self._dtype.type
        a, b = children[2 * pairs], children[2 * pairs + 1]
        u = self._uniform.rows(self.rng, pairs.size)
        e = 1.0 / (self._eta + 1.0)
        beta = np.where(u <= 0.5, (2 * u) ** e, (0.5 / (1 - u)) ** e).astype(self._dtype)
        half_sum, half_diff = t(0.5) * (a + b), t(0.5) * beta * (a - b)
        children[2 * pairs], children[2 * pairs + 1] = half_sum + half_diff, half_sum - half_diff
