"""The estimators' defaults on data they were never tuned on, against scikit-learn and a linear model.

Every evoneuro fit sets only ``hidden_layer_sizes``, ``activation``, ``optimizer`` and
``random_state``: no budget, no early stopping, no step size. The references get the
same treatment: scikit-learn's ``MLPClassifier``/``MLPRegressor`` with the same hidden
layers and activation and everything else at its defaults (``max_iter=200``), and a
linear model at its defaults (``LogisticRegression(max_iter=1000)``, ``Ridge()``).

The data: 14 classification and 9 regression tasks, none of them used to choose a
default: scikit-learn's bundled sets and its ``make_*`` generators at several noise levels
and sizes up to 20,000 training rows, and long-time-lag tasks of :mod:`evoneuro.tasks`
through the sequence estimators (the references see the zero-padded sequences
flattened). Splits are fixed (``train_test_split(test_size=0.25, random_state=0)``,
stratified for classes); every model sees the inputs standardised on the training rows,
and regression targets as they come — evoneuro's regressors standardise them inside,
and scikit-learn's ``MLPRegressor`` is given the same through
``TransformedTargetRegressor(transformer=StandardScaler())``, so that neither reference
loses to a target scale. Tabular tasks are fitted with nets of 1 and 6 hidden layers of
32 units, sigmoid and tanh; sequence tasks with the RNN estimators' default cell (LSTM),
one layer of 32.

Each cell is the test score (accuracy, or R²) and the seconds of the fit (with
``n_jobs`` at its default: every core). A row's target (issue 32): the best of adam,
irprop+ and sep-cmaes at least scikit-learn's MLP (accuracy within 0.01, R² within
0.02); on regression, each of the three at least the linear model, and none below zero
where the linear model is above. Results are kept in a JSON file, so that a rerun only
fits what is missing (``--refit NAME,...`` fits those methods again, ``--fresh`` all).

Usage::

    python benchmarks/defaults_suite.py --fresh                  # every fit again (25-40 min on 2 cores)
    python benchmarks/defaults_suite.py --table-only             # the stored table
    python benchmarks/defaults_suite.py --tasks diabetes,friedman1-noisy --methods adam,ridge
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from sklearn import datasets as skd
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

import evoneuro as en

EVO = ("adam", "irprop+", "sep-cmaes")
REFERENCES = ("sklearn-mlp", "linear")
METHODS = (*REFERENCES, *EVO)
NETS = {"1x32 sigmoid": ((32,), "sigmoid"), "1x32 tanh": ((32,), "tanh"),
        "6x32 sigmoid": ((32,) * 6, "sigmoid"), "6x32 tanh": ((32,) * 6, "tanh")}
SEQUENCE_NETS = {"lstm 32": ((32,), "tanh")}
RESULTS = Path(__file__).parent / "results" / "defaults_suite.json"


@dataclass
class Data:
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    lengths_train: np.ndarray | None = None
    lengths_test: np.ndarray | None = None


@dataclass
class Task:
    name: str
    regression: bool
    make: Callable[[], Data]
    sequence: bool = False


def _split(X, y, regression: bool) -> Data:
    parts = train_test_split(X, y, test_size=0.25, random_state=0, stratify=None if regression else y)
    scaler = StandardScaler().fit(parts[0])
    return Data(scaler.transform(parts[0]), scaler.transform(parts[1]), parts[2], parts[3])


def _tabular(name: str, regression: bool, make) -> Task:
    return Task(name, regression, lambda: _split(*make(), regression))


def _sequence(name: str, regression: bool, make) -> Task:
    def data() -> Data:
        task = make()
        (X_train, y_train, l_train), (X_test, y_test, l_test) = task.data("train"), task.data("test")
        return Data(X_train, X_test, y_train, y_test, l_train, l_test)  # y as the estimators take it

    return Task(name, regression, data, sequence=True)


def tasks() -> list[Task]:
    """The suite: 14 classification and 9 regression tasks."""
    from evoneuro.tasks import adding, temporal_order, two_sequence

    c = skd.make_classification
    r = skd.make_regression
    out = [
        _tabular("iris", False, lambda: skd.load_iris(return_X_y=True)),
        _tabular("wine", False, lambda: skd.load_wine(return_X_y=True)),
        _tabular("breast-cancer", False, lambda: skd.load_breast_cancer(return_X_y=True)),
        _tabular("digits", False, lambda: skd.load_digits(return_X_y=True)),
        _tabular("moons", False, lambda: skd.make_moons(1000, noise=0.3, random_state=0)),
        _tabular("circles", False, lambda: skd.make_circles(1000, noise=0.2, factor=0.5, random_state=0)),
        _tabular("quantiles-3", False, lambda: skd.make_gaussian_quantiles(n_samples=1500, n_features=6,
                                                                           n_classes=3, random_state=0)),
        _tabular("classes-10", False, lambda: c(4000, n_features=20, n_informative=12, n_classes=10,
                                                n_clusters_per_class=2, random_state=0)),
        _tabular("noisy-binary", False, lambda: c(2000, n_features=20, n_informative=5, flip_y=0.25,
                                                  random_state=1)),
        _tabular("hastie", False, lambda: skd.make_hastie_10_2(5000, random_state=0)),
        _tabular("blobs-4", False, lambda: skd.make_blobs(2000, n_features=8, centers=4, cluster_std=4.0,
                                                          random_state=0)),
        _tabular("classes-5-27k", False, lambda: c(26_667, n_features=40, n_informative=15, n_classes=5,
                                                   n_clusters_per_class=3, flip_y=0.05, random_state=0)),
        _sequence("temporal-order", False, lambda: temporal_order(n_train=2000, n_test=1000, random_state=0)),
        _sequence("two-sequence", False, lambda: two_sequence(n_train=1000, n_test=500, min_length=50,
                                                              max_length=60, noise=0.5, random_state=0)),
        _tabular("diabetes", True, lambda: skd.load_diabetes(return_X_y=True)),
        _tabular("friedman1", True, lambda: skd.make_friedman1(2000, noise=1.0, random_state=0)),
        _tabular("friedman1-noisy", True, lambda: skd.make_friedman1(400, noise=3.0, random_state=0)),
        _tabular("friedman2", True, lambda: skd.make_friedman2(1000, noise=100.0, random_state=0)),
        _tabular("friedman3", True, lambda: skd.make_friedman3(1000, noise=0.2, random_state=0)),
        _tabular("linear-20", True, lambda: r(1000, n_features=20, n_informative=10, noise=20.0, random_state=0)),
        _tabular("sparse-uncorrelated", True, lambda: skd.make_sparse_uncorrelated(1000, random_state=0)),
        _tabular("friedman1-27k", True, lambda: skd.make_friedman1(26_667, n_features=20, noise=2.0,
                                                                   random_state=1)),
        _sequence("adding", True, lambda: adding(T=30, n_train=2000, n_test=1000, version="le", random_state=0)),
    ]
    return out


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def fit_one(task: Task, data: Data, hidden, activation: str, method: str) -> tuple[float, float]:
    """Test score and fit seconds of one method on one task and net."""
    Xtr, Xte = data.X_train, data.X_test
    if method in REFERENCES and task.sequence:  # the references see the padded sequences flattened
        Xtr, Xte = Xtr.reshape(len(Xtr), -1), Xte.reshape(len(Xte), -1)
    if method == "linear":
        model = Ridge() if task.regression else LogisticRegression(max_iter=1000)
    elif method == "sklearn-mlp":
        act = "logistic" if activation == "sigmoid" else activation
        if task.regression:
            model = TransformedTargetRegressor(MLPRegressor(hidden_layer_sizes=hidden, activation=act, random_state=0),
                                               transformer=StandardScaler())
        else:
            model = MLPClassifier(hidden_layer_sizes=hidden, activation=act, random_state=0)
    elif task.sequence:
        cls = en.EvoRNNRegressor if task.regression else en.EvoRNNClassifier
        model = cls(hidden_layer_sizes=hidden, activation=activation, optimizer=method, random_state=0)
    else:
        cls = en.EvoMLPRegressor if task.regression else en.EvoMLPClassifier
        model = cls(hidden_layer_sizes=hidden, activation=activation, optimizer=method, random_state=0)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if task.sequence and method in EVO:
            model.fit(Xtr, data.y_train, lengths=data.lengths_train)
            score = model.score(Xte, data.y_test, lengths=data.lengths_test)
        else:
            model.fit(Xtr, data.y_train)
            score = model.score(Xte, data.y_test)
    seconds = time.perf_counter() - t0
    extra = {}
    if method in EVO:
        extra = {"steps": int(model.n_iter_), "evals": int(model.n_evals_), "stop": model.stop_reason_,
                 "compile": round(float(model.compile_seconds_), 2)}
    return float(score), seconds, extra


def verdict(regression: bool, cells: dict) -> str:
    """'met' or what the row misses (see the module docstring)."""
    evo = {m: cells[m] for m in EVO if m in cells}
    if not evo or "sklearn-mlp" not in cells:
        return ""
    misses = []
    margin = 0.02 if regression else 0.01
    if max(evo.values()) < cells["sklearn-mlp"] - margin:
        misses.append("< sklearn")
    if regression and "linear" in cells:
        below = [m for m, v in evo.items() if v < cells["linear"] - margin]
        if below:
            misses.append(f"{'/'.join(below)} < linear")
        negative = [m for m, v in evo.items() if v < 0 < cells["linear"]]
        if negative:
            misses.append(f"{'/'.join(negative)} R2 < 0")
    return "met" if not misses else "; ".join(misses)


def summary(results: dict, suite: list[Task]) -> str:
    """How many rows meet each target (see the module docstring)."""
    n = {"rows": 0, "sklearn": 0, "reg": 0, "linear": 0, "negative": 0}
    for task in suite:
        for net in (SEQUENCE_NETS if task.sequence else NETS):
            row = results.get(task.name, {}).get(net, {})
            cells = {m: row[m]["score"] for m in METHODS if m in row}
            if not all(m in cells for m in METHODS):
                continue
            margin = 0.02 if task.regression else 0.01
            n["rows"] += 1
            n["sklearn"] += max(cells[m] for m in EVO) >= cells["sklearn-mlp"] - margin
            if task.regression:
                n["reg"] += 1
                n["linear"] += all(cells[m] >= cells["linear"] - margin for m in EVO)
                n["negative"] += any(cells[m] < 0 < cells["linear"] for m in EVO)
    return (f"best of {', '.join(EVO)} at least scikit-learn's MLP: {n['sklearn']} of {n['rows']} rows; "
            f"each at least the linear model: {n['linear']} of {n['reg']} regression rows; "
            f"a negative test R² where the linear model's is positive: {n['negative']} rows")


def table(results: dict, suite: list[Task], methods) -> str:
    """The Markdown table of the stored results."""
    head = "| task | rows | net | " + " | ".join(methods) + " | target |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for task in suite:
        nets = SEQUENCE_NETS if task.sequence else NETS
        for net in nets:
            row = results.get(task.name, {}).get(net, {})
            if not row:
                continue
            cells = {m: row[m]["score"] for m in methods if m in row}
            text = []
            for m in methods:
                if m not in row:
                    text.append("")
                    continue
                text.append(f"{row[m]['score']:.3f} ({row[m]['seconds']:.1f} s)")
            rows = row.get("_rows", "")
            kind = "R²" if task.regression else "acc"
            lines.append(f"| {task.name} ({kind}) | {rows} | {net} | " + " | ".join(text)
                         + f" | {verdict(task.regression, cells)} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="", help="comma-separated task names (default: all)")
    ap.add_argument("--nets", default="", help="comma-separated nets, e.g. '1x32 tanh' (default: all)")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    ap.add_argument("--refit", default="", help="methods to fit again although stored")
    ap.add_argument("--refit-stopped-by", default="", help="fit again the stored fits that this stop reason ended")
    ap.add_argument("--results", default=str(RESULTS), help="the JSON file of stored results")
    ap.add_argument("--table-only", action="store_true", help="print the stored table and stop")
    ap.add_argument("--fresh", action="store_true", help="fit everything again, ignoring the stored results")
    args = ap.parse_args(argv)
    import evoneuro.backends.numba.backend  # noqa: F401  all kernels' modules now, not at the first RNN fit
    suite = tasks()
    if args.tasks:
        wanted = set(args.tasks.split(","))
        unknown = wanted - {t.name for t in suite}
        if unknown:
            ap.error(f"unknown tasks {sorted(unknown)}; known: {[t.name for t in suite]}")
        suite = [t for t in suite if t.name in wanted]
    methods = [m for m in args.methods.split(",") if m]
    refit = set(filter(None, args.refit.split(",")))
    path = Path(args.results)
    results = json.loads(path.read_text()) if path.exists() and not args.fresh else {}
    if not args.table_only:
        print(f"load before: {load()}", flush=True)
        t_all = time.perf_counter()
        for task in suite:
            data = task.make()
            nets = SEQUENCE_NETS if task.sequence else NETS
            for net, (hidden, activation) in nets.items():
                if args.nets and net not in args.nets.split(","):
                    continue
                row = results.setdefault(task.name, {}).setdefault(net, {})
                row["_rows"] = f"{len(data.X_train)}/{len(data.X_test)}"
                for method in methods:
                    again = method in refit or (args.refit_stopped_by and method in row
                                                and row[method].get("stop") == args.refit_stopped_by)
                    if method in row and not again:
                        continue
                    score, seconds, extra = fit_one(task, data, hidden, activation, method)
                    row[method] = {"score": score, "seconds": seconds, "load": load(), **extra}
                    print(f"{task.name:<20} {net:<13} {method:<11} {score:7.3f} {seconds:7.1f} s {extra} "
                          f"load {load()}", flush=True)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps(results, indent=1))
        print(f"({time.perf_counter() - t_all:.0f} s; load after: {load()})")
    print(table(results, tasks(), METHODS))
    print()
    print(summary(results, tasks()))


if __name__ == "__main__":
    main()
