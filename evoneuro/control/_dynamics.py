"""Cart-pole dynamics: Wieland's equations for one or two poles, integrated by 4th-order Runge-Kutta.

The state of one cart is ``(x, ẋ, θ1, θ̇1[, θ2, θ̇2])``: the cart's position and speed, each
pole's angle from vertical and its angular speed. The equations are those of Wieland
(1991) as the pole-balancing literature implements them (the ESP, NEAT and CoSyNE code
that Gomez, Schmidhuber & Miikkulainen 2008 and Heidrich-Meisner & Igel 2009 build on),
with each pole ``i`` of half-length ``l_i`` and mass ``m_i``:

    ẍ = (F - μ_c sgn(ẋ) + Σ F̃_i) / (M + Σ m̃_i)
    θ̈_i = -3/(4 l_i) (ẍ cos θ_i + g sin θ_i + μ_p θ̇_i / (m_i l_i))
    F̃_i = m_i l_i θ̇_i² sin θ_i + 3/4 m_i cos θ_i (μ_p θ̇_i / (m_i l_i) + g sin θ_i)
    m̃_i = m_i (1 - 3/4 cos² θ_i)

with ``g = -9.8`` (the code's sign). One environment step applies the force for
``substeps`` Runge-Kutta steps of ``tau`` seconds (2 × 0.01 s in the papers).

The float64 NumPy functions here are the reference; :func:`rk4_numba` is the compiled,
in-place version that the environments run over all ``P × E`` carts of a population in
one call. They perform the same operations in the same order (``tests/test_control_dynamics.py``
checks them against each other over 1,000 steps to 1e-10).
"""

from __future__ import annotations

import numpy as np

#: Wieland's constants as the papers' code sets them: gravity (sign as in the code), cart
#: mass, pole masses and half-lengths, cart and pole friction, the force's magnitude.
GRAVITY = -9.8
CART_MASS = 1.0
POLE_MASS = (0.1, 0.01)
HALF_LENGTH = (0.5, 0.05)
CART_FRICTION = 0.0005
POLE_FRICTION = 0.000002
FORCE = 10.0
TAU = 0.01
SUBSTEPS = 2


def derivatives(s: np.ndarray, force: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Time derivative of states ``s`` ``(M, 2 + 2 n_poles)`` under forces ``(M,)`` (NumPy reference).

    ``params`` is ``(g, M, μ_c, μ_p, m_1, l_1[, m_2, l_2])`` as :func:`pack` builds it.
    """
    g, mc, muc, mup = params[0], params[1], params[2], params[3]
    n_poles = (s.shape[1] - 2) // 2
    xdot = s[:, 1]
    num = force - muc * np.sign(xdot)
    den = np.full(len(s), mc)
    out = np.empty_like(s)
    out[:, 0] = xdot
    for i in range(n_poles):
        m, l = params[4 + 2 * i], params[5 + 2 * i]
        th, thd = s[:, 2 + 2 * i], s[:, 3 + 2 * i]
        cos, sin = np.cos(th), np.sin(th)
        ml = m * l
        fric = mup * thd / ml
        num = num + (ml * thd * thd * sin + 0.75 * m * cos * (fric + g * sin))
        den = den + m * (1.0 - 0.75 * cos * cos)
    xacc = num / den
    out[:, 1] = xacc
    for i in range(n_poles):
        m, l = params[4 + 2 * i], params[5 + 2 * i]
        th, thd = s[:, 2 + 2 * i], s[:, 3 + 2 * i]
        out[:, 2 + 2 * i] = thd
        out[:, 3 + 2 * i] = -0.75 * (xacc * np.cos(th) + g * np.sin(th) + mup * thd / (m * l)) / l
    return out


def rk4(s: np.ndarray, force: np.ndarray, params: np.ndarray, tau: float = TAU, substeps: int = SUBSTEPS) -> np.ndarray:
    """``substeps`` classic Runge-Kutta steps of ``tau`` seconds from ``s`` (NumPy reference; new array)."""
    s = np.array(s, dtype=np.float64)
    for _ in range(substeps):
        k1 = derivatives(s, force, params)
        k2 = derivatives(s + (0.5 * tau) * k1, force, params)
        k3 = derivatives(s + (0.5 * tau) * k2, force, params)
        k4 = derivatives(s + tau * k3, force, params)
        s = s + (tau / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return s


def pack(n_poles: int, gravity: float = GRAVITY, cart_mass: float = CART_MASS, pole_mass=POLE_MASS,
         half_length=HALF_LENGTH, cart_friction: float = CART_FRICTION, pole_friction: float = POLE_FRICTION) -> np.ndarray:
    """The physical constants as the flat float64 array the kernels take."""
    p = [gravity, cart_mass, cart_friction, pole_friction]
    for i in range(n_poles):
        p += [pole_mass[i], half_length[i]]
    return np.array(p, dtype=np.float64)


def _compile():
    from evoneuro.control._kernels import rk4_rows

    return rk4_rows


_KERNEL: list = []


def rk4_numba(S, force, active, params, tau=TAU, substeps=SUBSTEPS) -> None:
    """In place: ``substeps`` Runge-Kutta steps of ``tau`` seconds for every row of ``S``
    ``(M, d)`` whose ``active`` is set, under forces ``(M,)``; compiled with Numba (the
    NumPy reference :func:`rk4` where Numba is absent)."""
    if not _KERNEL:
        try:
            _KERNEL.append(_compile())
        except ImportError:  # pragma: no cover - numba is a dependency
            _KERNEL.append(None)
    if _KERNEL[0] is None:  # pragma: no cover
        S[active] = rk4(S[active], force[active], params, tau, substeps)
        return
    _KERNEL[0](S, force, active, params, float(tau), int(substeps))
