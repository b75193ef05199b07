"""Random search: local (1+lambda) with the success rule, and global sampling."""

import pickle

import numpy as np
import pytest

import evoneuro as en
from evoneuro.optimizers.random_search import RandomSearch


def sphere(Theta):
    return (np.asarray(Theta, dtype=np.float64) ** 2).sum(axis=1)


def drive(opt, f, steps):
    for _ in range(steps):
        Theta = opt.ask()
        opt.tell(Theta, f(Theta))
    return opt


def test_local_is_default_and_asks_parent_first():
    opt = RandomSearch(popsize=5, dtype="float64").initialize(np.arange(3.0), np.random.default_rng(0))
    assert opt.mode == "local" and opt.popsize == 6
    Theta = opt.ask()
    np.testing.assert_array_equal(Theta[0], np.arange(3.0))


def test_local_converges_with_step_size_adaptation():
    opt = drive(RandomSearch(sigma=1.0, dtype="float64").initialize(np.full(5, 3.0), np.random.default_rng(0)),
                sphere, 400)
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
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
    net = en.MLP(4, (8, 8), 3, activation="sigmoid")
    prob = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y)
    opt = RandomSearch().initialize(net.init(rng, "glorot"), np.random.default_rng(1))
    before = prob.full_loss(opt.x)
    for _ in range(100):
        opt.step(prob)
    assert prob.full_loss(opt.x) < 0.8 * before


@pytest.mark.parametrize("mode", ["local", "global"])
def test_same_seed_same_run_and_pickle_resume(mode):
    def run(cut=None):
        opt = RandomSearch(mode=mode).initialize(np.ones(6), np.random.default_rng(5))
        for k in range(40):
            if k == cut:
                opt = pickle.loads(pickle.dumps(opt))
            drive(opt, sphere, 1)
        return opt.x

    np.testing.assert_array_equal(run(), run())
    np.testing.assert_array_equal(run(), run(cut=17))
