"""Long-time-lag benchmark tasks and random weight guessing.

Each generator returns a :class:`Task`: seeded train and test sequences (padded, with
``lengths``), the net the paper uses as an :class:`~evoneuro.RNN`, the paper's "solved"
criterion and, for the tasks the papers guess, the guessing range and the free
parameters. :func:`guess` runs random weight guessing on a task and returns the trials
to solution.

========================  ==============================================================
:func:`latch`             Bengio et al. (1994); guessing: Schmidhuber & Hochreiter (1996)
:func:`two_sequence`      Bengio et al. (1994); Hochreiter & Schmidhuber (NIPS 9, 1997)
:func:`parity`            Bengio et al. (1994); Schmidhuber & Hochreiter (1996)
:func:`adding`            Hochreiter & Schmidhuber (1997), experiment 4; Le et al. (2015)
:func:`temporal_order`    Hochreiter & Schmidhuber (1997), experiment 6
:func:`image_task`        Behnke (2001): digits to reconstruct (occlusion, noise, superresolution)
:func:`trigger_recall`    Schmidhuber (1992; 1993 Habilitation, arXiv:1404.7828 sec. 6.4)
:func:`chunking`          Schmidhuber (1991, TR FKI-148-91; Neural Computation 4(2), 1992)
========================  ==============================================================

Examples
--------
>>> import evoneuro as en
>>> from evoneuro.tasks import latch, guess
>>> task = latch(variant=2, n_train=10, n_test=10, min_length=30, max_length=40, random_state=0)
>>> task.net
RNN(n_inputs=1, hidden=(1,), n_outputs=1, cell='elman', activation='tanh', output='linear', readout='last')
>>> guess(task, max_trials=1000, random_state=1).trials is not None
True
"""

from evoneuro.tasks._base import GuessResult, Task, guess, mse_below, same_sign, within
from evoneuro.tasks.classic import latch, parity, two_sequence
from evoneuro.tasks.lstm97 import SYMBOLS, adding, temporal_order
from evoneuro.tasks.images import ImageTask, image_task
from evoneuro.tasks.history import CHUNK_SYMBOLS, chunking, trigger_recall

__all__ = [
    "CHUNK_SYMBOLS",
    "GuessResult",
    "ImageTask",
    "SYMBOLS",
    "Task",
    "adding",
    "chunking",
    "guess",
    "image_task",
    "latch",
    "mse_below",
    "parity",
    "same_sign",
    "temporal_order",
    "trigger_recall",
    "two_sequence",
    "within",
]
