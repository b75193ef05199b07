"""The comparison harness behind ``evoneuro compare``.

Every optimizer trains the same network, from the same initial weights for a given seed, on
the same split, through the same evaluator, under the same budget — wall-clock seconds or
sample-forward evaluations — and is scored on the same held-out test set. scikit-learn's own
``MLPClassifier`` runs on the same split as an outside reference.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from evoneuro.bench.datasets import Dataset, load_dataset
from evoneuro.training.defaults import DEFAULT_ALPHA
from evoneuro.training.recipe import fit_network
from evoneuro.training.starts import resolve_init
from evoneuro.network.spec import MLP

if TYPE_CHECKING:
    from evoneuro.evaluator import Evaluator

DEFAULT_OPTIMIZERS = ("adam", "irprop+", "sep-cmaes", "snes", "es", "ga", "random", "readout", "sklearn")
# The start and every optimizer's scales are the estimators' defaults (evoneuro.training.defaults),
# so the table shows what a user of EvoMLPClassifier gets.
DEFAULT_INIT = "auto"
#: Parameters of a run that go to its problem, not its optimizer (``"adam:alpha=1e-3"``).
REGULARIZATION = ("alpha", "input_noise", "weight_noise", "dropout")
#: Sample-forward evaluations per run when no budget is given: equal for every optimizer
#: and independent of the machine's load, so the table reproduces anywhere.
DEFAULT_BUDGET_EVALS = 30_000_000
_SKLEARN_ACTIVATIONS = {"sigmoid": "logistic", "logistic": "logistic", "tanh": "tanh",
                        "relu": "relu", "identity": "identity"}


@dataclass
class RunResult:
    """One optimizer, one seed, one depth."""

    optimizer: str
    params: dict[str, Any]
    seed: int
    depth: int
    test_accuracy: float
    train_accuracy: float
    train_loss: float
    seconds: float
    evals: float
    steps: int
    stop_reason: str
    curve: dict[str, list[float]] = field(default_factory=dict, repr=False)
    compile_seconds: float = 0.0
    batch: str = ""


def parse_optimizers(text: str) -> list[tuple[str, dict[str, Any]]]:
    """``"adam:learning_rate=0.01,es:sigma=0.05:popsize=64,ga"`` -> [(name, params), ...].

    Examples
    --------
    >>> parse_optimizers("adam:learning_rate=0.01,ga")
    [('adam', {'learning_rate': 0.01}), ('ga', {})]
    """
    out = []
    for token in filter(None, (t.strip() for t in text.split(","))):
        name, *assignments = token.split(":")
        params: dict[str, Any] = {}
        for a in assignments:
            if "=" not in a:
                raise ValueError(f"optimizer parameters are written name:key=value, got {token!r}")
            k, v = a.split("=", 1)
            try:
                params[k.strip()] = ast.literal_eval(v.strip())
            except (ValueError, SyntaxError):
                params[k.strip()] = v.strip()
        out.append((name.strip().lower(), params))
    return out


def _accuracy(ev: Evaluator, x, X, y) -> float:
    return float(np.mean(np.argmax(ev.predict(x, X), axis=1) == y))


def _run_sklearn(data: Dataset, hidden, activation: str, seed: int, params: dict) -> RunResult:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    act = _SKLEARN_ACTIVATIONS.get(str(activation))
    if act is None:
        raise ValueError(f"scikit-learn's MLPClassifier has no activation {activation!r}")
    kw = dict(hidden_layer_sizes=hidden, activation=act, solver="adam", random_state=seed)
    kw.update(params)
    clf = MLPClassifier(**kw)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(data.X_train, data.y_train)
    seconds = time.perf_counter() - t0
    n = len(data.X_train)
    epochs = np.arange(1, clf.n_iter_ + 1)
    curve = {"evals": (epochs * 3.0 * n).tolist(), "seconds": (epochs * seconds / clf.n_iter_).tolist(),
             "loss": list(map(float, clf.loss_curve_))}
    return RunResult("sklearn", params, seed, len(hidden), float(clf.score(data.X_test, data.y_test)),
                     float(clf.score(data.X_train, data.y_train)), float(clf.loss_), seconds,
                     float(3 * n * clf.n_iter_), int(clf.n_iter_), "max_iter" if clf.n_iter_ >= clf.max_iter else "converged",
                     curve, batch=f"minibatch {min(200, n)}" if n > 200 else "full batch")


def split_params(params: dict) -> tuple[dict, dict]:
    """A run's ``name:key=value`` parameters as (the problem's regularisation, with the
    default weight decay; the optimizer's own).

    Examples
    --------
    >>> split_params({"alpha": 0.01, "learning_rate": 0.1})
    ({'alpha': 0.01}, {'learning_rate': 0.1})
    """
    regularization = {"alpha": DEFAULT_ALPHA, **{k: params[k] for k in REGULARIZATION if k in params}}
    return regularization, {k: v for k, v in params.items() if k not in REGULARIZATION}


def run_one(data: Dataset, hidden: Sequence[int], *, activation="sigmoid", init=DEFAULT_INIT,
            optimizer: str = "adam", params: dict | None = None, seed: int = 0,
            budget_seconds: float | None = None, budget_evals: float | None = DEFAULT_BUDGET_EVALS,
            batch_size: int | str | None = "auto", backend: str = "auto", dtype: str = "float32",
            n_jobs: int | None = None, progress: bool = False, executor: Any = None) -> RunResult:
    """Train one network with one optimizer under one budget and score it on the test set.

    ``init``, ``batch_size="auto"`` and the optimizer's unset hyperparameters take the
    estimators' measured defaults (:mod:`evoneuro.training.defaults`).
    """
    params = dict(params or {})
    hidden = tuple(hidden)
    if optimizer == "sklearn":
        return _run_sklearn(data, hidden, activation, seed, params)
    # the problem's regularisation (alpha, noise, dropout) is written beside the optimizer's own
    regularization, opt_params = split_params(params)
    net = MLP(data.n_features, hidden, data.n_classes, activation=activation)
    x0 = resolve_init(net, init, np.random.default_rng(seed), data.X_train)
    fit = fit_network(net, data.X_train, data.y_train, optimizer=optimizer, x0=x0, optimizer_params=opt_params,
                      batch_size=batch_size, regularization=regularization, backend=backend, dtype=dtype,
                      n_jobs=n_jobs, max_time=budget_seconds,
                      max_evals=None if budget_evals is None else int(budget_evals),
                      progress=f"{optimizer} seed {seed} depth {len(hidden)}" if progress else False,
                      random_state=seed, executor=executor)
    res, ev, problem = fit.result, fit.evaluator, fit.problem
    h = res.history
    curve = {}
    if len(h):
        # at most ~1,000 points per curve keeps results.json small (an Adam run has ~65k steps)
        keep = np.unique(np.linspace(0, len(h) - 1, min(len(h), 1000)).astype(int))
        curve = {k: [float(v) for v in np.asarray(h[k])[keep]] for k in ("evals", "seconds", "loss")}
    batch = "full batch" if problem.deterministic else f"minibatch {problem.batch_size}"
    return RunResult(optimizer, params, seed, len(hidden), _accuracy(ev, res.x, data.X_test, data.y_test),
                     _accuracy(ev, res.x, data.X_train, data.y_train),
                     float(res.fun), float(res.seconds),  # res.fun: the full-data loss of res.x
                     float(res.n_evals), int(res.n_steps), str(res.stop_reason), curve,
                     float(res.compile_seconds), batch)


def environment(backend: str = "auto", dtype: str = "float32", n_jobs: int | None = None) -> dict[str, Any]:
    """What a result depends on besides its settings: versions, CPU, threads, load.

    Examples
    --------
    >>> from evoneuro.bench.compare import environment
    >>> env = environment(backend="numpy")
    >>> sorted(env)[:4]
    ['backend', 'blas', 'cpu_model', 'cpus_available']
    """
    from importlib import metadata

    from evoneuro._threads import available_cpus, check_n_jobs
    from evoneuro.backends import get_backend

    versions = {"python": platform.python_version()}
    for pkg in ("evoneuro", "numpy", "numba", "cma", "deap", "scikit-learn", "threadpoolctl"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    from threadpoolctl import threadpool_info

    blas = [{k: d.get(k) for k in ("internal_api", "version", "num_threads")} for d in threadpool_info()]
    return {
        "versions": versions, "platform": platform.platform(), "cpu_model": cpu,
        "cpus_available": available_cpus(), "n_jobs": check_n_jobs(n_jobs),
        "backend": get_backend(backend).name, "dtype": dtype, "blas": blas,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


@dataclass
class Comparison:
    """All runs of a study, with its settings; summary table, files and plots."""

    settings: dict[str, Any]
    runs: list[RunResult] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> list[dict[str, Any]]:
        """One row per (depth, optimizer): means and standard deviations over seeds."""
        rows = []
        keys = dict.fromkeys((r.depth, r.optimizer) for r in self.runs)
        for depth, name in keys:
            rs = [r for r in self.runs if r.depth == depth and r.optimizer == name]
            acc = np.array([r.test_accuracy for r in rs])
            rows.append({
                "depth": depth, "optimizer": name, "seeds": len(rs),
                "test_accuracy_mean": float(acc.mean()), "test_accuracy_std": float(acc.std()),
                "train_accuracy_mean": float(np.mean([r.train_accuracy for r in rs])),
                "train_loss_mean": float(np.mean([r.train_loss for r in rs])),
                "seconds_mean": float(np.mean([r.seconds for r in rs])),
                "evals_mean": float(np.mean([r.evals for r in rs])),
                "steps_mean": float(np.mean([r.steps for r in rs])),
                "compile_seconds_mean": float(np.mean([r.compile_seconds for r in rs])),
            })
        return rows

    def table(self) -> str:
        """The summary as aligned text (test accuracy mean ± std over seeds)."""
        head = (f"{'depth':>5}  {'optimizer':<12} {'test acc':>16}  {'train loss':>10}  "
                f"{'seconds':>8}  {'evaluations':>12}  {'steps':>7}")
        lines = [head, "-" * len(head)]
        for r in self.summary():
            acc = f"{100 * r['test_accuracy_mean']:6.2f} ± {100 * r['test_accuracy_std']:4.2f} %"
            lines.append(
                f"{r['depth']:>5}  {r['optimizer']:<12} {acc:>16}  {r['train_loss_mean']:>10.4f}  "
                f"{r['seconds_mean']:>8.1f}  {r['evals_mean']:>12.3g}  {r['steps_mean']:>7.0f}"
            )
        return "\n".join(lines)

    def save(self, out: Path) -> list[Path]:
        """Write ``results.json``, ``results.csv`` and the PNG plots into ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "results.json", out / "results.csv"]
        with paths[0].open("w") as fh:
            json.dump({"settings": self.settings, "environment": self.environment, "summary": self.summary(),
                       "runs": [asdict(r) for r in self.runs]}, fh, indent=1, default=str)
        with paths[1].open("w", newline="") as fh:
            cols = [k for k in RunResult.__dataclass_fields__ if k != "curve"]
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            for r in self.runs:
                row = {k: getattr(r, k) for k in cols}
                row["params"] = json.dumps(r.params)
                w.writerow(row)
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return paths
        from evoneuro.bench.plots import plot_curves, plot_depth_sweep

        paths.append(plot_curves(self, "evals", out / "curves_evals.png"))
        paths.append(plot_curves(self, "seconds", out / "curves_seconds.png"))
        if len({r.depth for r in self.runs}) > 1:
            paths.append(plot_depth_sweep(self, out / "accuracy_vs_depth.png"))
        return paths


def compare(dataset: str = "digits", *, target: str | None = None, hidden: Sequence[int] = (32,) * 10,
            activation="sigmoid", init: Any = DEFAULT_INIT,
            optimizers: Sequence[str | tuple[str, dict]] = DEFAULT_OPTIMIZERS,
            budget_seconds: float | None = None, budget_evals: float | None = DEFAULT_BUDGET_EVALS,
            seeds: int = 1, depths: Sequence[int] | None = None, batch_size: int | str | None = "auto",
            backend: str = "auto", dtype: str = "float32", n_jobs: int | None = None,
            progress: bool = True, out: str | Path | None = None, echo=None, executor: Any = None) -> Comparison:
    """Train each optimizer on the same network, data and budget; return every run.

    Parameters
    ----------
    dataset : str
        ``digits``, ``iris``, ``wine``, ``breast_cancer``, ``moons``, ``circles`` or a CSV path
        (with ``target``).
    hidden : sequence of int
        Hidden widths; with ``depths``, the first width is repeated ``depth`` times.
    optimizers : sequence of names or (name, params)
        Registry names, plus ``"sklearn"`` for scikit-learn's MLPClassifier (adam).
    init : "auto", str, float, callable or array
        The start of every optimizer; see :func:`evoneuro.training.starts.resolve_init`.
    budget_seconds, budget_evals : float or None
        Equal budget per run: sample-forward evaluations (the default, 3e7, is the same
        on any machine, busy or idle) and/or wall-clock seconds (for timing studies).
    batch_size : int, "auto" or None
        Rows per step; ``"auto"`` is the estimators' default (full batch for Rprop, PSO
        and random search, 256 else).
    seeds : int
        Runs per optimizer; seed ``s`` fixes the initial weights and the optimizer's randomness.
    depths : sequence of int or None
        A depth sweep.
    n_jobs : int or None
        Threads; see :class:`evoneuro.Evaluator`.
    executor : dask.distributed.Client, concurrent.futures.Executor or None
        Evaluate every run's problem on it (see :mod:`evoneuro.distributed`): the same
        table, since every mode gives the bits of serial evaluation; scikit-learn's run
        stays local.
    out : path or None
        Where to write ``results.json`` (settings, environment, summary, runs),
        ``results.csv`` and the plots.

    Examples
    --------
    >>> from evoneuro.bench.compare import compare
    >>> c = compare("iris", hidden=(4,), optimizers=["adam", "random"], budget_seconds=None,
    ...             budget_evals=20_000, progress=False, echo=None)
    >>> [r["optimizer"] for r in c.summary()]
    ['adam', 'random']
    """
    if budget_seconds is None and budget_evals is None:
        raise ValueError("give a budget: budget_seconds and/or budget_evals")
    if budget_evals is not None and float(budget_evals).is_integer():
        budget_evals = int(budget_evals)
    data = load_dataset(dataset, target=target)
    specs = [(o, {}) if isinstance(o, str) else (o[0], dict(o[1])) for o in optimizers]
    hidden = tuple(hidden)
    shapes = [(hidden[0],) * d for d in depths] if depths else [hidden]
    settings = dict(dataset=data.name, hidden=list(hidden), activation=str(activation), init=init,
                    optimizers=[f"{n}{''.join(f':{k}={v}' for k, v in p.items())}" for n, p in specs],
                    budget_seconds=budget_seconds, budget_evals=budget_evals, seeds=seeds,
                    depths=list(depths) if depths else None, batch_size=batch_size, backend=backend,
                    dtype=dtype, n_jobs=n_jobs, n_train=len(data.X_train), n_test=len(data.X_test))
    result = Comparison(settings, environment=environment(backend, dtype, n_jobs))
    if executor is not None:
        result.environment["executor"] = repr(executor)
    jobs = [(shape, name, params, seed) for shape in shapes for name, params in specs for seed in range(seeds)]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc="compare", unit="run")
    try:
        for shape, name, params, seed in jobs:
            if bar is not None:
                bar.set_postfix_str(f"{name} depth={len(shape)} seed={seed}")
            r = run_one(data, shape, activation=activation, init=init, optimizer=name, params=params,
                        seed=seed, budget_seconds=budget_seconds, budget_evals=budget_evals,
                        batch_size=batch_size, backend=backend, dtype=dtype, n_jobs=n_jobs,
                        progress=progress, executor=executor)
            result.runs.append(r)
            if bar is not None:
                bar.update()
            if echo is not None:
                echo(f"{name:<10} depth {len(shape):>2} seed {seed}: test accuracy {100 * r.test_accuracy:6.2f} %, "
                     f"{r.seconds:6.1f} s, {r.evals:.3g} evaluations")
    finally:
        if bar is not None:
            bar.close()
    result.environment["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    if out is not None:
        result.save(Path(out))
    return result
