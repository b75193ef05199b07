"""Neuroevolution on a control task, with no simulator dependency.

A cart-pole in NumPy with the standard equations and constants of Barto, Sutton &
Anderson (1983) as in gymnasium's ``CartPole-v0``: Euler steps of 0.02 s, force +-10 N,
the episode ends when the pole leans past 12 degrees or the cart leaves +-2.4 m, reward 1
per step, at most 200 steps (v1 allows 500: see ``examples/cartpole_neuroevolution.py``).
Several episodes run side by side as one batch, so the policy network is called once per
time step for all of them.
"""

import numpy as np
import pytest

import evoneuro as en

GRAVITY, M_CART, M_POLE, HALF_LEN, FORCE, TAU = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
THETA_LIMIT, X_LIMIT, MAX_STEPS = 12 * 2 * np.pi / 360, 2.4, 200


def cartpole_step(s, action):
    """One Euler step for states ``s`` (E, 4) = (x, x_dot, theta, theta_dot), actions (E,) in {0, 1}."""
    x, x_dot, th, th_dot = s.T
    force = np.where(action == 1, FORCE, -FORCE)
    cos, sin = np.cos(th), np.sin(th)
    total = M_CART + M_POLE
    temp = (force + M_POLE * HALF_LEN * th_dot**2 * sin) / total
    th_acc = (GRAVITY * sin - cos * temp) / (HALF_LEN * (4.0 / 3.0 - M_POLE * cos**2 / total))
    x_acc = temp - M_POLE * HALF_LEN * th_acc * cos / total
    return np.stack([x + TAU * x_dot, x_dot + TAU * x_acc, th + TAU * th_dot, th_dot + TAU * th_acc], axis=1)


def episode_returns(policy, starts):
    """Return of each episode from the start states (E, 4); the action is argmax of the policy."""
    s = starts.copy()
    alive = np.ones(len(s), dtype=bool)
    returns = np.zeros(len(s))
    for _ in range(MAX_STEPS):
        s[alive] = cartpole_step(s[alive], np.argmax(policy(s[alive]), axis=1))
        returns += alive
        alive &= (np.abs(s[:, 0]) <= X_LIMIT) & (np.abs(s[:, 2]) <= THETA_LIMIT)
        if not alive.any():
            break
    return returns


def mean_return(policy, starts):
    return float(episode_returns(policy, starts).mean())


STARTS = np.random.default_rng(0).uniform(-0.05, 0.05, size=(3, 4))  # gymnasium's start range


def test_dynamics_match_the_reference_equations():
    # an untrained "always push right" policy falls within a few dozen steps, as in gymnasium
    push_right = lambda s: np.tile([0.0, 1.0], (len(s), 1))  # noqa: E731
    r = episode_returns(push_right, np.zeros((1, 4)))
    assert 5 < r[0] < 60
    # the dynamics are mirror-symmetric: pushing left from rest mirrors pushing right
    s = cartpole_step(np.zeros((2, 4)), np.array([0, 1]))
    np.testing.assert_allclose(s[0], -s[1])


def test_dynamics_match_gymnasium():
    gym = pytest.importorskip("gymnasium")
    env = gym.make("CartPole-v1").unwrapped
    obs, _ = env.reset(seed=3)
    s = np.array(obs, dtype=np.float64)[None]
    for action in [1, 1, 0, 1, 0, 0, 0, 1, 1, 1]:
        obs, *_ = env.step(action)
        s = cartpole_step(s, np.array([action]))
        np.testing.assert_allclose(s[0], obs, rtol=1e-5, atol=1e-6)  # gymnasium keeps float32


@pytest.mark.parametrize("optimizer, params, hidden", [
    ("cmaes", {"sigma0": 0.5, "popsize": 8}, (8,)),
    ("es", {"popsize": 8, "sigma": 0.2, "learning_rate": 0.2}, ()),
])
def test_policy_reaches_the_maximum_return(optimizer, params, hidden):
    net = en.MLP(4, hidden, 2, activation="tanh", output="linear")
    fitness = en.NetworkFitness(net, mean_return, args=(STARTS,), maximize=True)
    res = en.minimize(fitness, optimizer=optimizer, optimizer_params=params, target=MAX_STEPS,
                      max_steps=60, random_state=0)
    assert res.stop_reason == "target"
    assert res.fun == MAX_STEPS
    # the solution balances from unseen start states too
    unseen = np.random.default_rng(1).uniform(-0.05, 0.05, size=(10, 4))
    assert mean_return(fitness.network(res.x), unseen) > 0.9 * MAX_STEPS


def test_linear_policy_via_fitness_keyword():
    net = en.MLP(4, (), 2, output="linear")  # a linear policy: 10 weights
    res = en.minimize(fitness=en.NetworkFitness(net, mean_return, args=(STARTS,), maximize=True),
                      x0=net.n_params, optimizer="random", optimizer_params={"popsize": 8, "sigma": 0.5},
                      target=MAX_STEPS, max_steps=60, random_state=0)
    assert res.fun == MAX_STEPS
    assert res.history["best_loss"][-1] == MAX_STEPS  # reported in the fitness's own sign


def test_gymnasium_example_smoke_run():
    pytest.importorskip("gymnasium")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "cartpole_neuroevolution.py"
    spec = importlib.util.spec_from_file_location("cartpole_neuroevolution", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main(["--quick"]) > 10
