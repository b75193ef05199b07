"""Sub-population chunks and data-parallel shards on dask: the bits of serial evaluation, and
every failure a result or a clear error (issue 28).

The per-member and chunk modes of a fitness are tested in ``test_distributed.py``; here the
supervised problems (chunks and row shards), the estimators on a cluster, and the pieces.
"""

import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import evoneuro as en
from evoneuro.distributed import n_chunks, plan
from tests.dist_helpers import empty_cluster, within

pytest.importorskip("distributed")

ROOT = str(Path(__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def client():
    import dask
    from distributed import Client, LocalCluster

    added = ROOT not in sys.path
    if added:
        sys.path.insert(0, ROOT)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                          "distributed.deploy.lost-worker-timeout": "600s"}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                          silence_logs=logging.CRITICAL) as cluster, Client(cluster) as c:
            yield c
    if added:
        sys.path.remove(ROOT)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 12))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y


NET = en.MLP(12, (16, 16), 3, activation="tanh")


def steps(problem, Theta, n=3, seed=1):
    """``n`` steps' losses and gradients of ``Theta`` (the problem's minibatches drawn by ``seed``)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        problem.begin_step(rng)
        out.append(problem.evaluate(Theta, False)[0])
        out.extend(problem.evaluate(Theta, True))
    return out


@pytest.mark.parametrize("parallel,batch_size,P", [("chunks", None, 6), ("chunks", 128, 6), ("data", None, 1),
                                                   ("data", None, 5), ("auto", None, 1), ("auto", 128, 6)])
def test_supervised_problem_on_dask_gives_the_serial_bits(client, data, parallel, batch_size, P):
    X, y = data
    ev = en.Evaluator(NET, backend="numba")
    Theta = NET.init_population(P, np.random.default_rng(2))
    serial = steps(en.SupervisedProblem(ev, X, y, batch_size=batch_size, alpha=1e-3), Theta)
    prob = en.SupervisedProblem(ev, X, y, batch_size=batch_size, alpha=1e-3, executor=client, parallel=parallel)
    for a, b in zip(serial, within(120, steps, prob, Theta)):
        np.testing.assert_array_equal(a, b)


def test_one_worker_and_two_give_the_same_bits(data):
    from distributed import Client, LocalCluster

    X, y = data
    ev = en.Evaluator(NET, backend="numba", dtype="float64")
    Theta = NET.init_population(2, np.random.default_rng(3))
    results = []
    for n in (1, 2):
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                          silence_logs=logging.CRITICAL) as cluster, Client(cluster) as c:
            prob = en.SupervisedProblem(ev, X, y, executor=c, parallel="data")
            results.append(within(120, steps, prob, Theta, 1))
            assert len(prob._shards._layout) == n  # the rows really were split n ways
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("optimizer", ["irprop+", "sep-cmaes"])
def test_estimator_fits_on_a_dask_cluster_as_on_one_machine(client, data, optimizer):
    X, y = data
    kw = dict(hidden_layer_sizes=(8,), optimizer=optimizer, max_iter=15, random_state=0, early_stopping=False)
    serial = en.EvoMLPClassifier(**kw).fit(X, y)
    on_cluster = within(240, en.EvoMLPClassifier(**kw, executor=client).fit, X, y)
    np.testing.assert_array_equal(on_cluster.params_, serial.params_)
    np.testing.assert_array_equal(on_cluster.predict(X), serial.predict(X))


def test_compare_takes_an_executor(client):
    from evoneuro.bench.compare import compare

    kw = dict(hidden=(4,), optimizers=["irprop+", "snes"], budget_evals=30_000, progress=False)
    serial = compare("iris", **kw)
    on_cluster = within(240, compare, "iris", executor=client, **kw)
    assert [r.test_accuracy for r in on_cluster.runs] == [r.test_accuracy for r in serial.runs]
    assert [r.train_loss for r in on_cluster.runs] == [r.train_loss for r in serial.runs]
    assert "executor" in on_cluster.environment


def test_data_parallel_survives_a_lost_worker(client, data):
    X, y = data
    ev = en.Evaluator(NET, backend="numba")
    Theta = NET.init_population(1, np.random.default_rng(4))
    prob = en.SupervisedProblem(ev, X, y, executor=client, parallel="data")
    expected = en.SupervisedProblem(ev, X, y).evaluate(Theta, True)
    within(120, prob.evaluate, Theta, True)  # the shards are placed
    victim = prob._shards._layout[0][0]
    try:
        client.run(os._exit, 1, workers=[victim])
    except Exception:  # noqa: BLE001 - the worker died before it could answer
        pass
    got = within(120, prob.evaluate, Theta, True)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    deadline = time.monotonic() + 60
    while len(client.nthreads()) < 2 and time.monotonic() < deadline:  # the nanny restarts it
        time.sleep(0.2)


def test_data_parallel_past_its_timeout_is_a_clear_error(client, data):
    X, y = data
    prob = en.SupervisedProblem(en.Evaluator(NET, backend="numba"), X, y, executor=client, parallel="data",
                                retries=1, timeout=1e-4)
    with pytest.raises(en.distributed.ShardLost, match="2 tries"):
        within(120, prob.evaluate, NET.init_population(1, np.random.default_rng(0)), True)


def test_supervised_chunks_past_their_timeout_are_worst_with_one_warning(client, data):
    X, y = data
    prob = en.SupervisedProblem(en.Evaluator(NET, backend="numba"), X, y, executor=client, parallel="chunks",
                                retries=0, timeout=1e-4)
    with pytest.warns(RuntimeWarning, match="worst value"):
        losses, _ = within(120, prob.evaluate, NET.init_population(3, np.random.default_rng(0)))
    assert np.all(np.isinf(losses))


@pytest.mark.parametrize("parallel", ["chunks", "data"])
def test_supervised_problem_on_an_empty_cluster_is_an_error_not_a_hang(data, parallel):
    import dask

    X, y = data
    with empty_cluster() as c:
        prob = en.SupervisedProblem(en.Evaluator(NET, backend="numba"), X, y, executor=c, parallel=parallel)
        with dask.config.set({"distributed.scheduler.no-workers-timeout": "1s"}):
            with pytest.raises(RuntimeError, match="no worker for"):
                within(60, prob.evaluate, NET.init_population(2, np.random.default_rng(0)))


def test_vectorized_fitness_runs_in_chunks_with_its_arguments_sent_once(client):
    big = np.arange(50_000.0)  # a fixed argument: scattered once, not shipped with every task

    def fitness(Theta, table):
        return (Theta ** 2).sum(axis=1) + table[0]

    serial = en.FitnessProblem(fitness, 5, vectorized=True, args=(big,))
    prob = en.FitnessProblem(fitness, 5, vectorized=True, args=(big,), executor=client)
    Theta = np.random.default_rng(0).standard_normal((40, 5))
    np.testing.assert_array_equal(within(60, prob.evaluate, Theta)[0], serial.evaluate(Theta)[0])
    first = prob._payload._future
    np.testing.assert_array_equal(within(60, prob.evaluate, Theta)[0], serial.evaluate(Theta)[0])
    assert prob._payload._future is first and prob._member_seconds is not None


def test_bad_parallel_arguments_name_the_problem(client, data):
    X, y = data
    ev = en.Evaluator(NET, backend="numba")
    with pytest.raises(ValueError, match="parallel must be"):
        en.SupervisedProblem(ev, X, y, executor=client, parallel="rows")
    with pytest.raises(ValueError, match="'members'"):
        en.SupervisedProblem(ev, X, y, executor=client, parallel="members")
    with pytest.raises(ValueError, match="full batch"):
        en.SupervisedProblem(ev, X, y, batch_size=100, executor=client, parallel="data")
    with pytest.raises(ValueError, match="per-group sums"):
        en.SupervisedProblem(en.Evaluator(NET, backend="numpy"), X, y, executor=client, parallel="data")
    with pytest.raises(TypeError, match="executor must be"):
        en.SupervisedProblem(ev, X, y, executor=object())


def test_chunks_and_shards_are_planned_as_documented():
    assert n_chunks(64, 2, None) == 8  # four per worker before a member is measured
    assert n_chunks(64, 2, 1e-5) == 2  # cheap members: one chunk per worker, >= 50 ms each
    assert n_chunks(64, 2, 0.005) == 7  # 10 members (50 ms) per chunk
    assert [b - a for _, a, b in plan(8, ["w1", "w2", "w3"])] == [3, 3, 2]


# --- seeds-only evolution strategies ------------------------------------------------------------

def sphere_rows(Theta):
    return (np.asarray(Theta, dtype=np.float64) ** 2).sum(axis=1)


def sphere_rows_die_once(Theta, marker):
    """Kill the worker process the first time it evaluates, then behave."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return sphere_rows(Theta)
    os.close(fd)
    os._exit(1)


def sphere_rows_raising(Theta):
    raise ArithmeticError("the simulation diverged")


def es_run(problem, optimizer="es", steps=6):
    return en.minimize(problem, np.full(30, 0.5), optimizer, {"popsize": 16}, max_steps=steps, random_state=0)


@pytest.mark.parametrize("optimizer", ["es", "snes"])
def test_seeds_only_es_gives_the_serial_bits_from_replicas_on_the_workers(client, optimizer, monkeypatch):
    from evoneuro.distributed.seeds import SeedsOnly

    placed = []
    gather = SeedsOnly._gather

    def spy(self, running, P, problem):
        raw = gather(self, running, P, problem)
        placed.append((len(self._replicas), raw is not None))
        return raw

    monkeypatch.setattr(SeedsOnly, "_gather", spy)
    serial = es_run(en.FitnessProblem(sphere_rows, 30, vectorized=True), optimizer)
    prob = en.FitnessProblem(sphere_rows, 30, vectorized=True, executor=client)
    on_cluster = within(120, es_run, prob, optimizer)
    np.testing.assert_array_equal(on_cluster.x, serial.x)
    np.testing.assert_array_equal(on_cluster.history["loss"], serial.history["loss"])
    assert on_cluster.n_evals == serial.n_evals
    assert placed == [(2, True)] * 6  # every generation seeds-only, from a replica on each worker


def test_seeds_only_survives_a_lost_worker(client, tmp_path):
    marker = str(tmp_path / "killed")
    serial = es_run(en.FitnessProblem(sphere_rows, 30, vectorized=True))
    prob = en.FitnessProblem(sphere_rows_die_once, 30, vectorized=True, args=(marker,), executor=client)
    res = within(240, es_run, prob)
    assert os.path.exists(marker)  # a worker did die
    np.testing.assert_array_equal(res.x, serial.x)
    deadline = time.monotonic() + 60
    while len(client.nthreads()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)


def test_seeds_only_fitness_error_stops_the_run(client):
    prob = en.FitnessProblem(sphere_rows_raising, 30, vectorized=True, executor=client)
    with pytest.raises((en.TrainingError, ArithmeticError)):
        within(120, es_run, prob)


def test_seeds_only_on_an_empty_cluster_is_an_error_not_a_hang():
    import dask

    with empty_cluster() as c:
        prob = en.FitnessProblem(sphere_rows, 30, vectorized=True, executor=c)
        with dask.config.set({"distributed.scheduler.no-workers-timeout": "1s"}):
            with pytest.raises((RuntimeError, en.TrainingError), match="no worker for"):
                within(60, es_run, prob, "es", 1)


def test_compare_cli_executor_arguments_are_checked():
    from evoneuro.cli import main

    for argv in (["compare", "--executor", "local:x"], ["compare", "--executor", "remote:2"],
                 ["compare", "--executor", "local:1", "--scheduler", "tcp://127.0.0.1:1"]):
        with pytest.raises(SystemExit) as info:
            main(argv + ["--optimizers", "random", "--budget-evals", "1000", "--dataset", "iris"])
        assert info.value.code == 2


def test_estimator_clones_share_the_client_and_pickles_drop_it(client):
    import pickle

    from sklearn.base import clone

    est = en.EvoMLPClassifier(hidden_layer_sizes=(4,), executor=client)
    assert clone(est).executor is client  # GridSearchCV's clones fit on the same cluster
    assert pickle.loads(pickle.dumps(est)).executor is None  # a pickled estimator runs locally
