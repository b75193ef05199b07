"""The ``evoneuro`` command: ``evoneuro compare`` and ``evoneuro diagnose``.

The parsers live here and import the library lazily, so ``evoneuro --help`` is instant and
the library modules never import the command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence


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


def _parse_optimizers(text: str):
    from evoneuro.compare import parse_optimizers

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
                   default="adam,irprop+,sep-cmaes,snes,es,ga,random,readout,sklearn",
                   help="comma-separated names with optional parameters, e.g. 'adam:learning_rate=0.003,es:sigma=0.05,ga'")
    p.add_argument("--budget-evals", type=lambda v: int(float(v)), default=None,
                   help="sample-forward evaluations per run, e.g. 3e7; equal for every optimizer and "
                   "independent of the machine's load (3e7 when no budget is given)")
    p.add_argument("--budget-seconds", type=float, default=None,
                   help="wall-clock seconds per run, for timing studies (results then depend on the machine)")
    p.add_argument("--seeds", type=int, default=1, help="runs per optimizer (seeds 0, 1, ...)")
    p.add_argument("--depths", type=lambda s: [int(v) for v in s.split(",")], default=None,
                   help="depth sweep, e.g. 2,5,10,20 (width = first --hidden width)")
    p.add_argument("--batch-size", type=lambda v: v if v == "auto" else int(v), default="auto",
                   help="rows per step; auto = the full batch for Rprop and PSO, 256 for the others")
    p.add_argument("--backend", default="auto", choices=["auto", "numpy", "numba", "cupy"], help="evaluator backend")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="precision")
    p.add_argument("--n-jobs", type=_n_jobs, default=None, help="threads; default: the CPUs this process may use")
    p.add_argument("--out", type=Path, default=Path("compare-results"), help="folder for results and plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_run_compare)


def _run_compare(args) -> int:
    from evoneuro.compare import DEFAULT_BUDGET_EVALS, compare

    budget_evals, budget_seconds = args.budget_evals, args.budget_seconds
    if budget_evals is None and budget_seconds is None:
        budget_evals = DEFAULT_BUDGET_EVALS
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
        help="per-layer gradient norms, saturation and Jacobian spectrum at initialisation",
        description="Show the vanishing gradient of a deep net at initialisation: per-layer "
        "gradient norm, fraction of saturated units, input-output Jacobian singular values.",
    )
    _common(p)
    p.add_argument("--hidden", type=parse_hidden, default="32x20", help="hidden widths: 32x20 or 64,32")
    p.add_argument("--init", default="standard", help="auto (every unit standardised on the data), lsuv, standard, glorot, critical, ...")
    p.add_argument("--samples", type=int, default=256, help="training rows used")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    p.add_argument("--out", type=Path, default=Path("diagnose-results"), help="folder for the plot")
    p.set_defaults(func=_run_diagnose)


def _run_diagnose(args) -> int:
    import numpy as np

    from evoneuro.datasets import load_dataset
    from evoneuro.defaults import resolve_init
    from evoneuro.diagnostics import diagnose, net_label
    from evoneuro.network.spec import MLP

    hidden = args.hidden
    data = load_dataset(args.dataset, target=args.target)
    net = MLP(data.n_features, hidden, data.n_classes, activation=args.activation)
    X, y = data.X_train[: args.samples], data.y_train[: args.samples]
    theta = resolve_init(net, args.init, np.random.default_rng(args.seed), X)
    report = diagnose(net, theta, X, y)
    print(f"{net}, init={args.init!r}, {len(X)} samples of {data.name}")
    print(report.table())
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("(matplotlib is not installed: pip install 'evoneuro[plot]' for the plot)")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"diagnose_{args.activation}_{args.init}_{len(hidden)}layers.png"
    report.plot(path, title=f"{net_label(net)}, init={args.init}, {data.name}")
    print(f"plot written to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``evoneuro`` argument parser with its sub-commands."""
    from evoneuro import __version__

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
