"""Vectorised environments: many episodes stepped in one call.

A :class:`VecEnv` holds ``M`` episodes side by side (a control problem's ``P`` members × ``E``
episodes). ``reset(seeds)`` starts episode ``i`` from the start that ``seeds[i]`` draws, so
the same seed gives the same start (common random starts); ``step(actions, active)``
advances the rows whose ``active`` is set and leaves the others (finished episodes) as they
are. Two kinds are here:

- :class:`CartPole`: the cart-pole family of the neuroevolution literature (one or two
  poles, with or without velocities), compiled with Numba and integrated by Runge-Kutta,
  every cart of the population in one call (:mod:`evoneuro.control._dynamics`);
- :class:`GymEnv`: any gymnasium environment through its vector API (a ``SyncVectorEnv``, or
  an ``AsyncVectorEnv`` of worker processes for slow simulators).
"""

from __future__ import annotations

import numpy as np

from evoneuro._validation import check_bool, check_positive_float, check_positive_int
from evoneuro.control import _dynamics as dyn


class VecEnv:
    """Base class: ``M`` episodes stepped side by side.

    Attributes a subclass sets: ``observation_size`` (int), ``action_kind`` (``"discrete"``
    or ``"box"``), ``n_actions`` (the number of discrete actions, or the box's length),
    ``action_low`` / ``action_high`` (``(n_actions,)`` for a box), ``max_steps`` (the cap a
    :class:`~evoneuro.control.ControlProblem` uses when given none), ``name``.
    """

    observation_size: int
    action_kind: str
    n_actions: int
    action_low: np.ndarray | None = None
    action_high: np.ndarray | None = None
    max_steps: int = 1000
    name: str = "env"

    def reset(self, seeds: np.ndarray) -> np.ndarray:
        """Start ``len(seeds)`` episodes; observations ``(M, observation_size)`` float64."""
        raise NotImplementedError

    def step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance the ``active`` episodes: observations, rewards ``(M,)``, terminated ``(M,)``.

        ``actions`` is ``(M,)`` int64 for discrete actions, ``(M, n_actions)`` float64 for a box.
        Rows that are not active get reward 0 and are not terminated again.
        """
        raise NotImplementedError

    def episode_end(self, steps: np.ndarray) -> np.ndarray:
        """A reward added once per episode when it ends after ``steps`` ``(M,)`` steps (0 here)."""
        return np.zeros(len(steps))

    def close(self) -> None:
        """Release what the environment holds (worker processes); it may be reset again."""


#: Forces smaller than this are raised to it, keeping their sign (Wieland 1991, as described by
#: Gomez et al. 2008): a policy cannot hold the unstable equilibrium by doing nothing.
MIN_FORCE = dyn.FORCE / 256
#: The generalisation test of Gruau, Whitley & Pyeatt (1996): x, ẋ, θ1, θ̇1 each at these
#: fractions of their ranges ±2.16 m, ±1.35 m/s, ±3.6°, ±8.6°/s (Igel 2003), 5^4 = 625 starts.
GENERALIZATION_FRACTIONS = (0.05, 0.25, 0.5, 0.75, 0.95)
GENERALIZATION_RANGES = (2.16, 1.35, 3.6 * np.pi / 180, 8.6 * np.pi / 180)


class CartPole(VecEnv):
    """The cart-pole family, vectorised in Numba: one or two poles, with or without velocities.

    Wieland's equations (1991) integrated by 4th-order Runge-Kutta, two steps of 0.01 s per
    action, as the pole-balancing benchmarks of Gomez, Schmidhuber & Miikkulainen (2008) and
    Heidrich-Meisner & Igel (2009) simulate them; the constants are in
    :mod:`evoneuro.control._dynamics`. The force is continuous, ``10 N × a`` for the action
    ``a ∈ [-1, 1]`` (or bang-bang ±10 N with ``action="discrete"``). An episode fails when the
    cart leaves ±2.4 m or a pole leans past ``fail_angle``; the reward is 1 per step survived.

    Parameters
    ----------
    poles : {1, 2}, default=2
        One pole (half-length 0.5 m), or the double pole (a second one of 0.05 m).
    velocities : bool, default=True
        Observe ``(x, ẋ, θ1, θ̇1[, θ2, θ̇2])`` (Markov); ``False`` observes ``(x, θ1[, θ2])``
        only, a non-Markov task that needs a policy with memory.
    action : {"box", "discrete"}, default="box"
    fail_angle : float, default=36
        Degrees from vertical beyond which a pole has fallen (36 in the double-pole papers;
        12 is the usual single-pole limit).
    start_angle : float, default=4.0
        The long pole's starting angle in degrees (4° in Gomez et al. 2008; Igel 2003 used 4.5°).
    scaled : bool, default=True
        Observe the state scaled to about [-1, 1], as the papers feed their networks: ``x / 2.4``,
        velocities ``/ 2``, angles ``/ fail_angle``.
    start_noise : float, default=0.0
        Half-width of a uniform perturbation added to every state variable at the start
        (drawn from each episode's seed). 0: every episode starts at the papers' fixed state.
    reward : {"steps", "damping"}, default="steps"
        ``"steps"``: 1 per step. ``"damping"``: Gruau et al.'s (1996) fitness for the non-Markov
        double pole, ``0.1 t/1000 + 0.9 × 0.75 / Σ_{last 100 steps} (|x|+|ẋ|+|θ1|+|θ̇1|)``
        (the second term only after 100 steps), spread as ``1e-4`` per step plus the rest at
        the end of the episode; it rewards balancing without oscillation.
    max_steps : int, default=1000
        The episode cap a control problem uses when given none.

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.control import CartPole
    >>> env = CartPole(poles=2, velocities=False)
    >>> obs = env.reset(np.arange(3))
    >>> obs.shape, env.action_kind
    ((3, 3), 'box')
    >>> obs, reward, done = env.step(np.zeros((3, 1)), np.ones(3, dtype=bool))
    >>> reward, done
    (array([1., 1., 1.]), array([False, False, False]))
    """

    def __init__(self, poles: int = 2, velocities: bool = True, action: str = "box", fail_angle: float = 36.0,
                 start_angle: float = 4.0, start_noise: float = 0.0, reward: str = "steps",
                 max_steps: int = 1000, scaled: bool = True) -> None:
        if poles not in (1, 2) or isinstance(poles, bool):
            raise ValueError(f"poles must be 1 or 2, got {poles!r}")
        if action not in ("box", "discrete"):
            raise ValueError(f"action must be 'box' or 'discrete', got {action!r}")
        if reward not in ("steps", "damping"):
            raise ValueError(f"reward must be 'steps' or 'damping', got {reward!r}")
        self.poles = poles
        self.velocities = check_bool(velocities, "velocities")
        self.action = action
        self.fail_angle = check_positive_float(fail_angle, "fail_angle")
        if not isinstance(start_angle, (int, float)) or isinstance(start_angle, bool):
            raise TypeError(f"start_angle must be a number of degrees, got {start_angle!r}")
        self.start_angle = float(start_angle)
        self.start_noise = check_positive_float(start_noise, "start_noise", allow_zero=True)
        self.reward = reward
        self.max_steps = check_positive_int(max_steps, "max_steps")
        self.scaled = check_bool(scaled, "scaled")
        self.params = dyn.pack(poles)
        d = 2 + 2 * poles
        self.state_size = d
        self.observed = np.arange(d) if self.velocities else np.arange(0, d, 2)
        self.observation_size = len(self.observed)
        self.action_kind = action
        self.n_actions = 2 if action == "discrete" else 1
        if action == "box":
            self.action_low, self.action_high = np.array([-1.0]), np.array([1.0])
        self.name = f"{'double' if poles == 2 else 'single'}-pole{'' if velocities else '-novel'}"
        self.state = np.zeros((0, d))
        self._limit = self.fail_angle * np.pi / 180
        scale = np.full(d, 2.0)
        scale[0] = 2.4
        scale[2::2] = self._limit
        self._scale = scale[self.observed] if self.scaled else np.ones(len(self.observed))

    def _observe(self) -> np.ndarray:
        return self.state[:, self.observed] / self._scale

    @staticmethod
    def generalization_starts(poles: int = 2) -> np.ndarray:
        """The 625 starts of the generalisation test ``(625, 2 + 2 poles)``, ``x`` changing slowest."""
        k = np.asarray(GENERALIZATION_FRACTIONS)
        grids = np.meshgrid(*[k * 2 * r - r for r in GENERALIZATION_RANGES], indexing="ij")
        S = np.zeros((k.size**4, 2 + 2 * poles))
        S[:, :4] = np.stack([g.ravel() for g in grids], axis=1)
        return S

    def __repr__(self) -> str:
        return (f"CartPole(poles={self.poles}, velocities={self.velocities}, action={self.action!r}, "
                f"reward={self.reward!r})")

    def starts(self, seeds: np.ndarray) -> np.ndarray:
        """The start states ``(M, state_size)`` the seeds draw."""
        S = np.zeros((len(seeds), self.state_size))
        S[:, 2] = self.start_angle * np.pi / 180
        if self.start_noise:
            for i, seed in enumerate(np.asarray(seeds, dtype=np.int64)):
                S[i] += np.random.default_rng(int(seed)).uniform(-self.start_noise, self.start_noise, self.state_size)
        return S

    def reset(self, seeds=None, states=None) -> np.ndarray:
        """Start episodes from ``seeds`` ``(M,)``, or from given ``states`` ``(M, state_size)``
        (the generalisation test's grid of starts)."""
        if states is not None:
            S = np.array(states, dtype=np.float64)
            if S.ndim != 2 or S.shape[1] != self.state_size:
                raise ValueError(f"states must have shape (M, {self.state_size}), got {S.shape}")
        else:
            S = self.starts(np.asarray(seeds))
        self.state = np.ascontiguousarray(S)
        M = len(S)
        self._t = np.zeros(M, dtype=np.int64)
        if self.reward == "damping":
            self._window = np.zeros((M, 100))
        return self._observe()

    def step(self, actions, active):
        active = np.ascontiguousarray(active, dtype=np.bool_)
        actions = np.asarray(actions)
        if self.action == "discrete":
            force = np.where(actions.reshape(-1) == 1, dyn.FORCE, -dyn.FORCE)
        else:
            force = dyn.FORCE * np.clip(actions.reshape(len(active), -1)[:, 0], -1.0, 1.0)
            force = np.where(np.abs(force) < MIN_FORCE, np.where(force < 0, -MIN_FORCE, MIN_FORCE), force)
        dyn.rk4_numba(self.state, np.ascontiguousarray(force, dtype=np.float64), active, self.params,
                      dyn.TAU, dyn.SUBSTEPS)
        S = self.state
        failed = np.abs(S[:, 0]) > 2.4
        for i in range(self.poles):
            failed |= np.abs(S[:, 2 + 2 * i]) > self._limit
        failed &= active
        if self.reward == "steps":
            reward = active.astype(np.float64)
        else:
            reward = np.where(active, 1e-4, 0.0)
            k = self._t % 100
            rows = np.flatnonzero(active)
            self._window[rows, k[rows]] = np.abs(S[rows, :4]).sum(axis=1)
        self._t += active
        return self._observe(), reward, failed

    def episode_end(self, steps):
        if self.reward != "damping":
            return np.zeros(len(steps))
        steps = np.asarray(steps)
        total = self._window.sum(axis=1)
        with np.errstate(divide="ignore"):
            f2 = np.where((steps >= 100) & (total > 0), 0.75 / np.where(total > 0, total, 1.0), 0.0)
        return 0.9 * f2


class GymCartPole(VecEnv):
    """gymnasium's ``CartPole-v1``, vectorised in Numba: the same equations in the same order
    (Barto, Sutton & Anderson 1983, Euler steps of 0.02 s), the same starts for a seed
    (uniform in ±0.05, drawn as gymnasium draws them), reward 1 per step including the last,
    failure past 12° or ±2.4 m, a 500-step cap and float32 observations.
    ``tests/test_control_dynamics.py`` checks whole episodes against gymnasium's.

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.control import GymCartPole
    >>> env = GymCartPole()
    >>> env.reset(np.array([0, 1])).shape, env.max_steps
    ((2, 4), 500)
    """

    observation_size, action_kind, n_actions, max_steps, name = 4, "discrete", 2, 500, "gym-cartpole"

    def __repr__(self) -> str:
        return "GymCartPole()"

    def reset(self, seeds) -> np.ndarray:
        seeds = np.asarray(seeds, dtype=np.int64)
        self.state = np.stack([np.random.default_rng(int(s)).uniform(-0.05, 0.05, size=4) for s in seeds])
        self._done = np.zeros(len(seeds), dtype=np.bool_)
        return self.state.astype(np.float32).astype(np.float64)

    def step(self, actions, active):
        from evoneuro.control._kernels import euler_cartpole_rows

        active = np.ascontiguousarray(active, dtype=np.bool_)
        euler_cartpole_rows(self.state, np.ascontiguousarray(actions, dtype=np.int64), active, self._done)
        return self.state.astype(np.float32).astype(np.float64), active.astype(np.float64), self._done.copy()


def _gymnasium():
    try:
        import gymnasium
    except ImportError:
        raise ImportError("a gymnasium environment needs gymnasium: pip install gymnasium") from None
    return gymnasium


class GymEnv(VecEnv):
    """A gymnasium environment through its vector API, ``M`` copies stepped per call.

    Observations must be a 1-D ``Box``; actions a ``Discrete`` or a 1-D ``Box`` space (any
    other space is a ``TypeError`` naming it). An observation with NaN is a ``ValueError``
    that names the environment and the step. The vector environment is built on the first
    reset for that many episodes (and rebuilt when the number changes); it is not pickled.

    Parameters
    ----------
    env_id : str or callable
        A registered id (``"CartPole-v1"``) or a function returning a new ``gymnasium.Env``.
    vectorization : {"sync", "async"}, default="sync"
        ``SyncVectorEnv`` (one process; the fastest for cheap simulators) or
        ``AsyncVectorEnv`` (one worker process per copy: for simulators whose step costs
        more than a process switch).
    **make_kwargs
        Passed to ``gymnasium.make`` with an id.

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.control import GymEnv
    >>> env = GymEnv("CartPole-v1")
    >>> env.reset(np.array([0, 0, 1])).shape, env.action_kind, env.max_steps
    ((3, 4), 'discrete', 500)
    >>> env.close()
    """

    def __init__(self, env_id, vectorization: str = "sync", **make_kwargs) -> None:
        if not (isinstance(env_id, str) or callable(env_id)):
            raise TypeError(f"env must be a gymnasium id (str), a callable making an env, or a VecEnv; got {env_id!r}")
        if vectorization not in ("sync", "async"):
            raise ValueError(f"vectorization must be 'sync' or 'async', got {vectorization!r}")
        self.env_id, self.vectorization, self.make_kwargs = env_id, vectorization, make_kwargs
        self.name = env_id if isinstance(env_id, str) else getattr(env_id, "__name__", "env")
        probe = self._make()
        try:
            self._read_spaces(probe)
        finally:
            probe.close()
        self._vec, self._vecs = None, {}
        self._t = 0

    def _make(self):
        gym = _gymnasium()
        if not isinstance(self.env_id, str):
            return self.env_id()
        try:
            return gym.make(self.env_id, **self.make_kwargs)
        except gym.error.Error as exc:
            raise ValueError(f"env {self.env_id!r} is neither a built-in cart-pole nor a gymnasium environment: "
                             f"{exc}") from None

    def _read_spaces(self, env) -> None:
        spaces = _gymnasium().spaces
        obs, act = env.observation_space, env.action_space
        if not isinstance(obs, spaces.Box) or len(obs.shape) != 1:
            raise TypeError(f"{self.name}: observation space {obs} is not supported; a control problem needs "
                            "a 1-D Box (flatten it with gymnasium.wrappers.FlattenObservation)")
        self.observation_size = int(obs.shape[0])
        if isinstance(act, spaces.Discrete):
            self.action_kind, self.n_actions = "discrete", int(act.n)
            self._action_start = int(act.start)
        elif isinstance(act, spaces.Box) and len(act.shape) == 1:
            if not (np.isfinite(act.low).all() and np.isfinite(act.high).all()):
                raise TypeError(f"{self.name}: action space {act} is unbounded; a policy's squashed output "
                                "needs finite low and high")
            self.action_kind, self.n_actions = "box", int(act.shape[0])
            self.action_low = np.asarray(act.low, dtype=np.float64)
            self.action_high = np.asarray(act.high, dtype=np.float64)
        else:
            raise TypeError(f"{self.name}: action space {act} is not supported; a control problem takes "
                            "Discrete or a 1-D Box")
        spec = getattr(env, "spec", None)
        limit = getattr(spec, "max_episode_steps", None) if spec is not None else None
        self.max_steps = int(limit) if limit else 1000

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_vec"], state["_vecs"] = None, {}  # worker processes and simulators do not pickle; rebuilt on reset
        return state

    def _vector(self, M: int):
        # One vector env per number of episodes, kept: a run alternates between the
        # population's P x E and a test's episodes, and building M simulators costs more
        # than a short episode.
        vecs = self.__dict__.setdefault("_vecs", {})
        if M not in vecs:
            gym = _gymnasium()
            fns = [self._make for _ in range(M)]
            cls = gym.vector.SyncVectorEnv if self.vectorization == "sync" else gym.vector.AsyncVectorEnv
            vecs[M] = cls(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
        self._vec = vecs[M]
        return self._vec

    def _check(self, obs) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float64)
        if not np.isfinite(obs).all():
            rows = np.flatnonzero(~np.isfinite(obs).all(axis=1))
            raise ValueError(f"{self.name} returned NaN or infinite observations at step {self._t} "
                             f"(episodes {rows[:10].tolist()}); a control problem needs finite observations")
        return obs

    def reset(self, seeds) -> np.ndarray:
        seeds = [int(s) for s in np.asarray(seeds, dtype=np.int64) % (2**32)]
        self._t = 0
        obs, _ = self._vector(len(seeds)).reset(seed=seeds)
        return self._check(obs)

    def step(self, actions, active):
        vec = self._vec
        if self.action_kind == "discrete":
            actions = np.asarray(actions, dtype=np.int64) + self._action_start
        obs, reward, terminated, truncated, info = vec.step(actions)
        self._t += 1
        if "final_obs" in info:  # SAME_STEP autoreset: a finished copy restarted; its last observation
            done = info.get("_final_obs", np.zeros(len(active), dtype=bool))
            obs = np.array(obs, dtype=np.float64)
            for i in np.flatnonzero(done):
                obs[i] = info["final_obs"][i]
        active = np.asarray(active, dtype=bool)
        obs = self._check(np.where(active[:, None], obs, 0.0))
        reward = np.where(active, np.asarray(reward, dtype=np.float64), 0.0)
        return obs, reward, (np.asarray(terminated) | np.asarray(truncated)) & active

    def close(self) -> None:
        for vec in self.__dict__.get("_vecs", {}).values():
            vec.close()
        self._vecs, self._vec = {}, None
