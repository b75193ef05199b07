"""Memetic: local gradient steps inside a gradient-free population."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from sklearn.datasets import load_iris

import evoneuro as en
from evoneuro.optimizers.memetic import Memetic


def _problem(batch_size=None, hidden=(6,)) -> en.SupervisedProblem:
    X, y = load_iris(return_X_y=True)
    net = en.MLP(4, hidden, 3, activation="sigmoid")
    return en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X / 8, y, batch_size=batch_size)


def _one_step(inner, lamarckian, **params):
    """One memetic step with a spy on the inner optimizer's tell."""
    prob = _problem(batch_size=50)
    opt = Memetic(inner=inner, inner_params={"popsize": 6}, local_steps=3, lamarckian=lamarckian, **params)
    rng = np.random.default_rng(0)
    opt.setup(prob)
    opt.initialize(prob.net.init(rng), rng)
    told = {}
    inner_tell = opt.inner_.tell

    def spy(Theta, losses, grads=None):
        told["Theta"], told["losses"] = np.array(Theta), np.array(losses)
        told["state"] = copy.deepcopy(opt.inner_)
        inner_tell(Theta, losses, grads)

    opt.inner_.tell = spy
    prob.begin_step(rng)
    evals0 = prob.evals
    losses = opt.step(prob)
    del opt.inner_.tell
    return opt, prob, told, losses, prob.evals - evals0


@pytest.mark.parametrize("inner", ["ga", "sep-cmaes", "cmaes"])
def test_lamarckian_tells_the_refined_weights(inner):
    opt, prob, told, losses, cost = _one_step(inner, lamarckian=True)
    np.testing.assert_array_equal(told["Theta"], opt.refined_)
    assert not np.allclose(opt.refined_, opt.genotypes_)
    # the told losses are those of the refined weights, on the step's minibatch
    np.testing.assert_allclose(told["losses"], prob.evaluator.loss(opt.refined_, *prob._batch), rtol=1e-12)
    np.testing.assert_array_equal(losses, told["losses"])
    assert cost == 6 * (3 * 3 + 1) * 50  # 3 gradient steps (3N) + one forward (N) per member
    np.testing.assert_array_equal(opt.x, opt.refined_[np.argmin(losses)])


@pytest.mark.parametrize("inner", ["ga", "sep-cmaes", "snes"])
def test_baldwinian_keeps_the_genotypes_with_the_refined_fitness(inner):
    opt, prob, told, losses, _ = _one_step(inner, lamarckian=False)
    np.testing.assert_array_equal(told["Theta"], np.asarray(opt.genotypes_, dtype=told["Theta"].dtype))
    refined = prob.evaluator.loss(opt.refined_, *prob._batch)
    np.testing.assert_allclose(told["losses"], refined, rtol=1e-12)
    assert np.all(refined < prob.evaluator.loss(opt.genotypes_, *prob._batch))


def test_lamarckian_sep_cmaes_moves_its_mean_to_the_refined_points():
    # with uniform-free recombination weights, the new mean is sum_i w_i x_i of the selected
    # points: the refined ones (Lamarckian) or the asked ones (Baldwinian)
    for lamarckian in (True, False):
        opt, _, told, losses, _ = _one_step("sep-cmaes", lamarckian=lamarckian, local_params={"initial_step": 0.001})
        inner = told["state"]
        w = inner._weights
        best = np.argsort(losses, kind="stable")[: len(w)]
        points = opt.refined_ if lamarckian else opt.genotypes_
        np.testing.assert_allclose(opt.inner_.mean, w @ np.asarray(points[best], dtype=np.float64), atol=1e-5)


def test_antithetic_es_is_baldwinian_only():
    prob = _problem()
    with pytest.raises(ValueError, match="lamarckian"):
        en.Trainer(prob, Memetic(inner="es", lamarckian=True), max_steps=1)
    with pytest.raises(ValueError, match="local"):
        Memetic(local="sgd")
    with pytest.raises(ValueError, match="local_params"):
        Memetic(local="adam", local_params={"initial_step": 0.1})


@pytest.mark.parametrize("inner", ["ga", "sep-cmaes"])
def test_memetic_against_its_inner_optimizer_alone_in_the_same_budget(inner):
    budget, fun = 300_000, {}
    for name, params in [(inner, {"popsize": 8}), ("memetic", {"inner": inner, "inner_params": {"popsize": 8}})]:
        res = [en.minimize(_problem(hidden=(8, 8)), optimizer=name, optimizer_params=params,
                           max_evals=budget, random_state=seed) for seed in range(2)]
        assert all(r.n_evals <= budget for r in res)
        fun[name] = np.mean([r.fun for r in res])
    # measured, 2 seeds: ga 1.08 -> memetic 0.04. sep-CMA-ES alone is already good here
    # (0.12) and memetic sep-CMA-ES is not better (0.14): only a lowered loss is checked
    if inner == "ga":
        assert fun["memetic"] < 0.2 * fun[inner]
    else:
        assert fun["memetic"] < 0.3  # from about 1.1


def test_runs_through_minimize_and_resumes_identically():
    trainer = en.Trainer(_problem(batch_size=30), "memetic", max_steps=6, random_state=1)
    trainer.run(max_steps=3)
    resumed = copy.deepcopy(trainer).run()
    full = en.Trainer(_problem(batch_size=30), "memetic", max_steps=6, random_state=1).run()
    np.testing.assert_array_equal(resumed.x, full.x)
    assert trainer.optimizer.inner_.name == "ga"  # Lamarckian default


@pytest.mark.parametrize("name", ["sep-cmaes", "snes"])
def test_adopt_makes_tell_follow_the_told_points(name):
    # the public hook memetic uses: the update follows the adopted points, clipped in length
    def run(adopt):
        opt = en.get_optimizer(name, popsize=6, sigma0=0.1, dtype="float64")
        opt.initialize(np.zeros(4), np.random.default_rng(0))
        Theta = opt.ask()
        moved = Theta.copy()
        moved[0, 0] += 0.5  # the best point (loss 0) refined along x_0
        if adopt:
            opt.adopt(moved)
        opt.tell(moved, np.arange(6.0))
        return opt.x[0]

    assert run(adopt=True) > run(adopt=False) + 0.01
    opt = en.get_optimizer(name, popsize=6).initialize(np.zeros(4), np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="between an ask and its tell"):
        opt.adopt(np.zeros((6, 4)))
    opt.ask()
    with pytest.raises(ValueError, match="like the last ask"):
        opt.adopt(np.zeros((5, 4)))
