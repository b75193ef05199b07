"""Plots of a comparison: learning curves and accuracy against depth (needs matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evoneuro._plotting import finish, pyplot


def _binned(xs: np.ndarray, ys: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The curve on log-spaced bins of x: each bin's geometric mean of x and of the loss.

    Minibatch losses are noisy, and thousands of points hide a line's dashes; a hundred
    bins shared by every curve keep each line style visible and put the curves' points at
    the same x, so their markers can be staggered.
    """
    idx = np.clip(np.searchsorted(edges, xs, side="right") - 1, 0, len(edges) - 2)
    counts = np.bincount(idx, minlength=len(edges) - 1)
    keep = counts > 0
    lx = np.bincount(idx, np.log(xs), minlength=len(edges) - 1)[keep] / counts[keep]
    ly = np.bincount(idx, np.log(ys), minlength=len(edges) - 1)[keep] / counts[keep]
    return np.exp(lx), np.exp(ly)


_MARKERS = "osD^v<>ph*"
_LINES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1)))
#: At most this many decades of loss are shown below the highest: a run reaching 1e-12 must
#: not flatten the others against the top.
_DECADES = 8
_BINS = 100


def plot_curves(comparison, x: str = "evals", path: str | Path | None = None):
    """Training loss against ``"evals"`` (sample-forward evaluations) or ``"seconds"``.

    One line per optimizer and seed (largest depth of a sweep), on shared log-spaced bins
    (the geometric mean of the step losses in each). Each optimizer has its own colour,
    marker and line style, and the markers of different optimizers sit at different x, so
    curves that coincide stay visible. The legend lists the optimizers from the lowest
    final training loss (the table's ``train loss``) to the highest, with that loss, the
    test accuracy and whether the optimizer saw the full batch or minibatches.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    depth = max(r.depth for r in comparison.runs)
    runs = [r for r in comparison.runs if r.depth == depth and r.curve]
    final = {}
    for r in runs:
        final.setdefault(r.optimizer, []).append((r.train_loss, r.test_accuracy, getattr(r, "batch", "") or "minibatch"))
    names = sorted(final, key=lambda n: float(np.mean([f[0] for f in final[n]])))  # best first
    style = {n: (f"C{i % 10}", _MARKERS[i % len(_MARKERS)], _LINES[i % len(_LINES)]) for i, n in enumerate(names)}
    raw = []
    for r in runs:
        xs, ys = np.asarray(r.curve[x], float), np.asarray(r.curve["loss"], float)
        ok = np.isfinite(ys) & (ys > 0) & np.isfinite(xs) & (xs > 0)
        if ok.any():
            raw.append((r, xs[ok], ys[ok]))
    if raw:
        lo, hi = min(xs.min() for _, xs, _ in raw), max(xs.max() for _, xs, _ in raw)
        edges = np.geomspace(lo, hi * (1 + 1e-9), _BINS + 1)
    curves = [(r, *_binned(xs, ys, edges)) for r, xs, ys in raw]
    top = max((float(ys.max()) for _, _, ys in curves), default=1.0)
    low = min([float(ys.min()) for _, _, ys in curves]
              + [f[0] for fs in final.values() for f in fs if f[0] > 0] or [top / 10])
    floor = max(low * 0.7, top / 10 ** _DECADES)
    every = max(1, _BINS // 10)
    handles = {}
    for r, xs, ys in sorted(curves, key=lambda c: names.index(c[0].optimizer), reverse=True):  # best on top
        i = names.index(r.optimizer)
        color, marker, ls = style[r.optimizer]
        (line,) = ax.plot(xs, ys, color=color, ls=ls, lw=1.5, marker=marker, ms=4.5,
                          markevery=(i * every // len(names), every), zorder=3 + len(names) - i)
        handles.setdefault(r.optimizer, line)
    labels = []
    for name in names:
        loss = float(np.mean([f[0] for f in final[name]]))
        acc = float(np.mean([f[1] for f in final[name]]))
        labels.append(f"{name}: {loss:.1e}, test {100 * acc:.1f} % ({final[name][0][2]})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(floor, top * 1.5)
    xlabel = ("sample-forward evaluations (one sample through the net: 1; its backward pass: 2 more)"
              if x == "evals" else "seconds (compilation not counted)")
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel("training loss of each step's batch", fontsize=9)
    s = comparison.settings
    what = "evaluations" if x == "evals" else "seconds"
    ax.set_title(f"{s['dataset']}, {depth} hidden layers of {s['hidden'][0]} {s['activation']} units: "
                 f"training loss against {what}", fontsize=10)
    shown = [n for n in names if n in handles]
    ax.legend([handles[n] for n in shown], [labels[names.index(n)] for n in shown], fontsize=7, loc="lower left",
              title="optimizer: final training loss, test accuracy (batch)", title_fontsize=7)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return finish(fig, path)


def plot_depth_sweep(comparison, path: str | Path | None = None):
    """Test accuracy (mean ± std over seeds) against depth, one line per optimizer; the
    legend from the best accuracy at the largest depth to the worst."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    rows = comparison.summary()
    deepest = {r["optimizer"]: r["test_accuracy_mean"] for r in sorted(rows, key=lambda r: r["depth"])}
    for i, name in enumerate(sorted(deepest, key=lambda n: -deepest[n])):
        rs = sorted((r for r in rows if r["optimizer"] == name), key=lambda r: r["depth"])
        d = [r["depth"] for r in rs]
        m = np.array([r["test_accuracy_mean"] for r in rs]) * 100
        sd = np.array([r["test_accuracy_std"] for r in rs]) * 100
        ax.errorbar(d, m, yerr=sd, marker=_MARKERS[i % len(_MARKERS)], ls=_LINES[i % len(_LINES)], capsize=3,
                    label=name, color=f"C{i % 10}")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    s = comparison.settings
    ax.set(xlabel="hidden layers", ylabel="test accuracy (%)", ylim=(0, 100),
           title=f"{s['dataset']}, {s['hidden'][0]} {s['activation']} units per layer: test accuracy against depth")
    ax.title.set_fontsize(10)
    ax.legend(fontsize=8, title="optimizer (best at the deepest first)", title_fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return finish(fig, path)
