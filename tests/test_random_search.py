"""Random search: local (1+lambda) with the success rule, and global sampling."""


import numpy as np
import pytest

from evoneuro.optimizers.random_search import RandomSearch
from tests.optim_helpers import drive, run_with_pickle_cut, sphere, tiny_net_losses


def test_local_is_default_and_asks_parent_first():
    opt = RandomSearch(popsize=5, dtype="float64").initialize(np.arange(3.0), np.random.default_rng(0))
    assert opt.mode == "local" and opt.popsize == 6
    Theta = opt.ask()
    np.testing.assert_array_equal(Theta[0], np.arange(3.0))


def test_local_converges_with_step_size_adaptation():
    opt = RandomSearch(sigma=1.0, dtype="float64").initialize(np.full(5, 3.0), np.random.default_rng(0))
    drive(opt, sphere, 400)
    assert sphere(opt.x[None])[0] < 1e-8
    assert opt.sigma < 1e-3


def test_step_size_grows_when_everything_succeeds():
    opt = RandomSearch(sigma=1e-3).initialize(np.zeros(5), np.random.default_rng(0))
    drive(opt, lambda T: np.zeros(len(T)), 20)  # a flat function: every offspring "succeeds"
    assert opt.sigma > 1e-3


def test_global_samples_around_the_start_and_keeps_the_best():
    x0 = np.full(4, 5.0)
    opt = RandomSearch(mode="global", popsize=50, sigma=1.0, dtype="float64").initialize(x0, np.random.default_rng(0))
    seen = []
    for _ in range(20):
        Theta = opt.ask()
        seen.append(Theta)
        opt.tell(Theta, sphere(Theta))
    seen = np.concatenate(seen)
    np.testing.assert_allclose(seen.mean(axis=0), x0, atol=0.1)  # never moves away from x0
    np.testing.assert_array_equal(opt.x, seen[np.argmin(sphere(seen))])


def test_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        RandomSearch(mode="walk").initialize(np.zeros(2), np.random.default_rng(0))


def test_tiny_sigmoid_net_loss_drops():
    before, after = tiny_net_losses(RandomSearch(), steps=100)
    assert after < 0.8 * before


@pytest.mark.parametrize("mode", ["local", "global"])
def test_same_seed_same_run_and_pickle_resume(mode):
    def run(cut=None):
        return run_with_pickle_cut(lambda: RandomSearch(mode=mode), np.ones(6), 40, cut).x

    np.testing.assert_array_equal(run(), run())
    np.testing.assert_array_equal(run(), run(cut=17))
