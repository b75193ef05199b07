"""Checkpoint: atomic writes that keep the last good file; resume gives the same run.

The SIGKILL-at-random-moments soak is benchmarks/soak_checkpoint.py (a script, not a test).
"""

import os
import pickle

import numpy as np
import pytest

import evoneuro as en


def sphere(x):
    return float(np.sum(x ** 2))


class Unpicklable(en.Callback):
    """A callback that refuses to pickle from step ``after`` on (an open socket, say)."""

    def __init__(self, after):
        self.after, self.step = after, 0

    def on_step(self, trainer, record):
        self.step = record["step"]

    def __getstate__(self):
        if self.step >= self.after:
            raise TypeError("cannot pickle this callback any more")
        return self.__dict__


def trainer(path, steps=12, callbacks=()):
    prob = en.FitnessProblem(sphere, 4)
    return en.Trainer(prob, "snes", x0=np.ones(4), max_steps=steps, random_state=0,
                      callbacks=[*callbacks, en.Checkpoint(path, every=2)])


def test_a_failed_save_keeps_the_last_good_checkpoint_and_no_temporary_file(tmp_path):
    path = tmp_path / "run.pkl"
    t = trainer(path, callbacks=[Unpicklable(after=5)])
    with pytest.raises(en.TrainingError) as info:
        t.run()
    assert isinstance(info.value.__cause__, TypeError)
    assert os.listdir(tmp_path) == ["run.pkl"]  # the temporary file was removed
    saved = pickle.loads(path.read_bytes())  # the last good one: step 4
    assert saved.n_steps == 4


def test_checkpoints_leave_only_the_file_and_resume_to_the_same_end(tmp_path):
    path = tmp_path / "run.pkl"
    full = trainer(tmp_path / "full.pkl").run()
    t = trainer(path)
    t.run(max_steps=7)  # the run returns at step 7 and saves it (at_end)
    assert sorted(os.listdir(tmp_path)) == ["full.pkl", "run.pkl"]
    resumed = pickle.loads(path.read_bytes())
    assert resumed.n_steps == 7
    res = resumed.run()
    np.testing.assert_array_equal(res.x, full.x)
    assert res.fun == full.fun and res.n_steps == full.n_steps == 12
    np.testing.assert_array_equal(res.history["loss"], full.history["loss"])


def test_checkpoint_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a bare file name: the temporary file goes next to it
    trainer("run.pkl", steps=2).run()
    assert os.listdir(tmp_path) == ["run.pkl"]
