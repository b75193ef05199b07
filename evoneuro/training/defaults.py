"""What an optimizer gets when the user sets nothing: minibatch, weight decay, step sizes.

The estimators and ``evoneuro compare`` share these, so the comparison shows what a user
of the estimators gets. Every value below was chosen by a measurement, named beside it;
``benchmarks/defaults_table.py`` reruns them (digits, and six other data sets for generality).

- **Minibatch** (``batch_size="auto"``): 256 rows shared by the whole population, except
  for the Rprop family (full batch: Rprop adapts its steps to the sign of the gradient,
  which minibatch noise flips) and PSO (full batch: its personal and global bests are
  remembered losses, and on minibatches the lucky ones stick; 1e7 evaluations on the net
  below: 51.8 % on minibatches, 64.7 % on the full batch) and local random search (its
  1/5th success rule counts offspring that beat the parent on one minibatch's noise as
  successes, so its step size grows and the search drifts: 1e7 / 3e7 / 6e7 evaluations,
  seed 0, test accuracy 88.0 / 78.2 / 57.6 % on minibatches of 256, with the step size
  growing 0.014 → 0.030; on the full batch 83.3 / 91.3 / 96.2 %, step size shrinking
  0.015 → 0.006).
- **Scales** relative to the start: an optimizer's initial spread (``sigma0``,
  ``sigma``, ...) is a fraction of the start's weight RMS, so it explores the same
  relative neighbourhood whatever the fan-in, activation or init.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from evoneuro.network.spec import MLP

#: Optimizers that take the full batch by default (see the module docstring).
FULL_BATCH = frozenset({"rprop+", "rprop-", "irprop+", "irprop-", "pso", "random"})
#: Rows per step for every other optimizer.
DEFAULT_BATCH = 256
#: The estimators' and ``compare``'s weight decay (scikit-learn's ``alpha`` and its default; see
#: :mod:`evoneuro.regularization`). Measured with Adam, 1e7 evaluations, seeds 0-1, mean test
#: accuracy over digits 10x32 and six small data sets x (1x32, 6x16) sigmoid nets
#: (``benchmarks/defaults_table.py --study alpha --optimizer adam --values 0,1e-4,1e-3,1e-2,1e-1``):
#: mean over all 94.1 % (0), 93.9 (1e-4), 94.0 (1e-3), 93.9 (1e-2), 94.6 (1e-1), all within seed noise; digits
#: 98.2, 98.2, 97.9, 97.2, 97.2 (table in docs/guide/estimators.md). 1e-4 costs nothing against 0 and keeps
#: scikit-learn's meaning; larger values lost 0.3-1 point on digits.
DEFAULT_ALPHA = 1e-4

# Spreads as fractions of the start's weight RMS (0.82 for the "auto" start of a 10x32 sigmoid
# net on digits). Measured there: batch 256, 1e7 evaluations (about 5 s on an idle 2-core
# machine), seed 0, test accuracy (rerun: benchmarks/defaults_table.py --study sweep --relative):
#   sep-cmaes sigma0  0.01x 91.1 %, 0.015x 93.6 %, 0.03x 93.6 %, 0.1x 88.7 %, 0.2x 60.7 %
#   snes      sigma0  0.01x 92.2 %, 0.015x 94.7 %, 0.03x 95.6 %, 0.1x 91.6 %, 0.2x 65.3 %
#   es        sigma   0.01x 65.3 % and 0.03x 65.3 % (learning rate 0.05), 0.03x 91.3 % (0.02)
#   ga        sigma0/mutation_sigma  0.05x/0.02x 85.6 %, 0.1x/0.05x 83.3 %
#   random    sigma   0.02x 85.1 %, 0.05x 60.4 %
#   pso       sigma0  0.03x 45.8 %, 0.1x 51.8 % (minibatch); full batch 0.03x 64.7 %, 0.1x 56.7 %
# CMA-ES and SNES adapt their spread, so the start matters most for short budgets; a spread
# much above 0.1x saturates the sigmoids and the search stalls.
_RELATIVE: dict[str, dict[str, float]] = {
    "cmaes": {"sigma0": 0.03},
    "sep-cmaes": {"sigma0": 0.03},
    "snes": {"sigma0": 0.03},
    "es": {"sigma": 0.03},
    "ga": {"sigma0": 0.05, "mutation_sigma": 0.02},
    "pso": {"sigma0": 0.03},
    "random": {"sigma": 0.02},
    "guided-es": {"sigma": 0.03},
}
# Fixed (scale-free) values that differ from the optimizer classes' own defaults.
# Adam keeps its own learning rate, 0.001: from the "auto" start, 1e7 evaluations gave
# 97.1 % (lr 0.001), 97.3 % (0.003) and 97.3 % (0.01) on the net above.
_ABSOLUTE: dict[str, dict[str, Any]] = {
    # OpenAI-ES does not adapt its spread, so minibatch noise in its gradient estimate is
    # what limits it: 2.5e7 evaluations, seeds 0-1: popsize 32 91.2 %, 64 93.3 %.
    "es": {"popsize": 64},
}
# Hybrids: the inner optimizer's spread, relative as above.
_INNER_RELATIVE: dict[str, dict[str, float]] = {
    "readout": {"sigma0": 0.03},
    "memetic": {"sigma0": 0.03},
}


def default_batch_size(optimizer, n_samples: int) -> int | None:
    """Rows per step for ``optimizer`` on ``n_samples`` rows (``None``: full batch).

    Examples
    --------
    >>> from evoneuro.training.defaults import default_batch_size
    >>> default_batch_size("irprop+", 5000), default_batch_size("random", 5000), default_batch_size("snes", 5000)
    (None, None, 256)
    """
    name = optimizer.lower() if isinstance(optimizer, str) else getattr(optimizer, "name", "")
    if name in FULL_BATCH or n_samples <= DEFAULT_BATCH:
        return None
    return DEFAULT_BATCH


def start_scale(net: "MLP", theta: np.ndarray) -> float:
    """Root-mean-square of the weight matrices of ``theta`` (biases and gains left out).

    Examples
    --------
    >>> import numpy as np, evoneuro as en
    >>> from evoneuro.training.defaults import start_scale
    >>> net = en.MLP(4, (8,), 3)
    >>> round(start_scale(net, net.init(0, "zeros") + 0.5), 3)
    0.5
    """
    squares = sum(float(np.sum(s.weights(theta) ** 2)) for s in net.layers)
    count = sum(s.fan_in * s.fan_out for s in net.layers)
    return float(np.sqrt(squares / count)) if count else 0.0


def optimizer_params(name: str, net: "MLP", theta: np.ndarray, given: dict | None = None) -> dict:
    """``given`` completed by the measured defaults of ``name``, scaled to the start ``theta``.

    A parameter in ``given`` always wins; so does an optimizer that is not a registry name.

    Examples
    --------
    >>> import numpy as np, evoneuro as en
    >>> from evoneuro.training.defaults import optimizer_params
    >>> net = en.MLP(4, (8,), 3)
    >>> theta = net.init(0, "zeros") + 0.2
    >>> optimizer_params("es", net, theta, {"popsize": 16})
    {'popsize': 16, 'sigma': 0.006}
    >>> optimizer_params("adam", net, theta)
    {}
    """
    params = dict(given or {})
    if not isinstance(name, str):
        return params
    key = name.lower()
    scale = start_scale(net, theta)
    if scale > 0:
        for k, frac in _RELATIVE.get(key, {}).items():
            params.setdefault(k, float(f"{frac * scale:.3g}"))
        inner = _INNER_RELATIVE.get(key)
        if inner and params.get("inner", "sep-cmaes") in ("sep-cmaes", "snes", "cmaes", None):
            inner_params = dict(params.get("inner_params") or {})
            for k, frac in inner.items():
                inner_params.setdefault(k, float(f"{frac * scale:.3g}"))
            params["inner_params"] = inner_params
    for k, v in _ABSOLUTE.get(key, {}).items():
        params.setdefault(k, v)
    return params


def new_optimizer(optimizer: Any, net: "MLP", theta: np.ndarray, given: dict | None = None):
    """A fresh optimizer for a run from ``theta``: a registry name completed by
    :func:`optimizer_params`, or a deep copy of an instance (the caller's stays untouched).

    Examples
    --------
    >>> import evoneuro as en
    >>> from evoneuro.training.defaults import new_optimizer
    >>> net = en.MLP(4, (8,), 3)
    >>> opt = new_optimizer("es", net, net.init(0), {"popsize": 16})
    >>> type(opt).__name__, new_optimizer(opt, net, net.init(0)) is opt
    ('OpenAIES', False)
    """
    import copy

    from evoneuro.optimizers.base import Optimizer
    from evoneuro.optimizers.registry import get_optimizer

    if isinstance(optimizer, Optimizer):
        if given:
            raise ValueError("optimizer_params can only be given with an optimizer name, not an instance")
        return copy.deepcopy(optimizer)
    return get_optimizer(optimizer, **optimizer_params(optimizer, net, theta, given))


__all__ = ["DEFAULT_ALPHA", "DEFAULT_BATCH", "FULL_BATCH", "default_batch_size", "new_optimizer",
           "optimizer_params", "start_scale"]
