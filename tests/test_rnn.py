"""Recurrent nets: BPTT against finite differences, the forward pass against a plain loop.

The oracle below reads the named gate arrays of ``unflatten`` and steps one sequence at a
time with vectors, so it checks the flat layout, the gate order and the equations; the
finite differences then check every gradient of the population code.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evoneuro as en
from evoneuro.network.losses import output_fn
from evoneuro.optimizers import available

CELLS = ["elman", "lstm", "gru"]
ACTS = ["tanh", "sigmoid"]
OUTPUTS = ["softmax", "linear", "sigmoid"]
READOUTS = ["last", "all"]


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def oracle_logits(net, theta, x):
    """Logits ``(T, K)`` of one sequence ``x (T, d)``, stepped with vectors."""
    *rec, (W, b) = net.unflatten(theta)
    inp = x
    for l, layer in enumerate(rec):
        act, H = net.activations[l], net.hidden[l]
        off = np.ones((H, H)) - (0 if net.self_connections else np.eye(H))
        Wi = {k: g["W_i"] for k, g in layer.items()}
        Wh = {k: g["W_h"] * off for k, g in layer.items()}
        bb = {k: g["b"] for k, g in layer.items()}
        h, c, states = np.zeros(H), np.zeros(H), []
        for xt in inp:
            pre = {k: xt @ Wi[k] + h @ Wh[k] + bb[k] for k in layer}
            if net.update == "sequential":  # unit j reads the units before it at this step
                h = h.copy()
                for j in range(H):
                    h[j] = act(xt @ Wi["h"][:, j] + h @ Wh["h"][:, j] + bb["h"][j])
            elif net.cell == "elman":
                h = act(pre["h"])
            elif net.cell == "lstm":
                c = sig(pre["f"]) * c + sig(pre["i"]) * act(pre["g"])
                h = sig(pre["o"]) * act(c)
            else:
                r, z = sig(pre["r"]), sig(pre["z"])
                n = act(xt @ Wi["n"] + (r * h) @ Wh["n"] + bb["n"])
                h = (1 - z) * n + z * h
            states.append(h)
        inp = np.array(states)
    return inp @ W + b


def oracle_loss(net, theta, X, y, lengths):
    """Mean loss over the read steps, computed per sequence and step."""
    terms = []
    for n in range(len(X)):
        L = lengths[n] if lengths is not None else X.shape[1]
        logits = oracle_logits(net, theta, X[n])
        steps = [L - 1] if net.readout == "last" else range(L)
        for t in steps:
            z, target = logits[t], (y[n] if net.readout == "last" else y[n, t])
            if net.output == "softmax":
                terms.append([np.log(np.exp(z - z.max()).sum()) + z.max() - z[target]])
            elif net.output == "linear":
                terms.append((z - target) ** 2)
            else:
                p = sig(z)
                terms.append(-(target * np.log(p) + (1 - target) * np.log(1 - p)))
    return float(np.mean(np.concatenate(terms)))


def make(cell, act, output, readout, hidden=(3, 2), d=2, K=3, N=4, T=5, masked=True,
         self_connections=True, seed=0, scale=0.3, update="parallel"):
    rng = np.random.default_rng(seed)
    net = en.RNN(d, hidden, K, cell=cell, activation=act, output=output, readout=readout,
                 self_connections=self_connections, update=update)
    theta = net.init(rng) + rng.normal(scale=scale, size=net.n_params)
    X = rng.normal(size=(N, T, d))
    shape = (N,) if readout == "last" else (N, T)
    if output == "softmax":
        y = rng.integers(0, K, size=shape)
    elif output == "linear":
        y = rng.normal(size=shape + (K,))
    else:
        y = rng.uniform(size=shape + (K,))
    lengths = rng.integers(1, T + 1, size=N) if masked else None
    return net, theta, X, y, lengths


def fd_grad(ev, theta, X, y, lengths, eps=1e-6):
    """Central differences, every coordinate at once: one population of 2n perturbed nets."""
    E = eps * np.eye(theta.size)
    return (ev.loss(theta + E, X, y, lengths=lengths) - ev.loss(theta - E, X, y, lengths=lengths)) / (2 * eps)


def check_gradient(net, theta, X, y, lengths, tol=1e-6):
    ev = en.Evaluator(net, dtype="float64")
    L, G = ev.loss_and_grad(theta, X, y, lengths=lengths)
    # atol: a loss near 0 is a difference of O(1) terms (softmax: logsumexp - z), which the
    # kernels' tanh (a few ulps from NumPy's) moves by ~1e-17 absolute
    np.testing.assert_allclose(L[0], oracle_loss(net, theta, X, y, lengths), rtol=1e-10, atol=1e-14)
    g = fd_grad(ev, theta, X, y, lengths)
    # Central differences carry rounding noise of about ulp(loss terms) / eps ~ 1e-10 whatever
    # the gradient's size: a nearly solved net (loss 1e-7, gradient 5e-7) is judged on that floor.
    err = np.max(np.abs(G[0] - g))
    assert err < tol * max(np.max(np.abs(g)), 1e-12) + 1e-9, (err, np.max(np.abs(g)))


@pytest.mark.parametrize("masked", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("cell", CELLS)
def test_gradient_matches_finite_differences(cell, act, output, readout, masked):
    check_gradient(*make(cell, act, output, readout, masked=masked))


@settings(max_examples=15, deadline=None)
@given(cell=st.sampled_from(CELLS), act=st.sampled_from(ACTS + [("tanh", 1.7159, 2 / 3)]),
       output=st.sampled_from(OUTPUTS), readout=st.sampled_from(READOUTS),
       hidden=st.lists(st.integers(1, 4), min_size=1, max_size=2), d=st.integers(1, 3), K=st.integers(2, 3),
       N=st.integers(1, 3), T=st.integers(1, 5), masked=st.booleans(), self_connections=st.booleans(),
       scale=st.sampled_from([0.1, 0.5, 1.5]), seed=st.integers(0, 2**16))
def test_gradient_property(cell, act, output, readout, hidden, d, K, N, T, masked, self_connections, scale, seed):
    check_gradient(*make(cell, act, output, readout, tuple(hidden), d, K, N, T, masked, self_connections,
                         seed, scale), tol=1e-5)


@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("cell", CELLS)
def test_forward_matches_the_stepped_oracle(cell, readout):
    net, theta, X, _, lengths = make(cell, "tanh", "softmax", readout, self_connections=False)
    out = en.Evaluator(net, dtype="float64").forward(theta, X, lengths=lengths)[0]
    for n in range(len(X)):
        probs = output_fn("softmax", oracle_logits(net, theta, X[n]), np)
        if readout == "last":
            np.testing.assert_allclose(out[n], probs[lengths[n] - 1], rtol=1e-12)
        else:
            np.testing.assert_allclose(out[n], probs, rtol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_padding_has_no_effect(cell):
    for readout in READOUTS:
        net, theta, X, y, lengths = make(cell, "tanh", "linear", readout, masked=True, seed=3)
        ev = en.Evaluator(net, dtype="float64")
        X2 = X.copy()
        for n, L in enumerate(lengths):
            X2[n, L:] = 1e3  # garbage after the end
        a, b = ev.loss_and_grad(theta, X, y, lengths=lengths), ev.loss_and_grad(theta, X2, y, lengths=lengths)
        np.testing.assert_allclose(a[0], b[0], rtol=1e-13)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-12, atol=1e-15)


def test_full_lengths_equal_no_lengths():
    net, theta, X, y, _ = make("lstm", "tanh", "softmax", "all")
    ev = en.Evaluator(net, dtype="float64")
    full = np.full(len(X), X.shape[1])
    np.testing.assert_allclose(ev.loss_and_grad(theta, X, y, lengths=full)[1], ev.loss_and_grad(theta, X, y)[1],
                               rtol=1e-13)


def test_no_self_connections_mask():
    net, theta, X, y, lengths = make("gru", "tanh", "softmax", "last", self_connections=False)
    ev = en.Evaluator(net, dtype="float64")
    L, G = ev.loss_and_grad(theta, X, y, lengths=lengths)
    moved = theta.copy()
    for l in range(net.n_recurrent):
        for gate in net.unflatten(moved)[l].values():
            np.fill_diagonal(gate["W_h"], 5.0)
            assert np.all(np.diag(net.unflatten(G[0])[l]["z"]["W_h"]) == 0)
    np.testing.assert_allclose(ev.loss(moved, X, y, lengths=lengths), L, rtol=1e-14)
    # the same as the full net with its diagonals zeroed
    full = en.RNN(2, (3, 2), 3, cell="gru", readout="last")
    zeroed = theta.copy()
    for l in range(net.n_recurrent):
        for gate in full.unflatten(zeroed)[l].values():
            np.fill_diagonal(gate["W_h"], 0.0)
    np.testing.assert_allclose(en.Evaluator(full, dtype="float64").loss(zeroed, X, y, lengths=lengths), L,
                               rtol=1e-14)


# --- specification ----------------------------------------------------------------------


@pytest.mark.parametrize("cell,G", [("elman", 1), ("lstm", 4), ("gru", 3)])
def test_layout_and_round_trip(cell, G, rng):
    net = en.RNN(3, (5, 4), 2, cell=cell)
    assert net.n_params == G * (3 + 5 + 1) * 5 + G * (5 + 4 + 1) * 4 + 4 * 2 + 2
    assert [(s.w_start, s.end) for s in net.layers] == [
        (0, G * 45), (G * 45, G * 85), (G * 85, G * 85 + 10)]
    theta = rng.normal(size=net.n_params)
    parts = net.unflatten(theta)
    assert list(parts[0]) == list(net.gates) and parts[0][net.gates[-1]]["W_i"].shape == (3, 5)
    assert parts[1][net.gates[0]]["W_h"].shape == (4, 4) and parts[-1][0].shape == (4, 2)
    np.testing.assert_array_equal(net.flatten(parts), theta)
    parts[0][net.gates[0]]["b"][0] = 123.0  # views: writing writes into theta
    assert theta[net.layers[0].b_start] == 123.0
    Theta = rng.normal(size=(6, net.n_params))
    assert net.unflatten(Theta)[1][net.gates[-1]]["W_h"].shape == (6, 4, 4)
    with pytest.raises(ValueError, match="gates"):
        net.flatten([{"x": {}}, parts[1], parts[2]])


def test_spec_identity_pickle_and_repr():
    import pickle

    a = en.RNN(1, 8, 2, cell="lstm", self_connections=False)
    b = pickle.loads(pickle.dumps(a))
    assert a == b and hash(a) == hash(b) and a != en.RNN(1, 8, 2, cell="gru")
    assert a != en.MLP(1, (8,), 2)
    assert repr(a) == ("RNN(n_inputs=1, hidden=(8,), n_outputs=2, cell='lstm', activation='tanh', "
                       "output='softmax', readout='last', self_connections=False)")
    assert a.sizes == (1, 8, 2) and a.hidden == (8,) and not a.is_plain and a.n_layers == 2
    assert a.forward_cost((5, 7, 1)) == 35 and en.MLP(1, (8,), 2).forward_cost((5, 1)) == 5


@pytest.mark.parametrize("kwargs,exc,match", [
    ({"cell": "rnn"}, ValueError, "cell"),
    ({"output": "tanh"}, ValueError, "output"),
    ({"readout": "first"}, ValueError, "readout"),
    ({"hidden": ()}, ValueError, "hidden"),
    ({"hidden": (0,)}, ValueError, r"hidden\[0\]"),
    ({"n_outputs": 1}, ValueError, "softmax"),
    ({"activation": "nope"}, ValueError, "activation"),
    ({"self_connections": "no"}, TypeError, "self_connections"),
])
def test_bad_spec(kwargs, exc, match):
    args = {"n_inputs": 2, "hidden": (4,), "n_outputs": 2} | kwargs
    with pytest.raises(exc, match=match):
        en.RNN(**args)


def _gates(net, theta, l=0):
    return net.unflatten(theta)[l]


def test_init_schemes():
    H = 64
    rng = np.random.default_rng(0)
    for cell in CELLS:
        net = en.RNN(3, (H,), 2, cell=cell)
        cand = {"elman": "h", "lstm": "g", "gru": "n"}[cell]
        theta = net.init(rng, "orthogonal")
        for name, g in _gates(net, theta).items():
            np.testing.assert_allclose(g["W_h"].T @ g["W_h"], np.eye(H), atol=1e-12)
            assert np.all(g["b"] == (1.0 if (cell, name) == ("lstm", "f") else 0.0))
        ident = _gates(net, net.init(rng, "identity"))
        np.testing.assert_array_equal(ident[cand]["W_h"], np.eye(H))
        assert net.init(rng, "glorot", forget_bias=2.0)[net.layers[0].b_start:net.layers[0].b_end].max() == (
            2.0 if cell == "lstm" else 0.0)
    for act, c in [("tanh", 1.0), ("sigmoid", 0.25)]:
        net = en.RNN(3, (300,), 2, activation=act)
        W = _gates(net, net.init(rng, "critical"))["h"]["W_h"]
        assert abs(W.std() * np.sqrt(300) * c - 1) < 0.02
        radius = np.abs(np.linalg.eigvals(W)).max() * c  # circular law: ≈ 1, the edge of chaos
        assert 0.9 < radius < 1.1
    net = en.RNN(3, (H,), 2)
    W = _gates(net, net.init(rng, "glorot"))["h"]["W_h"]
    assert abs(W.var() * H - 1) < 0.05
    assert np.all(net.init(0, "zeros") == 0)
    np.testing.assert_array_equal(net.init(7), net.init(7))
    np.testing.assert_allclose(net.init(7, gain=3.0), 3 * net.init(7))
    assert net.init_population(4, 0).shape == (4, net.n_params)
    with pytest.raises(ValueError, match="scheme"):
        net.init(0, "nope")


# --- evaluator --------------------------------------------------------------------------


def test_shapes_and_two_dimensional_X_for_one_feature(rng):
    net = en.RNN(1, (4,), 3, cell="gru", readout="all")
    ev = en.Evaluator(net, dtype="float64")
    Theta, X = net.init_population(2, rng), rng.normal(size=(5, 7))
    out = ev.forward(Theta, X)
    assert out.shape == (2, 5, 7, 3)
    np.testing.assert_array_equal(out, ev.forward(Theta, X[:, :, None]))
    out, zs = ev.forward(Theta, X, return_hidden=True)
    assert [z.shape for z in zs] == [(2, 5, 7, 12), (2, 5, 7, 3)]
    assert ev.predict(Theta[0], X).shape == (5, 7, 3)


@pytest.mark.parametrize("readout", READOUTS)
def test_population_equals_members_and_chunks(readout, rng):
    net, _theta, X, y, lengths = make("lstm", "tanh", "softmax", readout)
    Theta = net.init_population(7, rng)
    big = en.Evaluator(net, dtype="float64")
    small = en.Evaluator(net, dtype="float64", max_memory=1)
    assert small.chunk_size(X.shape, True) == 1 and big.chunk_size(X.shape, True) >= 7
    for kw in ({}, {"lengths": lengths}):
        L, G = big.loss_and_grad(Theta, X, y, **kw)
        out = big.forward(Theta, X, **kw)
        for a, b in zip((L, G, out), small.loss_and_grad(Theta, X, y, **kw) + (small.forward(Theta, X, **kw),)):
            np.testing.assert_array_equal(a, b)
        for p in (0, 6):
            lp, gp = big.loss_and_grad(Theta[p], X, y, **kw)
            np.testing.assert_array_equal(lp, L[p:p + 1])
            np.testing.assert_array_equal(gp[0], G[p])


class TestBadInput:
    net = en.RNN(2, (3,), 2, readout="all")
    ev = en.Evaluator(net, dtype="float64")
    X, y = np.zeros((4, 5, 2)), np.zeros((4, 5), dtype=int)

    @pytest.mark.parametrize("X,match", [
        (np.zeros((4, 5)), r"X must have shape \(n_samples, n_steps, 2\)"),
        (np.zeros((4, 5, 3)), r"X must have shape"),
        (np.zeros((0, 5, 2)), "at least one"),
        (np.full((4, 5, 2), np.nan), "X contains NaN"),
        ([np.zeros((5, 2)), np.zeros((3, 2))], "ragged"),
    ])
    def test_X(self, X, match):
        with pytest.raises(ValueError, match=match):
            self.ev.loss(self.net.init(0), X, self.y)

    def test_X_types(self):
        with pytest.raises(TypeError, match="X must hold"):
            self.ev.forward(self.net.init(0), np.full((4, 5, 2), "a"))

    def test_y(self):
        with pytest.raises(ValueError, match=r"y must have shape \(4, 5\)"):
            self.ev.loss(self.net.init(0), self.X, np.zeros((4, 6), dtype=int))
        with pytest.raises(ValueError, match="y labels"):
            self.ev.loss(self.net.init(0), self.X, np.full((4, 5), 2))
        sig = en.RNN(2, (3,), 2, output="sigmoid")
        with pytest.raises(ValueError, match=r"y must lie in \[0, 1\]"):
            en.Evaluator(sig).loss(sig.init(0), self.X, np.full((4, 2), 2.0))

    @pytest.mark.parametrize("lengths,exc,match", [
        (np.array([1, 2, 3, 6]), ValueError, r"lengths must lie in \[1, 5\]"),
        (np.array([0, 2, 3, 5]), ValueError, "lengths must lie"),
        (np.array([1, 2, 3]), ValueError, r"lengths must have shape \(4,\)"),
        (np.array([1.0, 2, 3, 4]), TypeError, "lengths must hold integers"),
    ])
    def test_lengths(self, lengths, exc, match):
        for call in (lambda: self.ev.loss(self.net.init(0), self.X, self.y, lengths=lengths),
                     lambda: self.ev.forward(self.net.init(0), self.X, lengths=lengths)):
            with pytest.raises(exc, match=match):
                call()

    def test_mlp_takes_no_lengths(self):
        mlp = en.MLP(2, (3,), 2)
        with pytest.raises(ValueError, match="lengths"):
            en.Evaluator(mlp).loss(mlp.init(0), np.zeros((4, 2)), np.zeros(4, int), lengths=np.ones(4, int))


def test_evaluator_pickles_with_an_rnn():
    import pickle

    net, theta, X, y, lengths = make("gru", "sigmoid", "linear", "last")
    ev = en.Evaluator(net, backend="numba", dtype="float64")
    ev2 = pickle.loads(pickle.dumps(ev))
    assert ev2.net == net
    np.testing.assert_array_equal(ev2.loss(theta, X, y, lengths=lengths), ev.loss(theta, X, y, lengths=lengths))


@pytest.mark.parametrize("cell", CELLS)
def test_readout_optimizer_solves_the_last_state_readout_of_an_rnn(cell):
    # Evolino: evolve the recurrent weights, solve the readout of the last (valid) state
    rng = np.random.default_rng(0)
    net = en.RNN(2, (3, 4), 2, cell=cell, output="linear")
    X, y, lengths = rng.normal(size=(30, 6, 2)), rng.normal(size=(30, 2)), rng.integers(2, 7, 30)
    prob = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y, lengths=lengths)
    opt = en.get_optimizer("readout", refit_every=1)
    res = en.Trainer(prob, opt, x0=net.init(0), max_steps=3, random_state=0).run()
    ev = en.Evaluator(net, dtype="float64")
    H = np.empty((30, 4))  # the top layer's state at each sequence's last step, by the reference
    ref = en.RNN(2, (3, 4), 4, cell=cell, output="linear")
    head = np.concatenate([np.eye(4).ravel(), np.zeros(4)])
    H[:] = en.Evaluator(ref, dtype="float64").forward(np.concatenate([res.x[: net.layers[-1].w_start], head]),
                                                     X, lengths=lengths)[0]
    from sklearn.linear_model import Ridge

    fit = Ridge(alpha=1e-3).fit(H, y)
    W, b = net.unflatten(res.x)[-1]
    np.testing.assert_allclose(W, fit.coef_.T, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(b, fit.intercept_, rtol=1e-6, atol=1e-8)
    assert res.fun == pytest.approx(float(ev.loss(res.x, X, y, lengths=lengths)[0]), rel=1e-9)


def test_readout_optimizer_refuses_a_per_step_rnn():
    net, _, X, y, _ = make("elman", "tanh", "softmax", "all")
    prob = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y)
    with pytest.raises(ValueError, match="readout='last'"):
        en.Trainer(prob, "readout", max_steps=2, random_state=0).run()


def test_default_start_without_x0_and_lsuv_refusal():
    net, _, X, y, _ = make("lstm", "tanh", "softmax", "last")
    prob = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y)
    res = en.Trainer(prob, "adam", max_steps=3, random_state=0).run()
    assert res.x.shape == (net.n_params,)
    with pytest.raises(TypeError, match="lsuv_init"):
        en.lsuv_init(net, X)


@pytest.mark.parametrize("name", available())
def test_every_optimizer_minimizes_a_recurrent_problem(name):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 4, 1))
    y = (X[:, :, 0].sum(axis=1) > 0).astype(int)  # needs the whole sequence
    net = en.RNN(1, (3,), 2, cell="gru")
    prob = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y)
    x0 = net.init(np.random.default_rng(1))
    res = en.minimize(prob, x0, optimizer=name, max_steps=20, random_state=0)
    assert res.fun < prob.full_loss(x0)
