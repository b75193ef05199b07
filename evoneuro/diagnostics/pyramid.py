"""Diagnostics of a Neural Abstraction Pyramid: where the gradient vanishes, by level and iteration.

A pyramid iterated ``T`` times is a ``T``-step recurrent net whose state is every level's
feature maps. Backpropagation through the iterations carries ``∂L/∂s_l(t)`` from the output
maps of level 0 up the levels (through the forward projections' transposes) and back in
time; a coarse level, ``l`` projections away from the output, gets no gradient from the
iterations after ``T - l`` and little where its units saturate.

- :func:`level_gradients`: ``‖∂L/∂s_l(t)‖`` for every level and iteration (exact: read from
  the reference backend's BPTT), and ``‖∂L/∂K‖`` per level's kernels;
- :func:`level_saturation`: the fraction of saturated units per level and iteration;
- :func:`diagnose_pyramid` bundles them in a :class:`PyramidReport` (``.table()``,
  ``.plot(path)``); :func:`evoneuro.diagnostics.diagnose` calls it for a pyramid.

References
----------
Behnke (2003). Hierarchical Neural Networks for Image Interpretation. LNCS 2766, ch. 6.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evoneuro.backends import pyramid_array
from evoneuro.backends._blas_threads import blas_threads
from evoneuro.diagnostics.layers import saturated
from evoneuro.network.pyramid import Pyramid


def _checked(net: Pyramid, theta, X, y=None):
    if not isinstance(net, Pyramid):
        raise TypeError(f"net must be an evoneuro.Pyramid, got {type(net).__name__}")
    theta = net.check_theta(theta)
    if theta.ndim != 1:
        raise ValueError(f"theta must be one network of shape ({net.n_params},), got {theta.shape}")
    X = net.check_X(X)
    y = None if y is None else net.check_y(y, len(X), X=X)
    return np.asarray(theta, dtype=np.float64)[None], X, y


def level_gradients(net: Pyramid, theta, X, y) -> tuple[np.ndarray, np.ndarray]:
    """``‖∂L/∂s_l(t)‖`` per level and iteration ``(levels, T)``, and ``‖∂L/∂K_l‖`` per level ``(levels,)``.

    ``s_l(t)`` is level ``l``'s maps after iteration ``t``; the norm is taken over images,
    positions and maps. ``K_l`` is every kernel and bias of level ``l`` (its block of the
    flat vector). Computed in float64 by the reference's BPTT.

    Examples
    --------
    >>> import numpy as np, evoneuro as en
    >>> from evoneuro.diagnostics.pyramid import level_gradients
    >>> net = en.Pyramid((8, 8), levels=3, features=(2, 4, 4), iterations=4, read="last")
    >>> X = np.random.default_rng(0).uniform(size=(4, 8, 8))
    >>> gs, gk = level_gradients(net, net.init(0), X, X)
    >>> gs.shape, gk.shape
    ((3, 4), (3,))
    >>> float(gs[2, 3]), float(gs[1, 3]) > 0    # the top level is two steps from the output
    (0.0, False)
    """
    Theta, X, y = _checked(net, theta, X, y)
    out = np.zeros((net.levels, net.iterations))

    def record(l, t, ds):
        out[l, t - 1] = float(np.sqrt((ds * ds).sum()))

    with blas_threads(1):
        _, G = pyramid_array.loss_and_grad(np, net, Theta, X, y, on_state=record)
    kernels = np.array([float(np.linalg.norm(G[0, s.w_start:s.end])) for s in net.layers])
    return out, kernels


def level_saturation(net: Pyramid, theta, X, threshold: float = 0.01) -> np.ndarray:
    """Fraction of saturated hidden units per level and iteration ``(levels, T)``.

    A unit is saturated when ``|act'(z)| < threshold * max |act'|`` (the rule of
    :func:`evoneuro.diagnostics.saturation`); level 0's output maps are left out.

    Examples
    --------
    >>> import numpy as np, evoneuro as en
    >>> from evoneuro.diagnostics.pyramid import level_saturation
    >>> net = en.Pyramid((8, 8), levels=2, features=(2, 4), iterations=3)
    >>> X = np.random.default_rng(0).uniform(size=(4, 8, 8))
    >>> sat = level_saturation(net, net.init(0, gain=50.0), X)        # huge weights saturate
    >>> sat.shape, bool(sat[:, -1].min() > 0.5), float(level_saturation(net, net.init(0), X).max())
    ((2, 3), True, 0.0)
    """
    Theta, X, _ = _checked(net, theta, X)
    with blas_threads(1):
        _, zs = pyramid_array.forward(np, net, Theta, X, True)
    out = np.empty((net.levels, net.iterations))
    for l in range(net.levels):
        z = zs[l][0]  # (N, T, h, w, F)
        if l == 0:
            z = z[..., net.n_outputs:]
        if z.shape[-1] == 0:
            out[l] = np.nan
            continue
        out[l] = saturated(net.activations[l], z, threshold).mean(axis=(0, 2, 3, 4))
    return out


@dataclass
class PyramidReport:
    """Gradient and saturation of one pyramid on one batch, by level and iteration.

    Attributes
    ----------
    net : Pyramid
    grad_state : ndarray (levels, T)
        ``‖∂L/∂s_l(t)‖`` (:func:`level_gradients`).
    grad_kernels : ndarray (levels,)
        ``‖∂L/∂K_l‖``: the gradient of each level's kernels and biases.
    saturation : ndarray (levels, T)
        :func:`level_saturation`.
    """

    net: Pyramid
    grad_state: np.ndarray
    grad_kernels: np.ndarray
    saturation: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per level (0: the finest) and iteration (1-based)."""
        return [{"level": l, "iteration": t + 1, "grad_state": float(self.grad_state[l, t]),
                 "saturated": float(self.saturation[l, t])}
                for l in range(self.net.levels) for t in range(self.net.iterations)]

    def vanished(self, ratio: float = 1e-3) -> list[tuple[int, int]]:
        """``(level, iteration)`` pairs whose state gradient is below ``ratio`` times the largest."""
        top = self.grad_state.max()
        return [(l, t + 1) for l in range(self.net.levels) for t in range(self.net.iterations)
                if self.grad_state[l, t] <= ratio * top]

    def table(self) -> str:
        """The state gradient (and % saturated) per level and iteration, as aligned text."""
        T = self.net.iterations
        head = "level  " + "  ".join(f"{'t=' + str(t + 1):>17}" for t in range(T)) + "  |dL/dK_l|"
        lines = [head]
        for l in range(self.net.levels):
            cells = "  ".join(f"{self.grad_state[l, t]:>9.2e} ({100 * self.saturation[l, t]:>3.0f}%)"
                              if np.isfinite(self.saturation[l, t]) else f"{self.grad_state[l, t]:>9.2e}  (  -)"
                              for t in range(T))
            lines.append(f"{l:>5}  {cells}  {self.grad_kernels[l]:.2e}")
        lines.append("cells: |dL/ds_l(t)| (% saturated hidden units)")
        return "\n".join(lines)

    def plot(self, path=None, title: str | None = None):
        """Heat map of ``log10 ‖∂L/∂s_l(t)‖`` (levels x iterations) and % saturated per level."""
        from evoneuro._plotting import finish, pyplot

        plt = pyplot()
        fig, (ax, ax_sat) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [3, 2]})
        g = self.grad_state
        with np.errstate(divide="ignore"):
            logg = np.where(g > 0, np.log10(np.where(g > 0, g, 1.0)), np.nan)
        im = ax.imshow(logg, aspect="auto", origin="lower", cmap="viridis",
                       extent=(0.5, g.shape[1] + 0.5, -0.5, g.shape[0] - 0.5))
        for l in range(g.shape[0]):
            for t in range(g.shape[1]):
                ax.text(t + 1, l, "0" if g[l, t] == 0 else f"{g[l, t]:.0e}", ha="center", va="center", fontsize=7,
                        color="white" if g[l, t] == 0 or not np.isfinite(logg[l, t]) else "black")
        fig.colorbar(im, ax=ax, label="log10 ‖∂L/∂s_l(t)‖ (blank: exactly 0)")
        ax.set(xlabel="iteration t", ylabel="level l (0 = finest)", yticks=range(g.shape[0]),
               title="gradient with respect to each level's maps")
        for l in range(self.net.levels):
            ax_sat.plot(np.arange(1, g.shape[1] + 1), 100 * self.saturation[l], marker="o", label=f"level {l}")
        ax_sat.set(xlabel="iteration t", ylabel="% saturated hidden units", ylim=(-2, 102),
                   title="saturated units")
        ax_sat.legend(fontsize=8)
        ax_sat.grid(True, alpha=0.3)
        fig.suptitle(title or repr(self.net), fontsize=9)
        fig.tight_layout()
        return finish(fig, path)


def diagnose_pyramid(net: Pyramid, theta, X, y, threshold: float = 0.01) -> PyramidReport:
    """All diagnostics of one pyramid ``theta`` on images ``(X, y)``.

    :func:`evoneuro.diagnostics.diagnose` calls this for a pyramid.

    Examples
    --------
    >>> import numpy as np, evoneuro as en
    >>> net = en.Pyramid((8, 8), levels=2, features=(2, 4), iterations=3)
    >>> X = np.random.default_rng(0).uniform(size=(4, 8, 8))
    >>> rep = en.diagnose(net, net.init(0), X, X)
    >>> rep.grad_state.shape, rep.saturation.shape
    ((2, 3), (2, 3))
    """
    gs, gk = level_gradients(net, theta, X, y)
    sat = level_saturation(net, theta, X, threshold)
    return PyramidReport(net, gs, gk, sat, meta={"threshold": threshold, "n_images": len(np.asarray(X))})


__all__ = ["PyramidReport", "diagnose_pyramid", "level_gradients", "level_saturation"]
