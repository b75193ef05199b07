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
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from evoneuro.datasets import Dataset, load_dataset
from evoneuro.evaluator import Evaluator
from evoneuro.network.lsuv import initial_weights
from evoneuro.network.spec import MLP

DEFAULT_OPTIMIZERS = ("adam", "irprop+", "sep-cmaes", "ga", "es", "random", "readout", "sklearn")
# LSUV gives every optimizer the same start with unit-variance pre-activations; at Glorot's
# scale a 10-layer sigmoid net's output barely depends on its input (the last hidden layer
# varies by ~5e-7 across digits), and search around it stays at chance.
DEFAULT_INIT = "lsuv"
# Rprop adapts its steps to the sign of the full-batch gradient: minibatch noise breaks it.
_FULL_BATCH = {"rprop+", "rprop-", "irprop+", "irprop-"}
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
                     curve)


def run_one(data: Dataset, hidden: Sequence[int], *, activation="sigmoid", init: str = DEFAULT_INIT,
            optimizer: str = "adam", params: dict | None = None, seed: int = 0,
            budget_seconds: float | None = 30.0, budget_evals: float | None = None,
            batch_size: int | None = 256, backend: str = "auto", dtype: str = "float32",
            progress: bool = False) -> RunResult:
    """Train one network with one optimizer under one budget and score it on the test set."""
    from evoneuro.callbacks import ProgressBar
    from evoneuro.optimizers import get_optimizer
    from evoneuro.problems import SupervisedProblem
    from evoneuro.trainer import Trainer

    params = dict(params or {})
    hidden = tuple(hidden)
    if optimizer == "sklearn":
        return _run_sklearn(data, hidden, activation, seed, params)
    net = MLP(data.n_features, hidden, data.n_classes, activation=activation)
    ev = Evaluator(net, backend=backend, dtype=dtype)
    bs = None if optimizer in _FULL_BATCH else batch_size
    problem = SupervisedProblem(ev, data.X_train, data.y_train, batch_size=bs)
    rng = np.random.default_rng(seed)
    x0 = initial_weights(net, init, rng, data.X_train)
    opt = get_optimizer(optimizer, **params)
    callbacks = [ProgressBar(desc=f"{optimizer} seed {seed} depth {len(hidden)}", leave=False)] if progress else []
    trainer = Trainer(problem, opt, x0=x0, max_time=budget_seconds, max_evals=budget_evals,
                      callbacks=callbacks, random_state=seed)
    res = trainer.run()
    h = res.history
    curve = {}
    if len(h):
        # at most ~1,000 points per curve keeps results.json small (an Adam run has ~65k steps)
        keep = np.unique(np.linspace(0, len(h) - 1, min(len(h), 1000)).astype(int))
        curve = {k: [float(v) for v in np.asarray(h[k])[keep]] for k in ("evals", "seconds", "loss")}
    return RunResult(optimizer, params, seed, len(hidden), _accuracy(ev, res.x, data.X_test, data.y_test),
                     _accuracy(ev, res.x, data.X_train, data.y_train),
                     float(ev.loss(res.x, data.X_train, data.y_train)[0]), float(res.seconds),
                     float(res.n_evals), int(res.n_steps), str(res.stop_reason), curve)


@dataclass
class Comparison:
    """All runs of a study, with its settings; summary table, files and plots."""

    settings: dict[str, Any]
    runs: list[RunResult] = field(default_factory=list)

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
            json.dump({"settings": self.settings, "summary": self.summary(),
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
        from evoneuro.plots import plot_curves, plot_depth_sweep

        paths.append(plot_curves(self, "evals", out / "curves_evals.png"))
        paths.append(plot_curves(self, "seconds", out / "curves_seconds.png"))
        if len({r.depth for r in self.runs}) > 1:
            paths.append(plot_depth_sweep(self, out / "accuracy_vs_depth.png"))
        return paths


def compare(dataset: str = "digits", *, target: str | None = None, hidden: Sequence[int] = (32,) * 10,
            activation="sigmoid", init: str = DEFAULT_INIT,
            optimizers: Sequence[str | tuple[str, dict]] = DEFAULT_OPTIMIZERS,
            budget_seconds: float | None = 30.0, budget_evals: float | None = None, seeds: int = 1,
            depths: Sequence[int] | None = None, batch_size: int | None = 256, backend: str = "auto",
            dtype: str = "float32", progress: bool = True, out: str | Path | None = None,
            echo=None) -> Comparison:
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
    budget_seconds, budget_evals : float or None
        Equal budget per run: wall-clock seconds and/or sample-forward evaluations.
    seeds : int
        Runs per optimizer; seed ``s`` fixes the initial weights and the optimizer's randomness.
    depths : sequence of int or None
        A depth sweep.
    out : path or None
        Where to write ``results.json``, ``results.csv`` and the plots.

    Examples
    --------
    >>> from evoneuro.compare import compare
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
                    dtype=dtype, n_train=len(data.X_train), n_test=len(data.X_test))
    result = Comparison(settings)
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
                        batch_size=batch_size, backend=backend, dtype=dtype, progress=progress)
            result.runs.append(r)
            if bar is not None:
                bar.update()
            if echo is not None:
                echo(f"{name:<10} depth {len(shape):>2} seed {seed}: test accuracy {100 * r.test_accuracy:6.2f} %, "
                     f"{r.seconds:6.1f} s, {r.evals:.3g} evaluations")
    finally:
        if bar is not None:
            bar.close()
    if out is not None:
        result.save(Path(out))
    return result


def add_compare_parser(sub) -> None:
    """The ``compare`` sub-command of the ``evoneuro`` console script."""
    from evoneuro.cli import parse_hidden

    p = sub.add_parser(
        "compare",
        help="train gradient and gradient-free optimizers side by side on a deep saturating net",
        description="Train each optimizer on the same net, split and budget, and report test "
        "accuracy, training loss, seconds and sample-forward evaluations.",
    )
    p.add_argument("--dataset", default="digits",
                   help="digits, iris, wine, breast_cancer, moons, circles, or a CSV path (with --target)")
    p.add_argument("--target", default=None, help="target column of a CSV dataset")
    p.add_argument("--hidden", type=parse_hidden, default=(32,) * 10, help="e.g. 32x10 or 64,32 (default 32x10)")
    p.add_argument("--activation", default="sigmoid")
    p.add_argument("--init", default=DEFAULT_INIT,
                   help="weight init for every optimizer: lsuv, glorot, standard, he, orthogonal, critical, ... "
                   "(default lsuv)")
    p.add_argument("--optimizers", type=parse_optimizers, default=[(o, {}) for o in DEFAULT_OPTIMIZERS],
                   help="comma-separated names with optional parameters, e.g. "
                   "'adam:learning_rate=0.003,es:sigma=0.05,ga' (sklearn = scikit-learn's MLPClassifier)")
    p.add_argument("--budget-seconds", type=float, default=None, help="seconds per run (default 30)")
    p.add_argument("--budget-evals", type=lambda v: int(float(v)), default=None,
                   help="sample-forward evaluations per run, e.g. 2e7")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--depths", type=lambda s: [int(v) for v in s.split(",")], default=None,
                   help="depth sweep, e.g. 2,5,10,20 (width = first --hidden width)")
    p.add_argument("--batch-size", type=int, default=256, help="minibatch rows (Rprop always uses the full batch)")
    p.add_argument("--backend", default="auto")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--out", type=Path, default=Path("compare-results"))
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_run_compare)


def _run_compare(args) -> int:
    budget_seconds = args.budget_seconds
    if budget_seconds is None and args.budget_evals is None:
        budget_seconds = 30.0
    print(f"evoneuro compare: {args.dataset}, hidden {len(args.hidden)}x{args.hidden[0] if args.hidden else 0}, "
          f"{args.activation}, init {args.init}; budget "
          + (f"{budget_seconds:g} s" if budget_seconds else "")
          + (" and " if budget_seconds and args.budget_evals else "")
          + (f"{args.budget_evals:.3g} evaluations" if args.budget_evals else "") + " per run", flush=True)
    result = compare(args.dataset, target=args.target, hidden=args.hidden, activation=args.activation,
                     init=args.init, optimizers=args.optimizers, budget_seconds=budget_seconds,
                     budget_evals=args.budget_evals, seeds=args.seeds, depths=args.depths,
                     batch_size=args.batch_size, backend=args.backend, dtype=args.dtype,
                     progress=not args.no_progress, out=args.out, echo=print)
    print()
    print(result.table())
    print(f"\nresults and plots written to {args.out}/")
    return 0
