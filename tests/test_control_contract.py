"""ControlProblem under the optimizer contract, over the whole registry, with a feed-forward
and a recurrent policy (as ``tests/test_optimizers_contract.py`` does for supervised problems).

Every gradient-free optimizer raises the return within a small budget, respects every budget
kind, gives identical results for a seed, and resumes identically from a pickle. An
optimizer that needs gradients (or, for ``readout``, training data) fails at once with an
error that says why: an episode's return has no gradient.
"""

import pickle

import numpy as np
import pytest

import evoneuro as en
from evoneuro.optimizers import available, get_optimizer

#: memetic's local search and guided-es follow gradients; readout solves from data.
NEEDS_GRADIENT = {n for n in available() if get_optimizer(n).needs_grad} | {"memetic"}
NEEDS_DATA = {"readout"}
FREE = [n for n in available() if n not in NEEDS_GRADIENT | NEEDS_DATA]


def problem(kind):
    if kind == "mlp":
        return en.ControlProblem("single-pole", en.MLP(4, (3,), 1, activation="tanh", output="linear"),
                                 episodes=2, max_steps=150)
    return en.ControlProblem("single-pole-novel", en.RNN(2, (3,), 1, cell="elman", output="linear"),
                             episodes=2, max_steps=150)


@pytest.fixture(params=["mlp", "rnn"])
def kind(request):
    return request.param


def test_registry_is_covered():
    assert FREE and set(FREE) | NEEDS_GRADIENT | NEEDS_DATA == set(available())


@pytest.mark.parametrize("name", FREE)
def test_raises_the_return(name, kind):
    prob = problem(kind)
    x0 = prob.net.init(np.random.default_rng(1))
    prob.begin_step(np.random.default_rng(0))
    start = -prob.full_loss(x0)
    res = en.Trainer(prob, get_optimizer(name), x0=x0, max_steps=25, random_state=0).run()
    assert max(-np.asarray(res.history["best_loss"])) > start  # minimize flips the sign; the Trainer does not
    assert res.optimizer == name and res.x.shape == x0.shape


@pytest.mark.parametrize("name", FREE)
def test_respects_every_budget(name, kind):
    res = en.Trainer(problem(kind), get_optimizer(name), max_steps=3, random_state=0).run()
    assert (res.n_steps, res.stop_reason) == (3, "max_steps")
    step_cost = en.Trainer(problem(kind), get_optimizer(name), max_steps=1, random_state=0).run().n_evals
    res = en.Trainer(problem(kind), get_optimizer(name), max_evals=int(3.5 * step_cost), random_state=0).run()
    assert res.stop_reason == "max_evals" and res.n_evals <= int(3.5 * step_cost) + step_cost
    res = en.Trainer(problem(kind), get_optimizer(name), max_time=0.05, max_steps=10**6, random_state=0).run()
    assert res.stop_reason == "max_time" and res.seconds >= 0.05


@pytest.mark.parametrize("name", FREE)
def test_same_seed_same_result(name, kind):
    a = en.minimize(problem(kind), optimizer=name, max_steps=6, random_state=7)
    b = en.minimize(problem(kind), optimizer=name, max_steps=6, random_state=7)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.fun == b.fun
    np.testing.assert_array_equal(a.history["loss"], b.history["loss"])


@pytest.mark.parametrize("name", FREE)
def test_pickled_mid_run_resumes_identically(name, kind):
    full = en.Trainer(problem(kind), get_optimizer(name), max_steps=8, random_state=3).run()
    trainer = en.Trainer(problem(kind), get_optimizer(name), max_steps=8, random_state=3)
    trainer.run(max_steps=3)
    resumed = pickle.loads(pickle.dumps(trainer)).run()
    np.testing.assert_array_equal(resumed.x, full.x)
    assert (resumed.fun, resumed.n_steps, resumed.n_evals) == (full.fun, full.n_steps, full.n_evals)
    np.testing.assert_array_equal(resumed.history["loss"], full.history["loss"])


@pytest.mark.parametrize("name", sorted(NEEDS_GRADIENT))
def test_gradient_optimizers_fail_clearly(name, kind):
    with pytest.raises(ValueError, match="control problem has no gradient"):
        en.minimize(problem(kind), optimizer=name, max_steps=2, random_state=0)


@pytest.mark.parametrize("name", sorted(NEEDS_DATA))
def test_data_optimizers_fail_clearly(name, kind):
    with pytest.raises(TypeError, match="needs an evoneuro.SupervisedProblem, got ControlProblem"):
        en.minimize(problem(kind), optimizer=name, max_steps=2, random_state=0)
