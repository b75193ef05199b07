"""The default backend on a busy machine: no collapse under CPU contention.

Starts ``--busy`` bounded busy-loop processes (``timeout T python -c "while True: pass"``,
always killed at the end), then, in one run and under that load,

1. times ``Evaluator.loss`` on workloads A-D of ``shared/bench/configs.json`` with the
   default backend (``auto``, ``n_jobs=None``), the numpy backend, and the Numba backend
   on every thread count from 1 to the CPUs available (median of interleaved rounds, so
   a slow moment hits every contender alike);
2. runs ``evoneuro compare``'s :func:`~evoneuro.bench.compare.run_one` for ``--seconds`` each
   with adam and sep-cmaes (digits, 32x10 sigmoid) on the same settings, and counts the
   steps done.

It prints the ratios the targets are stated in: the default's time over numpy's
(target <= 1: never slower than numpy) and over the best thread setting's (target
<= 1.3); for ``compare``, the best setting's steps over the default's (target <= 1.3)
and numpy's steps over the default's (target <= 1). ``--busy 0`` is the idle baseline.

Usage::

    python benchmarks/bench_contention.py                  # 2 busy loops, A-D, 10 s compares
    python benchmarks/bench_contention.py --busy 0         # the same on an idle machine
    python benchmarks/bench_contention.py --quick          # seconds-long smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_evaluator import QUICK, interleaved, load_configs, make_evaluator, make_problem  # noqa: E402

import evoneuro as en  # noqa: E402
from evoneuro._threads import available_cpus  # noqa: E402


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


class BusyLoops:
    """``n`` busy-loop processes, bounded by ``timeout`` and killed on exit."""

    def __init__(self, n: int, limit_s: int) -> None:
        self.n, self.limit_s, self.procs = n, limit_s, []

    def __enter__(self):
        cmd = [sys.executable, "-c", "while True: pass"]
        for _ in range(self.n):
            bounded = ["timeout", str(self.limit_s), *cmd] if _has_timeout() else cmd
            # A session of its own: on exit the whole group (timeout and its python) is killed.
            self.procs.append(subprocess.Popen(bounded, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL, start_new_session=True))
        time.sleep(0.5 if self.n else 0)  # let the scheduler spread them
        return self

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in self.procs:
            p.wait()


def _has_timeout() -> bool:
    return any(os.access(os.path.join(d, "timeout"), os.X_OK)
               for d in os.environ.get("PATH", "").split(os.pathsep))


def settings(cpus: int) -> dict:
    """Contender name -> Evaluator keyword arguments (``threads``: a fixed thread count)."""
    out = {"default": dict(backend="auto"), "numpy": dict(backend="numpy")}
    for k in range(1, cpus + 1):
        out[f"numba x{k}"] = dict(backend="numba", threads=k)
    return out


@contextlib.contextmanager
def compare_threads(threads):
    """``run_one`` building its evaluator with a fixed thread count."""
    from evoneuro import compare

    saved = compare.Evaluator
    if threads is not None:
        compare.Evaluator = lambda net, backend, dtype, n_jobs=None, **kw: make_evaluator(
            net, dtype, backend, threads, evaluator=saved)
    try:
        yield
    finally:
        compare.Evaluator = saved


def bench_evaluator(configs: dict, dtype, rounds: int, cpus: int) -> list[bool]:
    names = list(settings(cpus))
    head = f"{'cfg':>4} " + " ".join(f"{n + ' ms':>12}" for n in names) + \
        f" {'def/numpy':>10} {'def/best':>9}"
    print(head)
    print("-" * len(head))
    ok = []
    for cname, cfg in configs.items():
        net, Theta, X, y, _ = make_problem(cfg, dtype)
        evs = {n: make_evaluator(net, dtype, **kw) for n, kw in settings(cpus).items()}
        t = interleaved({n: (lambda ev=ev: ev.loss(Theta, X, y)) for n, ev in evs.items()}, rounds)
        best = min(v for n, v in t.items() if n.startswith("numba"))
        r_np, r_best = t["default"] / t["numpy"], t["default"] / best
        ok += [r_np <= 1.0, r_best <= 1.3]
        print(f"{cname:>4} " + " ".join(f"{t[n] * 1e3:12.2f}" for n in names) +
              f" {r_np:10.2f} {r_best:9.2f}")
    return ok


def bench_compare(seconds: float, cpus: int, optimizers, hidden) -> list[bool]:
    from evoneuro.bench.compare import run_one
    from evoneuro.bench.datasets import load_dataset

    data = load_dataset("digits")
    names = list(settings(cpus))
    head = f"{'optimizer':>10} " + " ".join(f"{n + ' steps':>15}" for n in names) + \
        f" {'best/def':>9} {'numpy/def':>10}"
    print(head)
    print("-" * len(head))
    ok = []
    for opt in optimizers:
        steps = {}
        for n, kw in settings(cpus).items():
            with compare_threads(kw.get("threads")):
                res = run_one(data, hidden, optimizer=opt, budget_seconds=seconds,
                              budget_evals=None, seed=0, backend=kw["backend"])
            steps[n] = res.steps
        best = max(v for n, v in steps.items() if n.startswith("numba"))
        r_best, r_np = best / max(steps["default"], 1), steps["numpy"] / max(steps["default"], 1)
        ok += [r_best <= 1.3, r_np <= 1.0]
        print(f"{opt:>10} " + " ".join(f"{steps[n]:15d}" for n in names) +
              f" {r_best:9.2f} {r_np:10.2f}")
    return ok


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--busy", type=int, default=2, help="busy-loop processes (default 2)")
    ap.add_argument("--configs", default="A,B,C,D")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--seconds", type=float, default=10.0, help="budget of each compare run")
    ap.add_argument("--optimizers", default="adam,sep-cmaes")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (seconds)")
    args = ap.parse_args(argv)
    cpus = available_cpus()
    dtype = np.dtype(args.dtype).type
    if args.quick:
        configs, rounds, seconds, hidden = {"quick": QUICK}, 2, 0.5, (8,) * 2
    else:
        cpu = load_configs()["cpu"]
        configs = {n: cpu[n] for n in args.configs.split(",")}
        rounds, seconds, hidden = args.rounds, args.seconds, (32,) * 10
    optimizers = [o for o in args.optimizers.split(",") if o]
    # Warm the Numba cache before the clock matters (compilation is not what is measured).
    net, Theta, X, y, _ = make_problem(QUICK, dtype)
    ev = en.Evaluator(net, backend="numba", dtype=dtype)
    ev.loss(Theta, X, y), ev.loss_and_grad(Theta, X, y)
    bound = int(60 + len(configs) * rounds * 20 + len(optimizers) * (cpus + 2) * (seconds + 30))
    print(f"{cpus} CPUs available; {args.busy} busy loops; dtype {np.dtype(dtype).name}; "
          f"load before {loadavg()}")
    with BusyLoops(args.busy, bound):
        print(f"\nEvaluator.loss, median of {rounds} interleaved rounds")
        ok = bench_evaluator(configs, dtype, rounds, cpus)
        if optimizers:
            print(f"\nrun_one on digits, {seconds:g} s each (steps done; more is better)")
            ok += bench_compare(seconds, cpus, optimizers, hidden)
        load = loadavg()
    print(f"\nload at the end {load}")
    print(f"targets met: {sum(ok)}/{len(ok)} (default <= numpy, within 1.3x of the best threads)")


if __name__ == "__main__":
    main()
