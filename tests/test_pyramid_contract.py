"""Every registered optimizer drives a Neural Abstraction Pyramid through the same evaluator.

The contract of ``tests/test_optimizers_contract.py`` (lowers the loss, respects every
budget, same seed same result, pickled mid-run resumes identically), run over
:func:`evoneuro.optimizers.available` on a small pyramid that fills in an occluded block:
the third network kind needs no change in any optimizer.
"""

import pickle

import numpy as np
import pytest

import evoneuro as en
from evoneuro.optimizers import available, get_optimizer


def problem(batch_size=None):
    rng = np.random.default_rng(0)
    y = (rng.uniform(size=(12, 4, 4)) > 0.5).astype(float)
    X = y.copy()
    X[:, 1:3, 1:3] = 0.5  # the occluded block
    net = en.Pyramid(shape=(4, 4), levels=2, features=(2, 2), iterations=2)
    return en.SupervisedProblem(en.Evaluator(net, backend="numpy", dtype="float64"), X, y, batch_size=batch_size)


def x0_for(prob):
    return prob.net.init(np.random.default_rng(1))


#: Optimizers that cannot apply to a pyramid, each with the error that says why.
DOES_NOT_APPLY = {"readout": "has none"}  # solves a separate output layer; a pyramid's outputs are fed-back maps


@pytest.fixture(params=available())
def name(request):
    if request.param in DOES_NOT_APPLY:
        pytest.skip(f"{request.param} does not apply to a pyramid (test_an_optimizer_that_does_not_apply_says_why)")
    return request.param


@pytest.mark.parametrize("registered", sorted(DOES_NOT_APPLY))
def test_an_optimizer_that_does_not_apply_says_why(registered):
    with pytest.raises(ValueError, match=DOES_NOT_APPLY[registered]):
        en.Trainer(problem(), get_optimizer(registered), max_steps=2, random_state=0).run()


def test_lowers_the_loss(name):
    prob = problem()
    x0 = x0_for(prob)
    res = en.Trainer(prob, get_optimizer(name), x0=x0, max_steps=30, random_state=0).run()
    assert res.fun < prob.full_loss(x0)
    assert res.optimizer == name and res.x.shape == x0.shape


def test_respects_every_budget(name):
    res = en.Trainer(problem(), get_optimizer(name), max_steps=3, random_state=0).run()
    assert (res.n_steps, res.stop_reason) == (3, "max_steps")
    step_cost = en.Trainer(problem(), get_optimizer(name), max_steps=1, random_state=0).run().n_evals
    max_evals = int(4.5 * step_cost)
    res = en.Trainer(problem(), get_optimizer(name), max_evals=max_evals, random_state=0).run()
    assert res.stop_reason == "max_evals"
    assert res.n_steps >= 1 and res.n_evals <= max_evals + step_cost


def test_same_seed_same_result(name):
    a = en.Trainer(problem(6), get_optimizer(name), max_steps=6, random_state=7).run()
    b = en.Trainer(problem(6), get_optimizer(name), max_steps=6, random_state=7).run()
    np.testing.assert_array_equal(a.x, b.x)
    assert a.fun == b.fun


def test_pickled_mid_run_resumes_identically(name):
    full = en.Trainer(problem(6), get_optimizer(name), max_steps=6, random_state=3).run()
    trainer = en.Trainer(problem(6), get_optimizer(name), max_steps=6, random_state=3)
    trainer.run(max_steps=3)
    resumed = pickle.loads(pickle.dumps(trainer)).run()
    np.testing.assert_array_equal(resumed.x, full.x)
    assert (resumed.fun, resumed.n_steps, resumed.n_evals) == (full.fun, full.n_steps, full.n_evals)
