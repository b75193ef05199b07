"""scikit-learn estimators for multilayer perceptrons: :class:`EvoMLPClassifier`, :class:`EvoMLPRegressor`.

Both train an :class:`evoneuro.MLP` with any registered optimizer (gradient-based or
gradient-free) through a :class:`evoneuro.Trainer`. They work in pipelines, grid searches
and cross-validation, and they pickle. The fitting logic is in :mod:`._base`, shared with
every estimator; this module says which network is built and how targets are encoded.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, Callable, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets

from evoneuro.estimators._base import ATTRIBUTES_DOC, PARAMETERS_DOC, BaseEvoEstimator, parameter_constraints
from evoneuro.network import MLP
from evoneuro.optimizers.base import Optimizer

_NETWORK_DOC = """\
    hidden_layer_sizes : int or sequence of int, default=(32,)
        Width of each hidden layer.
    activation : str, tuple, Activation or list, default="sigmoid"
        Hidden activation(s); see :class:`evoneuro.MLP`."""


class _EvoMLP(BaseEvoEstimator, BaseEstimator):
    """The MLP estimators' shared constructor and network."""

    _parameter_constraints: dict = parameter_constraints()

    def __init__(self, hidden_layer_sizes: int | Sequence[int] = (32,), activation: Any = "sigmoid",
                 init: str | float | Callable | np.ndarray = "auto", optimizer: str | Optimizer = "adam",
                 optimizer_params: dict | None = None, backend: str = "auto", dtype: Any = "float32",
                 n_jobs: int | None = None, batch_size: int | str | None = "auto", max_iter: int | None = None,
                 max_evals: int | None = None, max_time: float | None = None, early_stopping: bool = False,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 10, tol: float = 1e-4,
                 warm_start: bool = False, random_state: Any = None, verbose: bool = False) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.init = init
        self.optimizer = optimizer
        self.optimizer_params = optimizer_params
        self.backend = backend
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.max_evals = max_evals
        self.max_time = max_time
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    def _make_net(self, n_features: int) -> MLP:
        hidden = self.hidden_layer_sizes
        hidden = (hidden,) if isinstance(hidden, Integral) else tuple(hidden)
        return MLP(n_features, hidden, self._n_outputs(), activation=self.activation, output=self._output)


class ClassifierMixinEvo:
    """Labels in, class probabilities out: the target side every evoneuro classifier shares."""

    _output = "softmax"
    _y_checks: dict = {}

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _encode_targets(self, y, first: bool, classes=None) -> np.ndarray:
        check_classification_targets(y)
        if first:
            self.classes_ = np.unique(y if classes is None else np.asarray(classes))
            if len(self.classes_) < 2:
                raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in the data; "
                                 f"got one class: {self.classes_.tolist()}")
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(f"classes={np.unique(classes).tolist()} differs from the first call's "
                             f"{self.classes_.tolist()}")
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"y holds labels {unknown.tolist()} not among classes_ {self.classes_.tolist()}")
        return np.searchsorted(self.classes_, y)

    def _val_score(self, y_true, out) -> float:
        return float(np.mean(np.argmax(out, axis=1) == y_true))

    def partial_fit(self, X, y, classes=None):
        """One pass over ``(X, y)``, every row once, continuing the optimizer's state.

        ``classes`` (all labels that will ever appear) is required on the first call.
        """
        if not hasattr(self, "params_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._fit(X, y, incremental=True, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n_samples, n_classes)``, columns ordered as ``classes_``."""
        out = self._outputs(X)
        return out / out.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample."""
        out = self._outputs(X)  # first: it raises NotFittedError before fit
        return self.classes_[np.argmax(out, axis=1)]


class RegressorMixinEvo:
    """Standardised targets in, rescaled outputs out: the target side of every regressor."""

    _output = "linear"
    _y_checks = {"multi_output": True, "y_numeric": True}

    def _n_outputs(self) -> int:
        return len(self.y_mean_)

    def _encode_targets(self, y, first: bool, classes=None) -> np.ndarray:
        y2 = np.asarray(y, dtype=np.float64)
        y2 = y2[:, None] if y2.ndim == 1 else y2
        if first:
            self._y_ndim = np.ndim(y)
            self.y_mean_ = y2.mean(axis=0)
            scale = y2.std(axis=0)
            constant = scale <= 10 * np.finfo(np.float64).eps * np.maximum(np.abs(self.y_mean_), 1.0)
            self.y_scale_ = np.where(constant, 1.0, scale)
        elif y2.shape[1] != len(self.y_mean_):
            raise ValueError(f"y must have {len(self.y_mean_)} output column(s) as in the first fit, "
                             f"got {y2.shape[1]}")
        return (y2 - self.y_mean_) / self.y_scale_

    def _val_score(self, y_true, out) -> float:
        ss_res = float(np.sum((y_true - out) ** 2))
        ss_tot = float(np.sum((y_true - y_true.mean(axis=0)) ** 2))
        return 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0

    def partial_fit(self, X, y):
        """One pass over ``(X, y)``, every row once, continuing the optimizer's state."""
        return self._fit(X, y, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predicted targets, ``(n_samples,)`` or ``(n_samples, n_outputs)`` as ``y`` was."""
        out = self._outputs(X) * self.y_scale_ + self.y_mean_
        return out[:, 0] if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class EvoMLPClassifier(ClassifierMixinEvo, ClassifierMixin, _EvoMLP):
    __doc__ = f"""A multilayer-perceptron classifier trained by any evoneuro optimizer.

    A softmax network with cross-entropy loss; binary problems use two output units.
    Labels may be any sortable values (strings too); ``classes_`` holds them sorted.
    Sparse input is not supported (``TypeError``).

    Parameters
    ----------
{_NETWORK_DOC}
{PARAMETERS_DOC}

    Attributes
    ----------
    classes_ : ndarray
        The class labels.
{ATTRIBUTES_DOC}

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> import evoneuro as en
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = en.EvoMLPClassifier(hidden_layer_sizes=(8,), backend="numpy", random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9, clf.predict_proba(X[:2]).shape
    (True, (2, 3))
    """


class EvoMLPRegressor(RegressorMixinEvo, RegressorMixin, _EvoMLP):
    __doc__ = f"""A multilayer-perceptron regressor trained by any evoneuro optimizer.

    A linear-output network with mean squared error. ``y`` may be ``(n,)`` or ``(n, k)``;
    predictions have the same number of dimensions. The targets are standardised
    internally (each column to zero mean and unit variance, with ``y_mean_`` and
    ``y_scale_``, from the first ``fit``/``partial_fit`` batch), so that the default
    start and step sizes suit any scale; ``loss_`` is on that standardised scale.
    Sparse input is not supported (``TypeError``).

    Parameters
    ----------
{_NETWORK_DOC}
{PARAMETERS_DOC}

    Attributes
    ----------
    y_mean_, y_scale_ : ndarray (n_outputs,)
        The target standardisation.
{ATTRIBUTES_DOC}

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> X = np.linspace(-2, 2, 50)[:, None]
    >>> reg = en.EvoMLPRegressor(hidden_layer_sizes=(8,), activation="tanh", max_iter=3000,
    ...                          backend="numpy", random_state=0).fit(X, 3 * X[:, 0] ** 2)
    >>> reg.score(X, 3 * X[:, 0] ** 2) > 0.95, reg.predict(X[:3]).shape
    (True, (3,))
    """


__all__ = ["ClassifierMixinEvo", "EvoMLPClassifier", "EvoMLPRegressor", "RegressorMixinEvo"]
