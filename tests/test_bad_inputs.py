"""Bad inputs get a TypeError/ValueError at once that names the argument."""

import warnings
from fractions import Fraction

import numpy as np
import pytest

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
