"""Diagnostics of a feed-forward net, layer by layer: gradient norms, saturation, Jacobian spectrum.

- :func:`layer_gradient_norms`: ‖∂L/∂W_l‖ for every layer. In a deep sigmoid net at a
  standard initialisation it falls by a factor of about four per layer towards the input.
- :func:`saturation`: the fraction of (sample, unit) pairs in each hidden layer whose
  derivative is below 1 % of the activation's maximum derivative — units that pass almost no
  gradient.
- :func:`jacobian_singular_values`: singular values of the Jacobian of the last hidden
  layer with respect to the input, pooled over samples. Dynamical isometry (Pennington,
  Schoenholz & Ganguli 2017) means they concentrate near 1; vanishing gradients mean they
  collapse towards 0.

References
----------
Glorot & Bengio (2010). Understanding the difficulty of training deep feedforward neural
networks. AISTATS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evoneuro.evaluator import Evaluator
from evoneuro.network.spec import MLP


def net_label(net: MLP) -> str:
    """Compact description, e.g. ``"64-[32x20]-10 sigmoid"``."""
    h = net.hidden
    if len(h) > 1 and len(set(h)) == 1:
        mid = f"[{h[0]}x{len(h)}]"
    else:
        mid = "[" + ",".join(map(str, h)) + "]"
    acts = sorted({str(a) for a in net.activations}) or ["linear"]
    return f"{net.n_inputs}-{mid}-{net.n_outputs} {'/'.join(acts)}"


def _evaluator(net: MLP) -> Evaluator:
    return Evaluator(net, backend="numpy", dtype="float64")


def layer_gradient_norms(net: MLP, theta, X, y) -> np.ndarray:
    """Frobenius norm of the loss gradient with respect to each layer's weights ``(n_layers,)``.

    Examples
    --------
    >>> import numpy as np, evoneuro as en
    >>> from evoneuro.diagnostics import layer_gradient_norms
    >>> net = en.MLP(4, (8,) * 5, 3, activation="sigmoid")
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(32, 4)), rng.integers(0, 3, 32)
    >>> g = layer_gradient_norms(net, net.init(rng, "standard"), X, y)
    >>> bool(g[0] < g[-1])   # the input layer gets the smallest gradient
    True
    """
    _, grads = _evaluator(net).loss_and_grad(theta, X, y)
    return np.array([np.linalg.norm(s.weights(grads[0])) for s in net.layers])


def saturation(net: MLP, theta, X, threshold: float = 0.01) -> np.ndarray:
    """Fraction of saturated units per hidden layer ``(n_hidden,)``.

    A unit is saturated on a sample when ``|act'(z)| < threshold * max |act'|``.
    """
    return _saturation(net, _pre_activations(net, theta, X), threshold)


def _pre_activations(net: MLP, theta, X) -> list[np.ndarray]:
    """Every layer's pre-activation ``(N, width)`` for one network, in float64."""
    _, zs = _evaluator(net).forward(theta, X, return_hidden=True)
    return [z[0] for z in zs]


def saturated(act, z: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """Where a unit is saturated: ``|act'(z)| < threshold * max |act'|``, elementwise (bool)."""
    return np.abs(act.derivative(z, act(z))) < threshold * act.max_derivative


def _saturation(net: MLP, zs: list[np.ndarray], threshold: float) -> np.ndarray:
    return np.array([float(saturated(act, z, threshold).mean()) for act, z in zip(net.activations, zs[:-1])])


def jacobian_singular_values(net: MLP, theta, X, max_samples: int = 64) -> np.ndarray:
    """Singular values of ∂h_L/∂x (last hidden layer w.r.t. the input), pooled over samples.

    ``J(x) = D_L W_Lᵀ ⋯ D_1 W_1ᵀ`` with ``D_l = diag(act'(z_l(x)))``. Returns a flat
    array of ``min(d, width_L)`` values per sample for up to ``max_samples`` samples.
    """
    if not net.hidden:
        raise ValueError("jacobian_singular_values needs at least one hidden layer")
    X = np.asarray(X, dtype=np.float64)[:max_samples]
    return _jacobian_singular_values(net, np.asarray(theta, dtype=np.float64), _pre_activations(net, theta, X))


def _jacobian_singular_values(net: MLP, theta: np.ndarray, zs: list[np.ndarray]) -> np.ndarray:
    N = len(zs[0])
    J = np.broadcast_to(np.eye(net.n_inputs), (N, net.n_inputs, net.n_inputs))
    for l, act in enumerate(net.activations):
        W = net.layers[l].weights(theta)  # (fan_in, fan_out)
        D = act.derivative(zs[l], act(zs[l]))  # (N, fan_out)
        J = (J @ W) * D[:, None, :]  # rows: input directions, columns: units of layer l
    return np.linalg.svd(J, compute_uv=False).ravel()


@dataclass
class DiagnosticReport:
    """Per-layer diagnostics of one network on one batch (see :func:`diagnose_layers`)."""

    net: MLP
    grad_norms: np.ndarray
    saturation: np.ndarray
    mean_abs_z: np.ndarray
    singular_values: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for l, s in enumerate(self.net.layers):
            hidden = l < len(self.net.hidden)
            rows.append({
                "layer": l + 1,
                "width": s.fan_out,
                "activation": str(self.net.activations[l]) if hidden else self.net.output,
                "grad_norm": float(self.grad_norms[l]),
                "saturated": float(self.saturation[l]) if hidden else float("nan"),
                "mean_abs_z": float(self.mean_abs_z[l]),
            })
        return rows

    def table(self) -> str:
        """The per-layer table as aligned text."""
        lines = [(f"{'layer':>5}  {'width':>5}  {'activation':<14} {'|dL/dW|':>10}  {'ratio to top':>12}  "
                  f"{'saturated':>9}  {'mean |z|':>8}")]
        top = self.grad_norms[-1] if self.grad_norms[-1] > 0 else 1.0
        for r in self.rows():
            sat = "" if np.isnan(r["saturated"]) else f"{100 * r['saturated']:8.1f}%"
            lines.append(
                f"{r['layer']:>5}  {r['width']:>5}  {r['activation']:<14} {r['grad_norm']:>10.3e}  "
                f"{r['grad_norm'] / top:>12.2e}  {sat:>9}  {r['mean_abs_z']:>8.3f}"
            )
        sv = self.singular_values
        if sv.size:
            lines.append(
                f"input-output Jacobian singular values (last hidden layer): median {np.median(sv):.3e}, "
                f"max {sv.max():.3e}, min {sv.min():.3e}"
            )
        return "\n".join(lines)

    def plot(self, path=None, title: str | None = None):
        """Gradient norm, saturation and Jacobian spectrum per layer (needs matplotlib).

        Saved to ``path`` (and the path returned) when given; otherwise the figure is returned.
        """
        from evoneuro._plotting import finish, pyplot

        plt = pyplot()

        from matplotlib.ticker import MaxNLocator

        fig, axes = plt.subplots(1, 3, figsize=(14, 4))
        layers = np.arange(1, len(self.grad_norms) + 1)
        axes[0].semilogy(layers, self.grad_norms, "o-")
        axes[0].set(xlabel="layer (1 = input side)", ylabel="‖∂L/∂W‖", title="gradient norm per layer")
        sat = 100 * np.asarray(self.saturation)
        axes[1].bar(np.arange(1, len(sat) + 1), sat)
        axes[1].set(xlabel="hidden layer", ylabel="% saturated", title="saturated units", ylim=(0, 100))
        if sat.size and sat.max() < 5:  # bars too small to see: say it in words
            axes[1].text(0.5, 0.5, f"at most {sat.max():.2g} % saturated in any layer" if sat.max() > 0
                         else "0 % saturated", transform=axes[1].transAxes, ha="center", va="center")
        for ax in axes[:2]:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if self.singular_values.size:
            sv = self.singular_values[self.singular_values > 0]
            axes[2].hist(np.log10(sv), bins=40)
        axes[2].set(xlabel="log10 singular value", ylabel="count", title="input–output Jacobian spectrum")
        fig.suptitle(title or net_label(self.net))
        fig.tight_layout()
        return finish(fig, path)


def diagnose_layers(net: MLP, theta, X, y, threshold: float = 0.01, max_samples: int = 64) -> DiagnosticReport:
    """All per-layer diagnostics of ``theta`` on ``(X, y)``; :func:`evoneuro.diagnostics.diagnose` for any kind.

    Examples
    --------
    >>> import numpy as np, evoneuro as en
    >>> from evoneuro.diagnostics import diagnose_layers
    >>> net = en.MLP(4, (8,) * 3, 3, activation="tanh")
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(16, 4)), rng.integers(0, 3, 16)
    >>> rep = diagnose_layers(net, net.init(rng), X, y)
    >>> len(rep.rows())
    4
    """
    theta = np.asarray(theta, dtype=np.float64)
    zs = _pre_activations(net, theta, X)  # one forward pass serves every diagnostic
    return DiagnosticReport(
        net=net,
        grad_norms=layer_gradient_norms(net, theta, X, y),
        saturation=_saturation(net, zs, threshold),
        mean_abs_z=np.array([float(np.abs(z).mean()) for z in zs]),
        singular_values=(_jacobian_singular_values(net, theta, [z[:max_samples] for z in zs])
                         if net.hidden else np.array([])),
    )


class DiagnosticsRecorder:
    """A training callback recording per-layer gradient norms and saturation every ``every`` steps.

    Works with any trainer whose problem is a :class:`~evoneuro.SupervisedProblem`; it
    diagnoses the optimizer's current recommendation ``optimizer.x`` on a fixed batch.

    Attributes
    ----------
    steps : list of int
    grad_norms : list of ndarray (n_layers,)
    saturation : list of ndarray (n_hidden,)
    """

    def __init__(self, X, y, every: int = 10, max_samples: int = 256) -> None:
        self.X = np.asarray(X)[:max_samples]
        self.y = np.asarray(y)[:max_samples]
        self.every = int(every)
        self.steps: list[int] = []
        self.grad_norms: list[np.ndarray] = []
        self.saturation: list[np.ndarray] = []

    def on_step(self, trainer, record) -> None:
        step = int(record["step"]) if isinstance(record, dict) else int(record.step)
        if step % self.every:
            return
        net = trainer.problem.net
        x = trainer.optimizer.x
        self.steps.append(step)
        self.grad_norms.append(layer_gradient_norms(net, x, self.X, self.y))
        self.saturation.append(saturation(net, x, self.X))

    def on_end(self, trainer, result) -> None:
        return None

    def plot(self, path=None):
        """Gradient norm of every layer against training step; saved like :meth:`DiagnosticReport.plot`."""
        from evoneuro._plotting import finish, pyplot

        plt = pyplot()

        fig, ax = plt.subplots(figsize=(6, 4))
        G = np.array(self.grad_norms)
        for l in range(G.shape[1]):
            ax.semilogy(self.steps, G[:, l], label=f"layer {l + 1}")
        ax.set(xlabel="step", ylabel="‖∂L/∂W‖", title="per-layer gradient norm during training")
        ax.legend(fontsize=6, ncol=2)
        fig.tight_layout()
        return finish(fig, path)
