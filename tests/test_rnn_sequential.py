"""``RNN(update="sequential")``: Elman units updated in index order within a step.

BPTT against finite differences and the stepped oracle of ``tests/test_rnn.py`` (which
steps the units one by one), a two-unit net against the classic equations written out by
hand, and the Numba backend (which runs the reference for these nets) against NumPy.
"""

import math
import pickle

import numpy as np
import pytest

import evoneuro as en
from evoneuro.backends.numba import rnn as numba_rnn
from tests.test_rnn import ACTS, OUTPUTS, READOUTS, check_gradient, make, oracle_logits


@pytest.mark.parametrize("self_connections", [True, False], ids=["self", "noself"])
@pytest.mark.parametrize("masked", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("act", ACTS)
def test_gradient_matches_finite_differences(act, output, readout, masked, self_connections):
    check_gradient(*make("elman", act, output, readout, hidden=(3, 4), masked=masked,
                         self_connections=self_connections, update="sequential"))


@pytest.mark.parametrize("seed", range(3))
def test_gradient_where_units_saturate(seed):
    check_gradient(*make("elman", "sigmoid", "linear", "all", hidden=(4,), scale=1.5, seed=seed,
                         update="sequential"), tol=1e-5)


@pytest.mark.parametrize("readout", READOUTS)
def test_forward_matches_the_stepped_oracle(readout):
    net, theta, X, _, lengths = make("elman", "tanh", "linear", readout, update="sequential")
    out = en.Evaluator(net, dtype="float64").forward(theta, X, lengths=lengths)[0]
    for n in range(len(X)):
        want = oracle_logits(net, theta, X[n])
        np.testing.assert_allclose(out[n], want[lengths[n] - 1] if readout == "last" else want, rtol=1e-12)


def test_one_unit_is_the_parallel_net_exactly():
    for readout in READOUTS:
        net, theta, X, y, lengths = make("elman", "sigmoid", "sigmoid", readout, hidden=(1,), update="sequential")
        par = en.RNN(2, (1,), 3, activation="sigmoid", output="sigmoid", readout=readout)
        seq_ev, par_ev = en.Evaluator(net, dtype="float64"), en.Evaluator(par, dtype="float64")
        np.testing.assert_array_equal(seq_ev.forward(theta, X, lengths=lengths), par_ev.forward(theta, X, lengths=lengths))
        for a, b in zip(seq_ev.loss_and_grad(theta, X, y, lengths=lengths), par_ev.loss_and_grad(theta, X, y, lengths=lengths)):
            np.testing.assert_array_equal(a, b)


def test_two_units_by_hand():
    # h_t = σ(w_hx x_t + w_hh h_{t-1} + w_ho o_{t-1} + b_h);  o_t = σ(w_ox x_t + w_oh h_t + w_oo o_{t-1} + b_o)
    w_hx, w_hh, w_ho, b_h, w_ox, w_oh, w_oo, b_o = 0.7, -1.3, 2.1, 0.4, -0.9, 1.7, 0.6, -0.2
    net = en.RNN(1, (2,), 1, activation="sigmoid", output="linear", readout="all", update="sequential")
    theta = net.flatten([{"h": {"W_i": [[w_hx, w_ox]], "W_h": [[w_hh, w_oh], [w_ho, w_oo]], "b": [b_h, b_o]}},
                         ([[0.0], [1.0]], [0.0])])
    x = [1.0, -1.0, 0.5, 2.0]
    s = lambda z: 1.0 / (1.0 + math.exp(-z))  # noqa: E731
    h = o = 0.0
    want = []
    for xt in x:
        h = s(w_hx * xt + w_hh * h + w_ho * o + b_h)
        o = s(w_ox * xt + w_oh * h + w_oo * o + b_o)
        want.append(o)
    out = en.Evaluator(net, dtype="float64").forward(theta, np.array(x)[None, :, None])
    np.testing.assert_allclose(out[0, 0, :, 0], want, rtol=1e-14)
    par = en.RNN(1, (2,), 1, activation="sigmoid", output="linear", readout="all")
    assert not np.allclose(en.Evaluator(par, dtype="float64").forward(theta, np.array(x)[None, :, None]), out)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numba_runs_the_reference_and_agrees(dtype):
    net, _, X, y, lengths = make("elman", "tanh", "sigmoid", "all", hidden=(3, 2), update="sequential")
    assert not numba_rnn.supports(net) and numba_rnn.supports(en.RNN(2, (3, 2), 3))
    Theta = net.init_population(4, np.random.default_rng(1))
    nb, ref = en.Evaluator(net, backend="numba", dtype=dtype), en.Evaluator(net, backend="numpy", dtype=dtype)
    for kw in ({}, {"lengths": lengths}):
        np.testing.assert_array_equal(nb.forward(Theta, X, **kw), ref.forward(Theta, X, **kw))
        np.testing.assert_array_equal(nb.loss(Theta, X, y, **kw), ref.loss(Theta, X, y, **kw))
        for a, b in zip(nb.loss_and_grad(Theta, X, y, **kw), ref.loss_and_grad(Theta, X, y, **kw)):
            np.testing.assert_array_equal(a, b)


def test_spec_repr_identity_pickle_and_copies():
    a = en.RNN(1, 4, 2, update="sequential", self_connections=False)
    assert repr(a).endswith("readout='last', self_connections=False, update='sequential')")
    assert "update" not in repr(en.RNN(1, 4, 2))
    b = pickle.loads(pickle.dumps(a))
    assert a == b and hash(a) == hash(b) and a.update == "sequential"
    assert a != en.RNN(1, 4, 2, self_connections=False) and a.n_params == en.RNN(1, 4, 2).n_params
    cut, _, _ = a.last_hidden()
    assert cut.update == "sequential" and not cut.self_connections
    old = en.RNN(1, 4, 2)
    del old.__dict__["update"]  # a net pickled before the option existed
    assert pickle.loads(pickle.dumps(old)) == en.RNN(1, 4, 2)


@pytest.mark.parametrize("kwargs,match", [
    ({"update": "gauss-seidel"}, r"update must be one of \['parallel', 'sequential'\]"),
    ({"update": None}, "update must be one of"),
    ({"update": "sequential", "cell": "lstm"}, r"update='sequential' needs cell='elman', got cell='lstm'"),
    ({"update": "sequential", "cell": "gru"}, "update='sequential' needs cell='elman'"),
])
def test_bad_update(kwargs, match):
    with pytest.raises(ValueError, match=match):
        en.RNN(2, (3,), 2, **kwargs)
