"""Digits in 60 seconds: test accuracy of gradient-free optimizers on a deep sigmoid net.

The setting of the peer comparison: scikit-learn's digits,
``train_test_split(test_size=0.25, random_state=0, stratify=y)``, ``X / 16``, an MLP
64-[32 x 10]-10 with sigmoid hidden units and softmax output (11,914 weights), Glorot
minibatches of 256 shared by the population, a wall-clock budget per optimizer.
The start ``x0`` is Glorot's uniform init with gain 4, Glorot & Bengio's advice for
sigmoid units: with gain 1 the last hidden layer of this 10-layer sigmoid net varies by
~5e-7 across inputs (the output ignores the input), with gain 4 by ~1e-2, and every ES
learns several times faster from there.
Reference figures from peers in the same setting (60 s, 2 cores): EvoTorch SNES 90%,
evosax SNES 87-90%, evosax OpenAI-ES 85-89%, evosax sep-CMA-ES 86-88%.

Usage::

    python benchmarks/digits_60s.py                                  # es, snes, sep-cmaes
    python benchmarks/digits_60s.py --optimizers snes --seconds 30 --set snes.popsize=64
"""

from __future__ import annotations

import argparse
import ast
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import evoneuro as en
from evoneuro.optimizers import get_optimizer


def parse_sets(items: list[str]) -> dict[str, dict]:
    """``["snes.popsize=64", "es.sigma=0.02"]`` -> ``{"snes": {"popsize": 64}, ...}``."""
    out: dict[str, dict] = {}
    for item in items:
        key, value = item.split("=", 1)
        name, param = key.rsplit(".", 1)
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed = value
        out.setdefault(name, {})[param] = parsed
    return out


def run(name: str, params: dict, seconds: float, seed: int, backend: str, data,
        max_steps: int | None = None, init: str = "glorot:4") -> dict:
    X_train, X_test, y_train, y_test = data
    net = en.MLP(64, (32,) * 10, 10, activation="sigmoid", output="softmax")
    ev = en.Evaluator(net, backend=backend, dtype="float32")
    prob = en.SupervisedProblem(ev, X_train, y_train, batch_size=256)
    rng = np.random.default_rng(seed)
    scheme, _, gain = init.partition(":")
    opt = get_optimizer(name, **params).initialize(net.init(rng, scheme, gain=float(gain or 1)), rng)
    ev.loss(opt.ask()[:1], X_train[:8], y_train[:8])  # compile / warm up outside the budget
    steps, t0 = 0, time.perf_counter()
    while (steps < max_steps) if max_steps else (time.perf_counter() - t0 < seconds):
        prob.begin_step(rng)
        opt.step(prob)
        steps += 1
    elapsed = time.perf_counter() - t0

    def accuracy(X, y):
        return float(np.mean(ev.predict(opt.x, X).argmax(axis=1) == y))

    return {"optimizer": name, "steps": steps, "evals": opt.n_told, "seconds": elapsed,
            "train_acc": accuracy(X_train, y_train), "test_acc": accuracy(X_test, y_test),
            "train_loss": float(ev.loss(opt.x, X_train, y_train)[0]), "backend": ev.backend}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizers", default="es,snes,sep-cmaes")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--steps", type=int, default=None,
                        help="run exactly this many steps instead of a time budget")
    parser.add_argument("--init", default="glorot:4", help="x0 scheme[:gain], e.g. glorot:4")
    parser.add_argument("--set", nargs="*", default=[], help="NAME.PARAM=VALUE overrides")
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    data = (X_train, X_test, y_train, y_test)
    overrides = parse_sets(args.set)
    print(f"{'optimizer':<10} {'seed':>4} {'steps':>6} {'members':>7} {'train loss':>10} "
          f"{'train acc':>9} {'test acc':>8}  params")
    for name in args.optimizers.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            r = run(name, overrides.get(name, {}), args.seconds, seed, args.backend, data, args.steps, args.init)
            print(f"{name:<10} {seed:>4} {r['steps']:>6} {r['evals']:>7} {r['train_loss']:>10.4f} "
                  f"{r['train_acc']:>9.3f} {r['test_acc']:>8.3f}  {overrides.get(name, {})} "
                  f"[{r['backend']}, {r['seconds']:.0f} s]", flush=True)


if __name__ == "__main__":
    main()
