"""The adding problem at T = 100: LSTM + a gradient optimizer and gradient-free LSTMs.

The task is :func:`evoneuro.tasks.adding` with ``version="le"`` (Le, Jaitly & Hinton
2015): sequences of exactly 100 pairs (value uniform in [0, 1], marker), one marked pair in
each half, target the sum of the two marked values. Always answering the mean scores mean
squared error 1/6 (Le et al. print 0.1767); solved means test MSE below 0.01 for the
gradient run and below 0.05 for the gradient-free ones (the issue's two bars). Each seed draws
its own data; the test set is 1,000 fresh sequences the run never sees.

Methods (one core, ``n_jobs=1``, the library's data-dependent start, no weight decay):

- ``adam``: LSTM of 16 units, Adam with learning rate 0.01 on minibatches of 64 from
  10,000 training sequences, 6,000 steps (BPTT; about 38 passes over the data).
- ``cmaes``: full CMA-ES (pycma) on an LSTM of 2 units (43 weights) with spread 0.5 and
  pycma's default population (12), told the training MSE on 256 fixed sequences; budget
  5e8 evaluations (sample time steps), i.e. about 19,500 nets.
- ``readout``: Evolino-style hybrid (evolved recurrent weights, each member's linear output
  solved by ridge regression) on an LSTM of 4 units, same data and budget as ``cmaes``.

Evaluations count sample time steps, as the problem counts them (a gradient step costs
three per step: forward and backward), so budgets do not depend on the machine's load; the
seconds do. Prints one line per run, a summary per method and the load average::

    python benchmarks/adding_t100.py              # 5 seeds per method, about 10 minutes on one core
    python benchmarks/adding_t100.py --quick      # smoke run: 1 seed, budgets / 20
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: one core

import argparse  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import numpy as np  # noqa: E402

import evoneuro as en  # noqa: E402
from evoneuro.training.defaults import new_optimizer  # noqa: E402
from evoneuro.training.starts import resolve_init
from evoneuro.tasks import adding  # noqa: E402

T = 100


@dataclass(frozen=True)
class Method:
    """An LSTM of ``hidden`` units trained by ``optimizer`` on ``n_train`` sequences."""

    optimizer: str
    hidden: int
    n_train: int
    batch_size: int | None
    params: dict = field(default_factory=dict)
    max_steps: int | None = None
    max_evals: int | None = None
    bar: float = 0.05


METHODS = (
    Method("adam", 16, 10_000, 64, {"learning_rate": 0.01}, max_steps=6_000, bar=0.01),
    Method("cmaes", 2, 256, None, {"sigma0": 0.5}, max_evals=500_000_000),
    Method("readout", 4, 256, None, {}, max_evals=500_000_000),
)


def run(m: Method, seed: int, scale: float) -> dict:
    """Train one seed; return test MSE, evaluations, nets or steps and seconds."""
    task = adding(T, n_train=m.n_train, n_test=1_000, version="le", hidden=m.hidden, random_state=seed)
    X, y, lengths = task.net_data("train")
    ev = en.Evaluator(task.net, n_jobs=1)
    problem = en.SupervisedProblem(ev, X, y, batch_size=m.batch_size, lengths=lengths)
    rng = np.random.default_rng(seed)
    x0 = resolve_init(task.net, "auto", rng, X)
    opt = new_optimizer(m.optimizer, task.net, x0, dict(m.params))
    steps = None if m.max_steps is None else max(1, int(m.max_steps * scale))
    evals = None if m.max_evals is None else max(1, int(m.max_evals * scale))
    res = en.Trainer(problem, opt, x0=x0, max_steps=steps, max_evals=evals, random_state=seed, n_jobs=1).run()
    Xt, yt, lt = task.net_data("test")
    mse = float(np.mean((ev.forward(res.x, Xt, lengths=lt)[0] - yt) ** 2))
    return {"seed": seed, "test_mse": mse, "evals": float(res.n_evals), "steps": int(res.n_steps),
            "nets": float(res.n_evals) / (T * len(X)), "seconds": float(res.seconds)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="1 seed, budgets / 20 (a smoke run; solves nothing)")
    args = ap.parse_args()
    seeds, scale = (1, 0.05) if args.quick else (args.seeds, 1.0)
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    summary = []
    for m in METHODS:
        rows = []
        for seed in range(seeds):
            r = run(m, seed, scale)
            rows.append(r)
            print(f"{m.optimizer:8s} LSTM {m.hidden:2d}  seed {seed}: test MSE {r['test_mse']:.5f}  "
                  f"{r['evals']:.3g} evaluations, {r['steps']} steps, {r['seconds']:.1f} s", flush=True)
        mse = np.array([r["test_mse"] for r in rows])
        summary.append((m, mse, np.median([r["evals"] for r in rows]), np.median([r["nets"] for r in rows]),
                        np.median([r["steps"] for r in rows]), np.median([r["seconds"] for r in rows])))
    print("\n| method | LSTM units | solved (test MSE < bar) | median test MSE | worst | evaluations "
          "| nets or steps | seconds (median) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for m, mse, ev, nets, steps, sec in summary:
        what = f"{steps:,.0f} steps" if m.max_steps else f"{nets:,.0f} nets"
        print(f"| {m.optimizer} | {m.hidden} | {int((mse < m.bar).sum())}/{len(mse)} (< {m.bar}) | "
              f"{np.median(mse):.5f} | {mse.max():.5f} | {ev:.3g} | {what} | {sec:.1f} |")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
