"""The science table's pretraining rows: how far a *plain* deep sigmoid net goes, and what each start buys.

Every run: evoneuro's standard digits split (``load_dataset("digits")``: X / 16, 1347 training
and 450 test rows, ``train_test_split(test_size=0.25, random_state=0, stratify=y)``), a plain
MLP (dense layers, no LayerNorm, no residual paths), softmax output, float32, budgets in
sample-forward evaluations (independent of the machine's load), seeds 0, 1, 2. The test set
is scored once at the end; nothing is selected on it.

Studies
-------
``--study rows``: the two targets — 10x32 sigmoid >= 97.5 % and 20x16 sigmoid >= 95 % — with
the configurations named in ``ROWS`` (estimator arguments; everything not named is the
estimators' default).

``--study starts``: a table of starts (Glorot, LSUV, critical, the estimators' "auto" start,
autoencoder pretraining by Adam and by SNES (gradient-free), RBM pretraining) x fine-tuning by
Adam, iRprop+ and sep-CMA-ES, on 10x32 sigmoid. For each start it prints the per-layer
gradient norms of the first fine-tuning step (first layer / last layer, full training set)
and the cost of the pretraining.

Usage::

    python benchmarks/science_pretrain.py --study rows
    python benchmarks/science_pretrain.py --study starts --evals 1e7
    python benchmarks/science_pretrain.py --study starts --quick     # 1 seed, budgets / 20
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import evoneuro as en
from evoneuro.bench.datasets import load_dataset
from evoneuro.training.starts import resolve_init

# name -> (hidden, estimator arguments); budgets in evaluations
ROWS = {
    "10x32 adam auto": ((32,) * 10, {"optimizer": "adam", "max_evals": 30_000_000}),
    "10x32 adam auto alpha=1e-2": ((32,) * 10, {"optimizer": "adam", "alpha": 1e-2, "max_evals": 30_000_000}),
    "10x32 adam auto input_noise=0.1": ((32,) * 10, {"optimizer": "adam", "input_noise": 0.1,
                                                     "max_evals": 30_000_000}),
    "10x32 adam pretrain(ae)": ((32,) * 10, {"optimizer": "adam", "init": "pretrain", "max_evals": 30_000_000}),
    "20x16 adam auto": ((16,) * 20, {"optimizer": "adam", "max_evals": 30_000_000}),
    "20x16 adam pretrain(ae)": ((16,) * 20, {"optimizer": "adam", "init": "pretrain", "max_evals": 30_000_000}),
    "20x16 adam pretrain(rbm)": ((16,) * 20, {"optimizer": "adam", "init": "pretrain",
                                              "init_params": {"method": "rbm"}, "max_evals": 30_000_000}),
}

STARTS = {
    "glorot": "glorot",
    "lsuv": "lsuv",
    "critical": "critical",
    "auto (data_init)": "auto",
    "pretrain ae (adam)": ("pretrain", {"method": "autoencoder", "optimizer": "adam"}),
    "pretrain ae (snes)": ("pretrain", {"method": "autoencoder", "optimizer": "snes"}),
    "pretrain rbm": ("pretrain", {"method": "rbm"}),
}
FINETUNERS = ("adam", "irprop+", "sep-cmaes")


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def study_rows(args, data) -> None:
    print(f"plain nets on digits; mean ± std test accuracy over seeds {args.seeds}; load before {load()}")
    for name, (hidden, kw) in ROWS.items():
        if args.only and args.only not in name:
            continue
        kw = dict(kw)
        kw["max_evals"] = int(kw["max_evals"] * args.scale)
        accs, t0 = [], time.perf_counter()
        for seed in args.seeds:
            clf = en.EvoMLPClassifier(hidden_layer_sizes=hidden, random_state=seed, **kw)
            accs.append(clf.fit(data.X_train, data.y_train).score(data.X_test, data.y_test))
        print(f"{name:<34} {100 * np.mean(accs):6.2f} ± {100 * np.std(accs):4.2f} %  "
              f"({', '.join(f'{100 * a:.1f}' for a in accs)})  {kw['max_evals']:.2g} evals  "
              f"{time.perf_counter() - t0:5.0f} s  load {load()}", flush=True)


def _grad_ratio(net, theta, data) -> float:
    ev = en.Evaluator(net, backend="numpy", dtype="float64")
    _, g = ev.loss_and_grad(theta, data.X_train, data.y_train)
    norms = [float(np.linalg.norm(s.weights(g[0]))) for s in net.layers]
    return norms[0] / norms[-1]


def study_starts(args, data) -> None:
    net = en.MLP(64, (32,) * 10, 10, activation="sigmoid")
    evals = int(args.evals * args.scale)
    print(f"10x32 sigmoid on digits: start x fine-tuning ({evals:.2g} evaluations each), mean test accuracy over "
          f"seeds {args.seeds}; |grad W_1| / |grad W_11| of the first fine-tuning step; load before {load()}")
    print(f"{'start':<20} {'grad ratio':>10} {'pretrain':>16} " + " ".join(f"{f:>16}" for f in FINETUNERS))
    for label, spec in STARTS.items():
        init, params = spec if isinstance(spec, tuple) else (spec, None)
        if params is not None:
            params = {**params, "max_evals": int(1_000_000 * args.scale)}
        ratios, accs, pre_s = [], {f: [] for f in FINETUNERS}, 0.0
        for seed in args.seeds:
            t0 = time.perf_counter()
            x0 = resolve_init(net, init, np.random.default_rng(seed), data.X_train, params)
            pre_s += time.perf_counter() - t0
            ratios.append(_grad_ratio(net, x0, data))
            for f in FINETUNERS:
                clf = en.EvoMLPClassifier(hidden_layer_sizes=(32,) * 10, init=x0, optimizer=f, max_evals=evals,
                                          random_state=seed).fit(data.X_train, data.y_train)
                accs[f].append(clf.score(data.X_test, data.y_test))
        pre = f"{pre_s / len(args.seeds):.1f} s" if params is not None else "—"
        print(f"{label:<20} {np.exp(np.mean(np.log(ratios))):>10.2e} {pre:>16} "
              + " ".join(f"{100 * np.mean(accs[f]):>9.1f} ± {100 * np.std(accs[f]):3.1f}" for f in FINETUNERS)
              + f"   load {load()}", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--study", choices=["rows", "starts"], default="rows")
    ap.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0, 1, 2])
    ap.add_argument("--evals", type=float, default=1e7, help="starts: fine-tuning evaluations per run")
    ap.add_argument("--only", default="", help="rows: run only the rows whose name contains this")
    ap.add_argument("--quick", action="store_true", help="1 seed, budgets / 20 (a smoke run)")
    args = ap.parse_args(argv)
    args.scale = 0.05 if args.quick else 1.0
    if args.quick:
        args.seeds = args.seeds[:1]
    data = load_dataset("digits")
    t0 = time.perf_counter()
    {"rows": study_rows, "starts": study_starts}[args.study](args, data)
    print(f"({time.perf_counter() - t0:.0f} s, load after {load()})")


if __name__ == "__main__":
    main()
