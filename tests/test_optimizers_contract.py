"""The one contract every registered optimizer keeps, run over the whole registry.

Each optimizer, with its default hyperparameters: lowers a small sigmoid net's loss within
a small budget; respects every budget kind; gives identical results for the same seed;
and, pickled mid-run and resumed, ends exactly as an uninterrupted run. Every test runs on
a feed-forward net and on a recurrent one (an LSTM on short sequences). A registry name
whose module or class cannot be loaded fails every test: it can only be a typo.
"""

import pickle

import numpy as np
import pytest

import evoneuro as en
from evoneuro.optimizers import available, get_optimizer


def make(name):
    return get_optimizer(name)


def problem(batch_size=None, kind="mlp"):
    rng = np.random.default_rng(0)
    if kind == "mlp":
        X = rng.normal(size=(30, 3))
        y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
        net = en.MLP(3, (4,), 2, activation="sigmoid")
    else:  # the label needs memory: the sum of the first feature over all steps
        X = rng.normal(size=(30, 4, 3))
        y = (X[:, :, 0].sum(axis=1) + 0.5 * X[:, -1, 1] > 0).astype(int)
        net = en.RNN(3, (4,), 2, cell="lstm")
    return en.SupervisedProblem(en.Evaluator(net, backend="numpy", dtype="float64"), X, y,
                                batch_size=batch_size)


def x0_for(prob):
    return prob.net.init(np.random.default_rng(1))


@pytest.mark.parametrize("registered", available())
def test_every_registry_name_loads(registered):
    opt = make(registered)
    assert isinstance(opt, en.Optimizer) and opt.name == registered


@pytest.fixture(params=available())
def name(request):
    make(request.param)
    return request.param


@pytest.fixture(params=["mlp", "rnn"])
def kind(request, name):
    return request.param


def test_lowers_the_loss(name, kind):
    prob = problem(kind=kind)
    x0 = x0_for(prob)
    res = en.Trainer(prob, make(name), x0=x0, max_steps=30, random_state=0).run()
    assert res.fun < prob.full_loss(x0)
    assert res.optimizer == name and res.x.shape == x0.shape


def test_respects_every_budget(name, kind):
    res = en.Trainer(problem(kind=kind), make(name), max_steps=3, random_state=0).run()
    assert (res.n_steps, res.stop_reason) == (3, "max_steps")

    step_cost = en.Trainer(problem(kind=kind), make(name), max_steps=1, random_state=0).run().n_evals
    max_evals = int(4.5 * step_cost)
    res = en.Trainer(problem(kind=kind), make(name), max_evals=max_evals, random_state=0).run()
    assert res.stop_reason == "max_evals"
    assert res.n_steps >= 1 and res.n_evals <= max_evals + step_cost

    res = en.Trainer(problem(kind=kind), make(name), max_time=0.05, max_steps=10**6, random_state=0).run()
    assert res.stop_reason == "max_time" and res.seconds >= 0.05


def test_same_seed_same_result(name, kind):
    a = en.Trainer(problem(10, kind), make(name), max_steps=8, random_state=7).run()
    b = en.Trainer(problem(10, kind), make(name), max_steps=8, random_state=7).run()
    np.testing.assert_array_equal(a.x, b.x)
    assert a.fun == b.fun
    np.testing.assert_array_equal(a.history["loss"], b.history["loss"])


def test_pickled_mid_run_resumes_identically(name, kind):
    full = en.Trainer(problem(10, kind), make(name), max_steps=10, random_state=3).run()
    trainer = en.Trainer(problem(10, kind), make(name), max_steps=10, random_state=3)
    trainer.run(max_steps=4)
    resumed = pickle.loads(pickle.dumps(trainer)).run()
    np.testing.assert_array_equal(resumed.x, full.x)
    assert (resumed.fun, resumed.n_steps, resumed.n_evals) == (full.fun, full.n_steps, full.n_evals)
    np.testing.assert_array_equal(resumed.history["loss"], full.history["loss"])
    np.testing.assert_array_equal(resumed.history["best_loss"], full.history["best_loss"])


def test_tell_ranking_replaces_the_losses_in_the_update_only():
    from evoneuro.optimizers import get_optimizer

    rng = np.random.default_rng(0)
    opts = [get_optimizer("sep-cmaes", popsize=8).initialize(np.zeros(5), np.random.default_rng(1)) for _ in range(3)]
    Theta = opts[0].ask()
    for o in opts[1:]:
        np.testing.assert_array_equal(o.ask(), Theta)
    losses = rng.normal(size=8)
    opts[0].tell(Theta, losses)
    opts[1].tell(Theta, losses, ranking=losses)
    opts[2].tell(Theta, losses, ranking=-losses)
    np.testing.assert_array_equal(opts[0].ask(), opts[1].ask())  # the same ranking: the same state
    assert not np.allclose(opts[0].x, opts[2].x)  # the update followed the ranking
    for o in opts:  # the best point follows the losses whatever the ranking
        np.testing.assert_array_equal(o.best_x, Theta[np.argmin(losses)])
    with pytest.raises(ValueError, match="ranking must hold one value per point"):
        opts[0].tell(opts[0].ask(), losses, ranking=losses[:3])


def test_a_kept_population_is_never_overwritten(name):
    """Optimizers write each generation's population into reused arrays; one that a caller
    still holds (or a view of it) is left alone, and the run is the same as without keeping."""
    prob = problem(10)
    opt, ref = make(name), make(name)
    for o in (opt, ref):
        o.setup(prob)
        o.initialize(x0_for(prob), np.random.default_rng(0))
    kept, copies, view = [], [], None
    for g in range(6):
        Theta = opt.ask()
        np.testing.assert_array_equal(Theta, ref.ask())
        kept.append(Theta)
        copies.append(Theta.copy())
        if g == 0:
            view = Theta[:1]
            kept.pop()  # only the view of the first one is kept
        losses, grads = prob.evaluate(Theta, need_grad=opt.needs_grad)
        opt.tell(Theta, losses, grads)
        ref.tell(copies[-1].copy(), losses, grads)
        del Theta
    np.testing.assert_array_equal(view, copies[0][:1])
    for Theta, copy in zip(kept, copies[1:]):
        np.testing.assert_array_equal(Theta, copy)


def test_reused_arrays_are_not_pickled_or_copied(name):
    """The arrays an optimizer reuses between generations are scratch: a pickle or a copy
    carries none of them (checkpoints stay small) and still resumes identically (above)."""
    import copy

    prob = problem(10)
    opt = make(name)
    opt.setup(prob)
    opt.initialize(x0_for(prob), np.random.default_rng(0))
    for _ in range(3):
        opt.step(prob)
    for twin in (pickle.loads(pickle.dumps(opt)), copy.deepcopy(opt)):
        assert twin._workspace._arrays == {}
