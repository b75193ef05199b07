"""Parallel evaluation of a population on executors: identical results, lost workers survived."""

import concurrent.futures as cf
import logging
import os
import pickle
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import evoneuro as en
from evoneuro.distributed import evaluate_parallel

ROOT = str(Path(__file__).resolve().parents[1])


def sphere(x, shift=0.0):
    return float(np.sum((x - shift) ** 2))


def die_once(x, marker):
    """Kill the worker process the first time any member is evaluated, then behave."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return sphere(x)
    os.close(fd)
    os._exit(1)


def die_always(x):
    os._exit(1)


def net_score(network):
    return float(np.sum(network(np.linspace(-1, 1, 8).reshape(4, 2)) ** 2))


def run(fun, **kw):
    return en.minimize(fun, np.full(4, 0.5), "cmaes", {"sigma0": 0.3, "popsize": 6}, max_steps=4,
                       random_state=0, **kw)


@pytest.fixture(scope="module")
def importable():
    # Worker processes unpickle the fitness functions by importing this module by name
    # (tests.test_distributed), which needs the repository root on their path.
    added = ROOT not in sys.path
    if added:
        sys.path.insert(0, ROOT)
    yield
    if added:
        sys.path.remove(ROOT)


@pytest.fixture(scope="module")
def client(importable):
    pytest.importorskip("distributed")
    import dask
    from distributed import Client, LocalCluster

    # allowed-failures=0: the scheduler reports a task whose worker died (KilledWorker)
    # instead of rescheduling it itself, so that evoneuro's own retry is what is tested.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
            yield client


def test_dask_client_gives_the_serial_result(client):
    serial = run(sphere, kwargs={"shift": 0.1})
    parallel = run(sphere, kwargs={"shift": 0.1}, executor=client)
    np.testing.assert_array_equal(parallel.x, serial.x)
    np.testing.assert_array_equal(parallel.history["loss"], serial.history["loss"])
    assert parallel.n_evals == serial.n_evals == 24


def test_dask_executor_and_network_fitness(client):
    net = en.MLP(2, (3,), 1, output="linear")
    kw = dict(optimizer="es", optimizer_params={"popsize": 6}, max_steps=3, random_state=0)
    serial = en.minimize(en.NetworkFitness(net, net_score), **kw)
    with client.get_executor() as executor:
        parallel = en.minimize(en.NetworkFitness(net, net_score, executor=executor), **kw)
    np.testing.assert_array_equal(parallel.x, serial.x)


def test_worker_killed_mid_generation_does_not_lose_the_run(client, tmp_path):
    marker = tmp_path / "killed"
    res = run(die_once, args=(str(marker),), executor=client)
    assert marker.exists()  # a worker did die
    serial = run(sphere)
    np.testing.assert_array_equal(res.x, serial.x)  # and the retried member got its value
    assert res.n_steps == 4 and res.stop_reason == "max_steps"


def test_process_pool_gives_the_serial_result(importable):
    net = en.MLP(2, (3,), 1, output="linear")
    with cf.ProcessPoolExecutor(2) as pool:
        parallel = run(sphere, executor=pool)
        prob = en.NetworkFitness(net, net_score)
        res = en.minimize(prob, optimizer="random", max_steps=2, random_state=0, executor=pool)
    np.testing.assert_array_equal(parallel.x, run(sphere).x)
    assert prob.executor is pool  # minimize attached it to the given problem
    np.testing.assert_array_equal(res.x, en.minimize(en.NetworkFitness(net, net_score), optimizer="random",
                                                     max_steps=2, random_state=0).x)


def test_broken_process_pool_is_a_clear_error(importable):
    with cf.ProcessPoolExecutor(1) as pool:
        with pytest.raises(RuntimeError, match="executor is broken"):
            run(die_always, executor=pool)


class LosingExecutor(cf.Executor):
    """Runs tasks inline, but "loses the worker" of rows whose first entry is negative."""

    def __init__(self):
        self.submitted = 0

    def submit(self, fn, *args, **kwargs):
        self.submitted += 1
        fut = cf.Future()
        if args[1][0] < 0:
            fut.set_exception(cf.CancelledError("worker lost"))
        else:
            fut.set_result(fn(*args, **kwargs))
        return fut


def test_member_lost_on_every_retry_counts_as_worst_with_one_warning():
    ex = LosingExecutor()
    prob = en.FitnessProblem(sphere, 2, executor=ex, retries=2)
    Theta = np.array([[1.0, 0.0], [-1.0, 0.0], [2.0, 0.0]])
    with pytest.warns(RuntimeWarning) as record:
        losses, _ = prob.evaluate(Theta)
        losses2, _ = prob.evaluate(Theta)
    np.testing.assert_array_equal(losses, [1.0, np.inf, 4.0])
    np.testing.assert_array_equal(losses2, losses)
    lost = [w for w in record if "worker was lost" in str(w.message)]
    assert len(lost) == 1 and "3 time(s)" in str(lost[0].message)
    assert ex.submitted == 2 * (3 + 2)  # each evaluation: 3 members, then 2 retries of one


def test_fitness_error_in_a_worker_keeps_the_best_so_far():
    calls = iter(range(10**6))

    def f(x):
        if next(calls) >= 40:
            raise ArithmeticError("simulation diverged")
        return sphere(x)

    with cf.ThreadPoolExecutor(2) as ex:
        with pytest.raises(en.TrainingError) as info:
            en.minimize(f, np.full(2, 0.5), "random", {"popsize": 9}, max_steps=50, executor=ex, random_state=0)
    assert isinstance(info.value.__cause__, ArithmeticError)
    assert info.value.result.n_steps == 4 and np.isfinite(info.value.result.fun)


def test_evaluate_parallel_orders_results_and_passes_arguments():
    Theta = np.arange(12.0).reshape(6, 2)
    with cf.ThreadPoolExecutor(3) as ex:
        out, failed = evaluate_parallel(sphere, Theta, ex, kwargs={"shift": 1.0})
    assert failed == {} and out == [sphere(t, 1.0) for t in Theta]


def test_executor_options_are_checked_and_not_pickled():
    with pytest.raises(ValueError, match="vectorized=False"):
        en.FitnessProblem(sphere, 2, vectorized=True, executor=cf.ThreadPoolExecutor(1))
    with pytest.raises(ValueError, match="retries"):
        en.FitnessProblem(sphere, 2, retries=-1)
    with pytest.raises(ValueError, match="FitnessProblem"):
        ev = en.Evaluator(en.MLP(2, (), 2))
        en.minimize(en.SupervisedProblem(ev, np.zeros((2, 2)), [0, 1]), optimizer="irprop+", max_steps=1,
                    executor=cf.ThreadPoolExecutor(1))
    with cf.ThreadPoolExecutor(1) as ex:
        prob = en.FitnessProblem(sphere, 2, executor=ex)
        again = pickle.loads(pickle.dumps(prob))  # e.g. a Checkpoint of the trainer
    assert prob.executor is ex and again.executor is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(again.evaluate(np.ones((2, 2)))[0], [2.0, 2.0])  # serial now
