"""Per-layer gradient norms of a 20-layer net on digits at standard, critical and LSUV init.

Prints one table per activation (gradient norm of every layer and the ratio between the
first and the last layer) and writes ``docs/img/init_gradients.png``.

Run: python benchmarks/init_gradients.py [--depth 20] [--width 16] [--out docs/img]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import evoneuro as en
from evoneuro.bench.datasets import load_dataset
from evoneuro.diagnostics import layer_gradient_norms, saturation
from evoneuro.training.lsuv import lsuv_init

SCHEMES = ("standard", "glorot", "critical", "critical_orthogonal", "lsuv")


def weights(net, scheme: str, rng, X):
    if scheme == "lsuv":
        return lsuv_init(net, X, rng)
    return net.init(rng, scheme)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--activations", default="sigmoid,tanh")
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    args = ap.parse_args(argv)

    d = load_dataset("digits")
    X, y = d.X_train[: args.samples], d.y_train[: args.samples]
    acts = args.activations.split(",")
    results = {}
    for act in acts:
        net = en.MLP(64, (args.width,) * args.depth, 10, activation=act)
        print(f"\n{act}: 64-[{args.width}x{args.depth}]-10, {len(X)} digits rows, geometric mean over {args.seeds} seeds")
        print(f"{'init':<20} {'|g| layer 1':>12} {'|g| last':>10} {'first/last':>11} {'saturated':>10}")
        for scheme in SCHEMES:
            norms, sats = [], []
            for seed in range(args.seeds):
                theta = weights(net, scheme, np.random.default_rng(seed), X)
                norms.append(layer_gradient_norms(net, theta, X, y))
                sats.append(saturation(net, theta, X).mean())
            g = np.exp(np.log(np.array(norms)).mean(axis=0))
            results[act, scheme] = g
            print(f"{scheme:<20} {g[0]:>12.2e} {g[-1]:>10.2e} {g[0] / g[-1]:>11.2e} {100 * np.mean(sats):>9.1f}%")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(acts), figsize=(6 * len(acts), 4), squeeze=False)
    for ax, act in zip(axes[0], acts):
        for i, scheme in enumerate(SCHEMES):
            g = results[act, scheme]
            ax.semilogy(np.arange(1, len(g) + 1), g, "o-", ms=3, label=scheme, color=f"C{i}")
        ax.set(xlabel="layer (1 = input side)", ylabel="‖∂L/∂W‖ at initialisation",
               title=f"{act}, 64-[{args.width}x{args.depth}]-10, digits")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "init_gradients.png"
    fig.savefig(path, dpi=110)
    print(f"\nplot written to {path}")


if __name__ == "__main__":
    main()
