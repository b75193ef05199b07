"""MLP spec: flat layout, views, flatten/unflatten, inits, bad input."""

import numpy as np
import pytest

import evoneuro as en
from evoneuro.network.init import INITS, check_rng


def test_layout_is_contiguous_per_layer():
    net = en.MLP(3, (4, 5), 2)
    assert net.sizes == (3, 4, 5, 2)
    assert net.n_params == 3 * 4 + 4 + 4 * 5 + 5 + 5 * 2 + 2
    starts = [(s.w_start, s.w_end, s.b_start, s.b_end) for s in net.layers]
    assert starts == [(0, 12, 12, 16), (16, 36, 36, 41), (41, 51, 51, 53)]


def test_unflatten_views_share_memory_and_flatten_inverts(rng):
    net = en.MLP(3, (4, 5), 2)
    theta = rng.normal(size=net.n_params)
    layers = net.unflatten(theta)
    assert [W.shape for W, _ in layers] == [(3, 4), (4, 5), (5, 2)]
    assert [b.shape for _, b in layers] == [(4,), (5,), (2,)]
    assert all(np.shares_memory(W, theta) and np.shares_memory(b, theta) for W, b in layers)
    layers[1][0][2, 3] = 99.0
    assert theta[16 + 2 * 5 + 3] == 99.0
    np.testing.assert_array_equal(net.flatten(net.unflatten(theta)), theta)


def test_population_views_without_copy(rng):
    net = en.MLP(3, (4,), 2)
    Theta = rng.normal(size=(6, net.n_params))
    for i, (W, b) in enumerate(net.unflatten(Theta)):
        assert np.shares_memory(W, Theta)
        for p in range(6):
            Wp, bp = net.unflatten(Theta[p])[i]
            np.testing.assert_array_equal(W[p], Wp)
            np.testing.assert_array_equal(b[p], bp)


@pytest.mark.parametrize("scheme", sorted(INITS))
def test_inits_have_their_documented_scale(scheme):
    net = en.MLP(200, (300,), 10)
    theta = net.init(np.random.default_rng(0), scheme=scheme)
    (W, b), _ = net.unflatten(theta)
    assert theta.dtype == np.float64
    np.testing.assert_array_equal(b, 0.0)
    fi, fo = W.shape
    expected_std = {
        "standard": 1 / np.sqrt(3 * fi),
        "lecun": np.sqrt(1 / fi),
        "lecun_normal": np.sqrt(1 / fi),
        "lecun_uniform": np.sqrt(1 / fi),
        "glorot": np.sqrt(2 / (fi + fo)),
        "glorot_uniform": np.sqrt(2 / (fi + fo)),
        "xavier": np.sqrt(2 / (fi + fo)),
        "glorot_normal": np.sqrt(2 / (fi + fo)),
        "he": np.sqrt(2 / fi),
        "he_normal": np.sqrt(2 / fi),
        "he_uniform": np.sqrt(2 / fi),
        "orthogonal": np.sqrt(1 / fo),
        "zeros": 0.0,
    }[scheme]
    assert W.std() == pytest.approx(expected_std, rel=0.03, abs=1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
def test_orthogonal_init_is_orthonormal_and_gain_scales(shape):
    net = en.MLP(shape[0], (), shape[1], output="linear")
    W, _ = net.unflatten(net.init(np.random.default_rng(1), "orthogonal", gain=2.0))[0]
    small = min(shape)
    gram = W.T @ W if shape[0] >= shape[1] else W @ W.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)


def test_init_is_reproducible():
    net = en.MLP(4, (8,), 3)
    np.testing.assert_array_equal(net.init(7, "he"), net.init(np.random.default_rng(7), "he"))
    P = net.init_population(3, 0)
    assert P.shape == (3, net.n_params) and not np.array_equal(P[0], P[1])


def test_per_layer_activations_and_repr():
    net = en.MLP(2, (3, 3), 2, activation=["tanh", ("sigmoid", 2.0)])
    assert [str(a) for a in net.activations] == ["tanh", "2*sigmoid(1z)"]
    assert "MLP(n_inputs=2" in repr(net)
    assert net == en.MLP(2, (3, 3), 2, activation=["tanh", ("sigmoid", 2.0)])


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(n_inputs=0), ValueError, "n_inputs must be >= 1"),
        (dict(n_inputs=2.5), TypeError, "n_inputs must be an int"),
        (dict(hidden=(4, 0)), ValueError, r"hidden\[1\] must be >= 1"),
        (dict(hidden="32"), TypeError, "hidden must be a sequence"),
        (dict(output="sigmoid"), ValueError, "output must be one of"),
        (dict(n_outputs=1), ValueError, "softmax' needs n_outputs >= 2"),
        (dict(activation="swish"), ValueError, "activation must be one of"),
    ],
)
def test_bad_spec(kwargs, exc, match):
    args = dict(n_inputs=3, hidden=(4,), n_outputs=2)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        en.MLP(**args)


def test_bad_init_and_vectors():
    net = en.MLP(3, (4,), 2)
    with pytest.raises(ValueError, match="init scheme must be one of"):
        net.init(0, "kaiming_magic")
    with pytest.raises(TypeError, match="random_state must be"):
        check_rng("seed")
    with pytest.raises(ValueError, match=r"theta must have shape \(n_params,\) or \(P, n_params\)"):
        net.unflatten(np.zeros(5))
    with pytest.raises(ValueError, match=r"layers\[0\] must be"):
        net.flatten([(np.zeros((4, 3)), np.zeros(4)), (np.zeros((4, 2)), np.zeros(2))])
    with pytest.raises(ValueError, match="layers must hold 2"):
        net.flatten([])
