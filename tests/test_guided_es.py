"""Guided ES: its sampling distribution, its ask/tell phases, the paper's toy, a real net."""

import pickle

import numpy as np
import pytest

import evoneuro as en
from evoneuro.optimizers import get_optimizer
from evoneuro.optimizers.guided_es import GuidedES


class _Toy:
    """A small perturbed least-squares problem (the paper's Fig. 1, 200x100)."""

    def __init__(self, m=200, n=100, seed=0):
        rs = np.random.RandomState(seed)
        self.A, self.b = rs.randn(m, n), rs.randn(m)
        u = rs.randn(n)
        self.bias = u / np.linalg.norm(u)
        x_star = np.linalg.lstsq(self.A, self.b, rcond=None)[0]
        self.f_star = self.loss(x_star[None])[0]

    def loss(self, Theta):
        r = Theta @ self.A.T - self.b
        return 0.5 * np.einsum("ij,ij->i", r, r) / len(self.b)

    def surrogate(self, x):
        g = self.A.T @ (self.A @ x - self.b) / len(self.b)
        return g + self.bias * np.linalg.norm(g)  # biased by its own norm

    def excess(self, x):
        return self.loss(x[None])[0] - self.f_star


def _run_es(toy, iterations, seed, **params):
    opt = GuidedES(surrogate=toy.surrogate, **params).initialize(np.zeros(toy.A.shape[1]),
                                                                 np.random.default_rng(seed))
    for _ in range(iterations):
        Theta = opt.ask()
        opt.tell(Theta, toy.loss(Theta))
    return toy.excess(opt.x)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beats_gradient_descent_and_vanilla_es_on_the_toy(seed):
    toy = _Toy(seed=seed)
    x = np.zeros(100)
    for _ in range(600):
        x -= 0.05 * toy.surrogate(x)
    gd = toy.excess(x)
    vanilla = _run_es(toy, 600, seed, alpha=1.0, beta=1.0)
    guided = _run_es(toy, 600, seed, alpha=0.5, beta=2.0, k=1)
    assert guided < 0.8 * gd and guided < 0.8 * vanilla


def test_registry_and_defaults():
    opt = get_optimizer("guided-es", sigma=0.05)
    assert isinstance(opt, GuidedES) and opt.name == "guided-es"
    assert opt.get_params()["sigma"] == 0.05 and opt.get_params()["alpha"] == 0.5


def test_ask_tell_phases_and_needs_grad():
    opt = GuidedES(popsize=6).initialize(np.ones(5), np.random.default_rng(0))
    assert opt.needs_grad
    X0 = opt.ask()
    np.testing.assert_array_equal(X0, np.ones((1, 5)))
    with pytest.raises(ValueError, match="needs gradients"):
        opt.tell(X0, [1.0])
    opt.tell(X0, [1.0], np.arange(5.0)[None])
    assert not opt.needs_grad
    Theta = opt.ask()
    assert Theta.shape == (6, 5) == (opt.popsize, 5)
    np.testing.assert_allclose(Theta[:3] + Theta[3:], 2 * np.ones((3, 5)))  # antithetic
    np.testing.assert_array_equal(opt.ask(), Theta)  # asking again repeats the points
    opt.tell(Theta, np.arange(6.0))
    assert opt.needs_grad and opt.iteration == 1
    # vanilla ES (alpha = 1) and a surrogate callable never need the problem's gradient
    assert not GuidedES(alpha=1.0).initialize(np.ones(5), np.random.default_rng(0)).needs_grad
    assert not GuidedES(surrogate=lambda x: x).initialize(np.ones(5), np.random.default_rng(0)).needs_grad


def test_subspace_spans_the_last_k_surrogates():
    rng = np.random.default_rng(1)
    opt = GuidedES(k=3, surrogate=None).initialize(np.zeros(8), rng)
    grads = rng.normal(size=(5, 8))
    for g in grads:
        opt.tell_surrogate(g)
    U = opt.subspace
    assert U.shape == (8, 3)
    np.testing.assert_allclose(U.T @ U, np.eye(3), atol=1e-12)
    last = grads[-3:].T
    np.testing.assert_allclose(U @ (U.T @ last), last, atol=1e-12)  # spans the last three
    opt.tell_surrogate(np.zeros(8))  # a zero gradient adds no direction
    assert opt.subspace.shape == (8, 3)


def test_perturbation_covariance():
    n, k, sigma, alpha = 6, 2, 0.3, 0.25
    rng = np.random.default_rng(2)
    opt = GuidedES(sigma=sigma, alpha=alpha, k=k, popsize=200_000).initialize(np.zeros(n), rng)
    for g in rng.normal(size=(k, n)):
        opt.tell_surrogate(g)
    eps = opt.ask()[: 100_000]
    U = opt.subspace
    expected = sigma**2 * (alpha / n * np.eye(n) + (1 - alpha) / k * U @ U.T)
    np.testing.assert_allclose(np.cov(eps.T), expected, atol=4e-3 * sigma**2)


def test_lowers_a_sigmoid_net_loss_through_step():
    rng = np.random.default_rng(3)
    net = en.MLP(4, (8, 8), 3, activation="sigmoid")
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 3, 60)
    problem = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y)
    theta0 = net.init(rng, "glorot")
    start = problem.full_loss(theta0)
    problem.evals = 0
    opt = GuidedES(sigma=0.05, learning_rate=0.5, popsize=8).initialize(theta0, rng)
    for _ in range(60):
        problem.begin_step(rng)
        losses = opt.step(problem)
    assert losses.shape == (1 + 8,)
    # per step: x with its gradient (forward + backward = 3N), 8 points forward only
    assert problem.evals == 60 * (3 * 60 + 8 * 60)
    assert problem.full_loss(opt.x) < start - 0.05


def test_pickles_mid_run_and_resumes_identically():
    toy = _Toy(m=40, n=10)
    opt = GuidedES(popsize=4).initialize(np.zeros(10), np.random.default_rng(4))

    def run(o, steps):
        for _ in range(steps):
            X0 = o.ask()
            o.tell(X0, toy.loss(X0), toy.surrogate(X0[0])[None])
            Theta = o.ask()
            o.tell(Theta, toy.loss(Theta))
        return o.x

    run(opt, 5)
    clone = pickle.loads(pickle.dumps(opt))
    np.testing.assert_array_equal(run(opt, 5), run(clone, 5))


def test_bad_hyperparameters():
    x0, rng = np.zeros(3), np.random.default_rng(0)
    for bad in [dict(sigma=0), dict(alpha=1.5), dict(k=0), dict(popsize=3), dict(popsize=2.0), dict(learning_rate=-1),
                dict(beta=0)]:
        with pytest.raises(ValueError):
            GuidedES(**bad).initialize(x0, rng)
    with pytest.raises(TypeError, match="surrogate"):
        GuidedES(surrogate=3).initialize(x0, rng)
