"""The history compressor's tasks: trigger-recall over a predictable filler, and chunking."""

import numpy as np
import pytest

from evoneuro.tasks import CHUNK_SYMBOLS, Task, chunking, trigger_recall


def test_trigger_recall_layout():
    task = trigger_recall(T=30, n_train=10, n_test=6, n_triggers=3, period=4, random_state=1)
    assert isinstance(task, Task) and task.classification
    assert task.X_train.shape == (10, 29, 7) and task.X_test.shape == (6, 29, 7)
    sym = task.X_train.argmax(axis=2)
    assert np.array_equal(task.X_train.sum(axis=2), np.ones((10, 29)))       # one-hot
    assert np.array_equal(sym[:, 0], task.y_train)                           # the trigger is the class
    filler = sym[:, 1:] - 3
    assert ((filler >= 0) & (filler < 4)).all()
    assert np.array_equal(np.diff(filler, axis=1) % 4, np.ones((10, 27)))    # the cycle, step by step
    assert sorted(np.bincount(task.y_train).tolist()) == [3, 3, 4]


def test_trigger_recall_phase_and_seed():
    fixed = trigger_recall(T=12, n_train=8, n_test=2, random_phase=False, random_state=0)
    assert (fixed.X_train.argmax(axis=2)[:, 1] == 2).all()                   # filler starts at its first symbol
    a, b = trigger_recall(T=12, random_state=5), trigger_recall(T=12, random_state=5)
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.X_test, b.X_test)
    c = trigger_recall(T=12, random_state=6)
    assert not np.array_equal(a.X_train, c.X_train)


def test_trigger_recall_net_and_targets():
    task = trigger_recall(T=20, n_train=4, n_test=4, random_state=0)
    X, t, lengths = task.net_data()
    assert lengths is None and t.shape == (4, 2)
    out = task.evaluator().forward(task.net.init(np.random.default_rng(0)), X)
    assert out.shape == (1, 4, 2)
    assert task.criterion(t[None], t).all() and not task.criterion(1 - t[None], t).any()


def test_chunking_grammar():
    task = chunking(n_blocks=4, n_train=12, n_test=4, random_state=3)
    assert len(CHUNK_SYMBOLS) == 22 and task.X_train.shape == (12, 84, 22)
    sym = task.X_train.argmax(axis=2).reshape(12, 4, 21)
    assert np.isin(sym[:, :, 0], (0, 1)).all()                               # a or x opens a block
    assert (sym[:, :, 1:] == np.arange(2, 22)).all()                         # then b1 ... b20
    assert np.array_equal(sym[:, -1, 0] == 0, task.y_train == 1)             # label: the last block's head is a
    heads = sym[:, :-1, 0]
    assert 0 < heads.mean() < 1                                              # earlier heads are random


@pytest.mark.parametrize("make, kwargs, match", [
    (trigger_recall, {"T": 2}, "T must be >= 3"),
    (trigger_recall, {"T": 10.5}, "T must be an int"),
    (trigger_recall, {"n_triggers": 1}, "n_triggers must be >= 2"),
    (trigger_recall, {"period": 0}, "period must be >= 1"),
    (trigger_recall, {"random_phase": 1}, "random_phase must be a bool"),
    (chunking, {"n_blocks": 0}, "n_blocks must be >= 1"),
    (chunking, {"n_filler": "20"}, "n_filler must be an int"),
    (chunking, {"n_train": 0}, "n_train must be >= 1"),
])
def test_bad_arguments(make, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make(**kwargs)
