"""One policy step for a population on per-member inputs equals the evaluator's forward pass."""

import numpy as np
import pytest

import evoneuro as en
from evoneuro.control.policy import population_step
from evoneuro.network.losses import output_fn


@pytest.mark.parametrize("net", [en.MLP(3, (5, 4), 2, activation="tanh", output="linear"),
                                 en.MLP(3, (), 1, output="linear"),
                                 en.MLP(3, (6,), 4, activation="sigmoid")])
def test_mlp_step_matches_the_evaluator_member_by_member(net):
    rng = np.random.default_rng(0)
    Theta = net.init_population(4, rng) * 3.0  # large weights: saturated units too
    obs = rng.normal(size=(4, 5, 3))
    logits, _ = population_step(net, Theta)(obs, None)
    ev = en.Evaluator(net, backend="numpy", dtype="float64")
    for p in range(4):
        expected = ev.forward(Theta[p], obs[p])[0]
        np.testing.assert_allclose(output_fn(net.output, logits[p][None], np)[0], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_rnn_steps_match_the_unrolled_evaluator(cell):
    rng = np.random.default_rng(1)
    net = en.RNN(2, (4, 3), 2, cell=cell, output="linear", readout="all")
    P, E, T = 3, 2, 6
    Theta = net.init_population(P, rng)
    X = rng.normal(size=(E, T, 2))
    step = population_step(net, Theta)
    state = step.start(E)
    outs = []
    for t in range(T):
        logits, state = step(np.broadcast_to(X[:, t], (P, E, 2)).copy(), state)
        outs.append(logits)
    got = np.stack(outs, axis=2)  # (P, E, T, K)
    expected = en.Evaluator(net, backend="numpy", dtype="float64").forward(Theta, X)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_state_starts_at_zero_for_every_episode():
    net = en.RNN(1, (3,), 1, cell="elman", output="linear")
    Theta = net.init_population(2, np.random.default_rng(2))
    step = population_step(net, Theta)
    a, _ = step(np.ones((2, 1, 1)), step.start(1))
    b, _ = step(np.ones((2, 1, 1)), step.start(1))
    np.testing.assert_array_equal(a, b)
