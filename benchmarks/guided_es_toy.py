"""Guided ES on the perturbed least-squares toy (Fig. 1 of the paper).

f(x) = ‖Ax − b‖² / (2m) with A (m×n) = (2000×1000) and b Gaussian. The optimizers only
see a *surrogate* gradient biased by its own norm,

    ∇̃f(x) = ∇f(x) + (u_bias + u_noise) ‖∇f(x)‖,

with ``u_bias`` a fixed vector of norm 1 and ``u_noise`` a fresh random vector of norm
``--noise`` at every call. Gradient descent on ∇̃f stalls where the bias balances the
gradient; vanilla ES ignores ∇̃f and is slow; guided ES (α = 0.5, k = 1) uses ∇̃f as a
search direction and converges on the true loss. Reported: the excess loss f(x) − f(x*)
after the last iteration, x* the least-squares solution — the quantity on the paper's
Fig. 1.

Settings follow the authors' code (brain-research/guided-evolutionary-strategies). The
problem is its 2020 notebook's (``..._Demo_Jax.ipynb``): seed 0, no gradient noise,
x0 = 0; there gradient descent (learning rate 5e-3) stalls at 0.053, the issue's figure.
Both ES use σ = 0.1, learning rate 0.2, one antithetic pair, 10,000 iterations; vanilla
ES β = 1, guided ES β = 2 as in the 2018 notebook (``..._Demo.ipynb``, the paper's; the
2020 one uses β = 1 for both, ``--beta 1``, which lands guided ES near 0.023 instead).
The 2018 notebook's problem adds gradient noise of norm 1.5 on seed 2:
``--noise 1.5 --problem-seed 2``. Both ES runs are the library's
:class:`evoneuro.optimizers.guided_es.GuidedES` (``alpha=1`` for vanilla ES) driven
through ask/tell; gradient descent is the plain loop ``x ← x − lr ∇̃f(x)``.

Usage::

    python benchmarks/guided_es_toy.py              # the paper's setting (~1-2 min)
    python benchmarks/guided_es_toy.py --quick      # 200×100, 3,000 iterations

On a busy machine, ``OPENBLAS_NUM_THREADS=1`` speeds it up: every product is a
matrix-vector one.

References
----------
Maheswaranathan, Metz, Tucker, Choi, Sohl-Dickstein (2019). Guided evolutionary
strategies: augmenting random search with surrogate gradients. ICML.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from evoneuro.optimizers.guided_es import GuidedES

# Issue #7's targets (the paper's Fig. 1 at 10,000 iterations).
TARGETS = {"gradient descent": 0.053, "vanilla ES": 0.042, "guided ES": 0.021}


class PerturbedLeastSquares:
    """The toy: true loss for any population, a biased noisy gradient for one point.

    Computed through the Gram matrix ``H = AᵀA/m`` (f(x) = ½xᵀHx − cᵀx + ½bᵀb/m,
    c = Aᵀb/m): the same numbers at half the cost of products with ``A``.
    """

    def __init__(self, m: int = 2000, n: int = 1000, seed: int = 0, bias: float = 1.0,
                 noise: float = 0.0, noise_seed: int = 0) -> None:
        rs = np.random.RandomState(seed)  # the notebooks' generator: their exact problem
        A = rs.randn(m, n)
        b = rs.randn(m)
        u = rs.randn(n)
        self.bias_dir = bias * u / np.linalg.norm(u)
        self.noise = noise
        self.noise_rng = np.random.default_rng(noise_seed)
        self.m, self.n = m, n
        self.H = A.T @ A / m
        self.c = A.T @ b / m
        self.f0 = 0.5 * float(b @ b) / m
        x_star = np.linalg.lstsq(A, b, rcond=None)[0]
        self.f_star = 0.5 * float(np.sum((A @ x_star - b) ** 2)) / m

    def loss(self, Theta: np.ndarray) -> np.ndarray:
        return 0.5 * np.einsum("ij,ij->i", Theta @ self.H, Theta) - Theta @ self.c + self.f0

    def excess(self, x: np.ndarray) -> float:
        return float(self.loss(x[None])[0]) - self.f_star

    def surrogate(self, x: np.ndarray) -> np.ndarray:
        grad = self.H @ x - self.c
        g = np.linalg.norm(grad)
        noisy = self.bias_dir * g
        if self.noise:
            u = self.noise_rng.standard_normal(self.n)
            noisy = noisy + (self.noise * g / np.linalg.norm(u)) * u
        return grad + noisy


def run_gradient_descent(toy: PerturbedLeastSquares, iterations: int, lr: float) -> np.ndarray:
    x = np.zeros(toy.n)
    for _ in range(iterations):
        x -= lr * toy.surrogate(x)
    return x


def run_es(toy: PerturbedLeastSquares, iterations: int, seed: int, **params) -> np.ndarray:
    opt = GuidedES(surrogate=toy.surrogate, **params).initialize(np.zeros(toy.n), np.random.default_rng(seed))
    for _ in range(iterations):
        Theta = opt.ask()
        opt.tell(Theta, toy.loss(Theta))
    return opt.x


def main(argv=None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=None, help="default 10000 (3000 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a 200x100 problem, for a smoke run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the ES samples and gradient noise")
    parser.add_argument("--noise", type=float, default=0.0, help="norm of the gradient noise (2018: 1.5)")
    parser.add_argument("--problem-seed", type=int, default=0, help="seed of A, b and the bias (2018: 2)")
    parser.add_argument("--beta", type=float, default=2.0, help="guided ES's beta (2020 notebook: 1)")
    args = parser.parse_args(argv)
    m, n = (200, 100) if args.quick else (2000, 1000)
    iterations = args.iterations or (3000 if args.quick else 10_000)

    toy = PerturbedLeastSquares(m, n, seed=args.problem_seed, noise=args.noise, noise_seed=args.seed)
    runs = {
        "gradient descent": lambda: run_gradient_descent(toy, iterations, lr=5e-3),
        "vanilla ES": lambda: run_es(toy, iterations, args.seed, sigma=0.1, alpha=1.0, beta=1.0,
                                     learning_rate=0.2),
        "guided ES": lambda: run_es(toy, iterations, args.seed, sigma=0.1, alpha=0.5, beta=args.beta,
                                    k=1, learning_rate=0.2),
    }
    print(f"perturbed least squares: A {m}x{n}, {iterations} iterations, noise {args.noise:g}, "
          f"problem seed {args.problem_seed}, f(0) - f* = {toy.excess(np.zeros(n)):.4f}")
    print(f"{'method':<18} {'excess loss':>12} {'target':>8} {'seconds':>8}")
    results = {}
    for name, run in runs.items():
        t0 = time.perf_counter()
        results[name] = toy.excess(run())
        paper = not args.quick and iterations == 10_000 and args.noise == 0 and args.problem_seed == 0
        target = f"{TARGETS[name]:.3f}" if paper else "-"
        print(f"{name:<18} {results[name]:>12.4f} {target:>8} {time.perf_counter() - t0:>8.1f}")
    g = results["guided ES"]
    print(f"ratios: gradient descent / guided ES = {results['gradient descent'] / g:.2f}, "
          f"vanilla ES / guided ES = {results['vanilla ES'] / g:.2f}")
    return results


if __name__ == "__main__":
    main()
