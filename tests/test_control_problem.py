"""ControlProblem: lockstep episodes, masking, common starts, statistics, actions, errors, replay."""

import pickle
import warnings

import numpy as np
import pytest

import evoneuro as en
from evoneuro.control import CartPole, ControlProblem, GymEnv, VecEnv, plot_returns, plot_rollout

gym = pytest.importorskip("gymnasium")


class Countdown(VecEnv):
    """Episode ``i`` lasts ``seed % 7 + 1`` steps; counts the steps each row is given."""

    observation_size, action_kind, n_actions, max_steps, name = 2, "discrete", 2, 50, "countdown"

    def reset(self, seeds):
        self.left = np.asarray(seeds) % 7 + 1
        self.stepped = np.zeros(len(seeds), dtype=int)
        return np.stack([self.left, np.zeros(len(seeds))], axis=1).astype(float)

    def step(self, actions, active):
        self.stepped += active
        self.left = self.left - active
        done = (self.left <= 0) & active
        obs = np.stack([self.left, np.asarray(actions, float)], axis=1)
        return obs, active * (1.0 + np.asarray(actions)), done


class Plane(Countdown):
    action_kind, n_actions = "box", 2
    action_low, action_high = np.array([-1.0, -1.0]), np.array([1.0, 1.0])


def linear(n_in, n_out):
    return en.MLP(n_in, (), n_out, output="linear")


def test_finished_episodes_are_masked_not_rerun():
    env = Countdown()
    prob = ControlProblem(env, linear(2, 2), episodes=4, obs_norm=False)
    prob.begin_step(np.random.default_rng(0))
    Theta = np.zeros((3, prob.n_params))
    Theta[:, -1] = 1.0  # bias of action 1: always action 1, reward 2 per step
    losses, grads = prob.evaluate(Theta)
    lengths = prob.episode_seeds() % 7 + 1
    np.testing.assert_array_equal(env.stepped, np.tile(lengths, 3))  # each row stepped exactly its length
    np.testing.assert_allclose(-losses, np.full(3, 2.0 * lengths.mean()))
    assert grads is None and prob.evals == 12 and prob.env_steps == 3 * lengths.sum()


def test_every_member_meets_the_same_starts_and_runs_are_reproducible():
    net = en.MLP(4, (5,), 2, activation="tanh", output="linear")
    prob = ControlProblem("CartPole-v1", net, episodes=3, max_steps=60)
    prob.begin_step(np.random.default_rng(3))
    theta = net.init(np.random.default_rng(0))
    losses, _ = prob.evaluate(np.stack([theta, theta, theta]))
    assert losses[0] == losses[1] == losses[2]  # same starts for every member
    runs = [en.minimize(ControlProblem("single-pole", en.MLP(4, (5,), 1, activation="tanh", output="linear"),
                                       episodes=2, max_steps=100), optimizer="snes", max_evals=200, random_state=5)
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0].x, runs[1].x)
    assert runs[0].fun == runs[1].fun


def test_observation_statistics_are_frozen_within_a_generation():
    prob = ControlProblem("single-pole", linear(4, 1), episodes=2, max_steps=50)
    prob.begin_step(np.random.default_rng(0))
    Theta = np.random.default_rng(1).normal(size=(4, prob.n_params))
    a, _ = prob.evaluate(Theta)
    b, _ = prob.evaluate(Theta)  # same generation: same starts, same statistics
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(prob.obs_mean, 0.0)
    prob.begin_step(np.random.default_rng(1))
    assert prob.obs_count > 0 and not np.allclose(prob.obs_std, 1.0)
    assert prob.obs_std[0] > 0 and np.all(np.isfinite(prob.obs_mean))


def test_sampled_actions_are_seeded_by_the_generation():
    net = en.MLP(4, (), 2, output="linear")
    prob = ControlProblem("CartPole-v1", net, episodes=2, max_steps=40, action="sample", obs_norm=False)
    Theta = np.zeros((2, net.n_params))  # uniform softmax: pure chance
    prob.begin_step(np.random.default_rng(0))
    a, _ = prob.evaluate(Theta)
    b, _ = prob.evaluate(Theta)
    np.testing.assert_array_equal(a, b)
    prob.begin_step(np.random.default_rng(1))
    c, _ = prob.evaluate(Theta)
    assert not np.array_equal(a, c)


def test_box_actions_are_squashed_into_the_space():
    prob = ControlProblem("Pendulum-v1", linear(3, 1), max_steps=5, obs_norm=False)
    z = np.array([[-1e6], [0.0], [1e6]])
    np.testing.assert_allclose(prob._actions(z, None)[:, 0], [-2.0, 0.0, 2.0])
    losses, _ = prob.evaluate(np.zeros((2, prob.n_params)))
    assert losses.shape == (2,) and np.all(losses > 0)  # pendulum rewards are negative


def test_reward_offset_is_taken_off_every_running_step():
    env = Countdown()
    prob = ControlProblem(env, linear(2, 2), episodes=2, obs_norm=False)
    prob.begin_step(np.random.default_rng(0))
    base, _ = prob.evaluate(np.zeros((1, prob.n_params)))
    prob.reward_offset = 1.0
    shifted, _ = prob.evaluate(np.zeros((1, prob.n_params)))
    lengths = prob.episode_seeds() % 7 + 1
    np.testing.assert_allclose(shifted - base, lengths.mean())


def test_damping_fitness_rewards_steady_balancing():
    env = CartPole(poles=2, velocities=False, reward="damping")
    prob = ControlProblem(env, en.RNN(3, (5,), 1, output="linear"), max_steps=1000, obs_norm=False)
    prob.begin_step(np.random.default_rng(0))
    losses, _ = prob.evaluate(np.zeros((1, prob.n_params)))  # zero force: falls within the first 100 steps
    steps = prob.env_steps
    assert steps < 100 and -losses[0] == pytest.approx(1e-4 * steps)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="n_inputs=3 but .* observes 4"):
        ControlProblem("CartPole-v1", linear(3, 2))
    with pytest.raises(ValueError, match="n_outputs=1 but .* 2 discrete actions"):
        ControlProblem("CartPole-v1", linear(4, 1))
    with pytest.raises(ValueError, match="box action needs"):
        ControlProblem(Plane(), en.MLP(2, (), 2))  # softmax output
    with pytest.raises(ValueError, match="action must be"):
        ControlProblem("double-pole", linear(6, 1), action="greedy")
    with pytest.raises(TypeError, match="policy must be"):
        ControlProblem("double-pole", "mlp")
    with pytest.raises(ValueError, match="episodes"):
        ControlProblem("double-pole", linear(6, 1), episodes=0)
    with pytest.raises(ValueError, match="no gradient"):
        ControlProblem("double-pole", linear(6, 1)).evaluate(np.zeros((1, 7)), need_grad=True)
    with pytest.raises(ValueError, match="Theta must have shape"):
        ControlProblem("double-pole", linear(6, 1)).evaluate(np.zeros((1, 5)))


class DictObs(gym.Env):
    observation_space = gym.spaces.Dict({"a": gym.spaces.Box(-1, 1, (2,))})
    action_space = gym.spaces.Discrete(2)


class MultiAction(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (2,))
    action_space = gym.spaces.MultiDiscrete([2, 3])


class NaNAfterTwo(gym.Env):
    observation_space = gym.spaces.Box(-np.inf, np.inf, (2,))
    action_space = gym.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        obs = np.full(2, np.nan if self.t > 2 else 0.0, dtype=np.float32)
        return obs, 1.0, False, False, {}


def test_unsupported_spaces_and_nan_observations_are_clear_errors():
    with pytest.raises(TypeError, match="observation space Dict.*not supported"):
        GymEnv(DictObs)
    with pytest.raises(TypeError, match="action space MultiDiscrete.*not supported"):
        GymEnv(MultiAction)
    prob = ControlProblem(NaNAfterTwo, linear(2, 2), max_steps=10)
    with pytest.raises(ValueError, match="NaN or infinite observations at step 3"):
        prob.evaluate(np.zeros((2, prob.n_params)))


def test_a_gym_problem_pickles_and_evaluates_after():
    prob = ControlProblem("CartPole-v1", linear(4, 2), max_steps=20)
    prob.evaluate(np.zeros((2, prob.n_params)))
    again = pickle.loads(pickle.dumps(prob))
    assert again.env._vec is None
    np.testing.assert_array_equal(again.evaluate(np.zeros((2, prob.n_params)))[0],
                                  prob.evaluate(np.zeros((2, prob.n_params)))[0])


@pytest.mark.parametrize("env", ["CartPole-v1", "double-pole-novel"])
def test_saved_policy_replays_its_return(tmp_path, env):
    net = linear(4, 2) if env == "CartPole-v1" else en.RNN(3, (4,), 1, output="linear")
    prob = ControlProblem(env, net, max_steps=100)
    res = en.minimize(prob, optimizer="cmaes", max_evals=60, random_state=0)
    path = en.save_policy(tmp_path / "best.npz", prob, res.x)
    loaded, x = en.load_policy(path)
    np.testing.assert_array_equal(x, res.x)
    np.testing.assert_array_equal(loaded.obs_mean, prob.obs_mean)
    returns, obs, actions = en.replay(path, episodes=2, max_steps=100, record=True)
    direct = en.replay((prob, res.x), episodes=2, max_steps=100)
    np.testing.assert_array_equal(returns, direct)
    assert obs.shape[1:] == (2, prob.env.observation_size) and len(obs) == len(actions) >= returns.max()


def test_plots_are_written(tmp_path):
    prob = ControlProblem("double-pole", linear(6, 1), max_steps=100)
    res = en.minimize(prob, optimizer="snes", max_evals=100, random_state=0)
    assert plot_returns(res, tmp_path / "curve.png").exists()
    _, obs, _ = en.replay((prob, res.x), max_steps=100, record=True)
    assert plot_rollout(obs, ["x", "ẋ", "θ1", "θ̇1", "θ2", "θ̇2"], tmp_path / "roll.png").exists()


def test_minimize_reports_returns_not_losses():
    prob = ControlProblem("single-pole", linear(4, 1), episodes=2, max_steps=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = en.minimize(prob, optimizer="cmaes", max_evals=400, random_state=1)
    assert res.fun > 0 and max(res.history["best_loss"]) == res.history["best_loss"][-1]


@pytest.mark.slow
def test_async_vector_env_gives_the_sync_returns():
    net = linear(4, 2)
    Theta = np.random.default_rng(0).normal(size=(3, net.n_params))
    losses = []
    for vectorization in ("sync", "async"):
        prob = ControlProblem("CartPole-v1", net, episodes=2, max_steps=100,
                              env_options={"vectorization": vectorization})
        prob.begin_step(np.random.default_rng(4))
        losses.append(prob.evaluate(Theta)[0])
        prob.env.close()
    np.testing.assert_array_equal(losses[0], losses[1])
