"""The Neural Abstraction Pyramid kind: layout, the reference iteration against a plain
loop-per-cell oracle, BPTT against finite differences in float64, and bad inputs."""

import numpy as np
import pytest

import evoneuro as en
from evoneuro.backends import pyramid_array as pa
from evoneuro.network.kinds import kind_of


def small(**kw):
    opts = dict(shape=(8, 8), levels=3, features=(2, 3, 2), kernel=3, iterations=3)
    opts.update(kw)
    return en.Pyramid(**opts)


def data(net, N=3, seed=0):
    rng = np.random.default_rng(seed)
    H, W = net.shape
    return rng.uniform(size=(N, H, W, net.n_inputs)), rng.uniform(size=(N, H, W, net.n_outputs))


# --- layout ---------------------------------------------------------------------------------


def test_layout_names_every_kernel_once():
    net = small()
    theta = np.arange(net.n_params, dtype=float)
    seen = np.concatenate([v.ravel() for level in net.unflatten(theta) for v in level.values()])
    np.testing.assert_array_equal(np.sort(seen), theta)
    assert [sorted(level) for level in net.unflatten(theta)] == [
        ["backward", "bias", "input", "lateral"], ["backward", "bias", "forward", "lateral"],
        ["bias", "forward", "lateral"]]
    np.testing.assert_array_equal(net.flatten(net.unflatten(theta)), theta)
    assert kind_of(net).name == "pyramid" and net.layers[-1].end == net.n_params


def test_views_write_through_and_population_views():
    net = small()
    Theta = np.zeros((4, net.n_params))
    net.unflatten(Theta)[1]["forward"][2, 3, 1, 0, 2] = 7.0
    assert net.unflatten(Theta[2])[1]["forward"][3, 1, 0, 2] == 7.0
    assert Theta.sum() == 7.0


@pytest.mark.parametrize("scheme", ["glorot", "lecun", "he", "orthogonal", "zeros"])
def test_init_schemes_are_seeded_and_scaled_by_the_cells_fan_in(scheme):
    net = en.Pyramid((16, 16), 3, (4, 8, 16))
    a, b = net.init(3, scheme), net.init(3, scheme)
    np.testing.assert_array_equal(a, b)
    for s in net.layers:
        np.testing.assert_array_equal(s.bias(a), 0.0)
    if scheme == "glorot":
        for s in net.layers:  # U(±sqrt(6 / (fan_in + fan_out))): variance 2 / (fan_in + fan_out)
            assert np.var(s.weights(a)) == pytest.approx(2 / (s.fan_in + s.fan_out), rel=0.15)
    np.testing.assert_allclose(net.init(3, scheme, gain=2.0), 2 * a)


def test_read_weights():
    T = 4
    np.testing.assert_allclose(small(iterations=T).read_weights, np.arange(1, 5) / 10)
    np.testing.assert_allclose(small(iterations=T, read="last").read_weights, [0, 0, 0, 1])
    np.testing.assert_allclose(small(iterations=T, read=(2, 4)).read_weights, [0, 0.5, 0, 0.5])


# --- the forward pass against a loop over cells ------------------------------------------------


def _naive(net, theta, X):
    """The pyramid's equations, one cell at a time (module docstring of evoneuro.network.pyramid)."""
    levels = net.unflatten(theta)
    L, T = net.levels, net.iterations

    def read(s, i, j):  # a state map (h, w, F) at (i, j), with the net's border
        h, w = s.shape[:2]
        if net.border == "wrap":
            return s[i % h, j % w]
        return s[i, j] if 0 <= i < h and 0 <= j < w else np.zeros(s.shape[2])

    states = [np.zeros(r + (F,)) for r, F in zip(net.resolutions, net.features)]
    outs = []
    for _ in range(T):
        new = []
        for l in range(L):
            h, w = net.resolutions[l]
            z = np.zeros((h, w, net.features[l]))
            p = net.kernel // 2
            for i in range(h):
                for j in range(w):
                    acc = levels[l]["bias"].copy()
                    for a in range(net.kernel):
                        for c in range(net.kernel):
                            acc += read(states[l], i + a - p, j + c - p) @ levels[l]["lateral"][a, c]
                            if l == 0:
                                acc += read(X, i + a - p, j + c - p) @ levels[l]["input"][a, c]
                    if l > 0:
                        for a in range(4):
                            for c in range(4):
                                acc += read(states[l - 1], 2 * i + a - 1, 2 * j + c - 1) @ levels[l]["forward"][a, c]
                    if l < L - 1:
                        acc += states[l + 1][i // 2, j // 2] @ levels[l]["backward"][i % 2, j % 2]
                    z[i, j] = acc
            s = net.activations[l](z)
            if l == 0:
                s[..., :net.n_outputs] = net.output_activation(z[..., :net.n_outputs])
            new.append(s)
        states = new
        outs.append(states[0][..., :net.n_outputs])
    return outs


@pytest.mark.parametrize("border", ["zero", "wrap"])
def test_forward_matches_the_equations_cell_by_cell(border):
    net = small(border=border, n_inputs=2, n_outputs=2, output="linear", activation="tanh")
    theta = net.init(0, gain=1.5) + np.random.default_rng(1).normal(size=net.n_params) * 0.1
    X, _ = data(net, N=2)
    out, hidden = en.Evaluator(net, dtype="float64").forward(theta, X, return_hidden=True)
    for n in range(2):
        expect = _naive(net, theta, X[n])
        np.testing.assert_allclose(out[0, n], expect[-1], rtol=1e-12, atol=1e-12)
        for t in range(net.iterations):
            np.testing.assert_allclose(hidden[-1][0, n, t], expect[t], rtol=1e-12, atol=1e-12)
    assert [z.shape for z in hidden[:-1]] == [(1, 2, 3) + r + (F,) for r, F in zip(net.resolutions, net.features)]


def test_loss_is_the_read_weighted_squared_error():
    net = small(iterations=3)
    X, y = data(net)
    theta = net.init(0)
    _, hidden = en.Evaluator(net, dtype="float64").forward(theta, X, return_hidden=True)
    per_t = ((hidden[-1][0] - y[:, None]) ** 2).mean(axis=(0, 2, 3, 4))
    assert en.Evaluator(net, dtype="float64").loss(theta, X, y)[0] == pytest.approx(per_t @ net.read_weights)


# --- BPTT against finite differences, float64 --------------------------------------------------


def _check_gradient(net, seed=0, per_block=3):
    rng = np.random.default_rng(seed)
    Theta = net.init_population(2, rng, gain=2.0) + rng.normal(size=(2, net.n_params)) * 0.1
    X, y = data(net, seed=seed)
    if net.output == "linear":
        y = 2 * y - 0.5
    loss, G = pa.loss_and_grad(np, net, Theta, X, y)
    np.testing.assert_allclose(loss, pa.loss(np, net, Theta, X, y), rtol=1e-13)
    blocks = [(p.start, p.end) for projs in net.projections for p in projs]
    blocks += [(s.b_start, s.b_end) for s in net.layers]
    idx = np.unique(np.concatenate([rng.integers(a, b, size=per_block) for a, b in blocks]))
    eps = 1e-6
    for i in idx:
        E = np.zeros(net.n_params)
        E[i] = eps
        num = (pa.loss(np, net, Theta + E, X, y) - pa.loss(np, net, Theta - E, X, y)) / (2 * eps)
        np.testing.assert_allclose(G[:, i], num, rtol=1e-6, atol=1e-9 * max(1.0, np.abs(G).max()))
    return G


@pytest.mark.parametrize("border", ["zero", "wrap"])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", ("tanh", 1.7159, 2 / 3), "softsign"])
def test_gradient_every_projection_activation_and_border(border, activation):
    _check_gradient(small(border=border, activation=activation))


@pytest.mark.parametrize("output", ["sigmoid", "linear"])
@pytest.mark.parametrize("read", ["linear", "last", "all", (1, 3)])
def test_gradient_every_output_and_read(output, read):
    _check_gradient(small(output=output, read=read, n_inputs=2, n_outputs=2))


def test_gradient_kernel_five_and_two_levels():
    _check_gradient(en.Pyramid((8, 8), 2, (3, 2), kernel=5, iterations=2, border="wrap"))


def test_gradient_at_saturating_scales_is_finite_and_right():
    net = small()
    G = _check_gradient(net, seed=2)
    Theta = net.init_population(2, 0, gain=200.0)
    X, y = data(net)
    loss, G = pa.loss_and_grad(np, net, Theta, X, y)
    assert np.isfinite(loss).all() and np.isfinite(G).all()


def test_on_state_sees_every_level_and_iteration():
    net = small()
    X, y = data(net)
    seen = []
    pa.loss_and_grad(np, net, net.init(0)[None], X, y, on_state=lambda l, t, ds: seen.append((l, t, ds.shape)))
    assert [(l, t) for l, t, _ in seen] == [(l, t) for t in (3, 2, 1) for l in range(3)]


# --- bad inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize("kw, error, match", [
    ({"shape": (16,)}, ValueError, "shape must be a pair"),
    ({"shape": (10, 16)}, ValueError, "divisible by 2"),
    ({"levels": 0}, ValueError, "levels must be >= 1"),
    ({"features": (4, 8)}, ValueError, "one int per level"),
    ({"features": (4, 0, 2)}, ValueError, r"features\[1\] must be >= 1"),
    ({"kernel": 4}, ValueError, "kernel must be odd"),
    ({"kernel": 3.0}, TypeError, "kernel must be an int"),
    ({"iterations": 0}, ValueError, "iterations must be >= 1"),
    ({"output": "softmax"}, ValueError, "output must be one of"),
    ({"border": "mirror"}, ValueError, "border must be one of"),
    ({"read": "first"}, ValueError, "read must be one of"),
    ({"read": (0, 2)}, ValueError, r"read\[i\] must be >= 1"),
    ({"read": (5,)}, ValueError, "read iterations must lie in"),
    ({"n_outputs": 9}, ValueError, "n_outputs must be <= features"),
    ({"activation": "swish"}, ValueError, "activation must be one of"),
])
def test_bad_arguments_name_themselves(kw, error, match):
    opts = dict(shape=(16, 16), levels=3, features=(4, 8, 16), iterations=4)
    opts.update(kw)
    with pytest.raises(error, match=match):
        en.Pyramid(**opts)


def test_bad_data_name_the_argument():
    net = small()
    ev = en.Evaluator(net, dtype="float64")
    theta = net.init(0)
    X, y = data(net)
    with pytest.raises(ValueError, match=r"X must hold images of shape \(n_samples, 8, 8, 1\)"):
        ev.loss(theta, X[:, :4], y)
    with pytest.raises(ValueError, match="y must hold one target image per input image"):
        ev.loss(theta, X, y[:2])
    with pytest.raises(ValueError, match=r"y must lie in \[0, 1\]"):
        ev.loss(theta, X, y + 1)
    with pytest.raises(ValueError, match="NaN"):
        ev.loss(theta, np.full_like(X, np.nan), y)
    with pytest.raises(TypeError, match="X must hold numbers"):
        ev.loss(theta, np.array([["a"]]), y)
    with pytest.raises(ValueError, match="lengths is for sequence networks"):
        ev.loss(theta, X, y, lengths=np.ones(3, int))
    with pytest.raises(ValueError, match="has none"):
        net.last_hidden()


def test_pickles_and_compares():
    import pickle

    net = small()
    assert pickle.loads(pickle.dumps(net)) == net and hash(net) == hash(small())
    assert net != small(border="wrap") and "border='wrap'" in repr(small(border="wrap"))


def test_callable_form_is_the_evaluator():
    from evoneuro.fitness import PyramidFunction, network_function

    net = small()
    theta = net.init(1)
    X, _ = data(net)
    f = network_function(net, theta)
    assert isinstance(f, PyramidFunction)
    np.testing.assert_array_equal(f(X[..., 0]), en.Evaluator(net, dtype="float64").forward(theta, X)[0, ..., 0])
