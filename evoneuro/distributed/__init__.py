"""Evaluation past one machine: per-member tasks, sub-population tasks, data-parallel shards.

Three ways to spread one generation over an executor (a ``concurrent.futures`` pool or a
dask ``Client``), chosen by ``parallel=`` on :class:`evoneuro.FitnessProblem` and
:class:`evoneuro.SupervisedProblem` (``"auto"`` picks as the table says):

==================  ============================================  =====================================
mode                what a task carries and does                  ``"auto"`` chooses it
==================  ============================================  =====================================
``"members"``       one member's weights; the fitness on it       a per-vector fitness whose members
(:mod:`.members`)                                                 take :data:`MEMBER_TASKS_FROM` s or
                                                                  more (slow, uneven simulations)
``"chunks"``        a few contiguous chunks of the population     every other fitness, and supervised
(:mod:`.chunks`)    per worker; the fitness or the evaluator on   problems evaluated by minibatches or
                    the chunk; fixed data and arguments sent once  by population methods
``"data"``          the whole population; each worker holds a     a full-batch supervised problem
(:mod:`.shards`)    shard of the rows and returns its groups'     whose population is smaller than the
                    sums, added in one fixed order                workers (the gradient optimizers)
seeds-only          the previous generation's ranks; each worker  ``es`` and ``snes`` on a dask
(:mod:`.seeds`)     rebuilds its members from the shared noise    ``Client`` (their ``step``)
                    table and returns their losses
==================  ============================================  =====================================

Every mode gives the bits of serial evaluation: members, chunks and seeds-only replicas
because a member's value does not depend on its neighbours, data-parallel shards because the evaluator sums
the same fixed sample groups in the same order on one machine as across workers
(:meth:`evoneuro.Evaluator.partial_sums`). Every mode ends a failure in a result or a
clear error, never a hang: lost workers, timeouts, members that kill their worker and
clusters without workers (see each module).
"""

from evoneuro.distributed.chunks import (
    CHUNKS_PER_WORKER,
    MEMBER_TASKS_FROM,
    MIN_CHUNK_SECONDS,
    ChunkTask,
    EvaluatorTask,
    MemberTask,
    Payload,
    evaluate_chunks,
    evaluate_evaluator_chunks,
    n_chunks,
    worker_threads,
)
from evoneuro.distributed.members import (
    NO_WORKERS_TIMEOUT,
    ON_ERROR,
    POLL_SECONDS,
    FitnessRaised,
    MemberTimeout,
    WorkerLost,
    check_on_error,
    evaluate_parallel,
    lost_worker_errors,
)
from evoneuro.distributed.shards import ShardedData, ShardLost, plan

PARALLEL = ("auto", "members", "chunks", "data")


def check_parallel(parallel) -> str:
    """``parallel`` checked: one of :data:`PARALLEL`.

    Examples
    --------
    >>> check_parallel("chunks")
    'chunks'
    """
    if not isinstance(parallel, str) or parallel not in PARALLEL:
        raise ValueError(f"parallel must be one of {PARALLEL} ('auto': chosen per call, see "
                         f"evoneuro.distributed), got {parallel!r}")
    return parallel


__all__ = ["CHUNKS_PER_WORKER", "ChunkTask", "EvaluatorTask", "FitnessRaised", "MEMBER_TASKS_FROM", "MIN_CHUNK_SECONDS",
           "MemberTask", "MemberTimeout", "NO_WORKERS_TIMEOUT", "ON_ERROR", "PARALLEL", "POLL_SECONDS", "Payload",
           "ShardLost", "ShardedData", "WorkerLost", "check_on_error", "check_parallel", "evaluate_chunks",
           "evaluate_evaluator_chunks", "evaluate_parallel", "lost_worker_errors", "n_chunks", "plan", "worker_threads"]
