"""The history compressor: surprise streams, compression, training by gradient and gradient-free optimizers."""

import numpy as np
import pytest

import evoneuro as en
from evoneuro.tasks import chunking, trigger_recall

FAST = {"optimizer_params": {"learning_rate": 0.03}, "max_steps": 200}


def _one_hot(symbols, d=3):
    return np.eye(d)[np.asarray(symbols)]


def _hand_made(hc):
    """Level 0 set by hand to predict symbol s + 1 (mod 3) after s, with probability 0.9999."""
    level = hc.levels_[0]
    theta = np.zeros(level.net.n_params)
    cell, (W, b) = level.net.unflatten(theta)
    cell["h"]["W_i"][:3, :3] = 5.0 * np.eye(3)          # h = tanh(5) at the unit of the current symbol
    for j in range(3):
        W[j, (j + 1) % 3] = 10.0
    level.theta = theta
    return hc


def _fitted_level0(**kwargs):
    X = _one_hot(np.arange(12) % 3)[None].repeat(2, axis=0)
    return en.HistoryCompressor(levels=1, cell="elman", hidden=3, max_steps=1, random_state=0, **kwargs).fit(X)


def test_surprise_stream_is_exactly_the_mispredicted_steps():
    hc = _hand_made(_fitted_level0())
    # 0 1 2 0 [2] 0 1 [1] 2: steps 4 and 7 break the rule s -> s + 1; every other step follows it
    X = _one_hot([[0, 1, 2, 0, 2, 0, 1, 1, 2], [2, 0, 1, 2, 0, 1, 2, 0, 1]])
    assert [s.tolist() for s in hc.surprises(X)] == [[4, 7], []]
    up = hc._compress(0, hc.compress(X, level=0))   # what a level 1 would read
    assert up.lengths.tolist() == [3, 1]
    assert up.times[0].tolist() == [0, 4, 7] and up.gaps[0].tolist() == [0, 4, 3]
    assert up.data[0].argmax(axis=1).tolist() == [0, 2, 1]
    assert up.times[1].tolist() == [0, -1, -1] and not up.data[1, 1:].any()   # padding


def test_threshold_decides_what_is_a_surprise():
    hc = _hand_made(_fitted_level0(threshold=0.99999))   # above the 0.9999 the hand-made net gives
    X = _one_hot([[0, 1, 2, 0, 1]])
    assert hc.surprises(X)[0].tolist() == [1, 2, 3, 4]


def test_padded_batches_with_lengths():
    hc = _hand_made(_fitted_level0())
    X = _one_hot([[0, 1, 0, 1, 2, 0], [0, 1, 2, 2, 2, 2]])
    # sequence 1 ends after 3 steps: its padding (2, 2, 2 would be surprises) is not read
    assert [s.tolist() for s in hc.surprises(X, lengths=np.array([6, 3]))] == [[2], []]
    assert [s.tolist() for s in hc.surprises(X)] == [[2], [3, 4, 5]]


@pytest.mark.parametrize("optimizer, kwargs", [
    ("adam", FAST),
    pytest.param("sep-cmaes", {"max_steps": [400, 150]}, marks=pytest.mark.slow),
    (["irprop+", "snes"], {"max_steps": [300, 300]}),   # a level per optimizer: Rprop, then an ES
])
def test_two_levels_recall_the_trigger(optimizer, kwargs):
    task = trigger_recall(T=30, n_train=32, n_test=16, random_state=0)
    X, y, _ = task.data("train")
    hc = en.HistoryCompressor(levels=2, cell="elman", hidden=8, optimizer=optimizer, random_state=0, **kwargs)
    hc.fit(X, y)
    assert [lv.role for lv in hc.levels_] == ["predict", "readout"]
    assert hc.compression_ratio_ > 10                   # level 1 reads ~2 steps of 29
    assert hc.score(*task.data("test")[:2]) == 1.0
    assert hc.n_evals_ == sum(lv.evals for lv in hc.levels_) > 0
    assert set(hc.predict(task.X_test)) <= {0, 1}
    proba = hc.predict_proba(task.X_test)
    assert proba.shape == (16, 2) and np.allclose(proba.sum(axis=1), 1)


def test_reproducible_for_a_random_state():
    task = trigger_recall(T=15, n_train=8, n_test=4, random_state=0)
    X, y, _ = task.data("train")
    a = en.HistoryCompressor(cell="lstm", hidden=4, max_steps=20, random_state=3).fit(X, y)
    b = en.HistoryCompressor(cell="lstm", hidden=4, max_steps=20, random_state=3).fit(X, y)
    assert all(np.array_equal(p.theta, q.theta) for p, q in zip(a.levels_, b.levels_))


def test_three_levels_shrink_the_stream():
    task = chunking(n_blocks=3, n_filler=5, n_train=24, n_test=8, random_state=0)
    X, y, _ = task.data("train")
    hc = en.HistoryCompressor(levels=3, cell="elman", hidden=6, random_state=0, **FAST).fit(X, y)
    lengths = [lv.mean_length for lv in hc.levels_]
    assert lengths[0] == 18 and lengths[0] > lengths[1] >= lengths[2] >= 1
    assert [lv.role for lv in hc.levels_] == ["predict", "predict", "readout"]


def test_real_valued_inputs_use_the_error_rule():
    t = np.arange(40)
    X = np.stack([np.sin(0.5 * t), np.cos(0.5 * t)], axis=1)[None].repeat(4, axis=0)
    X[1, 20] += 3.0                                     # a spike: mispredicted
    hc = en.HistoryCompressor(levels=1, cell="elman", hidden=8, threshold=1.0, random_state=0, **FAST).fit(X)
    assert hc.surprise_ == "error"
    assert 20 in hc.surprises(X)[1].tolist()
    with pytest.raises(ValueError, match="surprise='probability' needs one-hot"):
        en.HistoryCompressor(levels=1, surprise="probability", max_steps=1).fit(X)


@pytest.mark.parametrize("threshold, surprise, err, match", [
    (0.0, "auto", ValueError, r"threshold must lie in \(0, 1\)"),
    (1.0, "probability", ValueError, r"threshold must lie in \(0, 1\)"),
    (-0.5, "auto", ValueError, r"threshold must lie in \(0, 1\)"),
    (float("nan"), "auto", ValueError, r"threshold must lie in \(0, 1\)"),
    ("0.5", "auto", TypeError, "threshold must be a number"),
    (True, "auto", TypeError, "threshold must be a number"),
    (0.0, "error", ValueError, "threshold must be a finite number > 0"),
    (0.5, "surprising", ValueError, "surprise must be one of"),
])
def test_bad_thresholds(threshold, surprise, err, match):
    X = _one_hot(np.arange(12) % 3)[None].repeat(2, axis=0)
    with pytest.raises(err, match=match):
        en.HistoryCompressor(levels=1, threshold=threshold, surprise=surprise, max_steps=1).fit(X)


def test_sequences_shorter_than_two_steps():
    hc = en.HistoryCompressor(levels=1, max_steps=1)
    with pytest.raises(ValueError, match="at least two steps"):
        hc.fit(np.eye(3)[None, :1])                     # T = 1
    X = _one_hot([[0, 1, 2], [1, 2, 0]])
    with pytest.raises(ValueError, match="at least two steps.*sequence 1"):
        hc.fit(X, lengths=np.array([3, 1]))


def test_empty_surprise_stream():
    # no random phase: level 0 predicts every step after the trigger, so level 1 sees one step
    # and has nothing to learn to predict
    task = trigger_recall(T=15, n_train=8, n_test=4, random_phase=False, random_state=0)
    hc = en.HistoryCompressor(levels=2, cell="elman", hidden=8, random_state=0, **FAST)
    with pytest.raises(ValueError, match="surprise stream of level 0 is empty"):
        hc.fit(task.X_train)
    hc.fit(task.X_train, task.y_train)                  # a readout needs no prediction: it reads the one step
    assert hc.compression_ratio_ == 14.0 and hc.score(task.X_test, task.y_test) == 1.0


def test_bad_calls():
    X = _one_hot(np.arange(12) % 3)[None].repeat(2, axis=0)
    with pytest.raises(AttributeError, match="not fitted"):
        en.HistoryCompressor().surprises(X)
    hc = en.HistoryCompressor(levels=1, max_steps=1).fit(X)
    with pytest.raises(ValueError, match="level must be an int in"):
        hc.surprises(X, level=1)
    with pytest.raises(AttributeError, match="without labels"):
        hc.predict(X)
    with pytest.raises(ValueError, match="features per step"):
        hc.surprises(np.zeros((1, 4, 5)))
    with pytest.raises(ValueError, match="one per level"):
        en.HistoryCompressor(levels=2, optimizer=["adam"], max_steps=1).fit(X)
    with pytest.raises(ValueError, match="needs a budget"):
        en.HistoryCompressor(levels=1, max_steps=None).fit(X)
    with pytest.raises(ValueError, match="one label per sequence"):
        en.HistoryCompressor(levels=1, max_steps=1).fit(X, [0, 1, 0])


def test_scikit_learn_parameters():
    from sklearn.base import clone

    hc = en.HistoryCompressor(levels=3, cell="gru", threshold=0.7, optimizer=["adam", "rprop+", "sep-cmaes"])
    params = clone(hc).get_params()
    assert params["levels"] == 3 and params["cell"] == "gru" and params["optimizer"] == ["adam", "rprop+", "sep-cmaes"]
    assert not hasattr(clone(hc), "levels_")


@pytest.mark.slow
def test_collapse_puts_the_hierarchy_in_one_net():
    task = trigger_recall(T=30, n_train=32, n_test=16, random_state=0)
    X, y, _ = task.data("train")
    hc = en.HistoryCompressor(levels=2, cell="elman", hidden=8, optimizer_params={"learning_rate": 0.01},
                              max_steps=300, collapse=True, random_state=0).fit(X, y)
    assert hc.collapsed_.role == "collapsed" and hc.collapsed_.net.n_outputs == 7 + 2
    assert hc.n_evals_ == sum(lv.evals for lv in hc.levels_) + hc.collapsed_.evals
    assert hc.score(task.X_test, task.y_test, collapsed=True) == 1.0   # without running level 1
    proba = hc.predict_proba(task.X_test, collapsed=True)
    assert proba.shape == (16, 2) and np.allclose(proba.sum(axis=1), 1) and (proba > 0).all()


def test_collapse_targets_are_level_1_outputs_after_the_surprises_so_far():
    hc = _hand_made(_fitted_level0())
    X = _one_hot([[0, 1, 2, 0, 2, 0, 1, 1, 2]])
    # a level 1 that reads out 2 classes; its output at each step of the raw stream is the
    # output after the last surprise at or before that step (steps 0, 4, 7)
    hc.classes_ = np.array([0, 1])
    top_net = en.RNN(4, 3, 2, cell="elman")
    hc.levels_.append(type(hc.levels_[0])(top_net, top_net.init(np.random.default_rng(0)), "readout", 0, 0.0, 3.0))
    raw = hc.compress(X, level=0)
    top = hc._compress(0, raw)
    at = hc._top_outputs(raw, top)
    every = en.RNN(4, 3, 2, cell="elman", readout="all")
    ref = en.Evaluator(every, dtype="float64").forward(hc.levels_[1].theta, top.inputs())[0, 0]
    assert np.array_equal([int(np.flatnonzero((ref == row).all(axis=1))[0]) for row in at[0]],
                          [0, 0, 0, 0, 1, 1, 1, 2, 2])


def test_collapse_needs_two_levels_and_labels():
    X = _one_hot(np.arange(12) % 3)[None].repeat(2, axis=0)
    with pytest.raises(ValueError, match="needs levels=2 and labels"):
        en.HistoryCompressor(levels=2, collapse=True, max_steps=1).fit(X)
    with pytest.raises(ValueError, match="needs levels=2 and labels"):
        en.HistoryCompressor(levels=3, collapse=True, max_steps=1).fit(X, [0, 1])
    with pytest.raises(TypeError, match="collapse must be a bool"):
        en.HistoryCompressor(levels=2, collapse="yes", max_steps=1).fit(X, [0, 1])
    hc = en.HistoryCompressor(levels=1, max_steps=1).fit(X, [0, 1])
    with pytest.raises(AttributeError, match="no collapsed net"):
        hc.predict(X, collapsed=True)


def test_fine_tune_lowers_the_stack_loss_gradient_free_and_counts_its_evaluations():
    task = trigger_recall(T=40, n_train=32, n_test=128, random_state=1)
    X, y, _ = task.data("train")
    kw = dict(levels=2, cell="elman", hidden=8, optimizer="adam", optimizer_params={"learning_rate": 0.03},
              max_steps=[200, 2], random_state=0)
    plain = en.HistoryCompressor(**kw).fit(X, y)
    tuned = en.HistoryCompressor(**kw, fine_tune={"max_evals": 32 * 300}).fit(X, y)
    info = tuned.fine_tune_
    assert plain.fine_tune_ is None
    # the stack before tuning is the plain fit: same seeds, same loss
    np.testing.assert_array_equal(plain.levels_[1].theta, en.HistoryCompressor(**kw).fit(X, y).levels_[1].theta)
    assert info["loss_after"] < 0.7 * info["loss_before"]  # 0.279 -> 0.151 when measured
    assert 0 < info["evals"] <= 32 * 300 and tuned.n_evals_ == plain.n_evals_ + info["evals"]
    assert not np.array_equal(tuned.levels_[1].theta, plain.levels_[1].theta)
    p = tuned.predict_proba(X)
    loss = -np.mean(np.log(p[np.arange(len(y)), np.searchsorted(tuned.classes_, y)]))
    assert loss == pytest.approx(info["loss_after"], rel=1e-9)
    assert tuned.score(*task.data("test")[:2]) >= 0.95


@pytest.mark.parametrize("fine_tune, err, match", [
    ({"max_evals": 100, "optimizer": "adam"}, ValueError, "gradient-free"),
    ({"optimizer": "sep-cmaes"}, ValueError, "max_evals"),
    ({"max_evals": 100, "sigma": 0.1}, ValueError, "optimizer_params"),
    ({"max_evals": 0}, ValueError, "max_evals"),
    ("sep-cmaes", TypeError, "dict"),
])
def test_fine_tune_bad_settings(fine_tune, err, match):
    X, y, _ = trigger_recall(T=10, n_train=8, n_test=4, random_state=0).data("train")
    with pytest.raises(err, match=match):
        en.HistoryCompressor(max_steps=5, fine_tune=fine_tune).fit(X, y)
    if isinstance(fine_tune, dict) and "max_evals" in fine_tune and fine_tune["max_evals"] > 0:
        with pytest.raises(ValueError, match="labels"):
            en.HistoryCompressor(max_steps=5, fine_tune={"max_evals": 100}).fit(X)
