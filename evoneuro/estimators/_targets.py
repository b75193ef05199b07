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
        return self._proba(self._outputs(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample."""
        return self._labels(self._outputs(X))  # _outputs first: it raises NotFittedError before fit

    @staticmethod
    def _proba(out: np.ndarray) -> np.ndarray:
        return out / out.sum(axis=1, keepdims=True)

    def _labels(self, out: np.ndarray) -> np.ndarray:
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
        return self._targets(self._outputs(X))

    def _targets(self, out: np.ndarray) -> np.ndarray:
        out = out * self.y_scale_ + self.y_mean_
        return out[:, 0] if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


__all__ = ["ClassifierMixinEvo", "RegressorMixinEvo"]
