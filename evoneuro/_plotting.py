"""matplotlib for every figure of the package: the Agg backend, a clear error without it, save and close."""

from __future__ import annotations

from pathlib import Path


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
