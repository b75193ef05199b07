"""Evaluate a population of deep sigmoid networks in one call, and look at the gradients.

Run: python examples/evaluate_population.py
"""

import numpy as np
from sklearn.datasets import load_digits

import evoneuro as en


def main(n_members: int = 16) -> None:
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    net = en.MLP(n_inputs=64, hidden=(32,) * 10, n_outputs=10, activation="sigmoid", output="softmax")
    rng = np.random.default_rng(0)
    Theta = net.init_population(n_members, rng, scheme="glorot")
    ev = en.Evaluator(net, backend="auto", dtype="float32")

    losses, grads = ev.loss_and_grad(Theta, X[:256], y[:256])
    print(f"{net}\n{net.n_params} parameters, backend={ev.backend}")
    print(f"losses of {n_members} members: min {losses.min():.4f}, mean {losses.mean():.4f}")
    print("mean |gradient| per layer (input layer first): the vanishing gradient")
    for i, s in enumerate(net.layers):
        g = np.abs(grads[:, s.w_start : s.w_end]).mean()
        print(f"  layer {i + 1:2d}  {g:.2e}")


if __name__ == "__main__":
    main()
