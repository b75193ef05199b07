"""Long-time-lag task generators, their solved criteria, and random guessing."""

import numpy as np
import pytest

import evoneuro as en
from evoneuro.optimizers.random_search import RandomSearch
from evoneuro.tasks import adding, guess, latch, parity, temporal_order, two_sequence


def _same(a, b):
    for x, y in zip(a.data("train") + a.data("test"), b.data("train") + b.data("test")):
        if x is None:
            assert y is None
        else:
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("make", [
    lambda s: latch(1, 6, 4, 20, 30, random_state=s), lambda s: latch(2, 6, 4, 20, 30, random_state=s),
    lambda s: two_sequence(3, 6, 4, 20, 30, random_state=s), lambda s: parity(6, 4, 20, 30, random_state=s),
    lambda s: adding(30, 20, 5, random_state=s), lambda s: adding(30, 20, 5, version="le", random_state=s),
    lambda s: temporal_order(3, 6, 2, random_state=s)])
def test_seeded_shapes_and_padding(make):
    a, b, c = make(0), make(0), make(1)
    _same(a, b)
    assert not np.array_equal(a.X_train, c.X_train)
    for split in ("train", "test"):
        X, y, lengths = a.data(split)
        assert X.ndim == 3 and X.shape[2] == a.net.n_inputs and y.shape == (len(X),)  # as an estimator takes it
        assert a.targets(split).shape == (len(X), a.net.n_outputs)  # as the paper's net takes it
        if a.classification:
            assert y.dtype.kind == "i" and np.array_equal(a.targets(split), a.class_targets[y])
        if lengths is not None:
            assert lengths.max() == X.shape[1]
            assert not X[np.arange(X.shape[1])[None, :] >= lengths[:, None]].any()  # zero padding
    en.Evaluator(a.net).forward(a.net.init(np.random.default_rng(0)), a.X_test, lengths=a.lengths_test)


def test_latch_protocol():
    t1 = latch(1, 200, 10, 500, 600, random_state=0)
    X, y, lengths = t1.net_data("train")
    assert 500 <= lengths.min() and lengths.max() <= 600
    assert sorted(np.unique(y).tolist()) == [-0.8, 0.8] and (y[:, 0] > 0).sum() == 100
    assert sorted(np.unique(t1.y_train).tolist()) == [0, 1] and t1.y_train.sum() == 100
    assert (X[:, 0, 0] == 0).all() and (X[:, 1:, 1:] == 0).all()  # class indicators only at step 0
    np.testing.assert_array_equal(X[:, 0, 2], (y[:, 0] > 0))
    noise = np.concatenate([x[1:n, 0] for x, n in zip(X, lengths)])
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.2) < 0.005
    assert t1.free.sum() == 3 and t1.guess_range == 100
    t2 = latch(2, 20, 10, random_state=0)
    np.testing.assert_array_equal(t2.X_train[:, 0, 0], t2.targets()[:, 0])  # starts with the target, +-1


def test_latch_criterion_accepts_a_latch_and_rejects_a_leaky_unit():
    task = latch(1, 20, 20, 200, 300, random_state=0)
    theta = task.fixed.copy()
    unit = task.net.unflatten(theta)[0]["h"]
    unit["W_i"][1:, 0] = [-5.0, 5.0]  # the class-start inputs
    unit["W_h"][...] = 20.0           # large recurrent weight: the sign is latched
    assert task.solved(theta) and task.solved(theta, "test")
    unit["W_h"][...] = 0.5            # leaky: the start is forgotten in the noise
    assert not task.solved(theta)
    low, high = task.bounds()
    assert ((low == high) == ~task.free).all() and (high[task.free] == 100).all()


def test_parity_and_two_sequence_targets():
    task = parity(50, 10, 10, 20, input_noise=0.2, random_state=0)
    X, y, _lengths = task.data("train")
    bits = np.sign(X[..., 0])
    np.testing.assert_array_equal((bits == 1).sum(axis=1) % 2, y)
    assert np.abs(np.abs(X[X != 0]) - 1).max() <= 0.2
    assert task.net.output == "linear" and task.net.activations[0].name == "sigmoid"
    elman = parity(hidden=3, self_connections=False, n_train=2, n_test=2, random_state=0, architecture="elman")
    assert elman.net.hidden == (3,) and not elman.net.self_connections and elman.free is None
    assert elman.net.output == "sigmoid" and elman.net.update == "parallel"
    task = two_sequence(1, 10, 2, 30, 40, random_state=0)
    np.testing.assert_array_equal(task.X_train[:, 0, 0] > 0, task.y_train == 1)
    targets = task.targets()
    out = np.where(targets == 1, 0.95, 0.05)[None]
    assert task.criterion(out, targets)[0] and not task.criterion(1 - out, targets)[0]


def test_adding_versions_and_baselines():
    task = adding(100, 4000, 10, random_state=0)
    X, y, lengths = task.data("train")
    assert 100 <= lengths.min() and lengths.max() <= 110
    rows = np.arange(len(X))
    assert np.isin(X[:, 0, 1], [-1, 1]).all() and (X[rows, lengths - 1, 1] == -1).all()  # 1 if marked
    marks = X[..., 1] == 1
    assert (marks.sum(axis=1) == 2).all() and (marks[:, :50].sum(axis=1) == 2).all()
    assert (marks[:, :10].sum(axis=1) >= 1).all()
    x1x2 = (X[..., 0] * marks).sum(axis=1) - np.where(marks[:, 0], X[:, 0, 0], 0)  # X1 = 0 when first
    np.testing.assert_allclose(y, 0.5 + x1x2 / 4)
    assert abs(((y - 0.5) ** 2).mean() - 1 / 24) < 0.004  # the constant 0.5's error
    le = adding(50, 20000, 10, version="le", random_state=0)
    assert abs(((le.y_train - 1) ** 2).mean() - 1 / 6) < 0.005  # predicting 1
    targets = le.targets()
    good, bad = targets + 0.05, np.ones_like(targets)
    assert le.criterion(good[None], targets)[0] and not le.criterion(bad[None], targets)[0]


def test_temporal_order_classes():
    task = temporal_order(2, 400, 4, random_state=0)
    X, y, lengths = task.data("train")
    sym = X.argmax(axis=2)
    xy = (sym == 6) | (sym == 7)
    assert (xy.sum(axis=1) == 2).all() and xy[:, 10:21].any(axis=1).all() and xy[:, 50:61].any(axis=1).all()
    first, second = (np.where(xy[:, a:b], sym[:, a:b], 0).max(axis=1) - 6 for a, b in ((10, 21), (50, 61)))
    np.testing.assert_array_equal(y, 2 * first + second)
    assert (sym[:, 0] == 0).all() and (sym[np.arange(len(X)), lengths - 1] == 1).all()
    t = task.targets()
    np.testing.assert_array_equal(t, np.eye(4)[y])
    assert task.criterion(t[None], t)[0] and not task.criterion(np.full_like(t, 0.5)[None], t)[0]


def test_guessing_solves_latch_one_quickly_and_is_seeded():
    task = latch(1, 50, 50, 100, 150, random_state=0)
    a, b = guess(task, 300, random_state=3), guess(task, 300, random_state=3)
    assert a.trials is not None and a.trials <= 300 and a.solved_test
    assert a.trials == b.trials and np.array_equal(a.theta, b.theta)
    assert task.solved(a.theta)
    np.testing.assert_array_equal(a.theta[~task.free], task.fixed[~task.free])


def test_guess_gives_up_and_counts_trials_independently_of_batch():
    task = latch(2, 20, 20, 100, 120, random_state=0)
    counts = {guess(task, 2000, random_state=5, batch=b).trials for b in (8, 64, 1024)}
    assert len(counts) <= 3 and None not in counts
    assert guess(parity(20, 4, 50, 60, random_state=0), 16, random_state=0).trials is None


def test_random_search_uniform_box():
    opt = RandomSearch(mode="global", distribution="uniform", low=[-1, 2, 0], high=[1, 2, 10], popsize=500,
                       dtype="float64").initialize(np.zeros(3), np.random.default_rng(0))
    Theta = opt.ask()
    assert (Theta[:, 1] == 2).all() and (np.abs(Theta[:, 0]) <= 1).all() and Theta[:, 2].min() >= 0
    assert abs(Theta[:, 2].mean() - 5) < 0.5
    with pytest.raises(ValueError, match="global"):
        RandomSearch(distribution="uniform", low=0, high=1).initialize(np.zeros(2), np.random.default_rng(0))
    with pytest.raises(ValueError, match="low and high"):
        RandomSearch(mode="global", distribution="uniform").initialize(np.zeros(2), np.random.default_rng(0))


def _a1_solution(task):
    """A hand-built parity net: h = AND(bit, o_prev), o = XOR(bit, o_prev) (w_hh = 0).

    h is the first unit, o the last; any other hidden unit is left at 0 and unread.
    """
    theta = task.fixed.copy()
    units = task.net.unflatten(theta)[0]["h"]  # rows of W_h: from unit, columns: to unit
    units["W_i"][0, [0, -1]] = 10.0
    units["W_h"][0, -1], units["W_h"][-1, 0], units["W_h"][-1, -1] = -40.0, 20.0, 20.0
    units["b"][0] = -20.0
    return theta


def test_parity_architectures_a1_and_a2():
    a1, a2, a2n = (parity(40, 40, 100, 120, architecture=a, self_connections=sc, random_state=0)
                   for a, sc in (("A1", None), ("A2", None), ("A2", False)))
    assert a1.net.update == a2.net.update == "sequential" and a1.net.hidden == (2,) and a2.net.hidden == (11,)
    assert (a1.free.sum(), a2.free.sum(), a2n.free.sum()) == (7, 53, 43) and a1.params["architecture"] == "A1"
    W, b = a1.net.unflatten(a1.fixed)[-1]
    np.testing.assert_array_equal(W, [[0.0], [1.0]])  # the output is unit o itself
    assert b == 0 and not a1.free[a1.net.layers[-1].w_start:].any()  # the readout is pinned
    np.testing.assert_array_equal(a1.net.unflatten(a1.free.astype(float))[0]["h"]["b"], [1, 0])  # o: no bias
    free_h = a2.net.unflatten(a2.free.astype(float))[0]["h"]
    sees = np.eye(11)
    sees[:, 10] = sees[10, :] = 1  # a hidden unit sees o and itself; o sees every unit
    np.testing.assert_array_equal(free_h["W_h"], sees)
    assert free_h["b"].all() and free_h["W_i"].all()  # all units biased, all see the input
    np.testing.assert_array_equal(a2n.net.unflatten(a2n.free.astype(float))[0]["h"]["W_h"][:10, :10], 0)
    np.testing.assert_array_equal(a2.net.unflatten(a2.fixed)[-1][0][:, 0], np.r_[np.zeros(10), 1.0])
    for task in (a1, a2, a2n):
        theta = _a1_solution(task)
        assert task.solved(theta) and task.solved(theta, "test")
        assert task.solved(theta[None])[0]
        out = task.predict(theta)[0, :, 0]
        assert np.abs(out - task.y_train).max() < 1e-3
        wrong = theta.copy()
        task.net.unflatten(wrong)[0]["h"]["W_h"][0, -1] = 0.0  # o no longer reads h: not parity
        assert not task.solved(wrong)
    noisy = parity(40, 40, 100, 120, input_noise=0.2, random_state=0)
    assert noisy.solved(_a1_solution(noisy))
    assert parity(2, 2, architecture="a1", hidden=1, random_state=0).net == a1.net
    assert parity(2, 2, architecture="A1", hidden=3, random_state=0).free.sum() == 4 + 4 * 4 + 3  # W_i, W_h, hidden biases


def test_parity_guessing_a2_short_sequences():
    task = parity(20, 20, 50, 60, architecture="A2", self_connections=False, random_state=0)
    res = guess(task, 20_000, random_state=0)
    assert res.trials is not None and res.solved_test
    assert res.theta[~task.free].tolist() == task.fixed[~task.free].tolist() and task.solved(res.theta)


@pytest.mark.parametrize("kwargs,match", [
    ({"architecture": "A3"}, r"architecture must be one of \['A1', 'A2', 'elman'\], got 'A3'"),
    ({"architecture": None}, "architecture must be one of"),
    ({"hidden": 0}, "hidden must be a positive int or None, got 0"),
    ({"hidden": 2.5, "architecture": "A2"}, "hidden must be a positive int or None"),
    ({"self_connections": False}, "self_connections must be None or True for architecture='A1'"),
])
def test_parity_bad_architecture(kwargs, match):
    with pytest.raises(ValueError, match=match):
        parity(2, 2, 5, 6, random_state=0, **kwargs)


SMALL = dict(n_train=4, n_test=4, min_length=5, max_length=8)


@pytest.mark.parametrize("make, kwargs, err, match", [
    (latch, {**SMALL, "n_train": -1}, ValueError, "n_train must be >= 1, got -1"),
    (latch, {**SMALL, "n_train": 0}, ValueError, "n_train must be >= 1, got 0"),
    (latch, {**SMALL, "n_train": 2.5}, TypeError, "n_train must be an int >= 1, got 2.5"),
    (latch, {**SMALL, "n_test": 0}, ValueError, "n_test must be >= 1"),
    (latch, {**SMALL, "noise": np.nan}, ValueError, "noise must be a finite number >= 0, got nan"),
    (latch, {**SMALL, "noise": -0.1}, ValueError, "noise must be a finite number >= 0"),
    (latch, {**SMALL, "noise": 1e308}, ValueError, "noise must be at most 1e.300"),
    (latch, {**SMALL, "variant": True}, ValueError, r"variant must be one of \[1, 2\], got True"),
    (latch, {**SMALL, "variant": 1.0}, ValueError, "variant must be one of"),
    (latch, {**SMALL, "min_length": 9}, ValueError, "min_length must be <= max_length, got 9 > 8"),
    (latch, {**SMALL, "max_length": 7.5}, TypeError, "max_length must be an int"),
    (latch, {**SMALL, "random_state": -1}, ValueError, "random_state must be None, an int >= 0"),
    (latch, {**SMALL, "random_state": "seed"}, TypeError, "random_state must be None, an int"),
    (two_sequence, {**SMALL, "n_relevant": 0}, ValueError, "n_relevant must be >= 1"),
    (two_sequence, {**SMALL, "n_relevant": 5}, ValueError, r"n_relevant must lie in \[1, min_length\)"),
    (two_sequence, {**SMALL, "hidden": 0}, ValueError, "hidden must be >= 1"),
    (parity, {**SMALL, "input_noise": -1}, ValueError, "input_noise must be a finite number >= 0"),
    (parity, {**SMALL, "architecture": "A2", "self_connections": "no"}, TypeError,
     "self_connections must be a bool"),
    (adding, {"T": 20.5, "n_train": 4, "n_test": 4}, TypeError, "T must be an int >= 1, got 20.5"),
    (adding, {"T": 11, "n_train": 4, "n_test": 4}, ValueError, "T is too short for version 'hochreiter': need T >= 12"),
    (adding, {"T": 20, "n_train": 0, "n_test": 4}, ValueError, "n_train must be >= 1"),
    (adding, {"T": 20, "n_train": 4, "n_test": 4, "threshold": -1}, ValueError,
     "threshold must be a finite number > 0, got -1"),
    (temporal_order, {"n_train": 2, "n_test": 2, "tolerance": -0.3}, ValueError,
     "tolerance must be a finite number > 0, got -0.3"),
    (temporal_order, {"n_train": 2, "n_test": 2, "n_relevant": 2.0}, ValueError, r"n_relevant.*must be one of \[2, 3\]"),
])
def test_task_generators_name_every_bad_argument(make, kwargs, err, match):
    with pytest.raises(err, match=match):
        make(**kwargs)


@pytest.mark.parametrize("kwargs, err, match", [
    ({"task": "x"}, TypeError, "task must be an evoneuro.tasks.Task"),
    ({"batch": -1}, ValueError, "batch must be >= 1, got -1"),
    ({"max_trials": 0}, ValueError, "max_trials must be >= 1"),
    ({"screen": -1}, ValueError, "screen must be >= 0"),
    ({"r": np.inf}, ValueError, "r must be a finite number > 0"),
    ({"r": 0}, ValueError, "r must be a finite number > 0"),
    ({"evaluator": "numpy"}, TypeError, "evaluator must be an evoneuro.Evaluator"),
    ({"random_state": -1}, ValueError, "random_state must be None, an int >= 0"),
])
def test_guess_names_every_bad_argument(kwargs, err, match):
    kw = {"task": latch(**SMALL, random_state=0), "max_trials": 10, **kwargs}
    with pytest.raises(err, match=match):
        guess(kw.pop("task"), **kw)


def test_guess_refuses_an_evaluator_of_another_net_and_criteria_check_their_bounds():
    task = latch(**SMALL, random_state=0)
    with pytest.raises(ValueError, match="evaluator must evaluate task.net"):
        guess(task, max_trials=10, evaluator=en.Evaluator(en.RNN(1, (2,), 1, output="linear")))
    from evoneuro.tasks import mse_below, within

    with pytest.raises(ValueError, match="tolerance must be a finite number > 0"):
        within(-1)
    with pytest.raises(TypeError, match="threshold must be a number"):
        mse_below("0.1")
    with pytest.raises(ValueError, match="r must be a finite number > 0"):
        task.bounds(np.nan)
