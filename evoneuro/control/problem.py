"""A control problem: the episode return of a policy network, all members stepping in lockstep."""

from __future__ import annotations

import numpy as np

from evoneuro._validation import check_bool, check_positive_int
from evoneuro.control.envs import CartPole, GymCartPole, GymEnv, VecEnv
from evoneuro.control.policy import population_step
from evoneuro.network.base import Network
from evoneuro.problems import Problem

#: The built-in environments by name: the cart-pole family of the neuroevolution papers.
BUILTIN = {
    "single-pole": dict(poles=1, velocities=True, fail_angle=12.0),
    "single-pole-novel": dict(poles=1, velocities=False, fail_angle=12.0),
    "double-pole": dict(poles=2, velocities=True),
    "double-pole-novel": dict(poles=2, velocities=False),
}

#: Observations are clipped to this many standard deviations after normalisation (Salimans et al. 2017).
OBS_CLIP = 5.0


def make_env(env, **options) -> VecEnv:
    """``env`` as a :class:`VecEnv`: a built-in name (:data:`BUILTIN`, or ``"gym-cartpole"`` for
    :class:`GymCartPole`, gymnasium's CartPole-v1 in Numba), a gymnasium id or
    maker, or a ``VecEnv`` as given. ``options`` go to :class:`CartPole` or ``gymnasium.make``.

    Examples
    --------
    >>> from evoneuro.control import make_env
    >>> make_env("double-pole-novel").observation_size
    3
    """
    if isinstance(env, VecEnv):
        if options:
            raise ValueError(f"env_options apply to an environment name, not to a {type(env).__name__}")
        return env
    if env == "gym-cartpole":
        if options:
            raise ValueError("gym-cartpole takes no env_options")
        return GymCartPole()
    if isinstance(env, str) and env in BUILTIN:
        return CartPole(**{**BUILTIN[env], **options})
    return GymEnv(env, **options)


class ControlProblem(Problem):
    """The mean episode return of a policy network, for a whole population at once.

    Every member runs ``episodes`` episodes; all ``P × E`` episodes step in lockstep, the
    policy's forward pass for the whole population is one call per time step on the
    ``(P, E, obs)`` observations (:mod:`evoneuro.control.policy`), and the environment steps
    all of them in one call. An episode that ends is masked (no more steps, no more reward)
    until every episode has ended or ``max_steps`` is reached. Every member meets the same
    starts in a generation (common random starts: one seed per generation, drawn in
    :meth:`begin_step`), so members are ranked on the same episodes.

    The loss is minus the mean return, and ``maximize`` is True, so :func:`evoneuro.minimize`
    reports returns. :attr:`evals` counts **episodes** (one per member and episode), the unit
    of the pole-balancing literature; :attr:`env_steps` counts environment steps.

    Parameters
    ----------
    env : str, callable or VecEnv
        A built-in cart-pole (``"single-pole"``, ``"single-pole-novel"``, ``"double-pole"``,
        ``"double-pole-novel"``: see :class:`CartPole`), a gymnasium id such as
        ``"CartPole-v1"`` or a function making a gymnasium env (see :class:`GymEnv`), or any
        :class:`VecEnv`.
    policy : MLP or RNN
        The network: ``n_inputs`` = the observation's size; ``n_outputs`` = the number of
        discrete actions, or the box's length. An RNN's state is carried from step to step
        and starts at zero in every episode.
    episodes : int, default=1
        Episodes per member and evaluation; the fitness is their mean return.
    max_steps : int or None, default=None
        Episode cap; None: the environment's (500 for ``CartPole-v1``, 1000 for the cart-poles).
    obs_norm : bool, default=True
        Standardise observations with running mean and variance of every observation seen
        so far, frozen within a generation and updated between generations (Salimans et
        al. 2017), clipped to ±5. The statistics are in :attr:`obs_mean` and
        :attr:`obs_std` and are saved with a policy (:func:`save_policy`).
    action : {"argmax", "sample"}, default="argmax"
        Discrete actions: the largest output, or a draw from the softmax of the outputs
        (seeded per generation). A box action is the output squashed into the box:
        ``low + (high - low) σ`` for ``output="sigmoid"``, ``(tanh + 1)/2`` for ``"linear"``.
    reward_offset : float, default=0.0
        Subtracted from every step's reward while an episode runs (EvoTorch's
        ``decrease_rewards_by``; a negative value is an alive bonus).
    env_options : dict or None, default=None
        Options for a named environment (:class:`CartPole`'s, or ``gymnasium.make``'s and
        ``vectorization`` for :class:`GymEnv`).

    Examples
    --------
    >>> import evoneuro as en
    >>> prob = en.ControlProblem("double-pole", en.MLP(6, (), 1, output="linear"), max_steps=200)
    >>> res = en.minimize(prob, optimizer="snes", max_evals=400, random_state=0)
    >>> res.fun > 10, prob.evals <= 400
    (True, True)
    """

    def __init__(self, env, policy: Network, episodes: int = 1, max_steps: int | None = None, *,
                 obs_norm: bool = True, action: str = "argmax", reward_offset: float = 0.0,
                 env_options: dict | None = None) -> None:
        super().__init__()
        if env_options is not None and not isinstance(env_options, dict):
            raise TypeError(f"env_options must be a dict or None, got {type(env_options).__name__}")
        self.env = make_env(env, **(env_options or {}))
        if not isinstance(policy, Network):
            raise TypeError(f"policy must be an evoneuro.MLP or evoneuro.RNN, got {type(policy).__name__}")
        population_step(policy, np.zeros((1, policy.n_params)))  # a kind without a step fails here
        self.net = policy
        env = self.env
        if policy.n_inputs != env.observation_size:
            raise ValueError(f"policy has n_inputs={policy.n_inputs} but {env.name} observes "
                             f"{env.observation_size} values")
        if policy.n_outputs != env.n_actions:
            what = "discrete actions" if env.action_kind == "discrete" else "action values"
            raise ValueError(f"policy has n_outputs={policy.n_outputs} but {env.name} has {env.n_actions} {what}")
        if env.action_kind == "box" and policy.output not in ("linear", "sigmoid"):
            raise ValueError(f"a box action needs a policy with output='linear' or 'sigmoid', got {policy.output!r}")
        if action not in ("argmax", "sample"):
            raise ValueError(f"action must be 'argmax' or 'sample', got {action!r}")
        self.n_params = policy.n_params
        self.episodes = check_positive_int(episodes, "episodes")
        self.max_steps = env.max_steps if max_steps is None else check_positive_int(max_steps, "max_steps")
        self.obs_norm = check_bool(obs_norm, "obs_norm")
        self.action = action
        if isinstance(reward_offset, bool) or not isinstance(reward_offset, (int, float, np.floating)):
            raise TypeError(f"reward_offset must be a number, got {reward_offset!r}")
        self.reward_offset = float(reward_offset)
        self.maximize = True
        self.layer_slices = [(s.w_start, s.end) for s in policy.layers]
        fixed_starts = isinstance(env, CartPole) and env.start_noise == 0
        self.deterministic = fixed_starts and not self.obs_norm and action == "argmax"
        d = env.observation_size
        self.obs_count = 0.0
        self._sum, self._sumsq = np.zeros(d), np.zeros(d)
        self.obs_mean, self.obs_std = np.zeros(d), np.ones(d)
        self._pending = (0.0, np.zeros(d), np.zeros(d))
        self.env_steps = 0
        self.generation_seed = 0
        #: The last evaluation's population, returns ``(P, E)`` and episode lengths ``(P, E)``.
        self.last_Theta = np.zeros((0, self.n_params))
        self.last_returns = np.zeros((0, self.episodes))
        self.last_steps = np.zeros((0, self.episodes), dtype=np.int64)

    def __repr__(self) -> str:
        return (f"ControlProblem({self.env.name!r}, {self.net!r}, episodes={self.episodes}, "
                f"max_steps={self.max_steps}, obs_norm={self.obs_norm})")

    # --- the generation's starts and statistics ---------------------------------------

    def begin_step(self, rng: np.random.Generator) -> None:
        """Draw the generation's start seed and freeze the observation statistics seen so far."""
        self.generation_seed = int(rng.integers(2**62))
        n, s, q = self._pending
        if n:
            self.obs_count += n
            self._sum += s
            self._sumsq += q
            self._pending = (0.0, np.zeros_like(s), np.zeros_like(q))
            self.obs_mean = self._sum / self.obs_count
            var = np.maximum(self._sumsq / self.obs_count - self.obs_mean**2, 0.0)
            self.obs_std = np.sqrt(var + 1e-8)

    def episode_seeds(self) -> np.ndarray:
        """The ``episodes`` start seeds of this generation (the same for every member)."""
        return np.random.default_rng(self.generation_seed).integers(2**31, size=self.episodes)

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        """Observations as the policy sees them (standardised and clipped when ``obs_norm``)."""
        if not self.obs_norm:
            return obs
        return np.clip((obs - self.obs_mean) / self.obs_std, -OBS_CLIP, OBS_CLIP)

    # --- evaluation ------------------------------------------------------------------

    def evaluate(self, Theta, need_grad: bool = False):
        if need_grad:
            raise ValueError("a control problem has no gradient (an episode's return is not differentiable "
                             "in the weights): choose a gradient-free optimizer such as 'snes' or 'cmaes'")
        Theta = np.ascontiguousarray(np.atleast_2d(self.net.check_theta(Theta, "Theta")), dtype=np.float64)
        returns, steps = self.rollout(Theta, np.tile(self.episode_seeds(), len(Theta)), record=True)
        self.evals += returns.size
        self.env_steps += int(steps.sum())
        self.last_returns, self.last_steps, self.last_Theta = returns, steps, Theta
        losses = -returns.mean(axis=1)
        return self._nonfinite_to_worst(losses), None

    def full_loss(self, x) -> float:
        """Minus the mean return of ``x`` on this generation's starts; not charged, not recorded."""
        Theta = np.atleast_2d(np.asarray(self.net.check_theta(x, "x"), dtype=np.float64))
        returns, _ = self.rollout(Theta[:1], self.episode_seeds(), record=False)
        return float(-returns.mean())

    def rollout(self, Theta: np.ndarray, seeds: np.ndarray, record: bool = False, max_steps: int | None = None,
                states=None, on_step=None) -> tuple[np.ndarray, np.ndarray]:
        """Run ``len(seeds) / P`` episodes per member in lockstep; returns ``(P, E)`` and steps ``(P, E)``.

        Row ``p * E + e`` is member ``p``'s episode ``e``. ``record`` adds the observations to
        the statistics of the next generation. ``states`` (built-in cart-poles): explicit
        start states instead of seeds. ``on_step(t, obs, actions, active)``, when given, sees
        every step (the replay's recorder).
        """
        env, P = self.env, len(Theta)
        M = len(seeds) if states is None else len(states)
        E = M // P
        cap = self.max_steps if max_steps is None else max_steps
        obs = env.reset(seeds) if states is None else env.reset(states=states)
        step = population_step(self.net, Theta)
        state = step.start(E)
        active = np.ones(M, dtype=bool)
        returns, steps = np.zeros(M), np.zeros(M, dtype=np.int64)
        rng = np.random.default_rng(self.generation_seed + 1) if self.action == "sample" else None
        n_seen, s_seen, q_seen = 0.0, 0.0, 0.0
        d = env.observation_size
        for t in range(cap):
            if record and self.obs_norm:
                seen = obs[active]
                n_seen += len(seen)
                s_seen = s_seen + seen.sum(axis=0)
                q_seen = q_seen + (seen * seen).sum(axis=0)
            logits, state = step(self.normalize(obs).reshape(P, E, d), state)
            actions = self._actions(logits.reshape(M, -1), rng)
            if on_step is not None:
                on_step(t, obs, actions, active)
            obs, reward, done = env.step(actions, active)
            returns += reward - self.reward_offset * active
            steps += active
            active &= ~done
            if not active.any():
                break
        returns += env.episode_end(steps)
        if record and n_seen:
            n, s, q = self._pending
            self._pending = (n + n_seen, s + s_seen, q + q_seen)
        return returns.reshape(P, E), steps.reshape(P, E)

    def _actions(self, z: np.ndarray, rng) -> np.ndarray:
        env = self.env
        if env.action_kind == "discrete":
            if rng is None:
                return np.argmax(z, axis=1)
            p = np.exp(z - z.max(axis=1, keepdims=True))
            cdf = np.cumsum(p, axis=1)
            u = rng.random(len(z)) * cdf[:, -1]
            return np.minimum((cdf < u[:, None]).sum(axis=1), z.shape[1] - 1)
        squashed = 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500))) if self.net.output == "sigmoid" else 0.5 * (np.tanh(z) + 1.0)
        return env.action_low + (env.action_high - env.action_low) * squashed
