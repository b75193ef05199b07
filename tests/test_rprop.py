"""Rprop: hand-computed traces of all four variants, defaults, and digits with irprop+."""

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import evoneuro as en
from evoneuro.optimizers import get_optimizer
from evoneuro.optimizers.rprop import Rprop

DIGITS_SEED, DIGITS_MAX_STEPS = 1, 1500

# f(x) = (x1 - 0.7)^2 + (x2 + 0.2)^2, grad = 2 (x - c); x0 = (0, 0), Delta_0 = 0.5,
# eta+ = 1.2, eta- = 0.5. Worked by hand:
#
# step 1 (every variant): x = (0, 0), f = 0.49 + 0.04 = 0.53, g = (-1.4, 0.4);
#   g_prev = 0, so Delta stays (0.5, 0.5); step -sign(g) Delta = (+0.5, -0.5)
#   -> x = (0.5, -0.5).
# step 2: x = (0.5, -0.5), f = 0.04 + 0.09 = 0.13 (< 0.53), g = (-0.4, -0.6).
#   x1: (-1.4)(-0.4) > 0 -> Delta1 = 0.6, step +0.6 -> x1 = 1.1 (every variant)
#   x2: (0.4)(-0.6) < 0 -> Delta2 = 0.25, and then
#     rprop-:  step -sign(-0.6) 0.25 = +0.25      -> x2 = -0.25
#     rprop+:  undo the last step (-0.5), g2 := 0 -> x2 = 0.0
#     irprop-: no step, g2 := 0                   -> x2 = -0.5
#     irprop+: f fell (0.13 < 0.53): no undo, g2 := 0 -> x2 = -0.5
# step 3:
#   rprop-:  x = (1.1, -0.25), g = (0.8, -0.1), f = 0.16 + 0.0025 = 0.1625
#     x1: (-0.4)(0.8) < 0 -> Delta1 = 0.3, step -0.3 -> 0.8
#     x2: (-0.6)(-0.1) > 0 -> Delta2 = 0.3, step +0.3 -> 0.05
#   rprop+:  x = (1.1, 0.0), g = (0.8, 0.4), f = 0.16 + 0.04 = 0.20
#     x1: sign change -> Delta1 = 0.3, undo the last step (+0.6) -> 0.5, g1 := 0
#     x2: g_prev = 0 -> Delta2 = 0.25, step -0.25 -> -0.25
#   irprop-: x = (1.1, -0.5), g = (0.8, -0.6), f = 0.16 + 0.09 = 0.25
#     x1: sign change -> Delta1 = 0.3, no step -> 1.1
#     x2: g_prev = 0 -> Delta2 = 0.25, step +0.25 -> -0.25
#   irprop+: x = (1.1, -0.5), g = (0.8, -0.6), f = 0.25 > 0.13: the loss rose
#     x1: sign change -> Delta1 = 0.3, undo the last step (+0.6) -> 0.5
#     x2: g_prev = 0 -> Delta2 = 0.25, step +0.25 -> -0.25
C = np.array([0.7, -0.2])
TRACES = {
    #          x after step 1, 2, 3                           Delta after step 1, 2, 3
    "rprop-": ([(0.5, -0.5), (1.1, -0.25), (0.8, 0.05)], [(0.5, 0.5), (0.6, 0.25), (0.3, 0.3)]),
    "rprop+": ([(0.5, -0.5), (1.1, 0.0), (0.5, -0.25)], [(0.5, 0.5), (0.6, 0.25), (0.3, 0.25)]),
    "irprop-": ([(0.5, -0.5), (1.1, -0.5), (1.1, -0.25)], [(0.5, 0.5), (0.6, 0.25), (0.3, 0.25)]),
    "irprop+": ([(0.5, -0.5), (1.1, -0.5), (0.5, -0.25)], [(0.5, 0.5), (0.6, 0.25), (0.3, 0.25)]),
}
LOSSES = {"rprop-": [0.53, 0.13, 0.1625], "rprop+": [0.53, 0.13, 0.20],
          "irprop-": [0.53, 0.13, 0.25], "irprop+": [0.53, 0.13, 0.25]}


@pytest.mark.parametrize("variant", list(TRACES))
def test_hand_trace(variant):
    opt = get_optimizer(variant, initial_step=0.5).initialize(np.zeros(2), np.random.default_rng(0))
    xs, deltas = TRACES[variant]
    for k in range(3):
        x = opt.ask()
        loss = float(np.sum((x[0] - C) ** 2))
        np.testing.assert_allclose(loss, LOSSES[variant][k], rtol=1e-12)
        opt.tell(x, [loss], 2 * (x - C))
        np.testing.assert_allclose(opt.x, xs[k], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(opt.step_sizes, deltas[k], rtol=1e-12)


def test_irprop_plus_backtracks_only_when_loss_rose():
    # Same trace as irprop+ above, but telling a lower loss at step 3: no undo.
    opt = Rprop("irprop+", initial_step=0.5).initialize(np.zeros(2), np.random.default_rng(0))
    for loss in (0.53, 0.13, 0.01):
        x = opt.ask()
        opt.tell(x, [loss], 2 * (x - C))
    np.testing.assert_allclose(opt.x, [1.1, -0.25], rtol=1e-12)


def test_defaults_and_bounds():
    opt = Rprop()
    assert opt.name == "irprop+"
    p = opt.get_params()
    assert (p["initial_step"], p["eta_plus"], p["eta_minus"], p["step_min"], p["step_max"]) == (
        0.0125, 1.2, 0.5, 1e-6, 50.0)
    # constant gradient sign: steps grow by 1.2 up to step_max, never beyond
    opt = Rprop("rprop-", initial_step=10.0).initialize(np.zeros(1), np.random.default_rng(0))
    for _ in range(20):
        x = opt.ask()
        opt.tell(x, [0.0], np.ones((1, 1)))
    assert opt.step_sizes[0] == 50.0
    # alternating sign: steps shrink by 0.5 down to step_min
    opt = Rprop("rprop-", initial_step=1e-5).initialize(np.zeros(1), np.random.default_rng(0))
    for k in range(20):
        x = opt.ask()
        opt.tell(x, [0.0], np.full((1, 1), (-1.0) ** k))
    assert opt.step_sizes[0] == 1e-6


@pytest.mark.parametrize("kwargs, match", [
    ({"variant": "rprop"}, "variant"),
    ({"eta_plus": 1.0}, "eta_plus"),
    ({"eta_minus": 1.5}, "eta_minus"),
    ({"initial_step": -1}, "initial_step"),
    ({"step_min": 1.0, "step_max": 0.5}, "step_max"),
])
def test_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Rprop(**kwargs)


def test_registry_names_and_fresh():
    for name in ("rprop+", "rprop-", "irprop+", "irprop-"):
        opt = get_optimizer(name)
        assert opt.name == name and opt.fresh().name == name
    with pytest.raises(ValueError, match="fixes"):
        get_optimizer("irprop+", variant="rprop-")


def test_minibatch_runs_and_lowers_loss(rng):
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    net = en.MLP(4, (6,), 2)
    prob = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y, batch_size=20)
    x0 = net.init(np.random.default_rng(0))
    start = prob.full_loss(x0)
    res = en.Trainer(prob, "irprop-", x0=x0, max_steps=60, random_state=0).run()
    assert res.fun < start


def test_irprop_plus_trains_deep_sigmoid_net_on_digits():
    # 10 hidden sigmoid layers of 32: backprop's gradient vanishes by orders of magnitude
    # towards the input, which Rprop's sign-based steps do not care about.
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    net = en.MLP(64, (32,) * 10, 10, activation="sigmoid")
    ev = en.Evaluator(net, backend="numpy", dtype="float32")
    prob = en.SupervisedProblem(ev, X, y)

    class Accuracy(en.Callback):
        stop_reason = "accuracy"

        def on_step(self, trainer, record):
            if record["step"] % 25 == 0:
                self.acc = float(np.mean(ev.predict(trainer.optimizer.best_x, X).argmax(1) == y))
                return self.acc >= 0.95

    t = time.perf_counter()
    # One BLAS thread: the matrices are small, and on a busy machine threads only contend.
    with threadpool_limits(1):
        res = en.Trainer(prob, "irprop+", max_steps=DIGITS_MAX_STEPS, callbacks=[Accuracy()],
                         random_state=DIGITS_SEED).run()
    acc = float(np.mean(ev.predict(res.x, X).argmax(1) == y))
    print(f"irprop+ digits: {acc:.4f} training accuracy after {res.n_steps} steps, "
          f"{time.perf_counter() - t:.1f} s ({ev.backend})")
    assert acc >= 0.95

