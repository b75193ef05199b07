"""Evaluate a population of deep sigmoid networks in one call, and look at the gradients.

Run: python examples/evaluate_population.py [--quick]
"""

import argparse

import numpy as np
from sklearn.datasets import load_digits

import evoneuro as en


def main(n_members: int = 16, n_rows: int = 256) -> None:
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    net = en.MLP(n_inputs=64, hidden=(32,) * 10, n_outputs=10, activation="sigmoid", output="softmax")
    rng = np.random.default_rng(0)
    Theta = net.init_population(n_members, rng, scheme="glorot")
    ev = en.Evaluator(net, backend="auto", dtype="float32")

    losses, grads = ev.loss_and_grad(Theta, X[:n_rows], y[:n_rows])
    print(f"{net}\n{net.n_params} parameters, backend={ev.backend}")
    print(f"losses of {n_members} members: min {losses.min():.4f}, mean {losses.mean():.4f}")
    print("mean |gradient| per layer (input layer first): the vanishing gradient")
    for i, s in enumerate(net.layers):
        g = np.abs(grads[:, s.w_start : s.w_end]).mean()
        print(f"  layer {i + 1:2d}  {g:.2e}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a tiny population (smoke test)")
    args = ap.parse_args()
    main(n_members=2, n_rows=32) if args.quick else main()
