"""Layer kinds of the reference backend, each backward pass right under its forward pass.

Shapes: the layer input ``h`` is ``(N, fan_in)`` for the first layer (shared by every
member) and ``(P, N, fan_in)`` after it; pre-activations ``z`` are ``(P, N, fan_out)``.
``forward(s, Theta, h, xp) -> (z, cache)``; ``backward(s, Theta, h, g, cache, G, xp,
need_dh) -> dL/dh`` writes the layer's parameter gradients into ``G`` (views of the
gradient matrix) and receives ``g = dL/dz`` — except ``rbf``, which receives ``dL/dr``
for its squared scaled distance ``r = z²`` (see :func:`pre_grad`).
Every kind is checked against finite differences in ``tests/test_architectures.py``.
"""

from __future__ import annotations

LN_EPS = 1e-5


def _T(a):
    return a.swapaxes(-1, -2)


# --- dense: z = h W + b -----------------------------------------------------------------


def dense_forward(s, Theta, h, xp):
    z = xp.matmul(h, s.weights(Theta))  # (N,d)@(P,d,f) broadcasts the shared input
    z += s.bias(Theta)[:, None, :]
    return z, None


def dense_backward(s, Theta, h, g, cache, G, xp, need_dh):
    s.weights(G)[...] = xp.matmul(_T(h), g)
    s.bias(G)[...] = g.sum(axis=1)
    return xp.matmul(g, _T(s.weights(Theta))) if need_dh else None


# --- weightnorm: W = g V / ‖V‖ per unit (Salimans & Kingma 2016) --------------------------


def weightnorm_forward(s, Theta, h, xp):
    V, gain = s.weights(Theta), s.extra(Theta)
    norm = xp.sqrt((V * V).sum(axis=1))  # (P, f)
    W = V * (gain / norm)[:, None, :]
    z = xp.matmul(h, W)
    z += s.bias(Theta)[:, None, :]
    return z, (norm, W)


def weightnorm_backward(s, Theta, h, g, cache, G, xp, need_dh):
    norm, W = cache
    V, gain = s.weights(Theta), s.extra(Theta)
    gW = xp.matmul(_T(h), g)
    # dL/dg = <dL/dW, V>/‖V‖ ;  dL/dV = (g/‖V‖) dL/dW - (g dL/dg / ‖V‖²) V
    g_gain = (gW * V).sum(axis=1) / norm
    s.extra(G)[...] = g_gain
    s.weights(G)[...] = (gain / norm)[:, None, :] * gW - (gain * g_gain / norm**2)[:, None, :] * V
    s.bias(G)[...] = g.sum(axis=1)
    return xp.matmul(g, _T(W)) if need_dh else None


# --- layernorm before the activation: z = γ (a - μ)/sqrt(var + ε) + β, a = h W (Ba et al. 2016)


def layernorm_forward(s, Theta, h, xp):
    a = xp.matmul(h, s.weights(Theta))
    c = a - a.mean(axis=-1, keepdims=True)
    inv = 1.0 / xp.sqrt((c * c).mean(axis=-1, keepdims=True) + LN_EPS)
    ahat = c * inv
    z = ahat * s.extra(Theta)[:, None, :] + s.bias(Theta)[:, None, :]
    return z, (ahat, inv)


def layernorm_backward(s, Theta, h, g, cache, G, xp, need_dh):
    ahat, inv = cache
    s.bias(G)[...] = g.sum(axis=1)  # β
    s.extra(G)[...] = (g * ahat).sum(axis=1)  # γ
    d = g * s.extra(Theta)[:, None, :]
    da = inv * (d - d.mean(axis=-1, keepdims=True) - ahat * (d * ahat).mean(axis=-1, keepdims=True))
    s.weights(G)[...] = xp.matmul(_T(h), da)
    return xp.matmul(da, _T(s.weights(Theta))) if need_dh else None


# --- cosine: z = (h·w + b) / (‖[h, 1]‖ ‖[w, b]‖) (Luo et al. 2018) -------------------------


def cosine_forward(s, Theta, h, xp):
    W, b = s.weights(Theta), s.bias(Theta)
    a = xp.matmul(h, W)
    a += b[:, None, :]
    hn = xp.sqrt((h * h).sum(axis=-1, keepdims=True) + 1.0)  # (N,1) or (P,N,1)
    wn = xp.sqrt((W * W).sum(axis=1) + b * b)  # (P, f)
    z = a / (hn * wn[:, None, :])
    return z, (z, hn, wn)


def cosine_backward(s, Theta, h, g, cache, G, xp, need_dh):
    z, hn, wn = cache
    W, b = s.weights(Theta), s.bias(Theta)
    da = g / (hn * wn[:, None, :])
    g_wn = -(g * z).sum(axis=1) / wn  # dL/d‖[w,b]‖, (P, f)
    s.weights(G)[...] = xp.matmul(_T(h), da) + W * (g_wn / wn)[:, None, :]
    s.bias(G)[...] = da.sum(axis=1) + b * g_wn / wn
    if not need_dh:
        return None
    g_hn = -(g * z).sum(axis=-1, keepdims=True) / hn  # dL/d‖[h,1]‖
    return xp.matmul(da, _T(W)) + g_hn * h / hn


# --- rbf: r = ‖h - c‖² / (2σ²), σ = exp(ρ), output exp(-r); z = sqrt(r) --------------------


def rbf_forward(s, Theta, h, xp):
    C, rho = s.weights(Theta), s.bias(Theta)
    q = (h * h).sum(axis=-1, keepdims=True) - 2.0 * xp.matmul(h, C) + (C * C).sum(axis=1)[:, None, :]
    q = xp.maximum(q, 0.0)  # rounding can push a tiny distance below zero
    s2 = 0.5 * xp.exp(-2.0 * rho)  # 1 / (2σ²), (P, f)
    r = q * s2[:, None, :]
    return xp.sqrt(r), (r, s2)


def rbf_backward(s, Theta, h, g, cache, G, xp, need_dh):
    r, s2 = cache  # g = dL/dr
    C = s.weights(Theta)
    s.bias(G)[...] = -2.0 * (g * r).sum(axis=1)  # dr/dρ = -2r
    dq = g * s2[:, None, :]
    col = dq.sum(axis=1)  # (P, f)
    s.weights(G)[...] = -2.0 * xp.matmul(_T(h), dq) + 2.0 * C * col[:, None, :]
    if not need_dh:
        return None
    return 2.0 * h * dq.sum(axis=-1, keepdims=True) - 2.0 * xp.matmul(dq, _T(C))


def pre_grad(kind, act, dy, z, y, xp):
    """Gradient handed to a layer's backward from ``dL/dy``, ``y = act(z)``.

    ``dL/dz`` for every kind but ``rbf``, whose output is ``exp(-r)`` with ``r = z²``: there
    ``dL/dr = -y dL/dy`` directly, avoiding ``dz/dr = 1/(2z)`` at ``z = 0``.
    """
    if kind == "rbf":
        return -(dy * y)
    return dy * act.derivative(z, y, xp)


FORWARD = {
    "dense": dense_forward,
    "weightnorm": weightnorm_forward,
    "layernorm": layernorm_forward,
    "cosine": cosine_forward,
    "rbf": rbf_forward,
}
BACKWARD = {
    "dense": dense_backward,
    "weightnorm": weightnorm_backward,
    "layernorm": layernorm_backward,
    "cosine": cosine_backward,
    "rbf": rbf_backward,
}
