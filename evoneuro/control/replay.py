"""A trained policy saved, loaded and replayed; the return curve and a rollout figure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from evoneuro._plotting import finish, pyplot
from evoneuro.control.envs import CartPole
from evoneuro.control.problem import ControlProblem
from evoneuro.network.rnn import RNN
from evoneuro.network.spec import MLP


def _net_spec(net) -> dict:
    acts = [a.name for a in net.activations]
    spec = {"n_inputs": net.n_inputs, "hidden": list(net.hidden), "n_outputs": net.n_outputs,
            "activation": acts if len(set(acts)) > 1 else (acts[0] if acts else "tanh"), "output": net.output}
    if isinstance(net, RNN):
        spec["cell"] = net.cell
    return spec


def _net_from(spec: dict):
    spec = dict(spec)
    cls = RNN if "cell" in spec else MLP
    return cls(spec.pop("n_inputs"), tuple(spec.pop("hidden")), spec.pop("n_outputs"), **spec)


def save_policy(path, problem: ControlProblem, x) -> Path:
    """Save the policy ``x`` of ``problem`` — weights, network, environment and observation
    statistics — as one ``.npz`` file that :func:`load_policy` and :func:`replay` read.

    Examples
    --------
    >>> import tempfile, os
    >>> import evoneuro as en
    >>> prob = en.ControlProblem("double-pole", en.MLP(6, (), 1, output="linear"), max_steps=50)
    >>> res = en.minimize(prob, optimizer="snes", max_evals=40, random_state=0)
    >>> path = en.save_policy(os.path.join(tempfile.mkdtemp(), "best.npz"), prob, res.x)
    >>> returns = en.replay(path, episodes=2, max_steps=50)
    >>> returns.shape
    (2,)
    """
    if not isinstance(problem, ControlProblem):
        raise TypeError(f"problem must be an evoneuro.ControlProblem, got {type(problem).__name__}")
    x = np.asarray(problem.net.check_theta(x, "x"), dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be one weight vector of shape ({problem.n_params},), got {x.shape}")
    env = problem.env
    if isinstance(env, CartPole):
        env_spec = {"builtin": dict(poles=env.poles, velocities=env.velocities, action=env.action,
                                    fail_angle=env.fail_angle, start_angle=env.start_angle,
                                    start_noise=env.start_noise, reward=env.reward, max_steps=env.max_steps)}
    elif isinstance(getattr(env, "env_id", None), str):
        env_spec = {"gym": env.env_id, "options": env.make_kwargs}
    else:
        env_spec = {"name": env.name}  # replayed with an env given to load_policy
    meta = {"net": _net_spec(problem.net), "env": env_spec, "obs_norm": problem.obs_norm,
            "action": problem.action, "max_steps": problem.max_steps}
    path = Path(path)
    np.savez(path, x=x, obs_mean=problem.obs_mean, obs_std=problem.obs_std, meta=json.dumps(meta))
    return path


def load_policy(path, env=None) -> tuple[ControlProblem, np.ndarray]:
    """The control problem (environment, network, frozen observation statistics) and the
    weights saved by :func:`save_policy`. ``env`` replaces the saved environment (needed for
    one that was given as an object)."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        x, mean, std = data["x"], data["obs_mean"], data["obs_std"]
    saved = meta["env"]
    if env is None:
        if "builtin" in saved:
            env = CartPole(**saved["builtin"])
        elif "gym" in saved:
            env = saved["gym"]
        else:
            raise ValueError(f"{path} holds a policy for an environment given as an object ({saved['name']}); "
                             "pass env= to load it")
    options = saved.get("options") if isinstance(env, str) and "gym" in saved else None
    prob = ControlProblem(env, _net_from(meta["net"]), max_steps=meta["max_steps"], obs_norm=meta["obs_norm"],
                          action=meta["action"], env_options=options or None)
    prob.obs_mean, prob.obs_std = mean, std
    return prob, x


def replay(policy, episodes: int = 1, max_steps: int | None = None, seed: int = 0, env=None,
           record: bool = False):
    """Run a saved policy (a path from :func:`save_policy`, or ``(problem, x)``) for
    ``episodes`` episodes; returns their returns ``(episodes,)``, and with ``record=True``
    also the observations ``(steps, episodes, obs)`` and actions of every step."""
    problem, x = load_policy(policy, env) if isinstance(policy, (str, Path)) else policy
    if not isinstance(problem, ControlProblem):
        raise TypeError("policy must be a path saved by save_policy or a (ControlProblem, x) pair")
    seeds = np.random.default_rng(seed).integers(2**31, size=episodes)
    obs_log, act_log = [], []

    def keep(t, obs, actions, active):
        obs_log.append(obs.copy())
        act_log.append(np.array(actions, dtype=np.float64).reshape(len(obs), -1))

    returns, _ = problem.rollout(np.asarray(x, dtype=np.float64)[None], seeds, max_steps=max_steps,
                                 on_step=keep if record else None)
    if record:
        return returns[0], np.array(obs_log), np.array(act_log)
    return returns[0]


def plot_returns(result, path=None, title: str | None = None):
    """The return curve of a run: the population's mean return per generation and the best so far,
    against episodes spent (``result`` from :func:`evoneuro.minimize` on a control problem)."""
    plt = pyplot()
    rec = [r for r in result.history.records if "loss" in r]
    evals = [r["evals"] for r in rec]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(evals, [r["loss"] for r in rec], lw=1, alpha=0.7, label="generation's mean")
    ax.plot(evals, [r["best_loss"] for r in rec], lw=2, label="best so far")
    ax.set_xlabel("episodes")
    ax.set_ylabel("mean return")
    ax.set_title(title or f"{result.optimizer}")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return finish(fig, path)


def plot_rollout(observations, labels=None, path=None, title: str = "rollout", dt: float = 0.02):
    """The observed variables of one recorded episode against time (``replay(..., record=True)``)."""
    plt = pyplot()
    obs = np.asarray(observations)
    obs = obs[:, 0] if obs.ndim == 3 else obs
    fig, ax = plt.subplots(figsize=(6, 3.6))
    t = np.arange(len(obs)) * dt
    for j in range(obs.shape[1]):
        ax.plot(t, obs[:, j], lw=1.2, label=labels[j] if labels else f"obs {j}")
    ax.set_xlabel("seconds")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return finish(fig, path)
