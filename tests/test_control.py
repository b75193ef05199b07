"""End to end: policies that solve control tasks through ControlProblem, and the example."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import evoneuro as en
from evoneuro.control.poles import solves


@pytest.mark.slow
def test_snes_solves_gymnasium_cartpole_and_the_policy_generalises():
    pytest.importorskip("gymnasium")
    net = en.MLP(4, (8,), 2, activation="tanh", output="linear")
    prob = en.ControlProblem("CartPole-v1", net, episodes=2)
    res = en.minimize(prob, np.zeros(net.n_params), optimizer="snes", optimizer_params={"sigma0": 1.0},
                      max_evals=2000, target=500, random_state=0)
    assert res.stop_reason == "target"
    best = np.asarray(prob.last_Theta[np.argmax(prob.last_returns.mean(axis=1))])
    test = en.replay((prob, best), episodes=20, seed=123)
    assert test.mean() > 400  # unseen starts


@pytest.mark.slow
def test_cmaes_balances_the_markov_double_pole():
    prob = en.ControlProblem("double-pole", en.MLP(6, (), 1, output="linear"), max_steps=1000, obs_norm=False)
    res = en.minimize(prob, np.zeros(7), optimizer="cmaes", optimizer_params={"sigma0": 1.0}, max_evals=3000,
                      target=1000, random_state=0)
    assert res.stop_reason == "target"
    best = prob.last_Theta[np.argmax(prob.last_returns.mean(axis=1))]
    ok, steps, generalization = solves(prob, best, success_steps=20_000)
    assert steps >= 1000 and generalization is None


def test_gymnasium_example_smoke_run():
    pytest.importorskip("gymnasium")
    path = Path(__file__).resolve().parents[1] / "examples" / "cartpole_neuroevolution.py"
    spec = importlib.util.spec_from_file_location("cartpole_neuroevolution", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main(["--quick"]) > 10
