"""Make the vanishing gradient visible: layer by layer in a deep net, step by step in a recurrent one.

:func:`diagnose` takes any network kind (its entry in :mod:`evoneuro.network.kinds` names its
diagnostics) and returns its report, with ``.table()`` and
``.plot(path)``:

- an MLP (:mod:`.layers`): per-layer gradient norms ‖∂L/∂W_l‖, saturated units and the
  input–output Jacobian spectrum (:class:`DiagnosticReport`);
- an RNN (:mod:`.through_time`): ‖∂L/∂h_t‖ at every time step (and the LSTM's ‖∂L/∂c_t‖)
  and saturated units per step (:class:`StepReport`).

The per-kind functions are public too: :func:`layer_gradient_norms`, :func:`saturation`,
:func:`jacobian_singular_values`, :class:`DiagnosticsRecorder`; :func:`state_gradients`,
:func:`state_gradient_norms`, :func:`step_saturation`, :func:`plot_through_time`.
"""

from __future__ import annotations

from evoneuro.diagnostics.layers import (
    DiagnosticReport,
    DiagnosticsRecorder,
    diagnose_layers,
    jacobian_singular_values,
    layer_gradient_norms,
    net_label,
    saturated,
    saturation,
)
from evoneuro.network.kinds import kind_of, table
from evoneuro.diagnostics.through_time import (
    StepReport,
    diagnose_steps,
    plot_through_time,
    state_gradient_norms,
    state_gradients,
    step_saturation,
)

def diagnose(net, theta, X, y, threshold: float = 0.01, **options) -> DiagnosticReport | StepReport:
    """All diagnostics of one network ``theta`` on ``(X, y)``, for any network kind.

    Parameters
    ----------
    net : MLP or RNN
    theta : array (n_params,)
    X, y : arrays
        A batch as the network's evaluator takes it: ``(N, d)`` rows for an MLP,
        ``(N, T, d)`` sequences for an RNN.
    threshold : float, default=0.01
        A unit is saturated when ``|act'(z)| < threshold * max |act'|``.
    **options
        Options of the kind: ``max_samples`` (MLP: samples of the Jacobian spectrum, 64),
        ``lengths`` (RNN: valid steps per sequence).

    Returns
    -------
    DiagnosticReport (per layer, for an MLP) or StepReport (per time step, for an RNN)

    Examples
    --------
    >>> import numpy as np, evoneuro as en
    >>> from evoneuro.diagnostics import diagnose
    >>> rng = np.random.default_rng(0)
    >>> net = en.MLP(4, (8,) * 3, 3, activation="tanh")
    >>> X, y = rng.normal(size=(16, 4)), rng.integers(0, 3, 16)
    >>> len(diagnose(net, net.init(rng), X, y).rows())        # one row per layer
    4
    >>> rnn = en.RNN(1, (8,), 2, cell="elman")
    >>> S, y = rng.normal(size=(16, 20, 1)), rng.integers(0, 2, 16)
    >>> diagnose(rnn, rnn.init(rng), S, y).grad_h.shape       # ‖∂L/∂h_t‖ per layer and step
    (1, 20)
    """
    return kind_of(net).load("diagnose")(net, theta, X, y, threshold=threshold, **options)


def __getattr__(name: str):
    # The kind -> diagnostics table this module kept before the kind registry, read from it.
    if name == "KINDS":
        return table("diagnose")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DiagnosticReport", "DiagnosticsRecorder", "StepReport", "diagnose", "diagnose_layers",
    "diagnose_steps", "jacobian_singular_values", "layer_gradient_norms", "net_label", "plot_through_time",
    "saturated", "saturation", "state_gradient_norms", "state_gradients", "step_saturation",
]
