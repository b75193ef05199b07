"""The ``evoneuro`` command: ``evoneuro compare``, ``evoneuro diagnose`` and ``evoneuro warmup``.

The parsers live here and import the library lazily, so ``evoneuro --help`` is instant and
the library modules never import the command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from evoneuro.backends import BACKENDS


def parse_hidden(text: str) -> tuple[int, ...]:
    """``"32x10"`` -> (32,)*10; ``"64,32,16"`` -> (64, 32, 16); ``""``/``"0"`` -> ()."""
    text = text.strip().lower()
    if text in ("", "0", "none"):
        return ()
    try:
        if "x" in text:
            width, depth = text.split("x")
            widths = (int(width),) * int(depth)
            ok = int(depth) >= 1
        else:
            widths = tuple(int(w) for w in text.split(","))
            ok = True
    except ValueError:
        ok = False
    if not ok or any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(
            f"--hidden must look like 32x10 (width x depth) or 64,32,16 with widths and depth >= 1 "
            f"(0 or none: no hidden layer); got {text!r}"
        )
    return widths


_DEFAULT_OPTIMIZERS = "adam,irprop+,sep-cmaes,snes,es,ga,random,readout,sklearn"


def _parse_optimizers(text: str):
    from evoneuro.bench.compare import parse_optimizers

    try:
        return parse_optimizers(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _n_jobs(text: str) -> int | None:
    from evoneuro._threads import check_n_jobs

    if text.strip().lower() in ("none", "all"):
        return None
    try:
        n = int(text)
        check_n_jobs(n)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be none, all, or a nonzero int (-1: all CPUs), got {text!r}") from None
    return n


def _int_at_least(minimum: int):
    """An argparse type: an int >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be an int >= {minimum}, got {text!r}")
        return value
    parse.__name__ = f"int >= {minimum}"
    return parse


def _number(what: str = "a finite number", above: float | None = None, at_least: float | None = None,
            cast=float):
    """An argparse type: a finite number, above ``above`` or at least ``at_least`` when given,
    returned as ``cast`` of it (``int`` for counts written like 3e7)."""
    bound = f" > {above:g}" if above is not None else f" >= {at_least:g}" if at_least is not None else ""

    def parse(text: str):
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        ok = (abs(value) < float("inf") and (above is None or value > above)
              and (at_least is None or value >= at_least))
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {what}{bound}, got {text!r}")
        return cast(value)

    parse.__name__ = f"{what}{bound}"
    return parse


_finite = _number()
_positive = _number(above=0)
_seconds = _number("a finite number of seconds", above=0)
_budget_evals = _number(at_least=1, cast=int)  # sample-forward evaluations, such as 3e7


def _batch_size(text: str) -> int | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be auto or an int >= 1, got {text!r}")
    return value


def _depths(text: str) -> list[int]:
    try:
        depths = [int(v) for v in text.split(",")]
    except ValueError:
        depths = []
    if not depths or any(d < 1 for d in depths):
        raise argparse.ArgumentTypeError(f"must be depths >= 1 separated by commas, e.g. 2,5,10,20; got {text!r}")
    return depths


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default; descriptions keep their line breaks."""


#: ``compare``'s flags for one study only, with their defaults: they are left out of the
#: namespace when not given (argparse.SUPPRESS), so one given for the other study is an error.
_DATASET_FLAGS = {"dataset": "digits", "target": None, "activation": "sigmoid", "init": "auto", "depths": None,
                  "batch_size": "auto", "dtype": "float32"}
_TASK_FLAGS = {"lag": 100, "cell": "lstm", "sequences": 1000}


def _common(p) -> None:
    p.add_argument("--dataset", default=argparse.SUPPRESS,
                   help="digits, iris, wine, breast_cancer, moons, circles, or a CSV path (with --target) "
                   "(default: digits)")
    p.add_argument("--target", default=argparse.SUPPRESS, help="label column of a CSV dataset")
    p.add_argument("--activation", default=argparse.SUPPRESS,
                   help="hidden activation, e.g. sigmoid, tanh, softsign (default: sigmoid)")


def _add_compare(sub) -> None:
    from evoneuro.optimizers.registry import available

    names = ", ".join(available())
    p = sub.add_parser(
        "compare", formatter_class=_Formatter,
        help="train gradient and gradient-free optimizers side by side on a deep saturating net",
        description="Train each optimizer on the same net, split, start and budget, and report test "
        "accuracy, training loss, seconds and sample-forward evaluations.\n\n"
        f"Optimizers: {names}, and sklearn (scikit-learn's MLPClassifier, as an outside reference).",
    )
    _common(p)
    p.add_argument("--hidden", type=parse_hidden, default="32x10", help="hidden widths: 32x10 or 64,32")
    p.add_argument("--init", default=argparse.SUPPRESS,
                   help="start of every optimizer: auto (every unit standardised on the data), lsuv, pretrain, glorot, "
                   "standard, he, orthogonal, critical (default: auto)")
    p.add_argument("--optimizers", type=_parse_optimizers,
                   default=_DEFAULT_OPTIMIZERS,
                   help="comma-separated names with optional parameters, e.g. 'adam:learning_rate=0.003,es:sigma=0.05,ga'; "
                   "alpha (weight decay, default 1e-4), input_noise, weight_noise and dropout are the run's "
                   "regularisation, e.g. 'adam:alpha=1e-3:dropout=0.1'")
    p.add_argument("--budget-evals", type=_budget_evals, default=None,
                   help="sample-forward evaluations per run, e.g. 3e7; equal for every optimizer and "
                   "independent of the machine's load (3e7 when no budget is given)")
    p.add_argument("--budget-seconds", type=_seconds, default=None,
                   help="wall-clock seconds per run, for timing studies (results then depend on the machine)")
    p.add_argument("--seeds", type=_int_at_least(1), default=1, help="runs per optimizer (seeds 0, 1, ...)")
    p.add_argument("--depths", type=_depths, default=argparse.SUPPRESS,
                   help="depth sweep, e.g. 2,5,10,20 (width = first --hidden width)")
    p.add_argument("--batch-size", type=_batch_size, default=argparse.SUPPRESS,
                   help="rows per step; auto (the default) = the full batch for Rprop, PSO and random search, 256 "
                   "for the others")
    p.add_argument("--backend", default="auto", choices=list(BACKENDS), help="evaluator backend")
    p.add_argument("--dtype", default=argparse.SUPPRESS, choices=["float32", "float64"],
                   help="precision (default: float32)")
    p.add_argument("--n-jobs", type=_n_jobs, default=None, help="threads; default: the CPUs this process may use")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="evaluate on the dask cluster of this scheduler (tcp://host:8786); the same table")
    p.add_argument("--executor", default=None, metavar="local:N",
                   help="evaluate on a dask LocalCluster of N worker processes started for the run; the same table")
    p.add_argument("--out", type=Path, default=Path("compare-results"), help="folder for results and plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--task", choices=["adding", "latch", "parity", "temporal_order", "two_sequence"], default=None,
                   help="instead of --dataset: a long-time-lag task of evoneuro.tasks, learnt by a recurrent net "
                   "(temporal_order: the paper's lengths 100-110, --lag 100 only)")
    p.add_argument("--lag", type=_int_at_least(2), default=argparse.SUPPRESS,
                   help="with --task: the time lag (sequence length) T (default: 100)")
    p.add_argument("--cell", choices=["lstm", "gru", "elman"], default=argparse.SUPPRESS,
                   help="with --task: the recurrent cell, --hidden gives its widths (default: lstm)")
    p.add_argument("--sequences", type=_int_at_least(1), default=argparse.SUPPRESS,
                   help="with --task: training sequences, test: half as many (default: 1000)")
    p.set_defaults(func=_run_compare, parser=p)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_optimizers(parser, specs, task: str | None) -> None:
    """Every ``--optimizers`` entry a known name whose parameters its class takes."""
    from evoneuro.bench.compare import split_params
    from evoneuro.optimizers.registry import available, get_optimizer
    from evoneuro.regularization import Regularization

    if not specs:
        parser.error("argument --optimizers: name at least one optimizer, e.g. adam,snes")
    for name, params in specs:
        try:
            if name == "sklearn":
                if task is not None:
                    raise ValueError("sklearn cannot train recurrent nets (scikit-learn has none); choose registry "
                                     "optimizers such as adam, irprop+, snes, es, random")
                from sklearn.neural_network import MLPClassifier

                MLPClassifier(**params)._validate_params()
                continue
            if name not in available():
                raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(available())}, sklearn")
            regularization, own = split_params(params)
            Regularization(**regularization)
            get_optimizer(name, **own)
        except (TypeError, ValueError) as exc:
            parser.error(f"argument --optimizers: {name}: {exc}")


def _check_compare(args) -> None:
    """Every ``compare`` argument checked before any run, as a usage error (exit status 2).

    Fills in the defaults of the flags that apply to the chosen study; a flag of the other
    study is an error, not ignored.
    """
    parser = args.parser
    study, other = (_TASK_FLAGS, _DATASET_FLAGS) if args.task is not None else (_DATASET_FLAGS, _TASK_FLAGS)
    given = [_flag(k) for k in other if hasattr(args, k)]
    if given:
        if args.task is not None:
            parser.error(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to a data set study "
                         f"(--dataset), not to --task {args.task}, which trains a recurrent net on its own "
                         "sequences (--hidden, --cell, --lag, --sequences)")
        parser.error(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} with --task only")
    for k, default in study.items():
        if not hasattr(args, k):
            setattr(args, k, default)
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"argument --out: {args.out} is a file; --out names a folder for the results")
    if args.task is not None:
        if not args.hidden:
            parser.error("argument --hidden: a recurrent net needs at least one layer, e.g. --hidden 32")
        from evoneuro.bench.compare_tasks import make_task

        try:  # the generator's own checks (a lag too short for the task), on two sequences
            make_task(args.task, args.lag, 2, 2, 0)
        except (TypeError, ValueError) as exc:
            parser.error(f"argument --lag: {exc}")
        if args.optimizers != _parse_optimizers(_DEFAULT_OPTIMIZERS):  # the default is replaced for tasks
            _check_optimizers(parser, args.optimizers, args.task)
        return
    from evoneuro.bench.datasets import DATASETS, load_dataset
    from evoneuro.network.activations import get_activation
    from evoneuro.network.init import INITS

    if args.dataset in DATASETS:
        if args.target is not None:
            parser.error(f"argument --target: names the label column of a CSV data set; --dataset {args.dataset} "
                         "has its own labels")
    else:
        try:
            load_dataset(args.dataset, target=args.target)
        except (TypeError, ValueError, OSError) as exc:
            parser.error(f"argument --dataset: {exc}")
    try:
        get_activation(args.activation)
    except (TypeError, ValueError) as exc:
        parser.error(f"argument --activation: {exc}")
    inits = ["auto", "lsuv", "pretrain", *INITS, "critical", "critical_orthogonal"]
    if args.init.lower() not in inits:
        parser.error(f"argument --init: must be one of {', '.join(inits)}; got {args.init!r}")
    if args.depths and not args.hidden:
        parser.error("argument --depths: a depth sweep repeats the first --hidden width; give one, e.g. --hidden 32")
    if any(name == "sklearn" for name, _ in args.optimizers):
        from evoneuro.bench.compare import _SKLEARN_ACTIVATIONS

        if str(args.activation).lower() not in _SKLEARN_ACTIVATIONS:
            parser.error(f"argument --activation: scikit-learn's MLPClassifier (--optimizers sklearn) has no "
                         f"{args.activation!r}; it takes {', '.join(sorted(_SKLEARN_ACTIVATIONS))}")
    _check_optimizers(parser, args.optimizers, None)


def _run_compare_task(args, budget_evals, budget_seconds) -> int:
    from evoneuro.bench.compare import environment
    from evoneuro.bench.compare_tasks import DEFAULT_TASK_OPTIMIZERS, compare_task, table, write

    optimizers = args.optimizers
    if optimizers == _parse_optimizers(_DEFAULT_OPTIMIZERS):  # the dataset study's list: not for RNNs
        optimizers = list(DEFAULT_TASK_OPTIMIZERS)
    hidden = args.hidden if args.hidden != parse_hidden("32x10") else (32,)  # a deep MLP default is not an RNN's
    print(f"evoneuro compare: task {args.task}, lag {args.lag}, {args.cell} {'x'.join(map(str, hidden))}; "
          f"{args.sequences} training sequences; budget {budget_evals:.3g} evaluations per run", flush=True)
    try:
        runs = compare_task(args.task, args.lag, cell=args.cell, hidden=hidden, optimizers=optimizers,
                            seeds=args.seeds, budget_evals=budget_evals, budget_seconds=budget_seconds,
                            n_train=args.sequences, n_test=max(2, args.sequences // 2), backend=args.backend,
                            n_jobs=args.n_jobs, echo=print)
    except (TypeError, ValueError) as exc:  # what only a run finds (checked arguments rule out the rest)
        print(f"evoneuro compare: error: {exc}", file=sys.stderr)
        return 2
    print()
    print(table(runs))
    write(runs, args.out, environment(args.backend, "float32", args.n_jobs))  # the task runs' precision
    print(f"\nresults written to {args.out}/results.json")
    return 0


def _dask_client(args):
    """A context giving the dask ``Client`` that ``--scheduler`` or ``--executor`` ask for, or None."""
    import contextlib

    if args.scheduler is None and args.executor is None:
        return contextlib.nullcontext(None)
    if args.scheduler is not None and args.executor is not None:
        args.parser.error("give --scheduler (a running cluster) or --executor local:N (a cluster for the run), "
                          "not both")
    if args.task is not None:
        args.parser.error("--scheduler and --executor apply to a data set study, not to --task")
    n = None
    if args.executor is not None:
        kind, _, count = args.executor.partition(":")
        if kind != "local" or not count.isdigit() or int(count) < 1:
            args.parser.error(f"argument --executor: expected local:N with N >= 1 worker processes, "
                              f"got {args.executor!r}")
        n = int(count)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        args.parser.error("--scheduler and --executor need dask.distributed: pip install 'evoneuro[dist]'")

    @contextlib.contextmanager
    def connected():
        if n is None:
            with Client(args.scheduler) as client:
                yield client
        else:
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                yield client

    return connected()


def _run_compare(args) -> int:
    from evoneuro.bench.compare import DEFAULT_BUDGET_EVALS, compare

    _check_compare(args)
    budget_evals, budget_seconds = args.budget_evals, args.budget_seconds
    if budget_evals is None and budget_seconds is None:
        budget_evals = DEFAULT_BUDGET_EVALS
    if args.task is not None:
        return _run_compare_task(args, budget_evals, budget_seconds)
    budget = " and ".join(filter(None, [f"{budget_evals:.3g} evaluations" if budget_evals else "",
                                        f"{budget_seconds:g} s" if budget_seconds else ""]))
    hidden = args.hidden
    optimizers = args.optimizers
    print(f"evoneuro compare: {args.dataset}, hidden {len(hidden)}x{hidden[0] if hidden else 0}, "
          f"{args.activation}, init {args.init}; budget {budget} per run", flush=True)
    try:
        with _dask_client(args) as client:
            result = compare(args.dataset, target=args.target, hidden=hidden, activation=args.activation,
                             init=args.init, optimizers=optimizers, budget_seconds=budget_seconds,
                             budget_evals=budget_evals, seeds=args.seeds, depths=args.depths,
                             batch_size=args.batch_size, backend=args.backend, dtype=args.dtype, n_jobs=args.n_jobs,
                             progress=not args.no_progress, out=args.out, echo=print, executor=client)
    except (TypeError, ValueError) as exc:  # what only a run finds (checked arguments rule out the rest)
        print(f"evoneuro compare: error: {exc}", file=sys.stderr)
        return 2
    print()
    print(result.table())
    print(f"\nresults and plots written to {args.out}/")
    return 0


def _add_diagnose(sub) -> None:
    p = sub.add_parser(
        "diagnose", formatter_class=_Formatter,
        help="gradient norms and saturation at initialisation: per layer, or per time step with --cell",
        description="Show the vanishing gradient at initialisation.\n\n"
        "An MLP on --dataset: per-layer gradient norm, fraction of saturated units,\n"
        "input-output Jacobian singular values.\n\n"
        "A recurrent net (--cell): the gradient norm with respect to the hidden state at every\n"
        "time step (and the LSTM's cell state) and the saturated units per step, on --samples\n"
        "random N(0, 1) sequences of --steps steps labelled by the sign of their first input\n"
        "(the loss needs step 1). Comma lists of cells and inits: one line each in one plot.",
    )
    p.add_argument("--dataset", default=argparse.SUPPRESS,
                   help="MLP: digits, iris, wine, breast_cancer, moons, circles, or a CSV path (with --target) "
                   "(default: digits)")
    p.add_argument("--target", default=argparse.SUPPRESS, help="label column of a CSV dataset")
    p.add_argument("--activation", default=argparse.SUPPRESS,
                   help="hidden activation, e.g. sigmoid, tanh, softsign (default: sigmoid for an MLP, tanh with --cell)")
    p.add_argument("--hidden", type=parse_hidden, default=argparse.SUPPRESS,
                   help="hidden widths: 32x20 or 64,32 (default: 32x20 for an MLP, 32 with --cell)")
    p.add_argument("--init", default=argparse.SUPPRESS,
                   help="MLP: auto (every unit standardised on the data), lsuv, standard, glorot, critical, ...; "
                   "with --cell a comma list of orthogonal, identity, critical, glorot, ... "
                   "(default: standard for an MLP, orthogonal with --cell)")
    p.add_argument("--cell", type=_parse_cells, default=None,
                   help="diagnose a recurrent net through time: elman, lstm, gru, or a comma list")
    p.add_argument("--steps", type=_int_at_least(1), default=argparse.SUPPRESS,
                   help="time steps per sequence (with --cell; default: 100)")
    p.add_argument("--inputs", type=_int_at_least(1), default=argparse.SUPPRESS,
                   help="features per time step (with --cell; default: 1)")
    p.add_argument("--forget-bias", type=_finite, default=argparse.SUPPRESS,
                   help="LSTM forget-gate bias (with --cell; default: 1.0)")
    p.add_argument("--gain", type=_positive, default=argparse.SUPPRESS,
                   help="factor > 0 on every initial weight (with --cell; default: 1.0)")
    p.add_argument("--samples", type=_int_at_least(1), default=256,
                   help="training rows (sequences with --cell) used")
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="seed of the initial weights (and of the sequences)")
    p.add_argument("--out", type=Path, default=Path("diagnose-results"),
                   help="folder for the plot, or the plot's file name (.png, .pdf, .svg)")
    p.set_defaults(func=_run_diagnose, parser=p)


def _parse_cells(text: str) -> list[str]:
    from evoneuro.network.rnn import GATES

    cells = [c.strip().lower() for c in text.split(",") if c.strip()]
    bad = [c for c in cells if c not in GATES]
    if not cells or bad:
        raise argparse.ArgumentTypeError(f"--cell must be {', '.join(GATES)} or a comma list of them; got {text!r}")
    return cells


def _plot_path(out: Path, name: str) -> Path:
    """``out`` itself when it names a figure file, else ``out/name``; its folder created."""
    path = out if out.suffix.lower() in (".png", ".pdf", ".svg") else out / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("(matplotlib is not installed: pip install 'evoneuro[plot]' for the plot)")
        return False
    return True


_MLP_FLAGS = {"dataset": "digits", "target": None}
_CELL_FLAGS = {"steps": 100, "inputs": 1, "forget_bias": 1.0, "gain": 1.0}


def _check_diagnose(args) -> None:
    """A flag of the other kind of net (MLP or ``--cell``) is a usage error; fills in the defaults."""
    parser = args.parser
    study, other = (_CELL_FLAGS, _MLP_FLAGS) if args.cell else (_MLP_FLAGS, _CELL_FLAGS)
    given = [_flag(k) for k in other if hasattr(args, k)]
    if given:
        parser.error(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} "
                     + ("to an MLP on --dataset, not with --cell" if args.cell else "with --cell only"))
    for k, default in study.items():
        if not hasattr(args, k):
            setattr(args, k, default)
    if args.cell:
        return
    from evoneuro.bench.datasets import DATASETS, load_dataset

    if args.dataset in DATASETS and args.target is not None:
        parser.error(f"argument --target: names the label column of a CSV data set; --dataset {args.dataset} "
                     "has its own labels")
    if args.dataset not in DATASETS:
        try:
            load_dataset(args.dataset, target=args.target)
        except (TypeError, ValueError, OSError) as exc:
            parser.error(f"argument --dataset: {exc}")


def _run_diagnose(args) -> int:
    _check_diagnose(args)
    if args.cell:
        return _run_diagnose_steps(args)
    import numpy as np

    from evoneuro.bench.datasets import load_dataset
    from evoneuro.training.starts import resolve_init
    from evoneuro.diagnostics import diagnose, net_label
    from evoneuro.network.spec import MLP

    hidden, init = getattr(args, "hidden", (32,) * 20), getattr(args, "init", "standard")
    activation = getattr(args, "activation", "sigmoid")
    data = load_dataset(args.dataset, target=args.target)
    X, y = data.X_train[: args.samples], data.y_train[: args.samples]
    try:
        net = MLP(data.n_features, hidden, data.n_classes, activation=activation)
        theta = resolve_init(net, init, np.random.default_rng(args.seed), X)
        report = diagnose(net, theta, X, y)
    except (TypeError, ValueError) as exc:  # --activation, --init, or too few --samples for init=auto
        print(f"evoneuro diagnose: error: {exc}", file=sys.stderr)
        return 2
    print(f"{net}, init={init!r}, {len(X)} samples of {data.name}")
    print(report.table())
    if not _has_matplotlib():
        return 0
    path = _plot_path(args.out, f"diagnose_{activation}_{init}_{len(hidden)}layers.png")
    report.plot(path, title=f"{net_label(net)}, init={init}, {data.name}")
    print(f"plot written to {path}")
    return 0


def _run_diagnose_steps(args) -> int:
    """Diagnostics through time of every (cell, init) pair on one batch of random sequences."""
    import numpy as np

    from evoneuro.diagnostics import diagnose, net_label, plot_through_time
    from evoneuro.network.rnn import RNN

    cells, hidden = args.cell, getattr(args, "hidden", (32,))
    inits = [s.strip() for s in getattr(args, "init", "orthogonal").split(",") if s.strip()]
    X = np.random.default_rng(args.seed).normal(size=(args.samples, args.steps, args.inputs))
    y = (X[:, 0, 0] > 0).astype(np.int64)  # remember the sign of the first input
    reports = {}
    try:
        for cell in cells:
            net = RNN(args.inputs, hidden, 2, cell=cell, activation=getattr(args, "activation", "tanh"))
            for init in inits:
                theta = net.init(np.random.default_rng(args.seed), init, gain=args.gain, forget_bias=args.forget_bias)
                report = diagnose(net, theta, X, y)
                print(f"\n{net}, init={init!r}, {args.samples} sequences of {args.steps} steps")
                print(report.table())
                label = ", ".join(([cell] if len(cells) > 1 else []) + ([init] if len(inits) > 1 else []))
                reports[label or cell] = report
    except ValueError as exc:
        print(f"evoneuro diagnose: error: {exc}", file=sys.stderr)
        return 2
    if not _has_matplotlib():
        return 0
    path = _plot_path(args.out, f"diagnose_{'+'.join(cells)}_{'+'.join(inits)}_T{args.steps}.png")
    fb = f", forget bias {args.forget_bias:g}" if "lstm" in cells else ""
    gain = f", gain {args.gain:g}" if args.gain != 1 else ""
    plot_through_time(reports, path, title=f"{net_label(net)}, init {'/'.join(inits)}{gain}{fb}; "
                      f"T = {args.steps}, {args.samples} sequences labelled by the sign of x_1")
    print(f"\nplot written to {path}")
    return 0


def _add_warmup(sub) -> None:
    p = sub.add_parser(
        "warmup", formatter_class=_Formatter,
        help="compile the Numba kernels now, once, so that no later fit waits for them",
        description="Compile the Numba kernels of the network kinds for this CPU and cache them on disk "
        "(NUMBA_CACHE_DIR, else next to the package): every later fit, minimize and predict starts at "
        "once. Takes tens of seconds the first time, well under a second once cached.",
    )
    p.add_argument("--kinds", default="mlp,rnn",
                   help="comma-separated: mlp, rnn (the Elman, LSTM and GRU cells), pyramid, or single "
                   "cells elman, lstm, gru")
    p.add_argument("--dtypes", default="float32",
                   help="comma-separated float32, float64 (float32: the estimators' precision)")
    p.set_defaults(func=_run_warmup, parser=p)


def _run_warmup(args) -> int:
    import time

    from evoneuro.backends import numba_available
    from evoneuro.evaluator import warmup

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    if not numba_available():
        print("evoneuro warmup: Numba is not installed: nothing to compile (the NumPy backend runs)")
        return 0
    t0 = time.perf_counter()
    try:
        spent = warmup(kinds, dtypes)
    except (TypeError, ValueError) as exc:
        args.parser.error(str(exc))
    for kind, seconds in spent.items():
        print(f"{kind:7} {'compiled in %.1f s' % seconds if seconds else 'already in the disk cache'}")
    print(f"evoneuro warmup: {', '.join(spent)} ready ({', '.join(dtypes)}) in {time.perf_counter() - t0:.1f} s")
    return 0


# --- evoneuro control (issue 27) -----------------------------------------------------------

def _add_control(sub) -> None:
    p = sub.add_parser(
        "control", formatter_class=_Formatter,
        help="neuroevolution of a policy network on a control task (gymnasium or the built-in cart-poles)",
        description="Search a policy network's weights for the largest mean episode return, the whole "
        "population stepping through a vectorised environment in lockstep (evoneuro.ControlProblem). "
        "Writes the return curve (returns.png) and the best policy (policy.npz, replayed by "
        "evoneuro.replay) to --out.",
    )
    p.add_argument("--env", default="CartPole-v1",
                   help="a gymnasium id, or a built-in cart-pole: single-pole, single-pole-novel, double-pole, "
                   "double-pole-novel (without velocities: a recurrent policy by default)")
    p.add_argument("--optimizer", default="snes", help="a gradient-free registry name")
    p.add_argument("--hidden", type=parse_hidden, default=None,
                   help="hidden layers, e.g. 8 or 16,16 (default: 8 for gymnasium, none for the cart-poles; "
                   "3 recurrent units without velocities)")
    p.add_argument("--cell", choices=["none", "elman", "lstm", "gru"], default=None,
                   help="a recurrent policy with this cell (default: elman without velocities, else none)")
    p.add_argument("--episodes", type=_int_at_least(1), default=1, help="episodes per member and generation")
    p.add_argument("--max-steps", type=_int_at_least(1), default=None, help="episode cap (default: the env's)")
    p.add_argument("--max-evals", type=_int_at_least(1), default=20_000, help="budget in episodes")
    p.add_argument("--target", type=_number(), default=None, help="stop at this mean return")
    p.add_argument("--popsize", type=_int_at_least(2), default=None)
    p.add_argument("--scale", type=_number(above=0.0), default=None,
                   help="search scale of the start (default: evoneuro.training.defaults.CONTROL_SEARCH_SCALE)")
    p.add_argument("--no-obs-norm", action="store_true", help="feed raw observations (no running statistics)")
    p.add_argument("--async", dest="async_env", action="store_true",
                   help="gymnasium: one worker process per episode (for slow simulators)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("evoneuro-control"), help="directory for the plot and policy")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_run_control, parser=p)


def _run_control(args) -> int:
    from evoneuro.control import BUILTIN, ControlProblem, make_env, plot_returns, save_policy
    from evoneuro.network import MLP, RNN
    from evoneuro.training.defaults import control_params
    from evoneuro.training.minimize import minimize

    builtin = args.env in BUILTIN
    try:
        env = make_env(args.env, **({} if builtin else {"vectorization": "async" if args.async_env else "sync"}))
        cell = args.cell or ("elman" if builtin and not env.velocities else "none")
        hidden = args.hidden if args.hidden is not None else ((3,) if cell != "none" else ((8,) if not builtin else ()))
        if cell != "none":
            net = RNN(env.observation_size, hidden or (3,), env.n_actions, cell=cell, output="linear")
        else:
            net = MLP(env.observation_size, hidden, env.n_actions, activation="tanh", output="linear")
        prob = ControlProblem(env, net, episodes=args.episodes, max_steps=args.max_steps,
                              obs_norm=not args.no_obs_norm)
        params = control_params(args.optimizer, args.scale)
    except (ImportError, TypeError, ValueError) as exc:
        args.parser.error(str(exc))
    import numpy as np

    res = minimize(prob, np.zeros(net.n_params), optimizer=args.optimizer, optimizer_params=params,
                   max_evals=args.max_evals, target=args.target, popsize=args.popsize, random_state=args.seed,
                   progress=not args.no_progress)
    args.out.mkdir(parents=True, exist_ok=True)
    policy = save_policy(args.out / "policy.npz", prob, res.x)
    lines = [f"evoneuro control: {env.name}, {net!r}, {args.optimizer}",
             f"best mean return {res.fun:.4g} after {res.n_evals:,} episodes ({prob.env_steps:,} steps, "
             f"{res.seconds:.1f} s; {res.stop_reason})", f"policy: {policy}"]
    if _has_matplotlib():
        lines.append(f"return curve: {plot_returns(res, args.out / 'returns.png', title=f'{args.optimizer} on {env.name}')}")
    print("\n".join(lines))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``evoneuro`` argument parser with its sub-commands."""
    from evoneuro._version import __version__

    parser = argparse.ArgumentParser(
        prog="evoneuro",
        description="Gradient-free and hybrid training of deep saturating networks.",
    )
    parser.add_argument("--version", action="version", version=f"evoneuro {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_compare(sub)
    _add_diagnose(sub)
    _add_warmup(sub)
    _add_control(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``evoneuro`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
