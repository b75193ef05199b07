"""Hidden-unit activations for the Numba kernels: value and derivative side by side.

Every activation is ``a * f(b z)`` (see :mod:`evoneuro.network.activations`), named by its
code (:data:`~._jit.ACT_CODES`). Each function here works on a flat array, with one loop
per activation code outside the element loop, so every loop body is branch-free and LLVM
vectorises it.

float64 uses the NumPy reference's formulas (sigmoid as ``0.5 + 0.5 tanh(u/2)``, the
derivatives from ``y``) on :func:`_exp_f64`, an ``exp``/``expm1`` written out in
vectorisable arithmetic like the float32 one (a libm call per element cannot be
vectorised, and would take most of a float64 sigmoid net's time); it is within a few ulps
of libm, so the two backends agree to rounding.

float32 has no vectorised libm here (no SVML), so ``sigmoid``, ``tanh`` and ``gaussian``
use :func:`_exp_f32`, an ``exp`` written out in vectorisable arithmetic. Written through
``t = exp(-|u|)`` the functions *saturate exactly*: ``tanh`` is exactly +-1 once
``1 - tanh`` is below half a float32 ulp, and the derivatives ``4t/(1+t)^2`` and
``t/(1+t)^2`` are computed from ``u``, not from ``1 - y^2``, so they stay accurate to a few
ulps however small and are exactly 0 where ``t`` leaves float32's normal range
(|u| > 43.5 for tanh, 87 for sigmoid). A derivative formed from a rounded ``y`` near 1
is a few ulps of garbage that huge inputs or weights multiply into wrong gradients.

In gradient mode (:func:`activate_grad`) the forward pass stores each unit's derivative
``a b f'(b z)`` in place of ``z``; the backward pass only multiplies by it.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from evoneuro.backends.numba._jit import (
    GAUSSIAN,
    GAUSSIAN_F32,
    INNER,
    OPTS,
    RELU,
    SIGMOID,
    SIGMOID_F32,
    SOFTSIGN,
    TANH,
    TANH_F32,
)
from evoneuro.backends.numba.intrinsics import f32_from_bits, f64_from_bits

_LOG2E = np.float32(1.44269504088896341)
_LN2_HI = np.float32(0.693359375)  # 9 significant bits: n * _LN2_HI is exact
_LN2_LO = np.float32(-2.12194440e-4)
_X_MIN = np.float32(-87.0)  # exp(x) below this is under float32's smallest normal: 0
_ONE = np.float32(1.0)
_TWO = np.float32(2.0)
_HALF = np.float32(0.5)


@njit(inline="always", **OPTS)
def _exp_f32(x):
    """``(exp(x), expm1(x))`` for float32 ``x <= 0``; ``(0, -1)`` below -87, NaN stays NaN.

    Cody-Waite reduction ``x = n ln2 + r``, ``|r| <= ln2/2``, a degree-7 Taylor polynomial
    for ``expm1(r)`` (truncation < 2e-8 relative), and ``2**n`` from its exponent bits.
    ``expm1`` is ``(2**n - 1) + 2**n q``: no cancellation near 0, where tanh needs it.
    """
    xc = x if x > _X_MIN else _X_MIN
    n = np.floor(xc * _LOG2E + _HALF)
    r = (xc - n * _LN2_HI) - n * _LN2_LO
    q = np.float32(1 / 5040)
    q = q * r + np.float32(1 / 720)
    q = q * r + np.float32(1 / 120)
    q = q * r + np.float32(1 / 24)
    q = q * r + np.float32(1 / 6)
    q = q * r + _HALF
    q = (q * r) * r + r
    s = f32_from_bits((np.int32(n) + 127) << 23)
    t = s * q + s
    em1 = s * q + (s - _ONE)
    if x < _X_MIN:
        t = np.float32(0.0)
        em1 = -_ONE
    if x != x:
        t = x
        em1 = x
    return t, em1


_X_MIN_F64 = -708.0  # exp(x) below this is under float64's smallest normal: 0
_LN2_HI_F64 = 6.93147180369123816490e-01  # fdlibm's split of ln 2: n * hi is exact
_LN2_LO_F64 = 1.90821492927058770002e-10
_LOG2E_F64 = 1.44269504088896338700e+00


@njit(inline="always", **OPTS)
def _exp_f64(x):
    """``(exp(x), expm1(x))`` for float64 ``x <= 0``; ``(0, -1)`` below -708, NaN stays NaN.

    Cody-Waite reduction ``x = n ln2 + r``, ``|r| <= ln2/2``, the degree-13 Taylor
    polynomial of ``expm1(r)`` (truncation below 2e-17 relative), ``2**n`` from its
    exponent bits; ``expm1 = (2**n - 1) + 2**n q`` as in :func:`_exp_f32`.
    """
    xc = x if x > _X_MIN_F64 else _X_MIN_F64
    n = np.floor(xc * _LOG2E_F64 + 0.5)
    r = (xc - n * _LN2_HI_F64) - n * _LN2_LO_F64
    q = 1.0 / 6227020800.0
    q = q * r + 1.0 / 479001600.0
    q = q * r + 1.0 / 39916800.0
    q = q * r + 1.0 / 3628800.0
    q = q * r + 1.0 / 362880.0
    q = q * r + 1.0 / 40320.0
    q = q * r + 1.0 / 5040.0
    q = q * r + 1.0 / 720.0
    q = q * r + 1.0 / 120.0
    q = q * r + 1.0 / 24.0
    q = q * r + 1.0 / 6.0
    q = q * r + 0.5
    q = (q * r) * r + r
    s = f64_from_bits((np.int64(n) + 1023) << 52)
    t = s * q + s
    em1 = s * q + (s - 1.0)
    if x < _X_MIN_F64:
        t = 0.0
        em1 = -1.0
    if x != x:
        t = x
        em1 = x
    return t, em1


def exp_nonpositive(x):
    """``exp(x)`` for ``x <= 0`` in vectorisable arithmetic (:func:`_exp_f32` or
    :func:`_exp_f64` by ``x``'s type); for the softmax of the loss tiles."""
    return np.exp(x)


@overload(exp_nonpositive, jit_options=OPTS)
def _exp_nonpositive(x):
    if x == types.float32:
        return lambda x: _exp_f32(x)[0]
    return lambda x: _exp_f64(x)[0]


@njit(inline="always", **OPTS)
def _tanh_f64(u):
    """float64 ``tanh(u)`` from ``expm1(-2|u|)``: exactly +-1 once it rounds there."""
    _, em1 = _exp_f64(-2.0 * abs(u))
    y = -em1 / (2.0 + em1)
    return y if u >= 0 else -y


@njit(**OPTS)
def tanh_f64(x):
    """float64 ``tanh`` of a flat array, as the kernels compute it (for tests)."""
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = _tanh_f64(x[i])
    return out


@njit(**OPTS)
def exp_f64(x):
    """float64 ``exp`` of a flat array of values <= 0, as the kernels compute it (for tests)."""
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = _exp_f64(x[i])[0]
    return out


@njit(inline="always", **OPTS)
def _tanh_f32(u):
    """``(tanh(u), 1 - tanh(u)^2)``, both from ``t = exp(-2|u|)``: exact +-1 and 0 at saturation."""
    t, em1 = _exp_f32(-_TWO * abs(u))
    inv = _ONE / (_TWO + em1)  # 1 / (1 + t)
    y = -em1 * inv
    y = y if u >= 0 else -y
    return y, np.float32(4.0) * t * inv * inv


@njit(inline="always", **OPTS)
def _sigmoid_f32(u):
    """``(sigmoid(u), sigmoid'(u))`` from ``t = exp(-|u|)``: relative accuracy on both tails."""
    t, _ = _exp_f32(-abs(u))
    inv = _ONE / (_ONE + t)
    y = inv if u >= 0 else t * inv
    return y, t * inv * inv


@njit(**OPTS)
def tanh_f32(x):
    """float32 ``tanh`` of a flat array, as the kernels compute it (for tests)."""
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = _tanh_f32(x[i])[0]
    return out


# --- forward: z = a f(b z) in place -----------------------------------------------------
# Each dtype compiles the formulas it uses only (float32 sigmoid, tanh and gaussian have
# codes of their own, see :func:`~._jit.act_code`): the other dtype's loops would double the
# compile time of every kernel. A code of the other dtype's family gets this dtype's formula.


def activate(z, code, a, b):
    """``z = a f(b z)`` in place, over a flat array (compiled code only)."""
    raise TypeError("activate runs in compiled code only")


@overload(activate, jit_options={**OPTS, **INNER})
def _activate(z, code, a, b):
    return _activate_f32 if z.dtype == types.float32 else _activate_f64


def _activate_f32(z, code, a, b):
    m = z.shape[0]
    if code == SIGMOID_F32 or code == SIGMOID:
        for i in range(m):
            z[i] = a * _sigmoid_f32(b * z[i])[0]
    elif code == TANH_F32 or code == TANH:
        for i in range(m):
            z[i] = a * _tanh_f32(b * z[i])[0]
    elif code == GAUSSIAN_F32 or code == GAUSSIAN:
        for i in range(m):
            u = b * z[i]
            z[i] = a * _exp_f32(-(u * u))[0]
    else:
        _activate_plain(z, code, a, b)


def _activate_f64(z, code, a, b):
    m = z.shape[0]
    if code == SIGMOID or code == SIGMOID_F32:
        for i in range(m):
            z[i] = a * (0.5 + 0.5 * _tanh_f64(0.5 * (b * z[i])))
    elif code == TANH or code == TANH_F32:
        for i in range(m):
            z[i] = a * _tanh_f64(b * z[i])
    elif code == GAUSSIAN or code == GAUSSIAN_F32:
        for i in range(m):
            u = b * z[i]
            z[i] = a * _exp_f64(-(u * u))[0]
    else:
        _activate_plain(z, code, a, b)


@njit(inline="always", **OPTS)
def _activate_plain(z, code, a, b):
    """The activations without ``exp``: softsign, relu, identity (both dtypes)."""
    m = z.shape[0]
    if code == SOFTSIGN:
        for i in range(m):
            u = b * z[i]
            z[i] = a * (u / (1.0 + abs(u)))
    elif code == RELU:
        for i in range(m):
            z[i] = a * max(b * z[i], 0.0)
    else:
        for i in range(m):
            z[i] = a * (b * z[i])


# --- gradient mode: h = a f(b z), z := a b f'(b z) --------------------------------------


def activate_grad(z, h, code, a, b):
    """``h = a f(b z)`` and ``z`` overwritten by the derivative ``a b f'(b z)`` (flat arrays;
    compiled code only).

    float64 derivatives follow the NumPy reference (from ``y`` for sigmoid and tanh);
    float32 ones come from ``u`` (see the module docstring).
    """
    raise TypeError("activate_grad runs in compiled code only")


@overload(activate_grad, jit_options={**OPTS, **INNER})
def _activate_grad(z, h, code, a, b):
    return _activate_grad_f32 if z.dtype == types.float32 else _activate_grad_f64


def _activate_grad_f32(z, h, code, a, b):
    m = z.shape[0]
    ab = a * b
    if code == SIGMOID_F32 or code == SIGMOID:
        for i in range(m):
            y, d = _sigmoid_f32(b * z[i])
            h[i] = a * y
            z[i] = ab * d
    elif code == TANH_F32 or code == TANH:
        for i in range(m):
            y, d = _tanh_f32(b * z[i])
            h[i] = a * y
            z[i] = ab * d
    elif code == GAUSSIAN_F32 or code == GAUSSIAN:
        for i in range(m):
            u = b * z[i]
            y = _exp_f32(-(u * u))[0]
            h[i] = a * y
            z[i] = ab * (-2 * u * y)
    else:
        _activate_grad_plain(z, h, code, a, b)


def _activate_grad_f64(z, h, code, a, b):
    m = z.shape[0]
    ab = a * b
    one = a / a  # 1 in the array dtype
    if code == SIGMOID or code == SIGMOID_F32:
        for i in range(m):
            fy = 0.5 + 0.5 * _tanh_f64(0.5 * (b * z[i]))
            y = a * fy
            fy = y / a
            h[i] = y
            z[i] = ab * (fy * (one - fy))
    elif code == TANH or code == TANH_F32:
        for i in range(m):
            y = a * _tanh_f64(b * z[i])
            fy = y / a
            h[i] = y
            z[i] = ab * (one - fy * fy)
    elif code == GAUSSIAN or code == GAUSSIAN_F32:
        for i in range(m):
            u = b * z[i]
            y = _exp_f64(-(u * u))[0]
            h[i] = a * y
            z[i] = ab * (-2 * u * y)
    else:
        _activate_grad_plain(z, h, code, a, b)


@njit(inline="always", **OPTS)
def _activate_grad_plain(z, h, code, a, b):
    """Softsign, relu and identity with their derivatives (both dtypes)."""
    m = z.shape[0]
    ab = a * b
    one = a / a  # 1 in the array dtype: a Python literal would promote float32 to float64
    if code == SOFTSIGN:
        for i in range(m):
            u = b * z[i]
            q = one + abs(u)
            h[i] = a * (u / q)
            z[i] = ab / (q * q)
    elif code == RELU:
        for i in range(m):
            u = b * z[i]
            h[i] = a * max(u, 0.0)
            z[i] = ab if u > 0 else 0 * ab
    else:
        for i in range(m):
            h[i] = a * (b * z[i])
            z[i] = ab


@njit(**OPTS, **INNER)
def multiply(d, g):
    """``d *= g`` elementwise (flat arrays): the chain rule through stored derivatives."""
    for i in range(d.shape[0]):
        d[i] *= g[i]
