"""Random weight guessing on the long-time-lag tasks: published vs measured trials to solution.

Schmidhuber & Hochreiter (1996) guess every free weight uniformly in [-100, 100] until a
net classifies all 100 training sequences (lengths 500-600). Each run here draws a fresh
task and a fresh guessing seed; trials are evaluated as populations through one
Evaluator. Prints mean +- std of the trials over the runs, the runs left unsolved within
the cap, seconds, and the load average (the machine may be shared).

    python benchmarks/guessing.py            # latch rows 40 runs; parity 40 runs (long, see --quick)
    python benchmarks/guessing.py --quick    # parity rows 4 runs with a lower cap (~3 min)

The parity rows do not use the paper's architecture A1 (hidden and *output* unit
recurrent, the output reading the hidden unit's current value), which evoneuro.RNN cannot
express; they use the smallest Elman net that can hold parity (2 sigmoid units, a
sigmoid readout), so they measure a different, harder search (see evoneuro.tasks.parity).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from evoneuro.tasks import adding, guess, latch, parity


def rows(quick: bool, runs: int):
    p_runs, p_cap = (4, 60_000) if quick else (runs, 300_000)
    yield "latch I", 6, 12, lambda s: latch(1, random_state=s), runs, 10_000, "float64"
    yield "latch II", 22, 44, lambda s: latch(2, random_state=s), runs, 10_000, "float64"
    yield ("parity (Elman 2 units; paper A1 n=1)", 2906, 6000, lambda s: parity(hidden=2, random_state=s),
           p_runs, p_cap, "float32")
    yield ("parity, no self-conn. (Elman 2; paper A2)", 250, 500,
           lambda s: parity(hidden=2, self_connections=False, random_state=s), p_runs, p_cap // 2, "float32")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="parity rows: 4 runs, lower cap")
    ap.add_argument("--runs", type=int, default=40)
    args = ap.parse_args()
    load0 = os.getloadavg()
    print(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}  (cpus: {os.cpu_count()})")
    print(f"{'task':44s} {'published':>9s} {'target':>7s} {'measured mean +- std':>22s} {'runs':>5s} "
          f"{'unsolved':>8s} {'test ok':>7s} {'seconds':>8s}")
    for name, published, target, make, n, cap, dtype in rows(args.quick, args.runs):
        t0, trials, unsolved, test_ok = time.perf_counter(), [], 0, 0
        for run in range(n):
            task = make(run)
            res = guess(task, max_trials=cap, random_state=1000 + run, evaluator=task.evaluator(dtype))
            if res.trials is None:
                unsolved += 1
            else:
                trials.append(res.trials)
                test_ok += bool(res.solved_test)
        # unsolved runs count at the cap: the mean is then a lower bound (marked ">=")
        counted = np.array(trials + [cap] * unsolved, dtype=float)
        mean = f"{'>=' if unsolved else ''}{counted.mean():.0f} +- {counted.std():.0f}"
        print(f"{name:44s} {published:9d} {'<=' + str(target):>7s} {mean:>22s} {n:5d} {unsolved:8d} "
              f"{test_ok:7d} {time.perf_counter() - t0:8.1f}", flush=True)
    le, hoch = adding(100, 20_000, 10, version="le", random_state=0), adding(100, 20_000, 10, random_state=0)
    print(f"adding T=100, baselines over 20,000 sequences: [0,1] version (Le et al.) predicting 1: "
          f"MSE {((le.y_train - 1) ** 2).mean():.4f} (Le et al. print 0.1767; expectation 1/6); "
          f"Hochreiter version predicting 0.5: MSE {((hoch.y_train - 0.5) ** 2).mean():.4f}")
    load1 = os.getloadavg()
    print(f"load average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")


if __name__ == "__main__":
    main()
