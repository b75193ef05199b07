"""The fitting logic shared by every evoneuro estimator.

scikit-learn's conventions: ``__init__`` only stores its arguments, everything is
validated in ``fit``, fitted attributes end in ``_``, and ``random_state`` becomes a
generator inside ``fit``. A subclass says which network it builds (``_make_net``), how
targets are encoded and outputs scored; everything else — budgets, start, minibatch,
early stopping, warm start, history — lives here once.
"""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions  # private, but how constraints are declared
from sklearn.utils.validation import validate_data as _validate_data

from evoneuro.backends import BACKENDS
from evoneuro.evaluator import Evaluator
from evoneuro.optimizers.base import Optimizer
from evoneuro.training.callbacks import History
from evoneuro.training.recipe import Fit, Validation, fit_network
from evoneuro.training.starts import check_init, resolve_init

_FLOATS = (np.float64, np.float32)
#: ``early_stopping="auto"`` holds data out when its split gets at least this many rows
#: (200 rows at the default ``validation_fraction=0.1``), and, for a classifier, every class
#: at least 2 rows in all and one in each part. Measured in ``benchmarks/defaults_suite.py``:
#: the smallest held-out sets of the suite (diabetes, 34 rows; friedman1 with noise 3, 30)
#: stop at the right point, while below 20 rows one row more or less moves the score
#: too much to tell a plateau from noise (iris, wine: 12 and 14 rows, kept off).
AUTO_MIN_VALIDATION = 20


def parameter_constraints() -> dict:
    """scikit-learn's ``_parameter_constraints`` for the shared parameters."""
    positive_int = Interval(Integral, 1, None, closed="left")
    return {
        "hidden_layer_sizes": ["array-like", positive_int],
        "activation": [str, tuple, list, object],
        "init": [str, Interval(Real, 0, None, closed="neither"), callable, "array-like"],
        "init_params": [dict, None],
        "optimizer": [str, Optimizer],
        "optimizer_params": [dict, None],
        # beyond 1e6 the decay outweighs any data term a millionfold: every weight is driven
        # to zero, and the penalty of an ordinary start overflows
        "alpha": [Interval(Real, 0, 1e6, closed="both")],
        "input_noise": [Interval(Real, 0, None, closed="left")],
        "weight_noise": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "backend": [StrOptions(set(BACKENDS))],
        "dtype": [StrOptions({"float32", "float64"}), type],
        "n_jobs": [Integral, None],
        "batch_size": [positive_int, StrOptions({"auto"}), None],
        "max_iter": [positive_int, None],
        "max_evals": [positive_int, None],
        "max_time": [Interval(Real, 0, None, closed="neither"), None],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [positive_int],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }


class BaseEvoEstimator:
    """Mixin with ``_fit``; subclasses define the network and the target encoding."""

    _output = "softmax"
    _y_checks: dict = {}

    def __sklearn_clone__(self):
        # a cluster client is shared by the clones (GridSearchCV's), not deep-copied: it
        # holds a connection and an event loop, which neither copy nor pickle
        from sklearn.base import _clone_parametrized

        executor = self.__dict__.get("executor")
        if executor is None:
            return _clone_parametrized(self)
        self.executor = None
        try:
            clone = _clone_parametrized(self)
        finally:
            self.executor = executor
        clone.executor = executor
        return clone

    def __getstate__(self) -> dict:
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__.copy()
        if state.get("executor") is not None:
            state = dict(state, executor=None)  # a pickled estimator predicts and fits locally
        return state

    def _assign_params(self, params: dict) -> None:
        """``__init__``'s arguments stored as they are, under their own names (scikit-learn's rule)."""
        for name, value in params.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # --- subclass hooks ----------------------------------------------------------------

    def _make_net(self, n_features: int):
        raise NotImplementedError

    def _encode_targets(self, y, first: bool, classes=None) -> np.ndarray:
        raise NotImplementedError

    def _val_score(self, y_true, out) -> float:
        raise NotImplementedError

    def _scale_start(self, net, x0: np.ndarray) -> np.ndarray:
        """The start as the target side wants it (a regressor shrinks its output layer)."""
        return x0

    def _validate_fit_data(self, X, y, first: bool, lengths):
        """``X``, ``y`` (and ``lengths``) checked for ``fit``; sets ``n_features_in_`` when ``first``."""
        if lengths is not None:
            raise ValueError(f"lengths is for sequence estimators; {type(self).__name__} takes lengths=None")
        X, y = _validate_data(self, X, y, reset=first, dtype=_FLOATS, **self._y_checks)
        return X, y, None

    def _validate_predict_data(self, X, lengths):
        """``X`` (and ``lengths``) checked for ``predict`` against the fitted estimator."""
        if lengths is not None:
            raise ValueError(f"lengths is for sequence estimators; {type(self).__name__} takes lengths=None")
        return _validate_data(self, X, reset=False, dtype=_FLOATS), None

    # --- pieces of fit -----------------------------------------------------------------

    def _optimizer_key(self):
        opt = self.optimizer
        name = opt.lower() if isinstance(opt, str) else repr(opt)
        return name, repr(sorted((self.optimizer_params or {}).items()))

    def _budgets(self) -> dict:
        # none given: the fit recipe's default cap (evoneuro.training.defaults.default_budget)
        return {"max_steps": self.max_iter, "max_evals": self.max_evals, "max_time": self.max_time}

    def _holds_out(self, y) -> bool:
        """Whether this fit holds data out: ``early_stopping`` as given, or by the "auto" rule."""
        if self.early_stopping != "auto":
            return bool(self.early_stopping)
        if any(v is not None for v in self._budgets().values()):
            return False  # a budget given is spent as given
        n_val = math.ceil(self.validation_fraction * len(y))
        if n_val < AUTO_MIN_VALIDATION or len(y) - n_val < AUTO_MIN_VALIDATION:
            return False
        if self._output == "softmax":
            counts = np.unique(y, return_counts=True)[1]
            return bool(counts.min() >= 2 and n_val >= len(counts) and len(y) - n_val >= len(counts))
        return True

    def _split(self, X, y, lengths, seed: int):
        """``X_train, X_val, y_train, y_val, lengths_train, lengths_val`` (lengths may be None)."""
        from sklearn.model_selection import train_test_split

        n_val = math.ceil(self.validation_fraction * len(X))
        stratify = y if self._output == "softmax" else None
        n_classes = len(np.unique(y)) if stratify is not None else 1
        if n_val < n_classes or len(X) - n_val < n_classes:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} of {len(X)} samples leaves "
                f"{n_val} for validation and {len(X) - n_val} for training; early_stopping needs at "
                f"least {n_classes} in each{' (one of each class)' if stratify is not None else ''}. Use more data, another validation_fraction, or "
                "early_stopping=False")
        arrays = (X, y) if lengths is None else (X, y, lengths)
        parts = train_test_split(*arrays, test_size=n_val, random_state=seed, stratify=stratify)
        return (*parts, None, None) if lengths is None else tuple(parts)

    # --- fit -----------------------------------------------------------------------------

    def fit(self, X, y):
        """Fit the network to ``X`` and ``y`` (labels or targets); returns ``self``."""
        return self._fit(X, y, incremental=False)

    def _fit(self, X, y, *, incremental: bool, classes=None, lengths=None):
        if hasattr(self, "_validate_params"):
            self._validate_params()
        check_init(self.init)
        first = not hasattr(self, "params_") or not (incremental or self.warm_start)
        X, y, lengths = self._validate_fit_data(X, y, first, lengths)
        y = self._encode_targets(y, first, classes)
        rng = check_random_state(self.random_state)
        init_seed, run_seed, split_seed = (int(s) for s in rng.randint(np.iinfo(np.int32).max, size=3))

        net = self._make_net(self.n_features_in_)
        validation = None
        if not incremental and self._holds_out(y):  # partial_fit: one pass over the given data
            X, X_val, y, y_val, lengths, lengths_val = self._split(X, y, lengths, split_seed)
            validation = Validation(X_val, y_val, self._val_score, lengths_val, self.n_iter_no_change, self.tol)
        if first:
            pretraining = {"backend": self.backend, "dtype": self.dtype, "n_jobs": self.n_jobs,
                           **(self.init_params or {})}  # the estimator's evaluator unless said otherwise
            x0 = resolve_init(net, self.init, np.random.default_rng(init_seed), X, pretraining)
            if isinstance(self.init, (str, Real)):  # a scheme, not the user's own vector or callable
                x0 = self._scale_start(net, x0)
            optimizer, params = self.optimizer, self.optimizer_params
        else:
            if net != self.net_:
                raise ValueError(f"warm start needs the same network; it was {self.net_!r}, now {net!r}. "
                                 "Set warm_start=False to start again")
            optimizer, params, x0 = self.optimizer_, None, None
            if self._optimizer_key() != self._opt_key:  # another optimizer continues from params_
                optimizer, params, x0 = self.optimizer, self.optimizer_params, self.params_

        regularization = {"alpha": self.alpha, "input_noise": self.input_noise, "weight_noise": self.weight_noise,
                          "dropout": self.dropout}
        budgets = {"max_epochs": 1} if incremental else self._budgets()
        fit = fit_network(net, X, y, optimizer=optimizer, x0=x0, optimizer_params=params, batch_size=self.batch_size,
                          lengths=lengths, regularization=regularization, backend=self.backend, dtype=self.dtype,
                          n_jobs=self.n_jobs, validation=validation, progress=bool(self.verbose),
                          random_state=run_seed, executor=getattr(self, "executor", None), **budgets)
        self._store(fit, first)
        if fit.capped and validation is not None:
            warnings.warn(f"{type(self).__name__}: the default budget ({fit.default_budget}) ended the fit while "
                          "the held-out score was still improving; give max_iter, max_evals or max_time to "
                          "go further", ConvergenceWarning, stacklevel=2)
        return self

    def _store(self, fit: Fit, first: bool) -> None:
        net, problem, x, result, validation = fit.net, fit.problem, fit.x, fit.result, fit.validation
        self.net_ = net
        self.optimizer_ = fit.optimizer
        self._opt_key = self._optimizer_key()
        self.params_ = np.array(x, dtype=np.float64)
        # per layer block (for an RNN layer: its stacked [W_input; W_recurrent] of all gates)
        self.coefs_ = [s.weights(self.params_).copy() for s in net.layers]
        self.intercepts_ = [s.bias(self.params_).copy() for s in net.layers]
        # The trainer's result already holds the full-data loss of its x (measured, or the
        # best told loss on the full batch); only the best-validation point needs a pass.
        self.loss_ = float(result.fun) if x is result.x else problem.full_loss(self.params_)
        # History accumulates over warm starts and partial_fit calls, with running counters.
        done = fit.history.snapshot()
        if first:
            self.history_, self.n_iter_, self.n_evals_, self.compile_seconds_ = History(), 0, 0, 0.0
        prev_seconds = self.history_[-1]["seconds"] if len(self.history_) else 0.0
        for r in done.records:
            r["step"] += self.n_iter_
            r["evals"] += self.n_evals_
            r["seconds"] += prev_seconds
        self.history_.records.extend(done.records)
        self.n_iter_ += result.n_steps
        self.n_evals_ += result.n_evals
        self.compile_seconds_ += result.compile_seconds
        self.loss_curve_ = [float(v) for v in self.history_["loss"]] if len(self.history_) else []
        self.stop_reason_ = result.stop_reason
        if validation is not None:
            self.validation_scores_ = list(validation.scores)
            self.best_validation_score_ = float(validation.best_score)
        else:
            self.validation_scores_ = self.best_validation_score_ = None

    def _outputs(self, X, lengths=None) -> np.ndarray:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X, lengths = self._validate_predict_data(X, lengths)
        ev = Evaluator(self.net_, backend=self.backend, dtype=self.dtype, n_jobs=self.n_jobs)
        return ev.predict(self.params_, X, lengths=lengths).astype(np.float64)


# The parameter section every estimator's docstring shares (numpydoc), after the network's own.
PARAMETERS_DOC = """\
    init : "auto", str, float, callable or array-like, default="auto"
        The start. ``"auto"``: orthonormal weights with every unit standardised (zero
        mean over up to 512 training rows, standard deviation 1 for sigmoid units and 0.3
        for tanh units), which keeps the input's signal alive through deep saturating
        stacks (a regressor's output layer is then scaled by 0.3, so that a fit starts
        near the targets' mean); ``"lsuv"``; ``"pretrain"``: greedy
        layer-wise pretraining by :func:`evoneuro.pretrain` with ``init_params``;
        a scheme of :meth:`evoneuro.MLP.init` (``"glorot"``, ``"orthogonal"``,
        ``"critical"``, ...); a number ``g``: Glorot's scheme times ``g``; a callable
        ``init(net, rng, X)`` returning a vector; or the start vector itself.
        See :func:`evoneuro.training.starts.resolve_init`.
    init_params : dict or None, default=None
        Arguments of :func:`evoneuro.pretrain` for ``init="pretrain"`` (``method``,
        ``optimizer``, ``max_evals`` per layer, ...); ignored by the other starts.
    optimizer : str or Optimizer, default="adam"
        A registry name (:func:`evoneuro.optimizers.available`) or an instance; an
        instance is deep-copied in ``fit``, so the parameter is never changed.
    optimizer_params : dict or None, default=None
        Hyperparameters of a named optimizer (e.g. ``{"popsize": 32}``). Those not given
        take the measured defaults of :mod:`evoneuro.training.defaults`, which set each
        gradient-free optimizer's spread relative to the start's weight scale.
    alpha : float in [0, 1e6], default=1e-4
        L2 weight decay, scikit-learn's ``alpha``: ``0.5 * alpha * ||W||² / n`` is added
        to the mean loss of each batch of ``n`` rows (weight matrices, not biases), so
        every optimizer, gradient-free ones included, sees it. See
        :mod:`evoneuro.regularization` for this default's measurement.
    input_noise, weight_noise : float, default=0.0
        Standard deviation of Gaussian noise added to each step's inputs, or to each
        member's weights at each evaluation (training only).
    dropout : float, default=0.0
        Probability of dropping each hidden unit during training, drawn per member and
        evaluation and shared by the rows of the batch (see
        :mod:`evoneuro.regularization`).
    backend : {"auto", "numpy", "numba", "cupy"}, default="auto"
        Evaluator backend, for ``fit`` and ``predict`` (an unpickled estimator can
        predict elsewhere after ``set_params(backend="numpy")``); see
        :class:`evoneuro.Evaluator`.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the network computation.
    n_jobs : int or None, default=None
        Threads for the evaluator and the optimizer's linear algebra. ``None`` or ``-1``:
        the CPUs this process may use.
    batch_size : int, "auto" or None, default="auto"
        Rows per step, shared by the whole population. ``"auto"``: 256 (the full batch
        below that), but the full batch for the Rprop family, whose sign-based steps
        minibatch noise breaks, for PSO, whose remembered bests it biases, and for
        ``random``, whose success rule it inflates (see :mod:`evoneuro.training.defaults`);
        ``None``: always the full batch.
    max_iter : int or None, default=None
        Optimizer steps per ``fit`` (one minibatch and one generation each, not epochs).
        When ``max_iter``, ``max_evals`` and ``max_time`` are all None, a fit runs until
        the held-out rule (``early_stopping``) stops it, within a cap
        (:func:`evoneuro.training.defaults.default_budget`): 10,000 steps or 1,000 passes
        over the training data, whichever is more, and at most ``3e11 / n_weights``
        evaluations (10-60 s of work on one 2-core machine for nets of a few thousand
        weights), whichever is spent first; a ``ConvergenceWarning`` says when the cap ended
        a fit that held data out. Otherwise only the budgets given apply, and the first one
        spent ends the fit.
    max_evals : int or None, default=None
        Budget in sample-forward equivalents (see :class:`evoneuro.Trainer`).
    max_time : float or None, default=None
        Wall-clock budget in seconds. Numba's one-off compilation is not counted (it is
        reported as ``compile_seconds_``).
    early_stopping : bool or "auto", default="auto"
        Hold out ``validation_fraction`` of the data (stratified for classifiers), score it
        once per pass over the training data (minus the log-loss for classifiers, R² for
        regressors), stop when the score has not improved by ``tol`` for
        ``n_iter_no_change`` passes and for the optimizer's ``patience_steps`` steps (1,000
        for Adam and SGD, 100 for the Rprop family, 2,000 for the others, see
        :class:`evoneuro.optimizers.base.Optimizer`), and keep the weights with the best
        score. ``"auto"``: on when no budget is given (``max_iter``, ``max_evals`` and
        ``max_time`` None: a budget given is spent as given) and the data allow a split:
        the held-out part and the rest get at least 20 rows each (200 rows at the default
        ``validation_fraction``) and, for classifiers, every class has 2 rows or more and
        each part at least as many rows as there are classes; below that every row is
        needed for training and the default budget alone ends the fit.
        ``partial_fit`` never holds data out: it does one pass over its data.
    validation_fraction : float, default=0.1
        Share of the data held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of early stopping, in passes over the training data.
    tol : float, default=1e-4
        The smallest improvement of the held-out score that counts.
    warm_start : bool, default=False
        ``fit`` continues from the previous fit: the same optimizer object with its
        state (or, if ``optimizer``/``optimizer_params`` changed, a new optimizer
        started at ``params_``).
    random_state : None, int or RandomState, default=None
        Seeds the initial weights, the optimizer, the minibatches and the validation split.
    verbose : bool, default=False
        Show a tqdm progress bar."""

EXECUTOR_DOC = """\
    executor : dask.distributed.Client, concurrent.futures.Executor or None, default=None
        Evaluate on a cluster, with the bits of a fit on one machine: a population in
        chunks per worker, or the full batch in row shards held by the workers (the
        gradient optimizers), as :class:`evoneuro.SupervisedProblem` ``parallel="auto"``
        chooses (see :mod:`evoneuro.distributed`). Not pickled with the estimator."""

ATTRIBUTES_DOC = """\
    n_features_in_ : int
        Number of features seen in ``fit``; ``feature_names_in_`` too for data frames.
    net_ : MLP or RNN
        The network specification.
    params_ : ndarray (n_params,)
        The fitted weights as one flat vector: the best-validation point when the fit held
        data out (``early_stopping``), else the best point told (full batch) or the
        optimizer's current point (minibatches).
    coefs_, intercepts_ : list of ndarray
        Per-layer weights ``(fan_in, fan_out)`` and biases, as in scikit-learn's MLP (a
        recurrent layer's ``W`` stacks its input and recurrent weights of every gate; see
        :class:`evoneuro.RNN` for the layout).
    loss_ : float
        Training loss of ``params_`` on the data of the last fit, weight decay included.
    loss_curve_ : list of float
        Per-step loss: the iterate's (gradient methods) or the population mean.
    history_ : History
        Per-step records over all fits (step, evals, seconds, loss, best_loss, val_score).
    n_iter_ : int
        Steps done in all fits; ``n_evals_`` the cost in sample-forward equivalents.
    compile_seconds_ : float
        Seconds spent compiling Numba kernels (not part of ``max_time``; 0 once cached).
    optimizer_ : Optimizer
        The optimizer with its state; ``warm_start`` and ``partial_fit`` continue it.
    stop_reason_ : str
        Why the last fit stopped (``"max_steps"``, ``"max_time"``, ``"early_stopping"``...).
    validation_scores_, best_validation_score_ : list of float, float or None
        Held-out scores per pass and the best one, when the fit held data out (minus
        the mean log-loss for classifiers, R² for regressors); None otherwise."""

__all__ = ["ATTRIBUTES_DOC", "AUTO_MIN_VALIDATION", "BaseEvoEstimator", "PARAMETERS_DOC", "parameter_constraints"]
