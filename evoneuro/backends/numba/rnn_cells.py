"""Recurrent cells of the Numba kernels: one step on a tile, its backward right under it.

The same equations as the reference cells (:mod:`evoneuro.backends.cells`), on transposed
tiles ``(units, TILE)`` of one member (:mod:`.rnn_tiles`). ``U`` is the layer's
input ``[x_t; h_{t-1}]`` as one ``(d + H, TILE)`` tile, so one product with the layer's
``(d + H, G H)`` weight block gives every gate. ``w`` is the member's flat parameter
vector, ``off`` where the layer's block starts.

In gradient mode (``grad``) the forward pass writes per step the few coefficients its
backward pass multiplies ``dL/dh`` (and the LSTM's ``dL/dc``) by into ``coef``
``(n_coef H, TILE)``; the activations' derivatives come from
:func:`~.activations.activate_grad` (from the pre-activation in float32: exact 0 where
a unit saturates). Forward functions write the new state into ``hn``; with ``keep`` the
step's pre-activations ``z`` into ``zk``. Backward functions take ``dh`` (``dL/dh_t``,
overwritten by the recurrent part of ``dL/dh_{t-1}``), return ``dL/dz`` in ``dz``, and add
``dL/dx_t`` into ``dxb`` when ``below`` (the layer under it needs it).

The cell functions are compiled only through :func:`cell_forward` and :func:`cell_backward`,
with the cell a constant: every forward function takes the arguments of :func:`cell_forward`
and every backward function those of :func:`cell_backward`, ignoring what its cell does not
use.
"""

from __future__ import annotations

from numba import types
from numba.extending import overload

from evoneuro.backends.numba._jit import INNER, OPTS
from evoneuro.backends.numba.activations import activate, activate_grad
from evoneuro.backends.numba.rnn_tiles import ACC, BIAS, ZERO, matmul_rows
from evoneuro.backends.numba.tiles import I0, I1, TILE, copy_rows


ELMAN, LSTM, GRU = 0, 1, 2
CELLS = {"elman": ELMAN, "lstm": LSTM, "gru": GRU}
GATES = (1, 4, 3)
N_COEF = (1, 6, 5)  # coefficients per unit a step keeps for BPTT


# --- Elman: h = φ(x W_i + h W_h + b) ------------------------------------------------------


def elman_forward(cell, U, U2, d, H, w, off, Z, Y, E, c, hn, coef, grad, code, a, b, sig, keep, zk, zero):
    K = d + H
    z = coef if grad else Z  # in gradient mode z becomes φ'(z) in place: the coefficient
    matmul_rows(U, K, w, off, H, I1, z, H, off + K * H, BIAS)
    if keep:
        copy_rows(z, I0, zk, I0, H)
    if grad:
        activate_grad(z[:H].reshape(H * TILE), hn[:H].reshape(H * TILE), code, a, b)
    else:
        activate(z[:H].reshape(H * TILE), code, a, b)
        copy_rows(z, I0, hn, I0, H)


def elman_backward(cell, dh, dc, coef, dz, E, w, off, d, H, below, dxb, zero):
    for j in range(H):
        for r in range(TILE):
            dz[j, r] = dh[j, r] * coef[j, r]
    matmul_rows(dz, H, w, off + d * H, I1, H, dh, H, I0, ZERO)
    if below:
        matmul_rows(dz, H, w, off, I1, H, dxb, d, I0, ACC)


# --- LSTM: i, f, o = σ(.), g = φ(.); c = f c + i g; h = o φ(c) ------------------------------
# coef rows: A_i = g σ'_i, A_f = c_{t-1} σ'_f, A_g = i φ'_g, A_o = φ(c) σ'_o, B = o φ'(c), F = f


def lstm_forward(cell, U, U2, d, H, w, off, Z, Y, E, c, hn, coef, grad, code, a, b, sig, keep, zk, zero):
    K, GH = d + H, 4 * H
    one = a / a
    matmul_rows(U, K, w, off, GH, I1, Z, GH, off + K * GH, BIAS)
    if keep:
        copy_rows(Z, I0, zk, I0, GH)
    if grad:  # values into Y, derivatives into Z
        activate_grad(Z[:2 * H].reshape(2 * H * TILE), Y[:2 * H].reshape(2 * H * TILE), sig, one, one)
        activate_grad(Z[2 * H:3 * H].reshape(H * TILE), Y[2 * H:3 * H].reshape(H * TILE), code, a, b)
        activate_grad(Z[3 * H:GH].reshape(H * TILE), Y[3 * H:GH].reshape(H * TILE), sig, one, one)
        for j in range(H):
            for r in range(TILE):
                i = Y[j, r]
                f = Y[H + j, r]
                g = Y[2 * H + j, r]
                cp = c[j, r]
                coef[j, r] = g * Z[j, r]
                coef[H + j, r] = cp * Z[H + j, r]
                coef[2 * H + j, r] = i * Z[2 * H + j, r]
                coef[5 * H + j, r] = f
                cn = f * cp + i * g
                c[j, r] = cn
                E[j, r] = cn
        activate_grad(E[:H].reshape(H * TILE), E[H:2 * H].reshape(H * TILE), code, a, b)
        for j in range(H):
            for r in range(TILE):
                o = Y[3 * H + j, r]
                tc = E[H + j, r]
                hn[j, r] = o * tc
                coef[3 * H + j, r] = tc * Z[3 * H + j, r]
                coef[4 * H + j, r] = o * E[j, r]
    else:
        activate(Z[:2 * H].reshape(2 * H * TILE), sig, one, one)
        activate(Z[2 * H:3 * H].reshape(H * TILE), code, a, b)
        activate(Z[3 * H:GH].reshape(H * TILE), sig, one, one)
        for j in range(H):
            for r in range(TILE):
                cn = Z[H + j, r] * c[j, r] + Z[j, r] * Z[2 * H + j, r]
                c[j, r] = cn
                E[j, r] = cn
        activate(E[:H].reshape(H * TILE), code, a, b)
        for j in range(H):
            for r in range(TILE):
                hn[j, r] = Z[3 * H + j, r] * E[j, r]


def lstm_backward(cell, dh, dc, coef, dz, E, w, off, d, H, below, dxb, zero):
    GH = 4 * H
    for j in range(H):
        for r in range(TILE):
            dct = dc[j, r] + dh[j, r] * coef[4 * H + j, r]
            dz[j, r] = dct * coef[j, r]
            dz[H + j, r] = dct * coef[H + j, r]
            dz[2 * H + j, r] = dct * coef[2 * H + j, r]
            dz[3 * H + j, r] = dh[j, r] * coef[3 * H + j, r]
            dc[j, r] = dct * coef[5 * H + j, r]
    matmul_rows(dz, GH, w, off + d * GH, I1, GH, dh, H, I0, ZERO)
    if below:
        matmul_rows(dz, GH, w, off, I1, GH, dxb, d, I0, ACC)


# --- GRU (Cho et al. 2014): r, u = σ(.); n = φ(x W_in + (r h) W_hn + b_n); h = n + u (h - n) ---
# coef rows: C_n = (1 - u) φ'_n, C_r = h σ'_r, C_u = (h - n) σ'_u, u, r. U2 = [x; r h].


def gru_forward(cell, U, U2, d, H, w, off, Z, Y, E, c, hn, coef, grad, code, a, b, sig, keep, zk, zero):
    K, GH = d + H, 3 * H
    one = a / a
    matmul_rows(U, K, w, off, GH, I1, Z, 2 * H, off + K * GH, BIAS)
    if keep:
        copy_rows(Z, I0, zk, I0, 2 * H)
    V = Y if grad else Z  # where the gate values end up
    if grad:
        activate_grad(Z[:2 * H].reshape(2 * H * TILE), Y[:2 * H].reshape(2 * H * TILE), sig, one, one)
    else:
        activate(Z[:2 * H].reshape(2 * H * TILE), sig, one, one)
    copy_rows(U, I0, U2, I0, d)
    for j in range(H):
        for r in range(TILE):
            U2[d + j, r] = V[j, r] * U[d + j, r]
    zn = Z[2 * H:GH]
    matmul_rows(U2, K, w, off + 2 * H, GH, I1, zn, H, off + K * GH + 2 * H, BIAS)
    if keep:
        copy_rows(zn, I0, zk, 2 * H, H)
    if grad:
        activate_grad(zn.reshape(H * TILE), Y[2 * H:GH].reshape(H * TILE), code, a, b)
        for j in range(H):
            for r in range(TILE):
                u = Y[H + j, r]
                n = Y[2 * H + j, r]
                hp = U[d + j, r]
                hn[j, r] = n + u * (hp - n)
                coef[j, r] = (one - u) * Z[2 * H + j, r]
                coef[H + j, r] = hp * Z[j, r]
                coef[2 * H + j, r] = (hp - n) * Z[H + j, r]
                coef[3 * H + j, r] = u
                coef[4 * H + j, r] = Y[j, r]
    else:
        activate(zn.reshape(H * TILE), code, a, b)
        for j in range(H):
            for r in range(TILE):
                n = Z[2 * H + j, r]
                hn[j, r] = n + Z[H + j, r] * (U[d + j, r] - n)


def gru_backward(cell, dh, dc, coef, dz, E, w, off, d, H, below, dxb, zero):
    GH = 3 * H
    dzn = dz[2 * H:GH]
    for j in range(H):
        for r in range(TILE):
            dzn[j, r] = dh[j, r] * coef[j, r]
    matmul_rows(dzn, H, w, off + d * GH + 2 * H, I1, GH, E, H, I0, ZERO)  # dL/d(r h)
    if below:
        matmul_rows(dzn, H, w, off + 2 * H, I1, GH, dxb, d, I0, ACC)
    for j in range(H):
        for r in range(TILE):
            drh = E[j, r]
            dz[j, r] = drh * coef[H + j, r]
            dz[H + j, r] = dh[j, r] * coef[2 * H + j, r]
            dh[j, r] = dh[j, r] * coef[3 * H + j, r] + drh * coef[4 * H + j, r]
    matmul_rows(dz, 2 * H, w, off + d * GH, I1, GH, dh, H, I0, ACC)
    if below:
        matmul_rows(dz, 2 * H, w, off, I1, GH, dxb, d, I0, ACC)


# --- the cell a kernel is compiled for -----------------------------------------------------
# The recurrent kernels hold the cell as a constant (:func:`.rnn_kernels.kernel`): these two
# compile the cell's own functions above in its place, so a kernel holds one cell's code.

_FORWARD = {ELMAN: elman_forward, LSTM: lstm_forward, GRU: gru_forward}
_BACKWARD = {ELMAN: elman_backward, LSTM: lstm_backward, GRU: gru_backward}


def cell_forward(cell, U, U2, d, H, w, off, Z, Y, E, c, hn, coef, grad, code, a, b, sig, keep, zk, zero):
    """One forward step of ``cell`` (:data:`ELMAN`, :data:`LSTM` or :data:`GRU`, a constant of
    the compiled code): :func:`elman_forward`, :func:`lstm_forward` or :func:`gru_forward`."""
    raise TypeError("cell_forward runs in compiled code only")


def cell_backward(cell, dh, dc, coef, dz, E, w, off, d, H, below, dxb, zero):
    """One backward step of ``cell`` (a constant of the compiled code)."""
    raise TypeError("cell_backward runs in compiled code only")


@overload(cell_forward, jit_options={**OPTS, **INNER}, prefer_literal=True)
def _cell_forward(cell, U, U2, d, H, w, off, Z, Y, E, c, hn, coef, grad, code, a, b, sig, keep, zk, zero):
    return _FORWARD[cell.literal_value] if isinstance(cell, types.IntegerLiteral) else None


@overload(cell_backward, jit_options={**OPTS, **INNER}, prefer_literal=True)
def _cell_backward(cell, dh, dc, coef, dz, E, w, off, d, H, below, dxb, zero):
    return _BACKWARD[cell.literal_value] if isinstance(cell, types.IntegerLiteral) else None
