"""Plots of a comparison: learning curves and accuracy against depth (needs matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evoneuro._plotting import finish, pyplot


def _smooth(y: np.ndarray, n: int = 200) -> np.ndarray:
    """Exponential moving average over about len(y)/n steps: minibatch losses are noisy."""
    if len(y) < 3:
        return y
    alpha = min(1.0, 5.0 / max(1, len(y) // n + 1))
    out = np.empty_like(y)
    acc = y[0]
    for i, v in enumerate(y):
        acc = alpha * v + (1 - alpha) * acc if np.isfinite(v) else acc
        out[i] = acc
    return out


_MARKERS = "osD^v<>ph*"
#: At most this many decades of loss are shown: one run reaching 1e-8 must not flatten the rest.
_DECADES = 4


def plot_curves(comparison, x: str = "evals", path: str | Path | None = None):
    """Training loss against ``"evals"`` (sample-forward evaluations) or ``"seconds"``.

    One line per optimizer and seed (largest depth of a sweep), smoothed; each optimizer has
    its own marker and line style, so curves that coincide stay visible. The legend says
    whether each optimizer saw the full batch or minibatches, and the y-range spans at most
    four decades below the highest loss (lower values are drawn at the bottom edge).
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    depth = max(r.depth for r in comparison.runs)
    runs = [r for r in comparison.runs if r.depth == depth and r.curve]
    names = list(dict.fromkeys(r.optimizer for r in runs))
    style = {n: (f"C{i % 10}", _MARKERS[i % len(_MARKERS)], ("-", "--", "-.", ":")[i % 4])
             for i, n in enumerate(names)}
    curves = []
    for r in runs:
        xs, ys = np.asarray(r.curve[x], float), _smooth(np.asarray(r.curve["loss"], float))
        ok = np.isfinite(ys) & (ys > 0)
        curves.append((r, np.maximum(xs[ok], 1e-9), ys[ok]))
    top = max((float(ys.max()) for _, _, ys in curves if ys.size), default=1.0)
    floor = top / 10 ** _DECADES
    clipped = False
    labelled = set()
    for r, xs, ys in curves:
        color, marker, ls = style[r.optimizer]
        clipped |= bool((ys < floor).any())
        batch = getattr(r, "batch", "") or "minibatch"
        label = None if r.optimizer in labelled else f"{r.optimizer} ({batch}; test {100 * r.test_accuracy:.1f} %)"
        labelled.add(r.optimizer)
        ax.plot(xs, np.maximum(ys, floor), color=color, ls=ls, lw=1.3, marker=marker, ms=4,
                markevery=0.08, label=label)  # evenly spaced on screen, log axis or not
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(floor * 0.8, top * 1.5)
    xlabel = "sample-forward evaluations" if x == "evals" else "seconds"
    ax.set_xlabel(xlabel)
    ax.set_ylabel("training loss (smoothed)" + (f"; below {floor:.0e} drawn at the edge" if clipped else ""))
    s = comparison.settings
    ax.set_title(f"{s['dataset']}, {depth}x{s['hidden'][0]} {s['activation']}: training loss against {xlabel}",
                 fontsize=10)
    ax.legend(fontsize=7, title="optimizer (batch; test accuracy)", title_fontsize=7, loc="lower left")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return finish(fig, path)


def plot_depth_sweep(comparison, path: str | Path | None = None):
    """Test accuracy (mean ± std over seeds) against depth, one line per optimizer."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    rows = comparison.summary()
    for i, name in enumerate(dict.fromkeys(r["optimizer"] for r in rows)):
        rs = sorted((r for r in rows if r["optimizer"] == name), key=lambda r: r["depth"])
        d = [r["depth"] for r in rs]
        m = np.array([r["test_accuracy_mean"] for r in rs]) * 100
        sd = np.array([r["test_accuracy_std"] for r in rs]) * 100
        ax.errorbar(d, m, yerr=sd, marker=_MARKERS[i % len(_MARKERS)], capsize=3, label=name,
                    color=f"C{i % 10}")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    s = comparison.settings
    ax.set(xlabel="hidden layers", ylabel="test accuracy (%)", ylim=(0, 100),
           title=f"{s['dataset']}, width {s['hidden'][0]}, {s['activation']}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return finish(fig, path)
