"""2-sequence at T = 500: nets evaluated until one solves the task, evolution vs guessing.

The task and net are :func:`evoneuro.tasks.two_sequence` (lengths 500-600, one sigmoid
recurrent unit and a sigmoid output: 5 weights); "solved" is the task's criterion (every one
of the 100 training sequences ends within 0.1 of its 0/1 target). For each task seed the
count is the number of nets evaluated up to and including the first that solves it, capped
at ``--cap`` (a capped run counts as the cap and as unsolved):

- ``guess``: random weight guessing as the paper defines it (:func:`evoneuro.tasks.guess`,
  every weight uniform in [-100, 100]);
- ``cmaes`` (pycma, box [-100, 100]) and ``snes``, started at 0 with spread ``sigma0``,
  told ``fraction of sequences not solved + 0.01 * mean |error|`` (the count alone is flat
  almost everywhere); every member of every generation is checked against the criterion;
- ``guess+cmaes``: CMA-ES restarted from guessed nets. Nets are guessed as by ``guess``
  (64 at a time); the first that ends within 0.1 of its target on at least
  ``PROMISING`` (60 %) of the training sequences starts a CMA-ES run (pycma, box
  [-100, 100], spread ``sigma0`` = 10, 8 members, told the same fitness) of at most
  ``LOCAL_GENERATIONS`` (20) generations; without a solution, guessing resumes where it
  stopped. Every guessed and every evolved net counts.

``--hidden H --activation tanh`` runs the same on a wider Elman net (sigmoid output), and
``--start data`` replaces the two strategies by sep-CMA-ES started from the library's
data-dependent start with spread 0.5 (the lag sweep's setting), told the training
cross-entropy.

One core, the Numba backend in float64. Prints one line per method and the load average::

    python benchmarks/two_sequence_es.py                           # 10 task seeds, cap 20,000
    python benchmarks/two_sequence_es.py --tasks 5 --cap 5000 --hidden 4 --activation tanh --start data
    python benchmarks/two_sequence_es.py --tasks 2 --cap 500       # smoke run
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import evoneuro as en  # noqa: E402
from evoneuro.training.starts import resolve_init  # noqa: E402
from evoneuro.optimizers import get_optimizer  # noqa: E402
from evoneuro.optimizers.random_search import RandomSearch  # noqa: E402
from evoneuro.tasks import guess, two_sequence  # noqa: E402

METHODS = (("guess", None, None), ("cmaes", 30.0, 16), ("snes", 30.0, 16), ("guess+cmaes", 10.0, 8))
PROMISING = 0.6  # fraction of training sequences a guessed net must get right to start CMA-ES from it
LOCAL_GENERATIONS = 20
FROM_DATA = (("guess", None, None), ("sep-cmaes", 0.5, None))


def cross_entropy(out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean binary cross-entropy per member of sigmoid outputs ``(P, N, 1)``."""
    p = np.clip(out[..., 0], 1e-12, 1 - 1e-12)
    return -(y[:, 0] * np.log(p) + (1 - y[:, 0]) * np.log1p(-p)).mean(axis=1)


def fitness(out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fraction of sequences not within 0.1 of the target, plus 0.01 x the mean error."""
    err = np.abs(out - y[None])[..., 0]
    return (err > 0.1).mean(axis=1) + 0.01 * err.mean(axis=1)


def guess_then_cmaes(task, ev, sigma0: float, popsize: int, cap: int, seed: int) -> int | None:
    """Nets evaluated by CMA-ES restarted from promising guesses until one solves ``task``."""
    X, y, lengths = task.net_data("train")
    low, high = task.bounds()
    rng = np.random.default_rng(seed)
    guesser = RandomSearch(mode="global", distribution="uniform", low=low, high=high, popsize=64,
                           dtype="float64").initialize(np.zeros(len(low)), rng)
    done = 0
    while done < cap:
        Theta = guesser.ask()
        out = ev.forward(Theta, X, lengths=lengths)
        ok = task.criterion(out, y)
        right = (np.abs(out - y[None])[..., 0] < 0.1).mean(axis=1)
        # in draw order: a solution, or the first promising net, ends this batch
        first = np.flatnonzero(ok | (right >= PROMISING))
        if not len(first):
            done += len(Theta)
            continue
        i = int(first[0])
        done += i + 1
        if ok[i]:
            return done
        opt = get_optimizer("cmaes", sigma0=sigma0, popsize=popsize, bounds=[-100.0, 100.0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt.initialize(Theta[i], rng)
        for _ in range(LOCAL_GENERATIONS):
            local = np.asarray(opt.ask(), dtype=np.float64)
            out = ev.forward(local, X, lengths=lengths)
            ok = task.criterion(out, y)
            if ok.any():
                return done + int(np.argmax(ok)) + 1
            done += len(local)
            opt.tell(local, fitness(out, y))
    return None


def near_misses(n: int, lag: int, seed: int = 0) -> str:
    """How many of ``n`` guesses on task ``seed`` get 60 %, 80 % and all training sequences right."""
    task = two_sequence(min_length=lag, max_length=lag * 6 // 5, random_state=seed)
    ev = en.Evaluator(task.net, backend="numba", dtype="float64", n_jobs=1)
    X, y, lengths = task.net_data("train")
    low, high = task.bounds()
    Theta = np.random.default_rng(seed).uniform(low, high, size=(n, len(low)))
    right = (np.abs(ev.forward(Theta, X, lengths=lengths) - y[None])[..., 0] < 0.1).mean(axis=1)
    return ", ".join(f"{(right >= q).sum()} at least {q:.0%} right" for q in (0.6, 0.8, 1.0))


def nets_to_solution(task, ev, name: str, sigma0: float, popsize: int | None, cap: int, seed: int,
                     from_data: bool = False) -> int | None:
    """Nets evaluated until the first solves ``task`` (None: not within ``cap``)."""
    if name == "guess":
        return guess(task, max_trials=cap, random_state=seed, evaluator=ev).trials
    if name == "guess+cmaes":
        return guess_then_cmaes(task, ev, sigma0, popsize, cap, seed)
    kw = {"sigma0": sigma0} | ({"popsize": popsize} if popsize else {})
    if name == "cmaes":
        kw["bounds"] = [-100.0, 100.0]
    opt = get_optimizer(name, **kw)
    X, y, lengths = task.net_data("train")
    rng = np.random.default_rng(seed)
    x0 = resolve_init(task.net, "auto", rng, X) if from_data else np.zeros(task.net.n_params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt.initialize(x0, rng)
    done = 0
    while done < cap:
        Theta = opt.ask()
        out = ev.forward(np.asarray(Theta, dtype=np.float64), X, lengths=lengths)  # (P, N, 1)
        ok = task.criterion(out, y)
        if ok.any():
            return done + int(np.argmax(ok)) + 1
        done += len(Theta)
        opt.tell(Theta, cross_entropy(out, y) if from_data else fitness(out, y))
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=10, help="task seeds")
    ap.add_argument("--cap", type=int, default=20_000, help="nets per run before giving up")
    ap.add_argument("--lag", type=int, default=500, help="shortest sequence length (longest: 1.2 x)")
    ap.add_argument("--hidden", type=int, default=1, help="recurrent units (the paper: 1)")
    ap.add_argument("--activation", default="sigmoid", help="of the recurrent units (the paper: sigmoid)")
    ap.add_argument("--start", choices=("zero", "data"), default="zero",
                    help="zero: CMA-ES and SNES from 0, sigma0 30; data: sep-CMA-ES from the data-dependent start")
    ap.add_argument("--methods", default=None, help="comma-separated subset of the methods (default: all)")
    ap.add_argument("--near-misses", type=int, default=0, metavar="N",
                    help="also guess N nets on task 0 and count those that get 60 %%, 80 %% and 100 %% right")
    args = ap.parse_args()
    from_data = args.start == "data"
    methods = [m for m in (FROM_DATA if from_data else METHODS) if args.methods is None or m[0] in args.methods.split(",")]
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{'method':11s} {'sigma0':>6s} {'popsize':>7s} {'mean nets':>10s} {'median':>7s} {'unsolved':>8s} "
          f"{'seconds':>7s}  per task")
    for name, sigma0, popsize in methods:
        t0, counts = time.perf_counter(), []
        for s in range(args.tasks):
            task = two_sequence(min_length=args.lag, max_length=args.lag * 6 // 5, hidden=args.hidden, random_state=s)
            if args.activation != "sigmoid":
                task = dataclasses.replace(task, net=en.RNN(1, (args.hidden,), 1, activation=args.activation,
                                                            output="sigmoid"))
            ev = en.Evaluator(task.net, backend="numba", dtype="float64", n_jobs=1)
            counts.append(nets_to_solution(task, ev, name, sigma0, popsize, args.cap, 100 + s, from_data))
        filled = np.array([args.cap if c is None else c for c in counts], dtype=float)
        print(f"{name:11s} {sigma0 or 0:6g} {popsize or 0:7d} {filled.mean():10.0f} {np.median(filled):7.0f} "
              f"{sum(c is None for c in counts):8d} {time.perf_counter() - t0:7.0f}  {counts}", flush=True)
    if args.near_misses:
        print(f"{args.near_misses} guesses on task 0: {near_misses(args.near_misses, args.lag)}")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
