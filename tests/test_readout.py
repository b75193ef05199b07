"""Readout: evolved hidden layers with a ridge-regression output layer."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from sklearn.linear_model import Ridge

import evoneuro as en
from evoneuro.optimizers.readout import Readout, fit_readouts, ridge_readout


def _hidden_features(net: en.MLP, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The last hidden layer's activations, computed independently of the evaluator."""
    h = X
    for (W, b), act in zip(net.unflatten(theta)[:-1], net.activations):
        h = act(h @ W + b)
    return h


def _setup(net, X, y, batch_size=None, **params) -> tuple[Readout, en.SupervisedProblem]:
    prob = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y, batch_size=batch_size)
    opt = Readout(**params)
    opt.setup(prob)
    opt.initialize(net.init(np.random.default_rng(1)), np.random.default_rng(2))
    return opt, prob


@pytest.mark.parametrize("output", ["softmax", "linear"])
def test_solved_readout_is_the_ridge_solution(output, rng):
    net = en.MLP(5, (7, 6), 3, activation="tanh", output=output)
    X = rng.normal(size=(40, 5))
    y = rng.integers(0, 3, 40) if output == "softmax" else rng.normal(size=(40, 3))
    opt, _ = _setup(net, X, y, ridge=0.3, temperature=False)
    Theta = net.init_population(3, rng)
    Full, losses = opt.solve(Theta, X, y)
    T = np.eye(3)[y] if output == "softmax" else y
    for theta, full, loss in zip(Theta, Full, losses):
        H = _hidden_features(net, theta, X)
        ridge = Ridge(alpha=0.3, fit_intercept=True).fit(H, T)
        W, b = net.unflatten(full)[-1]
        np.testing.assert_allclose(W, ridge.coef_.T, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(b, ridge.intercept_, rtol=1e-7, atol=1e-9)
        np.testing.assert_array_equal(full[: net.layers[-1].w_start], theta[: net.layers[-1].w_start])
        # the loss told is the net's own loss with the solved output layer
        assert loss == pytest.approx(net_loss(net, full, X, y), rel=1e-10)


def net_loss(net, theta, X, y) -> float:
    return float(en.Evaluator(net, dtype="float64").loss(theta, X, y)[0])


def test_ridge_readout_matches_lstsq_on_augmented_system(rng):
    H, T, alpha = rng.normal(size=(2, 30, 4)), rng.normal(size=(30, 2)), 0.5
    W = ridge_readout(H, T, alpha)
    for p in range(2):
        # ridge = least squares on [H1; sqrt(alpha) D] against [T; 0]
        A = np.vstack([np.column_stack([H[p], np.ones(30)]), np.sqrt(alpha) * np.eye(5)[:4]])
        B = np.vstack([T, np.zeros((4, 2))])
        np.testing.assert_allclose(W[p], np.linalg.lstsq(A, B, rcond=None)[0], rtol=1e-9, atol=1e-12)


def test_temperature_scales_the_least_squares_readout_and_lowers_cross_entropy(rng):
    net = en.MLP(4, (8,), 3, activation="sigmoid")
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 3, 60)
    raw, _ = _setup(net, X, y, temperature=False, loo=False)
    cal, _ = _setup(net, X, y, temperature=True, loo=False)  # s minimises the in-sample loss
    Theta = net.init_population(4, rng)
    (F0, l0), (F1, l1) = raw.solve(Theta, X, y), cal.solve(Theta, X, y)
    k = net.layers[-1].w_start
    s = F1[:, k:] / F0[:, k:]
    np.testing.assert_allclose(s, s[:, :1] * np.ones_like(s), rtol=1e-8)  # one scale per member
    assert np.all(l1 <= l0 + 1e-12)
    np.testing.assert_allclose(l1, en.Evaluator(net, dtype="float64").loss(F1, X, y), rtol=1e-10)


@pytest.mark.parametrize("output", ["softmax", "linear"])
def test_leave_one_out_fitness_is_the_loss_of_readouts_solved_without_each_row(output, rng):
    N, K, ridge = 25, 3, 0.2
    H = rng.normal(size=(2, N, 4))
    y = rng.integers(0, K, N) if output == "softmax" else None
    T = np.eye(K)[y] if output == "softmax" else rng.normal(size=(N, K))
    W, losses, fitness = fit_readouts(H, T, y, ridge, temperature=False, loo=True)
    W_in, losses_in, fitness_in = fit_readouts(H, T, y, ridge, temperature=False, loo=False)
    np.testing.assert_array_equal(W, W_in)  # the same readout; only the ranking changes
    np.testing.assert_array_equal(losses_in, fitness_in)
    np.testing.assert_allclose(losses, losses_in, rtol=1e-12)
    for p in range(2):
        Z = np.empty((N, K))
        for n in range(N):  # refit without row n (sklearn's Ridge: unpenalised intercept), predict row n
            keep = np.arange(N) != n
            Z[n] = Ridge(alpha=ridge).fit(H[p, keep], T[keep]).predict(H[p, n:n + 1])[0]
        if output == "softmax":
            expect = np.mean(np.log(np.exp(Z).sum(axis=1)) - Z[np.arange(N), y])
        else:
            expect = np.mean((Z - T) ** 2)
        assert fitness[p] == pytest.approx(expect, rel=1e-9)
        assert fitness[p] > losses[p]  # held-out rows fit worse


@pytest.mark.parametrize("output", ["softmax", "linear"])
@pytest.mark.parametrize("loo", [True, False])
@pytest.mark.parametrize("temperature", [True, False])
def test_numba_readout_kernel_matches_the_numpy_reference(output, loo, temperature, rng):
    from evoneuro.backends.numba.readout import fit_readouts as fit_readouts_numba

    P, N, h, K = 5, 70, 6, 4
    H = np.tanh(3 * rng.normal(size=(P, N, h)))
    H[3] = np.nan  # a broken member: inf loss and fitness on both sides
    y = rng.integers(0, K, N) if output == "softmax" else None
    T = np.eye(K)[y] if output == "softmax" else rng.normal(size=(N, K))
    ref = fit_readouts(H, T, y, 0.01, temperature, loo)
    W, losses, fitness = fit_readouts_numba(H.copy(), T, y, 0.01, temperature, loo, n_jobs=2)
    ok = np.arange(P) != 3
    assert np.isinf(losses[3]) and np.isinf(fitness[3]) and np.isinf(ref[1][3]) and np.isinf(ref[2][3])
    # the reference's temperature takes 8 Newton steps on float32 exponentials, the kernel stops on convergence
    np.testing.assert_allclose(W[ok], ref[0][ok], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(losses[ok], ref[1][ok], rtol=1e-7)
    np.testing.assert_allclose(fitness[ok], ref[2][ok], rtol=1e-7)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "softsign", "gaussian", "relu"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numba_and_numpy_backends_run_the_same_search(activation, dtype, rng):
    net = en.MLP(4, (6, 5), 3, activation=activation)
    X, y = rng.normal(size=(90, 4)), rng.integers(0, 3, 90)
    runs = [en.minimize(en.SupervisedProblem(en.Evaluator(net, backend=b, dtype=dtype), X, y, batch_size=30),
                        optimizer="readout", max_steps=6, random_state=0) for b in ("numpy", "numba")]
    np.testing.assert_allclose(runs[0].history["loss"], runs[1].history["loss"], rtol=1e-6)
    np.testing.assert_allclose(runs[0].x, runs[1].x, rtol=1e-5, atol=1e-8)


def test_x_is_a_complete_network_with_its_readout(rng):
    net = en.MLP(4, (6,), 3, activation="tanh")
    X, y = rng.normal(size=(80, 4)), rng.integers(0, 3, 80)
    opt, prob = _setup(net, X, y, batch_size=32, refit_every=0)
    trainer = en.Trainer(prob, opt, max_steps=5, random_state=0)
    res = trainer.run()
    # x's output layer was solved for x's own hidden layers on the last minibatch
    full, loss = opt.solve(opt.x, *prob._batch)
    np.testing.assert_allclose(res.x, full[0], rtol=1e-10)
    assert opt.x_loss_ == pytest.approx(loss[0])
    # 80 rows in batches of 32: 32, 32, 16 (a remainder of half a batch is a batch), 32, 32
    assert res.n_evals == (opt.popsize + 1) * (32 + 32 + 16 + 32 + 32)


def test_recommendation_is_refitted_on_all_training_data(rng):
    net = en.MLP(4, (6,), 3, activation="tanh")
    X, y = rng.normal(size=(80, 4)), rng.integers(0, 3, 80)
    opt, prob = _setup(net, X, y, batch_size=20, refit_every=3)
    hidden = []
    for _ in range(5):
        prob.begin_step(rng)
        hidden.append(opt.inner_.x.copy())
        opt.step(prob)
    # refits at steps 1 and 4: x holds step 4's recommendation with a full-data readout
    k = net.layers[-1].w_start
    np.testing.assert_array_equal(opt.x[:k], hidden[3])
    full, loss = opt.solve(opt.x, X, y)
    np.testing.assert_allclose(opt.x, full[0], rtol=1e-10)
    assert opt.x_loss_ == pytest.approx(loss[0])
    assert prob.evals == 5 * opt.popsize * 20 + 2 * 80


def test_full_batch_best_loss_is_the_returned_networks_loss(rng):
    net = en.MLP(4, (6,), 3, activation="tanh")
    X, y = rng.normal(size=(50, 4)), rng.integers(0, 3, 50)
    prob = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y)
    res = en.minimize(prob, optimizer="readout", max_steps=5, random_state=0)
    assert res.fun == pytest.approx(net_loss(net, res.x, X, y), rel=1e-10)


def test_needs_a_supervised_problem_with_a_hidden_layer():
    prob = en.FitnessProblem(lambda x: float(x @ x), n_params=3)
    with pytest.raises(TypeError, match="SupervisedProblem"):
        en.Trainer(prob, "readout", x0=np.ones(3), max_steps=1)
    flat = en.SupervisedProblem(en.Evaluator(en.MLP(3, (), 2)), np.ones((4, 3)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="hidden layer"):
        en.Trainer(flat, "readout", max_steps=1)
    with pytest.raises(ValueError, match="ridge"):
        Readout(ridge=0.0)


def test_resume_from_a_copy_is_identical(rng):
    net = en.MLP(4, (6,), 3, activation="tanh")
    X, y = rng.normal(size=(80, 4)), rng.integers(0, 3, 80)
    def problem():
        return en.SupervisedProblem(en.Evaluator(net), X, y, batch_size=20)

    trainer = en.Trainer(problem(), "readout", max_steps=8, random_state=3)
    trainer.run(max_steps=4)
    resumed = copy.deepcopy(trainer).run()
    full = en.Trainer(problem(), "readout", max_steps=8, random_state=3).run()
    np.testing.assert_array_equal(resumed.x, full.x)


def test_reaches_good_accuracy_on_digits_quickly():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    net = en.MLP(64, (32,), 10, activation="tanh")
    prob = en.SupervisedProblem(en.Evaluator(net), X[:600], y[:600], batch_size=300)
    res = en.minimize(prob, optimizer="readout", optimizer_params={"inner_params": {"popsize": 8}},
                      max_steps=30, random_state=0)
    acc = (en.Evaluator(net).predict(res.x, X[1000:1400]).argmax(axis=1) == y[1000:1400]).mean()
    assert acc >= 0.8
