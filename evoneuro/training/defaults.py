"""What an optimizer gets when the user sets nothing: minibatch, weight decay, step sizes.

The estimators, ``evoneuro compare`` and the fit recipe share these, so the comparison
shows what a user of the estimators gets. Each optimizer class carries its own measured
defaults (:class:`~evoneuro.optimizers.base.Optimizer`: ``full_batch``,
``relative_spreads``, ``fit_defaults``, ``inner_relative_spreads``), with the measurement
that chose them in its docstring; this module reads them, for a registry name through the
registry's class and for an instance through its type. ``benchmarks/defaults_table.py``
reruns the measurements (digits, and six other data sets for generality).

- **Minibatch** (``batch_size="auto"``): :data:`DEFAULT_BATCH` rows shared by the whole
  population, or the full batch for the optimizers whose class sets ``full_batch``.
  ``FULL_BATCH`` is the frozenset of registry names that do (the Rprop family, PSO and
  random search), computed from the registry when it is read.
- **Budget** when none is given (:func:`default_budget`): a fit runs until the held-out
  rule stops it, within a cap in passes over the data and in work (evaluations times
  weights), so that a large problem cannot run for hours unasked.
- **Scales** relative to the start: an optimizer's initial spread (``sigma0``,
  ``sigma``, ...) is a fraction of the start's weight RMS (:func:`start_scale`), so it
  explores the same relative neighbourhood whatever the fan-in, activation or init.
"""

from __future__ import annotations

import copy
import functools
import inspect
from typing import TYPE_CHECKING, Any

import numpy as np

from evoneuro.optimizers.base import Optimizer, init_parameters
from evoneuro.optimizers.registry import available, get_class, get_optimizer
from evoneuro.problems import SupervisedProblem

if TYPE_CHECKING:
    from evoneuro.network.spec import MLP

#: Rows per step for every optimizer whose class does not take the full batch.
DEFAULT_BATCH = 256
#: The estimators' and ``compare``'s weight decay (scikit-learn's ``alpha`` and its default; see
#: :mod:`evoneuro.regularization`). Measured with Adam, 1e7 evaluations, seeds 0-1, mean test
#: accuracy over digits 10x32 and six small data sets x (1x32, 6x16) sigmoid nets
#: (``benchmarks/defaults_table.py --study alpha --optimizer adam --values 0,1e-4,1e-3,1e-2,1e-1``):
#: mean over all 94.1 % (0), 93.9 (1e-4), 94.0 (1e-3), 93.9 (1e-2), 94.6 (1e-1), all within seed noise; digits
#: 98.2, 98.2, 97.9, 97.2, 97.2 (table in docs/guide/estimators.md). 1e-4 costs nothing against 0 and keeps
#: scikit-learn's meaning; larger values lost 0.3-1 point on digits. On regression, with the
#: held-out rule (6 tasks of benchmarks/defaults_suite.py x 3 nets x adam, irprop+, sep-cmaes,
#: seed 0, 54 fits, with Adam's and sep-CMA-ES's patience then 100 and 500 steps), mean test
#: R² 0.720 (1e-4), 0.720 (1e-3), 0.714 (1e-2), 0.722 (1e-1): no value stands out, so
#: regression keeps the same default.
DEFAULT_ALPHA = 1e-4

#: A fit given no budget may take at least this many steps: five times the longest
#: held-out patience (2,000 generations of a population, ``Optimizer.patience_steps``), so
#: that on small data, where a pass is one to a few steps, the held-out rule and not the
#: cap ends a fit; and the whole budget of a data set too small to hold data out.
DEFAULT_MIN_STEPS = 10_000
#: ... and at most this many passes over the training data; held-out data usually stops it
#: long before (``benchmarks/defaults_suite.py``).
DEFAULT_MAX_EPOCHS = 1000
#: ... and at most this much work, in sample-forward evaluations times the net's weights (a
#: proxy for floating-point work): 3e11 is 10-60 s on one 2-core machine for the nets of
#: ``benchmarks/defaults_suite.py`` (5e9-3e10 evaluation-weights per second measured there), so a
#: default fit of a large net on large data ends within minutes.
DEFAULT_MAX_WORK = 3e11
#: Evaluations per parameter of a fitness function's run given no budget (``minimize``): a
#: function of ``n`` parameters gets ``1000 n`` calls (CMA-ES solves most smooth problems of
#: up to a few hundred parameters well within that; pycma's own cap, ``1e3 n^2``, is far
#: larger), and never more than the work cap allows (``DEFAULT_MAX_WORK / n``).
DEFAULT_EVALS_PER_PARAM = 1000


def __getattr__(name: str):
    # FULL_BATCH reads every registered class, which imports every optimizer module (pycma,
    # DEAP): computed when read, so that importing evoneuro does not pay for it.
    if name == "FULL_BATCH":
        return frozenset(n for n in available() if get_class(n)[0].full_batch)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "FULL_BATCH"])


def _defaults_class(optimizer) -> type | None:
    """The class whose fit defaults apply: the registry's for a name (None for a name the
    registry does not know), the type of anything else."""
    if not isinstance(optimizer, str):
        return type(optimizer)
    if optimizer.lower() not in available():
        return None
    return get_class(optimizer)[0]


def default_batch_size(optimizer, n_samples: int) -> int | None:
    """Rows per step for ``optimizer`` (a registry name or an instance) on ``n_samples``
    rows: ``None`` (the full batch) when its class sets ``full_batch`` or the data fit in
    one minibatch, else :data:`DEFAULT_BATCH`.

    Examples
    --------
    >>> from evoneuro.training.defaults import default_batch_size
    >>> default_batch_size("irprop+", 5000), default_batch_size("random", 5000), default_batch_size("snes", 5000)
    (None, None, 256)
    """
    if n_samples <= DEFAULT_BATCH:
        return None
    if getattr(_defaults_class(optimizer), "full_batch", False):
        return None
    return DEFAULT_BATCH


def default_budget(net, steps_per_epoch: int) -> dict:
    """The budget of a fit given none: ``max_steps`` and ``max_evals`` for the trainer.

    ``max(DEFAULT_MIN_STEPS, DEFAULT_MAX_EPOCHS * steps_per_epoch)`` steps (10,000, or
    1,000 passes over the data when that is more) and
    ``DEFAULT_MAX_WORK / n_params`` evaluations, the first spent ending the fit. It is a
    cap: the estimators pair it with held-out data that stops a fit when its score stops
    improving (``early_stopping="auto"``).

    Examples
    --------
    >>> import evoneuro as en
    >>> from evoneuro.training.defaults import default_budget
    >>> default_budget(en.MLP(10, (32,), 2), steps_per_epoch=50)  # 418 weights
    {'max_steps': 50000, 'max_evals': 717703349}
    """
    steps = max(DEFAULT_MIN_STEPS, DEFAULT_MAX_EPOCHS * int(steps_per_epoch))
    return {"max_steps": steps, "max_evals": int(DEFAULT_MAX_WORK / max(net.n_params, 1))}


def default_run_budget(problem) -> dict:
    """The budget of a run on ``problem`` given none (``max_evals``, ``max_time`` and
    ``max_steps`` all None): the one rule of the fit recipe and :func:`evoneuro.minimize`.

    A network problem (:class:`~evoneuro.SupervisedProblem`) gets :func:`default_budget`
    (10,000 steps or 1,000 passes over the data, whichever is more, and at most
    ``DEFAULT_MAX_WORK / n_params`` evaluations); any other problem
    ``DEFAULT_EVALS_PER_PARAM * n_params`` evaluations (calls of a fitness function), at
    most ``DEFAULT_MAX_WORK / n_params``.

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> from evoneuro.training.defaults import default_run_budget
    >>> default_run_budget(en.FitnessProblem(lambda x: float(np.sum(x ** 2)), 10))
    {'max_evals': 10000}
    """
    if isinstance(problem, SupervisedProblem):
        return default_budget(problem.net, problem.steps_per_epoch)
    n = max(int(problem.n_params), 1)
    return {"max_evals": int(min(DEFAULT_EVALS_PER_PARAM * n, max(DEFAULT_MAX_WORK / n, 1)))}


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
    """``given`` completed by the measured defaults of ``name``'s class, scaled to the start ``theta``.

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
    cls = _defaults_class(name) if isinstance(name, str) else None
    if cls is None:
        return params
    scale = start_scale(net, theta)
    if scale > 0:
        for k, frac in cls.relative_spreads.items():
            params.setdefault(k, _scaled(frac, scale))
        inner = _inner_spreads(cls, params)
        if inner:
            inner_params = dict(params.get("inner_params") or {})
            for k, frac in inner.items():
                inner_params.setdefault(k, _scaled(frac, scale))
            params["inner_params"] = inner_params
    for k, v in cls.fit_defaults.items():
        params.setdefault(k, v)
    return params


def _scaled(frac: float, scale: float) -> float:
    return float(f"{frac * scale:.3g}")


def _inner_spreads(cls: type, params: dict) -> dict:
    """A hybrid's relative spreads for the inner optimizer that ``params`` (or the class's
    default ``inner``) names; every entry is checked against its inner optimizer first."""
    table = cls.inner_relative_spreads
    if not table:
        return {}
    _check_inner_spreads(cls)
    own = inspect.signature(cls).parameters.get("inner")
    inner = params.get("inner", None if own is None or own.default is own.empty else own.default)
    if inner is not None and not isinstance(inner, str):
        return {}  # not a name: the hybrid's constructor says what is wrong with it
    return dict(table.get(inner, {}))


@functools.cache
def _check_inner_spreads(cls: type) -> None:
    # once per class: the registry's inner optimizers are only known once it is filled
    owner = f"{cls.__name__}.inner_relative_spreads"
    for inner, spreads in cls.inner_relative_spreads.items():
        if inner is None:
            continue  # the hybrid's own choice; checked when it builds the inner optimizer
        if inner.lower() not in available():
            raise ValueError(f"{owner} names {inner!r}, which is not a registered optimizer: {available()}")
        takes = init_parameters(get_class(inner)[0])
        unknown = sorted(set(spreads) - takes) if takes is not None else []
        if unknown:
            raise TypeError(f"{owner}[{inner!r}] names {unknown}, which {inner!r} does not take; "
                            f"it takes {sorted(takes)}")


#: The search scale of a control policy's start (zero weights): every spread hyperparameter
#: of the optimizer is this times its class's relative factor over CMA-ES's (0.03), so
#: CMA-ES starts at sigma0 = 1. Measured on the Markov double pole with a linear policy
#: (CMA-ES, 4 seeds, ``benchmarks/science_control.py --sweep``): from zero weights every run
#: balanced 1,000 steps within 3,000 episodes at sigma0 0.3 and 1, 3 of 4 at 3 and 10, and
#: from a Glorot start 2 of 4 (docs/guide/control.md, "Search scale").
CONTROL_SEARCH_SCALE = 1.0


def control_params(optimizer: str, scale: float | None = None, given: dict | None = None) -> dict:
    """``given`` completed by the spreads of ``optimizer`` for a control policy's search
    from zero weights at ``scale`` (default :data:`CONTROL_SEARCH_SCALE`).

    A policy's start has no weight RMS to scale the class's relative spreads to (it is
    zero), so the scale is set here instead, as an absolute spread for CMA-ES and the
    other classes' in proportion to their measured relative factors.

    Examples
    --------
    >>> from evoneuro.training.defaults import control_params
    >>> control_params("cmaes"), control_params("cmaes", 0.5, {"popsize": 16})
    ({'sigma0': 1.0}, {'popsize': 16, 'sigma0': 0.5})
    """
    scale = CONTROL_SEARCH_SCALE if scale is None else float(scale)
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    params = dict(given or {})
    cls = _defaults_class(optimizer) if isinstance(optimizer, str) else None
    if cls is not None:
        for k, frac in cls.relative_spreads.items():
            params.setdefault(k, scale * frac / 0.03)
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
    if isinstance(optimizer, Optimizer):
        if given:
            raise ValueError("optimizer_params can only be given with an optimizer name, not an instance")
        return copy.deepcopy(optimizer)
    return get_optimizer(optimizer, **optimizer_params(optimizer, net, theta, given))


__all__ = ["CONTROL_SEARCH_SCALE", "DEFAULT_ALPHA", "DEFAULT_BATCH", "DEFAULT_EVALS_PER_PARAM", "DEFAULT_MAX_EPOCHS",
           "DEFAULT_MAX_WORK", "DEFAULT_MIN_STEPS", "FULL_BATCH", "control_params", "default_batch_size",
           "default_budget", "default_run_budget", "new_optimizer", "optimizer_params", "start_scale"]
