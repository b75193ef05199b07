"""Callbacks: what a :class:`evoneuro.Trainer` does around each step besides optimizing.

A callback sees every step's *record*, a dict with ``step``, ``evals`` (sample-forward
equivalents spent so far), ``seconds``, ``loss`` (mean of the step's finite losses) and
``best_loss`` (best told loss so far), plus ``val_score`` on the steps where
:class:`History` computed one. ``on_step`` returning True stops the run.

The trainer always keeps one :class:`History` (the first one in ``callbacks``, or a
default one) and runs it first; :class:`Checkpoint` callbacks run last, so a checkpoint
holds the complete state after the step.
"""

from __future__ import annotations

import os
import pickle
import socket
import sys
import tempfile
from typing import Any

import numpy as np

from evoneuro._validation import check_bool, check_positive_float, check_positive_int


class Callback:
    """Base class: override any of ``on_start``, ``on_step``, ``on_end``.

    Examples
    --------
    >>> import evoneuro as en
    >>> class StopAtStep3(en.Callback):
    ...     stop_reason = "step 3"
    ...     def on_step(self, trainer, record):
    ...         return record["step"] >= 3
    >>> res = en.minimize(lambda x: float(x @ x), [1.0, 2.0], "sgd", max_steps=10,
    ...                   grad=lambda x: 2 * x, callbacks=[StopAtStep3()])
    >>> res.n_steps, res.stop_reason
    (3, 'step 3')
    """

    #: ``stop_reason`` of a run this callback stops.
    stop_reason: str = "callback"

    def on_start(self, trainer) -> None:
        """Called when :meth:`Trainer.run` starts (again, after a resume)."""

    def on_step(self, trainer, record: dict) -> bool | None:
        """Called after every step; return True to stop the run."""

    def on_end(self, trainer, result) -> None:
        """Called when :meth:`Trainer.run` returns (or raises :class:`TrainingError`)."""


class History(Callback):
    """Per-step records of a run; the trainer always keeps one.

    Parameters
    ----------
    every : int, default=1
        Record every ``every``-th step.
    validation : (X_val, y_val), callable or None, default=None
        Adds ``val_score`` (higher is better) computed at the optimizer's current point
        ``trainer.optimizer.x``: accuracy (softmax nets) or R^2 (linear outputs) on
        ``(X_val, y_val)`` through the problem's evaluator, or ``validation(x) -> float``.
    validation_every : int or None, default=None
        Compute ``val_score`` every this many steps (default: ``every``).

    Notes
    -----
    Access: ``len(h)``, ``h[i]`` (the i-th record, a dict), ``h["loss"]`` (one column as
    an array, NaN where a record lacks it), ``h.records`` (the list of dicts),
    ``h.to_dict()`` (column name -> list) and ``h.as_arrays()`` (name -> array).

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> res = en.minimize(lambda x: float(x @ x), [1.0], "sgd", {"learning_rate": 0.25},
    ...                   max_steps=3, grad=lambda x: 2 * x)
    >>> res.history["loss"]
    array([1.    , 0.25  , 0.0625])
    >>> sorted(res.history[0])
    ['best_loss', 'evals', 'loss', 'seconds', 'step']
    """

    def __init__(self, every: int = 1, validation: Any = None, validation_every: int | None = None) -> None:
        self.every = check_positive_int(every, "every")
        self.validation_every = check_positive_int(validation_every, "validation_every", allow_none=True)
        if validation is not None and not callable(validation):
            if not (isinstance(validation, (tuple, list)) and len(validation) == 2):
                raise TypeError("validation must be (X_val, y_val), a callable x -> score, or None")
        self.validation = validation
        self.records: list[dict] = []

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, key):
        if isinstance(key, str):
            if not any(key in r for r in self.records):
                raise KeyError(f"no record has {key!r}; keys are {self.keys()}")
            return np.array([r.get(key, np.nan) for r in self.records], dtype=float)
        return self.records[key]

    def __repr__(self) -> str:
        return f"History({len(self)} records, keys={self.keys()})"

    def keys(self) -> list[str]:
        """Every column name, in first-seen order."""
        out: dict[str, None] = {}
        for r in self.records:
            out.update(dict.fromkeys(r))
        return list(out)

    def to_dict(self) -> dict[str, list]:
        """Column name -> list of values (None where a record lacks the column)."""
        return {k: [r.get(k) for r in self.records] for k in self.keys()}

    def as_arrays(self) -> dict[str, np.ndarray]:
        """Column name -> float array (NaN where a record lacks the column)."""
        return {k: self[k] for k in self.keys()}

    def snapshot(self) -> "History":
        """A copy of the records (without the validation data)."""
        h = History(self.every, None, self.validation_every)
        h.records = [dict(r) for r in self.records]
        return h

    def score(self, trainer) -> float:
        """The validation score of the optimizer's current point."""
        x = trainer.optimizer.x
        if callable(self.validation):
            return float(self.validation(x))
        evaluator = getattr(trainer.problem, "evaluator", None)
        if evaluator is None:
            raise TypeError("validation=(X_val, y_val) needs a SupervisedProblem; pass a callable instead")
        X_val, y_val = self.validation
        out = evaluator.predict(x, X_val)
        y_val = evaluator.check_y(y_val, len(out))
        if evaluator.net.output == "softmax":
            return float(np.mean(np.argmax(out, axis=1) == y_val))
        ss_res = float(np.sum((y_val - out) ** 2))
        ss_tot = float(np.sum((y_val - y_val.mean(axis=0)) ** 2))
        return 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0

    def on_step(self, trainer, record: dict) -> None:
        step = record["step"]
        if self.validation is not None and step % (self.validation_every or self.every) == 0:
            record["val_score"] = self.score(trainer)
        if step % self.every == 0:
            self.records.append(dict(record))


class EarlyStopping(Callback):
    """Stop when the monitored value has not improved for ``patience`` records.

    Parameters
    ----------
    patience : int, default=10
        Records without improvement before stopping.
    min_delta : float, default=0.0
        The smallest change that counts as an improvement.
    monitor : {"loss", "best_loss", "val_score"}, default="loss"
        Losses must decrease, ``val_score`` (from ``History(validation=...)``) increase.
        Records without the monitored value are skipped.
    min_steps : int, default=0
        Stop only when the last improvement is also at least this many steps back (the
        start counts as one), for records that are far apart in progress made.

    Examples
    --------
    >>> import evoneuro as en
    >>> res = en.minimize(lambda x: 1.0, [0.0], "sgd", max_steps=100, grad=lambda x: 0 * x,
    ...                   callbacks=[en.EarlyStopping(patience=5)])
    >>> res.n_steps, res.stop_reason
    (6, 'early_stopping')
    """

    stop_reason = "early_stopping"

    def __init__(self, patience: int = 10, min_delta: float = 0.0, monitor: str = "loss",
                 min_steps: int = 0) -> None:
        self.patience = check_positive_int(patience, "patience")
        self.min_steps = check_positive_int(min_steps, "min_steps", minimum=0)
        self.min_delta = check_positive_float(min_delta, "min_delta", allow_zero=True)
        if monitor not in ("loss", "best_loss", "val_score"):
            raise ValueError(f"monitor must be 'loss', 'best_loss' or 'val_score', got {monitor!r}")
        self.monitor = monitor
        self.best = np.inf if monitor != "val_score" else -np.inf
        self.wait = 0
        self.best_step: int | None = None

    def on_step(self, trainer, record: dict) -> bool:
        if self.monitor not in record:
            return False
        value = float(record[self.monitor])
        better = (value > self.best + self.min_delta if self.monitor == "val_score"
                  else value < self.best - self.min_delta)
        if better:
            self.best, self.wait, self.best_step = value, 0, record["step"]
        else:
            self.wait += 1
        return self.wait >= self.patience and record["step"] - (self.best_step or 0) >= self.min_steps


class ProgressBar(Callback):
    """A tqdm bar showing steps, evals and the best loss (``progress=True`` adds one).

    Parameters
    ----------
    file : file-like or None, default=None
        Where to draw (tqdm's default, stderr, when None).
    **tqdm_kwargs
        Passed to ``tqdm.tqdm``.

    Notes
    -----
    The bar does not pickle; an unpickled trainer draws a new one.
    """

    def __init__(self, file=None, **tqdm_kwargs) -> None:
        self.file = file
        self.tqdm_kwargs = tqdm_kwargs
        self._bar = None

    def on_start(self, trainer) -> None:
        from tqdm.auto import tqdm

        self.close()
        total = trainer.budget.get("max_steps")
        kwargs = {"desc": trainer.optimizer.name, "unit": "step", **self.tqdm_kwargs}
        self._bar = tqdm(total=total, initial=trainer.n_steps,
                         file=self.file if self.file is not None else sys.stderr, **kwargs)

    def on_step(self, trainer, record: dict) -> None:
        if self._bar is not None:
            self._bar.set_postfix(evals=record["evals"], best=f"{record['best_loss']:.4g}", refresh=False)
            self._bar.update(1)

    def on_end(self, trainer, result) -> None:
        self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_bar"] = None
        if state["file"] is not None and state["file"] not in (sys.stderr, sys.stdout):
            state["file"] = None  # an open stream does not pickle
        return state


class Checkpoint(Callback):
    """Pickle the whole trainer to ``path`` every ``every`` steps (and at the end).

    Resume with ``Checkpoint.load(path).run()`` (or ``pickle.load(open(path, "rb")).run()``):
    the continued run gives the same result as an uninterrupted one
    (``docs/reliability.md``; an executor is not saved, set ``trainer.problem.executor``
    again). Everything the trainer holds must pickle (a fitness given as a lambda does not).

    The file is written crash-safely: the pickle goes to a temporary file in the same
    directory, is flushed to disk (``fsync``), and only then replaces ``path`` in one
    atomic rename (``os.replace``), whose directory entry is flushed too. A run killed at
    any moment, even mid-write, leaves at ``path`` the last complete checkpoint; a save
    that fails (an object that does not pickle, a full disk) raises and also leaves it,
    and removes its temporary file. A process killed mid-write cannot remove its own: the
    temporary file's name holds the host and process id that wrote it, and the next
    :meth:`save` or :meth:`load` of ``path`` removes those of processes that no longer run.

    Parameters
    ----------
    path : str or path-like
        The checkpoint file. Its folder must exist and be writable (checked here, not at
        the first save hours into a run).
    every : int, default=100
    at_end : bool, default=True
        Also save when :meth:`Trainer.run` returns.

    Raises
    ------
    TypeError
        ``path`` is not a str or path-like, ``every`` not an int, ``at_end`` not a bool.
    ValueError
        ``path`` is empty or a folder, or its folder does not exist or is not writable;
        ``every`` < 1.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import evoneuro as en
    >>> path = os.path.join(tempfile.mkdtemp(), "run.pkl")
    >>> prob = en.FitnessProblem(np.linalg.norm, n_params=3)
    >>> trainer = en.Trainer(prob, "es", x0=np.ones(3), max_steps=20, random_state=0,
    ...                      callbacks=[en.Checkpoint(path, every=5)])
    >>> first = trainer.run(max_steps=10)          # a crash after step 10 would leave...
    >>> resumed = en.Checkpoint.load(path)         # ...this, which goes on to step 20
    >>> resumed.run().n_steps
    20
    """

    def __init__(self, path, every: int = 100, at_end: bool = True) -> None:
        self.path = _check_path(path)
        self.every = check_positive_int(every, "every")
        self.at_end = check_bool(at_end, "at_end")

    def save(self, trainer) -> None:
        """Write ``trainer`` to :attr:`path` atomically (see the class docstring)."""
        folder = os.path.dirname(os.path.abspath(self.path))
        _remove_stale(self.path)
        fd, tmp = tempfile.mkstemp(prefix=f"{os.path.basename(self.path)}.{_WRITER}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(trainer, f, protocol=pickle.HIGHEST_PROTOCOL)
                f.flush()
                os.fsync(f.fileno())  # the data is on disk before the name points at it
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        _fsync_dir(folder)  # the rename itself survives a power loss

    @staticmethod
    def load(path):
        """The trainer saved at ``path`` (``pickle.load``), after removing the temporary
        files that killed writers left beside it.

        Only load checkpoints you trust: unpickling runs code.
        """
        path = _check_path(path)
        _remove_stale(path)
        with open(path, "rb") as f:
            return pickle.load(f)

    def on_step(self, trainer, record: dict) -> None:
        if record["step"] % self.every == 0:
            self.save(trainer)

    def on_end(self, trainer, result) -> None:
        if self.at_end:
            self.save(trainer)


#: ``host-pid`` of this process: the middle of its temporary checkpoint files' names.
_WRITER = f"{socket.gethostname().replace('.', '_')}-{os.getpid()}"


def _check_path(path) -> str:
    """``path`` as a str naming a file in an existing, writable folder."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like (pathlib.Path), got {type(path).__name__} {path!r}")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path or path.endswith(os.sep) or os.path.isdir(path):
        raise ValueError(f"path must name a checkpoint file, got {path!r}" +
                         (" (a folder)" if path and os.path.isdir(path) else ""))
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"path {path!r} is in a folder that does not exist ({folder}); create it first "
                         "(os.makedirs), so the run does not fail at its first checkpoint")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"path {path!r} is in a folder this process cannot write to ({folder})")
    return path


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftover (a pid reused after a kill); saves of a path are sequential
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, ValueError, OverflowError):  # another user's, or no such check here
        return True
    return True


def _remove_stale(path: str) -> None:
    """Remove the temporary files of ``path`` whose writer on this host no longer runs."""
    folder = os.path.dirname(os.path.abspath(path))
    prefix = os.path.basename(path) + "."
    host = _WRITER.rsplit("-", 1)[0]
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        writer = name[len(prefix):-4].rsplit(".", 1)[0]  # "host-pid" (then mkstemp's random part)
        who, _, pid = writer.rpartition("-")
        if who == host and pid.isdigit() and _alive(int(pid)):
            continue
        if who and who != host and pid.isdigit():
            continue  # another host's writer: it may still be writing
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:
            pass


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms whose directories cannot be opened (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems without directory fsync
        pass
    finally:
        os.close(fd)
