"""The RNN kind of the reference backend: unroll the cells of :mod:`.cells`, BPTT back.

Written once for any NumPy-compatible array module ``xp``. ``X`` is ``(N, T, d)``, shared
by every member; states are ``(P, N, T, H)``. Each layer first projects its whole input
sequence at once (``x W_i + b``: one batched ``matmul`` for all steps), then loops over
time with one ``(P, N, H) @ (P, H, G*H)`` product per step. Backpropagation through time
walks the steps in reverse, collects ``dL/dz`` of every step and turns them into the input
weights' gradient (and the layer below's ``dL/dh``) with one more product.

``lengths`` (N,) masks padding: ``readout="last"`` reads each sequence's state at step
``length - 1``; ``readout="all"`` averages the loss over the valid ``(sequence, step)``
pairs only. Steps after a sequence's end are computed but get no gradient (the
recurrence is causal, so they never influence a valid step).
"""

from __future__ import annotations

from evoneuro.backends.cells import BACKWARD, FORWARD
from evoneuro.network.losses import loss_and_dz, output_fn


def _T(a):
    return a.swapaxes(-1, -2)


def recurrent_matrix(net, l, Theta, xp):
    """``W_h`` of layer ``l`` as the computation uses it: without its diagonal if masked."""
    Wh = net.recurrent_weights(l, Theta)
    mask = net.recurrent_mask(l)
    return Wh if mask is None else Wh * xp.asarray(mask, dtype=Wh.dtype)


def cell_functions(net, table):
    """The cell functions of ``net`` in ``table`` (:data:`.cells.FORWARD` or ``BACKWARD``)."""
    return table[net.cell if net.update == "parallel" else f"{net.cell}-{net.update}"]


def _project(inp, W, xp):
    """``(N, T, d)`` shared or ``(P, N, T, d)`` inputs times ``W (P, d, f)``: ``(P, N, T, f)``."""
    N, T, d = inp.shape[-3:]
    flat = inp.reshape(inp.shape[:-3] + (N * T, d))
    return xp.matmul(flat, W).reshape(W.shape[:1] + (N, T, W.shape[-1]))


def _layer_forward(net, l, Theta, inp, xp, keep: bool, want_z: bool):
    """States ``(P, N, T, H)`` of recurrent layer ``l``, the per-step caches, and its ``z``."""
    A = _project(inp, net.input_weights(l, Theta), xp)
    A += net.layers[l].bias(Theta)[:, None, None, :]
    Wh, act, cell = recurrent_matrix(net, l, Theta, xp), net.activations[l], cell_functions(net, FORWARD)
    P, N, T = A.shape[:3]
    h = xp.zeros((P, N, net.hidden[l]), dtype=A.dtype)  # initial state 0
    c = xp.zeros_like(h)
    hs = xp.empty((P, N, T, net.hidden[l]), dtype=A.dtype)
    zs = xp.empty_like(A) if want_z else None
    caches = []
    for t in range(T):
        h, c, cache, z = cell(A[:, :, t], h, c, Wh, act, xp)
        hs[:, :, t] = h
        if keep:
            caches.append(cache)
        if want_z:
            zs[:, :, t] = z
    return hs, caches, zs


def _unroll(net, Theta, X, xp, keep: bool = False, want_z: bool = False):
    """Every recurrent layer's states, caches and pre-activations, bottom to top."""
    inp, layers = X, []
    for l in range(net.n_recurrent):
        hs, caches, zs = _layer_forward(net, l, Theta, inp, xp, keep, want_z)
        layers.append((inp, hs, caches, zs))
        inp = hs
    return layers


def _last_index(net, X, lengths, xp):
    N, T = X.shape[:2]
    return xp.full(N, T - 1, dtype=xp.int64) if lengths is None else lengths - 1


def _readout(net, Theta, hs, X, lengths, xp):
    """Logits ``(P, M, K)`` and the states they read ``(P, M, H)``: ``M = N`` (last) or ``N T`` (all)."""
    P, N, T, H = hs.shape
    if net.readout == "last":
        # Fancy indexing returns a strided array whose layout depends on P: made contiguous,
        # every reduction sums in the same order however the population is chunked.
        read = xp.ascontiguousarray(hs[:, xp.arange(N), _last_index(net, X, lengths, xp)])
    else:
        read = hs.reshape(P, N * T, H)
    s = net.layers[-1]
    z = xp.matmul(read, s.weights(Theta))
    z += s.bias(Theta)[:, None, :]
    return z, read


def _valid(net, X, lengths, xp):
    """Flat indices of the valid ``(n, t)`` pairs for ``readout="all"``; None if all are."""
    if lengths is None or net.readout == "last":
        return None
    T = X.shape[1]
    return xp.nonzero((xp.arange(T)[None, :] < lengths[:, None]).ravel())[0]


def _loss(net, z, y, valid, xp, need_grad: bool):
    """Mean loss ``(P,)`` over the read steps and, if asked, ``dL/dz`` shaped like ``z``."""
    y = y.reshape((z.shape[1],) + y.shape[2:]) if net.readout == "all" else y
    if valid is None:
        return loss_and_dz(net.output, z, y, xp, need_grad)
    loss, g = loss_and_dz(net.output, xp.take(z, valid, axis=1), y[valid], xp, need_grad)
    if not need_grad:
        return loss, None
    dz = xp.zeros_like(z)
    dz[:, valid] = g
    return loss, dz


def _check_steps(net, X, y):
    if net.readout == "all" and y.shape[1] != X.shape[1]:
        raise ValueError(f"y has {y.shape[1]} steps per sequence but X has {X.shape[1]}")


def forward(xp, net, Theta, X, return_hidden: bool = False, lengths=None):
    """Outputs ``(P, N, K)`` (last) or ``(P, N, T, K)`` (all; padded steps' values are meaningless).

    With ``return_hidden`` also every recurrent layer's pre-activations ``(P, N, T, G*H)``
    and the readout's logits, last.
    """
    layers = _unroll(net, Theta, X, xp, want_z=return_hidden)
    z, _ = _readout(net, Theta, layers[-1][1], X, lengths, xp)
    if net.readout == "all":
        z = z.reshape(z.shape[:1] + X.shape[:2] + z.shape[-1:])
    out = output_fn(net.output, z, xp)
    return (out, [zs for *_, zs in layers] + [z]) if return_hidden else out


def loss(xp, net, Theta, X, y, lengths=None):
    _check_steps(net, X, y)
    z, _ = _readout(net, Theta, _unroll(net, Theta, X, xp)[-1][1], X, lengths, xp)
    return _loss(net, z, y, _valid(net, X, lengths, xp), xp, need_grad=False)[0]


def loss_and_grad(xp, net, Theta, X, y, lengths=None, on_state=None):
    """Loss ``(P,)`` and gradient ``(P, n_params)`` by BPTT.

    ``on_state(l, t, dh, dc)``, when given, is called in the backward pass of recurrent
    layer ``l`` at every step ``t`` (from the last step back) with ``dh = ∂L/∂h_t`` and
    ``dc = ∂L/∂c_t``, both ``(P, N, H)``: the gradient with respect to the state the
    recurrence carries from step ``t`` to ``t + 1`` (for the LSTM the pair ``(h_t, c_t)``,
    each taken with the other held fixed). ``dc`` is meaningless for cells without a cell
    state. The arrays are the backward pass's own: copy them to keep them.
    """
    _check_steps(net, X, y)
    layers = _unroll(net, Theta, X, xp, keep=True)
    hs = layers[-1][1]
    P, N, T, H = hs.shape
    z, read = _readout(net, Theta, hs, X, lengths, xp)
    loss, dz = _loss(net, z, y, _valid(net, X, lengths, xp), xp, need_grad=True)
    G = xp.empty_like(Theta)
    s = net.layers[-1]
    s.weights(G)[...] = xp.matmul(_T(read), dz)
    s.bias(G)[...] = dz.sum(axis=1)
    d_read = xp.matmul(dz, _T(s.weights(Theta)))
    if net.readout == "last":  # only the read step of each sequence gets dL/dh from the loss
        dhs = xp.zeros_like(hs)
        dhs[:, xp.arange(N), _last_index(net, X, lengths, xp)] = d_read
    else:
        dhs = d_read.reshape(P, N, T, H)
    for l in range(net.n_recurrent - 1, -1, -1):
        inp, _, caches, _ = layers[l]
        dhs = _layer_backward(net, l, Theta, inp, caches, dhs, G, xp, need_dinp=l > 0, on_state=on_state)
    return loss, G


def _layer_backward(net, l, Theta, inp, caches, dhs, G, xp, need_dinp: bool, on_state=None):
    """BPTT through layer ``l`` given ``dL/dh`` from above at every step; its gradients into ``G``.

    Returns ``dL/d(input)`` ``(P, N, T, d)`` for the layer below (None for the first).
    """
    Wh, act, cell = recurrent_matrix(net, l, Theta, xp), net.activations[l], cell_functions(net, BACKWARD)
    P, N, T, H = dhs.shape
    GWh = xp.zeros_like(Wh)
    dZ = xp.empty((P, N, T, Wh.shape[-1]), dtype=dhs.dtype)
    dh = xp.zeros((P, N, H), dtype=dhs.dtype)
    dc = xp.zeros_like(dh)
    for t in range(T - 1, -1, -1):
        dh = dh + dhs[:, :, t]  # ∂L/∂h_t: through the next steps and read directly at t
        if on_state is not None:
            on_state(l, t, dh, dc)
        dZ[:, :, t], dh, dc = cell(dh, dc, caches[t], Wh, GWh, act, xp)
    mask = net.recurrent_mask(l)
    if mask is not None:  # the masked diagonal has no effect, hence zero gradient
        GWh *= xp.asarray(mask, dtype=GWh.dtype)
    d = inp.shape[-1]
    flat_in = inp.reshape(inp.shape[:-3] + (N * T, d))
    flat_dz = dZ.reshape(P, N * T, -1)
    net.input_weights(l, G)[...] = xp.matmul(_T(flat_in), flat_dz)
    net.recurrent_weights(l, G)[...] = GWh
    net.layers[l].bias(G)[...] = flat_dz.sum(axis=1)
    if not need_dinp:
        return None
    return xp.matmul(flat_dz, _T(net.input_weights(l, Theta))).reshape(P, N, T, d)
