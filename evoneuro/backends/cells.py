"""Recurrent cells of the reference backend: one time step, its backward right under it.

Shapes, population axis first: the input part of the pre-activation ``a = x W_i + b`` is
``(P, N, G*H)`` (computed for every step at once by :mod:`.rnn_array`), the state ``h`` and
the LSTM's cell ``c`` are ``(P, N, H)``, ``Wh`` is ``(P, H, G*H)`` (already masked when
self-connections are off). Gates sit side by side on the last axis, in the order of
:data:`evoneuro.network.rnn.GATES`.

``forward(a, h, c, Wh, act, xp) -> (h, c, cache, z)`` returns the new state, the new cell
(None for Elman and GRU), what the backward needs, and the full pre-activation ``z``.
``backward(dh, dc, cache, Wh, GWh, act, xp) -> (dz, dh_prev, dc_prev)`` takes ``dL/dh``
and ``dL/dc`` of the step's outputs, adds the step's ``dL/dWh`` into ``GWh`` and returns
``dL/dz`` (whose sum over steps gives ``dL/db`` and, against the inputs, ``dL/dW_i``) and
the gradients flowing to the previous step. Checked against finite differences in
``tests/test_rnn.py``.

The Elman cell has a second form for ``update="sequential"`` (keys ``"elman-sequential"``):
a Python loop over the units inside the step, meant for the few-unit nets of the classic
papers.
"""

from __future__ import annotations


def _T(a):
    return a.swapaxes(-1, -2)


def _sigmoid(z, xp):
    return 0.5 + 0.5 * xp.tanh(0.5 * z)  # no overflow for large |z|


# --- Elman: h = φ(x W_i + h W_h + b) -----------------------------------------------------


def elman_forward(a, h, c, Wh, act, xp):
    z = a + xp.matmul(h, Wh)
    h_new = act(z, xp)
    return h_new, None, (z, h_new, h), z


def elman_backward(dh, dc, cache, Wh, GWh, act, xp):
    z, y, h = cache
    dz = dh * act.derivative(z, y, xp)
    GWh += xp.matmul(_T(h), dz)
    return dz, xp.matmul(dz, _T(Wh)), None


# --- Elman, units in index order: unit j reads h_new[:j] (this step) and h[j:] (the last) ---


def _lower(Wh, xp):
    """Mask of the rows ``i >= j`` of ``Wh``: the previous step's part (the rest: this step's)."""
    return xp.tril(xp.ones(Wh.shape[-2:], dtype=Wh.dtype))


def elman_sequential_forward(a, h, c, Wh, act, xp):
    z = a + xp.matmul(h, Wh)  # every unit read at the previous step; rows i < j corrected below
    h_new = xp.empty_like(z)
    for j in range(z.shape[-1]):
        if j:  # units i < j have their values of this step by now
            z[..., j:j + 1] += xp.matmul(h_new[..., :j] - h[..., :j], Wh[..., :j, j:j + 1])
        h_new[..., j] = act(z[..., j], xp)
    return h_new, None, (z, h_new, h), z


def elman_sequential_backward(dh, dc, cache, Wh, GWh, act, xp):
    z, y, h = cache
    deriv = act.derivative(z, y, xp)
    dh, dz = dh.copy(), xp.empty_like(dh)
    for j in range(z.shape[-1] - 1, -1, -1):  # unit j's dh is complete once every later unit is done
        dz[..., j] = dh[..., j] * deriv[..., j]
        if j:
            dh[..., :j] += xp.matmul(dz[..., j:j + 1], _T(Wh[..., :j, j:j + 1]))
    lower = _lower(Wh, xp)
    GWh += xp.matmul(_T(h), dz) * lower + xp.matmul(_T(y), dz) * (1.0 - lower)
    return dz, xp.matmul(dz, _T(Wh * lower)), None


# --- LSTM: i, f, o = σ(z_i, z_f, z_o), g = φ(z_g); c = f c + i g; h = o φ(c) ----------------


def lstm_forward(a, h, c, Wh, act, xp):
    H = h.shape[-1]
    z = a + xp.matmul(h, Wh)
    i, f, o = _sigmoid(z[..., :H], xp), _sigmoid(z[..., H:2 * H], xp), _sigmoid(z[..., 3 * H:], xp)
    zg = z[..., 2 * H:3 * H]
    g = act(zg, xp)
    c_new = f * c + i * g
    tc = act(c_new, xp)
    return o * tc, c_new, (i, f, g, o, zg, c, c_new, tc, h), z


def lstm_backward(dh, dc, cache, Wh, GWh, act, xp):
    i, f, g, o, zg, c, c_new, tc, h = cache
    dc = dc + dh * o * act.derivative(c_new, tc, xp)  # through h = o φ(c), plus the next step's
    dz = xp.concatenate([
        dc * g * i * (1.0 - i),                         # input gate
        dc * c * f * (1.0 - f),                         # forget gate
        dc * i * act.derivative(zg, g, xp),             # cell candidate
        dh * tc * o * (1.0 - o),                        # output gate
    ], axis=-1)
    GWh += xp.matmul(_T(h), dz)
    return dz, xp.matmul(dz, _T(Wh)), dc * f


# --- GRU (Cho et al. 2014): r, u = σ(.); n = φ(x W_in + (r h) W_hn + b_n); h = (1-u) n + u h ---


def gru_forward(a, h, c, Wh, act, xp):
    H = h.shape[-1]
    hr = xp.matmul(h, Wh[..., :2 * H])  # the gates see h; the candidate sees r h
    zr, zu = a[..., :H] + hr[..., :H], a[..., H:2 * H] + hr[..., H:]
    r, u = _sigmoid(zr, xp), _sigmoid(zu, xp)
    rh = r * h
    zn = a[..., 2 * H:] + xp.matmul(rh, Wh[..., 2 * H:])
    n = act(zn, xp)
    h_new = n + u * (h - n)
    return h_new, None, (r, u, n, zn, h, rh), xp.concatenate([zr, zu, zn], axis=-1)


def gru_backward(dh, dc, cache, Wh, GWh, act, xp):
    r, u, n, zn, h, rh = cache
    H = h.shape[-1]
    dzn = dh * (1.0 - u) * act.derivative(zn, n, xp)
    drh = xp.matmul(dzn, _T(Wh[..., 2 * H:]))
    dzg = xp.concatenate([drh * h * r * (1.0 - r), dh * (h - n) * u * (1.0 - u)], axis=-1)
    GWh[..., :2 * H] += xp.matmul(_T(h), dzg)
    GWh[..., 2 * H:] += xp.matmul(_T(rh), dzn)
    dh_prev = dh * u + drh * r + xp.matmul(dzg, _T(Wh[..., :2 * H]))
    return xp.concatenate([dzg, dzn], axis=-1), dh_prev, None


FORWARD = {"elman": elman_forward, "lstm": lstm_forward, "gru": gru_forward,
           "elman-sequential": elman_sequential_forward}
BACKWARD = {"elman": elman_backward, "lstm": lstm_backward, "gru": gru_backward,
            "elman-sequential": elman_sequential_backward}
