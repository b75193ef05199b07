"""Regressors at any finite target scale, and weight decay within its documented range."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_friedman1

import evoneuro as en


@pytest.mark.parametrize("cls", ["EvoMLPRegressor", "EvoRNNRegressor"])
def test_the_same_fit_at_every_target_scale(cls):
    X, y = make_friedman1(120, n_features=6, random_state=0)
    if cls == "EvoRNNRegressor":
        X = X.reshape(120, 3, 2)
    reference = None
    for scale in (1e-300, 1e-150, 1.0, 1e150, 1e300):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no overflow, underflow or invalid-value warning
            reg = getattr(en, cls)(hidden_layer_sizes=(4,), max_iter=20, backend="numpy",
                                   random_state=0).fit(X, y * scale)
            pred, r2 = reg.predict(X) / scale, reg.score(X, y * scale)
        assert np.isfinite(pred).all() and np.isfinite(r2)
        if reference is None:
            reference = (pred, r2)
        np.testing.assert_allclose(pred, reference[0], rtol=1e-12)
        assert r2 == pytest.approx(reference[1], abs=1e-12)


def test_a_column_of_tiny_but_varying_targets_is_not_taken_for_a_constant():
    X, y = make_friedman1(100, n_features=5, random_state=0)
    reg = en.EvoMLPRegressor(hidden_layer_sizes=(4,), max_iter=2, backend="numpy").fit(X, y * 1e-300)
    assert reg.y_scale_[0] == pytest.approx(np.std(y) * 1e-300, rel=1e-12)
    fits = [en.EvoMLPRegressor(hidden_layer_sizes=(4,), max_iter=2, backend="numpy", random_state=0)
            .fit(X, np.full(100, 7.0 * s)) for s in (1e-300, 1.0)]
    assert fits[0].y_scale_[0] == pytest.approx(7e-300)  # a constant column is scaled by its mean
    np.testing.assert_allclose(fits[0].predict(X) / 1e-300, fits[1].predict(X), rtol=1e-12)


@pytest.mark.parametrize("alpha", [1e7, 1e308, np.inf, -1.0])
def test_alpha_beyond_its_range_is_refused(alpha):
    X, y = make_friedman1(50, n_features=5, random_state=0)
    with pytest.raises(ValueError, match="alpha"):
        en.EvoMLPRegressor(hidden_layer_sizes=(4,), alpha=alpha, max_iter=2, backend="numpy").fit(X, y)
