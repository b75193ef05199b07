"""``evoneuro compare --task``: optimizers side by side on a long-time-lag task.

The same recurrent net (``--cell``, ``--hidden``), start, data and budget for every
optimizer, as in :func:`evoneuro.bench.compare.compare`, on a task of :mod:`evoneuro.tasks` with
its time lag set by ``--lag``. Each run reports the test loss and whether the trained net
meets the task's "solved" criterion on the test sequences.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: The optimizers of ``evoneuro compare --task`` when none are named.
DEFAULT_TASK_OPTIMIZERS = ("adam", "irprop+", "snes", "es", "random")
#: Task name -> the keyword arguments of its generator that set its lag ``T``.
TASK_LAGS: dict[str, Callable[[int], dict]] = {
    "adding": lambda T: {"T": T},
    "two_sequence": lambda T: {"min_length": T, "max_length": T + T // 10},
    "latch": lambda T: {"min_length": T, "max_length": T + T // 10},
    # the Elman stand-in: a sigmoid output for cross-entropy (the guessing paper's A1 reads its
    # output unit through a pinned linear readout, which compare's own RNN does not pin)
    "parity": lambda T: {"min_length": T, "max_length": T + T // 10, "architecture": "elman"},
    # the paper's lengths (100-110) and windows for X and Y: its lag is not a parameter
    "temporal_order": lambda T: {},
}
#: Tasks whose lag is fixed by their generator: the one lag they take.
FIXED_LAGS = {"temporal_order": 100}


@dataclass
class TaskRun:
    """One optimizer's run on a task."""

    optimizer: str
    params: dict
    seed: int
    test_loss: float
    solved: bool
    train_loss: float
    seconds: float
    evals: float
    steps: int
    stop_reason: str


def make_task(name: str, lag: int, n_train: int, n_test: int, random_state: int):
    """The task ``name`` of :mod:`evoneuro.tasks` with time lag ``lag``."""
    import evoneuro.tasks as tasks

    if name not in TASK_LAGS:
        raise ValueError(f"task must be one of {sorted(TASK_LAGS)}, got {name!r}")
    if not isinstance(lag, (int, np.integer)) or lag < 2:
        raise ValueError(f"lag must be an int >= 2, got {lag!r}")
    if name in FIXED_LAGS and lag != FIXED_LAGS[name]:
        raise ValueError(f"task {name!r} has the paper's fixed lengths: its lag is {FIXED_LAGS[name]}, got {lag}")
    return getattr(tasks, name)(n_train=n_train, n_test=n_test, random_state=random_state, **TASK_LAGS[name](lag))


def run_task(task, hidden: Sequence[int], cell: str, optimizer: str, params: dict | None, seed: int,
             budget_evals: int | None, budget_seconds: float | None, backend: str = "auto",
             n_jobs: int | None = None) -> TaskRun:
    """Train an RNN of ``cell`` units on ``task`` with one optimizer; score it on the test set."""
    from evoneuro.bench.compare import split_params
    from evoneuro.network.rnn import RNN
    from evoneuro.training.recipe import fit_network
    from evoneuro.training.starts import resolve_init

    params = dict(params or {})
    X, y, lengths = task.net_data("train")  # the paper net's targets (N, n_outputs)
    net = RNN(X.shape[2], tuple(hidden), task.net.n_outputs, cell=cell, output=task.net.output,
              readout=task.net.readout)
    regularization, opt_params = split_params(params)
    x0 = resolve_init(net, "auto", np.random.default_rng(seed), X)
    fit = fit_network(net, X, y, optimizer=optimizer, x0=x0, optimizer_params=opt_params, lengths=lengths,
                      regularization=regularization, backend=backend, n_jobs=n_jobs, max_evals=budget_evals,
                      max_time=budget_seconds, random_state=seed)
    res, ev = fit.result, fit.evaluator
    Xt, yt, lt = task.net_data("test")
    out = ev.forward(res.x, Xt, lengths=lt)
    test_loss = float(ev.loss(res.x, Xt, yt, lengths=lt)[0])
    return TaskRun(optimizer, params, seed, test_loss, bool(task.criterion(out, yt)[0]), float(res.fun),
                   float(res.seconds), float(res.n_evals), int(res.n_steps), str(res.stop_reason))


def compare_task(name: str, lag: int, *, cell: str = "lstm", hidden: Sequence[int] = (32,),
                 optimizers: Sequence[str | tuple[str, dict]] = ("adam", "snes"), seeds: int = 1,
                 budget_evals: float | None = 10_000_000, budget_seconds: float | None = None,
                 n_train: int = 1000, n_test: int = 500, backend: str = "auto", n_jobs: int | None = None,
                 echo: Callable[[str], Any] | None = None) -> list[TaskRun]:
    """Every optimizer on task ``name`` at time lag ``lag``; one task draw per seed.

    Budgets count sample-forward evaluations, one per sequence step, so they do not
    depend on the machine's load.

    Examples
    --------
    >>> from evoneuro.bench.compare_tasks import compare_task, table
    >>> runs = compare_task("adding", 12, cell="gru", hidden=(8,), optimizers=["adam"], budget_evals=2_000_000,
    ...                     n_train=200, n_test=100, backend="numpy")
    >>> runs[0].test_loss < 0.04, "solved" in table(runs)   # 0.04: the loss of always answering 0.5
    (True, True)
    """
    specs = [(spec, {}) if isinstance(spec, str) else spec for spec in optimizers]
    unfit = [n for n, _ in specs if n == "sklearn"]
    if unfit:
        raise ValueError("sklearn cannot train recurrent nets (scikit-learn has none); choose registry optimizers "
                         "such as adam, irprop+, snes, es, random, readout")
    runs = []
    for seed in range(seeds):
        task = make_task(name, lag, n_train, n_test, seed)
        for opt, params in specs:
            run = run_task(task, hidden, cell, opt, params, seed, None if budget_evals is None else int(budget_evals),
                           budget_seconds, backend, n_jobs)
            runs.append(run)
            if echo is not None:
                echo(f"  {opt:<12} seed {seed}: test loss {run.test_loss:.4g}, solved {run.solved} "
                     f"({run.seconds:.1f} s, {run.evals:.3g} evaluations)")
    return runs


def table(runs: Sequence[TaskRun]) -> str:
    """One row per optimizer: mean test loss, runs solved, seconds and evaluations."""
    names = list(dict.fromkeys(r.optimizer for r in runs))
    lines = [f"{'optimizer':<12} {'test loss':>10} {'solved':>8} {'seconds':>9} {'evaluations':>12}", "-" * 55]
    for n in names:
        rs = [r for r in runs if r.optimizer == n]
        lines.append(f"{n:<12} {np.mean([r.test_loss for r in rs]):>10.4g} "
                     f"{sum(r.solved for r in rs):>4}/{len(rs):<3} {np.mean([r.seconds for r in rs]):>9.1f} "
                     f"{np.mean([r.evals for r in rs]):>12.3g}")
    return "\n".join(lines)


def write(runs: Sequence[TaskRun], path, environment: dict) -> None:
    """``results.json`` with the runs and the environment they ran in."""
    import json
    from pathlib import Path

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / "results.json", "w") as fh:
        json.dump({"environment": environment, "runs": [asdict(r) for r in runs],
                   "written": time.strftime("%Y-%m-%d %H:%M:%S")}, fh, indent=1, default=str)


__all__ = ["DEFAULT_TASK_OPTIMIZERS", "TASK_LAGS", "TaskRun", "compare_task", "make_task", "run_task", "table", "write"]
