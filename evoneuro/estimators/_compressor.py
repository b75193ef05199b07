"""The history compressor (neural sequence chunker): a stack of recurrent predictors.

Schmidhuber (1991, 1992): level 0, the *automatizer*, is a recurrent net trained without a
teacher to predict its next input. Whatever it predicts is redundant: a sequence is
described without loss by its first input and the inputs level 0 mispredicts, with their
time stamps (the principle of history compression). Only those go up: level 1 sees the
surprises of level 0, a sequence many times shorter, learns to predict it in turn, and so
on. A target given at the end of a sequence (here a label) is read out from the top level,
across a time lag its short stream makes small.

With ``collapse=True`` a third net learns, on the raw sequence, to predict the next input and
the top level's output at every step, so that one net holds the hierarchy (the 1992 paper's
collapsing, with the top level's outputs standing for its states).

Every level is an :class:`~evoneuro.RNN` trained through the one fit recipe
(:func:`~evoneuro.training.recipe.fit_network`), so any registry optimizer trains it:
Adam or Rprop by backpropagation through time, or a gradient-free one (sep-CMA-ES, ES, GA)
on the same evaluator.

References
----------
Schmidhuber, J. (1992). Learning complex, extended sequences using the principle of history
compression. Neural Computation 4(2), 234-242.
Schmidhuber, J. (1991). Neural sequence chunkers. Technical Report FKI-148-91, TU Munich.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from evoneuro._validation import check_positive_float, check_positive_int
from evoneuro.evaluator import Evaluator
from evoneuro.network.init import check_rng
from evoneuro.network.rnn import RNN
from evoneuro.optimizers.registry import get_class
from evoneuro.training.minimize import minimize
from evoneuro.training.recipe import fit_network

SURPRISE = ("auto", "probability", "error")


@dataclass
class Stream:
    """The sequences one level reads: data ``(N, L, d)``, the steps since the previous
    surprise (the time stamps, ``(N, L)``), the original time of each step ``(N, L)`` and
    the valid steps ``lengths (N,)``; padding is zero (time -1)."""

    data: np.ndarray
    gaps: np.ndarray
    times: np.ndarray
    lengths: np.ndarray

    def inputs(self) -> np.ndarray:
        """What a level's net reads: the data and ``log(1 + gap)``, the time stamp."""
        return np.concatenate([self.data, np.log1p(self.gaps)[..., None]], axis=2)


@dataclass
class Level:
    """One trained level: its net and weights, its role (``"predict"`` or ``"readout"``),
    the budget it spent (evaluations, seconds) and the mean length of the stream it read."""

    net: RNN
    theta: np.ndarray
    role: str
    evals: int
    seconds: float
    mean_length: float


class HistoryCompressor(ClassifierMixin, BaseEstimator):
    """A stack of recurrent predictors, each fed only the inputs the one below mispredicts.

    Level 0 is trained to predict its next input; the steps whose input it mispredicts
    (the first step always counts: nothing predicts it) form, with their time stamps, the
    sequence level 1 reads, and so on up to level ``levels - 1``. With labels, the top
    level is trained to output the label at the end of its (short) stream; without, it
    is a predictor like the others.

    Parameters
    ----------
    levels : int, default=2
        Levels of the stack, the readout level included (>= 1; 1 is a single net on the
        raw sequence).
    cell : {"elman", "lstm", "gru"}, default="lstm"
        Every level's recurrent cell.
    hidden : int, default=8
        Units per level.
    threshold : float, default=0.9
        When a step counts as mispredicted. ``surprise="probability"``: the probability the
        level gave the symbol that came is below ``threshold`` (in (0, 1)).
        ``surprise="error"``: the largest absolute error of the predicted vector is above
        ``threshold`` (> 0). The default 0.9 counts a symbol drawn from two equally likely
        ones (predicted with probability about 0.5) as a surprise with a wide margin, and
        not a learnt transition: in the measurements of ``benchmarks/science_history.py``
        level 0 gives the symbols of the filler probabilities above 0.99.
    surprise : {"auto", "probability", "error"}, default="auto"
        ``auto``: ``probability`` for one-hot inputs (a softmax predictor), else ``error``
        (a linear predictor trained on mean squared error).
    optimizer : str, Optimizer, or list of those, default="adam"
        A registry name for every level, or one per level.
    optimizer_params : dict, None or list of those
        Hyperparameters of the optimizer, for every level or one per level.
    max_evals : int, None or list of those, default=None
        Budget of each level in sample-forward evaluations (one per level with a list).
    max_steps : int, None or list of those, default=1000
        Budget of each level in optimizer steps; the first budget spent ends a level's
        training. 1,000 Adam steps at its registry defaults take level 0 of
        :func:`~evoneuro.tasks.trigger_recall` (T = 40, 16 sequences, 8 Elman units) to one
        mispredicted filler step in 592 (300 steps leave 29, 100 steps 489).
    batch_size : int, "auto", None or list of those, default="auto"
        Sequences per step of each level's optimizer (see
        :func:`~evoneuro.training.recipe.fit_network`): "auto" the optimizer's default,
        None the full batch.
    backend : str, default="numpy"
    dtype : str, default="float64"
    collapse : bool, default=False
        Collapse the hierarchy into one net (Schmidhuber 1992, section 4): after the two
        levels are trained, a third net of level 0's size reads the raw sequence and is
        trained (with level 0's optimizer and budget) to predict both the next input and,
        at every step, the output level 1 gives after the surprises seen so far (mean
        squared error, a linear output). Its output at the last step is a label read
        without level 1: ``predict_proba(X, collapsed=True)``. Needs ``levels=2`` and ``y``.
    fine_tune : dict or None, default=None
        After the stack is trained with labels, tune all levels' weights together on the
        label's log-loss: ``{"max_evals": int, "optimizer": str, "optimizer_params":
        dict}``. ``max_evals`` (required) counts sequences through the whole stack (one
        call of the stack's loss on the N training sequences is N). Which steps go up is a
        discrete choice of level 0's weights, so the loss has no gradient there and the
        optimizer must be gradient-free (default ``"sep-cmaes"``). Its unset
        hyperparameters take the class's measured defaults as every fit does, the spreads
        scaled to the trained stack's weight RMS (for sep-CMA-ES 0.03 of it: a search near
        the trained weights). The tuned weights are kept only if their training loss is
        lower than the stack's.
    random_state : None, int or Generator

    Attributes
    ----------
    levels_ : list of Level
    classes_ : ndarray or None
        The labels, when fitted with ``y``.
    compression_ratio_ : float
        Mean raw length over mean length of the top level's stream on the training data.
    n_evals_ : int
        Evaluations of all levels together (the collapsed net's included).
    collapsed_ : Level or None
        The collapsed net, with ``collapse=True``.
    fine_tune_ : dict or None
        With ``fine_tune``: the training log-loss before and after, and the evaluations and
        seconds it took (``{"loss_before", "loss_after", "evals", "seconds"}``).

    Examples
    --------
    >>> import evoneuro as en
    >>> from evoneuro.tasks import trigger_recall
    >>> task = trigger_recall(T=40, n_train=32, n_test=16, random_state=0)
    >>> X, y, _ = task.data("train")
    >>> hc = en.HistoryCompressor(levels=2, cell="elman", hidden=8, optimizer="adam",
    ...                           optimizer_params={"learning_rate": 0.03}, max_steps=200,
    ...                           random_state=0).fit(X, y)
    >>> [len(s) for s in hc.surprises(X[:3])]     # level 0 mispredicts only step 1 (the random phase)
    [1, 1, 1]
    >>> round(hc.compression_ratio_, 1), hc.score(*task.data("test")[:2])
    (19.2, 1.0)
    """

    def __init__(self, levels: int = 2, cell: str = "lstm", hidden: int = 8, threshold: float = 0.9,
                 surprise: str = "auto", optimizer: Any = "adam", optimizer_params: dict | None = None,
                 max_evals: Any = None, max_steps: Any = 1000, batch_size: Any = "auto", backend: str = "numpy",
                 dtype: str = "float64", collapse: bool = False, fine_tune: dict | None = None,
                 random_state: Any = None) -> None:
        self.levels = levels
        self.cell = cell
        self.hidden = hidden
        self.threshold = threshold
        self.surprise = surprise
        self.optimizer = optimizer
        self.optimizer_params = optimizer_params
        self.max_evals = max_evals
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.backend = backend
        self.dtype = dtype
        self.collapse = collapse
        self.fine_tune = fine_tune
        self.random_state = random_state

    # --- checks ------------------------------------------------------------------------

    def _check_params(self, one_hot: bool) -> str:
        check_positive_int(self.levels, "levels")
        check_positive_int(self.hidden, "hidden")
        if not isinstance(self.surprise, str) or self.surprise not in SURPRISE:
            raise ValueError(f"surprise must be one of {list(SURPRISE)}, got {self.surprise!r}")
        kind = self.surprise if self.surprise != "auto" else ("probability" if one_hot else "error")
        if kind == "probability" and not one_hot:
            raise ValueError("surprise='probability' needs one-hot inputs (one symbol per step); use "
                             "surprise='error' for real-valued inputs")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float, np.integer, np.floating)):
            raise TypeError(f"threshold must be a number, got {self.threshold!r}")
        t = float(self.threshold)
        if kind == "probability" and not 0.0 < t < 1.0:
            raise ValueError(f"threshold must lie in (0, 1) for surprise='probability' (the predicted "
                             f"probability below which a symbol is a surprise), got {self.threshold!r}")
        if kind == "error":
            check_positive_float(self.threshold, "threshold")
        return kind

    def _per_level(self, value, name: str) -> list:
        values = list(value) if isinstance(value, (list, tuple)) else [value] * self.levels
        if len(values) != self.levels:
            raise ValueError(f"{name} must be one value or a list of {self.levels} (one per level), got {len(values)}")
        return values

    @staticmethod
    def _check_X(X, lengths) -> tuple[np.ndarray, np.ndarray]:
        if hasattr(X, "toarray"):
            raise TypeError("X must be a dense array (N, T, d); sparse input is not supported")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 2:
            X = X[:, :, None]
        if X.ndim != 3 or X.shape[0] == 0:
            raise ValueError(f"X must have shape (n_sequences, n_steps, n_features), got {np.shape(X)}")
        if not np.isfinite(X).all():
            raise ValueError("X must be finite (no NaN or infinity)")
        N, T = X.shape[:2]
        if lengths is None:
            lengths = np.full(N, T, dtype=np.int64)
        else:
            lengths = np.asarray(lengths)
            if lengths.dtype == bool or not np.issubdtype(lengths.dtype, np.integer) or lengths.shape != (N,):
                raise ValueError(f"lengths must be {N} integers (valid steps per sequence), got {lengths!r:.80}")
            if lengths.max() > T:
                raise ValueError(f"lengths must be <= T = {T}, got {lengths.max()}")
            lengths = lengths.astype(np.int64)
        if lengths.min() < 2:
            raise ValueError("every sequence needs at least two steps (a level predicts the next step from the "
                             f"ones before), got a length of {lengths.min()} (sequence {int(np.argmin(lengths))})")
        return X, lengths

    @staticmethod
    def _one_hot(X, lengths) -> bool:
        valid = np.arange(X.shape[1])[None, :] < lengths[:, None]
        rows = X[valid]
        return X.shape[2] >= 2 and bool(np.isin(rows, (0.0, 1.0)).all() and (rows.sum(axis=1) == 1).all())

    # --- fitting -----------------------------------------------------------------------

    def fit(self, X, y=None, lengths=None) -> "HistoryCompressor":
        """Train the levels bottom-up, each on the surprises of the one below.

        Parameters
        ----------
        X : array (N, T, d)
            Sequences, padded to the longest; one-hot symbols or real vectors.
        y : array (N,) or None
            A label per sequence, read out by the top level; None trains every level to predict.
        lengths : array of int (N,) or None
            Valid steps per sequence (each >= 2).

        Returns
        -------
        self
        """
        X, lengths = self._check_X(X, lengths)
        self.one_hot_ = self._one_hot(X, lengths)
        self.surprise_ = self._check_params(self.one_hot_)
        optimizers = self._per_level(self.optimizer, "optimizer")
        budgets = [{"max_evals": check_positive_int(e, "max_evals", allow_none=True),
                    "max_steps": check_positive_int(k, "max_steps", allow_none=True)}
                   for e, k in zip(self._per_level(self.max_evals, "max_evals"),
                                   self._per_level(self.max_steps, "max_steps"))]
        if not isinstance(self.collapse, (bool, np.bool_)):
            raise TypeError(f"collapse must be a bool, got {self.collapse!r}")
        if self.collapse and (y is None or self.levels != 2):
            raise ValueError("collapse=True collapses a two-level compressor with a readout: it needs levels=2 "
                             f"and labels y, got levels={self.levels} and y={'None' if y is None else 'given'}")
        tune = self._check_fine_tune(y)
        if any(b["max_evals"] is None and b["max_steps"] is None for b in budgets):
            raise ValueError("every level needs a budget: max_evals or max_steps (or both)")
        params = self._per_level(self.optimizer_params, "optimizer_params")
        batches = self._per_level(self.batch_size, "batch_size")
        for b in batches:
            if not (b is None or b == "auto"):
                check_positive_int(b, "batch_size")
        for b, e in zip(budgets, batches):
            b["batch_size"] = e
        rng = check_rng(self.random_state)
        self.n_features_in_ = X.shape[2]
        self.classes_ = None
        if y is not None:
            y = np.asarray(y)
            if y.shape != (len(X),):
                raise ValueError(f"y must hold one label per sequence, shape ({len(X)},), got {y.shape}")
            self.classes_, y = np.unique(y, return_inverse=True)
            if len(self.classes_) < 2:
                raise ValueError(f"y must hold at least two classes, got {self.classes_.tolist()}")
        stream = _raw_stream(X, lengths)
        self.levels_ = []
        for l in range(self.levels):
            t0 = time.perf_counter()
            seed = int(rng.integers(2**31))
            readout = y is not None and l == self.levels - 1
            if readout:
                net, theta, evals = self._fit_readout(stream, y, optimizers[l], params[l], budgets[l], seed)
            else:
                net, theta, evals = self._fit_predictor(stream, l, optimizers[l], params[l], budgets[l], seed)
            self.levels_.append(Level(net, theta, "readout" if readout else "predict", evals,
                                      time.perf_counter() - t0, float(stream.lengths.mean())))
            if l < self.levels - 1:
                stream = self._compress(l, stream)
        self.fine_tune_ = None
        if tune is not None:
            self.fine_tune_ = self._fine_tune(X, lengths, y, tune, int(rng.integers(2**31)))
            stream = self._streams(X, lengths, self.levels - 1)[-1]
            self.levels_[-1].mean_length = float(stream.lengths.mean())
        self.compression_ratio_ = float(lengths.mean() / self.levels_[-1].mean_length)
        self.collapsed_ = None
        if self.collapse:
            t0 = time.perf_counter()
            net, theta, evals = self._fit_collapsed(_raw_stream(X, lengths), stream, optimizers[0], params[0],
                                                    budgets[0], int(rng.integers(2**31)))
            self.collapsed_ = Level(net, theta, "collapsed", evals, time.perf_counter() - t0, float(lengths.mean()))
        self.n_evals_ = int(sum(v.evals for v in self.levels_)) + (self.collapsed_.evals if self.collapse else 0)
        if self.fine_tune_ is not None:
            self.n_evals_ += self.fine_tune_["evals"]
        return self

    def _check_fine_tune(self, y) -> dict | None:
        if self.fine_tune is None:
            return None
        if not isinstance(self.fine_tune, dict):
            raise TypeError(f"fine_tune must be a dict such as {{'max_evals': 100000}} or None, got {self.fine_tune!r}")
        unknown = sorted(set(self.fine_tune) - {"max_evals", "optimizer", "optimizer_params"})
        if unknown:
            raise ValueError(f"fine_tune takes max_evals, optimizer and optimizer_params, got {unknown}")
        if y is None:
            raise ValueError("fine_tune tunes the stack on the labels' log-loss: it needs labels y")
        if "max_evals" not in self.fine_tune:
            raise ValueError("fine_tune needs a budget: max_evals (sequences through the whole stack)")
        tune = {"max_evals": check_positive_int(self.fine_tune["max_evals"], "fine_tune['max_evals']"),
                "optimizer": self.fine_tune.get("optimizer", "sep-cmaes"),
                "optimizer_params": dict(self.fine_tune.get("optimizer_params") or {})}
        if get_class(tune["optimizer"])[0].needs_grad if isinstance(tune["optimizer"], str) else \
                getattr(tune["optimizer"], "needs_grad", False):
            raise ValueError(f"fine_tune's optimizer must be gradient-free (which steps go up is not differentiable), "
                             f"got {tune['optimizer']!r}")
        return tune

    def _stack_loss(self, X, lengths, y, thetas: list[np.ndarray]) -> float:
        """Training log-loss of the label with the levels' weights ``thetas``."""
        kept = [level.theta for level in self.levels_]
        try:
            for level, theta in zip(self.levels_, thetas):
                level.theta = theta
            with np.errstate(over="ignore", invalid="ignore"):
                p = self._proba(self._streams(X, lengths, len(self.levels_) - 1)[-1])
        finally:
            for level, theta in zip(self.levels_, kept):
                level.theta = theta
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None))))

    def _fine_tune(self, X, lengths, y, tune: dict, seed: int) -> dict:
        t0 = time.perf_counter()
        sizes = np.cumsum([level.net.n_params for level in self.levels_])[:-1]
        x0 = np.concatenate([level.theta for level in self.levels_])
        weights = np.concatenate([np.ravel(s.weights(level.theta)) for level in self.levels_ for s in level.net.layers])
        params = dict(tune["optimizer_params"])
        if isinstance(tune["optimizer"], str):  # the measured defaults, as new_optimizer fills them for a net
            cls = get_class(tune["optimizer"])[0]
            scale = float(np.sqrt(np.mean(weights**2)))
            for name, frac in cls.relative_spreads.items():
                params.setdefault(name, float(f"{frac * scale:.3g}"))
            for name, value in cls.fit_defaults.items():
                params.setdefault(name, value)
        N = len(X)
        before = self._stack_loss(X, lengths, y, np.split(x0, sizes))
        result = minimize(lambda x: self._stack_loss(X, lengths, y, np.split(x, sizes)), x0,
                          optimizer=tune["optimizer"], optimizer_params=params,
                          max_evals=max(1, tune["max_evals"] // N), random_state=seed)
        after = float(result.fun)
        if after < before:
            for level, theta in zip(self.levels_, np.split(np.asarray(result.x, dtype=np.float64), sizes)):
                level.theta = theta
        return {"loss_before": before, "loss_after": min(after, before), "evals": int(result.n_evals) * N,
                "seconds": time.perf_counter() - t0}

    def _top_outputs(self, raw: Stream, top: Stream) -> np.ndarray:
        """``(N, T, K)``: at every raw step, the output level 1 gives after the last surprise so far."""
        level = self.levels_[-1]
        every = self._net(level.net.n_inputs, level.net.n_outputs, "softmax", "all")  # same layout, all steps
        out = Evaluator(every, backend="numpy", dtype="float64").forward(level.theta, top.inputs(),
                                                                        lengths=top.lengths)[0]
        N, T = raw.times.shape
        at = np.zeros((N, T, out.shape[2]))
        for n in range(N):
            last = np.searchsorted(top.times[n, : top.lengths[n]], np.arange(T), side="right") - 1
            at[n] = out[n, last]
        return at

    def _fit_collapsed(self, raw: Stream, top: Stream, optimizer, params, budget: dict, seed: int):
        d, K = raw.data.shape[2], len(self.classes_)
        targets = np.concatenate([raw.data[:, 1:], self._top_outputs(raw, top)[:, :-1]], axis=2)
        net = self._net(d + 1, d + K, "linear", "all")
        return self._train(net, raw.inputs()[:, :-1], targets, raw.lengths - 1, optimizer, params, budget, seed)

    def _net(self, d_in: int, n_out: int, output: str, readout: str) -> RNN:
        return RNN(d_in, hidden=self.hidden, n_outputs=n_out, cell=self.cell, output=output, readout=readout)

    def _fit_predictor(self, stream: Stream, l: int, optimizer, params, budget: dict, seed: int):
        keep = stream.lengths >= 2
        if not keep.any():
            raise ValueError(f"the surprise stream of level {l - 1} is empty: level {l - 1} mispredicts no step "
                             f"after the first in any sequence, so level {l} has nothing to learn to predict; "
                             f"use fewer levels or a {'higher' if self.surprise_ == 'probability' else 'lower'} "
                             f"threshold")
        inputs, targets, lens = self._prediction_data(stream, keep)
        d = stream.data.shape[2]
        output = "softmax" if self.surprise_ == "probability" else "linear"
        net = self._net(d + 1, d, output, "all")
        return self._train(net, inputs, targets, lens, optimizer, params, budget, seed)

    def _prediction_data(self, stream: Stream, keep):
        inputs = stream.inputs()[keep][:, :-1]
        nxt = stream.data[keep][:, 1:]
        targets = nxt.argmax(axis=2) if self.surprise_ == "probability" else nxt
        return inputs, targets, stream.lengths[keep] - 1

    def _fit_readout(self, stream: Stream, y, optimizer, params, budget: dict, seed: int):
        net = self._net(stream.data.shape[2] + 1, len(self.classes_), "softmax", "last")
        return self._train(net, stream.inputs(), y, stream.lengths, optimizer, params, budget, seed)

    def _train(self, net: RNN, X, y, lengths, optimizer, params, budget: dict, seed: int):
        rng = np.random.default_rng(seed)
        x0 = net.init(rng)
        fit = fit_network(net, X, y, optimizer=optimizer, x0=x0, optimizer_params=params,
                          lengths=lengths, backend=self.backend, dtype=self.dtype, **budget,
                          random_state=int(rng.integers(2**31)))
        return net, np.array(fit.x, dtype=np.float64), int(fit.result.n_evals)

    # --- surprises and compression ------------------------------------------------------

    def _mispredicted(self, l: int, stream: Stream) -> np.ndarray:
        """Mask ``(N, L)``: step ``t >= 1`` of each sequence mispredicted by level ``l``."""
        level = self.levels_[l]
        N, L = stream.gaps.shape
        mask = np.zeros((N, L), dtype=bool)
        if L < 2:
            return mask
        ev = Evaluator(level.net, backend="numpy", dtype="float64")
        lens = np.maximum(stream.lengths - 1, 1)
        out = ev.forward(level.theta, stream.inputs()[:, :-1], lengths=lens)[0]  # (N, L-1, d)
        nxt = stream.data[:, 1:]
        if self.surprise_ == "probability":
            wrong = (out * nxt).sum(axis=2) < self.threshold
        else:
            wrong = np.abs(out - nxt).max(axis=2) > self.threshold
        valid = np.arange(1, L)[None, :] < stream.lengths[:, None]
        mask[:, 1:] = wrong & valid
        return mask

    def _compress(self, l: int, stream: Stream) -> Stream:
        """The stream level ``l + 1`` reads: step 0 and level ``l``'s mispredicted steps."""
        keep = self._mispredicted(l, stream)
        keep[:, 0] = True
        N = len(keep)
        lengths = keep.sum(axis=1)
        L = int(lengths.max())
        data = np.zeros((N, L, stream.data.shape[2]))
        gaps, times = np.zeros((N, L)), np.full((N, L), -1, dtype=np.int64)
        for n in range(N):
            idx = np.flatnonzero(keep[n])
            data[n, : len(idx)] = stream.data[n, idx]
            times[n, : len(idx)] = stream.times[n, idx]
            gaps[n, : len(idx)] = np.diff(times[n, : len(idx)], prepend=0)
        return Stream(data, gaps, times, lengths.astype(np.int64))

    def _check_fitted(self) -> None:
        if not hasattr(self, "levels_"):
            raise AttributeError("this HistoryCompressor is not fitted yet: call fit(X, y) first")

    def _streams(self, X, lengths, upto: int) -> list[Stream]:
        self._check_fitted()
        X, lengths = self._check_X(X, lengths)
        if X.shape[2] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[2]} features per step, the compressor was fitted on {self.n_features_in_}")
        streams = [_raw_stream(X, lengths)]
        for l in range(upto):
            streams.append(self._compress(l, streams[-1]))
        return streams

    def surprises(self, X, lengths=None, level: int = 0) -> list[np.ndarray]:
        """The steps of each sequence that ``level`` mispredicts, in the original time.

        Step 0 is never listed (nothing predicts it; it goes up anyway). These steps, with
        step 0, are the stream of level ``level + 1``.

        Returns
        -------
        list of ndarray of int
            One array of steps per sequence, possibly empty.
        """
        self._check_fitted()
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 0 <= level < len(self.levels_):
            raise ValueError(f"level must be an int in [0, {len(self.levels_) - 1}], got {level!r}")
        if self.levels_[level].role != "predict":
            raise ValueError(f"level {level} reads out the label; it predicts nothing, so it has no surprises")
        stream = self._streams(X, lengths, level)[-1]
        mask = self._mispredicted(level, stream)
        return [stream.times[n, np.flatnonzero(mask[n])] for n in range(len(mask))]

    def compress(self, X, lengths=None, level: int | None = None) -> Stream:
        """The :class:`Stream` that ``level`` reads (default: the top level)."""
        level = len(self.levels_) - 1 if level is None else level
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 0 <= level < len(self.levels_):
            raise ValueError(f"level must be an int in [0, {len(self.levels_) - 1}], got {level!r}")
        return self._streams(X, lengths, level)[-1]

    def predict_proba(self, X, lengths=None, collapsed: bool = False) -> np.ndarray:
        """Class probabilities ``(N, n_classes)`` read out by the top level, or with
        ``collapsed=True`` by the collapsed net alone (its outputs at the last step, clipped
        at 0 and normalised)."""
        self._check_fitted()
        if self.classes_ is None:
            raise AttributeError("this HistoryCompressor was fitted without labels: it predicts no class")
        if collapsed:
            if self.collapsed_ is None:
                raise AttributeError("this HistoryCompressor was fitted with collapse=False: it has no collapsed net")
            raw = self._streams(X, lengths, 0)[0]
            ev = Evaluator(self.collapsed_.net, backend="numpy", dtype="float64")
            out = ev.forward(self.collapsed_.theta, raw.inputs()[:, :-1], lengths=raw.lengths - 1)[0]
            last = out[np.arange(len(out)), raw.lengths - 2, self.n_features_in_:]
            p = np.clip(last, 1e-12, None)
            return p / p.sum(axis=1, keepdims=True)
        return self._proba(self._streams(X, lengths, len(self.levels_) - 1)[-1])

    def _proba(self, stream: Stream) -> np.ndarray:
        top = self.levels_[-1]
        ev = Evaluator(top.net, backend="numpy", dtype="float64")
        return ev.forward(top.theta, stream.inputs(), lengths=stream.lengths)[0]

    def predict(self, X, lengths=None, collapsed: bool = False) -> np.ndarray:
        """The label of each sequence (``classes_``), by the stack or the collapsed net."""
        return self.classes_[self.predict_proba(X, lengths, collapsed).argmax(axis=1)]

    def score(self, X, y, lengths=None, sample_weight=None, collapsed: bool = False) -> float:
        """Mean accuracy of :meth:`predict`."""
        pred = self.predict(X, lengths, collapsed)
        return float(np.average(pred == np.asarray(y), weights=sample_weight))


def _raw_stream(X: np.ndarray, lengths: np.ndarray) -> Stream:
    N, T = X.shape[:2]
    valid = np.arange(T)[None, :] < lengths[:, None]
    times = np.where(valid, np.arange(T)[None, :], -1)
    gaps = np.where(valid, np.minimum(np.arange(T), 1)[None, :], 0).astype(np.float64)
    data = np.where(valid[..., None], X, 0.0)
    return Stream(data, gaps, times.astype(np.int64), lengths)


__all__ = ["HistoryCompressor", "Level", "Stream"]
