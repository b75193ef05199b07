"""The ``evoneuro`` command: ``evoneuro compare`` and ``evoneuro diagnose``."""

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


def _add_diagnose(sub) -> None:
    p = sub.add_parser(
        "diagnose",
        help="per-layer gradient norms, saturation and Jacobian spectrum at initialisation",
        description="Show the vanishing gradient of a deep net at initialisation: per-layer "
        "gradient norm, fraction of saturated units, input-output Jacobian singular values.",
    )
    p.add_argument("--dataset", default="digits")
    p.add_argument("--target", default=None, help="target column for a CSV dataset")
    p.add_argument("--hidden", type=parse_hidden, default=parse_hidden("32x20"))
    p.add_argument("--activation", default="sigmoid")
    p.add_argument("--init", default="standard")
    p.add_argument("--samples", type=int, default=256, help="training rows used")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("diagnose-results"))
    p.set_defaults(func=_run_diagnose)


def _run_diagnose(args) -> int:
    import numpy as np

    from evoneuro.datasets import load_dataset
    from evoneuro.diagnostics import diagnose, net_label
    from evoneuro.network.lsuv import initial_weights
    from evoneuro.network.spec import MLP

    data = load_dataset(args.dataset, target=args.target)
    net = MLP(data.n_features, args.hidden, data.n_classes, activation=args.activation)
    X, y = data.X_train[: args.samples], data.y_train[: args.samples]
    theta = initial_weights(net, args.init, np.random.default_rng(args.seed), X)
    report = diagnose(net, theta, X, y)
    print(f"{net}, init={args.init!r}, {len(X)} samples of {data.name}")
    print(report.table())
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("(matplotlib is not installed: pip install 'evoneuro[plot]' for the plot)")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"diagnose_{args.activation}_{args.init}_{len(args.hidden)}layers.png"
    report.plot(path, title=f"{net_label(net)}, init={args.init}, {data.name}")
    print(f"plot written to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evoneuro",
        description="Gradient-free and hybrid training of deep saturating networks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    try:
        from evoneuro.compare import add_compare_parser
    except ImportError:
        pass
    else:
        add_compare_parser(sub)
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
