"""The target side every evoneuro estimator shares: labels or standardised targets in, outputs out.

The network kind (MLP, RNN) is the other side, in :mod:`._mlp` and :mod:`._rnn`.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.multiclass import check_classification_targets


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
        # minus the log-loss: it rises while the net learns, where accuracy moves in steps
        # of one row that the held-out rule cannot tell from a plateau
        p = out[np.arange(len(y_true)), y_true] / out.sum(axis=1)
        return float(np.mean(np.log(np.clip(p, 1e-12, None))))

    def partial_fit(self, X, y, classes=None):
        """One pass over ``(X, y)``, every row once, continuing the optimizer's state.

        ``classes`` (all labels that will ever appear) is required on the first call.
        """
        if not hasattr(self, "params_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._fit(X, y, incremental=True, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n_samples, n_classes)``, columns ordered as ``classes_``."""
        return self._proba(self._outputs(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample."""
        return self._labels(self._outputs(X))  # _outputs first: it raises NotFittedError before fit

    @staticmethod
    def _proba(out: np.ndarray) -> np.ndarray:
        return out / out.sum(axis=1, keepdims=True)

    def _labels(self, out: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(out, axis=1)]


def _column_scales(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and standard deviation, exact at any finite scale (1e-300 to 1e300).

    The columns are divided by their largest magnitude first, so that neither the sum nor
    the squares overflow or underflow; a column that does not vary (relative to its mean)
    gets its mean's magnitude as scale (1 for a column of zeros), so that it too is fitted
    the same way at any scale.
    """
    big = np.max(np.abs(y), axis=0)
    big = np.where(big > 0, big, 1.0)
    unit = y / big
    mean = unit.mean(axis=0)
    scale = (unit - mean).std(axis=0)
    constant = scale <= 10 * np.finfo(np.float64).eps * np.abs(mean)
    return mean * big, np.where(constant, np.where(mean != 0, np.abs(mean), 1.0), scale) * big


class RegressorMixinEvo:
    """Standardised targets in, rescaled outputs out: the target side of every regressor."""

    _output = "linear"
    _y_checks = {"multi_output": True, "y_numeric": True}
    #: The start's output weights are multiplied by this and its output biases set to 0, so
    #: that a fit starts near the targets' mean (R² near 0) instead of at unit-variance noise
    #: (R² near -1), and held-out stopping rarely keeps a point below the mean. Measured with
    #: benchmarks/defaults_suite.py's tasks (test R², docs/guide/estimators.md): over 5 tasks x
    #: 3 nets x (adam, irprop+, sep-cmaes) the mean was 0.742 at 1.0, 0.748 at 0.1 and 0.765 at
    #: 0; but 0 is a saddle (zero output weights get no gradient on symmetric data: a tanh net
    #: fitting x² on [-2, 2] stayed at R² 0.31), and over 4 seeds on diabetes, friedman1 with
    #: noise 3 and linear-20, 0.1 let iRprop+ end at -0.29 and -0.01 where 0.3 gave 0.29-0.40
    #: and 0.45-0.56.
    _output_scale = 0.3

    def _scale_start(self, net, x0: np.ndarray) -> np.ndarray:
        out = net.layers[-1]  # every kind's readout is its last layer
        out.weights(x0)[...] *= self._output_scale
        out.bias(x0)[...] = 0.0
        return x0

    def _n_outputs(self) -> int:
        return len(self.y_mean_)

    def _encode_targets(self, y, first: bool, classes=None) -> np.ndarray:
        y2 = np.asarray(y, dtype=np.float64)
        y2 = y2[:, None] if y2.ndim == 1 else y2
        if first:
            self._y_ndim = np.ndim(y)
            self.y_mean_, self.y_scale_ = _column_scales(y2)
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
        return self._targets(self._outputs(X))

    def score(self, X, y, sample_weight=None) -> float:
        """R² of the predictions (computed on the standardised scale, where it is the same,
        so that it stays finite for targets near 1e300 or 1e-300)."""
        return self._r2(self._outputs(X), y, sample_weight)

    def _r2(self, out: np.ndarray, y, sample_weight=None) -> float:
        from sklearn.metrics import r2_score

        y2 = np.asarray(y, dtype=np.float64)
        y2 = y2[:, None] if y2.ndim == 1 else y2
        return float(r2_score((y2 - self.y_mean_) / self.y_scale_, out, sample_weight=sample_weight))

    def _targets(self, out: np.ndarray) -> np.ndarray:
        out = out * self.y_scale_ + self.y_mean_
        return out[:, 0] if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


__all__ = ["ClassifierMixinEvo", "RegressorMixinEvo"]
