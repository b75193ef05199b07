"""Initialisation at the edge of chaos: the mean-field critical weight variance.

A deep network whose weights are drawn ``W_ij ~ N(0, σ_w²/fan_in)`` and biases
``b_i ~ N(0, σ_b²)`` carries, in the wide limit, a pre-activation variance that follows
``q_l = σ_w² E[φ(√q_{l-1} z)²] + σ_b²`` (``z ~ N(0, 1)``) to a fixed point ``q*``. The
slope ``χ₁ = σ_w² E[φ'(√q* z)²]`` decides what depth does to signals and gradients:
they shrink geometrically for ``χ₁ < 1``, explode for ``χ₁ > 1``; at ``χ₁ = 1`` (the edge
of chaos) both travel through hundreds of saturating layers. :func:`critical_variance`
solves the two conditions jointly for any evoneuro activation; :func:`critical_init`
draws a network there, with Gaussian or orthogonal weights (dynamical isometry).

References
----------
Poole, Lahiri, Raghu, Sohl-Dickstein, Ganguli (2016). Exponential expressivity in deep
neural networks through transient chaos. NeurIPS.
Schoenholz, Gilmer, Ganguli, Sohl-Dickstein (2017). Deep information propagation. ICLR.
Pennington, Schoenholz, Ganguli (2017). Resurrecting the sigmoid in deep learning
through dynamical isometry: theory and practice. NeurIPS.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.polynomial.legendre import leggauss

from evoneuro.network.activations import Activation, ActivationLike, get_activation
from evoneuro.network.init import check_rng, orthogonal as _orthogonal

# critical_init takes any net with ``layers`` and ``activations`` (an MLP); it does not import
# the spec module, which imports this one on demand: no import circle.

_GL_NODES, _GL_WEIGHTS = leggauss(8)


def _quadrature(q: float, slope: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``u`` and weights ``w`` with ``E[g(u)] ≈ w @ g(u)`` for ``u ~ N(0, q)``.

    Composite 8-point Gauss–Legendre on panels of width ``min(√q, 1/|slope|)/2`` over
    ``±10√q``, split at 0: it resolves both the Gaussian (scale ``√q``) and the
    activation (scale ``1/|slope|``), and a kink at 0 (``relu``, ``softsign``) falls on a
    panel edge. Gauss–Hermite in ``z = u/√q`` is not enough here: once ``√q·slope``
    is large, ``φ'(√q z)`` is a spike narrower than its node spacing (for ``sigmoid``
    ``q* ≈ 46``, and 150 or 300 Hermite nodes disagree in the second digit).
    """
    sd = math.sqrt(q)
    width = 0.5 * min(sd, 1.0 / abs(slope))
    n_panels = max(1, math.ceil(10.0 * sd / width))
    edges = np.linspace(0.0, 10.0 * sd, n_panels + 1)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[:-1] + edges[1:])
    u = (mid[:, None] + half[:, None] * _GL_NODES).ravel()
    w = (half[:, None] * _GL_WEIGHTS).ravel() * np.exp(-0.5 * u * u / q) / math.sqrt(2.0 * math.pi * q)
    return np.concatenate([-u[::-1], u]), np.concatenate([w[::-1], w])


def _moments(act: Activation, q: float) -> tuple[float, float]:
    """``E[φ(√q z)²]`` and ``E[φ'(√q z)²]`` for ``z ~ N(0, 1)``."""
    u, w = _quadrature(q, act.slope)
    y = act(u)
    d = act.derivative(u, y)
    return float(w @ (y * y)), float(w @ (d * d))


def critical_variance(
    activation: ActivationLike,
    sigma_b2: float = 0.0,
    *,
    q_bounds: tuple[float, float] = (1e-6, 1e4),
    return_fixed_point: bool = False,
) -> float | tuple[float, float]:
    """The weight variance ``σ_w²`` that puts a deep network at the edge of chaos.

    Solves ``χ₁ = σ_w² E[φ'(√q* z)²] = 1`` together with the variance fixed point
    ``q* = σ_w² E[φ(√q* z)²] + σ_b²``. Eliminating ``σ_w² = 1 / E[φ'²]`` leaves one
    equation in ``q``,

    ``h(q) = E[φ(√q z)²] / E[φ'(√q z)²] + σ_b² − q = 0``,

    whose sign changes on a log grid of ``q`` are refined by Brent's method. The
    expectations use composite Gauss–Legendre quadrature (see ``_quadrature`` for why
    not Gauss–Hermite); they agree with a 150-node Gauss–Hermite rule to 1e-9 for
    ``tanh`` at ``σ_b² = 0.05``.

    Parameters
    ----------
    activation : str, tuple or Activation
        Any evoneuro activation, scaled forms included (``"lecun_tanh"``,
        ``("sigmoid", 4.0)``).
    sigma_b2 : float, default=0.0
        Bias variance ``σ_b²``.
    q_bounds : (float, float), default=(1e-6, 1e4)
        Range searched for the fixed point ``q*``. Below ``1e-6`` round-off in ``h``
        competes with its true value for odd activations (``h ≈ σ_b² − 4q³/3`` for
        ``tanh``).
    return_fixed_point : bool, default=False
        Also return ``q*``.

    Returns
    -------
    sigma_w2 : float
        The critical weight variance (weights are drawn with variance ``σ_w²/fan_in``).
    q_star : float
        The pre-activation variance fixed point (only with ``return_fixed_point``).

    Raises
    ------
    ValueError
        When ``h`` has no root in ``q_bounds``: no critical point exists there.

    Notes
    -----
    Where ``χ₁`` does not depend on ``q`` (positively homogeneous activations:
    ``relu`` gives ``σ_w² = 2``, ``identity`` gives 1) the answer is ``1 / E[φ'²]``
    whatever ``σ_b²``; with ``σ_b² > 0`` their variance then grows linearly with depth
    and ``q*`` is reported as ``inf``. An odd activation with ``σ_b² = 0`` (``tanh``,
    ``softsign``) has ``q* = 0`` and ``σ_w² = 1/φ'(0)²``.

    If several roots exist, the smallest ``q*`` that is a stable fixed point of the
    variance map is returned. Activations with ``φ(0) ≠ 0`` have large ``q*``: the
    constant part of ``φ`` feeds the next layer's variance (``sigmoid``: ``q* ≈ 46``,
    ``σ_w² ≈ 102``; ``tanh`` is the better-conditioned choice).

    Examples
    --------
    >>> from evoneuro.network.critical import critical_variance
    >>> round(critical_variance("tanh", 0.05), 3)
    1.761
    >>> round(critical_variance("relu"), 6)
    2.0
    >>> round(critical_variance("tanh"), 6)
    1.0
    """
    if isinstance(sigma_b2, bool) or not isinstance(sigma_b2, (int, float, np.integer, np.floating)):
        raise TypeError(f"sigma_b2 must be a real number, got {sigma_b2!r}")
    sigma_b2 = float(sigma_b2)
    if not math.isfinite(sigma_b2) or sigma_b2 < 0:
        raise ValueError(f"sigma_b2 must be a finite number >= 0, got {sigma_b2!r}")
    q_lo, q_hi = (float(v) for v in q_bounds)
    if not 0 < q_lo < q_hi < math.inf:
        raise ValueError(f"q_bounds must satisfy 0 < low < high < inf, got {q_bounds!r}")
    s2, q = _solve(get_activation(activation), sigma_b2, q_lo, q_hi)
    return (s2, q) if return_fixed_point else s2


@functools.lru_cache(maxsize=256)
def _solve(act: Activation, sigma_b2: float, q_lo: float, q_hi: float) -> tuple[float, float]:
    """``(σ_w², q*)``; cached, as every layer of a network asks the same question."""
    # chi_1 independent of q (relu, identity): the scale cancels between φ and φ'.
    d_lo, d_hi = _moments(act, 1e-2)[1], _moments(act, 1e2)[1]
    if d_lo > 0 and abs(d_hi - d_lo) <= 1e-10 * d_lo:
        return 1.0 / d_lo, (0.0 if sigma_b2 == 0.0 else math.inf)

    def h(q: float) -> float:
        m2, d2 = _moments(act, q)
        return (m2 / d2 if d2 > 0 else math.inf) + sigma_b2 - q

    from scipy.optimize import brentq  # here, not at the top: scipy.optimize takes seconds to import

    grid = np.geomspace(q_lo, q_hi, 200)
    sign = np.sign([h(q) for q in grid])
    roots = [brentq(h, grid[i], grid[i + 1], xtol=1e-15, rtol=1e-13)
             for i in range(len(grid) - 1) if sign[i] * sign[i + 1] < 0]
    candidates = [(1.0 / _moments(act, q)[1], float(q)) for q in roots]
    stable = [(s2, q) for s2, q in candidates if _variance_map_slope(act, s2, q) < 1.0]
    if stable or candidates:
        return (stable or candidates)[0]

    # No interior root: an odd activation without bias variance sits at q* = 0.
    zero = np.zeros(1)
    phi0 = float(act(zero)[0])
    dphi0 = float(act.derivative(zero, act(zero))[0])
    if sigma_b2 == 0.0 and abs(phi0) < 1e-12 and dphi0 != 0.0 and sign[0] <= 0:
        return 1.0 / dphi0**2, 0.0
    raise ValueError(
        f"no critical point exists for activation {act} with sigma_b2={sigma_b2}: "
        f"E[φ²]/E[φ'²] + σ_b² − q has no root for q in [{q_lo:g}, {q_hi:g}]"
    )


def _variance_map_slope(act: Activation, sigma_w2: float, q: float) -> float:
    """``d/dq [σ_w² E[φ(u)²]]``, ``u ~ N(0, q)``: below 1 means ``q*`` attracts the map."""
    u, w = _quadrature(q, act.slope)
    y = act(u)
    return float(sigma_w2 * (w @ (y * act.derivative(u, y) * u)) / q)


def critical_init(
    net,
    rng=None,
    sigma_b2: float = 0.05,
    orthogonal: bool = False,
    gain: float = 1.0,
) -> np.ndarray:
    """A flat parameter vector drawn at the edge of chaos.

    The weights of layer ``l >= 1`` follow the hidden activation they are fed
    (``net.activations[l-1]``); the first layer uses the first hidden activation's value
    too, as in the papers, so standardised inputs enter near the regime of the rest.

    Parameters
    ----------
    net : MLP
        The network.
    rng : None, int or numpy Generator
        Randomness source.
    sigma_b2 : float, default=0.05
        Bias variance ``σ_b²``; biases are drawn ``N(0, σ_b²)``.
    orthogonal : bool, default=False
        ``False``: ``W_ij ~ N(0, σ_w²/fan_in)``. ``True``: a scaled random orthogonal
        matrix (all singular values equal — dynamical isometry), entries of variance
        ``σ_w²/fan_in`` like the Gaussian draw.
    gain : float, default=1.0
        Multiplies every weight.

    Returns
    -------
    theta : ndarray of shape (n_params,)

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> from evoneuro.network.critical import critical_init
    >>> net = en.MLP(16, (64,) * 4, 2, activation="tanh")
    >>> theta = critical_init(net, np.random.default_rng(0), sigma_b2=0.05)
    >>> W, b = net.unflatten(theta)[1]
    >>> round(float(W.var() * 64), 1)
    1.8
    """
    rng = check_rng(rng)
    if not isinstance(sigma_b2, (int, float, np.integer, np.floating)) or isinstance(sigma_b2, bool):
        raise TypeError(f"sigma_b2 must be a real number, got {sigma_b2!r}")
    acts = net.activations
    variances = [critical_variance(a, sigma_b2) for a in acts]
    theta = np.zeros(net.n_params)
    for l, s in enumerate(net.layers):
        if acts:
            s2 = variances[max(l - 1, 0)]
        else:
            s2 = 1.0  # no hidden layer: LeCun's variance
        if orthogonal:
            # Orthonormal rows/columns have entry variance 1/max(fan_in, fan_out); rescale
            # to σ_w²/fan_in, which keeps every singular value equal.
            scale = math.sqrt(s2 * max(s.fan_in, s.fan_out) / s.fan_in)
            W = scale * _orthogonal(rng, s.fan_in, s.fan_out)
        else:
            W = rng.normal(0.0, math.sqrt(s2 / s.fan_in), size=(s.fan_in, s.fan_out))
        s.weights(theta)[...] = gain * W
        s.bias(theta)[...] = rng.normal(0.0, math.sqrt(sigma_b2), size=s.fan_out)
    return theta
