"""OpenAI-ES ("es") and SNES ("snes"): sampling, shaping, defaults, convergence, resume."""

import math
import pickle

import numpy as np
import pytest

from evoneuro.optimizers import get_optimizer
from evoneuro.optimizers._shaping import centered_ranks, nes_utilities
from evoneuro.optimizers.es import SNES, OpenAIES
from tests.optim_helpers import drive, run_with_pickle_cut, sphere, tiny_net_losses


def test_shaping_helpers():
    r = centered_ranks(np.array([0.3, np.inf, -1.0, 2.0]))
    assert r.min() == -0.5 and r.max() == 0.5 and r[2] == -0.5 and r[1] == 0.5
    u = nes_utilities(10)
    assert abs(u.sum()) < 1e-12 and np.all(np.diff(u) <= 0)


def test_openai_es_asks_antithetic_pairs():
    opt = OpenAIES(popsize=8, sigma=0.3, dtype="float64").initialize(np.arange(5.0), np.random.default_rng(0))
    Theta = opt.ask()
    assert Theta.shape == (8, 5) and Theta.dtype == np.float64
    np.testing.assert_allclose(Theta[:4] + Theta[4:], np.tile(2 * np.arange(5.0), (4, 1)), atol=1e-12)


def test_openai_es_minimises_sphere():
    opt = OpenAIES(popsize=20, sigma=0.1, learning_rate=0.05, weight_decay=0.0, dtype="float64")
    drive(opt.initialize(np.full(10, 1.0), np.random.default_rng(0)), sphere, 300)
    assert sphere(opt.x[None])[0] < 1e-2


def test_openai_es_rejects_odd_popsize():
    with pytest.raises(ValueError, match="even"):
        OpenAIES(popsize=7).initialize(np.zeros(3), np.random.default_rng(0))


def test_snes_defaults_follow_the_paper():
    n = 1000
    opt = SNES().initialize(np.zeros(n), np.random.default_rng(0))
    assert opt.popsize == 4 + int(3 * math.log(n))
    assert opt._eta_sigma == pytest.approx((3 + math.log(n)) / (5 * math.sqrt(n)))
    opt = SNES(popsize=30, eta_sigma=0.2, eta_mu=0.5).initialize(np.zeros(n), np.random.default_rng(0))
    assert opt.popsize == 30 and opt._eta_sigma == 0.2 and opt._eta_mu == 0.5


def test_snes_converges_and_adapts_sigma():
    opt = SNES(sigma0=1.0, dtype="float64").initialize(np.full(10, 2.0), np.random.default_rng(3))
    drive(opt, sphere, 600)
    assert sphere(opt.x[None])[0] < 1e-8
    assert opt.sigma.max() < 1e-3  # the step sizes shrank with the distance to the optimum


@pytest.mark.parametrize("name", ["es", "snes"])
def test_tiny_sigmoid_net_loss_drops(name):
    before, after = tiny_net_losses(get_optimizer(name))
    assert after < 0.8 * before


@pytest.mark.parametrize("name", ["es", "snes"])
def test_same_seed_same_run_and_pickle_resume(name):
    def run(cut=None):
        return run_with_pickle_cut(lambda: get_optimizer(name, popsize=10), np.ones(6), 40, cut).x

    np.testing.assert_array_equal(run(), run())
    np.testing.assert_array_equal(run(), run(cut=17))


def test_noise_table_rows_are_standard_normal_and_survive_pickling():
    from evoneuro.optimizers._noise import NoiseTable

    rng = np.random.default_rng(0)
    table = NoiseTable(500, rng, "float64")
    Z = table.rows(rng, 200)
    assert abs(Z.mean()) < 0.01 and abs(Z.std() - 1) < 0.01
    assert np.abs(np.corrcoef(Z)[np.triu_indices(200, 1)]).max() < 0.3
    clone, rng2 = pickle.loads(pickle.dumps((table, rng)))
    np.testing.assert_array_equal(table.rows(rng, 3), clone.rows(rng2, 3))
    uniform = NoiseTable(100, rng, "float32", kind="uniform").rows(rng, 50)
    assert uniform.dtype == np.float32 and 0 <= uniform.min() and uniform.max() < 1


def test_snes_antithetic_mirrors_and_converges():
    opt = SNES(popsize=10, sigma0=1.0, antithetic=True, dtype="float64")
    opt.initialize(np.full(6, 2.0), np.random.default_rng(0))
    Theta = opt.ask()
    np.testing.assert_allclose(Theta[:5] + Theta[5:], np.full((5, 6), 4.0), atol=1e-12)
    opt.tell(Theta, sphere(Theta))
    drive(opt, sphere, 400)
    assert sphere(opt.x[None])[0] < 1e-8
    with pytest.raises(ValueError, match="even"):
        SNES(popsize=9, antithetic=True).initialize(np.zeros(3), np.random.default_rng(0))
