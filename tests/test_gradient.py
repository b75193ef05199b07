"""SGD, momentum and Adam: update rules against hand values and an independent Adam."""

import numpy as np
import pytest

import evoneuro as en
from evoneuro.optimizers import get_optimizer
from evoneuro.optimizers.gradient import SGD, Adam, Momentum


def run_rule(opt, grads, x0):
    opt.initialize(np.asarray(x0, dtype=float), np.random.default_rng(0))
    xs = []
    for g in grads:
        x = opt.ask()
        opt.tell(x, [0.0], np.asarray(g, dtype=float)[None])
        xs.append(opt.x)
    return np.array(xs)


def test_sgd_step():
    xs = run_rule(SGD(learning_rate=0.1), [[1.0, -2.0], [0.5, 0.5]], [0.0, 0.0])
    np.testing.assert_allclose(xs, [[-0.1, 0.2], [-0.15, 0.15]], rtol=1e-12)


def test_momentum_heavy_ball_and_nesterov_by_hand():
    grads = [[1.0], [1.0], [-2.0]]
    # heavy ball, mu = 0.5, lr = 0.1: v = 1, 1.5, -1.25 -> x = -0.1, -0.25, -0.125
    xs = run_rule(Momentum(learning_rate=0.1, momentum=0.5), grads, [0.0])
    np.testing.assert_allclose(xs[:, 0], [-0.1, -0.25, -0.125], rtol=1e-12)
    # Nesterov: step = g + mu v: 1.5, 1.75, -2.625 -> x = -0.15, -0.325, -0.0625
    xs = run_rule(Momentum(learning_rate=0.1, momentum=0.5, nesterov=True), grads, [0.0])
    np.testing.assert_allclose(xs[:, 0], [-0.15, -0.325, -0.0625], rtol=1e-12)


def test_adam_matches_algorithm_1_of_kingma_and_ba(rng):
    grads = rng.normal(size=(6, 5))
    lr, b1, b2, eps = 0.01, 0.8, 0.99, 1e-6
    xs = run_rule(Adam(learning_rate=lr, beta1=b1, beta2=b2, eps=eps), grads, np.ones(5))
    theta, m, v = np.ones(5), np.zeros(5), np.zeros(5)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        theta = theta - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        np.testing.assert_allclose(xs[t - 1], theta, rtol=1e-12)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_layerwise_uses_problem_layers(name, rng):
    net = en.MLP(3, (4, 5), 2)
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 2, 10)
    prob = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y)
    opt = get_optimizer(name, learning_rate=0.01, layerwise=True)
    trainer = en.Trainer(prob, opt, max_steps=1, random_state=0)
    x0 = opt.x
    trainer.run()
    step = opt.x - x0
    norms = [np.linalg.norm(step[s.w_start:s.b_end]) for s in net.layers]
    # SGD moves every layer by lr exactly; momentum's first step too; Adam's first step
    # is lr * sign(g) per weight, its layer norm lr * sqrt(layer size).
    expected = [0.01 * (np.sqrt(s.b_end - s.w_start) if name == "adam" else 1.0) for s in net.layers]
    np.testing.assert_allclose(norms, expected, rtol=1e-6)


def test_layerwise_whole_vector_and_explicit_slices():
    f, g = (lambda x: float(x @ x)), (lambda x: 2 * x)

    def one_step(opt):
        en.Trainer(en.FitnessProblem(f, 2, grad=g), opt, x0=[3.0, 4.0], max_steps=1).run()
        return opt.x

    # a plain vector is one block: the step is 0.5 * g / |g| = 0.5 * (0.6, 0.8)
    np.testing.assert_allclose(one_step(SGD(learning_rate=0.5, layerwise=True)), [2.7, 3.6])
    # two blocks of one weight: each moves by 0.5
    opt = SGD(learning_rate=0.5, layerwise=True, layer_slices=[(0, 1), (1, 2)])
    np.testing.assert_allclose(one_step(opt), [2.5, 3.5])
    with pytest.raises(ValueError, match="layer_slices"):
        SGD(layerwise=True, layer_slices=[(0, 5)]).initialize(np.zeros(2), np.random.default_rng(0))


@pytest.mark.parametrize("cls, kwargs, match", [
    (SGD, {"learning_rate": 0.0}, "learning_rate"),
    (Momentum, {"momentum": 1.0}, "momentum"),
    (Adam, {"beta1": 1.0}, "beta1"),
    (Adam, {"beta2": -0.1}, "beta2"),
    (Adam, {"eps": 0}, "eps"),
])
def test_bad_hyperparameters(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("name, params", [
    ("sgd", {"learning_rate": 0.5}), ("momentum", {"learning_rate": 0.1}),
    ("momentum", {"learning_rate": 0.1, "nesterov": True}), ("adam", {"learning_rate": 0.01}),
    ("adam", {"learning_rate": 0.01, "layerwise": True}),
])
def test_trains_small_net(name, params, rng):
    X = rng.normal(size=(50, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    net = en.MLP(4, (8,), 2, activation="tanh")
    prob = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y)
    x0 = net.init(np.random.default_rng(1))
    res = en.Trainer(prob, get_optimizer(name, **params), x0=x0, max_steps=200).run()
    assert res.fun < 0.5 * prob.full_loss(x0)


def test_gradient_optimizer_needs_gradients():
    with pytest.raises(ValueError, match="needs gradients"):
        en.minimize(lambda x: float(x @ x), [1.0], "adam", max_steps=3)
    opt = Adam().initialize(np.zeros(2), np.random.default_rng(0))
    with pytest.raises(ValueError, match="gradients"):
        opt.tell(opt.ask(), [1.0])


def test_layer_slices_cover_extra_blocks():
    net = en.MLP(3, (4, 4), 2, norm="layernorm")
    rng = np.random.default_rng(0)
    prob = en.SupervisedProblem(en.Evaluator(net), rng.normal(size=(5, 3)), [0, 1, 0, 1, 0])
    slices = prob.layer_slices
    assert slices[0][0] == 0 and slices[-1][1] == net.n_params
    assert all(a[1] == b[0] for a, b in zip(slices, slices[1:]))  # contiguous, nothing left out
