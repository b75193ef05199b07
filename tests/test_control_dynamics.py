"""The compiled cart-poles against the float64 NumPy Runge-Kutta reference, and the physics."""

import numpy as np
import pytest

from evoneuro.control import CartPole
from evoneuro.control import _dynamics as dyn


@pytest.mark.parametrize("poles", [1, 2])
def test_numba_matches_the_numpy_rk4_reference_over_1000_steps(poles):
    rng = np.random.default_rng(poles)
    params = dyn.pack(poles)
    S = np.zeros((6, 2 + 2 * poles))
    S[:, 2] = rng.uniform(-0.2, 0.2, 6)
    ref = S.copy()
    active = np.ones(6, dtype=bool)
    worst = 0.0
    for _ in range(1000):  # random forces: the poles fall and swing through every angle
        force = rng.uniform(-10, 10, 6)
        dyn.rk4_numba(S, force, active, params)
        ref = dyn.rk4(ref, force, params)
        worst = max(worst, float(np.abs(S - ref).max()))
    assert worst <= 1e-10
    assert np.abs(ref[:, 2]).max() > 1.0  # the test reached large angles, not only small ones


def test_inactive_rows_are_not_stepped():
    params = dyn.pack(2)
    S = np.zeros((3, 6))
    S[:, 2] = 0.1
    before = S.copy()
    dyn.rk4_numba(S, np.full(3, 5.0), np.array([True, False, True]), params)
    np.testing.assert_array_equal(S[1], before[1])
    assert not np.array_equal(S[0], before[0])


def test_rk4_converges_at_fourth_order():
    params = dyn.pack(2)
    s0 = np.array([[0.0, 0.1, 0.2, -0.3, 0.1, 0.5]])
    force = np.array([3.0])
    exact = dyn.rk4(s0, force, params, tau=0.02 / 256, substeps=256)
    err = [float(np.abs(dyn.rk4(s0, force, params, tau=0.02 / n, substeps=n) - exact).max()) for n in (1, 2)]
    assert 10 < err[0] / err[1] < 22  # 2^4 = 16 for a fourth-order method


def test_mirror_symmetry_and_gravity():
    params = dyn.pack(2)
    s = np.array([[0.1, 0.2, 0.05, -0.1, 0.02, 0.3]])
    a = dyn.rk4(s, np.array([4.0]), params)
    b = dyn.rk4(-s, np.array([-4.0]), params)
    np.testing.assert_allclose(a, -b, rtol=0, atol=1e-15)
    # a pole leaning right with nothing pushing falls further right (g < 0 in the code's convention)
    lean = dyn.rk4(np.array([[0.0, 0.0, 0.05, 0.0]]), np.array([0.0]), dyn.pack(1))
    assert lean[0, 3] > 0


def test_double_pole_without_control_fails_and_observes_positions_only():
    env = CartPole(poles=2, velocities=False)
    obs = env.reset(np.zeros(2, dtype=np.int64))
    np.testing.assert_allclose(obs[0], [0.0, 4.0 / 36.0, 0.0])  # 4 degrees, scaled by the 36-degree limit
    active = np.ones(2, dtype=bool)
    for t in range(1000):
        obs, reward, done = env.step(np.zeros((2, 1)), active)
        active &= ~done
        if not active.any():
            break
    assert not active.any() and 10 < t < 200


def test_start_noise_is_drawn_from_the_seed():
    env = CartPole(poles=1, start_angle=0.0, start_noise=0.05, scaled=False)
    a, b = env.reset(np.array([1, 2, 1])), env.reset(np.array([1, 2, 1]))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[0], a[2])
    assert not np.array_equal(a[0], a[1]) and np.abs(a).max() <= 0.05


def test_cartpole_rejects_bad_arguments():
    with pytest.raises(ValueError, match="poles must be 1 or 2"):
        CartPole(poles=3)
    with pytest.raises(ValueError, match="action must be"):
        CartPole(action="continuous")
    with pytest.raises(ValueError, match="reward must be"):
        CartPole(reward="return")
    with pytest.raises(ValueError, match="states must have shape"):
        CartPole(poles=2).reset(states=np.zeros((2, 4)))


def test_generalization_starts_span_the_papers_ranges():
    S = CartPole.generalization_starts()
    assert S.shape == (625, 6) and len(np.unique(S, axis=0)) == 625
    np.testing.assert_allclose(S.max(axis=0)[:4], 0.9 * np.array([2.16, 1.35, np.radians(3.6), np.radians(8.6)]))
    np.testing.assert_array_equal(S[:, 4:], 0.0)


def test_small_forces_are_raised_to_the_minimum():
    a, b = CartPole(poles=1), CartPole(poles=1)
    a.reset(np.zeros(1, dtype=np.int64))
    b.reset(np.zeros(1, dtype=np.int64))
    a.step(np.zeros((1, 1)), np.ones(1, dtype=bool))
    b.step(np.full((1, 1), 1 / 256), np.ones(1, dtype=bool))
    np.testing.assert_array_equal(a.state, b.state)  # a zero action pushes with 10/256 N, to +x


def test_gym_cartpole_replays_gymnasium_episodes():
    gym = pytest.importorskip("gymnasium")
    from evoneuro.control import GymCartPole

    rng = np.random.default_rng(0)
    for seed in (0, 7, 123):
        env = gym.make("CartPole-v1")
        obs, _ = env.reset(seed=seed)
        ours = GymCartPole()
        np.testing.assert_array_equal(ours.reset(np.array([seed]))[0], obs)
        total, done, t = 0.0, False, 0
        while not done:
            a = int(rng.integers(2)) if t % 3 else int(obs[2] > 0)
            obs, r, term, trunc, _ = env.step(a)
            mine, reward, fail = ours.step(np.array([a]), np.ones(1, dtype=bool))
            np.testing.assert_allclose(mine[0], obs, rtol=0, atol=1e-6)  # float32 observations
            np.testing.assert_allclose(ours.state[0], env.unwrapped.state, rtol=1e-12, atol=1e-14)
            assert fail[0] == term and reward[0] == r
            total, done, t = total + r, term or trunc, t + 1
        assert t > 5
