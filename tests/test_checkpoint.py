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


class DiesWhilePickled:
    """An object whose pickling kills the process (``os._exit``): a run killed mid-write."""

    def __reduce__(self):
        os._exit(3)


def test_a_writer_killed_mid_write_leaves_no_temporary_file_after_the_next_save(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "run.pkl"
    child = (f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); import evoneuro as en; "
             f"from test_checkpoint import DiesWhilePickled; en.Checkpoint({str(path)!r}).save(DiesWhilePickled())")
    assert subprocess.run([sys.executable, "-c", child], timeout=120).returncode == 3
    leftover = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert len(leftover) == 1 and leftover[0].startswith("run.pkl.")  # what a SIGKILL leaves
    en.Checkpoint(path).save({"step": 1})  # the next save removes it (its writer is gone)
    assert os.listdir(tmp_path) == ["run.pkl"]
    (tmp_path / leftover[0]).write_bytes(b"half a pickle")  # ... and so does the next load
    assert en.Checkpoint.load(path) == {"step": 1}
    assert os.listdir(tmp_path) == ["run.pkl"]


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    from evoneuro.training.callbacks import _WRITER

    host = _WRITER.rsplit("-", 1)[0]
    other = tmp_path / f"run.pkl.{host}-1.abcd1234.tmp"  # pid 1 runs (init): a save in progress
    other.write_bytes(b"")
    en.Checkpoint(tmp_path / "run.pkl").save({"step": 1})
    assert sorted(os.listdir(tmp_path)) == sorted(["run.pkl", other.name])


@pytest.mark.parametrize("path, err, match", [
    (123, TypeError, "path must be a str or path-like.*got int 123"),
    (None, TypeError, "path must be a str or path-like"),
    ("", ValueError, "path must name a checkpoint file"),
])
def test_checkpoint_path_names_the_argument(path, err, match):
    with pytest.raises(err, match=match):
        en.Checkpoint(path)


def test_checkpoint_path_in_a_missing_folder_fails_at_construction_not_at_the_first_save(tmp_path):
    with pytest.raises(ValueError, match="folder that does not exist"):
        en.Checkpoint(tmp_path / "missing" / "run.pkl")
    with pytest.raises(ValueError, match="a folder"):
        en.Checkpoint(tmp_path)
    with pytest.raises(TypeError, match="at_end must be a bool"):
        en.Checkpoint(tmp_path / "run.pkl", at_end="yes")
