"""The ``evoneuro`` command: ``evoneuro compare`` and ``evoneuro diagnose``.

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
            return (int(width),) * int(depth)
        return tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden must look like 32x10 (width x depth) or 64,32,16; got {text!r}"
        ) from None


_DEFAULT_OPTIMIZERS = "adam,irprop+,sep-cmaes,snes,es,ga,random,readout,sklearn"


def _parse_optimizers(text: str):
    from evoneuro.bench.compare import parse_optimizers

    try:
        return parse_optimizers(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _n_jobs(text: str) -> int | None:
    return None if text.lower() in ("none", "all") else int(text)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default; descriptions keep their line breaks."""


def _common(p) -> None:
    p.add_argument("--dataset", default="digits",
                   help="digits, iris, wine, breast_cancer, moons, circles, or a CSV path (with --target)")
    p.add_argument("--target", default=None, help="target column of a CSV dataset")
    p.add_argument("--activation", default="sigmoid", help="hidden activation, e.g. sigmoid, tanh, softsign")


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
    p.add_argument("--init", default="auto",
                   help="start of every optimizer: auto (every unit standardised on the data), lsuv, glorot, standard, he, orthogonal, critical")
    p.add_argument("--optimizers", type=_parse_optimizers,
                   default=_DEFAULT_OPTIMIZERS,
                   help="comma-separated names with optional parameters, e.g. 'adam:learning_rate=0.003,es:sigma=0.05,ga'; "
                   "alpha (weight decay, default 1e-4), input_noise, weight_noise and dropout are the run's "
                   "regularisation, e.g. 'adam:alpha=1e-3:dropout=0.1'")
    p.add_argument("--budget-evals", type=lambda v: int(float(v)), default=None,
                   help="sample-forward evaluations per run, e.g. 3e7; equal for every optimizer and "
                   "independent of the machine's load (3e7 when no budget is given)")
    p.add_argument("--budget-seconds", type=float, default=None,
                   help="wall-clock seconds per run, for timing studies (results then depend on the machine)")
    p.add_argument("--seeds", type=int, default=1, help="runs per optimizer (seeds 0, 1, ...)")
    p.add_argument("--depths", type=lambda s: [int(v) for v in s.split(",")], default=None,
                   help="depth sweep, e.g. 2,5,10,20 (width = first --hidden width)")
    p.add_argument("--batch-size", type=lambda v: v if v == "auto" else int(v), default="auto",
                   help="rows per step; auto = the full batch for Rprop, PSO and random search, 256 for the others")
    p.add_argument("--backend", default="auto", choices=list(BACKENDS), help="evaluator backend")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="precision")
    p.add_argument("--n-jobs", type=_n_jobs, default=None, help="threads; default: the CPUs this process may use")
    p.add_argument("--out", type=Path, default=Path("compare-results"), help="folder for results and plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--task", choices=["adding", "two_sequence", "latch", "parity"], default=None,
                   help="instead of --dataset: a long-time-lag task of evoneuro.tasks, learnt by a recurrent net")
    p.add_argument("--lag", type=int, default=100, help="with --task: the time lag (sequence length) T")
    p.add_argument("--cell", choices=["lstm", "gru", "elman"], default="lstm",
                   help="with --task: the recurrent cell (--hidden gives its widths)")
    p.add_argument("--sequences", type=int, default=1000, help="with --task: training sequences (test: half as many)")
    p.set_defaults(func=_run_compare)


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
    except ValueError as exc:  # a lag too short for the task, an optimizer that cannot train an RNN
        print(f"evoneuro compare: error: {exc}", file=sys.stderr)
        return 2
    print()
    print(table(runs))
    write(runs, args.out, environment(args.backend, args.dtype, args.n_jobs))
    print(f"\nresults written to {args.out}/results.json")
    return 0


def _run_compare(args) -> int:
    from evoneuro.bench.compare import DEFAULT_BUDGET_EVALS, compare

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
    result = compare(args.dataset, target=args.target, hidden=hidden, activation=args.activation,
                     init=args.init, optimizers=optimizers, budget_seconds=budget_seconds,
                     budget_evals=budget_evals, seeds=args.seeds, depths=args.depths,
                     batch_size=args.batch_size, backend=args.backend, dtype=args.dtype, n_jobs=args.n_jobs,
                     progress=not args.no_progress, out=args.out, echo=print)
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
    p.add_argument("--dataset", default="digits",
                   help="MLP: digits, iris, wine, breast_cancer, moons, circles, or a CSV path (with --target)")
    p.add_argument("--target", default=None, help="target column of a CSV dataset")
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
    p.add_argument("--steps", type=int, default=100, help="time steps per sequence (with --cell)")
    p.add_argument("--inputs", type=int, default=1, help="features per time step (with --cell)")
    p.add_argument("--forget-bias", type=float, default=1.0, help="LSTM forget-gate bias (with --cell)")
    p.add_argument("--gain", type=float, default=1.0, help="factor on every initial weight (with --cell)")
    p.add_argument("--samples", type=int, default=256, help="training rows (sequences with --cell) used")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights (and of the sequences)")
    p.add_argument("--out", type=Path, default=Path("diagnose-results"),
                   help="folder for the plot, or the plot's file name (.png, .pdf, .svg)")
    p.set_defaults(func=_run_diagnose)


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


def _run_diagnose(args) -> int:
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
    net = MLP(data.n_features, hidden, data.n_classes, activation=activation)
    X, y = data.X_train[: args.samples], data.y_train[: args.samples]
    theta = resolve_init(net, init, np.random.default_rng(args.seed), X)
    report = diagnose(net, theta, X, y)
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
