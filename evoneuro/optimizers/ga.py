"""A real-coded genetic algorithm on DEAP: tournament selection, blend/SBX crossover,
Gaussian mutation, elitism.

DEAP does what it does well: individuals carry a ``deap.base.Fitness``; parents are
picked by ``deap.tools.selTournament``; ``deap.tools.HallOfFame`` keeps the best
individuals seen, ``deap.tools.Statistics`` and ``deap.tools.Logbook`` record each
generation. DEAP's variation operators loop over genes in Python, which at 10,000 genes
costs more than evaluating the whole population, so crossover and mutation are the same
operators (``cxBlend``, ``cxSimulatedBinary``, ``mutGaussian``) applied to the population
matrix: crossover (blend or SBX) and mutation in one fused Numba pass
(:mod:`evoneuro.backends.numba.fused`; the mutation's Gaussian values are read from a shared
noise table, :mod:`evoneuro.optimizers._noise`). An individual is a thin
wrapper, made once and refilled each generation: its row index, a view of its genome while it
is told, its fitness, and ``score`` (minus the loss), which the tournaments compare.

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
from evoneuro.optimizers.es import _popsize, _positive, _spread

# deap.creator classes must exist before a pickled GA is loaded: create them at import.
if not hasattr(creator, "EvoneuroFitnessMin"):
    creator.create("EvoneuroFitnessMin", base.Fitness, weights=(-1.0,))
if not hasattr(creator, "EvoneuroIndividual"):
    creator.create("EvoneuroIndividual", object, fitness=creator.EvoneuroFitnessMin)

CROSSOVERS = ("blend", "sbx", "none")


def _same_genome(a, b) -> bool:
    return a is b or np.array_equal(a.genome, b.genome)


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

    Notes
    -----
    Fit defaults (:class:`~evoneuro.optimizers.base.Optimizer`): ``sigma0`` and
    ``mutation_sigma`` are 0.05 and 0.02 times the start's weight RMS. Test accuracy on
    digits (X/16), the 10x32 sigmoid net from the ``"auto"`` start (weight RMS 0.82),
    minibatches of 256, 1e7 evaluations, seed 0: 0.05x/0.02x 85.6 %, 0.1x/0.05x 83.3 %
    (``benchmarks/defaults_table.py --study sweep --relative``).

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
    relative_spreads = {"sigma0": 0.05, "mutation_sigma": 0.02}

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
        self._mutation_sigma = _spread(p["mutation_sigma"], "mutation_sigma")
        self._dtype = dt = check_dtype(p["dtype"])
        self._uniform = NoiseTable(n, self.rng, dt, kind="uniform")
        # the mutation's N(0, 1) values are a slice of a noise table at a random offset: one
        # copy-free read in the fused kernel, where fresh draws for every mutated gene cost a
        # noticeable share of the population's evaluation (benchmarks/bench_optimizers.py)
        self._normal = NoiseTable(n, self.rng, dt)
        # DEAP's selection draws from Python's `random`; it gets its own state, swapped in
        # for each call, so runs are reproducible and resume from a pickle.
        self._random_state = random.Random(int(self.rng.integers(2**63))).getstate()
        self.hall_of_fame = tools.HallOfFame(_popsize(p["hof_size"], "hof_size", 1), similar=_same_genome)
        self.stats = tools.Statistics()  # compiled on the generation's losses
        for stat in ("min", "mean", "max", "std"):
            self.stats.register("avg" if stat == "mean" else stat, _OverFinite(stat))
        self.logbook = tools.Logbook()
        self.logbook.header = ["gen", "nevals", "min", "avg", "max", "std"]
        pop = NoiseTable(n, self.rng, dt).rows(self.rng, self._P) * dt.type(_spread(p["sigma0"], "sigma0"))
        pop += x0.astype(dt)
        pop[0] = x0
        self._pop = pop
        self._x = x0.copy()
        # DEAP individuals made once and refilled each generation: making them is Python work
        # per individual, every generation
        self._individuals = [creator.EvoneuroIndividual() for _ in range(self._P)]
        for i, ind in enumerate(self._individuals):
            ind.index, ind.genome = i, None

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
        population, values = self._individuals, losses.tolist()
        for ind, genome, loss in zip(population, Theta, values):
            ind.genome = genome
            ind.fitness.values = (loss,)
            ind.score = -loss  # what the tournaments compare: a float, not a deap Fitness
        # --- DEAP bookkeeping. The hall of fame is offered only the individuals it would take
        # a look at (better than its worst, or all while it is not full): the same result as
        # offering all, without 64 Fitness comparisons in Python per generation
        hof = self.hall_of_fame
        if len(hof) < hof.maxsize:
            hof.update(population)
        else:
            hof.update([population[i] for i in np.flatnonzero(losses < hof[-1].fitness.values[0])])
        self.logbook.record(gen=self.generation, nevals=len(population), **self.stats.compile(values))
        # --- elitism, tournament selection, variation
        elite = np.argsort(losses, kind="stable")[: max(self._n_elite, 1)]
        self._x = np.array(Theta[elite[0]], dtype=np.float64)
        chosen = self._select(population, self._P - self._n_elite)
        self._pop = self._vary(Theta, elite[: self._n_elite], np.array([ind.index for ind in chosen]))
        for ind in population:  # the hall of fame keeps copies; do not pickle views of Theta
            ind.genome = None

    def _select(self, population: list, k: int) -> list:
        outside = random.getstate()
        random.setstate(self._random_state)
        try:
            # the same choice as fit_attr="fitness" for one minimised objective (ties: the
            # first aspirant), comparing floats instead of deap Fitness objects
            return tools.selTournament(population, k, self._tournsize, fit_attr="score")
        finally:
            self._random_state = random.getstate()
            random.setstate(outside)

    def _vary(self, Theta: np.ndarray, elite: np.ndarray, parents: np.ndarray) -> np.ndarray:
        """The next population: ``Theta[elite]``, then the children of ``Theta[parents]``
        after crossover of consecutive pairs and Gaussian mutation (a new array)."""
        m, n = parents.size, Theta.shape[1]
        t = self._dtype.type
        crossed = self.rng.random(m // 2) < self._params["cxpb"]
        crossover = self._params["crossover"]
        crossed &= crossover != "none"
        offsets = np.zeros(m // 2, dtype=np.int64)
        offsets[crossed] = self._uniform.offsets(self.rng, int(crossed.sum()))  # no draw for none
        # mutGaussian with per-gene probability indpb: each child's number of mutated genes,
        # then only those genes (uniform in the row, with replacement) and their N(0, 1) values:
        # a slice of the normal table at one random offset
        counts = self.rng.binomial(n, self._params["indpb"], size=m)
        total = int(counts.sum())
        where = self.rng.integers(0, n, size=total)
        normal = self._normal.table
        if total <= normal.size:
            noff = int(self.rng.integers(0, normal.size - total + 1))
        else:  # more mutated genes than the table holds (indpb near 1 at huge n)
            normal, noff = self.rng.standard_normal(total, dtype=self._dtype), 0
        # one fused pass (evoneuro.backends.numba.fused): elites and children written straight
        # into the new population, the noise read from the tables in place
        from evoneuro.backends.numba.fused import ga_vary

        if crossover == "sbx":
            c1, c2 = t(1.0 / (self._eta + 1.0)), t(0.5)
        else:  # cxBlend: gamma = (1 + 2 alpha) u - alpha; a' = a + gamma (b - a), b' = b - gamma (b - a)
            c1, c2 = t(1 + 2 * self._alpha), t(self._alpha)
        # written into the population of two generations ago (unless a caller still holds it)
        pop = self._population_array(len(elite) + m)
        ga_vary(np.ascontiguousarray(Theta), elite, parents, crossed, crossover == "sbx", self._uniform.table,
                offsets, c1, c2, counts, where, normal, noff, t(self._mutation_sigma), pop)
        return pop
