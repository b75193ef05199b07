"""One warning per cause per run, for every optimizer: counted with every filter at "always"."""

import warnings

import numpy as np
import pytest

import evoneuro as en
from evoneuro.optimizers.registry import available

NEEDS_A_NETWORK = {"readout"}  # its ridge readout solves on a SupervisedProblem's data


class EveryThird:
    """sphere, but NaN, +inf or -inf on every third call (a flaky simulator)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        if self.calls % 3 == 0:
            return [np.nan, np.inf, -np.inf][(self.calls // 3) % 3]
        return float(np.sum(x ** 2))


def recorded(fn, *args, **kwargs):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")  # duplicates are counted, not merged
        out = fn(*args, **kwargs)
    return out, [f"{w.category.__name__}: {w.message}" for w in record]


@pytest.mark.parametrize("name", [n for n in available() if n not in NEEDS_A_NETWORK])
def test_nonfinite_fitness_warns_once_per_run(name):
    params = {"memetic": {"local_steps": 2, "inner_params": {"popsize": 4}}}.get(name, {})
    res, messages = recorded(en.minimize, EveryThird(), np.full(3, 0.5), name, params,
                             max_steps=15, grad=lambda x: 2 * x, random_state=0)
    assert res.n_steps == 15
    assert len(messages) == 1, messages
    assert "NaN or infinite" in messages[0]


def test_ga_logbook_statistics_skip_nonfinite_losses():
    # 15 generations used to give 16 warnings: 15 of them numpy's "invalid value" from
    # DEAP's statistics over inf losses
    res, messages = recorded(en.minimize, EveryThird(), np.full(3, 0.5), "ga", {"popsize": 8},
                             max_steps=15, random_state=0)
    assert len(messages) == 1, messages
    opt_log = res.history  # the run went on and recorded every step
    assert len(opt_log) == 15


def test_ga_statistics_are_over_the_finite_losses():
    from evoneuro.optimizers.ga import GA

    opt = GA(popsize=4, n_elite=1, dtype="float64").initialize(np.zeros(2), np.random.default_rng(0))
    Theta = opt.ask()
    _, messages = recorded(opt.tell, Theta, [1.0, np.inf, 3.0, np.nan])
    record = opt.logbook[0]
    assert messages == []
    assert (record["min"], record["avg"], record["max"]) == (1.0, 2.0, 3.0)
    _, messages = recorded(opt.tell, opt.ask(), [np.inf] * 4)
    assert messages == [] and np.isnan(opt.logbook[1]["min"])


def test_two_causes_two_warnings_in_one_run():
    from concurrent.futures import Executor, Future

    class LosesRowsAboveOne(Executor):
        def submit(self, fn, *args, **kwargs):
            fut = Future()
            if args[1][0] > 1.0:
                fut.set_exception(__import__("concurrent.futures").futures.CancelledError("lost"))
            else:
                fut.set_result(fn(*args, **kwargs))
            return fut

    prob = en.FitnessProblem(lambda x: np.nan if x[0] < -1 else float(x @ x), 1,
                             executor=LosesRowsAboveOne(), retries=0)
    Theta = np.array([[2.0], [-2.0], [0.5], [3.0]])
    (losses, _), first = recorded(prob.evaluate, Theta)
    (again, _), second = recorded(prob.evaluate, Theta)
    np.testing.assert_array_equal(losses, [np.inf, np.inf, 0.25, np.inf])
    np.testing.assert_array_equal(again, losses)
    assert len(first) == 2 and second == []
    assert "member(s) [0, 3] of 4 lost its worker" in first[0] and "1 of 4 losses were NaN" in first[1]


def test_nan_weights_in_a_supervised_problem_are_worst_with_one_warning():
    net = en.MLP(2, (3,), 2)
    prob = en.SupervisedProblem(en.Evaluator(net, backend="numpy"), np.eye(2), [0, 1])
    Theta = np.zeros((3, net.n_params))
    Theta[1, 0] = np.nan
    (losses, _), first = recorded(prob.evaluate, Theta)
    (_, _), second = recorded(prob.evaluate, Theta)
    assert np.isinf(losses[1]) and np.isfinite(losses[[0, 2]]).all()
    assert len(first) == 1 and "NaN or infinite" in first[0] and second == []
