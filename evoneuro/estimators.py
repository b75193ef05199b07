"""scikit-learn estimators: :class:`EvoMLPClassifier` and :class:`EvoMLPRegressor`.

Both train an :class:`evoneuro.MLP` with any registered optimizer (gradient-based or
gradient-free) through a :class:`evoneuro.Trainer`, and follow scikit-learn's conventions:
``__init__`` only stores its arguments, everything is validated in ``fit``, fitted
attributes end in ``_``, and ``random_state`` becomes a generator inside ``fit``. They work
in pipelines, grid searches and cross-validation, and they pickle.
"""

from __future__ import annotations

import copy
import math
from numbers import Integral, Real
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from evoneuro.callbacks import EarlyStopping, History
from evoneuro.evaluator import Evaluator
from evoneuro.network import INITS, MLP, Activation
from evoneuro.optimizers.base import Optimizer
from evoneuro.optimizers.registry import get_optimizer
from evoneuro.problems import SupervisedProblem
from evoneuro.trainer import Trainer

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def _validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)

try:  # private in scikit-learn, but the documented way to declare parameter constraints
    from sklearn.utils._param_validation import Interval, StrOptions
except ImportError:  # pragma: no cover
    Interval = StrOptions = None

_FLOATS = (np.float64, np.float32)


def _constraints() -> dict:
    if Interval is None:  # pragma: no cover
        return {}
    positive_int = Interval(Integral, 1, None, closed="left")
    return {
        "hidden_layer_sizes": ["array-like", positive_int],
        "activation": [str, tuple, list, Activation],
        "init": [StrOptions(set(INITS))],
        "optimizer": [str, Optimizer],
        "optimizer_params": [dict, None],
        "backend": [StrOptions({"auto", "numpy", "numba", "cupy"})],
        "dtype": [StrOptions({"float32", "float64"}), type],
        "batch_size": [positive_int, None],
        "max_iter": [positive_int],
        "max_evals": [positive_int, None],
        "max_time": [Interval(Real, 0, None, closed="neither"), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [positive_int],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }


class _ValidationScore:
    """``x -> score`` on held-out data for ``History(validation=...)``; keeps the best ``x``."""

    def __init__(self, evaluator: Evaluator, X, y, score) -> None:
        self.evaluator, self.X, self.y, self.score = evaluator, X, y, score
        self.scores: list[float] = []
        self.best_score, self.best_x = -np.inf, None

    def __call__(self, x) -> float:
        s = float(self.score(self.y, self.evaluator.predict(x, self.X).astype(np.float64)))
        self.scores.append(s)
        if s > self.best_score:
            self.best_score, self.best_x = s, np.array(x, dtype=np.float64)
        return s


class _BaseEvoMLP(BaseEstimator):
    """Shared fitting logic; subclasses say how targets are encoded and outputs decoded."""

    _parameter_constraints: dict = _constraints()
    _output = "softmax"

    def __init__(self, hidden_layer_sizes: int | Sequence[int] = (32,), activation: Any = "sigmoid",
                 init: str = "glorot", optimizer: str | Optimizer = "irprop+",
                 optimizer_params: dict | None = None, backend: str = "auto", dtype: Any = "float32",
                 batch_size: int | None = None, max_iter: int = 200, max_evals: int | None = None,
                 max_time: float | None = None, early_stopping: bool = False,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 10, tol: float = 1e-4,
                 warm_start: bool = False, random_state: Any = None, verbose: bool = False) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.init = init
        self.optimizer = optimizer
        self.optimizer_params = optimizer_params
        self.backend = backend
        self.dtype = dtype
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

    # --- subclass hooks ----------------------------------------------------------------

    def _encode_targets(self, y, first: bool, classes=None) -> np.ndarray:
        raise NotImplementedError

    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _val_score(self, y_true, out) -> float:
        raise NotImplementedError

    # --- fitting -----------------------------------------------------------------------

    def _make_net(self, n_features: int) -> MLP:
        hidden = self.hidden_layer_sizes
        hidden = (hidden,) if isinstance(hidden, Integral) else tuple(hidden)
        return MLP(n_features, hidden, self._n_outputs(), activation=self.activation, output=self._output)

    def _optimizer_key(self):
        opt = self.optimizer
        name = opt.lower() if isinstance(opt, str) else repr(opt)
        return name, repr(sorted((self.optimizer_params or {}).items()))

    def _new_optimizer(self) -> Optimizer:
        if isinstance(self.optimizer, Optimizer):
            if self.optimizer_params:
                raise ValueError("optimizer_params can only be given with an optimizer name, not an instance")
            return copy.deepcopy(self.optimizer)  # the estimator's parameter stays untouched
        return get_optimizer(self.optimizer, **(self.optimizer_params or {}))

    def _fit(self, X, y, *, incremental: bool, classes=None):
        if hasattr(self, "_validate_params"):
            self._validate_params()
        first = not hasattr(self, "params_") or not (incremental or self.warm_start)
        X, y = _validate_data(self, X, y, reset=first, dtype=_FLOATS, **self._y_checks)
        y = self._encode_targets(y, first, classes)
        rng = check_random_state(self.random_state)
        init_seed, run_seed, split_seed = (int(s) for s in rng.randint(np.iinfo(np.int32).max, size=3))

        net = self._make_net(X.shape[1])
        x0 = None
        if first:
            x0 = net.init(np.random.default_rng(init_seed), scheme=self.init)
            optimizer = self._new_optimizer()
        else:
            if net != self.net_:
                raise ValueError(f"warm start needs the same network; it was {self.net_!r}, now {net!r}. "
                                 "Set warm_start=False to start again")
            optimizer = self.optimizer_
            if self._optimizer_key() != self._opt_key:  # another optimizer continues from params_
                optimizer, x0 = self._new_optimizer(), self.params_

        validation = None
        if self.early_stopping and not incremental:
            stratify = y if self._output == "softmax" else None
            X, X_val, y, y_val = train_test_split(X, y, test_size=self.validation_fraction,
                                                  random_state=split_seed, stratify=stratify)
        evaluator = Evaluator(net, backend=self.backend, dtype=self.dtype)
        if self.early_stopping and not incremental:
            validation = _ValidationScore(evaluator, X_val, y_val, self._val_score)
        problem = SupervisedProblem(evaluator, X, y, batch_size=self.batch_size)

        if incremental:  # one pass over the data
            steps, callbacks = math.ceil(problem.n_samples / problem.batch_size), []
        else:
            steps = self.max_iter
            monitor = "val_score" if validation is not None else "best_loss"
            callbacks = [EarlyStopping(self.n_iter_no_change, self.tol, monitor=monitor)]
        history = History(validation=validation)
        trainer = Trainer(problem, optimizer, x0=x0, max_steps=steps, max_evals=self.max_evals,
                          max_time=self.max_time, callbacks=[history, *callbacks],
                          progress=bool(self.verbose), random_state=run_seed)
        result = trainer.run()
        x = result.x if validation is None or validation.best_x is None else validation.best_x
        self._store(net, evaluator, trainer.optimizer, x, result, history, first, X, y, validation)
        return self

    def _store(self, net, evaluator, optimizer, x, result, history, first, X, y, validation) -> None:
        self.net_ = net
        self.optimizer_ = optimizer
        self._opt_key = self._optimizer_key()
        self.params_ = np.array(x, dtype=np.float64)
        layers = net.unflatten(self.params_)
        self.coefs_ = [W.copy() for W, _ in layers]
        self.intercepts_ = [b.copy() for _, b in layers]
        self.loss_ = float(evaluator.loss(self.params_, X, y)[0])
        # History accumulates over warm starts and partial_fit calls, with running counters.
        done = history.snapshot()
        if first:
            self.history_, self.n_iter_, self.n_evals_ = History(), 0, 0
        prev_seconds = self.history_[-1]["seconds"] if len(self.history_) else 0.0
        for r in done.records:
            r["step"] += self.n_iter_
            r["evals"] += self.n_evals_
            r["seconds"] += prev_seconds
        self.history_.records.extend(done.records)
        self.n_iter_ += result.n_steps
        self.n_evals_ += result.n_evals
        self.loss_curve_ = [float(v) for v in self.history_["loss"]] if len(self.history_) else []
        self.stop_reason_ = result.stop_reason
        if validation is not None:
            self.validation_scores_ = list(validation.scores)
            self.best_validation_score_ = float(validation.best_score)
        else:
            self.validation_scores_ = self.best_validation_score_ = None

    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False, dtype=_FLOATS)
        ev = Evaluator(self.net_, backend=self.backend, dtype=self.dtype)
        return ev.predict(self.params_, X).astype(np.float64)


class EvoMLPClassifier(ClassifierMixin, _BaseEvoMLP):
    """A multilayer-perceptron classifier trained by any evoneuro optimizer.

    A softmax network with cross-entropy loss; binary problems use two output units.
    Labels may be any sortable values (strings too); ``classes_`` holds them sorted.
    Sparse input is not supported (``TypeError``).

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(32,)
        Width of each hidden layer.
    activation : str, tuple, Activation or list, default="sigmoid"
        Hidden activation(s); see :class:`evoneuro.MLP`.
    init : str, default="glorot"
        Weight initialisation scheme; see :meth:`evoneuro.MLP.init`.
    optimizer : str or Optimizer, default="irprop+"
        A registry name (:func:`evoneuro.optimizers.available`) or an instance; an
        instance is deep-copied in ``fit``, so the parameter is never changed.
    optimizer_params : dict or None, default=None
        Hyperparameters of a named optimizer (e.g. ``{"popsize": 32}``).
    backend : {"auto", "numpy", "numba", "cupy"}, default="auto"
        Evaluator backend, for ``fit`` and ``predict`` (an unpickled estimator can
        predict elsewhere after ``set_params(backend="numpy")``); see
        :class:`evoneuro.Evaluator`.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the network computation.
    batch_size : int or None, default=None
        Rows per step. ``None`` means full batch for every optimizer: what Rprop was
        designed for, and noise-free losses for the gradient-free optimizers. Set e.g.
        200 for ``sgd``/``adam`` on large data.
    max_iter : int, default=200
        Optimizer steps per ``fit`` (one minibatch and one generation each, not epochs).
    max_evals : int or None, default=None
        Budget in sample-forward equivalents (see :class:`evoneuro.Trainer`).
    max_time : float or None, default=None
        Wall-clock budget in seconds.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for classifiers), stop
        when its score (accuracy, R^2) has not improved by ``tol`` for
        ``n_iter_no_change`` steps, and keep the weights with the best score.
        Without it, a fit stops when the best training loss has not improved by ``tol``
        for ``n_iter_no_change`` steps. ``partial_fit`` always does one pass over its data.
    validation_fraction : float, default=0.1
        Share of the data held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of the stopping rule, in steps.
    tol : float, default=1e-4
        The smallest improvement that counts.
    warm_start : bool, default=False
        ``fit`` continues from the previous fit: the same optimizer object with its
        state (or, if ``optimizer``/``optimizer_params`` changed, a new optimizer
        started at ``params_``).
    random_state : None, int or RandomState, default=None
        Seeds the initial weights, the optimizer, the minibatches and the validation split.
    verbose : bool, default=False
        Show a tqdm progress bar.

    Attributes
    ----------
    classes_ : ndarray
        The class labels.
    n_features_in_ : int
        Number of features seen in ``fit``; ``feature_names_in_`` too for data frames.
    net_ : MLP
        The network specification.
    params_ : ndarray (n_params,)
        The fitted weights as one flat vector: the best point told (full batch), the
        optimizer's current point (minibatches), or the best-validation point
        (``early_stopping``).
    coefs_, intercepts_ : list of ndarray
        Per-layer weights ``(fan_in, fan_out)`` and biases, as in scikit-learn's MLP.
    loss_ : float
        Training loss of ``params_`` on the data of the last fit.
    loss_curve_ : list of float
        Per-step loss: the iterate's (gradient methods) or the population mean.
    history_ : History
        Per-step records over all fits (step, evals, seconds, loss, best_loss, val_score).
    n_iter_ : int
        Steps done in all fits; ``n_evals_`` the cost in sample-forward equivalents.
    optimizer_ : Optimizer
        The optimizer with its state; ``warm_start`` and ``partial_fit`` continue it.
    stop_reason_ : str
        Why the last fit stopped (``"max_steps"``, ``"early_stopping"``, ``"max_time"``...).
    validation_scores_, best_validation_score_ : list of float, float or None
        Held-out scores per step and the best one (``early_stopping`` only).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> import evoneuro as en
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = en.EvoMLPClassifier(hidden_layer_sizes=(8,), max_iter=100, backend="numpy",
    ...                           random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9, clf.predict_proba(X[:2]).shape
    (True, (2, 3))
    """

    _output = "softmax"
    _y_checks = {}

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

    def fit(self, X, y) -> "EvoMLPClassifier":
        """Fit the network to ``X`` ``(n_samples, n_features)`` and labels ``y``."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None) -> "EvoMLPClassifier":
        """One pass over ``(X, y)``, continuing the optimizer's state.

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
        out = self._outputs(X)
        return self.classes_[np.argmax(out, axis=1)]


class EvoMLPRegressor(RegressorMixin, _BaseEvoMLP):
    """A multilayer-perceptron regressor trained by any evoneuro optimizer.

    A linear-output network with mean squared error. ``y`` may be ``(n,)`` or ``(n, k)``;
    predictions have the same number of dimensions. The targets are standardised
    internally (each column to zero mean and unit variance, with ``y_mean_`` and
    ``y_scale_``, from the first ``fit``/``partial_fit`` batch), so that the default
    initialisation and step sizes suit any scale; ``loss_`` is on that standardised scale.
    Sparse input is not supported (``TypeError``).

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(32,)
        Width of each hidden layer.
    activation : str, tuple, Activation or list, default="sigmoid"
        Hidden activation(s); see :class:`evoneuro.MLP`.
    init : str, default="glorot"
        Weight initialisation scheme; see :meth:`evoneuro.MLP.init`.
    optimizer : str or Optimizer, default="irprop+"
        A registry name (:func:`evoneuro.optimizers.available`) or an instance; an
        instance is deep-copied in ``fit``, so the parameter is never changed.
    optimizer_params : dict or None, default=None
        Hyperparameters of a named optimizer (e.g. ``{"popsize": 32}``).
    backend : {"auto", "numpy", "numba", "cupy"}, default="auto"
        Evaluator backend, for ``fit`` and ``predict`` (an unpickled estimator can
        predict elsewhere after ``set_params(backend="numpy")``); see
        :class:`evoneuro.Evaluator`.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the network computation.
    batch_size : int or None, default=None
        Rows per step. ``None`` means full batch for every optimizer: what Rprop was
        designed for, and noise-free losses for the gradient-free optimizers. Set e.g.
        200 for ``sgd``/``adam`` on large data.
    max_iter : int, default=200
        Optimizer steps per ``fit`` (one minibatch and one generation each, not epochs).
    max_evals : int or None, default=None
        Budget in sample-forward equivalents (see :class:`evoneuro.Trainer`).
    max_time : float or None, default=None
        Wall-clock budget in seconds.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for classifiers), stop
        when its score (accuracy, R^2) has not improved by ``tol`` for
        ``n_iter_no_change`` steps, and keep the weights with the best score.
        Without it, a fit stops when the best training loss has not improved by ``tol``
        for ``n_iter_no_change`` steps. ``partial_fit`` always does one pass over its data.
    validation_fraction : float, default=0.1
        Share of the data held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of the stopping rule, in steps.
    tol : float, default=1e-4
        The smallest improvement that counts.
    warm_start : bool, default=False
        ``fit`` continues from the previous fit: the same optimizer object with its
        state (or, if ``optimizer``/``optimizer_params`` changed, a new optimizer
        started at ``params_``).
    random_state : None, int or RandomState, default=None
        Seeds the initial weights, the optimizer, the minibatches and the validation split.
    verbose : bool, default=False
        Show a tqdm progress bar.

    Attributes
    ----------
    y_mean_, y_scale_ : ndarray (n_outputs,)
        The target standardisation.
    n_features_in_ : int
        Number of features seen in ``fit``; ``feature_names_in_`` too for data frames.
    net_ : MLP
        The network specification.
    params_ : ndarray (n_params,)
        The fitted weights as one flat vector: the best point told (full batch), the
        optimizer's current point (minibatches), or the best-validation point
        (``early_stopping``).
    coefs_, intercepts_ : list of ndarray
        Per-layer weights ``(fan_in, fan_out)`` and biases, as in scikit-learn's MLP.
    loss_ : float
        Training loss of ``params_`` on the data of the last fit.
    loss_curve_ : list of float
        Per-step loss: the iterate's (gradient methods) or the population mean.
    history_ : History
        Per-step records over all fits (step, evals, seconds, loss, best_loss, val_score).
    n_iter_ : int
        Steps done in all fits; ``n_evals_`` the cost in sample-forward equivalents.
    optimizer_ : Optimizer
        The optimizer with its state; ``warm_start`` and ``partial_fit`` continue it.
    stop_reason_ : str
        Why the last fit stopped (``"max_steps"``, ``"early_stopping"``, ``"max_time"``...).
    validation_scores_, best_validation_score_ : list of float, float or None
        Held-out scores per step and the best one (``early_stopping`` only).

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> X = np.linspace(-2, 2, 50)[:, None]
    >>> reg = en.EvoMLPRegressor(hidden_layer_sizes=(8,), activation="tanh", max_iter=200,
    ...                          backend="numpy", random_state=0).fit(X, 3 * X[:, 0] ** 2)
    >>> reg.score(X, 3 * X[:, 0] ** 2) > 0.95, reg.predict(X[:3]).shape
    (True, (3,))
    """

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

    def fit(self, X, y) -> "EvoMLPRegressor":
        """Fit the network to ``X`` ``(n_samples, n_features)`` and targets ``y``."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y) -> "EvoMLPRegressor":
        """One pass over ``(X, y)``, continuing the optimizer's state."""
        return self._fit(X, y, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predicted targets, ``(n_samples,)`` or ``(n_samples, n_outputs)`` as ``y`` was."""
        out = self._outputs(X) * self.y_scale_ + self.y_mean_
        return out[:, 0] if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


__all__ = ["EvoMLPClassifier", "EvoMLPRegressor"]
