"""The compiled cart-pole kernel (imported on first use, so importing evoneuro does not import Numba).

The same operations in the same order as the NumPy reference in :mod:`._dynamics`.
"""

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def deriv_row(s, force, params, out):  # pragma: no cover - compiled
    g, mc, muc, mup = params[0], params[1], params[2], params[3]
    n_poles = (s.shape[0] - 2) // 2
    xdot = s[1]
    num = force - muc * np.sign(xdot)
    den = mc
    out[0] = xdot
    for i in range(n_poles):
        m, l = params[4 + 2 * i], params[5 + 2 * i]
        th, thd = s[2 + 2 * i], s[3 + 2 * i]
        cos, sin = np.cos(th), np.sin(th)
        ml = m * l
        fric = mup * thd / ml
        num = num + (ml * thd * thd * sin + 0.75 * m * cos * (fric + g * sin))
        den = den + m * (1.0 - 0.75 * cos * cos)
    xacc = num / den
    out[1] = xacc
    for i in range(n_poles):
        m, l = params[4 + 2 * i], params[5 + 2 * i]
        th, thd = s[2 + 2 * i], s[3 + 2 * i]
        out[2 + 2 * i] = thd
        out[3 + 2 * i] = -0.75 * (xacc * np.cos(th) + g * np.sin(th) + mup * thd / (m * l)) / l

@numba.njit(cache=True)
def rk4_rows(S, force, active, params, tau, substeps):  # pragma: no cover - compiled
    M, d = S.shape
    k1, k2, k3, k4, tmp = (np.empty(d), np.empty(d), np.empty(d), np.empty(d), np.empty(d))
    h = 0.5 * tau
    sixth = tau / 6.0
    for r in range(M):
        if not active[r]:
            continue
        s = S[r]
        f = force[r]
        for _ in range(substeps):
            deriv_row(s, f, params, k1)
            for j in range(d):
                tmp[j] = s[j] + h * k1[j]
            deriv_row(tmp, f, params, k2)
            for j in range(d):
                tmp[j] = s[j] + h * k2[j]
            deriv_row(tmp, f, params, k3)
            for j in range(d):
                tmp[j] = s[j] + tau * k3[j]
            deriv_row(tmp, f, params, k4)
            for j in range(d):
                s[j] = s[j] + sixth * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j])


@numba.njit(cache=True)
def euler_cartpole_rows(S, actions, active, out_done):  # pragma: no cover - compiled
    """gymnasium's CartPole-v1 step (Euler, 0.02 s) in place for the active rows of ``S`` (M, 4),
    in gymnasium's order of operations; ``out_done`` gets the termination."""
    gravity, masspole, total_mass, length, polemass_length = 9.8, 0.1, 1.1, 0.5, 0.05
    force_mag, tau = 10.0, 0.02
    theta_limit, x_limit = 12 * 2 * np.pi / 360, 2.4
    for r in range(S.shape[0]):
        out_done[r] = False
        if not active[r]:
            continue
        x, x_dot, theta, theta_dot = S[r, 0], S[r, 1], S[r, 2], S[r, 3]
        force = force_mag if actions[r] == 1 else -force_mag
        costheta = np.cos(theta)
        sintheta = np.sin(theta)
        temp = (force + polemass_length * (theta_dot * theta_dot) * sintheta) / total_mass
        thetaacc = (gravity * sintheta - costheta * temp) / (
            length * (4.0 / 3.0 - masspole * (costheta * costheta) / total_mass))
        xacc = temp - polemass_length * thetaacc * costheta / total_mass
        x = x + tau * x_dot
        x_dot = x_dot + tau * xacc
        theta = theta + tau * theta_dot
        theta_dot = theta_dot + tau * thetaacc
        S[r, 0], S[r, 1], S[r, 2], S[r, 3] = x, x_dot, theta, theta_dot
        out_done[r] = x < -x_limit or x > x_limit or theta < -theta_limit or theta > theta_limit
