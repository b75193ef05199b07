"""Residual shortcuts, LayerNorm, WeightNorm, cosine normalisation and RBF units in the
reference evaluator: values against direct formulas, gradients against finite differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import evoneuro as en
from tests.test_evaluator import assert_grad_close, finite_difference_grad

NORMS = [None, "layernorm", "weightnorm", "cosine"]


@pytest.mark.parametrize("output", ["softmax", "linear"])
@pytest.mark.parametrize("norm", NORMS)
@given(
    residual=st.sampled_from([None, 1, 2]),
    rbf_first=st.booleans(),
    activation=st.sampled_from(["sigmoid", "tanh", "gaussian", ("softsign", 1.5, 0.5)]),
    P=st.integers(1, 3),
    depth=st.integers(1, 5),
    width=st.integers(1, 6),
    N=st.integers(1, 6),
    d=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_gradient_matches_finite_differences(output, norm, residual, rbf_first, activation, P, depth, width, N, d, seed):
    rng = np.random.default_rng(seed)
    units = ["rbf"] + ["dense"] * (depth - 1) if rbf_first else "dense"
    net = en.MLP(d, (width,) * depth, 3, activation=activation, output=output, norm=norm,
                 residual=residual, units=units)
    Theta = net.init_population(P, rng, "glorot") + 0.3 * rng.normal(size=(P, net.n_params))
    X = rng.normal(size=(N, d))
    y = rng.integers(0, 3, N) if output == "softmax" else rng.normal(size=(N, 3))
    ev = en.Evaluator(net, dtype="float64")
    losses, grads = ev.loss_and_grad(Theta, X, y)
    np.testing.assert_allclose(losses, ev.loss(Theta, X, y), rtol=1e-13)
    for p in range(P):
        assert_grad_close(grads[p], finite_difference_grad(ev, Theta[p], X, y), f"{net}: member {p}")


def _hidden(net, theta, X):
    out, zs = en.Evaluator(net, dtype="float64").forward(theta, X, return_hidden=True)
    return zs


def test_weightnorm_is_a_reparametrised_dense_layer(rng):
    wn = en.MLP(4, (5,), 3, norm="weightnorm", activation="tanh")
    plain = en.MLP(4, (5,), 3, activation="tanh")
    theta = wn.init(rng)
    (V, b, g), (W2, b2) = wn.unflatten(theta)
    np.testing.assert_allclose(g, np.linalg.norm(V, axis=0))  # starts as the plain layer
    g *= 2.0
    W = g * V / np.linalg.norm(V, axis=0)
    X = rng.normal(size=(6, 4))
    ref = plain.flatten([(W, b), (W2, b2)])
    np.testing.assert_allclose(en.Evaluator(wn, dtype="float64").forward(theta, X),
                               en.Evaluator(plain, dtype="float64").forward(ref, X), rtol=1e-12)
    assert wn.n_params == plain.n_params + 5


def test_layernorm_normalises_before_the_activation(rng):
    net = en.MLP(4, (6, 6), 2, norm="layernorm")
    theta = net.init(rng)
    z = _hidden(net, theta, rng.normal(size=(7, 4)))[0][0]
    np.testing.assert_allclose(z.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(z.var(axis=1), 1, rtol=1e-3)  # γ = 1, β = 0 at init; ε = 1e-5


def test_cosine_preactivation_is_a_cosine(rng):
    net = en.MLP(3, (4,), 2, norm="cosine")
    theta = net.init(rng) + 0.1
    X = rng.normal(size=(5, 3))
    z = _hidden(net, theta, X)[0][0]
    (W, b), _ = net.unflatten(theta)
    hx = np.hstack([X, np.ones((5, 1))])
    wb = np.vstack([W, b])
    cos = (hx @ wb) / np.outer(np.linalg.norm(hx, axis=1), np.linalg.norm(wb, axis=0))
    np.testing.assert_allclose(z, cos, rtol=1e-12)
    assert np.all(np.abs(z) <= 1)


def test_rbf_units_are_gaussians_of_the_distance(rng):
    net = en.MLP(3, (4,), 2, units="rbf")
    theta = net.init(rng)
    (C, rho), _ = net.unflatten(theta)
    rho[:] = rng.normal(size=4)
    X = rng.normal(size=(5, 3))
    z = _hidden(net, theta, X)[0][0]
    sigma = np.exp(rho)
    dist = np.linalg.norm(X[:, :, None] - C[None], axis=1)
    np.testing.assert_allclose(z, dist / (np.sqrt(2) * sigma), rtol=1e-10)
    act = net.activations[0]
    np.testing.assert_allclose(act(z), np.exp(-dist**2 / (2 * sigma**2)), rtol=1e-10)


def test_rbf_gradient_is_finite_at_a_centre(rng):
    net = en.MLP(2, (3,), 2, units="rbf")
    theta = net.init(rng)
    (C, _), _ = net.unflatten(theta)
    X = C[:, :1].T.copy()  # the sample sits exactly on unit 0's centre
    _, g = en.Evaluator(net, dtype="float64").loss_and_grad(theta, X, [1])
    assert np.isfinite(g).all()


def test_residual_adds_the_block_input(rng):
    net = en.MLP(3, (4, 4, 4), 2, residual=2, activation="tanh")
    plain = en.MLP(3, (4, 4, 4), 2, activation="tanh")
    theta = net.init(rng)
    X = rng.normal(size=(5, 3))
    zs = _hidden(net, theta, X)
    zp = _hidden(plain, theta, X)
    np.testing.assert_allclose(zs[1], zp[1])  # no shortcut into layer 2
    h1, h3 = np.tanh(zs[0][0]), np.tanh(zs[2][0])
    (W4, b4) = net.unflatten(theta)[3]
    np.testing.assert_allclose(zs[3][0], (h3 + h1) @ W4 + b4, rtol=1e-12)  # layer 3 gets layer 1's output


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(norm="batchnorm"), "norm must be one of"),
        (dict(residual=1, hidden=(4, 5)), "widths must be equal, got 4 and 5"),
        (dict(residual=0), "residual must be >= 1"),
        (dict(units=["rbf"]), "units lists one entry per hidden layer"),
        (dict(units="sparse"), "units must be 'dense' or 'rbf'"),
    ],
)
def test_bad_architecture(kwargs, match):
    args = dict(n_inputs=3, hidden=(4, 4), n_outputs=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        en.MLP(**args)


def test_flatten_round_trip_with_extra_blocks(rng):
    net = en.MLP(3, (4, 4), 2, norm="layernorm")
    theta = rng.normal(size=net.n_params)
    layers = net.unflatten(theta)
    assert [len(t) for t in layers] == [3, 3, 2]
    np.testing.assert_array_equal(net.flatten(layers), theta)
