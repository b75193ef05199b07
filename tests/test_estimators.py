import copy
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris, make_regression
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import evoneuro as en
from evoneuro.estimators import EvoMLPClassifier, EvoMLPRegressor
from evoneuro.optimizers import get_optimizer

SMALL = dict(hidden_layer_sizes=(8,), max_iter=50, backend="numpy", optimizer="irprop+")
ES = dict(optimizer="es", optimizer_params={"popsize": 16, "sigma": 0.1, "learning_rate": 0.1})


def _float32_rounding(estimator):
    # float32 outputs differ by ~1e-7 relative (a regressor's rescaled by y_scale_, a
    # classifier's probabilities up to ~2e-6) when the rows are evaluated in another batch
    # (BLAS blocking differs with the row count); the float64 variants pass it.
    if estimator.dtype == "float32":
        return {"check_methods_subset_invariance": "float32 outputs vary in the last bits with the batch"}
    return {}


@parametrize_with_checks([
    EvoMLPClassifier(**SMALL),
    EvoMLPRegressor(**SMALL),
    EvoMLPRegressor(**SMALL, dtype="float64"),
    EvoMLPClassifier(**{**SMALL, **ES}),
    EvoMLPRegressor(**{**SMALL, **ES}),
    EvoMLPRegressor(**{**SMALL, **ES}, dtype="float64"),
], expected_failed_checks=_float32_rounding)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X, y


def test_exported():
    assert en.EvoMLPClassifier is EvoMLPClassifier
    assert en.EvoMLPRegressor is EvoMLPRegressor


def test_fitted_attributes(iris):
    X, y = iris
    clf = EvoMLPClassifier(hidden_layer_sizes=(5, 4), max_iter=30, backend="numpy", random_state=0).fit(X, y)
    assert clf.n_features_in_ == 4 and list(clf.classes_) == [0, 1, 2]
    assert [W.shape for W in clf.coefs_] == [(4, 5), (5, 4), (4, 3)]
    assert [b.shape for b in clf.intercepts_] == [(5,), (4,), (3,)]
    assert clf.params_.shape == (clf.net_.n_params,)
    np.testing.assert_array_equal(clf.net_.flatten(list(zip(clf.coefs_, clf.intercepts_))), clf.params_)
    assert clf.n_iter_ == len(clf.loss_curve_) == len(clf.history_) <= 30
    assert np.isfinite(clf.loss_) and clf.loss_ <= clf.loss_curve_[0]
    assert clf.optimizer_.name == "adam" and clf.optimizer_.initialized
    assert clf.validation_scores_ is None


def test_pipeline_and_cross_val_score(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), EvoMLPClassifier(**SMALL, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.85


def test_grid_search_over_optimizers(iris):
    X, y = iris
    grid = GridSearchCV(
        EvoMLPClassifier(**SMALL, random_state=0),
        [{"optimizer": ["irprop+"], "optimizer_params": [None, {"initial_step": 0.05}]},
         {"optimizer": ["es"], "optimizer_params": [{"popsize": 16, "sigma": 0.1, "learning_rate": 0.1}]}],
        cv=2,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 3
    assert grid.best_score_ > 0.8
    assert grid.best_estimator_.optimizer_.name == grid.best_params_["optimizer"]


def test_clone_keeps_params_and_drops_fit(iris):
    X, y = iris
    clf = EvoMLPClassifier(**SMALL, random_state=3).fit(X, y)
    c = clone(clf)
    assert c.get_params() == clf.get_params()
    assert not hasattr(c, "params_")


def test_optimizer_instance_is_not_mutated(iris):
    X, y = iris
    opt = get_optimizer("es", popsize=8)
    clf = EvoMLPClassifier(**{**SMALL, "optimizer": opt}, random_state=0).fit(X, y)
    assert not opt.initialized and clf.optimizer is opt
    assert clf.optimizer_ is not opt and clf.optimizer_.initialized
    with pytest.raises(ValueError, match="optimizer_params"):
        EvoMLPClassifier(**{**SMALL, "optimizer": opt}, optimizer_params={"popsize": 4}).fit(X, y)


@pytest.mark.parametrize("Est", [EvoMLPClassifier, EvoMLPRegressor])
def test_pickle_round_trip(iris, Est):
    X, y = iris
    est = Est(**{**SMALL, **ES}, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    again.set_params(warm_start=True).fit(X, y)  # the unpickled optimizer state continues


def test_string_labels_and_binary(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = EvoMLPClassifier(**SMALL, random_state=0).fit(X, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert set(clf.predict(X)) <= set(clf.classes_) and clf.score(X, names) > 0.8
    binary = names != "setosa"
    clf = EvoMLPClassifier(**SMALL, random_state=0).fit(X, np.where(binary, "yes", "no"))
    assert clf.net_.n_outputs == 2  # a two-unit softmax
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("kw", [{}, ES])
def test_same_random_state_same_predictions(iris, kw):
    X, y = iris
    a = EvoMLPClassifier(**{**SMALL, **kw}, random_state=7).fit(X, y)
    b = EvoMLPClassifier(**{**SMALL, **kw}, random_state=7).fit(X, y)
    np.testing.assert_array_equal(a.params_, b.params_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = EvoMLPClassifier(**{**SMALL, **kw}, random_state=8).fit(X, y)
    assert not np.array_equal(a.params_, c.params_)


@pytest.mark.parametrize("kw", [{}, ES])
def test_warm_start_continues_the_optimizer(iris, kw):
    X, y = iris
    common = dict(SMALL, max_iter=20, random_state=0, **kw)
    whole = EvoMLPClassifier(**{**common, "max_iter": 40}).fit(X, y)
    warm = EvoMLPClassifier(**common, warm_start=True).fit(X, y)
    opt = warm.optimizer_
    warm.fit(X, y)
    assert warm.optimizer_ is opt and warm.n_iter_ == 40
    assert [r["step"] for r in warm.history_] == list(range(1, 41))
    # the same optimizer object and state: bit-identical to one uninterrupted fit
    np.testing.assert_array_equal(warm.params_, whole.params_)
    np.testing.assert_array_equal(warm.loss_curve_, whole.loss_curve_)


def test_warm_start_with_another_optimizer_starts_from_params(iris):
    X, y = iris
    clf = EvoMLPClassifier(**SMALL, warm_start=True, random_state=0).fit(X, y)
    loss = clf.loss_
    clf.set_params(**ES).fit(X, y)
    assert clf.optimizer_.name == "es" and clf.n_iter_ > 50
    assert clf.loss_ < loss + 0.1  # starts where irprop+ ended, not from scratch
    with pytest.raises(ValueError, match="same network"):
        clf.set_params(hidden_layer_sizes=(3,)).fit(X, y)


def test_partial_fit(iris):
    X, y = iris
    clf = EvoMLPClassifier(**SMALL, random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])  # a class may be missing from a batch
    assert clf.n_iter_ == 1 and len(clf.classes_) == 3
    opt = clf.optimizer_
    losses = []
    for _ in range(30):
        clf.partial_fit(X, y)
        losses.append(clf.loss_)
    assert clf.optimizer_ is opt and clf.n_iter_ == 31
    assert losses[-1] < losses[0]
    with pytest.raises(ValueError, match="not among classes_"):
        clf.partial_fit(X, y + 10)
    with pytest.raises(ValueError, match="differs"):
        clf.partial_fit(X, y, classes=[0, 1])
    batched = EvoMLPClassifier(**{**SMALL, "optimizer": "adam"}, batch_size=50, random_state=0)
    batched.partial_fit(X, y, classes=[0, 1, 2])
    assert batched.n_iter_ == 3 and batched.n_evals_ == 3 * len(X)  # one pass = 3 minibatches
    reg = EvoMLPRegressor(**SMALL, random_state=0)
    reg.partial_fit(X[:, :3], X[:, 3]).partial_fit(X[:, :3], X[:, 3])
    assert reg.n_iter_ == 2


def test_early_stopping_keeps_best_validation_weights(iris):
    X, y = iris
    clf = EvoMLPClassifier(**{**SMALL, "max_iter": 200}, early_stopping=True, n_iter_no_change=5,
                           random_state=0).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert "val_score" in clf.history_[0]
    if clf.stop_reason_ == "early_stopping":
        assert clf.n_iter_ < 200


def test_budgets_and_verbose(iris, capsys):
    X, y = iris
    clf = EvoMLPClassifier(**SMALL, max_evals=20 * len(X) * 3, verbose=True, random_state=0).fit(X, y)
    assert clf.stop_reason_ == "max_evals" and clf.n_iter_ == 20
    assert "irprop+" in capsys.readouterr().err  # the tqdm bar


def test_regressor_multioutput_and_scaling():
    X, y = make_regression(n_samples=120, n_features=5, n_targets=2, noise=1.0, random_state=0)
    y = y * 1000.0 + 5e4  # far from the network's natural scale
    reg = EvoMLPRegressor(hidden_layer_sizes=(16,), activation="tanh", optimizer="irprop+", max_iter=200, backend="numpy",
                          random_state=0).fit(X, y)
    assert reg.predict(X).shape == (120, 2)
    assert reg.score(X, y) > 0.95
    np.testing.assert_allclose(reg.y_mean_, y.mean(axis=0))
    reg1 = clone(reg).fit(X, y[:, :1])
    assert reg1.predict(X).shape == (120, 1)
    assert clone(reg).fit(X, y[:, 0]).predict(X).shape == (120,)


def test_digits_with_irprop():
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    clf = EvoMLPClassifier(hidden_layer_sizes=(32,), optimizer="irprop+", max_iter=100, backend="numpy",
                           random_state=0).fit(X_tr, y_tr)
    assert clf.score(X_te, y_te) > 0.9


# --- bad input --------------------------------------------------------------------------

@pytest.mark.parametrize("Est", [EvoMLPClassifier, EvoMLPRegressor])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_input_raises_value_error(iris, Est, bad):
    X, y = iris
    Xb = X.copy()
    Xb[3, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        Est(**SMALL).fit(Xb, y)
    yb = y.astype(float)
    yb[5] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        Est(**SMALL).fit(X, yb)
    est = Est(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match="NaN|infinity"):
        est.predict(Xb)


def test_one_class_raises(iris):
    X, _ = iris
    with pytest.raises(ValueError, match="one class"):
        EvoMLPClassifier(**SMALL).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="Unknown label type"):
        EvoMLPClassifier(**SMALL).fit(X, np.linspace(0, 1, len(X)))


@pytest.mark.parametrize("Est", [EvoMLPClassifier, EvoMLPRegressor])
def test_mismatched_lengths_and_features(iris, Est):
    X, y = iris
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        Est(**SMALL).fit(X, y[:-1])
    est = Est(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :3])


@pytest.mark.parametrize("Est", [EvoMLPClassifier, EvoMLPRegressor])
def test_sparse_input_is_a_type_error(iris, Est):
    X, y = iris
    with pytest.raises(TypeError, match="[Ss]parse"):
        Est(**SMALL).fit(sp.csr_matrix(X), y)
    est = Est(**SMALL).fit(X, y)
    with pytest.raises(TypeError, match="[Ss]parse"):
        est.predict(sp.csr_matrix(X))


@pytest.mark.parametrize("params, match", [
    ({"optimizer": "nope"}, "optimizer must be one of"),
    ({"init": "nope"}, "init"),
    ({"init": -1.0}, "init"),
    ({"init": np.zeros(3)}, "init"),
    ({"init": None}, "init"),
    ({"batch_size": 0}, "batch_size"),
    ({"n_jobs": 0}, "n_jobs"),
    ({"hidden_layer_sizes": (4, 0)}, "hidden"),
    ({"max_iter": 0}, "max_iter"),
    ({"activation": "swish"}, "activation"),
    ({"optimizer_params": {"no_such": 1}}, "no_such"),
])
def test_bad_parameters(iris, params, match):
    X, y = iris
    with pytest.raises((ValueError, TypeError), match=match):
        EvoMLPClassifier(**{**SMALL, **params}).fit(X, y)


def test_deepcopy_of_fitted_estimator_predicts_the_same(iris):
    X, y = iris
    clf = EvoMLPClassifier(**SMALL, random_state=0).fit(X, y)
    np.testing.assert_array_equal(copy.deepcopy(clf).predict_proba(X), clf.predict_proba(X))


# --- defaults: budgets, start, minibatch -----------------------------------------------

@pytest.mark.parametrize("optimizer", ["adam", "sep-cmaes", "es"])
def test_a_given_budget_governs_alone(iris, optimizer):
    # no max_iter default and no stopping on the training loss: the budget set is what ends a fit
    X, y = iris
    clf = EvoMLPClassifier(hidden_layer_sizes=(4,), optimizer=optimizer, max_evals=3_000_000,
                           backend="numpy", random_state=0).fit(X, y)
    assert clf.stop_reason_ == "max_evals"
    assert clf.n_evals_ <= 3_000_000 and clf.n_iter_ > 50
    clf = EvoMLPClassifier(hidden_layer_sizes=(4,), optimizer=optimizer, max_time=0.5,
                           backend="numpy", random_state=0).fit(X, y)
    assert clf.stop_reason_ == "max_time"



@pytest.mark.parametrize("init", ["auto", "glorot", "critical", 4.0,
                                  lambda net, rng, X: net.init(rng, "orthogonal")])
def test_init_variants(iris, init):
    X, y = iris
    clf = EvoMLPClassifier(**{**SMALL, "init": init}, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.6


def test_init_vector_is_the_start(iris):
    X, y = iris
    first = EvoMLPClassifier(**SMALL, random_state=0).fit(X, y)
    again = EvoMLPClassifier(**{**SMALL, "init": first.params_, "max_iter": 1}, random_state=1).fit(X, y)
    # one Rprop step from the given vector moves every weight by at most its first step size
    assert np.abs(again.params_ - first.params_).max() <= 0.0125 + 1e-12
    with pytest.raises(ValueError, match="init"):
        EvoMLPClassifier(**{**SMALL, "init": first.params_[:-1]}).fit(X, y)


def test_batch_size_auto(iris):
    X, y = load_digits(return_X_y=True)
    clf = EvoMLPClassifier(hidden_layer_sizes=(8,), optimizer="es", max_iter=3, early_stopping=False,
                           backend="numpy", random_state=0).fit(X[:600] / 16, y[:600])
    assert clf.n_evals_ == clf.optimizer_.popsize * (256 + 344 + 256)  # 256 + the remainder, then a new pass
    clf = EvoMLPClassifier(hidden_layer_sizes=(8,), optimizer="irprop+", max_iter=3, early_stopping=False,
                           backend="numpy", random_state=0).fit(X[:600] / 16, y[:600])
    assert clf.n_evals_ == 3 * 3 * 600  # Rprop takes the full batch (forward + backward)


def test_partial_fit_is_one_pass(iris):
    X, y = load_digits(return_X_y=True)
    clf = EvoMLPClassifier(hidden_layer_sizes=(8,), backend="numpy", random_state=0)
    clf.partial_fit(X[:600] / 16, y[:600], classes=np.arange(10))
    # batches of 256 and 344 rows (the remainder 88 is under half a batch): every row once
    assert clf.n_iter_ == 2 and clf.n_evals_ == 3 * 600


def test_compile_seconds_reported(iris):
    X, y = iris
    clf = EvoMLPClassifier(**SMALL, random_state=0).fit(X, y)
    assert isinstance(clf.compile_seconds_, float) and clf.compile_seconds_ >= 0.0


def test_early_stopping_on_too_few_samples_names_validation_fraction():
    X = np.arange(12.0).reshape(6, 2)
    y = np.array([0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match="validation_fraction"):
        EvoMLPClassifier(**SMALL, early_stopping=True).fit(X, y)


def test_early_stopping_patience_counts_passes(iris):
    X, y = load_digits(return_X_y=True)
    clf = EvoMLPClassifier(hidden_layer_sizes=(8,), optimizer="adam", max_iter=400, early_stopping=True,
                           n_iter_no_change=3, backend="numpy", random_state=0).fit(X[:900] / 16, y[:900])
    per_pass = 3  # 810 training rows: batches of 256, 256 and 298
    assert len(clf.validation_scores_) == clf.n_iter_ // per_pass
