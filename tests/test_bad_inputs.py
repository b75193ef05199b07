"""Bad inputs get a TypeError/ValueError at once that names the argument; the bad-input suite
(hypothesis, at the end) tries them over every public entry point."""

import os
import tempfile
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evoneuro as en


def sphere(x):
    return float(np.sum(x ** 2))


@pytest.mark.parametrize("ret, what", [(None, "None"), (True, "bool"), (np.bool_(False), "bool"),
                                       ("1.0", "str"), (1 + 2j, "complex"), (object(), "object")])
def test_a_fitness_returning_a_non_number_is_a_type_error_at_once(ret, what):
    prob = en.FitnessProblem(lambda x: ret, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not a NaN with a warning: an error
        with pytest.raises(TypeError, match=f"fitness must return one number per vector, got {what}"):
            prob.evaluate(np.zeros((3, 2)))
    with pytest.raises(TypeError, match="got None.*forget to return" if ret is None else what):
        en.minimize(lambda x: ret, np.zeros(2), "es", max_steps=2)


def test_a_vectorized_fitness_returning_bools_is_a_type_error():
    prob = en.FitnessProblem(lambda T: T[:, 0] > 0, 2, vectorized=True)
    with pytest.raises(TypeError, match="vectorized fitness must return 3 numbers, got ndarray of dtype bool"):
        prob.evaluate(np.zeros((3, 2)))


def test_numbers_numpy_does_not_know_are_still_numbers():
    prob = en.FitnessProblem(lambda x: Fraction(1, 4), 2)
    np.testing.assert_array_equal(prob.evaluate(np.zeros((2, 2)))[0], [0.25, 0.25])


def test_a_vectorized_fitness_sees_the_asked_population_unchanged_and_read_only():
    seen = []

    def f(Theta):
        seen.append(Theta)
        return np.sum(np.asarray(Theta, dtype=np.float64) ** 2, axis=1)

    prob = en.FitnessProblem(f, 3, vectorized=True)
    Theta = np.ones((4, 3), dtype=np.float32)
    prob.evaluate(Theta)
    assert seen[0].dtype == np.float32 and np.shares_memory(seen[0], Theta)
    assert not seen[0].flags.writeable and Theta.flags.writeable
    # a per-vector fitness gets a float64 vector of its own, so f(result.x) == result.fun
    per_vector = en.FitnessProblem(lambda x: seen.append(x) or 0.0, 3)
    per_vector.evaluate(Theta)
    assert seen[-1].dtype == np.float64 and seen[-1].flags.writeable


@pytest.mark.parametrize("seed", [-1, np.int64(-5)])
def test_negative_random_state_names_the_argument(seed):
    with pytest.raises(ValueError, match="random_state must be None, an int >= 0"):
        en.minimize(sphere, np.zeros(2), "es", max_steps=1, random_state=seed)


@pytest.mark.parametrize("target", [np.nan, np.inf, -np.inf])
def test_non_finite_target_names_the_argument(target):
    with pytest.raises(ValueError, match="target must be a finite number"):
        en.minimize(sphere, np.zeros(2), "es", max_steps=1, target=target)


def test_maximize_one_rule_for_callables_and_problems():
    net = en.MLP(1, (), 1, output="linear")

    def score(network):
        return -float(np.sum((network(np.ones((2, 1))) - 1.0) ** 2))

    kw = dict(optimizer="cmaes", max_steps=30, random_state=0)
    # the problem carries its own sign: maximize=True confirms it, and changes nothing
    plain = en.minimize(en.NetworkFitness(net, score, maximize=True), **kw)
    confirmed = en.minimize(en.NetworkFitness(net, score, maximize=True), maximize=True, **kw)
    assert confirmed.fun == plain.fun <= 0
    with pytest.raises(ValueError, match="confirms a FitnessProblem made with maximize=True.*this NetworkFitness minimises"):
        en.minimize(en.NetworkFitness(net, score), maximize=True, **kw)
    ev = en.Evaluator(net)
    with pytest.raises(ValueError, match="callable fitness only.*this SupervisedProblem minimises"):
        en.minimize(en.SupervisedProblem(ev, np.ones((2, 1)), np.ones(2)), maximize=True, **kw)


def test_huge_finite_X_is_named_as_an_overflow_not_as_nan():
    ev = en.Evaluator(en.MLP(2, (3,), 2), dtype="float32")
    theta = np.zeros(ev.net.n_params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's own cast warning is not shown either
        with pytest.raises(ValueError, match=r"X has values up to 1e\+300 .* overflow"):
            ev.loss(theta, np.full((3, 2), 1e300), [0, 1, 0])
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            ev.loss(theta, np.array([[np.nan, 0.0]] * 3), [0, 1, 0])
    # float64 holds 1e300: no error there
    assert np.isfinite(en.Evaluator(ev.net, dtype="float64").forward(theta, np.full((3, 2), 1e300))).all()



def test_noise_that_overflows_the_evaluators_precision_is_a_value_error():
    ev = en.Evaluator(en.MLP(2, (3,), 2), dtype="float32")
    X, y = np.zeros((4, 2)), [0, 1, 0, 1]
    for name in ("input_noise", "weight_noise"):
        with pytest.raises(ValueError, match=f"{name}=1e\\+308 is too large for the evaluator's float32"):
            en.SupervisedProblem(ev, X, y, **{name: 1e308})
    en.SupervisedProblem(en.Evaluator(ev.net, dtype="float64"), X, y, input_noise=1e300)  # float64 holds it
    with pytest.raises(ValueError, match="input_noise=1e\\+308"):
        en.EvoMLPClassifier(hidden_layer_sizes=(3,), max_iter=2, backend="numpy", input_noise=1e308).fit(X, y)


def test_a_member_with_a_nonfinite_loss_gets_a_zero_gradient_not_a_nan_step():
    net = en.MLP(2, (3,), 2)
    ev = en.Evaluator(net, dtype="float32", backend="numpy")
    X, y = np.random.default_rng(0).normal(size=(8, 2)), [0, 1] * 4
    prob = en.SupervisedProblem(ev, X, y, alpha=1e38)  # the decay's gradient overflows float32
    Theta = np.stack([np.full(net.n_params, 1e-3), np.full(net.n_params, 1e30)]).astype(np.float32)
    with pytest.warns(RuntimeWarning, match="NaN or infinite") as record:
        losses, grads = prob.evaluate(Theta, need_grad=True)
    assert np.isfinite(losses[0]) and losses[1] == np.inf and len(record) == 1
    assert np.isfinite(grads).all() and not grads[1].any()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = en.minimize(prob, optimizer="adam", x0=Theta[1].astype(np.float64), max_steps=3)
    assert np.isfinite(res.x).all()  # no NaN written into the weights


@pytest.mark.parametrize("optimizer, name", [("es", "sigma"), ("snes", "sigma0"), ("cmaes", "sigma0"),
                                             ("sep-cmaes", "sigma0"), ("random", "sigma"), ("pso", "sigma0"),
                                             ("ga", "sigma0"), ("ga", "mutation_sigma")])
@pytest.mark.parametrize("value, match", [(np.inf, "finite positive number"), (1e308, "at most 1e\\+30")])
def test_search_spreads_are_finite_and_fit_in_float32(optimizer, name, value, match):
    with pytest.raises(ValueError, match=f"{name} must be (a )?{match}"):
        en.minimize(sphere, np.zeros(3), optimizer, {name: value}, max_steps=1, random_state=0)


def test_a_gain_whose_weights_overflow_and_a_negative_seed_are_clear_errors():
    from evoneuro.training.starts import resolve_init

    with pytest.raises(ValueError, match="init=1e\\+308 as a gain on Glorot's scheme gives weights beyond float32"):
        resolve_init(en.MLP(2, (3,), 2), 1e308, np.random.default_rng(0))
    with pytest.raises(ValueError, match="random_state must be None, an int >= 0 or a numpy Generator, got -1"):
        en.MLP(2, (3,), 2).init(-1)

# --- the bad-input suite: hypothesis over every public entry point ------------------------
#
# Each example takes a working call and replaces one argument with a bad value (a wrong
# type, a wrong shape, NaN, infinity, a negative or zero size, an unknown name...). The call
# must then either work, with every number it returns finite, or raise a TypeError or
# ValueError with a message (the library's own errors derive from them: scikit-learn's
# NotFittedError and InvalidParameterError, FitnessReturnError). For the command line,
# argparse's usage error (SystemExit with status 2) is the clear error. A few examples per
# test by default; EVONEURO_HYPOTHESIS_EXAMPLES=200 explores more (and at random).

_EXAMPLES = os.environ.get("EVONEURO_HYPOTHESIS_EXAMPLES")
suite = settings(max_examples=int(_EXAMPLES or 8), deadline=None, derandomize=not _EXAMPLES, database=None,
                 suppress_health_check=list(HealthCheck))
REJECTED = object()

NAN, INF = float("nan"), float("inf")
BAD_SCALARS = [None, True, False, np.bool_(True), 0, -1, 1, 2, 2.5, -0.5, 0.0, 1e308, -1e308, NAN, INF, -INF,
               np.int64(-3), np.float32(NAN), 1 + 2j, "", "yes", "nope", "1", b"x", (), [], {}, object(),
               [1, 2], (0,), {"a": 1}, np.array([]), np.array(1.0), np.array(["a"]), np.array([None], dtype=object)]
bad_scalar = st.sampled_from(BAD_SCALARS)


@st.composite
def bad_array(draw, shape, low=-1.0, high=1.0):
    """Nearly an array of ``shape``: another shape or dtype, a NaN or inf inside, ragged..."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    good = rng.uniform(low, high, shape)
    mode = draw(st.sampled_from(["scalar", "shape", "empty", "nan", "inf", "str", "complex", "object", "ragged",
                                 "bool", "list", "transposed", "3d"]))
    if mode == "scalar":
        return draw(bad_scalar)
    if mode == "shape":
        return rng.uniform(low, high, tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=3))))
    if mode == "empty":
        return np.empty((0,) + tuple(shape[1:]))
    if mode in ("nan", "inf"):
        bad = good.copy()
        bad.flat[draw(st.integers(0, bad.size - 1))] = NAN if mode == "nan" else draw(st.sampled_from([INF, -INF]))
        return bad
    if mode == "str":
        return good.astype(str)
    if mode == "complex":
        return good + 1j
    if mode == "object":
        arr = good.astype(object)
        arr.flat[0] = draw(st.sampled_from([None, "a", object()]))
        return arr
    if mode == "ragged":
        return [list(row)[: 1 + i % 2] for i, row in enumerate(good.reshape(len(good), -1))]
    if mode == "bool":
        return good > 0
    if mode == "list":
        return good.tolist()  # a valid value in another container: must work
    if mode == "transposed":
        return good.T
    return good[..., None, None]


def attempt(fn):
    """``fn()``'s value, or REJECTED for a clear error; any other exception fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a warning is not an error; the values are checked below
        try:
            return fn()
        except SystemExit as exc:  # the command line's usage error
            assert exc.code == 2, f"exit status {exc.code}, not argparse's 2"
            return REJECTED
        except (TypeError, ValueError) as exc:
            assert str(exc).strip(), f"{type(exc).__name__} without a message"
            return REJECTED


def assert_finite(*values):
    for v in values:
        if v is None or isinstance(v, (str, bool)):
            continue
        arr = np.asarray(v, dtype=np.float64)
        assert np.isfinite(arr).all(), f"a NaN or infinity nobody asked for: {arr!r:.200}"


def is_finite(v) -> bool:
    try:
        return bool(np.isfinite(np.asarray(v, dtype=np.float64)).all())
    except (TypeError, ValueError):
        return True  # not numbers: the call must reject it


def bounded(x):
    """A fitness that stays finite for any input, with its minimum at 0 (not at infinity)."""
    return float((np.tanh(np.asarray(x, dtype=np.float64)) ** 2).sum())


@suite
@given(data=st.data())
def test_suite_networks(data):
    kind = data.draw(st.sampled_from(["MLP", "RNN"]))
    base = ({"n_inputs": 2, "hidden": (3,), "n_outputs": 2, "activation": "tanh", "output": "softmax"} if kind == "MLP"
            else {"n_inputs": 1, "hidden": (2,), "n_outputs": 2, "cell": "gru", "activation": "tanh",
                  "output": "softmax", "readout": "last", "self_connections": True, "update": "parallel"})
    name = data.draw(st.sampled_from(sorted(base)))
    kw = {**base, name: data.draw(bad_scalar)}
    net = attempt(lambda: getattr(en, kind)(**kw))
    if net is not REJECTED:
        assert_finite(net.init(np.random.default_rng(0)))


@suite
@given(data=st.data())
def test_suite_evaluator(data):
    net = data.draw(st.sampled_from([en.MLP(3, (4,), 2), en.RNN(3, (2,), 2, cell="lstm")]))
    rnn = net.kind == "rnn"
    X_shape = (5, 4, 3) if rnn else (5, 3)
    rng = np.random.default_rng(0)
    args = {"backend": "numpy", "dtype": "float64", "n_jobs": None, "Theta": net.init(rng),
            "X": rng.normal(size=X_shape), "y": [0, 1, 0, 1, 1]}
    name = data.draw(st.sampled_from(sorted(args)))
    args[name] = data.draw(bad_array((net.n_params,) if name == "Theta" else X_shape) if name in ("Theta", "X")
                           else bad_array((5,), 0, 1.9) if name == "y" else bad_scalar)

    def call():
        ev = en.Evaluator(net, backend=args["backend"], dtype=args["dtype"], n_jobs=args["n_jobs"])
        return ev.loss(args["Theta"], args["X"], args["y"])

    losses = attempt(call)
    if losses is not REJECTED and is_finite(args["Theta"]):  # NaN weights give NaN: documented
        assert_finite(losses)


def _fitness_variant(kind):
    return {"sphere": bounded, "none": lambda x: None, "str": lambda x: "1.0", "nan": lambda x: NAN,
            "vector": lambda x: np.ones(2), "nones": lambda T: [None] * len(T), "bool": lambda x: True}[kind]


@suite
@given(data=st.data())
def test_suite_fitness_problem_and_network_fitness(data):
    which = data.draw(st.sampled_from(["FitnessProblem", "NetworkFitness"]))
    if which == "FitnessProblem":
        base = {"fun": bounded, "n_params": 3, "vectorized": False, "args": (), "kwargs": None, "maximize": False,
                "grad": None, "retries": 2, "timeout": None, "on_error": "raise"}
    else:
        base = {"net": en.MLP(2, (2,), 1, output="linear"), "f": lambda network: bounded(network(np.ones((2, 2)))),
                "maximize": False, "args": (), "kwargs": None, "retries": 2, "on_error": "raise"}
    name = data.draw(st.sampled_from(sorted(base)))
    fun_kind = None
    if name in ("fun", "f") and data.draw(st.booleans()):
        fun_kind = data.draw(st.sampled_from(["none", "str", "nan", "vector", "nones", "bool"]))
        base["vectorized" if which == "FitnessProblem" else "maximize"] = fun_kind == "nones" and which == "FitnessProblem"
        value = _fitness_variant(fun_kind) if which == "FitnessProblem" else (lambda network, k=fun_kind: _fitness_variant(k)(None))
    else:
        value = data.draw(bad_scalar)
    kw = {**base, name: value}
    if which == "FitnessProblem":
        call = lambda: en.FitnessProblem(kw.pop("fun"), kw.pop("n_params"), **kw)  # noqa: E731
    else:
        call = lambda: en.NetworkFitness(kw.pop("net"), kw.pop("f"), **kw)  # noqa: E731
    prob = attempt(call)
    if prob is REJECTED:
        return
    n = prob.n_params
    out = attempt(lambda: prob.evaluate(np.random.default_rng(0).uniform(-1, 1, (4, n)))[0])
    if out is not REJECTED and fun_kind != "nan":  # a NaN fitness is the worst value (+inf): documented
        assert_finite(out)


@suite
@given(data=st.data())
def test_suite_minimize(data):
    base = {"x0": np.zeros(3), "optimizer": "es", "optimizer_params": None, "max_steps": 2, "max_evals": 10_000,
            "max_time": None, "target": None, "random_state": 0, "popsize": None, "maximize": False,
            "vectorized": False, "args": (), "kwargs": None, "grad": None, "retries": 2, "n_jobs": None,
            "callbacks": (), "executor": None}
    name = data.draw(st.sampled_from(sorted(base)))
    if name == "x0":
        value = data.draw(bad_array((3,)))
    elif name == "optimizer":
        value = data.draw(st.one_of(bad_scalar, st.sampled_from(["nope", "ADAM", "readout", "cmaes", "ga", "pso"])))
    elif name == "optimizer_params":
        value = data.draw(st.one_of(bad_scalar, st.dictionaries(st.sampled_from(["sigma", "popsize", "nope",
                                                                                   "learning_rate"]), bad_scalar,
                                                                 max_size=1)))
    else:
        value = data.draw(bad_scalar)
    kw = {**base, name: value}
    res = attempt(lambda: en.minimize(bounded, kw.pop("x0"), kw.pop("optimizer"), kw.pop("optimizer_params"), **kw))
    if res is not REJECTED:
        assert_finite(res.x, res.fun)


@suite
@given(data=st.data())
def test_suite_pretrain(data):
    rng = np.random.default_rng(0)
    base = {"X": rng.uniform(0, 1, (16, 2)), "method": "autoencoder", "optimizer": "adam", "optimizer_params": None,
            "tied": False, "max_steps": 2, "max_evals": 2000, "max_time": None, "batch_size": "auto",
            "rbm_params": None, "backend": "numpy", "dtype": "float32", "n_jobs": None, "random_state": 0,
            "return_info": False}
    name = data.draw(st.sampled_from(sorted(base)))
    kw = {**base, name: data.draw(bad_array((16, 2), 0, 1) if name == "X" else bad_scalar)}
    if name == "rbm_params":
        kw["method"] = "rbm"
    theta = attempt(lambda: en.pretrain(en.MLP(2, (2,), 2), kw.pop("X"), **kw))
    if theta is not REJECTED:
        assert_finite(theta[0] if isinstance(theta, tuple) else theta)


ESTIMATOR_PARAMS = ["hidden_layer_sizes", "activation", "init", "init_params", "optimizer", "optimizer_params",
                    "alpha", "input_noise", "weight_noise", "dropout", "backend", "dtype", "n_jobs", "batch_size",
                    "max_iter", "max_evals", "max_time", "early_stopping", "validation_fraction",
                    "n_iter_no_change", "tol", "warm_start", "random_state", "verbose"]


@suite
@given(data=st.data())
def test_suite_estimators(data):
    import evoneuro.estimators as est

    name = data.draw(st.sampled_from(["EvoMLPClassifier", "EvoMLPRegressor", "EvoRNNClassifier", "EvoRNNRegressor"]))
    rnn, classifier = "RNN" in name, "Classifier" in name
    rng = np.random.default_rng(0)
    shape = (12, 4, 2) if rnn else (12, 3)
    X, y = rng.normal(size=shape), (np.arange(12) % 2 if classifier else rng.normal(size=12))
    # two budgets: a huge value of one (max_iter=1e308) is a valid, endless budget, not a bad input
    params = {"hidden_layer_sizes": (3,), "max_iter": 2, "max_evals": 5000, "backend": "numpy", "random_state": 0}
    what = data.draw(st.sampled_from(["X", "y", "predict X", "lengths", *ESTIMATOR_PARAMS]))
    X_pred, lengths = X, None
    if what == "X":
        X = data.draw(bad_array(shape))
    elif what == "y":
        y = data.draw(bad_array((12,), 0, 1.9 if classifier else 1.0))
    elif what == "predict X":
        X_pred = data.draw(bad_array(shape))
    elif what == "lengths":
        if not rnn:
            return
        lengths = data.draw(st.one_of(bad_scalar, bad_array((12,), 1, 4)))
    else:
        params[what] = data.draw(bad_scalar)
    model = getattr(est, name)(**params)
    fitted = attempt(lambda: model.fit(X, y, lengths=lengths) if rnn else model.fit(X, y))
    if fitted is REJECTED:
        return
    out = attempt(lambda: model.predict_proba(X_pred) if classifier else model.predict(X_pred))
    if out is not REJECTED:
        assert_finite(out, model.loss_)


TASK_BASES = {
    "latch": {"variant": 1, "n_train": 4, "n_test": 4, "min_length": 5, "max_length": 8, "noise": 0.2},
    "two_sequence": {"n_relevant": 1, "n_train": 4, "n_test": 4, "min_length": 5, "max_length": 8, "noise": 0.2,
                     "hidden": 1},
    "parity": {"n_train": 4, "n_test": 4, "min_length": 5, "max_length": 8, "input_noise": 0.0, "hidden": None,
               "self_connections": None, "architecture": "A1"},
    "adding": {"T": 12, "n_train": 4, "n_test": 4, "version": "hochreiter", "hidden": 2, "cell": "lstm",
               "threshold": 0.01},
    "temporal_order": {"n_relevant": 2, "n_train": 2, "n_test": 2, "hidden": 2, "cell": "lstm", "tolerance": 0.3},
}


@suite
@given(data=st.data())
def test_suite_tasks(data):
    import evoneuro.tasks as tasks

    name = data.draw(st.sampled_from([*TASK_BASES, "guess"]))
    if name == "guess":
        base = {"task": tasks.latch(**TASK_BASES["latch"], random_state=0), "max_trials": 20, "random_state": 0,
                "batch": 8, "screen": 2, "r": None, "evaluator": None}
        arg = data.draw(st.sampled_from(sorted(base)))
        kw = {**base, arg: data.draw(bad_scalar)}
        res = attempt(lambda: tasks.guess(kw.pop("task"), **kw))
        if res is not REJECTED and res.theta is not None:
            assert_finite(res.theta)
        return
    base = {**TASK_BASES[name], "random_state": 0}
    arg = data.draw(st.sampled_from(sorted(base)))
    kw = {**base, arg: data.draw(bad_scalar)}
    task = attempt(lambda: getattr(tasks, name)(**kw))
    if task is not REJECTED:
        assert_finite(task.X_train, task.y_train, task.X_test, task.y_test)
        if task.lengths_train is not None:
            assert (task.lengths_train >= 1).all() and (task.lengths_train <= task.X_train.shape[1]).all()


@suite
@given(data=st.data())
def test_suite_checkpoint(data):
    folder = tempfile.mkdtemp()
    base = {"path": os.path.join(folder, "run.pkl"), "every": 1, "at_end": True}
    name = data.draw(st.sampled_from(sorted(base)))
    value = data.draw(st.one_of(bad_scalar, st.sampled_from([folder, os.path.join(folder, "missing", "run.pkl"),
                                                             os.path.join(folder, "")])) if name == "path"
                      else bad_scalar)
    here = os.getcwd()
    os.chdir(folder)  # a relative path such as "yes" is a file name: written in the temporary folder
    try:
        cp = attempt(lambda: en.Checkpoint(**{**base, name: value}))
        if cp is not REJECTED:
            cp.save({"state": 1})
            assert en.Checkpoint.load(cp.path) == {"state": 1}
            assert not [f for f in os.listdir(os.path.dirname(os.path.abspath(cp.path))) if f.endswith(".tmp")]
    finally:
        os.chdir(here)


CLI_VALUES = ["0", "-1", "1", "2", "2.5", "nan", "inf", "-inf", "", "x", "3x", "0x3", "4x2", "3,2", "auto", "none",
              "all", "adam", "sklearn", "nope", "adam:learning_rate=-1", "adam:nope=1", "random,adam", "iris",
              "digits", "missing.csv", "tanh", "relu", "glorot", "pretrain", "float64", "numpy", "adding", "latch",
              "lstm", "1e9", "20"]
CLI_FLAGS = ["--dataset", "--target", "--activation", "--hidden", "--init", "--optimizers", "--budget-evals",
             "--budget-seconds", "--seeds", "--depths", "--batch-size", "--backend", "--dtype", "--n-jobs",
             "--task", "--lag", "--cell", "--sequences"]


@suite
@given(pairs=st.lists(st.tuples(st.sampled_from(CLI_FLAGS), st.one_of(st.sampled_from(CLI_VALUES),
                                                                          st.text(max_size=4))), max_size=3))
def test_suite_cli(pairs, stubbed_out):
    """``evoneuro compare`` with any flags: a usage error or a run (the runs themselves are
    replaced by stubs, so that every example checks the arguments in milliseconds)."""
    from evoneuro.cli import main

    argv = ["compare", "--out", stubbed_out, "--no-progress", "--optimizers", "random",
            "--budget-evals", "1000"]
    for flag, value in pairs:
        argv += [flag, value]
    rc = attempt(lambda: main(argv))
    assert rc is REJECTED or rc in (0, 2)


@pytest.fixture(scope="module")
def stubbed_out():
    """An output folder, with ``compare`` and ``compare_task`` replaced by instant stubs."""
    import evoneuro.bench.compare as compare_mod
    import evoneuro.bench.compare_tasks as tasks_mod

    class Result:
        def table(self):
            return ""

    mp = pytest.MonkeyPatch()
    mp.setattr(compare_mod, "compare", lambda *a, **k: Result())
    mp.setattr(tasks_mod, "compare_task", lambda *a, **k: [])
    yield tempfile.mkdtemp()
    mp.undo()
