"""EvoPyramidRegressor, the image degradations and the pyramid's diagnostics."""

import pickle

import numpy as np
import pytest

import evoneuro as en
from evoneuro.diagnostics import diagnose
from evoneuro.diagnostics.pyramid import PyramidReport, level_gradients
from evoneuro.estimators import pyramid_data_init
from evoneuro.tasks.images import add_noise, downsample, image_task, load_digits_images, occlude, upsample


@pytest.fixture(scope="module")
def task():
    return image_task("occlusion", size=8, n_train=40, n_test=20, random_state=0)


def small_regressor(**kw):
    opts = dict(levels=2, features=(4, 4), iterations=3, max_iter=25, backend="numpy", random_state=0)
    opts.update(kw)
    return en.EvoPyramidRegressor(**opts)


# --- the estimator -----------------------------------------------------------------------------


def test_fit_predict_score_and_reproducible(task):
    a = small_regressor().fit(task.X_train, task.y_train)
    b = small_regressor().fit(task.X_train, task.y_train)
    np.testing.assert_array_equal(a.params_, b.params_)
    pred = a.predict(task.X_test)
    assert pred.shape == task.y_test.shape and (pred >= 0).all() and (pred <= 1).all()
    assert a.n_iter_ == 25 and a.loss_curve_[-1] < a.loss_curve_[0]
    assert a.score(task.X_test, task.y_test) == pytest.approx(
        1 - ((pred - task.y_test) ** 2).sum() / ((task.y_test - task.y_test.mean()) ** 2).sum())
    assert isinstance(a.net_, en.Pyramid) and a.image_shape_ == (8, 8)


@pytest.mark.parametrize("optimizer", ["adam", "sep-cmaes"])
def test_any_optimizer_by_name(task, optimizer):
    reg = small_regressor(optimizer=optimizer, max_iter=5).fit(task.X_train, task.y_train)
    assert reg.optimizer_.name == optimizer and np.isfinite(reg.loss_)


def test_early_stopping_holds_images_out(task):
    reg = small_regressor(early_stopping=True, max_iter=30, validation_fraction=0.25)
    reg.fit(task.X_train, task.y_train)
    assert reg.validation_scores_ and reg.best_validation_score_ == max(reg.validation_scores_)


def test_warm_start_continues_and_pickles(task):
    reg = small_regressor(max_iter=5, warm_start=True).fit(task.X_train, task.y_train)
    reg.fit(task.X_train, task.y_train)
    assert reg.n_iter_ == 10
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(again.predict(task.X_test), reg.predict(task.X_test))


def test_auto_start_is_the_data_dependent_start(task):
    reg = small_regressor(max_iter=1, optimizer="sgd", optimizer_params={"learning_rate": 1e-12})
    reg.fit(task.X_train, task.y_train)
    net = reg.net_
    _, zs = en.Evaluator(net, dtype="float64").forward(reg.params_, task.X_train[:64], return_hidden=True)
    assert all(0.5 < z.std() < 1.5 for z in zs[:-1])  # Glorot's start gives spreads far from 1 here
    glorot = small_regressor(max_iter=1, init="glorot", optimizer="sgd", optimizer_params={"learning_rate": 1e-12})
    glorot.fit(task.X_train, task.y_train)
    assert not np.allclose(glorot.params_, reg.params_)


def test_bad_inputs_name_the_argument(task):
    with pytest.raises(ValueError, match="X must be images"):
        small_regressor().fit(task.X_train.reshape(40, -1), task.y_train)
    with pytest.raises(ValueError, match="y must hold one target image"):
        small_regressor().fit(task.X_train, task.y_train[:5])
    with pytest.raises(ValueError, match=r"y must lie in \[0, 1\]"):
        small_regressor().fit(task.X_train, task.y_train * 2)
    with pytest.raises(ValueError, match="divisible by 2"):
        small_regressor(levels=5, features=4).fit(task.X_train, task.y_train)
    with pytest.raises(TypeError, match="X must hold numbers"):
        small_regressor().fit(np.full((4, 8, 8), "a"), task.y_train[:4])
    reg = small_regressor(max_iter=2).fit(task.X_train, task.y_train)
    with pytest.raises(ValueError, match=r"X must hold images of shape \(8, 8\) as in fit"):
        reg.predict(np.zeros((3, 16, 16)))


def test_pyramid_data_init_standardises_every_level():
    net = en.Pyramid((16, 16), 3, (4, 8, 8), iterations=4)
    X = load_digits_images(16)[0][:64]
    theta = pyramid_data_init(net, X, 0)
    _, zs = en.Evaluator(net, dtype="float64").forward(theta, X, return_hidden=True)
    assert all(0.5 < z.std() < 1.5 for z in zs[:-1])
    np.testing.assert_array_equal(theta, pyramid_data_init(net, X, 0))


# --- degradations --------------------------------------------------------------------------------


def test_digits_images_and_upsampling():
    images, labels = load_digits_images(8)
    big, _ = load_digits_images(16)
    assert images.shape == (1797, 8, 8) and big.shape == (1797, 16, 16) and len(labels) == 1797
    np.testing.assert_allclose(upsample(np.full((2, 3, 4), 0.7), 4), 0.7)  # a constant stays constant
    up = upsample(images[:5], 2)
    assert up.min() >= images[:5].min() and up.max() <= images[:5].max()  # bilinear: no overshoot
    # output pixel 2i+1 sits a quarter of the way from input pixel i to i+1 (pixel centres aligned)
    expect = 0.75 * images[:5, :-1] + 0.25 * images[:5, 1:]
    np.testing.assert_allclose(upsample(images[:5], 2)[:, 1:-1:2, 0], expect[:, :, 0])
    with pytest.raises(ValueError, match="size must be a multiple of 8"):
        load_digits_images(12)


def test_occlusion_is_a_block_of_constant_inside_the_margin():
    X, mask = occlude(np.zeros((50, 16, 16)), block=6, value=0.3, margin=2, random_state=1)
    assert (mask.sum(axis=(1, 2)) == 36).all() and (X[mask] == 0.3).all() and (X[~mask] == 0).all()
    assert not mask[:, :2].any() and not mask[:, -2:].any() and not mask[:, :, :2].any()
    with pytest.raises(ValueError, match="must fit in the image"):
        occlude(np.zeros((2, 8, 8)), block=8, margin=1)


def test_noise_and_contrast_and_downsampling():
    clean = load_digits_images(16)[0][:20]
    X, mask = add_noise(clean, noise=0.0, contrast=(0.5, 0.5), random_state=0)
    assert mask.all() and np.allclose(X.max(axis=(1, 2)) - X.min(axis=(1, 2)), 0.5 * (clean.max(axis=(1, 2))
                                                                                      - clean.min(axis=(1, 2))))
    low, mask = downsample(clean, 4)
    assert mask.all() and np.allclose(low.mean(axis=(1, 2)), clean.mean(axis=(1, 2)))
    assert len(np.unique(low[0])) <= 16
    with pytest.raises(ValueError, match="contrast must be a range"):
        add_noise(clean, contrast=(0.0, 2.0))
    with pytest.raises(ValueError, match="factor must divide"):
        downsample(clean, 3)


def test_image_task_splits_distinct_digits_and_scores():
    task = image_task("noise", n_train=30, n_test=10, random_state=2)
    assert task.X_train.shape == (30, 16, 16) and task.y_test.shape == (10, 16, 16)
    flat = {x.tobytes() for x in task.y_train}
    assert not any(x.tobytes() in flat for x in task.y_test)
    assert task.errors(task.y_test) == {"all": 0.0, "degraded": 0.0}
    with pytest.raises(ValueError, match="degradation must be one of"):
        image_task("blur")


# --- diagnostics -------------------------------------------------------------------------------


def test_level_gradients_are_the_bptt_state_gradients():
    net = en.Pyramid((8, 8), 3, (2, 3, 2), iterations=4, read="last")
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(4, 8, 8)), rng.uniform(size=(4, 8, 8))
    theta = net.init(0, gain=2.0)
    gs, gk = level_gradients(net, theta, X, y)
    # the output is read at t=4 only: level l's state at t feeds the output after l more
    # iterations (level 0 reads level 1, which reads level 2), so later states get nothing
    assert gs[0, 3] > 0 and gs[1, 2] > 0 and gs[2, 1] > 0
    assert gs[1, 3] == gs[2, 3] == gs[2, 2] == 0
    _, G = en.Evaluator(net, dtype="float64").loss_and_grad(theta, X, y)
    np.testing.assert_allclose(gk, [np.linalg.norm(G[0, s.w_start:s.end]) for s in net.layers])


def test_diagnose_takes_a_pyramid_and_plots(tmp_path):
    net = en.Pyramid((8, 8), 2, (2, 4), iterations=3)
    X = np.random.default_rng(0).uniform(size=(4, 8, 8))
    rep = diagnose(net, net.init(0), X, X)
    assert isinstance(rep, PyramidReport) and len(rep.rows()) == 6
    # read at every iteration, the last iteration's level 1 still feeds no later output
    assert "level" in rep.table() and rep.vanished(ratio=0.0) == [(1, 3)]
    pytest.importorskip("matplotlib")
    assert rep.plot(tmp_path / "p.png").exists()
