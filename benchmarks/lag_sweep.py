"""Long time lags: success rate against lag for BPTT, evolution and guessing.

For each lag T in 10, 20, 50, 100, 200, 500 and each seed, one task draw is trained by every
method below, Elman (tanh) and LSTM cells of ``--hidden`` units, and the trained net is
scored once on the task's test sequences with the task's own "solved" criterion:

- ``two_sequence`` (Bengio et al. 1994; Hochreiter & Schmidhuber 1997): the class is in the
  first element, N(0, 0.2) noise after it, lengths T to 1.1 T, sigmoid output; solved when
  every test sequence ends within 0.1 of its 0/1 target.
- ``adding``, ``version="le"`` (Le, Jaitly & Hinton 2015): values in [0, 1], one marked
  pair in each half of a sequence of length T, linear output; solved when the test mean
  squared error is below 0.01 (predicting the mean scores 1/6). The Hochreiter version
  needs T >= 12, so it cannot run the T = 10 column.

Every method gets the same budget on a task and lag: ``K * T`` evaluations (sample time
steps, counted by the problem, so the budget does not depend on machine load), that is about
K sequence presentations whatever the lag; a gradient step costs three evaluations per time
step (forward and backward). The success rate is the fraction of seeds whose net is solved.

Methods: BPTT with Adam (learning rate 0.01) and iRprop+ (defaults); SNES and sep-CMA-ES
started with spread 0.5; random weight guessing as Schmidhuber & Hochreiter (1996) define
it (every weight uniform in [-100, 100], the best of all guesses on the training set, no
weight decay); on ``adding`` also ``readout`` (Evolino: evolved recurrent weights, a ridge
readout), which needs a linear output and so cannot run ``two_sequence``. Every other
setting is the library's default (the data-dependent start, weight decay 1e-4, full batch).

Prints the load average at the start and end, a progress line per (task, lag), and a
markdown table of success rates; writes every run to a JSON file and the plot::

    python benchmarks/lag_sweep.py            # the full study, 10 seeds: about half an hour on one core
    python benchmarks/lag_sweep.py --quick    # smoke run: 2 lags, 2 seeds, budgets / 10 (seconds)

Everything runs in one process on one core (``n_jobs=1``, one BLAS thread).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: one core, as the study says
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from evoneuro.bench.compare_tasks import make_task, run_task
from evoneuro.tasks import adding

LAGS = (10, 20, 50, 100, 200, 500)
ROOT = Path(__file__).resolve().parents[1]
GUESS = {"mode": "global", "distribution": "uniform", "low": -100.0, "high": 100.0, "alpha": 0.0}


@dataclass(frozen=True)
class Method:
    """One line of the plot: a cell trained by one optimizer with fixed settings."""

    cell: str
    optimizer: str
    params: dict = field(default_factory=dict)
    tasks: tuple[str, ...] = ("two_sequence", "adding")

    @property
    def label(self) -> str:
        name = "guessing" if self.optimizer == "random" else self.optimizer
        return f"{'Elman' if self.cell == 'elman' else 'LSTM'} {name}"


METHODS = [Method(cell, opt, params, tasks)
           for opt, params, tasks in (("adam", {"learning_rate": 0.01}, ("two_sequence", "adding")),
                                      ("irprop+", {}, ("two_sequence", "adding")),
                                      ("snes", {"sigma0": 0.5}, ("two_sequence", "adding")),
                                      ("sep-cmaes", {"sigma0": 0.5}, ("two_sequence", "adding")),
                                      ("random", GUESS, ("two_sequence", "adding")),
                                      ("readout", {}, ("adding",)))
           for cell in ("elman", "lstm")]


@dataclass(frozen=True)
class Setup:
    """A task's data sizes and its budget: ``presentations * T`` evaluations per run."""

    n_train: int
    n_test: int
    presentations: int

    def make(self, name: str, lag: int, seed: int):
        if name == "adding":
            return adding(lag, n_train=self.n_train, n_test=self.n_test, version="le", random_state=seed)
        return make_task(name, lag, self.n_train, self.n_test, seed)


FULL = {"two_sequence": Setup(32, 100, 100_000), "adding": Setup(64, 200, 200_000)}
QUICK = {"two_sequence": Setup(32, 100, 10_000), "adding": Setup(64, 200, 20_000)}


def sweep(setups: dict[str, Setup], lags, seeds: int, hidden: int, backend: str) -> list[dict]:
    """Every method on every task, lag and seed; one dict per run."""
    runs = []
    for name, setup in setups.items():
        methods = [m for m in METHODS if name in m.tasks]
        for lag in lags:
            t0, budget = time.perf_counter(), setup.presentations * lag
            for seed in range(seeds):
                task = setup.make(name, lag, seed)
                for m in methods:
                    r = run_task(task, (hidden,), m.cell, m.optimizer, m.params, seed, budget, None, backend, 1)
                    runs.append({"task": name, "lag": lag, "method": m.label, "cell": m.cell, "budget_evals": budget,
                                 "n_train": setup.n_train, "n_test": setup.n_test, "hidden": hidden, **asdict(r)})
            done = [r for r in runs if r["task"] == name and r["lag"] == lag]
            rates = "  ".join(f"{m.label} {sum(r['solved'] for r in done if r['method'] == m.label)}"
                              for m in methods)
            print(f"{name} T={lag}: solved of {seeds}: {rates}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    return runs


def success(runs: list[dict]) -> dict[tuple[str, str, int], tuple[int, int]]:
    """(task, method, lag) -> (seeds solved, seeds run)."""
    out: dict[tuple[str, str, int], list[int]] = {}
    for r in runs:
        s = out.setdefault((r["task"], r["method"], r["lag"]), [0, 0])
        s[0] += bool(r["solved"])
        s[1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def table(runs: list[dict]) -> str:
    """A markdown table per task: one row per method, one column per lag, solved/seeds."""
    rate = success(runs)
    blocks = []
    for name in dict.fromkeys(r["task"] for r in runs):
        lags = sorted({r["lag"] for r in runs if r["task"] == name})
        rows = [f"| {name} | " + " | ".join(f"T = {t}" for t in lags) + " |", "|---" * (len(lags) + 1) + "|"]
        for method in dict.fromkeys(r["method"] for r in runs if r["task"] == name):
            rows.append(f"| {method} | " + " | ".join("{}/{}".format(*rate[name, method, t]) for t in lags) + " |")
        blocks.append("\n".join(rows))
    return "\n\n".join(blocks)


def plot(runs: list[dict], setups: dict[str, Setup], seeds: int, hidden: int, path: Path) -> None:
    """Success rate against lag, one panel per task, one line per cell + optimizer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rate = success(runs)
    names = list(dict.fromkeys(r["task"] for r in runs))
    labels = list(dict.fromkeys(m.label for m in METHODS))
    optimizers = list(dict.fromkeys(m.optimizer for m in METHODS))
    markers = dict(zip(optimizers, "osD^vP"))
    fig, axes = plt.subplots(1, len(names), figsize=(6.4 * len(names), 5.2), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], names):
        lags = sorted({r["lag"] for r in runs if r["task"] == name})
        present = [m for m in METHODS if any(r["task"] == name and r["method"] == m.label for r in runs)]
        for m in present:
            k = labels.index(m.label)
            # a small shift in lag per line, so that lines on the same points stay visible
            shift = np.exp(0.035 * (k - (len(labels) - 1) / 2))
            y = [rate[name, m.label, t][0] / rate[name, m.label, t][1] for t in lags]
            color = f"C{optimizers.index(m.optimizer)}"
            ax.plot(np.array(lags) * shift, y, marker=markers[m.optimizer], ms=7, lw=1.6, color=color,
                    ls="-" if m.cell == "elman" else "--", mfc=color if m.cell == "elman" else "white",
                    mew=1.5, label=m.label)
        ax.set_xscale("log")
        ax.set_xticks(lags)
        ax.set_xticklabels([str(t) for t in lags])
        ax.minorticks_off()
        ax.set_ylim(-0.05, 1.05)
        s = setups[name]
        crit = "every test sequence within 0.1" if name == "two_sequence" else "test MSE < 0.01"
        ax.set_title(f"{name} ({crit})\nbudget {s.presentations:,} x T evaluations per run, "
                     f"{s.n_train} training sequences", fontsize=10)
        ax.set_xlabel("time lag T (sequence length)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"success rate (fraction of {seeds} seeds solved)")
    handles, legend = [], []
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in legend:
                handles.append(h)
                legend.append(lab)
    fig.legend(handles, legend, loc="lower center", ncol=3 * len(names), fontsize=9, frameon=False,
               title="solid, filled: Elman (tanh) · dashed, hollow: LSTM", title_fontsize=9)
    fig.suptitle(f"Success rate against time lag, {hidden} hidden units, equal evaluations per method", fontsize=12)
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def code_version() -> str:
    """The commit the library was imported from, marked ``+dirty`` when its files differ from it."""
    import evoneuro

    src = Path(evoneuro.__file__).resolve().parents[1]
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", *args], cwd=src, capture_output=True, text=True, check=False).stdout.strip()

        commit, dirty = git("rev-parse", "HEAD"), git("status", "--porcelain", "--", "evoneuro")
    except OSError:
        return "unknown"
    return f"{commit or 'unknown'}{'+dirty' if dirty else ''} ({src})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: lags 10 and 50, 2 seeds, budgets / 10")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per method and lag (default 10; --quick 2)")
    ap.add_argument("--lags", default=None, help="comma-separated lags (default 10,20,50,100,200,500)")
    ap.add_argument("--tasks", default="two_sequence,adding")
    ap.add_argument("--hidden", type=int, default=4, help="recurrent units")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--json", type=Path, default=None,
                    help="runs file (default benchmarks/results/lag_sweep.json; --quick: out/lag_sweep_quick.json)")
    ap.add_argument("--plot", type=Path, default=None,
                    help="plot (default docs/img/lag_sweep.png; --quick: out/lag_sweep_quick.png)")
    args = ap.parse_args()
    seeds = args.seeds or (2 if args.quick else 10)
    lags = [int(t) for t in args.lags.split(",")] if args.lags else ([10, 50] if args.quick else list(LAGS))
    setups = {k: v for k, v in (QUICK if args.quick else FULL).items() if k in args.tasks.split(",")}
    json_path = args.json or (ROOT / ("out/lag_sweep_quick.json" if args.quick else "benchmarks/results/lag_sweep.json"))
    plot_path = args.plot or (ROOT / ("out/lag_sweep_quick.png" if args.quick else "docs/img/lag_sweep.png"))

    version = code_version()  # before the runs: a change to the library during them would not show
    load0 = os.getloadavg()
    print(f"evoneuro: {version}")
    print(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}  (cpus: {os.cpu_count()}; "
          f"this study: one process, n_jobs=1)")
    for name, s in setups.items():
        print(f"{name}: {s.n_train} training / {s.n_test} test sequences, budget {s.presentations:,} x T "
              f"evaluations per run, {seeds} seeds, lags {lags}")
    t0 = time.perf_counter()
    runs = sweep(setups, lags, seeds, args.hidden, args.backend)
    seconds = time.perf_counter() - t0
    load1 = os.getloadavg()

    print("\nSuccess rate (seeds solved / seeds run):\n")
    print(table(runs))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    env = {"code": version, "load_start": load0, "load_end": load1, "cpus": os.cpu_count(), "seconds": seconds,
           "python": platform.python_version(), "numpy": np.__version__, "seeds": seeds, "lags": lags,
           "hidden": args.hidden, "backend": args.backend, "setups": {k: asdict(v) for k, v in setups.items()},
           "methods": [{"label": m.label, "cell": m.cell, "optimizer": m.optimizer, "params": m.params,
                        "tasks": list(m.tasks)} for m in METHODS]}
    # one run per line: a diff of two sweeps reads run by run
    lines = ",\n  ".join(json.dumps(r, default=str) for r in runs)
    json_path.write_text(f'{{"environment": {json.dumps(env, default=str)},\n "runs": [\n  {lines}\n ]}}\n')
    plot(runs, setups, seeds, args.hidden, plot_path)
    print(f"\n{len(runs)} runs in {seconds:.0f} s; runs written to {json_path}, plot to {plot_path}")
    print(f"load average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")


if __name__ == "__main__":
    main()
