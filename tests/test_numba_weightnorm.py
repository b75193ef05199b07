"""WeightNorm MLPs on the Numba backend (fused kernels on effective weights) against the oracle."""

import numpy as np
import pytest

import evoneuro as en
from evoneuro.backends.numba import backend as numba_backend, mlp as numba_mlp, weightnorm as numba_weightnorm
from tests.backend_helpers import assert_gradient_matches_fd, assert_matches_numpy


def problem(act, output, hidden, P=3, N=70, seed=0, scale=1.0, residual=None):
    rng = np.random.default_rng(seed)
    net = en.MLP(n_inputs=6, hidden=hidden, n_outputs=3, activation=act, output=output, norm="weightnorm",
                 residual=residual)
    Theta = net.init_population(P, rng) * scale
    for s in net.layers:  # gains and biases away from their initial values
        s.bias(Theta)[...] = rng.normal(size=s.bias(Theta).shape)
        if s.kind == "weightnorm":
            s.extra(Theta)[...] = scale * rng.uniform(0.5, 2.0, size=s.extra(Theta).shape)
    X = rng.normal(size=(N, 6))
    y = rng.integers(0, 3, size=N) if output == "softmax" else rng.normal(size=(N, 3))
    return net, Theta, X, y


def test_weightnorm_nets_take_the_fused_path(monkeypatch):
    net = en.MLP(4, (8, 8), 3, norm="weightnorm")
    others = (en.MLP(4, (8, 8), 3, norm="weightnorm", residual=1),
              en.MLP(4, (8, 8), 3, norm="weightnorm", units=["rbf", "dense"]))
    for n in (net, *others, en.MLP(4, (8, 8), 3, norm="layernorm")):
        assert numba_backend._kind_code(n) is numba_mlp  # the MLP kind's module, never the reference
    plain = numba_weightnorm.plain(net)
    assert plain.is_plain and plain.sizes == net.sizes and plain.activations == net.activations

    calls = []  # the MLP module hands WeightNorm nets (and only them) to the reparametrisation
    effective = numba_weightnorm.effective
    monkeypatch.setattr(numba_weightnorm, "effective", lambda n, T: calls.append(n) or effective(n, T))
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 4)), np.array([0, 1, 2, 0, 1])
    for n in (net, *others, en.MLP(4, (8, 8), 3, norm="layernorm"), plain):
        ev = en.Evaluator(n, backend="numba", dtype="float64")
        Theta = n.init_population(2, rng)
        ev.forward(Theta, X), ev.loss(Theta, X, y), ev.loss_and_grad(Theta, X, y)
    assert calls == [n for n in (net, *others) for _ in range(3)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("act,output,hidden", [
    ("sigmoid", "softmax", (9, 5)),
    ("tanh", "linear", (32, 5, 9)),
    (("tanh", 1.7159, 2 / 3), "softmax", (7,)),
    ("gaussian", "linear", (6, 6)),
])
@pytest.mark.parametrize("scale", [1.0, 30.0])  # 30: saturated units
def test_agrees_with_numpy(act, output, hidden, dtype, scale):
    assert_matches_numpy("numba", *problem(act, output, hidden, scale=scale), dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_residual_weightnorm_agrees_with_numpy(dtype):
    assert_matches_numpy("numba", *problem("tanh", "softmax", (7, 7, 7, 7), residual=1, scale=3.0), dtype)


@pytest.mark.parametrize("residual", [None, 2])
def test_gradient_matches_finite_differences(residual):
    net, Theta, X, y = problem("tanh", "softmax", (5, 5, 5), P=1, N=20, residual=residual)
    assert_gradient_matches_fd(en.Evaluator(net, backend="numba", dtype="float64"), Theta, X, y)
