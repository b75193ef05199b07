"""First-order gradient descent: SGD, momentum (heavy ball / Nesterov) and Adam.

Each optimizer is a short chain of *update rules* (the optax habit): a rule turns a
gradient into a direction and keeps its own state, and the chain ends in
``-learning_rate``. With ``layerwise=True`` the chain starts by normalising every layer's
gradient by that layer's own norm, so that all layers move at the same speed however
small their gradients are (the vanishing gradient of deep saturating nets).

=========  ======================================================================
sgd        ``[normalize?] -> scale(-lr)``
momentum   ``[normalize?] -> trace(mu, nesterov) -> scale(-lr)``
adam       ``[normalize?] -> scale_by_adam(b1, b2, eps) -> scale(-lr)``
=========  ======================================================================

Every method asks for one point, the iterate ``x``, and is told its loss and gradient.

References
----------
Kingma, D. P. & Ba, J. (2015). Adam: a method for stochastic optimization. ICLR.
Nesterov, Y. (1983). A method for solving the convex programming problem with
convergence rate O(1/k^2). Soviet Mathematics Doklady 27.
Sutskever, I., Martens, J., Dahl, G. & Hinton, G. (2013). On the importance of
initialization and momentum in deep learning. ICML. (momentum and Nesterov momentum)
Bengio, Y., Boulanger-Lewandowski, N. & Pascanu, R. (2013). Advances in optimizing
recurrent networks. ICASSP. (Nesterov momentum with the gradient at the iterate)
Yu, A. W., Huang, L., Lin, Q., Salakhutdinov, R. & Carbonell, J. (2017). Block-normalized
gradient method: an empirical study for training deep neural network. arXiv:1707.04822.
(``layerwise``: normalise each layer's gradient, then apply any of the rules above)
You, Y., Gitman, I. & Ginsburg, B. (2017). Large batch training of convolutional networks
(LARS). arXiv:1708.03888. (layer-wise normalised steps)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from evoneuro._validation import check_positive_float
from evoneuro.optimizers.base import Optimizer

# --- update rules: gradient in, direction out, state on the object ------------------


class NormalizeBlocks:
    """``g_l / (||g_l|| + eps)`` for every block ``l`` (a layer's ``W`` and ``b``)."""

    def __init__(self, slices: Sequence[tuple[int, int]], eps: float = 1e-12) -> None:
        self.slices, self.eps = list(slices), eps

    def init(self, n: int) -> None:
        pass

    def __call__(self, g: np.ndarray) -> np.ndarray:
        out = np.empty_like(g)
        for a, b in self.slices:
            out[a:b] = g[a:b] / (np.linalg.norm(g[a:b]) + self.eps)
        return out


class Trace:
    """Momentum: ``v <- mu v + g``; direction ``v``, or ``g + mu v`` (Nesterov)."""

    def __init__(self, mu: float, nesterov: bool = False) -> None:
        self.mu, self.nesterov = mu, nesterov

    def init(self, n: int) -> None:
        self.v = np.zeros(n)

    def __call__(self, g: np.ndarray) -> np.ndarray:
        self.v = self.mu * self.v + g
        return g + self.mu * self.v if self.nesterov else self.v.copy()


class ScaleByAdam:
    """Adam's direction ``m_hat / (sqrt(v_hat) + eps)`` with bias-corrected moments."""

    def __init__(self, b1: float, b2: float, eps: float) -> None:
        self.b1, self.b2, self.eps = b1, b2, eps

    def init(self, n: int) -> None:
        self.m, self.v, self.t = np.zeros(n), np.zeros(n), 0

    def __call__(self, g: np.ndarray) -> np.ndarray:
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.v = self.b2 * self.v + (1 - self.b2) * g * g
        m_hat = self.m / (1 - self.b1**self.t)
        v_hat = self.v / (1 - self.b2**self.t)
        return m_hat / (np.sqrt(v_hat) + self.eps)


class Scale:
    """Multiply by a constant (``-learning_rate`` ends every chain)."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def init(self, n: int) -> None:
        pass

    def __call__(self, g: np.ndarray) -> np.ndarray:
        return self.factor * g


class Chain:
    """Apply rules in order."""

    def __init__(self, *rules) -> None:
        self.rules = rules

    def init(self, n: int) -> None:
        for r in self.rules:
            r.init(n)

    def __call__(self, g: np.ndarray) -> np.ndarray:
        for r in self.rules:
            g = r(g)
        return g


# --- the optimizers ------------------------------------------------------------------


def _check_slices(slices, n: int) -> list[tuple[int, int]]:
    try:
        out = [(int(a), int(b)) for a, b in slices]
    except (TypeError, ValueError):
        raise TypeError(f"layer_slices must be a list of (start, end) pairs, got {slices!r}") from None
    for a, b in out:
        if not 0 <= a < b <= n:
            raise ValueError(f"layer_slices entry ({a}, {b}) is not a range inside [0, {n})")
    return out


class GradientOptimizer(Optimizer):
    """One iterate ``x`` moved by ``x <- x + rule(grad)``; base of SGD, momentum, Adam, Rprop.

    Subclasses implement ``_rule()`` returning the update rule (a :class:`Chain`).
    ``layer_slices`` (a list of ``(start, end)`` ranges) overrides the problem's layers.
    """

    needs_grad = True
    # Held-out stopping waits 1,000 steps: Adam at its default step size climbs out of long
    # plateaus of the held-out score (friedman3, 1x32: test R² 0.40 at 100 and 300 steps of
    # patience, 0.65-0.69 at 1,000; the mean over 40 regression and 20 classification fits
    # of benchmarks/defaults_suite.py's tasks rose or held; docs/guide/estimators.md).
    patience_steps = 1000

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._problem_slices: list[tuple[int, int]] | None = None

    def setup(self, problem) -> None:
        self._problem_slices = getattr(problem, "layer_slices", None)

    def _slices(self) -> list[tuple[int, int]]:
        given = self._params.get("layer_slices")
        slices = given if given is not None else self._problem_slices
        return [(0, self.n_params)] if slices is None else _check_slices(slices, self.n_params)

    def _rule(self):
        raise NotImplementedError

    def _initialize(self, x0: np.ndarray) -> None:
        self._x = x0.copy()
        self.rule = self._rule()
        self.rule.init(self.n_params)

    def ask(self) -> np.ndarray:
        return self._x[None].copy()

    def _tell(self, Theta, losses, grads) -> None:
        self._x = self._x + self.rule(np.asarray(grads[0], dtype=np.float64))

    @property
    def x(self) -> np.ndarray:
        return self._x.copy()

    def _prefix(self) -> list:
        return [NormalizeBlocks(self._slices())] if self._params.get("layerwise") else []


class SGD(GradientOptimizer):
    """Plain gradient descent ``x <- x - lr * g``.

    Parameters
    ----------
    learning_rate : float, default=0.01
        Step size (per layer, in gradient-norm units, when ``layerwise``).
    layerwise : bool, default=False
        Normalise each layer's gradient by its own norm first (Yu et al. 2017).
    layer_slices : list of (start, end) or None, default=None
        The layers; ``None`` takes them from the problem (the network's layers), or the
        whole vector as one layer.

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.optimizers.gradient import SGD
    >>> opt = SGD(learning_rate=0.1).initialize(np.array([1.0, -2.0]), np.random.default_rng(0))
    >>> x = opt.ask()
    >>> opt.tell(x, [5.0], 2 * x)  # f(x) = |x|^2
    >>> opt.x
    array([ 0.8, -1.6])
    """

    name = "sgd"

    def __init__(self, learning_rate: float = 0.01, *, layerwise: bool = False,
                 layer_slices: Sequence[tuple[int, int]] | None = None) -> None:
        check_positive_float(learning_rate, "learning_rate")
        super().__init__(learning_rate=learning_rate, layerwise=bool(layerwise), layer_slices=layer_slices)

    def _rule(self) -> Chain:
        return Chain(*self._prefix(), Scale(-self._params["learning_rate"]))


class Momentum(GradientOptimizer):
    """Gradient descent with (Nesterov) momentum.

    ``v <- mu v + g``; ``x <- x - lr v`` (heavy ball), or ``x <- x - lr (g + mu v)``
    with ``nesterov=True`` (Sutskever et al. 2013 in the form of Bengio et al. 2013,
    which needs the gradient at the iterate only).

    Parameters
    ----------
    learning_rate : float, default=0.01
    momentum : float, default=0.9
        ``mu`` in ``[0, 1)``.
    nesterov : bool, default=False
    layerwise : bool, default=False
        Normalise each layer's gradient by its own norm first (Yu et al. 2017).
    layer_slices : list of (start, end) or None, default=None
        As for :class:`SGD`.

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.optimizers.gradient import Momentum
    >>> opt = Momentum(learning_rate=0.1, momentum=0.5, nesterov=True)
    >>> opt = opt.initialize(np.array([1.0]), np.random.default_rng(0))
    >>> x = opt.ask(); opt.tell(x, [1.0], 2 * x)   # v = 2, step = -0.1 * (2 + 0.5 * 2)
    >>> opt.x
    array([0.7])
    """

    name = "momentum"

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9, nesterov: bool = False, *,
                 layerwise: bool = False, layer_slices: Sequence[tuple[int, int]] | None = None) -> None:
        check_positive_float(learning_rate, "learning_rate")
        if not 0.0 <= check_positive_float(momentum, "momentum", allow_zero=True) < 1.0:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum!r}")
        super().__init__(learning_rate=learning_rate, momentum=momentum, nesterov=bool(nesterov),
                         layerwise=bool(layerwise), layer_slices=layer_slices)

    def _rule(self) -> Chain:
        p = self._params
        return Chain(*self._prefix(), Trace(p["momentum"], p["nesterov"]), Scale(-p["learning_rate"]))


class Adam(GradientOptimizer):
    """Adam (Kingma & Ba 2015): steps by bias-corrected first over second moment.

    Parameters
    ----------
    learning_rate : float, default=0.001
    beta1, beta2 : float, default=0.9, 0.999
        Decay rates of the first and second moment estimates, in ``[0, 1)``.
    eps : float, default=1e-8
    layerwise : bool, default=False
        Normalise each layer's gradient by its own norm first (Yu et al. 2017).
    layer_slices : list of (start, end) or None, default=None
        As for :class:`SGD`.

    Notes
    -----
    A fit keeps ``learning_rate=0.001``. On digits (X/16), the 10x32 sigmoid net from the
    ``"auto"`` start, minibatches of 256, 1e7 evaluations gave a test accuracy of 97.1 %
    (0.001), 97.3 % (0.003) and 97.3 % (0.01): no reason to leave Kingma & Ba's value.

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.optimizers.gradient import Adam
    >>> opt = Adam(learning_rate=0.1).initialize(np.array([1.0, -3.0]), np.random.default_rng(0))
    >>> x = opt.ask(); opt.tell(x, [10.0], 2 * x)  # the first step is lr * sign(g)
    >>> opt.x.round(6)
    array([ 0.9, -2.9])
    """

    name = "adam"

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, *, layerwise: bool = False,
                 layer_slices: Sequence[tuple[int, int]] | None = None) -> None:
        check_positive_float(learning_rate, "learning_rate")
        for name, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= check_positive_float(b, name, allow_zero=True) < 1.0:
                raise ValueError(f"{name} must lie in [0, 1), got {b!r}")
        check_positive_float(eps, "eps")
        super().__init__(learning_rate=learning_rate, beta1=beta1, beta2=beta2, eps=eps,
                         layerwise=bool(layerwise), layer_slices=layer_slices)

    def _rule(self) -> Chain:
        p = self._params
        return Chain(*self._prefix(), ScaleByAdam(p["beta1"], p["beta2"], p["eps"]), Scale(-p["learning_rate"]))
