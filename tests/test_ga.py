"""GA: DEAP selection and bookkeeping really used, numpy variation, elitism, resume."""

import random

import numpy as np
import pytest
from deap import tools

from evoneuro.optimizers.ga import GA
from tests.optim_helpers import drive, run_with_pickle_cut, sphere, tiny_net_losses


def test_deap_logbook_and_hall_of_fame():
    opt = GA(popsize=20, hof_size=3, dtype="float64").initialize(np.ones(5), np.random.default_rng(0))
    told = drive(opt, sphere, 15)
    assert isinstance(opt.logbook, tools.Logbook) and isinstance(opt.hall_of_fame, tools.HallOfFame)
    assert len(opt.logbook) == 15
    assert opt.logbook.select("gen") == list(range(15))
    mins = opt.logbook.select("min")
    np.testing.assert_allclose(mins, [losses.min() for _, losses in told])
    assert set(opt.logbook[0]) >= {"gen", "nevals", "min", "avg", "max", "std"}
    # the hall of fame holds the best individuals ever told, best first
    everything = np.concatenate([losses for _, losses in told])
    best = opt.hall_of_fame[0]
    assert len(opt.hall_of_fame) == 3
    assert best.fitness.values[0] == pytest.approx(everything.min())
    np.testing.assert_array_equal(best.genome, opt.best_x)
    hof_losses = [ind.fitness.values[0] for ind in opt.hall_of_fame]
    assert hof_losses == sorted(hof_losses)


def test_elites_survive_unchanged():
    opt = GA(popsize=10, n_elite=2, dtype="float64").initialize(np.ones(4), np.random.default_rng(0))
    Theta = np.array(opt.ask())
    losses = sphere(Theta)
    opt.tell(Theta, losses)
    nxt = opt.ask()
    np.testing.assert_array_equal(nxt[:2], Theta[np.argsort(losses)[:2]])
    np.testing.assert_array_equal(opt.x, Theta[np.argmin(losses)])


def test_selection_leaves_pythons_global_random_alone():
    random.seed(42)
    before = random.getstate()
    drive(GA(popsize=8).initialize(np.ones(3), np.random.default_rng(0)), sphere, 3)
    assert random.getstate() == before


@pytest.mark.parametrize("crossover", ["blend", "sbx", "none"])
def test_minimises_sphere(crossover):
    opt = GA(crossover=crossover, sigma0=1.0, mutation_sigma=0.05, indpb=0.3, dtype="float64")
    drive(opt.initialize(np.full(5, 2.0), np.random.default_rng(0)), sphere, 150)
    assert opt.hall_of_fame[0].fitness.values[0] < 0.05


def test_blend_children_lie_in_the_widened_interval():
    opt = GA(popsize=4, n_elite=0, cxpb=1.0, indpb=0.0, alpha=0.5, dtype="float64")
    opt.initialize(np.zeros(50), np.random.default_rng(0))
    parents = np.stack([np.zeros(50), np.ones(50), np.zeros(50), np.ones(50)])
    children = opt._vary(parents.copy(), np.zeros(0, np.int64), np.arange(4))  # no elites, parents in order
    assert children.min() >= -0.5 - 1e-12 and children.max() <= 1.5 + 1e-12
    np.testing.assert_allclose(children[0] + children[1], 1.0)  # cxBlend keeps the pair's sum


def test_bad_parameters():
    with pytest.raises(ValueError, match="crossover"):
        GA(crossover="onepoint").initialize(np.zeros(2), np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_elite"):
        GA(popsize=4, n_elite=4).initialize(np.zeros(2), np.random.default_rng(0))


def test_tiny_sigmoid_net_loss_drops():
    before, after = tiny_net_losses(GA(popsize=32, sigma0=0.5, mutation_sigma=0.1, indpb=0.2), steps=60)
    assert after < 0.8 * before


def test_same_seed_same_run_and_pickle_resume():
    def run(cut=None):
        opt = run_with_pickle_cut(lambda: GA(popsize=10), np.ones(6), 30, cut)
        return opt.x, list(opt.logbook.select("min")), opt.hall_of_fame[0].genome

    a, b, c = run(), run(), run(cut=11)
    for u, v in [(a, b), (a, c)]:
        np.testing.assert_array_equal(u[0], v[0])
        assert u[1] == v[1]
        np.testing.assert_array_equal(u[2], v[2])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("popsize, n_elite", [(12, 2), (11, 2), (8, 0)])
@pytest.mark.parametrize("crossover", ["blend", "sbx"])
def test_fused_variation_is_the_numpy_formula_bit_for_bit(dtype, popsize, n_elite, crossover):
    """The one-pass kernels write the same population as cxBlend (or cxSimulatedBinary) +
    mutGaussian on arrays: the same draws, in the same order, and the same float operations
    (bit for bit; SBX to the ulps of its power)."""
    import copy

    from deap import creator

    opt = GA(popsize=popsize, n_elite=n_elite, cxpb=0.7, indpb=0.2, sigma0=1.0, dtype=dtype,
             crossover=crossover)
    opt.initialize(np.linspace(-1, 1, 30), np.random.default_rng(5))
    t = np.dtype(dtype).type
    losses = np.random.default_rng(6).random(popsize)
    for _ in range(4):
        Theta = opt.ask().copy()
        state, py_state = copy.deepcopy(opt.rng.bit_generator.state), opt._random_state
        opt.tell(Theta, losses)
        # the reference: DEAP's tournaments replayed from the same state, then the kernel's
        # operations written in NumPy, on the same draws
        population = []
        for i, loss in enumerate(losses):
            ind = creator.EvoneuroIndividual()
            ind.index, ind.fitness.values = i, (float(loss),)
            population.append(ind)
        outside = random.getstate()
        random.setstate(py_state)
        parents = [ind.index for ind in tools.selTournament(population, popsize - n_elite, opt._tournsize)]
        random.setstate(outside)
        ref_rng = np.random.default_rng()
        ref_rng.bit_generator.state = state
        children = Theta[parents]
        m, n = children.shape
        crossed = ref_rng.random(m // 2) < 0.7
        pairs = np.flatnonzero(crossed)
        u = opt._uniform.rows(ref_rng, pairs.size)
        counts = ref_rng.binomial(n, 0.2, size=m)
        where = ref_rng.integers(0, n, size=counts.sum())
        table = opt._normal.table  # N(0, 1) from the noise table at one offset
        offset = ref_rng.integers(0, table.size - counts.sum() + 1)
        if pairs.size:
            a, b = children[2 * pairs], children[2 * pairs + 1]
            if crossover == "blend":
                u = (u * t(2.0) - t(0.5)) * (b - a)
                children[2 * pairs], children[2 * pairs + 1] = a + u, b - u
            else:
                e = t(1 / 16)  # eta = 15
                beta = np.where(u <= t(0.5), (u + u) ** e, (t(0.5) / (t(1) - u)) ** e)
                half_sum, half_diff = t(0.5) * (a + b), t(0.5) * beta * (a - b)
                children[2 * pairs], children[2 * pairs + 1] = half_sum + half_diff, half_sum - half_diff
        rows = np.repeat(np.arange(m), counts)  # each child's genes, in order
        np.add.at(children.reshape(-1), rows * n + where, t(0.02) * table[offset:offset + counts.sum()])
        elite = np.argsort(losses, kind="stable")[:n_elite]
        expected = np.concatenate([Theta[elite], children])
        if crossover == "blend":
            np.testing.assert_array_equal(opt.ask(), expected)
        else:  # SBX's power: Numba's pow and NumPy's may differ by an ulp (then (a + b)/2 - d cancels)
            eps = np.finfo(dtype).eps
            np.testing.assert_allclose(opt.ask(), expected, rtol=8 * eps, atol=8 * eps * np.abs(expected).max())
