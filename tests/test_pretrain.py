"""Greedy layer-wise pretraining: autoencoders by any optimizer, RBMs by scikit-learn."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

import evoneuro as en
from evoneuro.training.pretraining import TiedAutoencoderProblem


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16.0, y[:400]


@pytest.mark.parametrize("kw", [{}, {"tied": True}, {"optimizer": "snes"}, {"method": "rbm"}],
                         ids=["autoencoder", "tied", "gradient-free", "rbm"])
def test_pretraining_lowers_every_layers_reconstruction_error(digits, kw):
    X, _ = digits
    net = en.MLP(64, (16, 12, 8), 10, activation="sigmoid")
    theta, info = en.pretrain(net, X, max_evals=150_000, backend="numpy", random_state=0, return_info=True, **kw)
    assert theta.shape == (net.n_params,) and np.isfinite(theta).all()
    assert [r.layer for r in info] == [0, 1, 2]
    for r in info:
        assert r.error_end < 0.7 * r.error_start, r
        assert r.evals > 0 and r.seconds >= 0


def test_the_encoders_are_the_nets_hidden_layers(digits):
    X, _ = digits
    net = en.MLP(64, (10, 6), 3, activation="tanh")
    theta, info = en.pretrain(net, X, max_steps=300, backend="numpy", dtype="float64", random_state=1,
                              return_info=True)
    # the second layer's reconstruction error is measured on the codes of the first, as
    # the net computes them
    _, zs = en.Evaluator(net, dtype="float64").forward(theta, X, return_hidden=True)
    h1 = np.tanh(zs[0][0])
    ae = en.MLP(10, (6,), 10, activation="tanh", output="linear")
    assert np.tanh(h1 @ net.unflatten(theta)[1][0] + net.unflatten(theta)[1][1]).shape == (len(X), 6)
    assert info[1].error_end < float(np.var(h1, axis=0).mean())  # better than predicting the mean
    assert ae.n_inputs == 10


def test_same_random_state_same_start(digits):
    X, _ = digits
    net = en.MLP(64, (8, 8), 10)
    a = en.pretrain(net, X, max_steps=50, backend="numpy", random_state=3)
    b = en.pretrain(net, X, max_steps=50, backend="numpy", random_state=3)
    np.testing.assert_array_equal(a, b)


def _layer_grad_norms(net, theta, X, y):
    _, g = en.Evaluator(net, backend="numpy", dtype="float64").loss_and_grad(theta, X, y)
    return [float(np.linalg.norm(s.weights(g[0]))) for s in net.layers]


def test_first_finetuning_gradient_reaches_the_first_layer(digits):
    X, y = digits
    net = en.MLP(64, (32,) * 10, 10, activation="sigmoid")
    glorot = _layer_grad_norms(net, net.init(0, "glorot"), X, y)
    theta = en.pretrain(net, X, max_evals=100_000, backend="numpy", random_state=0)
    pretrained = _layer_grad_norms(net, theta, X, y)
    ratio = lambda norms: norms[0] / norms[-1]  # noqa: E731
    assert ratio(pretrained) > 100 * ratio(glorot)


def test_tied_autoencoder_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    X = rng.random((15, 4))
    ae = en.MLP(4, (3,), 4, activation="sigmoid", output="linear")
    prob = TiedAutoencoderProblem(en.SupervisedProblem(en.Evaluator(ae, dtype="float64"), X, X))
    x = rng.normal(size=prob.n_params)
    _, g = prob.evaluate(x[None], need_grad=True)
    eps, num = 1e-6, np.empty_like(x)
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = eps
        num[i] = (prob.evaluate((x + e)[None])[0][0] - prob.evaluate((x - e)[None])[0][0]) / (2 * eps)
    np.testing.assert_allclose(g[0], num, rtol=1e-6, atol=1e-9)
    W = x[:12].reshape(4, 3)
    np.testing.assert_array_equal(ae.unflatten(prob.untie(x)[0])[1][0], W.T)


def test_estimator_takes_init_pretrain(digits):
    X, y = digits
    kw = dict(hidden_layer_sizes=(16, 16), init="pretrain", init_params={"method": "rbm", "rbm_params": {"n_iter": 2}},
              max_iter=300, backend="numpy", random_state=0)
    a = en.EvoMLPClassifier(**kw).fit(X, y)
    b = en.EvoMLPClassifier(**kw).fit(X, y)
    np.testing.assert_array_equal(a.params_, b.params_)
    assert a.score(X, y) > 0.5


@pytest.mark.parametrize("net, X, kw, err, match", [
    (en.MLP(4, (), 3), np.ones((5, 4)), {}, ValueError, "hidden layer"),
    (en.MLP(4, (3,), 3, norm="layernorm"), np.ones((5, 4)), {}, ValueError, "plain MLP"),
    (en.MLP(4, (3,), 3, activation="tanh"), np.ones((5, 4)) / 2, {"method": "rbm"}, ValueError, "sigmoid"),
    (en.MLP(4, (3,), 3), np.full((5, 4), 2.0), {"method": "rbm"}, ValueError, r"\[0, 1\]"),
    (en.MLP(4, (3,), 3), np.ones((5, 4)), {"method": "pca"}, ValueError, "method"),
    ("net", np.ones((5, 4)), {}, TypeError, "MLP"),
    (en.MLP(4, (3,), 3), np.ones((5, 4)), {"tied": "yes"}, TypeError, "tied must be a bool"),
    (en.MLP(4, (3,), 3), np.ones((5, 4)), {"return_info": 1}, TypeError, "return_info must be a bool"),
    (en.RNN(4, (3,), 3), np.ones((5, 2, 4)), {}, TypeError, "feed-forward evoneuro.MLP"),
])
def test_bad_arguments_are_clear_errors(net, X, kw, err, match):
    with pytest.raises(err, match=match):
        en.pretrain(net, X, **kw)
