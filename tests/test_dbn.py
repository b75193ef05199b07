"""The deep belief net built from pretrain(method="rbm")'s RBMs: sampling and errors as the stack grows."""

import numpy as np
import pytest
from scipy.special import expit
from sklearn.neural_network import BernoulliRBM

import evoneuro as en
from evoneuro.training.dbn import DBN, fit_dbn


def _bars(n=400, seed=0):
    """Two kinds of 4x4 pattern: a full left half or a full right half, plus a little noise."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n, 16)) < 0.05).astype(float)
    left = np.zeros((4, 4)); left[:, :2] = 1
    kinds = rng.integers(0, 2, n)
    X[kinds == 0] = np.maximum(X[kinds == 0], left.ravel())
    X[kinds == 1] = np.maximum(X[kinds == 1], left[:, ::-1].ravel())
    return X


@pytest.fixture(scope="module")
def stack():
    X = _bars()
    dbn, info = fit_dbn(X, hidden=(12, 6), rbm_params={"n_iter": 30, "learning_rate": 0.1}, random_state=0,
                        return_info=True)
    return X, dbn, info


def test_built_from_pretrain_without_training_again(stack):
    X, dbn, info = stack
    net = en.MLP(16, (12, 6), 2, activation="sigmoid")
    theta, reports = en.pretrain(net, X, method="rbm", rbm_params={"n_iter": 30, "learning_rate": 0.1},
                                 random_state=0, return_info=True)
    rebuilt = DBN.from_reports(reports)
    assert rebuilt.sizes == (16, 12, 6) and [type(r.rbm) for r in reports] == [BernoulliRBM] * 2
    # the net's hidden layers are the RBMs' recognition weights: the same codes
    W0, b0 = net.layers[0].weights(theta), net.layers[0].bias(theta)
    assert np.allclose(expit(X @ W0 + b0), rebuilt.transform(X, depth=1))
    assert np.allclose(rebuilt.transform(X), dbn.transform(X))   # fit_dbn is that same pretraining


def test_samples_look_like_the_data(stack):
    X, dbn, _ = stack
    S = dbn.sample(200, gibbs_steps=200, random_state=0)
    assert S.shape == (200, 16) and (S >= 0).all() and (S <= 1).all()
    left = S.reshape(200, 4, 4)[:, :, :2].mean(axis=(1, 2))
    right = S.reshape(200, 4, 4)[:, :, 2:].mean(axis=(1, 2))
    # each sample is one of the two patterns: one half on, the other off
    assert np.mean(np.abs(left - right) > 0.5) > 0.8
    assert 0.05 < np.mean(left > right) < 0.95                    # both patterns appear (chains mix slowly)
    noise = np.random.default_rng(1).random((200, 16))
    nearest = lambda A: np.abs(A[:, None] - X[None]).mean(axis=2).min(axis=1).mean()
    assert nearest(S) < 0.5 * nearest(noise)


def test_sampling_is_reproducible_and_seeded(stack):
    _, dbn, _ = stack
    a = dbn.sample(5, gibbs_steps=20, random_state=3)
    assert np.array_equal(a, dbn.sample(5, gibbs_steps=20, random_state=3))
    assert not np.array_equal(a, dbn.sample(5, gibbs_steps=20, random_state=4))


def test_chains_started_from_data(stack):
    X, dbn, _ = stack
    S = dbn.sample(4, gibbs_steps=0, random_state=0, start=X[:4])
    assert S.shape == (4, 16)
    with pytest.raises(ValueError, match="start must hold n = 3 rows"):
        dbn.sample(3, start=X[:4])


def test_one_rbm_samples_its_visible_units():
    X = _bars(200)
    dbn = fit_dbn(X, hidden=8, rbm_params={"n_iter": 20, "learning_rate": 0.1}, random_state=0)
    S = dbn.sample(50, gibbs_steps=100, random_state=0)
    assert dbn.sizes == (16, 8) and S.shape == (50, 16)
    assert np.mean(np.abs(S[:, [0, 1, 4, 5]].mean(1) - S[:, [2, 3, 6, 7]].mean(1)) > 0.5) > 0.7


def test_reconstruction_error_per_layer(stack):
    X, dbn, info = stack
    errors = dbn.reconstruction_errors(X)
    assert errors.shape == (2,)
    assert errors[0] == pytest.approx(info[0].error_end)         # depth 1 is the first RBM's own error
    assert errors[0] < info[0].error_start                         # training lowered it
    # by hand: up two layers mean field, down two layers mean field
    r1, r2 = dbn.rbms
    H = expit(expit(X @ r1.components_.T + r1.intercept_hidden_) @ r2.components_.T + r2.intercept_hidden_)
    V = expit(expit(H @ r2.components_ + r2.intercept_visible_) @ r1.components_ + r1.intercept_visible_)
    assert errors[1] == pytest.approx(np.mean((V - X) ** 2))
    assert np.array_equal(dbn.reconstruct(X, depth=2), V)


def test_bad_inputs(stack):
    X, dbn, _ = stack
    with pytest.raises(ValueError, match="at least one fitted"):
        DBN([])
    with pytest.raises(TypeError, match="fitted sklearn BernoulliRBM"):
        DBN([BernoulliRBM()])
    with pytest.raises(ValueError, match="must have the 12 hidden units"):
        DBN([dbn.rbms[0], dbn.rbms[0]])
    with pytest.raises(ValueError, match="LayerReports of pretrain"):
        DBN.from_reports(en.pretrain(en.MLP(16, (4,), 2), X, max_steps=2, backend="numpy", return_info=True)[1])
    with pytest.raises(ValueError, match="n must be >= 1"):
        dbn.sample(0)
    with pytest.raises(TypeError, match="gibbs_steps must be an int"):
        dbn.sample(2, gibbs_steps=1.5)
    with pytest.raises(ValueError, match="depth must be an int in"):
        dbn.transform(X, depth=3)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        dbn.reconstruction_errors(X * 2)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 16\)"):
        dbn.transform(X[:, :5])
    with pytest.raises(ValueError, match="inputs in"):
        fit_dbn(X * 2 - 1, hidden=(4,))
