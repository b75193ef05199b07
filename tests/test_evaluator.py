"""The numpy reference evaluator: finite differences, scikit-learn as an independent
oracle, population == members, chunking, bad input."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

import evoneuro as en
from evoneuro.network.activations import ACTIVATIONS

ALL_ACTIVATIONS = list(ACTIVATIONS) + [("tanh", 1.5, 0.7), ("gaussian", 2.0, 0.5)]
OUTPUTS = ["softmax", "linear"]


def _problem(draw_or_rng, activation, output, scheme, P, depth, widths, N, d, k):
    rng = draw_or_rng
    net = en.MLP(d, widths[:depth], k, activation=activation, output=output)
    Theta = np.stack([net.init(rng, scheme) for _ in range(P)])
    Theta += 0.3 * rng.normal(size=Theta.shape)  # non-zero biases, and break symmetry of "zeros"
    X = rng.normal(size=(N, d))
    y = rng.integers(0, k, size=N) if output == "softmax" else rng.normal(size=(N, k))
    return net, Theta, X, y


def assert_grad_close(grad, fd, what=""):
    """Relative error < 1e-6, above the absolute noise floor of central differences
    (about 1e-9 per coordinate at h = 1e-6, from rounding in the loss)."""
    diff = np.linalg.norm(grad - fd)
    scale = np.linalg.norm(grad) + np.linalg.norm(fd)
    assert diff <= 1e-6 * scale + 1e-8 * np.sqrt(grad.size), (
        f"{what}: relative error {diff / max(scale, 1e-300):.2e} (|grad| {np.linalg.norm(grad):.2e})"
    )


def finite_difference_grad(ev, theta, X, y, h=1e-6):
    """Central differences, all coordinates evaluated as one population."""
    n = theta.size
    E = np.eye(n) * h
    plus = ev.loss(theta + E, X, y)
    minus = ev.loss(theta - E, X, y)
    return (plus - minus) / (2 * h)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ALL_ACTIVATIONS, ids=str)
@given(
    scheme=st.sampled_from(sorted(en.INITS)),
    P=st.integers(1, 5),
    depth=st.integers(1, 6),
    widths=st.lists(st.integers(1, 9), min_size=6, max_size=6),
    N=st.integers(1, 7),
    d=st.integers(1, 5),
    k=st.integers(2, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_gradient_matches_finite_differences(activation, output, scheme, P, depth, widths, N, d, k, seed):
    rng = np.random.default_rng(seed)
    net, Theta, X, y = _problem(rng, activation, output, scheme, P, depth, widths, N, d, k)
    if net.activations[0].name == "relu":
        # finite differences straddling a kink of relu are meaningless; shift away from them
        _, zs = en.Evaluator(net, dtype="float64").forward(Theta, X, return_hidden=True)
        if min(np.abs(z).min() for z in zs[:-1]) < 1e-4:
            return
    ev = en.Evaluator(net, backend="numpy", dtype="float64")
    losses, grads = ev.loss_and_grad(Theta, X, y)
    np.testing.assert_array_equal(losses, ev.loss(Theta, X, y))
    for p in range(P):
        assert_grad_close(grads[p], finite_difference_grad(ev, Theta[p], X, y), f"member {p}")


def _sklearn_copy(model, net, theta, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    layers = net.unflatten(theta)
    model.coefs_ = [W.copy() for W, _ in layers]
    model.intercepts_ = [b.copy() for _, b in layers]
    return model


@pytest.mark.parametrize("act, sk_act", [("sigmoid", "logistic"), ("tanh", "tanh"), ("identity", "identity"), ("relu", "relu")])
@pytest.mark.parametrize("hidden", [(7,), (5, 9, 3), (4,) * 6])
def test_classifier_matches_scikit_learn(act, sk_act, hidden, rng):
    X, y = rng.normal(size=(40, 6)), np.arange(40) % 4
    net = en.MLP(6, hidden, 4, activation=act, output="softmax")
    theta = net.init(rng, "glorot") + 0.1 * rng.normal(size=net.n_params)
    clf = _sklearn_copy(MLPClassifier(hidden_layer_sizes=hidden, activation=sk_act, max_iter=1), net, theta, X, y)
    out = en.Evaluator(net, dtype="float64").forward(theta, X)
    np.testing.assert_allclose(out[0], clf.predict_proba(X), rtol=0, atol=1e-10)


@pytest.mark.parametrize("act, sk_act", [("sigmoid", "logistic"), ("tanh", "tanh")])
def test_regressor_matches_scikit_learn(act, sk_act, rng):
    X, Y = rng.normal(size=(30, 5)), rng.normal(size=(30, 3))
    net = en.MLP(5, (8, 6), 3, activation=act, output="linear")
    theta = net.init(rng, "lecun") + 0.1 * rng.normal(size=net.n_params)
    reg = _sklearn_copy(MLPRegressor(hidden_layer_sizes=(8, 6), activation=sk_act, max_iter=1), net, theta, X, Y)
    out = en.Evaluator(net, dtype="float64").forward(theta, X)
    np.testing.assert_allclose(out[0], reg.predict(X), rtol=0, atol=1e-10)


def test_loss_is_mean_cross_entropy(rng):
    X = rng.normal(size=(9, 3))
    net = en.MLP(3, (4,), 3, activation="tanh")
    theta = net.init(rng)
    ev = en.Evaluator(net, dtype="float64")
    y = rng.integers(0, 3, 9)
    p = ev.forward(theta, X)[0]
    assert ev.loss(theta, X, y)[0] == pytest.approx(-np.log(p[np.arange(9), y]).mean(), rel=1e-12)


def test_mse_definition(rng):
    X, Y = rng.normal(size=(9, 3)), rng.normal(size=(9, 2))
    net = en.MLP(3, (4,), 2, activation="tanh", output="linear")
    theta = net.init(rng)
    ev = en.Evaluator(net, dtype="float64")
    assert ev.loss(theta, X, Y)[0] == pytest.approx(((ev.forward(theta, X)[0] - Y) ** 2).mean(), rel=1e-12)
    # single-output regression accepts y of shape (N,)
    net1 = en.MLP(3, (4,), 1, output="linear")
    ev1 = en.Evaluator(net1, dtype="float64")
    t1 = net1.init(rng)
    np.testing.assert_array_equal(ev1.loss(t1, X, Y[:, 0]), ev1.loss(t1, X, Y[:, :1]))


def test_softmax_loss_is_stable_for_huge_logits():
    net = en.MLP(1, (), 3, output="softmax")
    theta = net.flatten([(np.array([[1e4, -1e4, 0.0]]), np.zeros(3))])
    ev = en.Evaluator(net, dtype="float64")
    loss = ev.loss(theta, np.ones((2, 1)), np.array([0, 1]))
    assert np.isfinite(loss).all()
    assert loss[0] == pytest.approx((0.0 + 2e4) / 2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_population_equals_members_and_chunks(dtype, rng):
    net = en.MLP(5, (6, 4), 3, activation="tanh")
    Theta = net.init_population(7, rng)
    X, y = rng.normal(size=(11, 5)), rng.integers(0, 3, 11)
    ev = en.Evaluator(net, dtype=dtype)
    tiny = en.Evaluator(net, dtype=dtype, max_memory=1)  # one member per chunk
    assert tiny.chunk_size(11, True) == 1
    losses, grads = ev.loss_and_grad(Theta, X, y)
    out, zs = ev.forward(Theta, X, return_hidden=True)
    for other in (tiny,):
        l2, g2 = other.loss_and_grad(Theta, X, y)
        np.testing.assert_array_equal(losses, l2)
        np.testing.assert_array_equal(grads, g2)
        o2, z2 = other.forward(Theta, X, return_hidden=True)
        np.testing.assert_array_equal(out, o2)
        for a, b in zip(zs, z2):
            np.testing.assert_array_equal(a, b)
    for p in range(7):
        lp, gp = ev.loss_and_grad(Theta[p], X, y)
        np.testing.assert_array_equal(lp, losses[p : p + 1])
        np.testing.assert_array_equal(gp[0], grads[p])
        np.testing.assert_array_equal(ev.forward(Theta[p], X)[0], out[p])
    assert grads.dtype == np.dtype(dtype) and losses.dtype == np.float64 and out.dtype == np.dtype(dtype)


def test_return_hidden_gives_pre_activations(rng):
    net = en.MLP(3, (4, 5), 2, activation="sigmoid")
    theta = net.init(rng)
    X = rng.normal(size=(6, 3))
    out, zs = en.Evaluator(net, dtype="float64").forward(theta, X, return_hidden=True)
    assert [z.shape for z in zs] == [(1, 6, 4), (1, 6, 5), (1, 6, 2)]
    (W1, b1), (W2, b2), (W3, b3) = net.unflatten(theta)
    z1 = X @ W1 + b1
    z2 = (1 / (1 + np.exp(-z1))) @ W2 + b2
    np.testing.assert_allclose(zs[0][0], z1, rtol=1e-13)
    np.testing.assert_allclose(zs[1][0], z2, rtol=1e-13)
    e = np.exp(zs[2][0] - zs[2][0].max(1, keepdims=True))
    np.testing.assert_allclose(out[0], e / e.sum(1, keepdims=True), rtol=1e-13)


def test_float32_close_to_float64(rng):
    net = en.MLP(8, (16,) * 4, 5, activation="sigmoid")
    Theta = net.init_population(3, rng)
    X, y = rng.normal(size=(20, 8)), rng.integers(0, 5, 20)
    l32, g32 = en.Evaluator(net, dtype="float32").loss_and_grad(Theta, X, y)
    l64, g64 = en.Evaluator(net, dtype="float64").loss_and_grad(Theta, X, y)
    np.testing.assert_allclose(l32, l64, rtol=1e-5)
    np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-5)


class TestBadInput:
    net = en.MLP(3, (4,), 3)

    @pytest.fixture
    def ev(self):
        return en.Evaluator(self.net)

    def test_theta_shape(self, ev):
        with pytest.raises(ValueError, match=r"Theta must have shape \(n_params,\) or \(P, n_params\) with n_params=31"):
            ev.loss(np.zeros(30), np.zeros((2, 3)), [0, 1])
        with pytest.raises(ValueError, match="Theta must have shape"):
            ev.forward(np.zeros((2, 2, 31)), np.zeros((2, 3)))

    def test_X_shape_and_values(self, ev):
        theta = np.zeros(31)
        with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 3\), got \(2, 4\)"):
            ev.forward(theta, np.zeros((2, 4)))
        with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 3\), got \(3,\)"):
            ev.forward(theta, np.zeros(3))
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            ev.forward(theta, np.array([[0, np.nan, 1.0]]))
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            ev.loss(theta, np.array([[0, np.inf, 1.0]]), [0])
        with pytest.raises(TypeError, match="X must hold numbers"):
            ev.forward(theta, np.array([["a", "b", "c"]]))

    def test_labels(self, ev):
        theta, X = np.zeros(31), np.zeros((3, 3))
        with pytest.raises(ValueError, match=r"y labels must lie in \[0, 2\] for n_outputs=3; got range \[0, 3\]"):
            ev.loss(theta, X, [0, 1, 3])
        with pytest.raises(ValueError, match="y labels must lie in"):
            ev.loss(theta, X, [-1, 1, 2])
        with pytest.raises(ValueError, match=r"y must have shape \(3,\) to match X"):
            ev.loss(theta, X, [0, 1])
        with pytest.raises(ValueError, match="y must hold integer class labels"):
            ev.loss(theta, X, [0.5, 1, 2])
        with pytest.raises(TypeError, match="y must hold integer class labels"):
            ev.loss(theta, X, ["a", "b", "c"])

    def test_targets(self):
        net = en.MLP(3, (4,), 2, output="linear")
        ev = en.Evaluator(net)
        theta, X = np.zeros(net.n_params), np.zeros((3, 3))
        with pytest.raises(ValueError, match=r"y must have shape \(3, 2\)"):
            ev.loss(theta, X, np.zeros(3))
        with pytest.raises(ValueError, match="y contains NaN"):
            ev.loss(theta, X, np.full((3, 2), np.nan))

    def test_constructor(self):
        with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
            en.Evaluator(self.net, dtype="float16")
        with pytest.raises(ValueError, match="backend must be one of"):
            en.Evaluator(self.net, backend="tpu")
        with pytest.raises(TypeError, match="net must be an evoneuro.MLP"):
            en.Evaluator("net")
        with pytest.raises(TypeError, match="max_memory must be an int"):
            en.Evaluator(self.net, max_memory=1.5)


def test_contract_lines_run_as_written():
    """The ARCHITECTURE.md contract for MLP and Evaluator, verbatim."""
    rng = np.random.default_rng(0)
    net = en.MLP(n_inputs=64, hidden=(32,) * 10, n_outputs=10, activation="sigmoid", output="softmax")
    assert net.n_params == 11914
    theta = net.init(rng, scheme="glorot")
    layers = net.unflatten(theta)
    np.testing.assert_array_equal(net.flatten(layers), theta)
    ev = en.Evaluator(net, backend="numpy", dtype="float32")
    X, y = rng.random((16, 64)), rng.integers(0, 10, 16)
    Theta = np.stack([theta, theta * 0.5])
    assert ev.forward(Theta, X).shape == (2, 16, 10)
    assert ev.forward(theta, X).shape == (1, 16, 10)
    assert ev.loss(Theta, X, y).shape == (2,)
    losses, grads = ev.loss_and_grad(Theta, X, y)
    assert losses.shape == (2,) and grads.shape == (2, 11914)


def test_evaluator_pickles(rng):
    import pickle

    net = en.MLP(3, (4,), 2)
    ev = en.Evaluator(net, dtype="float64", max_memory=12345)
    ev2 = pickle.loads(pickle.dumps(ev))
    assert (ev2.backend, ev2.dtype, ev2.max_memory, ev2.net) == ("numpy", ev.dtype, 12345, net)
    theta, X = net.init(rng), rng.normal(size=(4, 3))
    np.testing.assert_array_equal(ev2.forward(theta, X), ev.forward(theta, X))
