"""The tasks of the history compressor: trigger-recall over a predictable filler, and chunking.

Both are symbol streams, one-hot coded, with one unpredictable event whose identity must be
reported many steps later; everything in between is predictable from the step before, so
a predictor (level 0 of :class:`~evoneuro.HistoryCompressor`) learns it and the level above
sees only the event.

- :func:`trigger_recall`: the "very deep learning" demonstration of Schmidhuber's 1993
  Habilitation (summarised in section 6.4 of the 2015 survey, arXiv:1404.7828), as the
  public reproduction sets it up: a trigger symbol (one of ``n_triggers``) at step 0, then
  a filler that cycles through ``period`` symbols, and the trigger recalled after ``T``
  steps.
- :func:`chunking`: the experiment of "Neural sequence chunkers" (TR FKI-148-91, 1991) and
  of Neural Computation 4(2), 1992: 22 symbols ``a, x, b1, ..., b20``; a stream of blocks
  ``a b1 ... b20`` or ``x b1 ... b20``, ``a`` or ``x`` drawn at random at every block start;
  the label of a block (1 for ``a``, 0 for ``x``) is asked at its last symbol, 20 steps
  after the only symbol that carries it.

References
----------
Schmidhuber, J. (1992). Learning complex, extended sequences using the principle of history
compression. Neural Computation 4(2), 234-242.
Schmidhuber, J. (1991). Neural sequence chunkers. Technical Report FKI-148-91, TU Munich.
Schmidhuber, J. (2015). Deep learning in neural networks: an overview. Neural Networks 61,
85-117 (arXiv:1404.7828), section 6.4.
"""

from __future__ import annotations

import numpy as np

from evoneuro._validation import check_bool, check_positive_int
from evoneuro.network.init import check_rng
from evoneuro.network.rnn import RNN
from evoneuro.tasks._base import Task, within

_HISTORY = ("Schmidhuber (1992), Learning complex, extended sequences using the principle of history "
            "compression, Neural Computation 4(2); Schmidhuber (2015), arXiv:1404.7828, section 6.4")
_CHUNKER = ("Schmidhuber (1991), Neural sequence chunkers, TR FKI-148-91; Schmidhuber (1992), "
            "Neural Computation 4(2), 234-242")


def trigger_recall(T: int = 100, n_train: int = 64, n_test: int = 64, n_triggers: int = 2, period: int = 5,
                   random_phase: bool = True, hidden: int = 8, random_state=None) -> Task:
    """Recall, after ``T`` steps, which trigger began a sequence of predictable filler.

    The alphabet is ``n_triggers`` trigger symbols followed by ``period`` filler symbols
    (7 symbols by default: ``A, B, 1, 2, 3, 4, 5``). A sequence of the full task has ``T``
    steps: step 0 a trigger drawn uniformly, steps 1 to ``T - 2`` the filler cycling
    ``1, 2, ..., period, 1, ...`` (from a random place of the cycle with
    ``random_phase``), and step ``T - 1`` the trigger again, the symbol to recall. ``X``
    holds the first ``T - 1`` steps one-hot, ``(N, T - 1, n_triggers + period)``, and ``y``
    the trigger (the class, read at the last step of ``X``): predicting step ``T - 1`` from
    the steps before it.

    Parameters
    ----------
    T : int, default=100
        Steps of the full sequence, the recalled one included (>= 3).
    n_train, n_test : int, default=64
    n_triggers : int, default=2
        Trigger symbols (classes); chance is ``1 / n_triggers``.
    period : int, default=5
        Filler symbols, cycled.
    random_phase : bool, default=True
        Start the filler at a random place of its cycle. Then step 1 is unpredictable too
        and a predictor's surprises are steps 0 and 1: the stream above is 2 steps long.
    hidden : int, default=8
        Units of :attr:`Task.net` (an Elman net with a softmax readout at the last step).
    random_state : int, Generator or None

    Examples
    --------
    >>> from evoneuro.tasks import trigger_recall
    >>> task = trigger_recall(T=12, n_train=4, n_test=2, random_state=0)
    >>> task.X_train.shape, task.y_train.tolist()
    ((4, 11, 7), [0, 1, 0, 1])
    >>> task.X_train[0].argmax(axis=1).tolist()   # trigger 0, then the filler from a random phase
    [0, 6, 2, 3, 4, 5, 6, 2, 3, 4, 5]
    """
    T = check_positive_int(T, "T", minimum=3)
    n_train, n_test = check_positive_int(n_train, "n_train"), check_positive_int(n_test, "n_test")
    n_triggers = check_positive_int(n_triggers, "n_triggers", minimum=2)
    period = check_positive_int(period, "period")
    random_phase = check_bool(random_phase, "random_phase")
    hidden = check_positive_int(hidden, "hidden")
    rng = check_rng(random_state)
    d = n_triggers + period

    def make(n, rng):
        cls = np.arange(n) % n_triggers
        phase = rng.integers(0, period, n) if random_phase else np.zeros(n, dtype=int)
        symbols = np.empty((n, T - 1), dtype=int)
        symbols[:, 0] = cls
        symbols[:, 1:] = n_triggers + (phase[:, None] + np.arange(T - 2)[None, :]) % period
        return np.eye(d)[symbols], cls

    (Xtr, ytr), (Xte, yte) = make(n_train, rng), make(n_test, rng)
    net = RNN(d, hidden=hidden, n_outputs=n_triggers, cell="elman", activation="tanh", output="softmax")
    return Task(f"trigger_recall{T}", Xtr, ytr, Xte, yte, None, None, net, within(0.5), None, None, None,
                {"T": T, "n_train": n_train, "n_test": n_test, "n_triggers": n_triggers, "period": period,
                 "random_phase": random_phase, "hidden": hidden}, _HISTORY, class_targets=np.eye(n_triggers))


#: The chunking task's symbols, in the order of their one-hot columns.
CHUNK_SYMBOLS = ("a", "x") + tuple(f"b{i}" for i in range(1, 21))


def chunking(n_blocks: int = 3, n_train: int = 64, n_test: int = 64, n_filler: int = 20, hidden: int = 8,
             random_state=None) -> Task:
    """The 1991/1992 chunking task: was the last block ``a b1 ... b20`` or ``x b1 ... b20``?

    Each sequence is a stream of ``n_blocks`` blocks of ``1 + n_filler`` symbols: ``a`` or
    ``x`` (uniformly at random), then ``b1 ... b<n_filler>``. ``X`` is the stream one-hot,
    ``(N, n_blocks (1 + n_filler), 2 + n_filler)`` (22 symbols by default, in the order of
    :data:`CHUNK_SYMBOLS`), ``y`` the label of the last block: 1 when it began with ``a``,
    0 with ``x``, asked at its last symbol, ``n_filler`` steps after the symbol that
    carries it. The blocks before the last are distractors with labels of their own.

    Parameters
    ----------
    n_blocks : int, default=3
    n_train, n_test : int, default=64
    n_filler : int, default=20
        The ``b`` symbols of a block (the papers': 20).
    hidden : int, default=8
        Units of :attr:`Task.net` (an Elman net, the lower net alone).
    random_state : int, Generator or None

    Examples
    --------
    >>> from evoneuro.tasks import chunking
    >>> task = chunking(n_blocks=2, n_train=4, n_test=2, n_filler=3, random_state=0)
    >>> task.X_train.shape, task.y_train.tolist()
    ((4, 8, 5), [1, 0, 1, 0])
    >>> task.X_train[1].argmax(axis=1).tolist()   # x b1 b2 b3 x b1 b2 b3 (label 0)
    [1, 2, 3, 4, 1, 2, 3, 4]
    """
    n_blocks = check_positive_int(n_blocks, "n_blocks")
    n_train, n_test = check_positive_int(n_train, "n_train"), check_positive_int(n_test, "n_test")
    n_filler = check_positive_int(n_filler, "n_filler")
    hidden = check_positive_int(hidden, "hidden")
    rng = check_rng(random_state)
    d, B = 2 + n_filler, 1 + n_filler

    def make(n, rng):
        cls = (np.arange(n) + 1) % 2  # balanced: 1 (a), 0 (x), ...
        heads = rng.integers(0, 2, (n, n_blocks))  # 0: a, 1: x
        heads[:, -1] = 1 - cls
        symbols = np.empty((n, n_blocks, B), dtype=int)
        symbols[:, :, 0] = heads
        symbols[:, :, 1:] = 2 + np.arange(n_filler)
        return np.eye(d)[symbols.reshape(n, n_blocks * B)], cls

    (Xtr, ytr), (Xte, yte) = make(n_train, rng), make(n_test, rng)
    net = RNN(d, hidden=hidden, n_outputs=2, cell="elman", activation="tanh", output="softmax")
    return Task(f"chunking{n_blocks}x{B}", Xtr, ytr, Xte, yte, None, None, net, within(0.5), None, None, None,
                {"n_blocks": n_blocks, "n_train": n_train, "n_test": n_test, "n_filler": n_filler,
                 "hidden": hidden}, _CHUNKER, class_targets=np.eye(2))


__all__ = ["CHUNK_SYMBOLS", "chunking", "trigger_recall"]
