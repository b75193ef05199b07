"""Diagnostics through time: ∂L/∂h_t against finite differences, saturation per step, the command.

The oracle steps the recurrence with ``(N, H)`` matrices read from the named gate arrays
of ``unflatten`` and can add a vector to the state a layer carries out of step ``t``: the
finite difference of its loss in that direction checks the BPTT state gradients exactly.
"""

import numpy as np
import pytest

import evoneuro as en
from evoneuro.backends import rnn_array
from evoneuro.cli import main
from evoneuro.diagnostics import (
    DiagnosticReport,
    StepReport,
    diagnose,
    plot_through_time,
    state_gradient_norms,
    state_gradients,
    step_saturation,
)
from evoneuro.network.losses import loss_and_dz


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def oracle_loss(net, theta, X, y, lengths=None, inject=None):
    """Mean loss; ``inject = (l, t, dh, dc)`` adds ``dh`` (and ``dc``) to layer ``l``'s state after step ``t``."""
    *rec, (W, b) = net.unflatten(theta)
    N, T = X.shape[:2]
    inp = X
    for l, layer in enumerate(rec):
        act, H = net.activations[l], net.hidden[l]

        def pre(k, x, h, layer=layer):
            return x @ layer[k]["W_i"] + h @ layer[k]["W_h"] + layer[k]["b"]

        h, c, states = np.zeros((N, H)), np.zeros((N, H)), []
        for t in range(T):
            x = inp[:, t]
            if net.cell == "elman":
                h = act(pre("h", x, h))
            elif net.cell == "lstm":
                c = sig(pre("f", x, h)) * c + sig(pre("i", x, h)) * act(pre("g", x, h))
                h = sig(pre("o", x, h)) * act(c)
            else:
                r, z = sig(pre("r", x, h)), sig(pre("z", x, h))
                h = (1 - z) * act(pre("n", x, r * h)) + z * h
            if inject is not None and inject[:2] == (l, t):
                h = h + inject[2]
                c = c + inject[3]
            states.append(h)
        inp = np.stack(states, axis=1)
    logits = inp @ W + b  # (N, T, K)
    if net.readout == "last":
        last = np.full(N, T - 1) if lengths is None else np.asarray(lengths) - 1
        z, target = logits[np.arange(N), last], y
    else:
        valid = np.ones((N, T), bool) if lengths is None else np.arange(T)[None] < np.asarray(lengths)[:, None]
        z, target = logits[valid], y[valid]
    return float(loss_and_dz(net.output, z[None], target, np, need_grad=False)[0][0])


def problem(cell, readout, output="softmax", masked=False, hidden=(3, 2), N=4, T=5, d=2, seed=0):
    rng = np.random.default_rng(seed)
    net = en.RNN(d, hidden, 3, cell=cell, output=output, readout=readout)
    theta = net.init(rng) + rng.normal(scale=0.3, size=net.n_params)
    X = rng.normal(size=(N, T, d))
    shape = (N,) if readout == "last" else (N, T)
    y = rng.integers(0, 3, shape) if output == "softmax" else rng.normal(size=shape + (3,))
    lengths = rng.integers(1, T + 1, N) if masked else None
    return net, theta, X, y, lengths


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
@pytest.mark.parametrize("readout,output,masked", [("last", "softmax", False), ("last", "softmax", True),
                                                   ("all", "linear", False), ("all", "softmax", True)])
def test_state_gradients_match_finite_differences(cell, readout, output, masked):
    net, theta, X, y, lengths = problem(cell, readout, output, masked)
    ev = en.Evaluator(net, backend="numpy", dtype="float64")
    assert oracle_loss(net, theta, X, y, lengths) == pytest.approx(float(ev.loss(theta, X, y, lengths=lengths)[0]),
                                                                   rel=1e-12)
    dH, dC = state_gradients(net, theta, X, y, lengths)
    assert (dC is None) == (cell != "lstm")
    rng, eps = np.random.default_rng(1), 1e-5
    fd, exact = [], []
    for l, H in enumerate(net.hidden):
        for t in range(X.shape[1]):
            for which in ("h", "c") if dC is not None else ("h",):
                delta = rng.normal(size=(len(X), H))
                dh, dc = (delta, 0.0) if which == "h" else (0.0, delta)
                up = oracle_loss(net, theta, X, y, lengths, (l, t, eps * dh, eps * dc))
                down = oracle_loss(net, theta, X, y, lengths, (l, t, -eps * dh, -eps * dc))
                fd.append((up - down) / (2 * eps))
                exact.append(float(((dH if which == "h" else dC)[l][:, t] * delta).sum()))
    np.testing.assert_allclose(exact, fd, rtol=1e-6, atol=1e-10)


def test_padded_steps_get_no_gradient_and_the_hook_changes_nothing():
    net, theta, X, y, _ = problem("lstm", "last", N=3, T=6)
    lengths = np.array([6, 2, 4])
    dH, dC = state_gradients(net, theta, X, y, lengths)
    for n, L in enumerate(lengths):
        assert not dH[-1][n, L:].any() and not dC[-1][n, L:].any()
        assert dH[-1][n, L - 1].any()
    args = (np, net, theta[None], X, net.check_y(y, 3), lengths)
    loss0, G0 = rnn_array.loss_and_grad(*args)
    loss1, G1 = rnn_array.loss_and_grad(*args, on_state=lambda *a: None)
    assert np.array_equal(loss0, loss1) and np.array_equal(G0, G1)


def test_norms_are_frobenius_norms_per_step():
    net, theta, X, y, _ = problem("lstm", "all", hidden=(3,))
    dH, dC = state_gradients(net, theta, X, y)
    gh, gc = state_gradient_norms(net, theta, X, y)
    np.testing.assert_allclose(gh[0], [np.linalg.norm(dH[0][:, t]) for t in range(X.shape[1])])
    np.testing.assert_allclose(gc[0], [np.linalg.norm(dC[0][:, t]) for t in range(X.shape[1])])


def test_saturation_per_step_follows_the_mlp_rule():
    net = en.RNN(1, (2,), 2, cell="elman", activation="tanh")
    # unit 0: z = 10 x (saturated for |x| > 0.3), unit 1: z = 0.01 x (never); no recurrence
    layer = {"h": {"W_i": [[10.0, 0.01]], "W_h": np.zeros((2, 2)), "b": np.zeros(2)}}
    theta = net.flatten([layer, (np.zeros((2, 2)), np.zeros(2))])
    X = np.array([[-1.0, 0.0, 0.5], [2.0, 0.1, 0.0]])[:, :, None]
    np.testing.assert_allclose(step_saturation(net, theta, X)[0, :, 0], [2 / 4, 0, 1 / 4])
    np.testing.assert_allclose(step_saturation(net, theta, X, lengths=[3, 1])[0, :, 0], [2 / 4, 0, 1 / 2])


def test_lstm_gates_saturate_on_their_own_sigmoid():
    net = en.RNN(1, (3,), 2, cell="lstm")
    theta = np.zeros(net.n_params)
    net.unflatten(theta)[0]["f"]["b"][...] = 10.0  # σ'(10) = 4.5e-5 < 1 % of 1/4
    sat = step_saturation(net, theta, np.ones((2, 4, 1)))
    np.testing.assert_array_equal(sat[0], np.tile([0.0, 1.0, 0.0, 0.0], (4, 1)))


def ratio(cell, scheme, T=30, x_scale=1.0, **init):
    """‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ of a 16-unit tanh net at ``scheme`` on a memory task."""
    rng = np.random.default_rng(0)
    X = x_scale * rng.normal(size=(32, T, 1))
    net = en.RNN(1, (16,), 2, cell=cell)
    gh, _ = state_gradient_norms(net, net.init(rng, scheme, **init), X, (X[:, 0, 0] > 0).astype(int))
    return gh[0, 0] / gh[0, -1]


def test_qualitative_behaviour_through_time():
    small = ratio("elman", "glorot", gain=0.5)
    assert small < 1e-6  # a contracting tanh recurrence: the early steps get nothing
    assert ratio("elman", "identity", x_scale=0.01) > 0.5  # near-linear identity: kept
    assert ratio("elman", "identity", x_scale=0.01) > 1e4 * small
    lstm1, lstm0 = (ratio("lstm", "orthogonal", T=60, forget_bias=fb) for fb in (1.0, 0.0))
    assert lstm1 > 1e3 * lstm0  # the forget bias keeps the cell's memory
    assert lstm1 > 10 * ratio("elman", "orthogonal", T=60)  # longer than Elman's state does
    assert ratio("elman", "orthogonal", gain=4.0) > 1e3  # a large recurrent scale explodes


def test_diagnose_dispatches_on_the_kind(tmp_path, rng):
    mlp = en.MLP(3, (4, 4), 2)
    assert isinstance(diagnose(mlp, mlp.init(rng), rng.normal(size=(8, 3)), rng.integers(0, 2, 8)), DiagnosticReport)
    net, theta, X, y, lengths = problem("gru", "last", masked=True)
    rep = diagnose(net, theta, X, y, lengths=lengths)
    assert isinstance(rep, StepReport) and rep.grad_c is None
    assert rep.grad_h.shape == (2, 5) and rep.saturation.shape == (2, 5, 3)
    assert len(rep.rows()) == 10 and set(rep.rows()[0]) >= {"layer", "step", "grad_h", "saturated_z"}
    with pytest.raises(TypeError, match="network kind"):
        diagnose(object(), theta, X, y)
    with pytest.raises(ValueError, match="one network"):
        diagnose(net, theta[None], X, y)


def test_step_report_table_and_plot(tmp_path):
    net, theta, X, y, _ = problem("lstm", "last", hidden=(3,), T=12)
    rep = diagnose(net, theta, X, y)
    text = rep.table(n_steps=5)
    assert "|dL/dc_t|" in text and "sat f" in text and "per step back" in text
    assert len(text.splitlines()) == 1 + 5 + 1
    other = diagnose(*problem("elman", "last", hidden=(3, 3), T=12)[:4])
    pytest.importorskip("matplotlib")
    path = plot_through_time({"lstm": rep, "elman": other}, tmp_path / "t.png")
    assert path.stat().st_size > 1000


def test_diagnose_command_through_time(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "fig.png"
    rc = main(["diagnose", "--cell", "elman,lstm", "--init", "orthogonal,identity", "--steps", "20",
               "--hidden", "8", "--samples", "16", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert text.count("per step back") == 4 and "cell='lstm'" in text
    assert out.stat().st_size > 1000
    assert main(["diagnose", "--cell", "gru", "--steps", "5", "--samples", "4", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "diagnose_gru_orthogonal_T5.png").exists()


def test_diagnose_command_rejects_bad_cells_and_inits(capsys):
    with pytest.raises(SystemExit):
        main(["diagnose", "--cell", "transformer"])
    assert "--cell must be" in capsys.readouterr().err
    assert main(["diagnose", "--cell", "elman", "--init", "nonsense", "--steps", "3", "--samples", "2"]) == 2
    assert "scheme must be" in capsys.readouterr().err
