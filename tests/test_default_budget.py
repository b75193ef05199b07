"""The estimators' defaults with nothing set: held-out stopping, the budget cap, the regressor's start."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_friedman1
from sklearn.exceptions import ConvergenceWarning

import evoneuro as en
from evoneuro.estimators._base import AUTO_MIN_VALIDATION
from evoneuro.optimizers.registry import get_class
from evoneuro.training import defaults
from evoneuro.training.callbacks import EarlyStopping
from evoneuro.training.lsuv import data_init


@pytest.fixture(scope="module")
def friedman():
    X, y = make_friedman1(400, noise=1.0, random_state=0)
    return X, 100.0 * y + 5e3  # a target scale far from 1


@pytest.fixture
def short_cap(monkeypatch):
    """A smaller step cap, read when a fit starts, to keep these tests fast."""
    monkeypatch.setattr(defaults, "DEFAULT_MIN_STEPS", 500)
    monkeypatch.setattr(defaults, "DEFAULT_MAX_EPOCHS", 100)


def test_small_data_is_not_held_out_and_takes_the_minimum_steps(short_cap):
    X, y = load_iris(return_X_y=True)  # 150 rows: 15 would be held out, below the rule's 20
    clf = en.EvoMLPClassifier(hidden_layer_sizes=(4,), backend="numpy", random_state=0).fit(X, y)
    assert clf.validation_scores_ is None
    assert clf.n_iter_ == defaults.DEFAULT_MIN_STEPS and clf.stop_reason_ == "max_steps"
    assert clf.score(X, y) > 0.7  # 500 full-batch steps of Adam on raw iris


def test_auto_holds_out_from_the_documented_size_on(friedman, short_cap):
    X, y = friedman
    n_on = 10 * AUTO_MIN_VALIDATION  # ceil(0.1 * 200) = 20 rows held out
    reg = en.EvoMLPRegressor(hidden_layer_sizes=(8,), activation="tanh", backend="numpy", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a smooth target may still improve at the cap
        reg.fit(X[:n_on], y[:n_on])
    assert reg.validation_scores_ is not None
    assert reg.fit(X[:n_on - 11], y[:n_on - 11]).validation_scores_ is None
    assert en.EvoMLPRegressor(hidden_layer_sizes=(8,), early_stopping=False, backend="numpy",
                              random_state=0).fit(X, y).validation_scores_ is None
    for budget in ({"max_iter": 5}, {"max_evals": 10_000}, {"max_time": 0.5}):  # spent as given
        reg = en.EvoMLPRegressor(hidden_layer_sizes=(8,), backend="numpy", random_state=0, **budget).fit(X, y)
        assert reg.validation_scores_ is None and reg.stop_reason_ != "early_stopping"
    reg = en.EvoMLPRegressor(hidden_layer_sizes=(8,), max_iter=5, early_stopping=True, backend="numpy").fit(X, y)
    assert len(reg.validation_scores_) >= 1


def test_auto_needs_two_rows_of_every_class():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = np.r_[np.zeros(299, int), 1]  # class 1 once: no stratified split
    clf = en.EvoMLPClassifier(hidden_layer_sizes=(4,), max_iter=3, backend="numpy", random_state=0).fit(X, y)
    assert clf.validation_scores_ is None
    with pytest.raises(ValueError):  # asked for explicitly, the split is refused as before
        en.EvoMLPClassifier(hidden_layer_sizes=(4,), max_iter=3, early_stopping=True, backend="numpy").fit(X, y)


def test_default_fit_of_a_noisy_regression_stops_on_held_out_data_and_beats_the_mean(friedman, short_cap):
    X, y = friedman
    Xtr, Xte, ytr, yte = X[:300], X[300:], y[:300], y[300:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the shortened cap may end it first
        reg = en.EvoMLPRegressor(hidden_layer_sizes=(16,) * 3, activation="tanh", backend="numpy",
                                 random_state=0).fit(Xtr, ytr)
    assert reg.stop_reason_ in ("early_stopping", "max_steps")
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert reg.score(Xte, yte) > 0.5


def test_regressor_starts_near_the_mean():
    X, y = make_friedman1(300, random_state=0)
    reg = en.EvoMLPRegressor(hidden_layer_sizes=(16,), activation="tanh", max_iter=1, early_stopping=False,
                             optimizer="sgd", optimizer_params={"learning_rate": 1e-12}, backend="numpy",
                             random_state=0).fit(X, y)
    assert np.std(reg.predict(X)) <= 1.5 * reg._output_scale * np.std(y)  # near the mean
    assert abs(float(reg.intercepts_[-1][0])) < 1e-6
    given = en.EvoMLPRegressor(hidden_layer_sizes=(16,), init=reg.params_ * 2, max_iter=1, early_stopping=False,
                               optimizer="sgd", optimizer_params={"learning_rate": 1e-12}, backend="numpy").fit(X, y)
    np.testing.assert_allclose(given.params_, reg.params_ * 2, atol=1e-9)  # a given start is left alone


def test_cap_ends_a_held_out_fit_with_a_convergence_warning(friedman, monkeypatch):
    X, y = friedman
    monkeypatch.setattr(defaults, "DEFAULT_MAX_WORK", 2e6)
    reg = en.EvoMLPRegressor(hidden_layer_sizes=(8,), backend="numpy", random_state=0)
    with pytest.warns(ConvergenceWarning, match="default budget"):
        reg.fit(X, y)
    assert reg.stop_reason_ == "max_evals"
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a budget given is not a cap
        en.EvoMLPRegressor(hidden_layer_sizes=(8,), max_iter=3, backend="numpy", random_state=0).fit(X, y)


def test_default_budget_scales_with_passes_and_weights():
    net = en.MLP(10, (32,), 2)
    assert defaults.default_budget(net, 1) == {"max_steps": defaults.DEFAULT_MIN_STEPS,
                                               "max_evals": int(defaults.DEFAULT_MAX_WORK / net.n_params)}
    assert defaults.default_budget(net, 50)["max_steps"] == 50 * defaults.DEFAULT_MAX_EPOCHS


def test_explicit_budgets_keep_their_meaning(friedman):
    X, y = friedman
    reg = en.EvoMLPRegressor(hidden_layer_sizes=(8,), max_iter=7, early_stopping=False, backend="numpy").fit(X, y)
    assert reg.n_iter_ == 7 and reg.stop_reason_ == "max_steps"


def test_early_stopping_waits_for_min_steps():
    stop = EarlyStopping(patience=2, monitor="val_score", min_steps=10)
    records = [{"step": s, "val_score": v} for s, v in [(1, 1.0), (2, 0.5), (3, 0.5), (4, 0.5), (11, 0.5)]]
    assert [stop.on_step(None, r) for r in records] == [False, False, False, False, True]
    with pytest.raises(ValueError):
        EarlyStopping(min_steps=-1)


def test_patience_steps_is_checked_on_the_class():
    assert get_class("adam")[0].patience_steps == 1000
    assert get_class("irprop+")[0].patience_steps == 100 and get_class("sep-cmaes")[0].patience_steps == 2000
    from evoneuro.optimizers.base import Optimizer

    with pytest.raises(TypeError, match="patience_steps"):
        type("Bad", (Optimizer,), {"patience_steps": 2.5})


def test_tanh_units_start_with_the_measured_spread():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    for act, std in (("tanh", 0.3), ("sigmoid", 1.0), ("lecun_tanh", 0.3 * 1.5)):
        net = en.MLP(5, (16, 16), 3, activation=act)
        _, zs = en.Evaluator(net, dtype="float64").forward(data_init(net, X, rng), X, return_hidden=True)
        np.testing.assert_allclose([z[0].std(axis=0).mean() for z in zs[:-1]], std, rtol=1e-6)
