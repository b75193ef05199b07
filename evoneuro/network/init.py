"""Weight initialisation schemes; biases start at zero.

References
----------
LeCun, Bottou, Orr, Müller (1998). Efficient BackProp. (``standard``, ``lecun``)
Glorot & Bengio (2010). Understanding the difficulty of training deep feedforward
neural networks. AISTATS. (``standard`` is their U[-1/sqrt(n), 1/sqrt(n)]; ``glorot``)
He, Zhang, Ren, Sun (2015). Delving deep into rectifiers. ICCV. (``he``)
Saxe, McClelland, Ganguli (2014). Exact solutions to the nonlinear dynamics of learning
in deep linear networks. ICLR. (``orthogonal``)
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np


def _uniform(limit: float) -> Callable:
    return lambda rng, fi, fo: rng.uniform(-limit, limit, size=(fi, fo))


def _standard(rng, fi, fo):
    return _uniform(1.0 / math.sqrt(fi))(rng, fi, fo)


def _lecun(rng, fi, fo):
    return rng.normal(0.0, math.sqrt(1.0 / fi), size=(fi, fo))


def _lecun_uniform(rng, fi, fo):
    return _uniform(math.sqrt(3.0 / fi))(rng, fi, fo)


def _glorot_uniform(rng, fi, fo):
    return _uniform(math.sqrt(6.0 / (fi + fo)))(rng, fi, fo)


def _glorot_normal(rng, fi, fo):
    return rng.normal(0.0, math.sqrt(2.0 / (fi + fo)), size=(fi, fo))


def _he(rng, fi, fo):
    return rng.normal(0.0, math.sqrt(2.0 / fi), size=(fi, fo))


def _he_uniform(rng, fi, fo):
    return _uniform(math.sqrt(6.0 / fi))(rng, fi, fo)


def orthogonal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """A ``(fan_in, fan_out)`` matrix with orthonormal rows or columns (whichever fit).

    Drawn uniformly (Haar measure) by a sign-corrected QR of a Gaussian matrix.
    """
    big, small = max(fan_in, fan_out), min(fan_in, fan_out)
    a = rng.normal(size=(big, small))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the distribution uniform, not QR-biased
    return q if fan_in >= fan_out else q.T


def _zeros(rng, fi, fo):
    return np.zeros((fi, fo))


INITS: dict[str, Callable] = {
    "standard": _standard,
    "lecun": _lecun,
    "lecun_normal": _lecun,
    "lecun_uniform": _lecun_uniform,
    "glorot": _glorot_uniform,
    "glorot_uniform": _glorot_uniform,
    "xavier": _glorot_uniform,
    "glorot_normal": _glorot_normal,
    "he": _he,
    "he_normal": _he,
    "he_uniform": _he_uniform,
    "orthogonal": orthogonal,
    "zeros": _zeros,
}


def get_init(scheme: str) -> Callable:
    """The weight sampler ``(rng, fan_in, fan_out) -> W`` registered as ``scheme``."""
    if not isinstance(scheme, str):
        raise TypeError(f"init scheme must be a str, one of {sorted(INITS)}; got {scheme!r}")
    try:
        return INITS[scheme.lower()]
    except KeyError:
        raise ValueError(
            f"init scheme must be one of {sorted(INITS) + ['critical', 'critical_orthogonal']} "
            f"(or use evoneuro.lsuv_init(net, X) for LSUV), got {scheme!r}"
        ) from None


def check_rng(random_state) -> np.random.Generator:
    """Turn ``None``, an int seed, a ``Generator`` or a ``RandomState`` into a Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state is not None and random_state < 0:
            raise ValueError(f"random_state must be None, an int >= 0 or a numpy Generator, got {random_state}")
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    raise TypeError(
        "random_state must be None, an int, a numpy Generator or RandomState; "
        f"got {type(random_state).__name__}"
    )
