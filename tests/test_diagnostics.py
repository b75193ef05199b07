"""Diagnostics: gradient norms, saturation, Jacobian spectrum, the diagnose command."""

import numpy as np
import pytest

import evoneuro as en
from evoneuro.cli import main, parse_hidden
from evoneuro.diagnostics import (
    DiagnosticsRecorder,
    diagnose,
    jacobian_singular_values,
    layer_gradient_norms,
    net_label,
    saturation,
)


def test_gradient_vanishes_towards_the_input_in_a_deep_sigmoid_net(rng):
    net = en.MLP(8, (16,) * 10, 3, activation="sigmoid")
    X, y = rng.normal(size=(64, 8)), rng.integers(0, 3, 64)
    g = layer_gradient_norms(net, net.init(rng, "standard"), X, y)
    assert g.shape == (11,)
    assert np.all(np.diff(np.log(g)) > 0)  # strictly growing towards the output
    assert g[0] / g[-1] < 1e-6


def test_gradient_norms_match_evaluator(rng):
    net = en.MLP(3, (4, 4), 2, activation="tanh")
    theta = net.init(rng)
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 2, 5)
    _, G = en.Evaluator(net, dtype="float64").loss_and_grad(theta, X, y)
    expected = [np.linalg.norm(G[0, s.w_start : s.w_end]) for s in net.layers]
    np.testing.assert_allclose(layer_gradient_norms(net, theta, X, y), expected)


def test_saturation_counts_units_with_tiny_derivative():
    net = en.MLP(1, (2,), 2, activation="tanh")
    # unit 0 has z = 10 x (saturated for |x| >= 0.3), unit 1 has z = 0.01 x (never)
    theta = net.flatten([(np.array([[10.0, 0.01]]), np.zeros(2)), (np.zeros((2, 2)), np.zeros(2))])
    X = np.array([[-1.0], [0.0], [0.5], [2.0]])
    # tanh'(10x) = 1 - tanh(10x)^2 < 0.01 for |10x| > 2.99: samples -1, 0.5, 2 -> 3 of 8 pairs
    assert saturation(net, theta, X)[0] == pytest.approx(3 / 8)


def test_jacobian_singular_values_match_finite_differences(rng):
    net = en.MLP(3, (5, 4), 2, activation="sigmoid")
    theta = net.init(rng, "glorot")
    x = rng.normal(size=(1, 3))

    def last_hidden(xx):
        _, zs = en.Evaluator(net, dtype="float64").forward(theta, xx, return_hidden=True)
        return net.activations[-1](zs[-2][0, 0])

    h = 1e-6
    J = np.stack([(last_hidden(x + h * e) - last_hidden(x - h * e)) / (2 * h) for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(
        np.sort(jacobian_singular_values(net, theta, x)), np.sort(np.linalg.svd(J, compute_uv=False)), rtol=1e-6
    )


def test_report_table_and_plot(tmp_path, rng):
    pytest.importorskip("matplotlib")
    net = en.MLP(4, (6,) * 3, 3, activation="gaussian")
    X, y = rng.normal(size=(20, 4)), rng.integers(0, 3, 20)
    rep = diagnose(net, net.init(rng), X, y)
    text = rep.table()
    assert "saturated" in text and "Jacobian" in text and len(text.splitlines()) == 6
    rep.plot(tmp_path / "d.png")
    assert (tmp_path / "d.png").stat().st_size > 1000
    assert net_label(net) == "4-[6x3]-3 gaussian"


def test_recorder_records_every_k_steps(rng):
    class FakeTrainer:
        def __init__(self, problem, x):
            self.problem = problem
            self.optimizer = type("O", (), {"x": x})()

    net = en.MLP(4, (5, 5), 3)
    X, y = rng.normal(size=(20, 4)), rng.integers(0, 3, 20)
    prob = en.SupervisedProblem(en.Evaluator(net), X, y)
    rec = DiagnosticsRecorder(X, y, every=2)
    tr = FakeTrainer(prob, net.init(rng))
    for step in range(1, 7):
        rec.on_step(tr, {"step": step})
    assert rec.steps == [2, 4, 6]
    assert np.array(rec.grad_norms).shape == (3, 3)
    assert np.array(rec.saturation).shape == (3, 2)


def test_parse_hidden():
    assert parse_hidden("32x10") == (32,) * 10
    assert parse_hidden("64,32") == (64, 32)
    assert parse_hidden("0") == ()


def test_diagnose_command_shows_the_collapse(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    rc = main(["diagnose", "--hidden", "16x8", "--activation", "sigmoid", "--init", "standard",
               "--samples", "64", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit() and "sigmoid" in line]
    norms = [float(r[3]) for r in rows]
    assert len(norms) == 8 and norms[0] < 1e-3 * norms[-1]
    assert list(tmp_path.glob("*.png"))
