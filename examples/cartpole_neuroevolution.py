"""Solve gymnasium's CartPole-v1 (the maximum return, 500) by neuroevolution.

A 4-[8]-2 tanh policy network (58 weights) chooses the action with the larger of its two
outputs. A candidate's fitness is its mean return over a few episodes with fixed seeds, so
the fitness is deterministic; CMA-ES (or OpenAI-ES) maximises it until every episode
lasts the full 500 steps, and the policy is then tested on fresh episodes. No gradient is
used anywhere: the return is not differentiable in the weights.

Needs gymnasium (``pip install gymnasium``).

Run::

    python examples/cartpole_neuroevolution.py                   # CMA-ES, serial
    python examples/cartpole_neuroevolution.py --optimizer es
    python examples/cartpole_neuroevolution.py --workers 4       # members on 4 processes
    python examples/cartpole_neuroevolution.py --quick           # a few seconds' smoke run
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import evoneuro as en

MAX_RETURN = 500.0
OPTIMIZERS = {
    "cmaes": {"sigma0": 0.5},
    "es": {"popsize": 32, "sigma": 0.2, "learning_rate": 0.1},
}
_ENV = None


def _gymnasium():
    try:
        import gymnasium
    except ImportError:
        raise ImportError("this example needs gymnasium: pip install gymnasium") from None
    return gymnasium


def _env():
    # one environment per process, reused across evaluations (creating one costs more
    # than a short episode)
    global _ENV
    if _ENV is None:
        _ENV = _gymnasium().make("CartPole-v1")
    return _ENV


def episode_return(policy, seed: int) -> float:
    """Return of one episode; the action is the argmax of the policy's outputs."""
    env = _env()
    obs, _ = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(int(np.argmax(policy(obs))))
        total += reward
        done = terminated or truncated
    return total


def mean_return(policy, seeds) -> float:
    """The fitness: mean return over the episodes started with ``seeds``."""
    return float(np.mean([episode_return(policy, s) for s in seeds]))


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="cmaes")
    parser.add_argument("--episodes", type=int, default=3, help="episodes per evaluation")
    parser.add_argument("--max-steps", type=int, default=100, help="generations at most")
    parser.add_argument("--workers", type=int, default=0, help="evaluate members on this many processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="3 generations, 1 episode each: a smoke test")
    args = parser.parse_args(argv)
    _gymnasium()  # fail early, with the message, if it is missing
    episodes, steps = (1, 3) if args.quick else (args.episodes, args.max_steps)

    net = en.MLP(4, (8,), 2, activation="tanh", output="linear")
    seeds = list(range(args.seed * 1000, args.seed * 1000 + episodes))
    executor = ProcessPoolExecutor(args.workers) if args.workers else None
    fitness = en.NetworkFitness(net, mean_return, args=(seeds,), maximize=True, executor=executor)
    print(f"CartPole-v1, policy {net}, {net.n_params} weights, {args.optimizer}, "
          f"{episodes} episode(s) per evaluation" + (f", {args.workers} workers" if executor else ""))
    t0 = time.perf_counter()
    try:
        res = en.minimize(fitness, optimizer=args.optimizer, optimizer_params=OPTIMIZERS[args.optimizer],
                          max_steps=steps, target=MAX_RETURN, random_state=args.seed)
    finally:
        if executor is not None:
            executor.shutdown()
    seconds = time.perf_counter() - t0
    records = res.history.records
    for r in records[:-1:max(1, len(records) // 10)] + records[-1:]:
        print(f"  generation {r['step']:3d}  evaluations {r['evals']:5d}  best mean return {r['best_loss']:6.1f}")
    policy = fitness.network(res.x)
    test = [episode_return(policy, 10_000 + i) for i in range(10)]
    print(f"best mean return {res.fun:.1f} after {res.n_steps} generations, {res.n_evals} evaluations, "
          f"{seconds:.1f} s ({res.stop_reason}); on 10 unseen episodes: mean {np.mean(test):.1f}, "
          f"min {np.min(test):.0f}")
    return res.fun


if __name__ == "__main__":
    main()
