"""Random weight guessing on the long-time-lag tasks: published vs measured trials to solution.

Schmidhuber & Hochreiter (1996) guess every free weight uniformly in [-100, 100] until a
net classifies all 100 training sequences (lengths 500-600). Each run here draws a fresh
task and a fresh guessing seed; trials are evaluated as populations through one
Evaluator. Prints mean +- std of the trials over the runs, the runs left unsolved within
the cap, seconds, and the load average (the machine may be shared).

    python benchmarks/guessing.py            # 40 runs per row (parity rows: minutes each)
    python benchmarks/guessing.py --quick    # parity rows 4 runs (noisy row 2) with lower caps

Parity uses the paper's architectures (evoneuro.tasks.parity), every unit a sigmoid and
the output unit reading the hidden units' current values (RNN(update="sequential"),
readout pinned to the output unit): A1, one biased hidden unit and an unbiased output
unit, fully connected and both recurrent, 7 free weights; A2, 10 hidden units that each
see the input, the output unit and themselves, the output unit seeing all, all biased,
53 free weights (43 without the hidden self-connections). A row misses its target when
its mean exceeds twice the published trials; the last column says so.
Runs left unsolved count at the cap, so their row's mean is a lower bound (">=").
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from evoneuro.tasks import adding, guess, latch, parity
from lag_sweep import code_version  # benchmarks/ is on sys.path when this runs as a script


def rows(quick: bool, runs: int, noise_runs: int):
    """(name, published trials, target or None, task maker, runs, cap, dtype) per row."""
    p_runs, p_cap = (4, 60_000) if quick else (runs, 300_000)
    yield "latch I", 6, 12, lambda s: latch(1, random_state=s), runs, 10_000, "float64"
    yield "latch II", 22, 44, lambda s: latch(2, random_state=s), runs, 10_000, "float64"
    yield "parity A1 (n = 1)", 2906, 6000, lambda s: parity(random_state=s), p_runs, p_cap, "float32"
    yield "parity A2 (n = 10)", 2797, 5594, lambda s: parity(architecture="A2", random_state=s), p_runs, p_cap, \
        "float32"
    yield ("parity A2, no hidden self-connections", 250, 500,
           lambda s: parity(architecture="A2", self_connections=False, random_state=s), p_runs, p_cap // 2, "float32")
    yield ("parity A1, noise U(-0.2, 0.2)", 41400, None, lambda s: parity(input_noise=0.2, random_state=s),
           2 if quick else noise_runs, p_cap, "float32")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="parity rows: 4 runs (noisy row 2), lower caps")
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--noise-runs", type=int, default=40, help="runs of the noisy parity row")
    args = ap.parse_args()
    load0, t_start = os.getloadavg(), time.perf_counter()
    print(f"evoneuro {code_version()}")
    print(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}  (cpus: {os.cpu_count()})")
    print(f"{'task':31s} {'published':>9s} {'target':>7s} {'measured mean +- std':>21s} {'runs':>4s} "
          f"{'unsolved':>8s} {'test ok':>7s} {'seconds':>8s}  target met")
    for name, published, target, make, n, cap, dtype in rows(args.quick, args.runs, args.noise_runs):
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
        met = "-" if target is None else ("yes" if counted.mean() <= target else "NO, missed")
        print(f"{name:31s} {published:9d} {'-' if target is None else '<=' + str(target):>7s} {mean:>21s} "
              f"{n:4d} {unsolved:8d} {test_ok:7d} {time.perf_counter() - t0:8.1f}  {met}", flush=True)
    le, hoch = adding(100, 20_000, 10, version="le", random_state=0), adding(100, 20_000, 10, random_state=0)
    print(f"adding T=100, baselines over 20,000 sequences: [0,1] version (Le et al.) predicting 1: "
          f"MSE {((le.y_train - 1) ** 2).mean():.4f} (Le et al. print 0.1767; expectation 1/6); "
          f"Hochreiter version predicting 0.5: MSE {((hoch.y_train - 0.5) ** 2).mean():.4f}")
    load1 = os.getloadavg()
    print(f"load average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; "
          f"wall time {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
