"""Parallel evaluation of a population on executors: identical results, lost workers survived.

Every test of a fitness on an executor runs in both modes of :mod:`evoneuro.distributed`:
one task per member and sub-population chunks (``parallel="members"`` / ``"chunks"``).
"""

import concurrent.futures as cf
import logging
import os
import pickle
import signal
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import evoneuro as en
from evoneuro.distributed import evaluate_parallel
from tests.dist_helpers import empty_cluster, within

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


def exit_if_negative_counting(x, tally):
    """Kill the worker for members whose first entry is negative, appending a line to
    ``tally`` first: its line count is the number of worker deaths."""
    if x[0] < 0:
        with open(tally, "a") as f:
            f.write("died\n")
        os._exit(1)
    return sphere(x)


def net_score(network):
    return float(np.sum(network(np.linspace(-1, 1, 8).reshape(4, 2)) ** 2))


MODES = ["members", "chunks"]


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


def run(fun, mode=None, args=(), kwargs=None, executor=None):
    fitness = fun if executor is None else en.FitnessProblem(fun, 4, args=args, kwargs=kwargs, executor=executor,
                                                               parallel=mode or "auto")
    extra = {"args": args, "kwargs": kwargs} if executor is None else {}
    return en.minimize(fitness, np.full(4, 0.5), "cmaes", {"sigma0": 0.3, "popsize": 6}, max_steps=4,
                       random_state=0, **extra)


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
    # lost-worker-timeout: a LocalCluster whose worker dies again within it stops restarting
    # it (the cluster then has no worker at all, a case tested on its own below).
    with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                          "distributed.deploy.lost-worker-timeout": "600s"}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
            yield client


def test_dask_client_gives_the_serial_result(client, mode):
    serial = run(sphere, kwargs={"shift": 0.1})
    parallel = run(sphere, mode, kwargs={"shift": 0.1}, executor=client)
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


def test_worker_killed_mid_generation_does_not_lose_the_run(client, tmp_path, mode):
    marker = tmp_path / "killed"
    res = run(die_once, mode, args=(str(marker),), executor=client)
    assert marker.exists()  # a worker did die
    serial = run(sphere)
    np.testing.assert_array_equal(res.x, serial.x)  # and the retried member got its value
    assert res.n_steps == 4 and res.stop_reason == "max_steps"


def test_process_pool_gives_the_serial_result(importable, mode):
    net = en.MLP(2, (3,), 1, output="linear")
    with cf.ProcessPoolExecutor(2) as pool:
        parallel = run(sphere, mode, executor=pool)
        prob = en.NetworkFitness(net, net_score)
        res = en.minimize(prob, optimizer="random", max_steps=2, random_state=0, executor=pool)
    np.testing.assert_array_equal(parallel.x, run(sphere).x)
    assert prob.executor is pool  # minimize attached it to the given problem
    np.testing.assert_array_equal(res.x, en.minimize(en.NetworkFitness(net, net_score), optimizer="random",
                                                     max_steps=2, random_state=0).x)


def kill_if_negative(x):
    """SIGKILL the worker process for members whose first entry is negative."""
    if x[0] < 0:
        os.kill(os.getpid(), signal.SIGKILL)
    return sphere(x)


def exit_if_negative(x):
    if x[0] < 0:
        os._exit(1)
    return sphere(x)


def sleep_if_negative(x):
    if x[0] < 0:
        time.sleep(2.0)
    return sphere(x)


THETA = np.array([[1.0, 0.0], [-1.0, 0.0], [2.0, 0.0], [0.5, 0.5]])
EXPECTED = [1.0, np.inf, 4.0, 0.5]


def evaluate_twice(prob):
    """Two generations of ``THETA``, with every warning recorded."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        first, _ = prob.evaluate(THETA)
        second, _ = prob.evaluate(THETA)
    return first, second, [str(w.message) for w in record]


@pytest.mark.parametrize("killer", [kill_if_negative, exit_if_negative])
def test_process_pool_member_that_kills_its_worker_is_worst_and_the_run_goes_on(importable, killer, mode):
    with cf.ProcessPoolExecutor(2) as pool:
        prob = en.FitnessProblem(killer, 2, executor=pool, retries=1, parallel=mode)
        first, second, messages = within(120, evaluate_twice, prob)
        # the pool broke; evoneuro went on with a replacement of the same size
        with pytest.warns(RuntimeWarning, match="lost its worker") as record:
            res = within(120, en.minimize, killer, np.array([0.1, 0.5]), "random",
                         {"popsize": 6, "sigma": 0.3}, max_steps=3, executor=pool, random_state=0)
        assert len(record) == 1
    np.testing.assert_array_equal(first, EXPECTED)
    np.testing.assert_array_equal(second, EXPECTED)
    assert len(messages) == 1 and "member(s) [1] of 4" in messages[0] and "2 tries" in messages[0]
    assert res.n_steps == 3 and res.stop_reason == "max_steps" and res.x[0] >= 0


def test_dask_member_that_always_kills_its_worker_is_worst_with_one_warning(client, mode):
    prob = en.FitnessProblem(exit_if_negative, 2, executor=client, retries=1, parallel=mode)
    first, second, messages = within(240, evaluate_twice, prob)
    np.testing.assert_array_equal(first, EXPECTED)
    np.testing.assert_array_equal(second, EXPECTED)
    assert len(messages) == 1 and "member(s) [1] of 4" in messages[0] and "lost its worker" in messages[0]
    np.testing.assert_array_equal(prob.evaluate(THETA[[0, 2]])[0], [1.0, 4.0])  # the cluster lives on


@pytest.mark.slow
def test_poison_member_on_a_default_dask_cluster_costs_at_most_three_workers(importable, tmp_path, mode):
    """dask's own defaults (allowed-failures 3: 4 attempts per task, lost-worker-timeout 15 s):
    evoneuro's 3 tries are the member's only tries, so one member that kills its worker
    costs 3 worker deaths, not 3 x 4, and the run goes on; in chunks, one more (its chunk's)."""
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    tally = tmp_path / "deaths"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        prob = en.FitnessProblem(exit_if_negative_counting, 2, args=(str(tally),), executor=client, parallel=mode)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            losses, _ = within(240, prob.evaluate, THETA)
            after, _ = within(240, prob.evaluate, THETA[[0, 2, 3]])  # the run goes on, on the same cluster
    deaths = len(tally.read_text().splitlines())
    np.testing.assert_array_equal(losses, EXPECTED)
    np.testing.assert_array_equal(after, [1.0, 4.0, 0.5])
    messages = [str(w.message) for w in record]
    assert len(messages) == 1 and "member(s) [1] of 4" in messages[0] and "3 tries" in messages[0]
    assert deaths <= (3 if mode == "members" else 4), f"the poison member cost {deaths} worker deaths"


def test_dask_cluster_without_workers_is_an_error_not_a_hang(importable, mode):
    pytest.importorskip("distributed")
    import dask

    with empty_cluster() as client:
        prob = en.FitnessProblem(sphere, 2, executor=client, parallel=mode)
        with dask.config.set({"distributed.scheduler.no-workers-timeout": "1s"}):
            with pytest.raises(RuntimeError, match="no worker for"):
                within(60, prob.evaluate, THETA)


def test_member_past_the_timeout_is_worst_with_one_warning(mode):
    with cf.ThreadPoolExecutor(4) as ex:
        prob = en.FitnessProblem(sleep_if_negative, 2, executor=ex, retries=1, timeout=0.5, parallel=mode)
        first, second, messages = within(60, evaluate_twice, prob)
    np.testing.assert_array_equal(first, EXPECTED)
    np.testing.assert_array_equal(second, EXPECTED)
    assert len(messages) == 1 and "did not finish in time" in messages[0] and "timeout=0.5" in messages[0]


def test_executor_must_have_submit():
    with pytest.raises(TypeError, match="executor must be"):
        en.FitnessProblem(sphere, 2, executor=object())
    with pytest.raises(TypeError, match="executor must be"):
        en.minimize(sphere, np.zeros(2), "random", max_steps=1, executor=object())


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
    prob = en.FitnessProblem(sphere, 2, executor=ex, retries=2, parallel="members")  # counts member tasks
    Theta = np.array([[1.0, 0.0], [-1.0, 0.0], [2.0, 0.0]])
    with pytest.warns(RuntimeWarning) as record:
        losses, _ = prob.evaluate(Theta)
        losses2, _ = prob.evaluate(Theta)
    np.testing.assert_array_equal(losses, [1.0, np.inf, 4.0])
    np.testing.assert_array_equal(losses2, losses)
    assert len(record) == 1 and "member(s) [1] of 3" in str(record[0].message)
    assert "3 tries" in str(record[0].message) and "lost its worker" in str(record[0].message)
    assert ex.submitted == 2 * (3 + 2)  # each evaluation: 3 members, then one alone twice more


def test_fitness_error_in_a_worker_keeps_the_best_so_far(mode):
    calls = iter(range(10**6))

    def f(x):
        if next(calls) >= 40:
            raise ArithmeticError("simulation diverged")
        return sphere(x)

    with cf.ThreadPoolExecutor(2) as ex:
        with pytest.raises(en.TrainingError) as info:
            en.minimize(en.FitnessProblem(f, 2, executor=ex, parallel=mode), np.full(2, 0.5), "random",
                        {"popsize": 9}, max_steps=50, random_state=0)
    assert isinstance(info.value.__cause__, ArithmeticError)
    assert info.value.result.n_steps == 4 and np.isfinite(info.value.result.fun)


def test_evaluate_parallel_orders_results_and_passes_arguments():
    Theta = np.arange(12.0).reshape(6, 2)
    with cf.ThreadPoolExecutor(3) as ex:
        out, failed = evaluate_parallel(sphere, Theta, ex, kwargs={"shift": 1.0})
    assert failed == {} and out == [sphere(t, 1.0) for t in Theta]


def test_executor_options_are_checked_and_not_pickled():
    with pytest.raises(ValueError, match="vectorized=False"):
        en.FitnessProblem(sphere, 2, vectorized=True, executor=cf.ThreadPoolExecutor(1), parallel="members")
    with pytest.raises(ValueError, match="parallel must be"):
        en.FitnessProblem(sphere, 2, executor=cf.ThreadPoolExecutor(1), parallel="rows")
    with pytest.raises(ValueError, match="SupervisedProblem"):
        en.FitnessProblem(sphere, 2, executor=cf.ThreadPoolExecutor(1), parallel="data")
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
