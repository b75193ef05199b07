"""Trainer, minimize, FitnessProblem and the callbacks."""

import io
import pickle
import time
import warnings

import numpy as np
import pytest

import evoneuro as en


def sphere(x, c=0.0):
    return float(np.sum((x - c) ** 2))


def sphere_grad(x, c=0.0):
    return 2 * (x - c)


def sphere_rows(Theta):
    return np.sum(Theta**2, axis=1)


def make_problem(batch_size=None, n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] - X[:, 2] > 0).astype(int)
    net = en.MLP(4, (6,), 2, activation="sigmoid")
    return en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y, batch_size=batch_size)


def same_run(a, b):
    np.testing.assert_array_equal(a.x, b.x)
    assert a.fun == b.fun and a.n_steps == b.n_steps and a.n_evals == b.n_evals
    assert a.stop_reason == b.stop_reason
    for key in ("step", "evals", "loss", "best_loss"):
        np.testing.assert_array_equal(a.history[key], b.history[key])


# --- budgets -------------------------------------------------------------------------


def test_max_steps():
    res = en.Trainer(make_problem(), "adam", max_steps=7, random_state=0).run()
    assert (res.n_steps, res.stop_reason, len(res.history)) == (7, "max_steps", 7)


def test_max_evals_never_exceeded_with_constant_step_cost():
    prob = make_problem(batch_size=20)  # one gradient step costs 3 * 20 = 60
    res = en.Trainer(prob, "sgd", max_evals=1000, random_state=0).run()
    assert res.stop_reason == "max_evals"
    assert res.n_evals == 960 and res.n_steps == 16
    assert res.history["evals"][-1] == res.n_evals


def test_max_evals_counts_only_this_trainer():
    prob = make_problem()
    prob.evals = 12345  # spent elsewhere
    res = en.Trainer(prob, "sgd", max_evals=600, random_state=0).run()
    assert res.n_evals == 540


def test_max_time():
    def slow(x):
        time.sleep(0.005)
        return sphere(x)

    res = en.minimize(slow, [1.0], "irprop-", max_time=0.1, grad=sphere_grad)
    assert res.stop_reason == "max_time"
    assert res.seconds >= 0.1 and res.n_steps >= 1


@pytest.mark.parametrize("optimizer", ["snes", "random"])
def test_max_time_stops_within_one_step_or_five_percent(optimizer):
    # A deliberately slow fitness whose every 7th call is ten times slower: steps of
    # uneven length. The run ends within one step of the limit (the longest step it took),
    # or 5 % of it, whichever is larger; the set-up and result add little around it.
    calls = [0]

    def slow(x):
        calls[0] += 1
        time.sleep(0.02 if calls[0] % 7 == 0 else 0.002)
        return sphere(x)

    limit = 0.6
    t0 = time.perf_counter()
    res = en.minimize(slow, np.ones(3), optimizer, max_time=limit, random_state=0)
    wall = time.perf_counter() - t0 - res.compile_seconds
    steps = np.diff([0.0] + [r["seconds"] for r in res.history.records])
    allowed = max(steps.max(), 0.05 * limit)
    assert res.stop_reason == "max_time" and res.n_steps >= 3
    assert limit <= res.seconds <= limit + allowed
    assert wall <= limit + allowed + 0.5  # outside the loop: the optimizer's set-up, the result


def test_minimize_default_budget_warns_only_when_it_cut_the_run_short():
    from evoneuro.training.defaults import default_budget
    from evoneuro.training.defaults import DEFAULT_EVALS_PER_PARAM, default_run_budget

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a run that converged within the default: no warning
        res = en.minimize(sphere, np.ones(3), "cmaes", random_state=0)
    budget = default_run_budget(en.FitnessProblem(sphere, 3))
    assert budget == {"max_evals": 3 * DEFAULT_EVALS_PER_PARAM}
    assert res.stop_reason == "max_evals" and res.n_evals <= budget["max_evals"] and res.fun < 1e-20

    def rosenbrock(x):
        return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))

    with pytest.warns(UserWarning, match=r"default budget \(max_evals=20,000\) ended the run"):
        res = en.minimize(rosenbrock, np.zeros(20), "snes", random_state=0)
    assert res.n_evals <= 20_000
    net_problem = make_problem(batch_size=20)  # a network problem: the estimators' cap
    assert default_run_budget(net_problem) == default_budget(net_problem.net, net_problem.steps_per_epoch)


def test_target_in_the_users_sign():
    res = en.minimize(sphere, [1.0, 1.0], "sgd", {"learning_rate": 0.1}, max_steps=1000,
                      target=1e-3, grad=sphere_grad)
    assert res.stop_reason == "target" and res.fun <= 1e-3 and res.n_steps < 1000
    res = en.minimize(lambda x: -sphere(x), [1.0, 1.0], "sgd", {"learning_rate": 0.1}, max_steps=1000,
                      target=-1e-3, maximize=True, grad=lambda x: -sphere_grad(x))
    assert res.stop_reason == "target" and res.fun >= -1e-3


def test_budget_required_and_checked():
    prob = make_problem()
    with pytest.raises(ValueError, match="at least one budget"):
        en.Trainer(prob, "sgd")
    with pytest.raises(ValueError, match="at least one budget"):
        en.Trainer(prob, "sgd", target=0.1)
    with pytest.raises(ValueError, match="max_steps"):
        en.Trainer(prob, "sgd", max_steps=0)
    with pytest.raises(TypeError, match="max_evals"):
        en.Trainer(prob, "sgd", max_evals=1.5)
    with pytest.raises(ValueError, match="max_time"):
        en.Trainer(prob, "sgd", max_time=-1)
    with pytest.raises(TypeError, match="problem"):
        en.Trainer("not a problem", "sgd", max_steps=1)
    with pytest.raises(TypeError, match="random_state"):
        en.Trainer(prob, "sgd", max_steps=1, random_state="zero")


def test_run_overrides_and_continues():
    trainer = en.Trainer(make_problem(), "adam", max_steps=10, random_state=0)
    first = trainer.run(max_steps=4)
    assert (first.n_steps, first.stop_reason) == (4, "max_steps")
    second = trainer.run()
    assert second.n_steps == 10 and len(second.history) == 10
    assert len(first.history) == 4  # results hold snapshots


# --- interruption and errors ---------------------------------------------------------


class InterruptAt(en.Callback):
    def __init__(self, step):
        self.step = step

    def on_step(self, trainer, record):
        if record["step"] == self.step:
            raise KeyboardInterrupt


def test_ctrl_c_returns_best_so_far():
    res = en.Trainer(make_problem(), "irprop+", max_steps=50, callbacks=[InterruptAt(5)],
                     random_state=0).run()
    assert res.stop_reason == "interrupted"
    assert res.n_steps == 5 and len(res.history) == 5
    assert res.fun == res.history["best_loss"][-1]


def test_exception_keeps_the_run():
    calls = []

    def flaky(x):
        calls.append(1)
        if len(calls) == 6:
            raise ArithmeticError("boom")
        return sphere(x)

    with pytest.raises(en.TrainingError, match="step 6.*ArithmeticError.*boom") as info:
        en.minimize(flaky, [1.0, -1.0], "adam", max_steps=20, grad=sphere_grad)
    res = info.value.result
    assert isinstance(info.value.__cause__, ArithmeticError)
    assert res.stop_reason == "error" and res.n_steps == 5
    assert res.fun == min(res.history["loss"]) and res.x.shape == (2,)


def test_error_in_first_step_propagates_unchanged():
    with pytest.raises(ValueError, match=r"must return shape \(1,\)"):
        en.minimize(lambda T: np.zeros(3), [1.0], "irprop+", max_steps=3, vectorized=True,
                    grad=lambda T: 2 * T)


# --- minimize and FitnessProblem -----------------------------------------------------


def test_minimize_plain_vectorized_args_kwargs():
    c = np.array([1.0, -2.0, 0.5])
    kw = dict(max_steps=200, grad=sphere_grad, random_state=0)
    plain = en.minimize(sphere, np.zeros(3), "irprop-", args=(c,), **kw)
    np.testing.assert_allclose(plain.x, c, atol=1e-3)
    by_kwargs = en.minimize(sphere, np.zeros(3), "irprop-", kwargs={"c": c}, **kw)
    same_run(plain, by_kwargs)
    vec = en.minimize(lambda T, c: np.sum((T - c) ** 2, axis=1), np.zeros(3), "irprop-", args=(c,),
                      vectorized=True, max_steps=200, grad=lambda T, c: 2 * (T - c), random_state=0)
    np.testing.assert_allclose(vec.x, plain.x)
    assert plain.n_evals == 3 * 200  # one call of f (1) and of grad (2) per step


def test_minimize_maximize_reports_users_sign():
    res = en.minimize(lambda x: 3.0 - sphere(x), [1.0, 1.0], "irprop-", max_steps=100,
                      maximize=True, grad=lambda x: -sphere_grad(x))
    assert res.fun == pytest.approx(3.0, abs=1e-6)
    assert np.all(np.diff(res.history["best_loss"]) >= 0)  # best fitness only rises
    assert res.history["loss"][0] == 1.0


def test_minimize_x0_as_int_is_seeded():
    a = en.minimize(sphere, 4, "sgd", max_steps=1, grad=sphere_grad, random_state=3)
    b = en.minimize(sphere, 4, "sgd", max_steps=1, grad=sphere_grad, random_state=3)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.x.shape == (4,) and 0 < np.std(a.x) < 0.5


def test_minimize_argument_errors():
    with pytest.raises(ValueError, match="x0 is required"):
        en.minimize(sphere, None, "sgd", max_steps=1, grad=sphere_grad)
    with pytest.raises(ValueError, match="callable fitness only"):
        en.minimize(make_problem(), None, "sgd", max_steps=1, maximize=True)
    with pytest.raises(TypeError, match="fitness"):
        en.minimize(3.0, [1.0], "sgd", max_steps=1)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        en.minimize(sphere, [1.0], "nope", max_steps=1)


def test_minimize_on_a_problem_uses_network_init():
    res = en.minimize(make_problem(), None, "irprop+", max_steps=20, random_state=0)
    assert res.n_steps == 20 and np.isfinite(res.fun)


def test_fitness_problem_checks_returns():
    prob = en.FitnessProblem(lambda x: np.ones(2), 2)
    with pytest.raises(ValueError, match="one number per vector"):
        prob.evaluate(np.zeros((1, 2)))
    prob = en.FitnessProblem(lambda x: "bad", 2)
    with pytest.raises(ValueError, match="one number"):
        prob.evaluate(np.zeros((1, 2)))
    prob = en.FitnessProblem(lambda T: np.ones((3, 2)), 2, vectorized=True)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        prob.evaluate(np.zeros((3, 2)))
    prob = en.FitnessProblem(sphere, 2, grad=lambda x: np.zeros(3))
    with pytest.raises(ValueError, match="grad must return"):
        prob.evaluate(np.zeros((1, 2)), need_grad=True)
    with pytest.raises(TypeError, match="fun must be callable"):
        en.FitnessProblem(3, 2)


def test_fitness_problem_nan_is_worst_and_warns_once():
    prob = en.FitnessProblem(lambda T: np.array([1.0, np.nan, np.inf]), 1, vectorized=True)
    with pytest.warns(RuntimeWarning, match="NaN or infinite"):
        losses, _ = prob.evaluate(np.zeros((3, 1)))
    np.testing.assert_array_equal(losses, [1.0, np.inf, np.inf])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prob.evaluate(np.zeros((3, 1)))  # only once
    prob = en.FitnessProblem(lambda x: -np.inf, 1, maximize=True)  # maximizing: -inf is the worst
    with pytest.warns(RuntimeWarning):
        assert prob.evaluate(np.zeros((1, 1)))[0][0] == np.inf


# --- minibatch results ---------------------------------------------------------------


def test_minibatch_result_is_current_point_with_full_loss():
    prob = make_problem(batch_size=15)
    trainer = en.Trainer(prob, "adam", max_steps=12, random_state=0)
    res = trainer.run()
    np.testing.assert_array_equal(res.x, trainer.optimizer.x)
    evals = prob.evals
    assert res.fun == prob.full_loss(res.x)
    assert res.n_evals == evals == 12 * 45  # the result's full loss is free


# --- history and callbacks -----------------------------------------------------------


def test_history_contents():
    prob = make_problem()
    X_val, y_val = prob.X[:20], prob.y[:20]
    hist = en.History(every=2, validation=(X_val, y_val))
    res = en.Trainer(prob, "irprop+", max_steps=10, callbacks=[hist], random_state=0).run()
    assert len(res.history) == 5
    np.testing.assert_array_equal(res.history["step"], [2, 4, 6, 8, 10])
    assert set(res.history.keys()) == {"step", "evals", "seconds", "loss", "best_loss", "val_score"}
    assert np.all(np.diff(res.history["evals"]) == 2 * 3 * 60)
    assert np.all(np.diff(res.history["best_loss"]) <= 0)
    assert np.all(np.diff(res.history["seconds"]) > 0)
    assert np.all((res.history["val_score"] >= 0) & (res.history["val_score"] <= 1))
    d = res.history.to_dict()
    assert d["step"] == [2, 4, 6, 8, 10]
    assert res.history.as_arrays()["loss"].shape == (5,)
    assert res.history[0]["step"] == 2 and "History(5 records" in repr(res.history)
    with pytest.raises(KeyError, match="no record"):
        res.history["nope"]


def test_history_validation_callable_and_regression():
    res = en.minimize(sphere, [1.0], "sgd", max_steps=3, grad=sphere_grad,
                      callbacks=[en.History(validation=lambda x: -abs(x[0]))])
    assert np.all(np.diff(res.history["val_score"]) > 0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = X @ [1.0, -1.0]
    net = en.MLP(2, (), 1, output="linear")
    prob = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y)
    res = en.Trainer(prob, "irprop-", max_steps=60, callbacks=[en.History(validation=(X, y))]).run()
    assert res.history["val_score"][-1] > 0.99  # R^2


def test_early_stopping():
    res = en.minimize(lambda x: 1.0, [0.0], "sgd", max_steps=100, grad=lambda x: 0 * x,
                      callbacks=[en.EarlyStopping(patience=3)])
    assert (res.stop_reason, res.n_steps) == ("early_stopping", 4)
    prob = make_problem()
    stop = en.EarlyStopping(patience=2, monitor="val_score", min_delta=1.0)  # never improves by 1
    res = en.Trainer(prob, "adam", max_steps=100, random_state=0,
                     callbacks=[en.History(validation=(prob.X, prob.y)), stop]).run()
    assert (res.stop_reason, res.n_steps) == ("early_stopping", 3)
    with pytest.raises(ValueError, match="monitor"):
        en.EarlyStopping(monitor="accuracy")


def test_progress_bar_runs_and_closes():
    buf = io.StringIO()
    bar = en.ProgressBar(file=buf)
    trainer = en.Trainer(make_problem(), "adam", max_steps=5, callbacks=[bar], random_state=0)
    trainer.run()
    assert bar._bar is None
    out = buf.getvalue()
    assert "5/5" in out and "best=" in out
    pickle.loads(pickle.dumps(trainer))  # the bar does not travel
    res = en.minimize(sphere, [1.0], "sgd", max_steps=2, grad=sphere_grad, progress=True)
    assert res.n_steps == 2
    buf = io.StringIO()
    en.minimize(sphere, [1.0], "sgd", max_steps=2, grad=sphere_grad,
                callbacks=[en.ProgressBar(file=buf, desc="mine", leave=False)])
    assert "mine" in buf.getvalue()


def test_callback_type_checked():
    with pytest.raises(TypeError, match="Callback"):
        en.Trainer(make_problem(), "sgd", max_steps=1, callbacks=[print])


# --- resuming ------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [None, 20])
def test_pickle_after_partial_run_resumes_identically(batch_size):
    full = en.Trainer(make_problem(batch_size), "adam", max_steps=15, random_state=4).run()
    trainer = en.Trainer(make_problem(batch_size), "adam", max_steps=15, random_state=4)
    trainer.run(max_steps=6)
    resumed = pickle.loads(pickle.dumps(trainer)).run()
    same_run(full, resumed)


class Counter(en.Callback):
    def __init__(self):
        self.seen = 0

    def on_step(self, trainer, record):
        self.seen += 1


def test_checkpoint_mid_run_resumes_identically(tmp_path):
    path = tmp_path / "run.pkl"
    kw = dict(max_steps=20, random_state=1)
    full = en.Trainer(make_problem(20), "irprop-", callbacks=[en.EarlyStopping(patience=50)], **kw).run()
    # listed first, the checkpoint still runs after the other callbacks: their state is saved
    # with the step complete
    checkpoint = en.Checkpoint(path, every=7, at_end=False)
    en.Trainer(make_problem(20), "irprop-", callbacks=[checkpoint, en.EarlyStopping(patience=50), Counter()],
               **kw).run()
    with open(path, "rb") as f:
        trainer = pickle.load(f)
    assert trainer.n_steps == 14 and trainer.callbacks[2].seen == 14
    assert trainer.callbacks[-1].path == checkpoint.path
    same_run(full, trainer.run())


def test_checkpoint_from_a_custom_fitness(tmp_path):
    path = tmp_path / "run.pkl"
    kw = dict(max_steps=12, grad=sphere_grad, random_state=0)
    full = en.minimize(sphere, [2.0, -1.0], "momentum", **kw)
    en.minimize(sphere, [2.0, -1.0], "momentum", callbacks=[en.Checkpoint(path, every=5)], **kw)
    with open(path, "rb") as f:
        trainer = pickle.load(f)  # saved at the end: nothing left to do
    assert trainer.n_steps == 12
    same_run(full, trainer.run())


def test_full_loss_is_not_charged():
    rng = np.random.default_rng(0)
    net = en.MLP(3, (4,), 2)
    prob = en.SupervisedProblem(en.Evaluator(net), rng.normal(size=(10, 3)), rng.integers(0, 2, 10), batch_size=5)
    fit = en.FitnessProblem(lambda x: float(x @ x), n_params=3)
    for p, x in ((prob, net.init(rng)), (fit, np.ones(3))):
        p.full_loss(x)
        assert p.evals == 0
