"""What a user gets from the estimators' defaults: the tables behind evoneuro.training.defaults.

Three studies, each printing one table with the machine's load average:

``--study digits`` (the estimators guide's table): ``EvoMLPClassifier(hidden_layer_sizes=(32,) * 10,
activation="sigmoid", optimizer=NAME, max_time=T, random_state=seed)`` on digits (X/16,
``train_test_split(test_size=0.25, random_state=0, stratify=y)``), nothing else set; test
accuracy per optimizer and seed, with the evaluations and steps the time allowed.

``--study datasets``: the same defaults on other small data sets (scikit-learn's and
synthetic), shallow and deep nets, sigmoid and tanh, each under a budget of evaluations
(independent of the load); the majority-class rate is printed beside each row.

``--study alpha``: the weight decay ``alpha`` at several values, for one optimizer, on digits
10x32 sigmoid and on the data sets above (1x32 and 6x16, sigmoid), under a budget of
evaluations: the measurement behind the estimators' default ``alpha``.

``--study sweep``: one optimizer hyperparameter at several values on digits 10x32 under a
budget of evaluations, to re-measure a default of evoneuro/training/defaults.py.

Usage::

    python benchmarks/defaults_table.py --study digits --seconds 60 --seeds 0,1
    python benchmarks/defaults_table.py --study datasets --evals 3e6
    python benchmarks/defaults_table.py --study alpha --optimizer adam --values 0,1e-4,1e-3,1e-2,1e-1 --evals 1e7
    python benchmarks/defaults_table.py --study sweep --optimizer snes --param sigma0 --values 0.1,0.2 --evals 1e7
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.model_selection import train_test_split

import evoneuro as en

OPTIMIZERS = ("sep-cmaes", "snes", "es", "readout", "adam", "irprop+", "memetic", "pso", "guided-es", "ga",
              "random")
# the targets at 60 s (idle 2-core machine); at 10 s every optimizer must beat chance clearly
TARGETS_60S = {"sep-cmaes": 0.90, "snes": 0.90, "es": 0.90, "readout": 0.95, "adam": 0.93, "irprop+": 0.90,
               "memetic": 0.80, "pso": 0.80, "guided-es": 0.80, "ga": 0.60, "random": 0.50}


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def digits_split():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)


def study_digits(args) -> None:
    Xtr, Xte, ytr, yte = digits_split()
    print(f"digits, 10x32 sigmoid, EvoMLPClassifier(optimizer=NAME, max_time={args.seconds:g}), "
          f"seeds {args.seeds}; load before: {load()}")
    print(f"{'optimizer':<10} {'seed':>4} {'test acc':>8} {'target':>6} {'evals':>9} {'steps':>7} "
          f"{'compile s':>9} {'stop':<9} load")
    for name in args.optimizers.split(","):
        accs = []
        for seed in (int(s) for s in args.seeds.split(",")):
            clf = en.EvoMLPClassifier(hidden_layer_sizes=(32,) * 10, activation="sigmoid", optimizer=name,
                                      max_time=args.seconds, random_state=seed).fit(Xtr, ytr)
            acc = clf.score(Xte, yte)
            accs.append(acc)
            target = TARGETS_60S.get(name, 0) if args.seconds >= 60 else 0.2
            print(f"{name:<10} {seed:>4} {acc:>8.3f} {target:>6.2f} {clf.n_evals_:>9.3g} {clf.n_iter_:>7} "
                  f"{clf.compile_seconds_:>9.1f} {clf.stop_reason_:<9} {load()}", flush=True)
        print(f"{name:<10} mean {np.mean(accs):>8.3f} {'met' if min(accs) >= target else 'NOT met'}", flush=True)


def datasets():
    """(name, X_train, X_test, y_train, y_test) for the generality table."""
    from evoneuro.bench.datasets import load_dataset

    out = []
    for name in ("iris", "wine", "breast_cancer", "moons", "circles"):
        d = load_dataset(name)
        out.append((name, d.X_train, d.X_test, d.y_train, d.y_test))
    X, y = make_classification(n_samples=1500, n_features=20, n_informative=8, n_classes=4,
                               n_clusters_per_class=2, random_state=0)
    X = (X - X.mean(0)) / X.std(0)
    out.append(("synthetic-4class", *train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)))
    return [(n, a, b, c, d) for n, a, b, c, d in out]


def study_datasets(args) -> None:
    nets = [("1x32", (32,)), ("6x16", (16,) * 6)]
    names = args.optimizers.split(",")
    print(f"EvoMLPClassifier(hidden_layer_sizes=H, activation=A, optimizer=NAME, max_evals={args.evals:.3g}), "
          f"seed 0; test accuracy; load before: {load()}")
    print(f"{'data':<17} {'net':<5} {'act':<8} {'major':>5} " + " ".join(f"{n:>9}" for n in names))
    for dname, Xtr, Xte, ytr, yte in datasets():
        major = np.bincount(yte).max() / len(yte)
        for label, hidden in nets:
            for act in args.activations.split(","):
                accs = []
                for name in names:
                    clf = en.EvoMLPClassifier(hidden_layer_sizes=hidden, activation=act, optimizer=name,
                                              max_evals=int(args.evals), backend=args.backend,
                                              random_state=0).fit(Xtr, ytr)
                    accs.append(clf.score(Xte, yte))
                print(f"{dname:<17} {label:<5} {act:<8} {major:>5.2f} " + " ".join(f"{a:>9.3f}" for a in accs),
                      flush=True)
    print(f"load after: {load()}")


def study_alpha(args) -> None:
    values = [float(v) for v in args.values.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"EvoMLPClassifier(optimizer={args.optimizer!r}, alpha=A, max_evals={args.evals:.3g}), mean test "
          f"accuracy over seeds {args.seeds}; load before: {load()}")
    print(f"{'data':<17} {'net':<6} " + " ".join(f"{'a=' + format(v, 'g'):>9}" for v in values))
    rows = [("digits", "10x32", (32,) * 10, *digits_split())]
    rows += [(name, label, hidden, *split) for name, *split in datasets()
             for label, hidden in (("1x32", (32,)), ("6x16", (16,) * 6))]
    means = np.zeros(len(values))
    for dname, label, hidden, Xtr, Xte, ytr, yte in rows:
        accs = [np.mean([en.EvoMLPClassifier(hidden_layer_sizes=hidden, optimizer=args.optimizer, alpha=a,
                                             max_evals=int(args.evals), random_state=seed).fit(Xtr, ytr)
                         .score(Xte, yte) for seed in seeds]) for a in values]
        means += np.array(accs) / len(rows)
        print(f"{dname:<17} {label:<6} " + " ".join(f"{a:>9.3f}" for a in accs), flush=True)
    print(f"{'mean':<24} " + " ".join(f"{a:>9.3f}" for a in means) + f"   load after: {load()}")


def study_sweep(args) -> None:
    Xtr, Xte, ytr, yte = digits_split()
    print(f"digits 10x32 sigmoid, {args.optimizer} {args.param} in {args.values} (absolute, or xRMS of the "
          f"start with --relative), {args.evals:.3g} evaluations, seeds {args.seeds}; load {load()}")
    net = en.MLP(64, (32,) * 10, 10, activation="sigmoid")
    for value in (float(v) for v in args.values.split(",")):
        accs = []
        for seed in (int(s) for s in args.seeds.split(",")):
            x0 = en.lsuv_init(net, Xtr[:512], np.random.default_rng(seed))
            scale = float(np.sqrt(np.mean(np.concatenate([s.weights(x0).ravel() for s in net.layers]) ** 2)))
            v = value * scale if args.relative else value
            clf = en.EvoMLPClassifier(hidden_layer_sizes=(32,) * 10, optimizer=args.optimizer, init=x0,
                                      optimizer_params={args.param: v}, max_evals=int(args.evals),
                                      random_state=seed).fit(Xtr, ytr)
            accs.append(clf.score(Xte, yte))
        print(f"{args.param}={value:g}: test accuracy {np.mean(accs):.3f} ({', '.join(f'{a:.3f}' for a in accs)}) "
              f"load {load()}", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--study", choices=["digits", "datasets", "alpha", "sweep"], default="digits", help="which table")
    ap.add_argument("--optimizers", default=",".join(OPTIMIZERS), help="comma-separated names")
    ap.add_argument("--seconds", type=float, default=60.0, help="max_time per fit (digits)")
    ap.add_argument("--evals", type=float, default=3e6, help="max_evals per fit (datasets, alpha, sweep)")
    ap.add_argument("--seeds", default="0,1", help="comma-separated seeds")
    ap.add_argument("--backend", default="auto", help="evaluator backend (datasets; accuracy does not depend on it)")
    ap.add_argument("--activations", default="sigmoid,tanh", help="datasets: comma-separated hidden activations")
    ap.add_argument("--optimizer", default="snes", help="sweep, alpha: the optimizer")
    ap.add_argument("--param", default="sigma0", help="sweep: its hyperparameter")
    ap.add_argument("--values", default="0.1,0.2", help="sweep, alpha: comma-separated values")
    ap.add_argument("--relative", action="store_true", help="sweep: values are multiples of the start's RMS")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    {"digits": study_digits, "datasets": study_datasets, "alpha": study_alpha, "sweep": study_sweep}[args.study](args)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
