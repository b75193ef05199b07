"""The Neural Abstraction Pyramid of the reference backend: iterate the levels, BPTT back.

Written once for any NumPy-compatible array module ``xp`` (NumPy, CuPy). States are
channels-last, ``(P, N, H_l, W_l, F_l)`` per level; ``X`` ``(N, H, W, C)`` is shared by every
member. A projection with a ``k x k`` window is one batched product: the window's columns
``(P, N H_o W_o, k k F_in)`` (:func:`_columns`) times the kernel as a ``(P, k k F_in, F_out)``
matrix; its adjoint scatters the columns' gradient back (:func:`_columns_T`). The backward
projection (2 x 2 up-sampling) is four products, one per position in the 2 x 2 block.

Each operation's backward pass is written right after its forward pass. The gradients are
checked against finite differences in float64 in ``tests/test_pyramid.py`` for every
projection, activation and border.
"""

from __future__ import annotations

# --- borders: pad a map by p cells, and the adjoint of that ---------------------------------


def _pad(x, p: int, border: str, xp):
    """``x (..., H, W, F)`` padded by ``p`` cells on each side of both map axes."""
    if p == 0:
        return x
    if border == "zero":
        widths = [(0, 0)] * (x.ndim - 3) + [(p, p), (p, p), (0, 0)]
        return xp.pad(x, widths)
    x = xp.concatenate([x[..., -p:, :, :], x, x[..., :p, :, :]], axis=-3)
    return xp.concatenate([x[..., -p:, :], x, x[..., :p, :]], axis=-2)


def _pad_T(g, p: int, border: str, xp):
    """Adjoint of :func:`_pad`: the gradient of the padded map back onto the map."""
    if p == 0:
        return g
    H, W = g.shape[-3] - 2 * p, g.shape[-2] - 2 * p
    if border == "zero":
        return g[..., p:p + H, p:p + W, :]
    rows = g[..., p:p + H, :, :].copy()
    rows[..., :p, :, :] += g[..., p + H:, :, :]      # the bottom pad copied rows 0..p-1
    rows[..., H - p:, :, :] += g[..., :p, :, :]      # the top pad copied the last p rows
    out = rows[..., p:p + W, :].copy()
    out[..., :p, :] += rows[..., p + W:, :]
    out[..., W - p:, :] += rows[..., :p, :]
    return out


# --- a k x k window with stride s: columns and their adjoint -------------------------------


def _out_size(n: int, proj) -> int:
    return (n + 2 * proj.pad - proj.size) // proj.stride + 1


def _columns(x, proj, border, xp):
    """``x (P, N, H, W, F)`` (or ``(N, H, W, F)``) as window columns ``(..., Ho, Wo, k*k*F)``."""
    xpad = _pad(x, proj.pad, border, xp)
    Ho, Wo = _out_size(x.shape[-3], proj), _out_size(x.shape[-2], proj)
    s, k = proj.stride, proj.size
    cols = [xpad[..., a:a + s * (Ho - 1) + 1:s, c:c + s * (Wo - 1) + 1:s, :] for a in range(k) for c in range(k)]
    stacked = xp.stack(cols, axis=-2)  # (..., Ho, Wo, k*k, F): rows (a, c, i) as the kernel's
    return stacked.reshape(stacked.shape[:-2] + (-1,))


def _columns_T(dcols, proj, border, H: int, W: int, xp):
    """Adjoint of :func:`_columns`: ``(P, N, Ho, Wo, k*k*F)`` back to ``(P, N, H, W, F)``."""
    s, k, p = proj.stride, proj.size, proj.pad
    lead, (Ho, Wo) = dcols.shape[:-3], dcols.shape[-3:-1]
    d = dcols.reshape(lead + (Ho, Wo, k * k, -1))
    g = xp.zeros(lead + (H + 2 * p, W + 2 * p, d.shape[-1]), dtype=dcols.dtype)
    for a in range(k):
        for c in range(k):
            g[..., a:a + s * (Ho - 1) + 1:s, c:c + s * (Wo - 1) + 1:s, :] += d[..., a * k + c, :]
    return _pad_T(g, p, border, xp)


def _window(x, K, proj, border, xp):
    """A windowed projection: ``x (P or none, N, H, W, F_in)`` through kernels ``K (P, k*k*F_in, F_out)``."""
    cols = _columns(x, proj, border, xp)
    lead = cols.shape[:-1]
    flat = cols.reshape((cols.shape[0] if cols.ndim == 5 else 1, -1, cols.shape[-1]))
    out = xp.matmul(flat, K)  # a shared input (no P axis) broadcasts over the members
    return out.reshape((K.shape[0],) + lead[-3:] + (K.shape[-1],))


def _window_T(x, dz, K, GK, proj, border, xp, need_dx: bool):
    """Backward of :func:`_window`: adds ``dL/dK`` into ``GK``; returns ``dL/dx`` (or None)."""
    cols = _columns(x, proj, border, xp)
    P, F_out = dz.shape[0], dz.shape[-1]
    flat_dz = dz.reshape(P, -1, F_out)
    flat_cols = cols.reshape((cols.shape[0] if cols.ndim == 5 else 1, -1, cols.shape[-1]))
    GK += xp.matmul(flat_cols.swapaxes(-1, -2), flat_dz)
    if not need_dx:
        return None
    dcols = xp.matmul(flat_dz, K.swapaxes(-1, -2)).reshape(dz.shape[:-1] + (cols.shape[-1],))
    return _columns_T(dcols, proj, border, x.shape[-3], x.shape[-2], xp)


# --- the backward projection: 2 x 2 up-sampling ---------------------------------------------


def _up(x, K, xp):
    """Coarse ``x (P, N, h, w, F_in)`` to the finer level ``(P, N, 2h, 2w, F_out)``; ``K (P, 2, 2, F_in, F_out)``."""
    P, N, h, w, F_in = x.shape
    F_out = K.shape[-1]
    flat = x.reshape(P, N * h * w, F_in)
    out = xp.empty((P, N, 2 * h, 2 * w, F_out), dtype=x.dtype)
    for a in range(2):
        for c in range(2):
            out[:, :, a::2, c::2, :] = xp.matmul(flat, K[:, a, c]).reshape(P, N, h, w, F_out)
    return out


def _up_T(x, dz, K, GK, xp):
    """Backward of :func:`_up`: adds ``dL/dK`` into ``GK (P, 2, 2, F_in, F_out)``; returns ``dL/dx``."""
    P, N, h, w, F_in = x.shape
    flat = x.reshape(P, N * h * w, F_in)
    dx = xp.zeros_like(flat)
    for a in range(2):
        for c in range(2):
            d = xp.ascontiguousarray(dz[:, :, a::2, c::2, :]).reshape(P, N * h * w, -1)
            GK[:, a, c] += xp.matmul(flat.swapaxes(-1, -2), d)
            dx += xp.matmul(d, K[:, a, c].swapaxes(-1, -2))
    return dx.reshape(x.shape)


# --- units: hidden maps and the output maps of level 0 -------------------------------------


def _activate(net, l, z, xp):
    """States of level ``l`` from its pre-activations (the output maps through ``output``)."""
    s = net.activations[l](z, xp)
    if l == 0:
        K = net.n_outputs
        s[..., :K] = net.output_activation(z[..., :K], xp)
    return s


def _activate_T(net, l, z, s, ds, xp):
    """``dL/dz`` of level ``l`` from ``dL/ds`` (derivatives from ``z`` and ``s``)."""
    d = net.activations[l].derivative(z, s, xp)
    if l == 0:
        K = net.n_outputs
        d[..., :K] = net.output_activation.derivative(z[..., :K], s[..., :K], xp)
    return ds * d


# --- iterating the pyramid ------------------------------------------------------------------


def _input_drive(net, Theta, X, xp):
    """The input projection plus level 0's bias: the same at every iteration ``(P, N, H, W, F_0)``."""
    proj = net.projection(0, "input")
    drive = _window(X, proj.matrix(Theta), proj, net.border, xp)
    drive += net.layers[0].bias(Theta)[:, None, None, None, :]
    return drive


def _step(net, Theta, states, drive, xp):
    """Pre-activations of every level at the next iteration, from the current ``states``."""
    zs = []
    for l, projs in enumerate(net.projections):
        z = drive.copy() if l == 0 else None
        for p in projs:
            if p.name == "input":
                continue
            if p.name == "backward":
                part = _up(states[p.source], p.kernel(Theta)[:, :, :], xp)
            else:
                part = _window(states[p.source], p.matrix(Theta), p, net.border, xp)
            z = part if z is None else z + part
        if l > 0:
            z += net.layers[l].bias(Theta)[:, None, None, None, :]
        zs.append(z)
    return zs


def _iterate(net, Theta, X, xp):
    """States ``s[t][l]`` for ``t = 0..T`` (``s[0]`` zeros) and pre-activations ``z[t][l]`` for ``t = 1..T``."""
    P, N = Theta.shape[0], X.shape[0]
    drive = _input_drive(net, Theta, X, xp)
    states = [[xp.zeros((P, N, h, w, F), dtype=Theta.dtype) for F, (h, w) in zip(net.features, net.resolutions)]]
    pre = []
    for _ in range(net.iterations):
        zs = _step(net, Theta, states[-1], drive, xp)
        pre.append(zs)
        states.append([_activate(net, l, z, xp) for l, z in enumerate(zs)])
    return states, pre


def _outputs(net, states):
    """The output maps at every iteration: a list of ``(P, N, H, W, n_outputs)``, ``t = 1..T``."""
    return [s[0][..., :net.n_outputs] for s in states[1:]]


def forward(xp, net, Theta, X, return_hidden: bool = False, lengths=None):
    """Outputs at the last iteration ``(P, N, H, W, n_outputs)``.

    With ``return_hidden`` also every level's pre-activations at every iteration,
    ``(P, N, T, H_l, W_l, F_l)``, then the output maps at every iteration ``(P, N, T, H, W,
    n_outputs)`` last (their values, for the error-against-iteration curve).
    """
    states, pre = _iterate(net, Theta, X, xp)
    outs = _outputs(net, states)
    if not return_hidden:
        return outs[-1]
    zs = [xp.stack([pre[t][l] for t in range(net.iterations)], axis=2) for l in range(net.levels)]
    return outs[-1], zs + [xp.stack(outs, axis=2)]


def _errors(net, outs, y, xp, need_grad: bool):
    """Loss ``(P,)``: read-weighted mean squared error; with ``need_grad`` ``dL/do`` per iteration."""
    w = net.read_weights
    count = y.size
    loss, grads = 0.0, []
    for t, o in enumerate(outs):
        if w[t] == 0:
            grads.append(None)
            continue
        diff = o - y[None]
        loss = loss + float(w[t]) * (diff * diff).reshape(diff.shape[0], -1).sum(axis=1) / count
        grads.append(diff * (2.0 * float(w[t]) / count) if need_grad else None)
    return loss, grads


def loss(xp, net, Theta, X, y, lengths=None):
    states, _ = _iterate(net, Theta, X, xp)
    return _errors(net, _outputs(net, states), y, xp, need_grad=False)[0]


def loss_and_grad(xp, net, Theta, X, y, lengths=None, on_state=None):
    """Loss ``(P,)`` and gradient ``(P, n_params)`` by backpropagation through the iterations.

    ``on_state(l, t, ds)``, when given, is called for every level ``l`` at every iteration
    ``t`` (1-based, from the last back) with ``ds = ∂L/∂s_l(t)`` ``(P, N, H_l, W_l, F_l)``: the
    gradient with respect to the state the iteration carries (the backward pass's own
    array: copy it to keep it).
    """
    states, pre = _iterate(net, Theta, X, xp)
    loss, d_out = _errors(net, _outputs(net, states), y, xp, need_grad=True)
    G = xp.zeros_like(Theta)
    GK = {(p.level, p.name): p.kernel(G) for projs in net.projections for p in projs}
    T, K = net.iterations, net.n_outputs
    ds = [xp.zeros_like(s) for s in states[-1]]
    d_drive = xp.zeros_like(pre[0][0])
    for t in range(T, 0, -1):
        if d_out[t - 1] is not None:
            ds[0][..., :K] += d_out[t - 1]
        if on_state is not None:
            for l in range(net.levels):
                on_state(l, t, ds[l])
        dz = [_activate_T(net, l, pre[t - 1][l], states[t][l], ds[l], xp) for l in range(net.levels)]
        prev = states[t - 1]
        ds = [xp.zeros_like(s) for s in prev]
        for l, projs in enumerate(net.projections):
            net.layers[l].bias(G)[...] += dz[l].sum(axis=(1, 2, 3))
            for p in projs:
                if p.name == "input":
                    continue
                # s(0) is 0: the first iteration's projections of states add no weight gradient
                if p.name == "backward":
                    ds[p.source] += _up_T(prev[p.source], dz[l], p.kernel(Theta), GK[l, p.name], xp)
                else:
                    M = p.matrix(G)
                    ds[p.source] += _window_T(prev[p.source], dz[l], p.matrix(Theta), M, p, net.border, xp, True)
        d_drive += dz[0]
    p = net.projection(0, "input")
    _window_T(X, d_drive, p.matrix(Theta), p.matrix(G), p, net.border, xp, need_dx=False)
    return loss, G
