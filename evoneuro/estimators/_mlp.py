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

from evoneuro.training.defaults import DEFAULT_ALPHA
from evoneuro.estimators._base import (ATTRIBUTES_DOC, EXECUTOR_DOC, PARAMETERS_DOC, BaseEvoEstimator,
                                       parameter_constraints)
from evoneuro.estimators._targets import ClassifierMixinEvo, RegressorMixinEvo
from evoneuro.network import MLP
from evoneuro.optimizers.base import Optimizer

_NETWORK_DOC = """\
    hidden_layer_sizes : int or sequence of int, default=(32,)
        Width of each hidden layer.
    activation : str, tuple, Activation or list, default="sigmoid"
        Hidden activation(s); see :class:`evoneuro.MLP`."""


class _EvoMLP(BaseEvoEstimator, BaseEstimator):
    """The MLP estimators' shared constructor and network."""

    _parameter_constraints: dict = {**parameter_constraints(), "executor": "no_validation"}

    def __init__(self, hidden_layer_sizes: int | Sequence[int] = (32,), activation: Any = "sigmoid",
                 init: str | float | Callable | np.ndarray = "auto", init_params: dict | None = None,
                 optimizer: str | Optimizer = "adam",
                 optimizer_params: dict | None = None, alpha: float = DEFAULT_ALPHA, input_noise: float = 0.0,
                 weight_noise: float = 0.0, dropout: float = 0.0, backend: str = "auto", dtype: Any = "float32",
                 n_jobs: int | None = None, batch_size: int | str | None = "auto", max_iter: int | None = None,
                 max_evals: int | None = None, max_time: float | None = None, early_stopping: bool | str = "auto",
                 validation_fraction: float = 0.1, n_iter_no_change: int = 10, tol: float = 1e-4,
                 warm_start: bool = False, random_state: Any = None, verbose: bool = False,
                 executor: Any = None) -> None:
        self._assign_params(locals())

    def _make_net(self, n_features: int) -> MLP:
        hidden = self.hidden_layer_sizes
        hidden = (hidden,) if isinstance(hidden, Integral) else tuple(hidden)
        return MLP(n_features, hidden, self._n_outputs(), activation=self.activation, output=self._output)


class EvoMLPClassifier(ClassifierMixinEvo, ClassifierMixin, _EvoMLP):
    __doc__ = f"""A multilayer-perceptron classifier trained by any evoneuro optimizer.

    A softmax network with cross-entropy loss; binary problems use two output units.
    Labels may be any sortable values (strings too); ``classes_`` holds them sorted.
    Sparse input is not supported (``TypeError``).

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
    ``y_scale_``, from the first ``fit``/``partial_fit`` batch; exact for any finite
    scale, 1e-300 to 1e300), so that the default start and step sizes suit any scale;
    ``loss_`` and the held-out R² are on that standardised scale. The start's output layer
    is scaled by 0.3 with zero biases, so a fit starts near the targets' mean.
    Sparse input is not supported (``TypeError``).

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
    >>> X = np.linspace(-2, 2, 50)[:, None]
    >>> reg = en.EvoMLPRegressor(hidden_layer_sizes=(8,), activation="tanh", max_iter=3000,
    ...                          backend="numpy", random_state=0).fit(X, 3 * X[:, 0] ** 2)
    >>> reg.score(X, 3 * X[:, 0] ** 2) > 0.95, reg.predict(X[:3]).shape
    (True, (3,))
    """


__all__ = ["EvoMLPClassifier", "EvoMLPRegressor"]
