"""Custom fitness: NetworkFitness, minimize on callables, and bad fitness values."""

import pickle
import warnings

import numpy as np
import pytest

import evoneuro as en
from evoneuro.fitness import NetworkFunction


def sphere(x, shift=0.0):
    return float(np.sum((x - shift) ** 2))


# --- the callable network --------------------------------------------------------------

@pytest.mark.parametrize("output", ["softmax", "linear"])
def test_network_function_matches_the_evaluator(rng, output):
    net = en.MLP(3, (5, 4), 2, activation="tanh", output=output)
    theta = net.init(rng)
    X = rng.normal(size=(7, 3))
    expected = en.Evaluator(net, dtype="float64").predict(theta, X)
    f = NetworkFunction(net, theta)
    np.testing.assert_allclose(f(X), expected, rtol=1e-12)
    np.testing.assert_allclose(f(X[2]), expected[2], rtol=1e-12)
    with pytest.raises(ValueError, match="inputs of shape"):
        f(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="n_params"):
        NetworkFunction(net, theta[:-1])


def test_network_fitness_is_a_fitness_problem(rng):
    net = en.MLP(2, (3,), 1, output="linear")
    seen = []

    def f(network, scale, offset=0.0):
        seen.append(network)
        return scale * float(network(np.ones(2))[0]) + offset

    prob = en.NetworkFitness(net, f, args=(2.0,), kwargs={"offset": 1.0}, maximize=True)
    assert isinstance(prob, en.FitnessProblem) and prob.n_params == net.n_params
    Theta = net.init_population(4, rng)
    losses, grads = prob.evaluate(Theta)
    assert grads is None and prob.evals == 4
    expected = [2.0 * NetworkFunction(net, t)(np.ones(2))[0] + 1.0 for t in Theta]
    np.testing.assert_allclose(losses, -np.array(expected))  # maximize: loss = -score
    assert prob(Theta[0]) == pytest.approx(expected[0])
    assert isinstance(seen[0], NetworkFunction)
    np.testing.assert_array_equal(prob.network(Theta[1]).theta, Theta[1])
    assert prob.layer_slices == [(s.w_start, s.b_end) for s in net.layers]


def test_network_fitness_bad_arguments():
    net = en.MLP(2, (), 2)
    with pytest.raises(TypeError, match="MLP"):
        en.NetworkFitness("net", lambda n: 0.0)
    with pytest.raises(TypeError, match="callable"):
        en.NetworkFitness(net, 3.0)
    with pytest.raises(ValueError, match="needs gradients"):
        en.minimize(en.NetworkFitness(net, lambda n: 0.0), optimizer="adam", max_steps=2)


def test_network_fitness_maximizes_a_non_differentiable_score(rng):
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 2 * X[:, 1]).astype(int)
    net = en.MLP(2, (3,), 2, activation="tanh")

    def accuracy(network):
        return float(np.mean(np.argmax(network(X), axis=1) == y))

    res = en.minimize(en.NetworkFitness(net, accuracy, maximize=True), optimizer="cmaes",
                      optimizer_params={"sigma0": 1.0}, max_steps=100, target=1.0, random_state=0)
    assert res.fun >= 0.95
    assert res.history["best_loss"][-1] == res.fun  # in the score's own sign
    assert np.all(np.diff(res.history["best_loss"]) >= 0)


def test_network_fitness_pickles():
    prob = en.NetworkFitness(en.MLP(2, (), 2), sphere_of_outputs)
    again = pickle.loads(pickle.dumps(prob))
    x = np.arange(prob.n_params, dtype=float)
    assert again(x) == prob(x)


def sphere_of_outputs(network):
    return float(np.sum(network(np.ones(2)) ** 2))


# --- minimize on callables ---------------------------------------------------------------

def test_minimize_callable_args_kwargs_and_vectorized():
    shift = np.array([1.0, -2.0, 0.5])
    res = en.minimize(sphere, 3, "cmaes", {"sigma0": 1.0}, max_steps=200, kwargs={"shift": shift},
                      target=1e-10, random_state=0)
    np.testing.assert_allclose(res.x, shift, atol=1e-4)
    vec = en.minimize(lambda T, s: ((T - s) ** 2).sum(axis=1), np.zeros(3), "cmaes", {"sigma0": 1.0},
                      max_steps=200, args=(shift,), vectorized=True, target=1e-10, random_state=0)
    np.testing.assert_allclose(vec.x, shift, atol=1e-4)


def test_minimize_maximize_reports_in_the_user_sign():
    res = en.minimize(lambda x: -sphere(x) + 3.0, np.ones(2), "cmaes", {"sigma0": 0.5}, max_steps=100,
                      maximize=True, random_state=0)
    assert res.fun == pytest.approx(3.0, abs=1e-6)


# --- bad fitness values ------------------------------------------------------------------

@pytest.mark.parametrize("bad", [lambda T: np.zeros(len(T) + 1), lambda T: np.zeros((len(T), 2)),
                                 lambda T: "nope"])
def test_wrong_shaped_vectorized_fitness_is_a_value_error(bad):
    prob = en.FitnessProblem(bad, 2, vectorized=True)
    with pytest.raises(ValueError, match="vectorized fitness must return"):
        prob.evaluate(np.zeros((4, 2)))
    # through minimize: a failing first step has nothing to keep, the error is raised as is
    with pytest.raises(ValueError, match="vectorized fitness must return"):
        en.minimize(bad, 2, "es", {"popsize": 4}, max_steps=3, vectorized=True)


def test_non_scalar_fitness_is_a_value_error():
    prob = en.FitnessProblem(lambda x: x, 2)
    with pytest.raises(ValueError, match="one number per vector.*vectorized=True"):
        prob.evaluate(np.zeros((3, 2)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_fitness_counts_as_worst_and_warns_once(bad):
    def f(x):
        return bad if x[0] > 0.05 else sphere(x)

    with pytest.warns(RuntimeWarning, match="NaN or infinite") as record:
        res = en.minimize(f, np.zeros(3), "es", {"popsize": 8, "sigma": 0.1}, max_steps=20, random_state=0)
    assert len([w for w in record if "NaN or infinite" in str(w.message)]) == 1
    assert np.isfinite(res.fun) and res.x[0] <= 0.05 and res.n_steps == 20


def test_nonfinite_score_when_maximizing_is_still_the_worst():
    # -inf is the worst score to maximise, +inf would be the best: both are treated as worst
    net = en.MLP(1, (), 1, output="linear")
    scores = iter([np.inf, 1.0, 2.0, -np.inf] * 100)
    with pytest.warns(RuntimeWarning, match="NaN or infinite"):
        res = en.minimize(en.NetworkFitness(net, lambda n: next(scores), maximize=True),
                          optimizer="random", optimizer_params={"popsize": 3}, max_steps=2)
    assert res.fun == 2.0


def test_raising_fitness_keeps_the_best_so_far():
    calls = {"n": 0}

    def f(x):
        calls["n"] += 1
        if calls["n"] > 50:
            raise KeyError("simulator crashed")
        return sphere(x, 1.0)

    with pytest.raises(en.TrainingError, match="KeyError") as info:
        en.minimize(f, np.zeros(2), "es", {"popsize": 10}, max_steps=100, random_state=0)
    result = info.value.result
    assert isinstance(info.value.__cause__, KeyError)
    assert result.n_steps == 5 and result.stop_reason == "error"
    assert result.fun == min(r["best_loss"] for r in result.history) < 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sphere(result.x, 1.0) == result.fun


def test_network_fitness_takes_a_recurrent_net_as_a_stateful_function():
    from evoneuro.fitness import RecurrentFunction

    rnn = en.RNN(1, (4,), 1, cell="elman", output="linear")
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(16, 6))  # 16 streams of 6 steps: remember the first input

    def recall(network):
        network.reset()
        for t in range(X.shape[1]):
            out = network(X[:, t : t + 1])  # all 16 streams step together
        return -float(np.mean((out[:, 0] - X[:, 0]) ** 2))

    prob = en.NetworkFitness(rnn, recall, maximize=True)
    start = prob(rnn.init(0))
    res = en.minimize(prob, x0=rnn.init(0), optimizer="cmaes", optimizer_params={"sigma0": 0.3},
                      max_steps=60, random_state=0)
    assert res.fun > start + 0.05  # res.fun is in f's sign when maximising
    policy = prob.network(res.x)
    assert isinstance(policy, RecurrentFunction)
    policy(X[:, :1])
    with pytest.raises(ValueError, match="reset"):
        policy(X[:3, :1])  # another number of streams without a reset
    with pytest.raises(TypeError, match="evoneuro network"):
        en.NetworkFitness("net", recall)


# --- the callable network computes what the evaluator computes, for every option -------

MLP_OPTIONS = {
    "residual": dict(hidden=(5, 5, 5), residual=1),
    "layernorm": dict(hidden=(5, 4), norm="layernorm"),
    "weightnorm": dict(hidden=(5, 4), norm="weightnorm"),
    "cosine": dict(hidden=(5, 4), norm="cosine"),
    "rbf": dict(hidden=(5, 4), units=["rbf", "dense"]),
    "residual-layernorm-rbf": dict(hidden=(4, 4, 4), residual=2, norm="layernorm", units=["dense", "rbf", "dense"]),
}


@pytest.mark.parametrize("output", ["softmax", "linear"])
@pytest.mark.parametrize("option", sorted(MLP_OPTIONS))
def test_network_function_matches_the_evaluator_for_every_option(rng, option, output):
    net = en.MLP(3, activation="tanh", output=output, n_outputs=2, **MLP_OPTIONS[option])
    theta = net.init(rng)
    X = rng.normal(size=(6, 3)) * 2.0
    expected = en.Evaluator(net, backend="numpy", dtype="float64").forward(theta, X)[0]
    f = NetworkFunction(net, theta)
    np.testing.assert_array_equal(f(X), expected)  # the same code on the same rows: the same bits
    np.testing.assert_allclose(f(X[4]), expected[4], rtol=1e-12, atol=1e-15)  # one row: BLAS may sum otherwise


@pytest.mark.parametrize("cell, update", [("elman", "parallel"), ("elman", "sequential"), ("lstm", "parallel"),
                                          ("gru", "parallel")])
def test_recurrent_function_matches_the_evaluator_for_every_cell(rng, cell, update):
    net = en.RNN(2, (4, 3), 2, cell=cell, update=update, output="linear", readout="all")
    theta = net.init(rng)
    S = rng.normal(size=(3, 7, 2))
    expected = en.Evaluator(net, backend="numpy", dtype="float64").forward(theta, S)[0]  # (N, T, out)
    f = en.NetworkFitness(net, lambda network: 0.0).network(theta)
    np.testing.assert_allclose(np.stack([f.run(s) for s in S if f.reset() is None]), expected, rtol=1e-12, atol=1e-14)
    f.reset()
    np.testing.assert_allclose(np.stack([f(S[:, t]) for t in range(7)], axis=1), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("make, name", [
    (lambda **kw: en.FitnessProblem(sphere, 2, **kw), "maximize"),
    (lambda **kw: en.FitnessProblem(sphere, 2, **kw), "vectorized"),
    (lambda **kw: en.NetworkFitness(en.MLP(1, (2,), 1, output="linear"), lambda network: 0.0, **kw), "maximize"),
])
def test_flags_are_bools_not_truthy(make, name):
    for bad in ("yes", "no", 1, None):
        with pytest.raises(TypeError, match=f"{name} must be a bool"):
            make(**{name: bad})
    assert make(**{name: np.bool_(False)}).__dict__[name] is False


def test_a_vectorized_fitness_returning_none_for_members_is_a_type_error():
    for out in ([None] * 3, [1.0, None, 2.0], np.array([None, None, None], dtype=object)):
        prob = en.FitnessProblem(lambda T, out=out: out, 2, vectorized=True)
        with pytest.raises(TypeError, match="must return 3 numbers, got .*holding NoneType.*forget to return"):
            prob.evaluate(np.zeros((3, 2)))
    ragged = en.FitnessProblem(lambda T: [[1.0], [2.0, 3.0], [4.0]], 2, vectorized=True)
    with pytest.raises(TypeError, match="ragged"):
        ragged.evaluate(np.zeros((3, 2)))


def flaky(x):
    if x[0] > 1.0:
        raise RuntimeError(f"diverged at {x[0]:g}")
    return sphere(x)


def test_on_error_worst_counts_a_raising_member_as_the_worst_value_with_one_warning():
    Theta = np.array([[0.5, 0.0], [2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    prob = en.FitnessProblem(flaky, 2, on_error="worst")
    with pytest.warns(RuntimeWarning) as record:
        first, _ = prob.evaluate(Theta)
        second, _ = prob.evaluate(Theta)
    np.testing.assert_array_equal(first, [0.25, np.inf, 1.0, np.inf])
    np.testing.assert_array_equal(second, first)
    assert len(record) == 1
    message = str(record[0].message)
    assert "member(s) [1, 3] of 4 raised" in message and "first: RuntimeError: diverged at 2" in message
    assert "in flaky" in message  # where it was raised
    with pytest.raises(RuntimeError, match="diverged"):  # the default stops
        en.FitnessProblem(flaky, 2).evaluate(Theta)


def test_on_error_worst_when_maximizing_and_vectorized_and_in_a_run():
    Theta = np.array([[0.5, 0.0], [2.0, 0.0]])
    with pytest.warns(RuntimeWarning, match="raised"):
        losses, _ = en.FitnessProblem(flaky, 2, on_error="worst", maximize=True).evaluate(Theta)
    np.testing.assert_array_equal(losses, [-0.25, np.inf])  # the worst for a maximised score too

    def vec(T):
        raise ValueError("the batch simulator failed")

    with pytest.warns(RuntimeWarning, match="member.*of 2 raised.*ValueError: the batch simulator failed"):
        losses, _ = en.FitnessProblem(vec, 2, vectorized=True, on_error="worst").evaluate(Theta)
    np.testing.assert_array_equal(losses, [np.inf, np.inf])
    # a run goes on through raising members: each step's best is a member that did not raise
    prob = en.FitnessProblem(flaky, 2, on_error="worst")
    with pytest.warns(RuntimeWarning, match="raised") as record:
        res = en.minimize(prob, np.array([0.9, 0.5]), "es", {"sigma": 0.5, "popsize": 8}, max_steps=20,
                          random_state=0)
    assert len(record) == 1 and res.n_steps == 20 and np.isfinite(res.fun)


def test_on_error_is_checked_and_network_fitness_takes_it():
    with pytest.raises(ValueError, match="on_error must be 'raise'.*or 'worst'"):
        en.FitnessProblem(sphere, 2, on_error="ignore")
    net = en.MLP(1, (2,), 1, output="linear")

    def score(network):
        raise ArithmeticError("no score")

    prob = en.NetworkFitness(net, score, on_error="worst")
    with pytest.warns(RuntimeWarning, match="ArithmeticError: no score"):
        losses, _ = prob.evaluate(net.init_population(3, np.random.default_rng(0)))
    np.testing.assert_array_equal(losses, [np.inf] * 3)


def test_on_error_worst_on_an_executor():
    from concurrent.futures import ThreadPoolExecutor

    Theta = np.array([[0.5, 0.0], [2.0, 0.0], [0.0, 1.0]])
    with ThreadPoolExecutor(2) as ex:
        prob = en.FitnessProblem(flaky, 2, executor=ex, on_error="worst")
        with pytest.warns(RuntimeWarning) as record:
            losses, _ = prob.evaluate(Theta)
        with pytest.raises(RuntimeError, match="diverged"):
            en.FitnessProblem(flaky, 2, executor=ex).evaluate(Theta)
    np.testing.assert_array_equal(losses, [0.25, np.inf, 1.0])
    assert len(record) == 1 and "member(s) [1] of 3 raised" in str(record[0].message)
