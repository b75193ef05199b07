"""History compression against single recurrent nets, and the deep belief net as a generative model.

Parts
-----
``--part trigger``: trigger-recall (``evoneuro.tasks.trigger_recall``: 2 triggers, a 5-symbol
filler from a random phase, 32 training and 64 test sequences) at T = 100, 300, 1,200. Methods,
all with 8 units per recurrent net:

- a single Elman net and a single LSTM, trained by BPTT with Adam (learning rate 0.01, the
  full batch) and by sep-CMA-ES (registry defaults, minibatches of 4 sequences);
- the two-level :class:`evoneuro.HistoryCompressor` (Elman levels), both levels by Adam, and
  both by sep-CMA-ES (level 0 on minibatches of 4 sequences).

Every method gets the same budget at a given T, in sample-forward evaluations:
``E(T) = 300 x 3 x 32 x (T - 1)``, 300 full-batch Adam steps (a backward pass counts twice a
forward pass); the compressor spends 90 % of it on level 0 and 10 % on level 1. Reported: the
recall accuracy on the test set, how many seeds reach >= 95 %, the compression ratio (T - 1
over the mean length of the stream level 1 reads), evaluations and seconds.

``--part chunking``: the 1991/1992 chunking task (``evoneuro.tasks.chunking``, 3 blocks of
``a|x b1 ... b20``, 64 training and 64 test sequences): the two-level chunker against level 0
alone (a single Elman net, and an LSTM), by Adam and by sep-CMA-ES, the same budget for all:
300 and 30 passes (``passes x 3 x 64 x 62`` evaluations).

``--part gradients``: ``||dL/dh_t||`` through time (``en.diagnose``) of the single Elman net
and LSTM trained by Adam at T = 300, against the compressor's level 1, on the test set,
plotted against the step of the original sequence: ``docs/img/history_gradients.png``.

``--part collapse``: ``HistoryCompressor(collapse=True)`` (two LSTM levels, Adam, 1,000 steps per
level and 1,000 for the collapsed net) on trigger-recall at T = 100, 300, 1,200, 3 seeds: the
label read by the collapsed net alone against the stack's.

``--part dbn``: ``fit_dbn`` (``pretrain(method="rbm")``'s stack) on scikit-learn's digits
(X / 16), 3 RBMs of 200, 100, 50 units, 40 epochs each; reconstruction error as the stack
grows; samples after 1,000 Gibbs steps in the top RBM and one pass down:
``docs/img/dbn_samples.png``.

Results go to ``benchmarks/results/science_history.json`` (each part replaces its entry).

Usage::

    python benchmarks/science_history.py --part trigger --seeds 10
    python benchmarks/science_history.py --part chunking --seeds 10
    python benchmarks/science_history.py --part gradients
    python benchmarks/science_history.py --part collapse
    python benchmarks/science_history.py --part dbn
    python benchmarks/science_history.py --part trigger --quick      # 2 seeds, T = 100, 300
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

import evoneuro as en
from evoneuro.tasks import chunking, trigger_recall
from evoneuro.training.recipe import fit_network

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "science_history.json"
HIDDEN = 8
PASSES = 300
ADAM = {"learning_rate": 0.01}
FREE_BATCH = 4
BACKEND, DTYPE = "numba", "float32"


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def budget(n_train: int, steps: int) -> int:
    return PASSES * 3 * n_train * steps


def accuracy(pred, y) -> float:
    return float(np.mean(np.asarray(pred) == np.asarray(y)))


def single(task, cell: str, optimizer: str, evals: int, seed: int) -> dict:
    """One recurrent net on the raw sequences."""
    X, y, _ = task.data("train")
    net = en.RNN(X.shape[2], HIDDEN, 2, cell=cell)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    fit = fit_network(net, X, y, optimizer=optimizer, x0=net.init(rng),
                      optimizer_params=ADAM if optimizer == "adam" else None,
                      batch_size=None if optimizer == "adam" else FREE_BATCH, backend=BACKEND, dtype=DTYPE,
                      max_evals=evals, random_state=seed)
    seconds = time.perf_counter() - t0
    ev = en.Evaluator(net, backend="numpy", dtype="float64")
    pred = ev.predict(fit.x, task.X_test).argmax(axis=1)
    return {"accuracy": accuracy(pred, task.y_test), "ratio": 1.0, "evals": int(fit.result.n_evals),
            "seconds": seconds, "theta": fit.x, "net": net}


def compressor(task, optimizer: str, evals: int, seed: int) -> dict:
    """The two-level history compressor, Elman levels, both trained by ``optimizer``."""
    X, y, _ = task.data("train")
    hc = en.HistoryCompressor(levels=2, cell="elman", hidden=HIDDEN, optimizer=optimizer,
                              optimizer_params=ADAM if optimizer == "adam" else None,
                              max_evals=[int(0.9 * evals), int(0.1 * evals)], max_steps=None,
                              batch_size=[None if optimizer == "adam" else FREE_BATCH, None],
                              backend=BACKEND, dtype=DTYPE, random_state=seed)
    t0 = time.perf_counter()
    hc.fit(X, y)
    seconds = time.perf_counter() - t0
    stream = hc.compress(task.X_test)
    return {"accuracy": hc.score(task.X_test, task.y_test), "ratio": float(X.shape[1] / stream.lengths.mean()),
            "evals": hc.n_evals_, "seconds": seconds, "model": hc}


METHODS = {
    "Elman, Adam (BPTT)": lambda task, E, s: single(task, "elman", "adam", E, s),
    "LSTM, Adam (BPTT)": lambda task, E, s: single(task, "lstm", "adam", E, s),
    "Elman, sep-CMA-ES": lambda task, E, s: single(task, "elman", "sep-cmaes", E, s),
    "LSTM, sep-CMA-ES": lambda task, E, s: single(task, "lstm", "sep-cmaes", E, s),
    "compressor (2 Elman levels), Adam": lambda task, E, s: compressor(task, "adam", E, s),
    "compressor (2 Elman levels), sep-CMA-ES": lambda task, E, s: compressor(task, "sep-cmaes", E, s),
}


def summarise(runs: list[dict]) -> dict:
    acc = np.array([r["accuracy"] for r in runs])
    return {"accuracy_mean": float(acc.mean()), "accuracy_min": float(acc.min()), "accuracy_max": float(acc.max()),
            "seeds_95": int((acc >= 0.95).sum()), "n_seeds": len(runs),
            "ratio": float(np.mean([r["ratio"] for r in runs])),
            "evals": float(np.mean([r["evals"] for r in runs])), "seconds": float(np.mean([r["seconds"] for r in runs])),
            "accuracies": acc.tolist()}


def table(rows: dict, key: str) -> None:
    print(f"{key:>6}  {'method':<42} {'recall %':>9} {'min-max':>11} {'>=95%':>6} {'ratio':>7} {'evals':>10} "
          f"{'s':>6}")
    for (k, name), s in rows.items():
        print(f"{k:>6}  {name:<42} {100 * s['accuracy_mean']:>9.1f} {100 * s['accuracy_min']:>5.0f}-"
              f"{100 * s['accuracy_max']:<5.0f} {s['seeds_95']:>3}/{s['n_seeds']:<2} {s['ratio']:>7.1f} "
              f"{s['evals']:>10.3g} {s['seconds']:>6.1f}")


def part_trigger(seeds: int, Ts) -> dict:
    rows = {}
    for T in Ts:
        E = budget(32, T - 1)
        print(f"T = {T}: budget {E:.3g} evaluations per method; load average {load()}", flush=True)
        for name, run in METHODS.items():
            runs = []
            for seed in range(seeds):
                task = trigger_recall(T=T, n_train=32, n_test=64, random_state=1000 + seed)
                runs.append({k: v for k, v in run(task, E, seed).items() if k not in ("theta", "net", "model")})
            rows[(T, name)] = summarise(runs)
            print(f"  {name:<42} recall {100 * rows[(T, name)]['accuracy_mean']:.1f} % "
                  f"({rows[(T, name)]['seeds_95']}/{seeds} seeds >= 95 %), {rows[(T, name)]['seconds']:.1f} s; "
                  f"load {load()}", flush=True)
    table(rows, "T")
    return {"budget_passes": PASSES, "rows": [{"T": k, "method": n, **s} for (k, n), s in rows.items()]}


def part_chunking(seeds: int) -> dict:
    rows = {}
    methods = {"level 0 alone (Elman), Adam": lambda t, E, s: single(t, "elman", "adam", E, s),
               "level 0 alone (LSTM), Adam": lambda t, E, s: single(t, "lstm", "adam", E, s),
               "level 0 alone (Elman), sep-CMA-ES": lambda t, E, s: single(t, "elman", "sep-cmaes", E, s),
               "chunker (2 Elman levels), Adam": lambda t, E, s: compressor(t, "adam", E, s),
               "chunker (2 Elman levels), sep-CMA-ES": lambda t, E, s: compressor(t, "sep-cmaes", E, s)}
    task0 = chunking(n_blocks=3, n_train=64, n_test=64, random_state=0)
    for passes in (PASSES, PASSES // 10):
        E = passes * 3 * 64 * (task0.X_train.shape[1] - 1)
        print(f"chunking: 3 blocks of 21 symbols, budget {E:.3g} evaluations per method ({passes} passes); "
              f"load average {load()}", flush=True)
        for name, run in methods.items():
            runs = []
            for seed in range(seeds):
                task = chunking(n_blocks=3, n_train=64, n_test=64, random_state=2000 + seed)
                runs.append({k: v for k, v in run(task, E, seed).items() if k not in ("theta", "net", "model")})
            rows[(passes, name)] = summarise(runs)
    table(rows, "passes")
    return {"rows": [{"passes": k, "method": n, **s} for (k, n), s in rows.items()]}


def part_gradients(T: int = 300) -> dict:
    from evoneuro._plotting import finish, pyplot

    task = trigger_recall(T=T, n_train=32, n_test=64, random_state=1000)
    E = budget(32, T - 1)
    curves, out = {}, {}
    for cell in ("elman", "lstm"):
        r = single(task, cell, "adam", E, 0)
        rep = en.diagnose(r["net"], r["theta"], task.X_test, task.y_test)
        g = rep.grad_h[0]
        curves[f"single {cell} (BPTT over {T - 1} steps), recall {100 * r['accuracy']:.0f} %"] = (
            np.arange(T - 1), g / g[-1])
        out[f"single_{cell}"] = {"accuracy": r["accuracy"], "first_over_last": float(g[0] / g[-1])}
    r = compressor(task, "adam", E, 0)
    hc = r["model"]
    stream = hc.compress(task.X_test)
    top = hc.levels_[-1]
    rep = en.diagnose(top.net, top.theta, stream.inputs(), task.y_test, lengths=stream.lengths)
    g = rep.grad_h[0, : int(stream.lengths.min())]
    times = stream.times[:, : len(g)].mean(axis=0)
    curves[f"compressor level 1 ({len(g)} steps), recall {100 * r['accuracy']:.0f} %"] = (times, g / g[-1])
    out["compressor_level1"] = {"accuracy": r["accuracy"], "first_over_last": float(g[0] / g[-1]),
                                "steps": len(g), "times": times.tolist()}
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.6))
    for (label, (x, y)), style in zip(curves.items(), ("-", "-", "o-")):
        line, = ax.semilogy(x, np.maximum(y, 1e-300), style, label=label, lw=1.8, ms=7)
        ax.plot([x[0]], [max(y[0], 1e-300)], "*", color=line.get_color(), ms=16)
        ax.annotate(f"at the trigger: {y[0]:.1e}", (x[0], max(y[0], 1e-300)), xytext=(14, -4),
                    textcoords="offset points", fontsize=9, color=line.get_color())
    ax.axvline(0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel(f"step of the original sequence (the trigger is step 0; the label is read after step {T - 2})")
    ax.set_ylabel("||dL/dh_t|| / ||dL/dh_last||")
    ax.set_title(f"Trigger-recall, T = {T}: the gradient that reaches the trigger")
    ax.legend(fontsize=8, loc="lower right")
    finish(fig, ROOT / "docs" / "img" / "history_gradients.png")
    print(json.dumps(out, indent=1))
    return out


def part_collapse(seeds: int = 3, Ts=(100, 300, 1200)) -> dict:
    """The collapsed net (``collapse=True``) against the two-level stack it was distilled from."""
    rows = []
    for T in Ts:
        for seed in range(seeds):
            task = trigger_recall(T=T, n_train=32, n_test=64, random_state=1000 + seed)
            hc = en.HistoryCompressor(levels=2, cell="lstm", hidden=HIDDEN, optimizer="adam", optimizer_params=ADAM,
                                      max_steps=1000, collapse=True, backend=BACKEND, dtype=DTYPE,
                                      random_state=seed).fit(task.X_train, task.y_train)
            row = {"T": T, "seed": seed, "stack": hc.score(task.X_test, task.y_test),
                   "collapsed": hc.score(task.X_test, task.y_test, collapsed=True), "evals": hc.n_evals_,
                   "collapsed_evals": hc.collapsed_.evals, "seconds": sum(lv.seconds for lv in hc.levels_)
                   + hc.collapsed_.seconds, "load": load()}
            rows.append(row)
            print(row, flush=True)
    for T in Ts:
        r = [x for x in rows if x["T"] == T]
        print(f"T = {T}: stack {100 * np.mean([x['stack'] for x in r]):.1f} %, collapsed "
              f"{100 * np.mean([x['collapsed'] for x in r]):.1f} % "
              f"({sum(x['collapsed'] >= 0.95 for x in r)}/{len(r)} seeds >= 95 %)")
    return {"rows": rows}


def part_dbn() -> dict:
    from sklearn.datasets import load_digits

    from evoneuro._plotting import finish, pyplot
    from evoneuro.training.dbn import fit_dbn

    X = load_digits().data / 16.0
    t0 = time.perf_counter()
    dbn, info = fit_dbn(X, hidden=(200, 100, 50), rbm_params={"n_iter": 40, "learning_rate": 0.05},
                        random_state=0, return_info=True)
    seconds = time.perf_counter() - t0
    errors = dbn.reconstruction_errors(X)
    samples = {k: dbn.sample(40, gibbs_steps=k, random_state=1) for k in (1000,)}
    # how far each sample is from its nearest training digit (mean absolute pixel difference)
    S = samples[1000]
    nearest = np.abs(S[:, None, :] - X[None]).mean(axis=2).min(axis=1)
    noise = np.random.default_rng(0).random((40, 64))
    nearest_noise = np.abs(noise[:, None, :] - X[None]).mean(axis=2).min(axis=1)
    out = {"sizes": list(dbn.sizes), "seconds": seconds, "evals": int(sum(r.evals for r in info)),
           "rbm_errors": [r.error_end for r in info], "stack_errors": errors.tolist(),
           "nearest_digit_distance": float(nearest.mean()), "nearest_digit_distance_uniform_noise":
           float(nearest_noise.mean())}
    print(json.dumps(out, indent=1))
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.7))
    fig.subplots_adjust(left=0.02, right=0.98, top=0.9, bottom=0.03, wspace=0.05)
    for ax, imgs, title in ((axes[0], X[:40], "real digits (scikit-learn, 8x8)"),
                            (axes[1], S, "DBN samples: 1,000 Gibbs steps at the top, one pass down")):
        grid = np.ones((5 * 9 - 1, 8 * 9 - 1))
        for i, img in enumerate(imgs):
            r, c = divmod(i, 8)
            grid[r * 9: r * 9 + 8, c * 9: c * 9 + 8] = 1 - img.reshape(8, 8)
        ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    finish(fig, ROOT / "docs" / "img" / "dbn_samples.png")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--part", choices=["trigger", "chunking", "gradients", "collapse", "dbn"], required=True)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--T", type=int, nargs="+", default=[100, 300, 1200])
    p.add_argument("--quick", action="store_true", help="2 seeds, T = 100, 300")
    a = p.parse_args()
    seeds, Ts = (2, [100, 300]) if a.quick else (a.seeds, a.T)
    print(f"load average at start: {load()}", flush=True)
    t0 = time.perf_counter()
    result = {"trigger": lambda: part_trigger(seeds, Ts), "chunking": lambda: part_chunking(seeds),
              "gradients": part_gradients, "collapse": lambda: part_collapse(min(seeds, 3)), "dbn": part_dbn}[a.part]()
    result.update({"seconds_total": time.perf_counter() - t0, "load_average_end": load(), "quick": a.quick})
    print(f"load average at end: {load()}; {time.perf_counter() - t0:.0f} s")
    if not a.quick:
        data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        data[a.part] = result
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
