"""Hidden-unit activations, each value written next to its derivative.

Every activation is a base function ``f`` used in the scaled form ``a * f(b * z)``
(LeCun's ``1.7159 * tanh(2z/3)``, ``tanh(n x)``, ``a * sigmoid(z)``). The functions
take an array module ``xp`` so the same code runs under NumPy and CuPy.

A derivative is computed from ``u = b * z`` *and* ``y = f(u)``: the forward pass already
holds ``y``, which makes sigmoid's and tanh's derivatives one multiply-add each.
Every derivative is checked against finite differences in float64 in
``tests/test_activations.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence, Union

import numpy as np

ArrayFn = Callable[..., Any]


# --- base functions: value f(u) and derivative f'(u) given (u, y = f(u)) ------------


def _sigmoid(u, xp):
    # 1 / (1 + exp(-u)) written through tanh: no overflow warning for large |u|.
    y = xp.tanh(u * 0.5)
    y *= 0.5
    y += 0.5
    return y


def _sigmoid_d(u, y, xp):
    return y * (1.0 - y)


def _tanh(u, xp):
    return xp.tanh(u)


def _tanh_d(u, y, xp):
    return 1.0 - y * y


def _softsign(u, xp):
    return u / (1.0 + xp.abs(u))


def _softsign_d(u, y, xp):
    r = 1.0 / (1.0 + xp.abs(u))  # squared after the division: (1+|u|)^2 overflows first
    return r * r


def _gaussian(u, xp):
    return xp.exp(-(u * u))


def _gaussian_d(u, y, xp):
    return -2.0 * u * y


def _identity(u, xp):
    return u.copy()


def _identity_d(u, y, xp):
    return xp.ones_like(u)


def _relu(u, xp):
    return xp.maximum(u, 0.0)


def _relu_d(u, y, xp):
    return (u > 0).astype(u.dtype)


@dataclass(frozen=True)
class _Base:
    fn: ArrayFn
    deriv: ArrayFn
    max_deriv: float  # sup_u |f'(u)|, used to call a unit "saturated"
    # The spread of pre-activations the data-dependent start gives a unit of this kind
    # (evoneuro.training.lsuv.data_init). Sigmoid 1.0: the headline measurement (10x32 on
    # digits). Tanh 0.3: benchmarks/defaults_suite.py's tasks of 6 and 30 tanh layers, where
    # 1.0 (tanh's curve at the place of sigmoid's 2.0) made rough functions that generalise
    # worse (hastie 0.80 -> 0.94, classes-10 0.50 -> 0.64, digits 30x32 0.58 -> 0.96 with
    # Adam; docs/guide/estimators.md). The other kinds keep 1.0, unmeasured.
    start_std: float = 1.0


_BASES: dict[str, _Base] = {
    "sigmoid": _Base(_sigmoid, _sigmoid_d, 0.25),
    "tanh": _Base(_tanh, _tanh_d, 1.0, start_std=0.3),
    "softsign": _Base(_softsign, _softsign_d, 1.0),
    # |d/du exp(-u^2)| = 2|u|exp(-u^2), largest at |u| = 1/sqrt(2).
    "gaussian": _Base(_gaussian, _gaussian_d, math.sqrt(2.0) * math.exp(-0.5)),
    "identity": _Base(_identity, _identity_d, 1.0),
    "relu": _Base(_relu, _relu_d, 1.0),
}

# Named scaled forms: name -> (base, a, b).
_ALIASES: dict[str, tuple[str, float, float]] = {
    "logistic": ("sigmoid", 1.0, 1.0),  # scikit-learn's name
    "lecun_tanh": ("tanh", 1.7159, 2.0 / 3.0),  # LeCun et al. 1998, "Efficient BackProp"
}

ACTIVATIONS: tuple[str, ...] = tuple(_BASES) + tuple(_ALIASES)


@dataclass(frozen=True)
class Activation:
    """A hidden-unit activation ``a * f(b * z)``.

    Parameters
    ----------
    name : str
        Base function: ``"sigmoid"``, ``"tanh"``, ``"softsign"``, ``"gaussian"``
        (``exp(-z**2)``), ``"identity"`` or ``"relu"`` (a baseline only).
    scale : float, default=1.0
        Output scale ``a``.
    slope : float, default=1.0
        Input slope ``b``.

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.network.activations import Activation
    >>> act = Activation("tanh", 1.7159, 2 / 3)
    >>> z = np.array([0.0, 1.0])
    >>> y = act(z)
    >>> np.round(act.derivative(z, y), 4)
    array([1.1439, 0.7554])
    """

    name: str
    scale: float = 1.0
    slope: float = 1.0

    def __post_init__(self) -> None:
        if self.name not in _BASES:
            raise ValueError(
                f"activation name must be one of {sorted(_BASES)}, got {self.name!r}"
            )
        for arg in ("scale", "slope"):
            v = getattr(self, arg)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
                raise TypeError(f"activation {arg} must be a real number, got {v!r}")
            if not math.isfinite(v) or v == 0:
                raise ValueError(f"activation {arg} must be finite and non-zero, got {v!r}")
        object.__setattr__(self, "scale", float(self.scale))
        object.__setattr__(self, "slope", float(self.slope))

    @property
    def start_std(self) -> float:
        """The spread of pre-activations ``z`` the data-dependent start gives this unit
        (the base's, divided by the input slope ``b``)."""
        return _BASES[self.name].start_std / abs(self.slope)

    @property
    def max_derivative(self) -> float:
        """Largest ``|d/dz a f(b z)|`` over all ``z``."""
        return abs(self.scale * self.slope) * _BASES[self.name].max_deriv

    def __call__(self, z, xp=np):
        """Return ``a * f(b * z)``."""
        base = _BASES[self.name]
        u = z * self.slope if self.slope != 1.0 else z
        y = base.fn(u, xp)
        if self.scale != 1.0:
            y *= self.scale
        return y

    def derivative(self, z, y, xp=np):
        """Return ``d/dz a f(b z)`` given the pre-activation ``z`` and ``y = self(z)``."""
        base = _BASES[self.name]
        u = z * self.slope if self.slope != 1.0 else z
        fy = y / self.scale if self.scale != 1.0 else y
        d = base.deriv(u, fy, xp)
        ab = self.scale * self.slope
        if ab != 1.0:
            d *= ab
        return d

    def __str__(self) -> str:
        if self.scale == 1.0 and self.slope == 1.0:
            return self.name
        return f"{self.scale:g}*{self.name}({self.slope:g}z)"


ActivationLike = Union[str, Activation, tuple]


def get_activation(spec: ActivationLike) -> Activation:
    """Turn ``"tanh"``, ``("tanh", a, b)`` or an :class:`Activation` into an Activation.

    Examples
    --------
    >>> from evoneuro.network.activations import get_activation
    >>> str(get_activation(("sigmoid", 4.0)))
    '4*sigmoid(1z)'
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        key = spec.lower()
        if key in _ALIASES:
            base, a, b = _ALIASES[key]
            return Activation(base, a, b)
        if key not in _BASES:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}, a tuple "
                f"(name, scale[, slope]) or an Activation; got {spec!r}"
            )
        return Activation(key)
    if isinstance(spec, tuple) and 1 <= len(spec) <= 3 and isinstance(spec[0], str):
        inner = get_activation(spec[0])
        scale = spec[1] if len(spec) > 1 else 1.0
        slope = spec[2] if len(spec) > 2 else 1.0
        Activation(inner.name, scale, slope)  # validates scale and slope
        return Activation(inner.name, inner.scale * scale, inner.slope * slope)
    raise TypeError(
        "activation must be a name (str), a tuple (name, scale[, slope]) or an "
        f"Activation; got {type(spec).__name__} {spec!r}"
    )


def get_activations(spec: ActivationLike | Sequence[ActivationLike], n_layers: int) -> tuple[Activation, ...]:
    """One activation for every hidden layer, or a list with one per layer."""
    if isinstance(spec, (str, Activation, tuple)):
        try:
            one = get_activation(spec)
        except (TypeError, ValueError):
            if not isinstance(spec, tuple):
                raise
        else:
            return (one,) * n_layers
    if isinstance(spec, (list, tuple)):
        if len(spec) != n_layers:
            raise ValueError(
                f"activation lists one entry per hidden layer: expected {n_layers}, got {len(spec)}"
            )
        return tuple(get_activation(s) for s in spec)
    raise TypeError(
        f"activation must be a name, a tuple, an Activation, or a list of those; got {spec!r}"
    )
