"""Solve gymnasium's CartPole-v1 (mean return >= 475 on 100 unseen episodes) by neuroevolution.

A 4-[8]-2 tanh policy network (58 weights) chooses the action with the larger of its two
outputs. :class:`evoneuro.ControlProblem` runs every member's episodes in lockstep through
gymnasium's vector API — one policy call per time step for the whole population — with
observation normalisation and the same starts for every member of a generation. SNES (or
any gradient-free optimizer) maximises the mean return until a generation's best reaches
500; the best policy is then saved, reloaded and tested on 100 fresh episodes. No gradient
is used anywhere: the return is not differentiable in the weights.

Needs gymnasium (``pip install gymnasium``).

Run::

    python examples/cartpole_neuroevolution.py                   # SNES
    python examples/cartpole_neuroevolution.py --optimizer cmaes
    python examples/cartpole_neuroevolution.py --quick           # a few seconds' smoke run
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import evoneuro as en

MAX_RETURN = 500.0


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--optimizer", default="snes", help="a gradient-free registry name")
    parser.add_argument("--episodes", type=int, default=1, help="episodes per member and generation")
    parser.add_argument("--max-evals", type=int, default=5000, help="budget in episodes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="60 episodes of at most 100 steps: a smoke test")
    args = parser.parse_args(argv)
    try:
        import gymnasium  # noqa: F401
    except ImportError:
        raise SystemExit("this example needs gymnasium: pip install gymnasium") from None
    from evoneuro.training.defaults import control_params

    net = en.MLP(4, (8,), 2, activation="tanh", output="linear")
    prob = en.ControlProblem("CartPole-v1", net, episodes=args.episodes, max_steps=100 if args.quick else None)
    print(f"CartPole-v1, policy {net}, {net.n_params} weights, {args.optimizer}, "
          f"{args.episodes} episode(s) per member")
    t0 = time.perf_counter()
    res = en.minimize(prob, np.zeros(net.n_params), optimizer=args.optimizer,
                      optimizer_params=control_params(args.optimizer),
                      max_evals=60 if args.quick else args.max_evals, target=MAX_RETURN, random_state=args.seed)
    seconds = time.perf_counter() - t0
    records = res.history.records
    for r in records[:-1:max(1, len(records) // 10)] + records[-1:]:
        print(f"  generation {r['step']:3d}  episodes {r['evals']:5d}  best mean return {r['best_loss']:6.1f}")
    path = en.save_policy(Path(tempfile.mkdtemp()) / "cartpole.npz", prob, res.x)
    test = en.replay(path, episodes=10 if args.quick else 100, seed=10_000 + args.seed)
    print(f"best mean return {res.fun:.1f} after {res.n_steps} generations, {res.n_evals} episodes, "
          f"{seconds:.1f} s ({res.stop_reason}); on {len(test)} unseen episodes: mean {np.mean(test):.1f}, "
          f"min {np.min(test):.0f}; policy saved to {path}")
    return res.fun


if __name__ == "__main__":
    main()
