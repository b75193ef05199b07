"""Hybrid optimizers on digits: test accuracy of ``readout`` and ``memetic`` in a time budget.

A 10x32 sigmoid net (64-32x10-10, softmax) on scikit-learn's digits with evoneuro's
standard split (test_size 0.25, random_state 0, stratified, X/16), trained from an LSUV
start (``--init glorot`` for the library default) within a budget of seconds; one table
row per configuration, budget and seed.

``--clock wall`` (default) is ``Trainer(max_time=...)``. On a shared machine wall-clock
seconds measure the neighbours' load as much as the method; ``--clock cpu`` stops on this
process's CPU seconds instead (a callback), which with one BLAS thread
(``OPENBLAS_NUM_THREADS=1``) is what the run would take on a dedicated core.

Usage::

    python benchmarks/digits_hybrids.py --seconds 20 60 [--seeds 2] [--batch 256]
        [--clock cpu] [--only readout-sep-cmaes memetic]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import evoneuro as en
from evoneuro.bench.datasets import load_dataset
from evoneuro.training.lsuv import lsuv_init

CONFIGS = {
    "readout-sep-cmaes": ("readout", {"inner": "sep-cmaes"}),
    "readout-snes": ("readout", {"inner": "snes"}),
    "memetic": ("memetic", {}),  # Lamarckian, GA of 8, 10 iRprop- steps
    "memetic-baldwin": ("memetic", {"lamarckian": False}),
    "sep-cmaes": ("sep-cmaes", {}),
    "irprop-": ("irprop-", {}),
}


class CPUBudget(en.Callback):
    """Stop once this process has used ``seconds`` of CPU time since the run started."""

    stop_reason = "max_cpu_time"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_start(self, trainer) -> None:
        self.t0 = time.process_time()

    def on_step(self, trainer, record) -> bool:
        return time.process_time() - self.t0 >= self.seconds


def run(name: str, seconds: float, seed: int, args, data) -> dict:
    opt_name, params = CONFIGS[name]
    net = en.MLP(64, (32,) * 10, 10, activation="sigmoid")
    ev = en.Evaluator(net, backend=args.backend)
    batch = None if args.batch == 0 else args.batch
    prob = en.SupervisedProblem(ev, data.X_train, data.y_train, batch_size=batch)
    rng = np.random.default_rng(1000 + seed)
    x0 = lsuv_init(net, data.X_train[:256], rng) if args.init == "lsuv" else net.init(rng, scheme=args.init)
    budget = {"max_time": seconds} if args.clock == "wall" else {
        "max_steps": 10**9, "callbacks": [CPUBudget(seconds)]}
    t0, c0 = time.perf_counter(), time.process_time()
    res = en.Trainer(prob, en.get_optimizer(opt_name, **params), x0=x0, random_state=seed, **budget).run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0

    def accuracy(X, y) -> float:
        return float((ev.predict(res.x, X).argmax(axis=1) == y).mean())

    return {"name": name, "budget": seconds, "seed": seed, "test": accuracy(data.X_test, data.y_test),
            "train": accuracy(data.X_train, data.y_train), "fun": res.fun, "steps": res.n_steps,
            "evals": res.n_evals, "wall": wall, "cpu": cpu, "backend": ev.backend}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, nargs="+", default=[20.0, 60.0])
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--batch", type=int, default=256, help="minibatch rows; 0 means full batch")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--init", default="lsuv", help="'lsuv' or a net.init scheme")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--only", nargs="*", default=None, choices=list(CONFIGS))
    args = ap.parse_args()
    data = load_dataset("digits")
    print(f"{'method':18s} {'budget':>7s} {'seed':>4s} {'test acc':>8s} {'train':>6s} {'loss':>7s} "
          f"{'steps':>6s} {'evals':>10s} {'wall s':>7s} {'cpu s':>6s} backend")
    for seconds in args.seconds:
        for name in args.only or CONFIGS:
            for seed in range(args.seeds):
                r = run(name, seconds, seed, args, data)
                print(f"{r['name']:18s} {r['budget']:6.0f}s {r['seed']:4d} {r['test']:8.4f} {r['train']:6.3f} "
                      f"{r['fun']:7.4f} {r['steps']:6d} {r['evals']:10d} {r['wall']:7.1f} {r['cpu']:6.1f} "
                      f"{r['backend']}", flush=True)


if __name__ == "__main__":
    main()
