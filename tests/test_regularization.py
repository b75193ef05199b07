"""Weight decay, noise and dropout in SupervisedProblem: every optimizer sees them."""

import pickle

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier

import evoneuro as en
from evoneuro.regularization import Regularization, weight_mask


def _data(n=40, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, k, n)


def _sklearn_loss_and_grads(net, theta, X, y, alpha):
    """scikit-learn's own MLP loss and gradients (its private _backprop) at ``theta``."""
    hidden = tuple(net.sizes[1:-1])
    clf = MLPClassifier(hidden_layer_sizes=hidden, activation="logistic", alpha=alpha, max_iter=1)
    with pytest.warns(Warning):  # one iteration does not converge
        clf.fit(X, y)
    layers = net.unflatten(theta)
    clf.coefs_ = [W.copy() for W, _ in layers]
    clf.intercepts_ = [b.copy() for _, b in layers]
    Y = np.eye(net.n_outputs)[y]
    activations = [X] + [np.empty((len(X), w)) for w in net.sizes[1:]]
    deltas = [np.empty_like(a) for a in activations[1:]]
    coef_grads = [np.empty_like(W) for W, _ in layers]
    intercept_grads = [np.empty_like(b) for _, b in layers]
    loss, cg, ig = clf._backprop(X, Y, None, activations, deltas, coef_grads, intercept_grads)
    return loss, net.flatten(list(zip(cg, ig)))


@pytest.mark.parametrize("alpha", [0.0, 1e-4, 0.5])
def test_alpha_matches_scikit_learn_mlp_loss_and_gradient(alpha):
    X, y = _data()
    net = en.MLP(5, (7, 4), 3, activation="sigmoid")
    theta = net.init(0, "glorot", gain=3.0)
    prob = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y, alpha=alpha)
    losses, grads = prob.evaluate(theta[None], need_grad=True)
    ref_loss, ref_grad = _sklearn_loss_and_grads(net, theta, X, y, alpha)
    assert losses[0] == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(grads[0], ref_grad, rtol=1e-10, atol=1e-14)
    assert prob.full_loss(theta) == pytest.approx(ref_loss, rel=1e-12)


def test_alpha_scales_with_the_minibatch_as_scikit_learn_does():
    X, y = _data(n=40)
    net = en.MLP(5, (6,), 3)
    theta = net.init(1)
    plain = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y, batch_size=10)
    decayed = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y, batch_size=10, alpha=2.0)
    for p in (plain, decayed):
        p.begin_step(np.random.default_rng(3))
    W2 = float(np.sum(theta[weight_mask(net)] ** 2))
    diff = decayed.evaluate(theta)[0][0] - plain.evaluate(theta)[0][0]
    assert diff == pytest.approx(0.5 * 2.0 * W2 / 10, rel=1e-12)
    assert decayed.deterministic is False and en.SupervisedProblem(
        en.Evaluator(net), X, y, alpha=1.0).deterministic is True  # decay alone keeps full batch exact


def test_weight_mask_leaves_out_biases_gains_and_rbf_centres():
    net = en.MLP(3, (4, 4), 2, norm="layernorm")
    mask = weight_mask(net)
    assert mask.sum() == 3 * 4 + 4 * 4 + 4 * 2
    for s in net.layers:
        assert not mask[s.b_start : s.end].any()


def _grad_check(prob, theta, eps=1e-6):
    """Central differences of the problem's loss, with the noise drawn identically."""
    state = pickle.dumps(prob._noise_rng)
    prob._noise_rng = pickle.loads(state)
    _, g = prob.evaluate(theta[None], need_grad=True)
    num = np.empty_like(theta)
    for i in range(len(theta)):
        e = np.zeros_like(theta)
        e[i] = eps
        prob._noise_rng = pickle.loads(state)
        up = prob.evaluate((theta + e)[None])[0][0]
        prob._noise_rng = pickle.loads(state)
        down = prob.evaluate((theta - e)[None])[0][0]
        num[i] = (up - down) / (2 * eps)
    np.testing.assert_allclose(g[0], num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kw", [{"alpha": 0.3}, {"weight_noise": 0.1}, {"dropout": 0.4},
                                {"alpha": 0.1, "weight_noise": 0.05, "dropout": 0.3, "input_noise": 0.2}])
def test_gradient_of_the_regularised_loss_matches_finite_differences(kw):
    X, y = _data(n=12, d=3)
    net = en.MLP(3, (4, 3), 3, activation="tanh")
    prob = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y, **kw)
    prob.begin_step(np.random.default_rng(0))
    _grad_check(prob, net.init(2))


def test_dropout_is_a_unit_mask_on_the_next_layers_rows():
    X, y = _data(n=20, d=4)
    net = en.MLP(4, (5,), 3, activation="sigmoid")
    theta = net.init(0)
    prob = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y, dropout=0.5)
    prob.begin_step(np.random.default_rng(1))
    rng = pickle.loads(pickle.dumps(prob._noise_rng))
    loss = prob.evaluate(theta)[0][0]
    kept = rng.random((1, 5)) < 0.5
    (W0, b0), (W1, b1) = net.unflatten(theta)
    h = 1 / (1 + np.exp(-(X @ W0 + b0))) * kept[0] / 0.5  # inverted dropout of the hidden units
    z = h @ W1 + b1
    ref = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(20), y])
    assert loss == pytest.approx(ref, rel=1e-12)


def test_noise_is_reproducible_and_resumes_bit_identically():
    X, y = _data(n=64, d=5)
    net = en.MLP(5, (8,), 3)

    def problem():
        return en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y, batch_size=16,
                                    input_noise=0.1, weight_noise=0.02, dropout=0.2)

    a = en.minimize(problem(), optimizer="snes", max_steps=8, random_state=5)
    b = en.minimize(problem(), optimizer="snes", max_steps=8, random_state=5)
    np.testing.assert_array_equal(a.x, b.x)
    prob = problem()
    trainer = en.Trainer(prob, "adam", max_steps=4, random_state=5)
    trainer.run()
    resumed = pickle.loads(pickle.dumps(trainer))
    resumed.max_steps = trainer.max_steps = 8
    np.testing.assert_array_equal(trainer.run().x, resumed.run().x)


def test_input_noise_does_not_accumulate_on_the_full_batch():
    X, y = _data(n=10, d=3)
    prob = en.SupervisedProblem(en.Evaluator(en.MLP(3, (4,), 3), dtype="float64"), X, y, input_noise=0.5)
    rng = np.random.default_rng(0)
    for _ in range(50):
        prob.begin_step(rng)
    assert np.std(prob._batch[0] - X) < 0.8  # one draw of noise of std 0.5, not fifty
    np.testing.assert_array_equal(prob.X, X)


@pytest.mark.parametrize("kw, err", [({"alpha": -1.0}, ValueError), ({"alpha": "big"}, TypeError),
                                     ({"dropout": 1.0}, ValueError), ({"dropout": True}, ValueError),
                                     ({"weight_noise": np.nan}, ValueError)])
def test_bad_regularisation_is_a_clear_error(kw, err):
    X, y = _data()
    name = next(iter(kw))
    with pytest.raises(err, match=name):
        en.SupervisedProblem(en.Evaluator(en.MLP(5, (4,), 3)), X, y, **kw)


def test_dropout_refuses_layers_it_cannot_express():
    X, y = _data()
    with pytest.raises(ValueError, match="dropout"):
        en.SupervisedProblem(en.Evaluator(en.MLP(5, (4, 4), 3, norm="weightnorm")), X, y, dropout=0.2)
    with pytest.raises(ValueError, match="dropout"):
        en.SupervisedProblem(en.Evaluator(en.MLP(5, (), 3)), X, y, dropout=0.2)


def test_gradient_free_optimizers_see_the_decay():
    X, y = _data(n=60)
    net = en.MLP(5, (6,), 3)
    x0 = net.init(0, "glorot", gain=4.0)
    free = en.minimize(en.SupervisedProblem(en.Evaluator(net), X, y), x0=x0, optimizer="snes",
                       max_steps=150, random_state=0)
    decayed = en.minimize(en.SupervisedProblem(en.Evaluator(net), X, y, alpha=30.0), x0=x0,
                          optimizer="snes", max_steps=150, random_state=0)
    mask = weight_mask(net)
    assert np.linalg.norm(decayed.x[mask]) < 0.5 * np.linalg.norm(free.x[mask])


def test_regularization_repr_and_flags():
    assert not Regularization()
    assert Regularization(alpha=1e-4) and not Regularization(alpha=1e-4).stochastic


def test_recurrent_problem_batches_lengths_counts_steps_and_decays_both_matrices():
    rng = np.random.default_rng(0)
    rnn = en.RNN(2, (4,), 3, cell="lstm")
    X, y, lengths = rng.normal(size=(12, 7, 2)), rng.integers(0, 3, 12), rng.integers(1, 8, 12)
    ev = en.Evaluator(rnn, dtype="float64")
    prob = en.SupervisedProblem(ev, X, y, batch_size=6, lengths=lengths, alpha=0.5)
    theta = rnn.init(0)
    prob.begin_step(rng)
    idx = [int(np.flatnonzero((X == xb).all(axis=(1, 2)))[0]) for xb in prob._batch[0]]
    np.testing.assert_array_equal(prob._batch_lengths, lengths[idx])
    loss = prob.evaluate(theta)[0][0]
    W2 = float(np.sum(theta[weight_mask(rnn)] ** 2))
    assert loss == pytest.approx(ev.loss(theta, X[idx], y[idx], lengths=lengths[idx])[0] + 0.25 * W2 / 6)
    assert prob.evals == 6 * 7  # one sample-forward per sequence step
    assert weight_mask(rnn).sum() == (2 + 4) * 4 * 4 + 4 * 3  # [W_i; W_h] of four gates, and the readout
    assert prob.full_loss(theta) == pytest.approx(ev.loss(theta, X, y, lengths=lengths)[0] + 0.25 * W2 / 12)
    with pytest.raises(ValueError, match="dropout"):
        en.SupervisedProblem(ev, X, y, dropout=0.1)


def test_estimators_take_the_regularisation_and_report_the_decayed_loss():
    X, y = _data(n=60)
    kw = dict(hidden_layer_sizes=(6,), max_iter=40, backend="numpy", dtype="float64", random_state=0)
    clf = en.EvoMLPClassifier(alpha=5.0, **kw).fit(X, y)
    data_loss = float(en.Evaluator(clf.net_, dtype="float64").loss(clf.params_, X, np.searchsorted(clf.classes_, y))[0])
    W2 = sum(float(np.sum(W**2)) for W in clf.coefs_)
    assert clf.loss_ == pytest.approx(data_loss + 0.5 * 5.0 * W2 / 60)
    assert en.EvoMLPClassifier(**kw).alpha == 1e-4  # scikit-learn's default
    noisy = en.EvoMLPClassifier(input_noise=0.1, weight_noise=0.01, dropout=0.2, **kw).fit(X, y)
    assert np.isfinite(noisy.loss_)
    with pytest.raises(ValueError, match="dropout"):
        en.EvoMLPClassifier(dropout=1.5, **kw).fit(X, y)


def test_compare_routes_alpha_and_noise_to_the_problem():
    from evoneuro.bench.compare import parse_optimizers, run_one
    from evoneuro.bench.datasets import load_dataset

    data = load_dataset("iris")
    (name, params), = parse_optimizers("adam:alpha=0.5:learning_rate=0.01:input_noise=0.05")
    assert params == {"alpha": 0.5, "learning_rate": 0.01, "input_noise": 0.05}
    run = run_one(data, (4,), optimizer=name, params=params, budget_evals=20_000, backend="numpy")
    assert run.params == params and np.isfinite(run.train_loss)
    free = run_one(data, (4,), optimizer=name, params={"learning_rate": 0.01}, budget_evals=20_000, backend="numpy")
    assert run.train_loss > free.train_loss  # the decay is in the reported loss


def test_weight_decay_covers_every_kernel_of_a_pyramid_and_none_of_its_biases():
    net = en.Pyramid((8, 8), levels=2, features=(2, 3), iterations=2)
    mask = weight_mask(net)
    levels = net.unflatten(np.arange(net.n_params, dtype=float))
    kernels = [int(v) for level in levels for name, arr in level.items() if name != "bias" for v in np.ravel(arr)]
    biases = [int(v) for level in levels for v in np.ravel(level.get("bias", []))]
    assert mask[kernels].all() and not mask[biases].any()
    assert mask.sum() == len(kernels)
