"""Optimise any function of a weight vector, and score a network by a non-differentiable metric.

1. `en.minimize` on the 10-D Rosenbrock function with CMA-ES (pycma).
2. `en.NetworkFitness`: a small tanh net on the two-moons data, scored directly by its
   classification accuracy (a step function: no gradient exists), maximised by SNES.

Run: python examples/custom_fitness.py [--quick]
"""

import argparse

import numpy as np
from sklearn.datasets import make_moons

import evoneuro as en


def rosenbrock(x):
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def main(quick: bool = False) -> None:
    res = en.minimize(rosenbrock, np.zeros(10), optimizer="cmaes", optimizer_params={"sigma0": 0.5},
                      max_evals=500 if quick else 20_000, target=1e-10, random_state=0)
    print(f"Rosenbrock-10: f = {res.fun:.3e} after {res.n_evals} evaluations ({res.stop_reason})")

    X, y = make_moons(n_samples=400, noise=0.15, random_state=0)
    net = en.MLP(2, (8, 8), 2, activation="tanh")

    def accuracy(network):
        return float(np.mean(network(X).argmax(axis=1) == y))

    res = en.minimize(en.NetworkFitness(net, accuracy, maximize=True), optimizer="snes",
                      max_evals=200 if quick else 6_000, random_state=0)
    print(f"two moons, accuracy maximised directly: {100 * res.fun:.1f} % after {res.n_evals} evaluations")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny budgets (smoke test)")
    main(ap.parse_args().quick)
