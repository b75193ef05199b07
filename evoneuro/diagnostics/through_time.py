"""Diagnostics of a recurrent net, step by step: how ∂L/∂h_t vanishes or explodes over T.

A recurrent net unrolled over ``T`` steps is a ``T``-layer net sharing its weights:
backpropagation through time multiplies ``T`` step Jacobians ``∂h_{t+1}/∂h_t``, so the
gradient reaching early steps shrinks or grows geometrically (Hochreiter 1991; Bengio,
Simard & Frasconi 1994). The LSTM's cell state is the way around: ``∂c_{t+1}/∂c_t = f``,
the forget gate, close to 1 when its bias is large.

- :func:`state_gradients`: ``∂L/∂h_t`` at every step of every recurrent layer (and the
  LSTM's ``∂L/∂c_t``), exact: read from the BPTT of the reference backend.
- :func:`state_gradient_norms`: their norms per layer and step.
- :func:`step_saturation`: per step and gate, the fraction of (sequence, unit) pairs whose
  derivative is below ``threshold`` times its maximum, the rule of
  :func:`~evoneuro.diagnostics.saturation`.
- :func:`diagnose_steps` bundles them into a :class:`StepReport`; :func:`plot_through_time`
  draws several reports (one line per cell or init) in one figure.

References
----------
Hochreiter (1991). Untersuchungen zu dynamischen neuronalen Netzen. Diploma thesis, TU Munich.
Bengio, Simard & Frasconi (1994). Learning long-term dependencies with gradient descent is
difficult. IEEE Transactions on Neural Networks.
Pascanu, Mikolov & Bengio (2013). On the difficulty of training recurrent neural networks. ICML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evoneuro.backends import rnn_array
from evoneuro.backends._blas_threads import blas_threads
from evoneuro.diagnostics.layers import net_label, saturated
from evoneuro.network.activations import get_activation
from evoneuro.network.rnn import CANDIDATE, RNN

#: Cells whose recurrence carries a cell state ``c`` besides ``h`` (see ``backends/cells.py``).
CELL_STATE = frozenset({"lstm"})
_SIGMOID = get_activation("sigmoid")  # every gate's nonlinearity


def _checked(net: RNN, theta, X, y=None, lengths=None):
    theta = net.check_theta(theta)
    if theta.ndim != 1:
        raise ValueError(f"theta must be one network of shape ({net.n_params},), got {theta.shape}")
    X = net.check_X(X)
    y = None if y is None else net.check_y(y, len(X), X=X)
    return np.asarray(theta, dtype=np.float64)[None], X, y, net.check_lengths(lengths, X)


def state_gradients(net: RNN, theta, X, y, lengths=None) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """``∂L/∂h_t`` per recurrent layer ``(N, T, H)``, and ``∂L/∂c_t`` for an LSTM (else None).

    The derivative of the mean loss with respect to the state the recurrence carries from
    step ``t`` to ``t + 1``: adding ``ε δ`` to ``h_t`` of every sequence changes the loss by
    ``ε Σ δ ⊙ ∂L/∂h_t`` to first order. For the LSTM that state is the pair ``(h_t, c_t)``
    and each derivative holds the other fixed (``∂L/∂c_t`` is 0 at the last step of
    ``readout="last"``, where only ``h_T`` is read). Steps after a sequence's end get 0.
    Computed in float64 by the numpy reference's BPTT.

    Examples
    --------
    >>> import numpy as np, evoneuro as en
    >>> from evoneuro.diagnostics import state_gradients
    >>> net = en.RNN(1, (4,), 2, cell="lstm")
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(8, 6, 1)), rng.integers(0, 2, 8)
    >>> dH, dC = state_gradients(net, net.init(rng), X, y)
    >>> dH[0].shape, dC[0].shape
    ((8, 6, 4), (8, 6, 4))
    """
    Theta, X, y, lengths = _checked(net, theta, X, y, lengths)
    N, T = X.shape[:2]
    dH = [np.zeros((N, T, H)) for H in net.hidden]
    dC = [np.zeros((N, T, H)) for H in net.hidden] if net.cell in CELL_STATE else None

    def record(l, t, dh, dc):
        dH[l][:, t] = dh[0]
        if dC is not None:
            dC[l][:, t] = dc[0]

    with blas_threads(1):  # one small product per step: threads only contend
        rnn_array.loss_and_grad(np, net, Theta, X, y, lengths, on_state=record)
    return dH, dC


def state_gradient_norms(net: RNN, theta, X, y, lengths=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Frobenius norms over (sequences, units) of :func:`state_gradients`: ``(n_layers, T)`` each.

    Examples
    --------
    >>> import numpy as np, evoneuro as en
    >>> from evoneuro.diagnostics import state_gradient_norms
    >>> net = en.RNN(1, (16,), 2, cell="elman")
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(32, 40, 1)), rng.integers(0, 2, 32)
    >>> gh, gc = state_gradient_norms(net, net.init(rng, "glorot", gain=0.5), X, y)
    >>> gh.shape, gc is None, bool(gh[0, 0] < 1e-6 * gh[0, -1])   # vanished over 40 steps
    ((1, 40), True, True)
    """
    dH, dC = state_gradients(net, theta, X, y, lengths)
    return _norms(dH), None if dC is None else _norms(dC)


def _norms(grads: list[np.ndarray]) -> np.ndarray:
    return np.array([np.sqrt((d * d).sum(axis=(0, 2))) for d in grads])


def step_saturation(net: RNN, theta, X, threshold: float = 0.01, lengths=None) -> np.ndarray:
    """Fraction of saturated units per layer, step and gate: ``(n_layers, T, n_gates)``.

    A unit is saturated at a step of a sequence when ``|act'(z)| < threshold * max |act'|``,
    ``act`` the logistic sigmoid for the gates and the layer's ``activation`` for the
    candidate (Elman's unit, the LSTM's ``g``, the GRU's ``n``); gates in the order of
    ``net.gates``. Only steps inside a sequence's length count (NaN where none does).

    Examples
    --------
    >>> import numpy as np, evoneuro as en
    >>> from evoneuro.diagnostics import step_saturation
    >>> net = en.RNN(1, (8,), 2, cell="gru")
    >>> X = np.random.default_rng(0).normal(size=(4, 5, 1))
    >>> step_saturation(net, net.init(0), X).shape    # gates r, z, n
    (1, 5, 3)
    """
    Theta, X, _, lengths = _checked(net, theta, X, None, lengths)
    with blas_threads(1):
        _, zs = rnn_array.forward(np, net, Theta, X, True, lengths)
    N, T = X.shape[:2]
    valid = np.ones((N, T)) if lengths is None else (np.arange(T)[None] < lengths[:, None]).astype(float)
    count = valid.sum(axis=0)
    out = np.empty((net.n_recurrent, T, len(net.gates)))
    for l, H in enumerate(net.hidden):
        for g, gate in enumerate(net.gates):
            act = net.activations[l] if gate == CANDIDATE[net.cell] else _SIGMOID
            frac = saturated(act, zs[l][0, :, :, g * H:(g + 1) * H], threshold).mean(axis=-1)  # (N, T)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[l, :, g] = (frac * valid).sum(axis=0) / count
    return out


def _steps_shown(T: int, n: int = 10) -> np.ndarray:
    """About ``n`` steps from 1 to ``T``, spaced evenly on a log scale (1-based)."""
    return np.unique(np.round(np.geomspace(1, T, min(n, T))).astype(int))


@dataclass
class StepReport:
    """Diagnostics through time of one recurrent net on one batch (see :func:`diagnose_steps`).

    Attributes
    ----------
    net : RNN
    grad_h : ndarray (n_layers, T)
        ``‖∂L/∂h_t‖`` per layer and step (:func:`state_gradient_norms`).
    grad_c : ndarray (n_layers, T) or None
        ``‖∂L/∂c_t‖`` for an LSTM.
    saturation : ndarray (n_layers, T, n_gates)
        :func:`step_saturation`.
    """

    net: RNN
    grad_h: np.ndarray
    grad_c: np.ndarray | None
    saturation: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """E.g. ``"elman 1-[32]-2 tanh"``."""
        return f"{self.net.cell} {net_label(self.net)}"

    def decay_per_step(self) -> np.ndarray:
        """``(‖∂L/∂h_1‖ / ‖∂L/∂h_T‖)^(1/(T-1))`` per layer: below 1 vanishes, above 1 explodes."""
        T = self.grad_h.shape[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.grad_h[:, 0] / self.grad_h[:, -1]) ** (1.0 / max(T - 1, 1))

    def rows(self) -> list[dict[str, Any]]:
        """One dict per layer and step (1-based), saturation per gate as ``"saturated_<gate>"``."""
        rows = []
        for l in range(self.net.n_recurrent):
            for t in range(self.grad_h.shape[1]):
                row = {"layer": l + 1, "step": t + 1, "grad_h": float(self.grad_h[l, t])}
                if self.grad_c is not None:
                    row["grad_c"] = float(self.grad_c[l, t])
                row.update({f"saturated_{g}": float(s) for g, s in zip(self.net.gates, self.saturation[l, t])})
                rows.append(row)
        return rows

    def table(self, n_steps: int = 10) -> str:
        """About ``n_steps`` steps per layer (log-spaced) as aligned text, and the decay per step."""
        T = self.grad_h.shape[1]
        sat = "  ".join(f"{'sat ' + g:>7}" for g in self.net.gates)
        cell = f"  {'|dL/dc_t|':>10}" if self.grad_c is not None else ""
        lines = [f"{'layer':>5}  {'step':>5}  {'|dL/dh_t|':>10}  {'ratio to T':>10}{cell}  {sat}"]
        for l in range(self.net.n_recurrent):
            top = self.grad_h[l, -1] if self.grad_h[l, -1] > 0 else 1.0
            for t in _steps_shown(T, n_steps) - 1:
                c = f"  {self.grad_c[l, t]:>10.3e}" if self.grad_c is not None else ""
                s = "  ".join(f"{100 * v:>6.1f}%" for v in self.saturation[l, t])
                lines.append(f"{l + 1:>5}  {t + 1:>5}  {self.grad_h[l, t]:>10.3e}  "
                             f"{self.grad_h[l, t] / top:>10.2e}{c}  {s}")
        for l, r in enumerate(self.decay_per_step()):
            verdict = "vanishes" if r < 1 else "explodes" if r > 1 else "is constant"
            lines.append(f"layer {l + 1}: |dL/dh_1| / |dL/dh_T| = {self.grad_h[l, 0] / self.grad_h[l, -1]:.2e}; "
                         f"the gradient {verdict} by x{r:.3f} per step back")
        return "\n".join(lines)

    def plot(self, path=None, title: str | None = None):
        """:func:`plot_through_time` of this report alone."""
        return plot_through_time([self], path, title)


def diagnose_steps(net: RNN, theta, X, y, threshold: float = 0.01, lengths=None) -> StepReport:
    """All diagnostics through time of ``theta`` on sequences ``(X, y)``.

    :func:`evoneuro.diagnostics.diagnose` calls this for a recurrent net.

    Examples
    --------
    >>> import numpy as np, evoneuro as en
    >>> from evoneuro.diagnostics import diagnose_steps
    >>> net = en.RNN(1, (8,), 2, cell="lstm")
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(16, 30, 1)), rng.integers(0, 2, 16)
    >>> rep = diagnose_steps(net, net.init(rng), X, y)
    >>> rep.grad_h.shape, rep.grad_c.shape, rep.saturation.shape
    ((1, 30), (1, 30), (1, 30, 4))
    >>> bool(rep.decay_per_step()[0] < 1)          # the gradient shrinks going back in time
    True
    """
    gh, gc = state_gradient_norms(net, theta, X, y, lengths)
    sat = step_saturation(net, theta, X, threshold, lengths)
    return StepReport(net, gh, gc, sat, meta={"threshold": threshold, "n_sequences": len(X)})


def plot_through_time(reports: Mapping[str, StepReport] | Sequence[StepReport], path=None, title: str | None = None):
    """``‖∂L/∂h_t‖`` against step (log scale) and % saturated candidate units, one line per report.

    ``reports`` maps legend labels to reports (or is a list, labelled by
    :attr:`StepReport.label`). The LSTM's ``‖∂L/∂c_t‖`` is dashed, in the colour of its
    ``h``; stacked layers are told apart by line width (thinner = lower layer). Saved to
    ``path`` (and the path returned) when given; otherwise the figure is returned. Needs
    matplotlib.
    """
    from evoneuro._plotting import finish, pyplot

    plt = pyplot()
    items = list(reports.items()) if isinstance(reports, Mapping) else [(r.label, r) for r in reports]
    fig, (ax, ax_sat) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [3, 2]})
    colors = plt.get_cmap("tab10").colors
    top_sat, h = 0.0, (": h" if any(r.grad_c is not None for _, r in items) else "")
    for i, (name, rep) in enumerate(items):
        color, L = colors[i % len(colors)], rep.net.n_recurrent
        steps = np.arange(1, rep.grad_h.shape[1] + 1)
        cand = rep.net.gates.index(CANDIDATE[rep.net.cell])
        for l in range(L):
            lw, tag = 1.0 + 1.2 * (l + 1) / L, (f" (layer {l + 1})" if L > 1 else "")
            ax.semilogy(steps, np.where(rep.grad_h[l] > 0, rep.grad_h[l], np.nan), color=color, lw=lw,
                        label=f"{name}{tag}{h}")
            if rep.grad_c is not None:
                ax.semilogy(steps, np.where(rep.grad_c[l] > 0, rep.grad_c[l], np.nan), color=color, lw=lw,
                            ls="--", label=f"{name}{tag}: c")
            sat = 100 * rep.saturation[l, :, cand]
            top_sat = max(top_sat, float(np.nanmax(sat)))
            ax_sat.plot(steps, sat, color=color, lw=lw, label=f"{name}{tag}")
    ax.set(xlabel="time step t", ylabel="‖∂L/∂h_t‖" + ("  (dashed: ‖∂L/∂c_t‖)" if h else ""),
           title="gradient with respect to the state, through time")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax_sat.set(xlabel="time step t", ylabel="% saturated candidate units (φ)", ylim=(-2, 100),
               title="saturated units per step")
    if top_sat < 5:  # lines along the axis: say it in words
        ax_sat.text(0.5, 0.5, f"at most {top_sat:.2g} % saturated at any step" if top_sat > 0 else "0 % saturated",
                    transform=ax_sat.transAxes, ha="center", va="center")
    ax_sat.legend(fontsize=8, loc="upper left")
    fig.suptitle(title or ", ".join(dict.fromkeys(net_label(r.net) for _, r in items)))
    fig.tight_layout()
    return finish(fig, path)
