"""Seeds-only evolution strategies: workers rebuild their members from the shared noise table.

Salimans et al. (2017) ran evolution strategies on 1,440 CPUs by sending, each generation,
only scalars: every worker holds the same noise table and the same copy of the search
distribution, draws the same perturbations from the same seeds, and applies the same update
from everyone's returns, so no weight vector crosses the network after the start.

:class:`SeedsOnly` does that on a dask ``Client`` for the optimizers that sample from
:mod:`evoneuro.optimizers._noise` (``es``, ``snes``): each worker holds a *replica* of the
optimizer (pickled once, with its random generator and its noise table's seed). A
generation sends each worker the generation number, the previous generation's *ranks*
(``uint16``, 2 bytes per member: the update of these optimizers depends on the ranks only)
and the step's rows of the data (a minibatch's indices, a constant); the replica tells
itself those ranks, asks — drawing exactly the rows the client's optimizer drew — and
evaluates its share of the members; it returns their losses (8 bytes per member). Bytes
per generation: ``8 P + 2 P W`` plus a constant per task, whatever the number of weights
(``benchmarks/bench_distributed.py`` counts them with dask's own counters).

The client runs the same optimizer itself (``ask`` and ``tell``: a memory copy per member,
no evaluation), so its state, best point and checkpoints are those of a serial run, and
the losses are the bits of serial evaluation: the replicas' members are the client's.

Failures: a replica that was lost with its worker, a task past ``timeout``, or any other
failure of a generation drops the replicas; that generation's members are then evaluated
by the problem's own path (chunks or members, with their retries, poison-member and
timeout rules), and the replicas are sent again at the next generation. A cluster without
workers raises the ``RuntimeError`` of :mod:`.members`.
"""

from __future__ import annotations

import pickle
import time
import weakref

import numpy as np

from evoneuro.distributed.chunks import wait_for_workers
from evoneuro.distributed.members import POLL_SECONDS, _PENDING, _dask_client, _outcome, _wait_any


class StaleReplica(RuntimeError):
    """A worker's optimizer replica is not at the generation the client asked for."""


def _generation(box: list, source, generation: int, ranks, lo: int, hi: int, index):
    """On a worker: bring the replica in ``box`` to ``generation``, ask, evaluate rows ``lo:hi``."""
    opt, last = box
    if ranks is not None:  # the previous generation's ranks: the client's own update
        opt.tell(last, ranks.astype(np.float64))
    if opt.generation != generation:
        raise StaleReplica(f"replica at generation {opt.generation}, asked for {generation}")
    Theta = opt.ask()
    box[1] = Theta
    return source.losses(Theta[lo:hi], index)


class SeedsOnly:
    """Run the generations of ``optimizer`` (``es``, ``snes``) on ``problem``'s dask
    ``Client`` with seeds-only traffic (see the module docstring).

    Parameters
    ----------
    optimizer : Optimizer
        An initialised optimizer whose ``ask`` draws its members from a shared noise table
        and whose update reads the losses' ranks only.
    problem : Problem
        Its ``executor`` a dask ``Client``, and a ``seeds_source()`` that gives the
        picklable evaluation a worker runs (:class:`evoneuro.FitnessProblem`,
        :class:`evoneuro.SupervisedProblem`).

    Examples
    --------
    >>> from evoneuro.distributed.seeds import SeedsOnly
    >>> SeedsOnly.applies(object())
    False
    """

    def __init__(self, optimizer, problem) -> None:
        self.client = _dask_client(problem.executor)
        self._replicas: dict[str, object] = {}
        self._ranks = None
        self._source = None  # the scattered source
        self._source_of = None  # the problem's source object it was scattered from

    @staticmethod
    def applies(problem) -> bool:
        """Whether ``problem`` can run seeds-only generations: a dask ``Client`` and a source."""
        executor = getattr(problem, "executor", None)
        return (executor is not None and _dask_client(executor) is not None
                and getattr(problem, "parallel", None) in ("auto", "seeds")
                and callable(getattr(problem, "seeds_source", None)) and problem.seeds_source() is not None)

    def _workers(self) -> list[str]:
        wait_for_workers(self.client)
        return sorted(w for w, n in self.client.nthreads().items() if n)

    def _place(self, optimizer, workers: list[str]) -> None:
        """Send a replica of ``optimizer`` as it is now (before its ask) to every worker lacking one."""
        state = None
        for w in workers:
            if w in self._replicas and self._replicas[w].status == "finished":
                continue
            state = pickle.dumps(optimizer) if state is None else state
            [self._replicas[w]] = self.client.scatter([[pickle.loads(state), None]], workers=[w], hash=False)

    def step(self, optimizer, problem) -> np.ndarray:
        """One generation; returns the losses, as ``Optimizer.step`` does."""
        source = problem.seeds_source()
        workers = self._workers()
        if self._source is None or self._source_of is not source or self._source.status != "finished":
            [self._source] = self.client.scatter([source], broadcast=True, hash=False)
            self._source_of = source
        if set(self._replicas) != set(workers) or any(f.status != "finished" for f in self._replicas.values()):
            self._replicas.clear()
            self._ranks = None
            self._place(optimizer, workers)
        generation = optimizer.generation
        index = problem.seeds_index()
        Theta = optimizer.ask()
        P = len(Theta)
        cuts = [-(-i * P // len(workers)) for i in range(len(workers) + 1)]
        ranks = self._ranks
        running = {}
        for k, w in enumerate(workers):
            lo, hi = cuts[k], cuts[k + 1]
            running[(lo, hi)] = (w, self.client.submit(_generation, self._replicas[w], self._source, generation,
                                                       ranks, lo, hi, index, pure=False, workers=[w],
                                                       allow_other_workers=False))
        raw = self._gather(running, P, problem)
        if raw is None:  # a lost replica, a timeout or an error: this generation the problem's way
            self._replicas.clear()
            self._ranks = None
            losses, grads = problem.evaluate(Theta, need_grad=False)
        else:
            losses = problem.seeds_finish(Theta, raw, index)
        optimizer.tell(Theta, losses)
        if raw is not None:
            told = np.where(np.isnan(losses), np.inf, losses)
            order = np.argsort(told, kind="stable")  # ranks, ties by position: the optimizers' own
            ranks = np.empty(P, dtype=np.uint16 if P <= 1 << 16 else np.uint32)
            ranks[order] = np.arange(P)
            self._ranks = ranks
        return losses

    def _gather(self, running: dict, P: int, problem) -> np.ndarray | None:
        """The raw losses of the generation, or None when a task failed, a worker left or
        ``problem.timeout`` passed (the tasks left are cancelled)."""
        timeout = getattr(problem, "timeout", None)
        deadline = None if timeout is None else time.monotonic() + timeout
        raw = np.empty(P)
        checked = time.monotonic()
        try:
            while running:
                for (lo, hi), (_, fut) in list(running.items()):
                    value, err = _outcome(fut)
                    if value is _PENDING:
                        continue
                    del running[(lo, hi)]
                    if err is not None:
                        raise _Failed(err)
                    raw[lo:hi] = value
                if not running:
                    break
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    raise _Failed(TimeoutError(f"not finished within timeout={timeout:g} s"))
                if now - checked >= POLL_SECONDS:
                    checked = now
                    alive = set(self.client.nthreads())
                    if any(w not in alive for w, _ in running.values()):
                        raise _Failed(ConnectionError("a worker left the cluster during the generation"))
                _wait_any([fut for _, fut in running.values()], POLL_SECONDS)
        except _Failed:
            for _, fut in running.values():
                fut.cancel()
            return None
        except BaseException:
            for _, fut in running.values():
                fut.cancel()
            raise
        return raw


class FitnessSource:
    """What a worker evaluates for a :class:`evoneuro.FitnessProblem`: the raw values."""

    def __init__(self, fun, args: tuple, kwargs: dict, vectorized: bool) -> None:
        self.fun, self.args, self.kwargs, self.vectorized = fun, args, kwargs, vectorized

    def losses(self, Theta: np.ndarray, index) -> np.ndarray:
        if self.vectorized:
            Theta = Theta.view()
            Theta.flags.writeable = False
            return np.asarray(self.fun(Theta, *self.args, **self.kwargs), dtype=np.float64).reshape(-1)
        return np.array([float(np.asarray(self.fun(np.array(t, dtype=np.float64), *self.args, **self.kwargs),
                                          dtype=np.float64).reshape(())) for t in Theta])


class RowsSource:
    """What a worker evaluates for a :class:`evoneuro.SupervisedProblem`: the mean losses
    of the step's rows (``index``, or all), before weight decay."""

    def __init__(self, evaluator, X, y, lengths) -> None:
        self.evaluator, self.X, self.y, self.lengths = evaluator, X, y, lengths

    def losses(self, Theta: np.ndarray, index) -> np.ndarray:
        X, y, lengths = self.X, self.y, self.lengths
        if index is not None:
            X, y, lengths = X[index], y[index], None if lengths is None else lengths[index]
        return self.evaluator._loss(self.evaluator.check_Theta(Theta), X, y, lengths)


_RUNNERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def seeds_step(optimizer, problem) -> np.ndarray | None:
    """One seeds-only generation of ``optimizer`` on ``problem`` when it applies
    (:meth:`SeedsOnly.applies`), else None (the caller runs its ordinary step). The runner,
    with the replicas it placed, is kept per optimizer, outside its pickled state."""
    if not SeedsOnly.applies(problem):
        return None
    runner = _RUNNERS.get(optimizer)
    if runner is None or runner.client is not _dask_client(problem.executor):
        runner = _RUNNERS[optimizer] = SeedsOnly(optimizer, problem)
    return runner.step(optimizer, problem)


class _Failed(Exception):
    def __init__(self, err: BaseException) -> None:
        super().__init__(str(err))
        self.error = err


__all__ = ["FitnessSource", "RowsSource", "SeedsOnly", "StaleReplica", "seeds_step"]
