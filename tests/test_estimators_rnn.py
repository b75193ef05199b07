"""EvoRNNClassifier / EvoRNNRegressor: sequences in, scikit-learn's conventions out."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import evoneuro as en
from evoneuro.estimators import pad_sequences

FAST = dict(hidden_layer_sizes=(6,), max_iter=60, backend="numpy", random_state=0)


@pytest.fixture(scope="module")
def seqs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 8, 2))
    y = (X[:, 0, 0] > 0).astype(int)  # the class sits in the first step
    return X, y


def test_classifier_fits_and_predicts_sequences(seqs):
    X, y = seqs
    clf = en.EvoRNNClassifier(cell="gru", **{**FAST, "max_iter": 300}).fit(X, y)
    assert clf.n_features_in_ == 2 and clf.classes_.tolist() == [0, 1]
    assert clf.predict(X).shape == (90,) and clf.predict_proba(X).shape == (90, 2)
    assert clf.score(X, y) > 0.8
    assert [W.shape for W in clf.coefs_] == [(2 + 6, 3 * 6), (6, 2)]  # [W_i; W_h] of 3 GRU gates, readout
    assert clf.loss_ < clf.loss_curve_[0]


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_regressor_on_one_feature_per_step(cell):
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(80, 6))  # (N, T): one feature per step
    y = X.mean(axis=1)
    reg = en.EvoRNNRegressor(cell=cell, **FAST).fit(X, y)
    assert reg.n_features_in_ == 1 and reg.predict(X).shape == (80,)
    assert reg.predict(X[:, :, None]).shape == (80,)  # (N, T, 1) is the same input


def test_lengths_mask_the_padding(seqs):
    X, y = seqs
    lengths = np.random.default_rng(2).integers(1, 9, len(X))
    clf = en.EvoRNNClassifier(**FAST).fit(X, y, lengths=lengths)
    garbage = X.copy()
    for i, n in enumerate(lengths):
        garbage[i, n:] = 1e3  # what is after a sequence's end must not matter
    np.testing.assert_allclose(clf.predict_proba(X, lengths), clf.predict_proba(garbage, lengths))
    one = [X[i, : lengths[i]] for i in range(5)]
    padded, lens = pad_sequences(one)
    np.testing.assert_allclose(clf.predict_proba(padded, lens), clf.predict_proba(X[:5], lengths[:5]), rtol=1e-5)
    assert clf.score(X, y, lengths=lengths) == pytest.approx(np.mean(clf.predict(X, lengths) == y))


def test_same_seed_same_fit_and_early_stopping_with_lengths(seqs):
    X, y = seqs
    lengths = np.full(len(X), 8)
    kw = dict(FAST, early_stopping=True, validation_fraction=0.2)
    a = en.EvoRNNClassifier(**kw).fit(X, y, lengths=lengths)
    b = en.EvoRNNClassifier(**kw).fit(X, y, lengths=lengths)
    np.testing.assert_array_equal(a.params_, b.params_)
    assert a.validation_scores_


def test_clone_pickle_pipeline_and_grid_search(seqs):
    X, y = seqs
    clf = en.EvoRNNClassifier(**FAST)
    assert clone(clf).get_params() == clf.get_params()
    fitted = clf.fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))
    pipe = make_pipeline(FunctionTransformer(lambda Z: Z / 2), en.EvoRNNClassifier(**FAST)).fit(X, y)
    assert pipe.predict(X).shape == (90,)
    grid = GridSearchCV(en.EvoRNNClassifier(**FAST), {"cell": ["elman", "gru"]}, cv=2, error_score="raise").fit(X, y)
    assert grid.best_params_["cell"] in ("elman", "gru")


def test_partial_fit_continues(seqs):
    X, y = seqs
    clf = en.EvoRNNClassifier(**FAST)
    clf.partial_fit(X, y, classes=[0, 1])
    steps = clf.n_iter_
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 2 * steps


@pytest.mark.parametrize("bad, match", [
    (lambda X: X[:, :, 0], "feature"),                      # 2-D X for a net fitted on 2 features
    (lambda X: X[:, :, :1], "feature"),
    (lambda X: X[0], "dimensions|2D|3D|feature"),
])
def test_predict_with_the_wrong_shape_is_a_clear_error(seqs, bad, match):
    X, y = seqs
    clf = en.EvoRNNClassifier(**{**FAST, "max_iter": 5}).fit(X, y)
    with pytest.raises(ValueError, match=match):
        clf.predict(bad(X))


def test_bad_inputs_are_clear_errors(seqs):
    X, y = seqs
    with pytest.raises(ValueError, match="different lengths.*lengths="):
        en.EvoRNNClassifier(**FAST).fit([np.zeros((3, 2)), np.zeros((5, 2))], [0, 1])
    Xn = X.copy()
    Xn[0, 3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        en.EvoRNNClassifier(**FAST).fit(Xn, y)
    with pytest.raises(ValueError, match="lengths"):
        en.EvoRNNClassifier(**FAST).fit(X, y, lengths=np.full(len(X), 9))  # longer than the 8 steps
    with pytest.raises(ValueError, match="dropout"):
        en.EvoRNNClassifier(**{**FAST, "dropout": 0.1}).fit(X, y)
    with pytest.raises(ValueError, match="n_features|dimensions|4"):
        en.EvoRNNClassifier(**FAST).fit(X[..., None], y)
    with pytest.raises(ValueError, match="lengths is for sequence"):
        en.EvoMLPClassifier(**FAST).fit(X[:, :, 0], y) and None or en.EvoMLPClassifier(**FAST)._fit(
            X[:, :, 0], y, incremental=False, lengths=np.ones(len(X), int))


def test_gradient_free_optimizer_trains_a_recurrent_estimator(seqs):
    X, y = seqs
    clf = en.EvoRNNClassifier(hidden_layer_sizes=(6,), cell="elman", optimizer="snes", max_evals=2_000_000,
                              backend="numpy", random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.7


@pytest.mark.parametrize("X, err, match", [
    (np.zeros(12), ValueError, r"X must be sequences: an array of shape \(n_samples, n_steps, n_features\).*"
                               r"got a 1-D array of shape \(12,\); X\[None\] is one sequence"),
    (None, TypeError, "X must be sequences.*got NoneType"),
    ("sequences", TypeError, "X must be sequences.*got str"),
    (np.full((12, 5), "a"), TypeError, "X must hold real numbers, got dtype <U1. X must be sequences"),
    (np.zeros((12, 5)) + 1j, ValueError, "Complex data not supported: X must hold real numbers.*sequences"),
    (np.array([np.zeros(3), np.zeros(2)] * 6, dtype=object), ValueError,
     "object array of sequences of different lengths.*pad_sequences"),
    ([np.zeros((3, 1)), np.zeros((2, 1))] * 6, ValueError, r"different shapes \[\(2, 1\), \(3, 1\)\].*pad_sequences"),
    (np.zeros((12, 2, 2, 2)), ValueError, "X must be sequences.*got a 4-D array"),
    (np.zeros((12, 0, 1)), ValueError, "at least one step"),
])
def test_sequence_input_errors_name_x_as_sequences(X, err, match):
    y = np.arange(12) % 2
    for make in (en.EvoRNNClassifier, en.EvoRNNRegressor):
        with pytest.raises(err, match=match):
            make(**FAST).fit(X, y)
    fitted = en.EvoRNNClassifier(**{**FAST, "max_iter": 2}).fit(np.zeros((12, 5)), y)
    with pytest.raises(err, match=match):
        fitted.predict(X)


def test_init_pretrain_on_a_recurrent_estimator_says_pretraining_is_for_mlps():
    X, y = np.random.default_rng(0).normal(size=(12, 5)), np.arange(12) % 2
    with pytest.raises(ValueError, match="init='pretrain' is greedy layer-wise pretraining of an MLP.*RNNs"):
        en.EvoRNNClassifier(**{**FAST, "init": "pretrain"}).fit(X, y)
