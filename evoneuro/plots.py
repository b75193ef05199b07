"""Plots of a comparison: learning curves and accuracy against depth (needs matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend, or a clear ImportError."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("plots need matplotlib: pip install 'evoneuro[plot]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def finish(fig, path: str | Path | None):
    """Save ``fig`` to ``path`` and close it, returning the path; without a path return ``fig``."""
    if path is None:
        return fig
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return Path(path)


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


def plot_curves(comparison, x: str = "evals", path: str | Path | None = None):
    """Training loss against ``"evals"`` (sample-forward evaluations) or ``"seconds"``.

    One line per optimizer and seed (largest depth of a sweep), smoothed.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    depth = max(r.depth for r in comparison.runs)
    names = list(dict.fromkeys(r.optimizer for r in comparison.runs))
    colors = {n: f"C{i % 10}" for i, n in enumerate(names)}
    labelled = set()
    for r in comparison.runs:
        if r.depth != depth or not r.curve:
            continue
        xs, ys = np.asarray(r.curve[x], float), np.asarray(r.curve["loss"], float)
        label = None if r.optimizer in labelled else f"{r.optimizer} ({100 * r.test_accuracy:.1f} %)"
        labelled.add(r.optimizer)
        ax.plot(np.maximum(xs, 1e-9), _smooth(ys), color=colors[r.optimizer], label=label, lw=1.4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sample-forward evaluations" if x == "evals" else "seconds")
    ax.set_ylabel("training loss (minibatch, smoothed)")
    s = comparison.settings
    ax.set_title(f"{s['dataset']}, {depth}x{s['hidden'][0]} {s['activation']}: loss against {x}", fontsize=10)
    ax.legend(fontsize=8, title="optimizer (test accuracy)", title_fontsize=8)
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
        ax.errorbar(d, m, yerr=sd, marker="o", capsize=3, label=name, color=f"C{i % 10}")
    s = comparison.settings
    ax.set(xlabel="hidden layers", ylabel="test accuracy (%)", ylim=(0, 100),
           title=f"{s['dataset']}, width {s['hidden'][0]}, {s['activation']}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return finish(fig, path)
