"""LSUV: every layer's pre-activation variance on the batch ends at 1 within tol."""

import numpy as np
import pytest

import evoneuro as en
from evoneuro.network.critical import critical_init
from evoneuro.training.lsuv import lsuv_init


def _variances(net, theta, X):
    _, zs = en.Evaluator(net, dtype="float64").forward(theta, X, return_hidden=True)
    return [float(z.var()) for z in zs]


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "lecun_tanh", "gaussian", "relu"])
def test_unit_variance_in_every_layer(activation, rng):
    net = en.MLP(10, (40,) * 8, 4, activation=activation)
    X = rng.normal(loc=1.0, scale=3.0, size=(300, 10))
    theta = lsuv_init(net, X, rng, tol=0.1)
    assert theta.shape == (net.n_params,) and theta.dtype == np.float64
    for v in _variances(net, theta, X):
        assert abs(v - 1.0) < 0.1


def test_starts_orthonormal_and_only_rescales(rng):
    net = en.MLP(20, (20, 20), 3, activation="tanh")
    X = rng.normal(size=(100, 20))
    theta = lsuv_init(net, X, np.random.default_rng(7))
    reference = net.init(np.random.default_rng(7), "orthogonal")
    for (W, b), (W0, _) in zip(net.unflatten(theta), net.unflatten(reference)):
        ratio = W / W0
        np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-9)  # one scale per layer
        assert not b.any()


def test_iterates_when_biases_are_present(rng):
    # from a critical init the biases stay, so one rescaling is not exact: LSUV iterates
    net = en.MLP(10, (50,) * 6, 2, activation="tanh")
    X = rng.normal(size=(200, 10))
    theta0 = critical_init(net, rng, sigma_b2=0.5)
    theta = lsuv_init(net, X, theta0=theta0, tol=0.02)
    for (_, b), (_, b0) in zip(net.unflatten(theta), net.unflatten(theta0)):
        np.testing.assert_array_equal(b, b0)
    assert all(abs(v - 1.0) < 0.02 for v in _variances(net, theta, X))


def test_output_layer_can_be_left_alone(rng):
    net = en.MLP(6, (16, 16), 3, activation="sigmoid")
    X = rng.normal(size=(80, 6))
    a = lsuv_init(net, X, np.random.default_rng(1), include_output=False)
    ref = net.init(np.random.default_rng(1), "orthogonal")
    np.testing.assert_array_equal(net.unflatten(a)[-1][0], net.unflatten(ref)[-1][0])
    v = _variances(net, a, X)
    assert all(abs(x - 1) < 0.1 for x in v[:-1])


def test_reproducible_and_errors(rng):
    net = en.MLP(4, (8,), 2)
    X = rng.normal(size=(30, 4))
    np.testing.assert_array_equal(lsuv_init(net, X, 3), lsuv_init(net, X, 3))
    with pytest.raises(ValueError, match="variance"):
        lsuv_init(net, np.zeros((30, 4)), 0)
    with pytest.raises(ValueError, match="tol"):
        lsuv_init(net, X, 0, tol=0)
    with pytest.raises(ValueError, match="max_iter"):
        lsuv_init(net, X, 0, max_iter=0)
    with pytest.raises(ValueError, match="2 rows"):
        lsuv_init(net, X[:1], 0)
    with pytest.raises(ValueError):
        lsuv_init(net, X[:, :3], 0)
    with pytest.raises(ValueError, match="theta0"):
        lsuv_init(net, X, theta0=np.zeros(3))
