"""scikit-learn estimators for recurrent networks: :class:`EvoRNNClassifier`, :class:`EvoRNNRegressor`.

They take sequences ``X`` of shape ``(n_samples, n_steps, n_features)`` — or
``(n_samples, n_steps)`` for one feature per step — and one label or target per sequence
(the net's ``readout="last"``). Sequences of different lengths are padded to one length and
passed with ``lengths`` (:func:`pad_sequences` does both). Everything else — budgets,
starts, minibatches, regularisation, early stopping, warm starts — is the MLP estimators'
(:mod:`._base`).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_array, check_X_y

from evoneuro.training.defaults import DEFAULT_ALPHA
from evoneuro.estimators._base import (_FLOATS, ATTRIBUTES_DOC, EXECUTOR_DOC, PARAMETERS_DOC, BaseEvoEstimator,
                                       parameter_constraints)
from evoneuro.estimators._targets import ClassifierMixinEvo, RegressorMixinEvo
from evoneuro.network.rnn import RNN
from evoneuro.optimizers.base import Optimizer

_NETWORK_DOC = """\
    hidden_layer_sizes : int or sequence of int, default=(32,)
        Width of each (stacked) recurrent layer.
    cell : {"lstm", "gru", "elman"}, default="lstm"
        The recurrent cell; see :class:`evoneuro.RNN`.
    activation : str, default="tanh"
        The cells' activation (``"tanh"`` or ``"sigmoid"``)."""


def pad_sequences(sequences, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Pad sequences of different lengths into ``X`` ``(N, T_max, d)`` and ``lengths`` ``(N,)``.

    Parameters
    ----------
    sequences : sequence of array-like
        Each ``(T_i, d)`` or ``(T_i,)`` (one feature per step).
    dtype : dtype, default=float64

    Returns
    -------
    X : ndarray (N, T_max, d)
        Zeros after each sequence's end (the networks never read them).
    lengths : ndarray (N,) int64

    Examples
    --------
    >>> from evoneuro.estimators import pad_sequences
    >>> X, lengths = pad_sequences([[1.0, 2.0, 3.0], [4.0]])
    >>> X.shape, lengths.tolist()
    ((2, 3, 1), [3, 1])
    """
    seqs = [np.asarray(s, dtype=dtype) for s in sequences]
    if not seqs:
        raise ValueError("pad_sequences needs at least one sequence")
    seqs = [s[:, None] if s.ndim == 1 else s for s in seqs]
    dims = {s.shape[1:] for s in seqs}
    if any(s.ndim != 2 for s in seqs) or len(dims) != 1:
        raise ValueError(f"every sequence must be (T_i, d) with the same d, got shapes {[s.shape for s in seqs][:5]}")
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    if lengths.min() < 1:
        raise ValueError("every sequence needs at least one step")
    X = np.zeros((len(seqs), int(lengths.max()), seqs[0].shape[1]), dtype=dtype)
    for i, s in enumerate(seqs):
        X[i, : len(s)] = s
    return X, lengths


_SEQUENCES = ("sequences: an array of shape (n_samples, n_steps, n_features), or (n_samples, n_steps) for "
              "one feature per step; sequences of different lengths as a list of 2-D arrays go through "
              "evoneuro.pad_sequences(X), which returns X and the lengths= to pass")


def _check_sequences(X) -> np.ndarray:
    """``X`` as a numeric 2-D or 3-D array, or a ``TypeError``/``ValueError`` that names
    ``X`` as a sequence input (what scikit-learn's and numpy's own messages do not)."""
    if X is None or isinstance(X, (str, bytes)):
        raise TypeError(f"X must be {_SEQUENCES}; got {type(X).__name__}")
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(f"X must be dense {_SEQUENCES}; got a sparse matrix")
    if isinstance(X, (list, tuple)) and len(X) and len({np.shape(s) for s in X}) > 1:
        raise ValueError(f"X holds sequences of different shapes {sorted({np.shape(s) for s in X})[:4]}; X must be "
                         f"{_SEQUENCES}")
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError):  # ragged nesting numpy cannot make an array of
        raise ValueError(f"X holds sequences of different lengths or shapes; X must be {_SEQUENCES}") from None
    if arr.dtype == object:
        shapes = {np.shape(v) for v in arr.ravel()}
        if len(shapes) > 1 or shapes and shapes != {()}:
            raise ValueError(f"X is an object array of sequences of different lengths or shapes; X must be "
                             f"{_SEQUENCES}")
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"X must hold real numbers; got an object array holding "
                            f"{sorted({type(v).__name__ for v in arr.ravel()})}. X must be {_SEQUENCES}") from None
    if np.iscomplexobj(arr):  # a ValueError, as scikit-learn's estimators raise for it
        raise ValueError(f"Complex data not supported: X must hold real numbers, got dtype {arr.dtype}. X must be "
                         f"{_SEQUENCES}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"X must hold real numbers, got dtype {arr.dtype}. X must be {_SEQUENCES}")
    if arr.ndim not in (2, 3):
        hint = ("; X[None] is one sequence of these values, X[:, None] as many one-step sequences"
                if arr.ndim == 1 else "")
        raise ValueError(f"X must be {_SEQUENCES}; got a {arr.ndim}-D array of shape {arr.shape}{hint}")
    if arr.shape[0] == 0 or arr.shape[1] == 0 or (arr.ndim == 3 and arr.shape[2] == 0):
        raise ValueError(f"X must hold at least one sequence of at least one step with at least one feature; got "
                         f"shape {arr.shape}")
    return arr


class _EvoRNN(BaseEvoEstimator, BaseEstimator):
    """The sequence estimators' shared constructor, network and input checks."""

    _parameter_constraints: dict = {**parameter_constraints(), "cell": [str], "activation": [str],
                                     "executor": "no_validation"}

    def __init__(self, hidden_layer_sizes: int | Sequence[int] = (32,), cell: str = "lstm",
                 activation: str = "tanh", init: Any = "auto", init_params: dict | None = None,
                 optimizer: str | Optimizer = "adam", optimizer_params: dict | None = None,
                 alpha: float = DEFAULT_ALPHA, input_noise: float = 0.0, weight_noise: float = 0.0,
                 dropout: float = 0.0, backend: str = "auto", dtype: Any = "float32", n_jobs: int | None = None,
                 batch_size: int | str | None = "auto", max_iter: int | None = None, max_evals: int | None = None,
                 max_time: float | None = None, early_stopping: bool | str = "auto", validation_fraction: float = 0.1,
                 n_iter_no_change: int = 10, tol: float = 1e-4, warm_start: bool = False,
                 random_state: Any = None, verbose: bool = False,
                 executor: Any = None) -> None:
        self._assign_params(locals())

    def _make_net(self, n_features: int) -> RNN:
        hidden = self.hidden_layer_sizes
        hidden = (hidden,) if isinstance(hidden, Integral) else tuple(hidden)
        return RNN(n_features, hidden, self._n_outputs(), cell=self.cell, activation=self.activation,
                   output=self._output, readout="last")

    # --- sequences in ------------------------------------------------------------------

    def _sequences(self, X, first: bool) -> np.ndarray:
        """``X`` as ``(N, T, d)``: ``(N, T)`` is one feature per step."""
        if X.ndim == 2:
            X = X[:, :, None]
        elif X.ndim != 3:
            raise ValueError(f"X must be sequences of shape (n_samples, n_steps, n_features), or (n_samples, "
                             f"n_steps) for one feature per step; got {X.ndim} dimensions")
        d = X.shape[2]
        if first:
            self.n_features_in_ = d
        elif d != self.n_features_in_:
            shape = "(n_samples, n_steps)" if self.n_features_in_ == 1 else \
                f"(n_samples, n_steps, {self.n_features_in_})"
            raise ValueError(f"X has {d} feature(s) per step, but {type(self).__name__} was fitted with "
                             f"{self.n_features_in_}: expected shape {shape}")
        return X

    def _validate_fit_data(self, X, y, first: bool, lengths):
        X = _check_sequences(X)
        X, y = check_X_y(X, y, dtype=_FLOATS, allow_nd=True, **self._y_checks)
        return self._sequences(X, first), y, lengths

    def _validate_predict_data(self, X, lengths):
        return self._sequences(check_array(_check_sequences(X), dtype=_FLOATS, allow_nd=True), first=False), lengths

    # --- the public methods, with lengths ------------------------------------------------

    def fit(self, X, y, lengths=None):
        """Fit the network to sequences ``X`` and one label/target per sequence; returns ``self``.

        ``lengths`` ``(n_samples,)``: the valid steps of each sequence (padding after them
        is masked); None means every sequence has all ``n_steps``.
        """
        return self._fit(X, y, incremental=False, lengths=lengths)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


class EvoRNNClassifier(ClassifierMixinEvo, ClassifierMixin, _EvoRNN):
    __doc__ = f"""A recurrent-network classifier of sequences, trained by any evoneuro optimizer.

    One label per sequence, read from the last (valid) step's hidden state through a
    softmax layer. ``X`` is ``(n_samples, n_steps, n_features)`` or ``(n_samples,
    n_steps)``; ``lengths`` (in ``fit``, ``predict``, ``predict_proba``, ``score``)
    gives each sequence's valid steps when they were padded to one length.

    Parameters
    ----------
{_NETWORK_DOC}
{PARAMETERS_DOC}
{EXECUTOR_DOC}

    Attributes
    ----------
    classes_ : ndarray
        The class labels.
{ATTRIBUTES_DOC}

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 10))             # 200 sequences of 10 steps, 1 feature
    >>> y = (X[:, 0] > 0).astype(int)              # the class is in the first step
    >>> clf = en.EvoRNNClassifier(hidden_layer_sizes=(8,), cell="gru", max_iter=300, backend="numpy",
    ...                           random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9, clf.predict_proba(X[:2]).shape
    (True, (2, 2))
    """

    def partial_fit(self, X, y, classes=None, lengths=None):
        """One pass over ``(X, y)``, every sequence once, continuing the optimizer's state.

        ``classes`` (all labels that will ever appear) is required on the first call.
        """
        if not hasattr(self, "params_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._fit(X, y, incremental=True, classes=classes, lengths=lengths)

    def predict_proba(self, X, lengths=None) -> np.ndarray:
        """Class probabilities ``(n_samples, n_classes)``, columns ordered as ``classes_``."""
        return self._proba(self._outputs(X, lengths))

    def predict(self, X, lengths=None) -> np.ndarray:
        """The most probable class of each sequence."""
        return self._labels(self._outputs(X, lengths))

    def score(self, X, y, sample_weight=None, lengths=None) -> float:
        """Mean accuracy on sequences ``X`` (with ``lengths``) and labels ``y``."""
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(y, self.predict(X, lengths), sample_weight=sample_weight))


class EvoRNNRegressor(RegressorMixinEvo, RegressorMixin, _EvoRNN):
    __doc__ = f"""A recurrent-network regressor of sequences, trained by any evoneuro optimizer.

    One target (or a row of targets) per sequence, from the last (valid) step's hidden
    state through a linear layer, mean squared error on standardised targets (``y_mean_``,
    ``y_scale_``), as :class:`EvoMLPRegressor`.

    Parameters
    ----------
{_NETWORK_DOC}
{PARAMETERS_DOC}
{EXECUTOR_DOC}

    Attributes
    ----------
    y_mean_, y_scale_ : ndarray (n_outputs,)
        The target standardisation.
{ATTRIBUTES_DOC}

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, size=(200, 5))
    >>> reg = en.EvoRNNRegressor(hidden_layer_sizes=(8,), max_iter=500, backend="numpy",
    ...                          random_state=0).fit(X, X.sum(axis=1))   # the sum of the steps
    >>> reg.score(X, X.sum(axis=1)) > 0.9
    True
    """

    def partial_fit(self, X, y, lengths=None):
        """One pass over ``(X, y)``, every sequence once, continuing the optimizer's state."""
        return self._fit(X, y, incremental=True, lengths=lengths)

    def predict(self, X, lengths=None) -> np.ndarray:
        """Predicted targets, ``(n_samples,)`` or ``(n_samples, n_outputs)`` as ``y`` was."""
        return self._targets(self._outputs(X, lengths))

    def score(self, X, y, sample_weight=None, lengths=None) -> float:
        """R² of the predictions for sequences ``X`` (with ``lengths``), on the standardised
        scale as :meth:`EvoMLPRegressor.score`."""
        return self._r2(self._outputs(X, lengths), y, sample_weight)


__all__ = ["EvoRNNClassifier", "EvoRNNRegressor", "pad_sequences"]
