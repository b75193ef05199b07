"""The recurrent population kernels: a task runs one member over a tile of sequences.

A task is one member ``p`` and one tile of :data:`~.tiles.TILE` sequences
(forward), or one member and one group of tiles (gradient). It copies the member's
parameters once into a local vector (the weights then stay in cache for every step of
every tile; masked self-connections are zeroed there), and loops over time: per step
and layer one product with the ``(d + H, G H)`` weight block, the cell's nonlinearity
fused after it (:mod:`.rnn_cells`). Layers are stepped together, so a stacked net
needs no per-layer state sequence in the forward pass.

Backpropagation through time walks the steps back, layer by layer from the top. The
weight gradients are not summed step by step: each step's ``dL/dz`` goes into a chunk of
:data:`CHUNK` steps, and one long vectorised sum per chunk adds ``inputs x dL/dz`` into
the gradient (:func:`~.rnn_tiles.add_products`). The inputs ``[x_t; h_{t-1}]`` of
every step are kept for that, ``(rows, T + 1, TILE)`` per layer so that a row's steps are
contiguous; slot ``T`` holds the last state (the ``readout="all"`` gradient reads ``h_t``
at slot ``t + 1``).

``lengths``: a tile only runs to its longest sequence (outputs of ``forward`` to ``T``).
``readout="last"`` reads lane ``r``'s state at step ``lengths[r] - 1`` and injects its
gradient there; ``readout="all"`` scores the valid steps only. Steps past a sequence's end
get ``dL/dh = 0``, hence no gradient, as in the reference. Padding lanes of the last tile
have length 0.

:data:`KERNELS` holds one kernel per cell, which :mod:`.pool` runs on every thread (see
:mod:`.mlp_kernels`); it releases the GIL and runs forward tasks (modes :data:`OUT`,
:data:`LOSS`) or gradient tasks (:data:`GRAD`). The cell is a constant of its kernel, and
the forward and gradient tasks share one compiled kernel: a kernel Numba compiles costs
about as much again for every function it calls that is compiled on its own, so one kernel
holding one cell's code compiles in a fraction of the time of three cells in two kernels
(``benchmarks/bench_startup.py``). ``spec`` packs ``(cell, gate sigmoid code, output,
readout_all, self_connections, gates, coefficients per unit)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evoneuro.backends.numba import compiling
from evoneuro.backends.numba._jit import INNER, OPTS
from evoneuro.backends.numba.intrinsics import fetch_add
from evoneuro.backends.numba.rnn_cells import ELMAN, GRU, LSTM, cell_backward, cell_forward
from evoneuro.backends.numba.rnn_tiles import (
    ACC,
    BIAS,
    ZERO,
    add_products,
    matmul_rows,
    readout_loss,
    store_step,
)
from evoneuro.backends.numba.tiles import FALSE, I0, I1, TILE, TRUE, copy_rows


CHUNK = 8  # steps per weight-gradient sum: a chunk's dL/dz of an LSTM(32) layer fits L2
# Modes of the forward pass: logits (and pre-activations), loss rows, or loss rows and the
# histories BPTT reads. Typed, not literals (see tiles.I0): both kernels share one compiled
# forward pass.
OUT, LOSS, GRAD = I0, I1, np.full(1, 2, np.int64)[0]


@njit(**OPTS, **INNER)
def _local_weights(th, w, sizes, offs, spec):
    """``w = th`` with the recurrent diagonals zeroed when self-connections are off."""
    for i in range(th.shape[0]):  # a loop: an array-to-slice copy compiles a formatted shape error, slowly
        w[i] = th[i]
    if spec[4] == 0:
        _zero_diagonals(w, sizes, offs, spec[5])


@njit(**OPTS, **INNER)
def _zero_diagonals(v, sizes, offs, G):
    """Zero ``W_h[j, gate H + j]`` of every layer and gate in a flat parameter vector."""
    for l in range(sizes.shape[0] - 2):
        d, H = sizes[l], sizes[l + 1]
        for q in range(G):
            for j in range(H):
                v[offs[l] + (d + j) * G * H + q * H + j] = 0


@njit(**OPTS, **INNER)
def _buffers(sizes, spec, dtype_one):
    """Per-thread work tiles of the forward pass."""
    L = sizes.shape[0] - 2
    H = sizes[1:L + 1].max()
    K = (sizes[:L] + sizes[1:L + 1]).max()
    GH = spec[5] * H
    dt = dtype_one.dtype
    return (np.zeros((L, K, TILE), dt), np.zeros((GH, TILE), dt), np.zeros((GH, TILE), dt),
            np.zeros((2 * H, TILE), dt), np.zeros((L, H, TILE), dt), np.zeros((K, TILE), dt),
            np.zeros((H, TILE), dt), np.zeros((sizes[L + 1], TILE), dt), np.zeros((GH, TILE), dt),
            np.zeros((H, TILE), dt))


@njit(**OPTS, **INNER)
def _history(sizes, spec, T, grad, dtype_one):
    """Per-thread step histories for BPTT (size-1 placeholders without ``grad``)."""
    L = sizes.shape[0] - 2
    H = sizes[1:L + 1].max()
    K = (sizes[:L] + sizes[1:L + 1]).max()
    Kout = sizes[L + 1]
    dt = dtype_one.dtype
    if not grad:
        return (np.zeros((1, 1, 1, 1), dt), np.zeros((1, 1, 1, 1), dt), np.zeros((1, 1, 1, 1), dt),
                np.zeros((1, Kout, TILE), dt), np.zeros((Kout, TILE), dt))
    L2 = L if spec[0] == GRU else 1
    Tdl = T if spec[3] == 1 else 1
    return (np.zeros((L, K, T + 1, TILE), dt), np.zeros((L2, K, T + 1, TILE), dt),
            np.zeros((L, T, spec[6] * H, TILE), dt), np.zeros((Tdl, Kout, TILE), dt),
            np.zeros((Kout, TILE), dt))


@njit(**OPTS, **INNER)
def _forward_tile(w, X, n0, R, Tr, sizes, offs, codes, ab, spec, y, Y, rows, inv, out, hid,
                  hid_offs, p, lens_t, valid, bufs, hist, keep, mode, cell):
    """Steps ``0..Tr-1`` of lanes ``n0..n0+R``: logits into ``out`` (mode OUT) or loss rows
    into ``rows`` (LOSS; GRAD also the histories and ``dL/dlogits``)."""
    L = sizes.shape[0] - 2
    grad = mode == GRAD
    sig, output, read_all = spec[1], spec[2], spec[3] == 1
    Ht, Kout, oo = sizes[L], sizes[L + 1], offs[L]
    zero = w[0] - w[0]
    Ucur, Z, Yb, E, C, U2, hn, O, zk, hlast = bufs
    Uh, U2h, Ch, Dlog, dlast = hist
    Ucur[:] = 0
    C[:] = 0
    hlast[:] = 0
    d0 = sizes[0]
    for t in range(Tr):
        for r in range(R):
            for k in range(d0):
                Ucur[0, k, r] = X[n0 + r, t, k]
        for l in range(L):
            d, H = sizes[l], sizes[l + 1]
            U = Ucur[l]
            coef = Ch[l, t] if grad else Z
            code, a, b = codes[l], ab[l, 0], ab[l, 1]
            cell_forward(cell, U, U2, d, H, w, offs[l], Z, Yb, E, C[l], hn, coef, grad, code, a, b, sig,
                         keep, zk, zero)
            if grad:
                store_step(U, 0, Uh[l], 0, d + H, t)
                if cell == GRU:
                    store_step(U2, 0, U2h[l], 0, d + H, t)
            if keep:
                for r in range(R):
                    for j in range(spec[5] * H):
                        hid[p, n0 + r, t, hid_offs[l] + j] = zk[j, r]
            copy_rows(hn, I0, U, d, H)
            if l + 1 < L:
                copy_rows(hn, I0, Ucur[l + 1], I0, H)
        if read_all:
            matmul_rows(hn, Ht, w, oo, Kout, I1, O, Kout, oo + Ht * Kout, BIAS)
            if mode == OUT:
                for r in range(R):
                    for j in range(Kout):
                        out[p, n0 + r, t, j] = O[j, r]
            else:
                for r in range(TILE):
                    valid[r] = t < lens_t[r]
                readout_loss(O, Kout, valid, n0, t, output, y, Y, rows[p], inv,
                             Dlog[t] if grad else O, TRUE if grad else FALSE)
        else:
            for r in range(R):
                if lens_t[r] - 1 == t:
                    for j in range(Ht):
                        hlast[j, r] = hn[j, r]
    if grad:
        for l in range(L):
            store_step(Ucur[l], sizes[l], Uh[l], sizes[l], sizes[l + 1], Tr)
    if not read_all:
        matmul_rows(hlast, Ht, w, oo, Kout, I1, O, Kout, oo + Ht * Kout, BIAS)
        if mode == OUT:
            for r in range(R):
                for j in range(Kout):
                    out[p, n0 + r, 0, j] = O[j, r]
        else:
            for r in range(TILE):
                valid[r] = lens_t[r] > 0
            readout_loss(O, Kout, valid, n0, I0, output, y, Y, rows[p], inv, dlast, TRUE if grad else FALSE)


@njit(**OPTS, **INNER)
def _backward_tile(w, g, Tr, sizes, offs, spec, lens_t, hlast, hist, bbufs, cell):
    """BPTT of the tile :func:`_forward_tile` just ran in mode GRAD; gradient added to ``g``."""
    L = sizes.shape[0] - 2
    read_all, G = spec[3] == 1, spec[5]
    Ht, Kout, oo = sizes[L], sizes[L + 1], offs[L]
    top = L - 1
    zero = w[0] - w[0]
    Uh, U2h, Ch, Dlog, dlast = hist
    dh, dc, DZ, DZc, DLc, E, dhl = bbufs
    dh[:] = 0
    dc[:] = 0
    if not read_all:  # dL/dh at each lane's last step, and the readout's gradient
        matmul_rows(dlast, Kout, w, oo, I1, Kout, dhl, Ht, I0, ZERO)
        add_products(hlast[:Ht].reshape((Ht, 1, TILE)), I0, Ht, I0, dlast.reshape((Kout, 1, TILE)),
                     I0, Kout, I1, g, oo, Kout, oo + Ht * Kout)
    for t in range(Tr - 1, -1, -1):
        slot = t % CHUNK
        if read_all:
            matmul_rows(Dlog[t], Kout, w, oo, I1, Kout, dh[top], Ht, I0, ACC)
            store_step(Dlog[t], 0, DLc, 0, Kout, slot)
        else:
            for r in range(TILE):
                if lens_t[r] - 1 == t:
                    for j in range(Ht):
                        dh[top, j, r] += dhl[j, r]
        for l in range(top, -1, -1):
            d, H, off = sizes[l], sizes[l + 1], offs[l]
            below = l > 0
            dxb = dh[l - 1] if below else E
            cell_backward(cell, dh[l], dc[l], Ch[l, t], DZ, E, w, off, d, H, below, dxb, zero)
            store_step(DZ, 0, DZc[l], 0, G * H, slot)
        if slot == 0:  # a chunk [t, t + ns) is complete: its weight sums
            ns = min(CHUNK, Tr - t)
            for l in range(L):
                d, H, off = sizes[l], sizes[l + 1], offs[l]
                K, GH = d + H, G * H
                if cell == GRU:  # the candidate's rows see [x; r h], the gates [x; h]
                    add_products(Uh[l], I0, K, t, DZc[l], I0, 2 * H, ns, g, off, GH, off + K * GH)
                    add_products(U2h[l], I0, K, t, DZc[l], 2 * H, H, ns, g, off + 2 * H, GH,
                                 off + K * GH + 2 * H)
                else:
                    add_products(Uh[l], I0, K, t, DZc[l], I0, GH, ns, g, off, GH, off + K * GH)
            if read_all:
                add_products(Uh[top], sizes[top], Ht, t + 1, DLc, I0, Kout, ns, g, oo, Kout,
                             oo + Ht * Kout)


@njit(**OPTS, **INNER)
def _lanes(lens, n0, R, lens_t):
    """Lengths of the tile's lanes (0 on padding lanes); returns the longest."""
    longest = 0
    for r in range(TILE):
        lens_t[r] = lens[n0 + r] if r < R else 0
        longest = max(longest, lens_t[r])
    return longest


@njit(inline="always", **OPTS)
def _forward_work(cell, counter, n_tasks, Theta, X, lens, sizes, offs, codes, ab, spec, y, Y, rows, inv,
                  out, hid, hid_offs, mode, keep):
    """Forward tasks ``p * n_tiles + tile``: logits (and pre-activations) or loss rows."""
    task = fetch_add(counter, 1)
    if task >= n_tasks:
        return 0
    N, T = X.shape[0], X.shape[1]
    n_tiles = (N + TILE - 1) // TILE
    one = np.ones(1, Theta.dtype)
    w = np.empty(Theta.shape[1], Theta.dtype)
    bufs = _buffers(sizes, spec, one)
    hist = _history(sizes, spec, T, mode == GRAD, one)
    lens_t = np.zeros(TILE, np.int64)
    valid = np.zeros(TILE, np.bool_)
    full = mode == OUT and (spec[3] == 1 or keep)  # outputs at every step, padding included
    done, last_p = 0, -1
    while task < n_tasks:
        p, tile = task // n_tiles, task % n_tiles
        if p != last_p:
            _local_weights(Theta[p], w, sizes, offs, spec)
            last_p = p
        n0 = tile * TILE
        R = min(TILE, N - n0)
        longest = _lanes(lens, n0, R, lens_t)
        _forward_tile(w, X, n0, R, T if full else longest, sizes, offs, codes, ab, spec, y, Y, rows,
                      inv, out, hid, hid_offs, p, lens_t, valid, bufs, hist, keep, mode, cell)
        done += 1
        task = fetch_add(counter, 1)
    return done


@njit(inline="always", **OPTS)
def _loss_grad_work(cell, counter, n_tasks, Theta, X, lens, sizes, offs, codes, ab, spec, y, Y, rows, inv,
                    G, n_groups):
    """Gradient tasks ``p * n_groups + s``: member ``p``'s loss rows and gradient ``G[p, s]``
    over the tiles of sequence group ``s``."""
    task = fetch_add(counter, 1)
    if task >= n_tasks:
        return 0
    N, T = X.shape[0], X.shape[1]
    L = sizes.shape[0] - 2
    H = sizes[1:L + 1].max()
    n_tiles = (N + TILE - 1) // TILE
    per_group = (n_tiles + n_groups - 1) // n_groups
    one = np.ones(1, Theta.dtype)
    dt = Theta.dtype
    w = np.empty(Theta.shape[1], dt)
    bufs = _buffers(sizes, spec, one)
    hist = _history(sizes, spec, T, TRUE, one)
    bbufs = (np.zeros((L, H, TILE), dt), np.zeros((L, H, TILE), dt),
             np.zeros((spec[5] * H, TILE), dt), np.zeros((L, spec[5] * H, CHUNK, TILE), dt),
             np.zeros((sizes[L + 1], CHUNK, TILE), dt), np.zeros((2 * H, TILE), dt),
             np.zeros((H, TILE), dt))
    unused = np.zeros((1, 1, 1, 1), dt)  # out and hid: the types of the forward tasks'
    lens_t = np.zeros(TILE, np.int64)
    valid = np.zeros(TILE, np.bool_)
    done = 0
    while task < n_tasks:
        p, s = task // n_groups, task % n_groups
        g = G[p, s]
        g[:] = 0
        _local_weights(Theta[p], w, sizes, offs, spec)
        for tile in range(s * per_group, min((s + 1) * per_group, n_tiles)):
            n0 = tile * TILE
            R = min(TILE, N - n0)
            Tr = _lanes(lens, n0, R, lens_t)
            _forward_tile(w, X, n0, R, Tr, sizes, offs, codes, ab, spec, y, Y, rows, inv, unused,
                          unused, lens, p, lens_t, valid, bufs, hist, FALSE, GRAD, cell)
            _backward_tile(w, g, Tr, sizes, offs, spec, lens_t, bufs[9], hist, bbufs, cell)
        if spec[4] == 0:  # masked self-connections have no effect, hence zero gradient
            _zero_diagonals(g, sizes, offs, spec[5])
        done += 1
        task = fetch_add(counter, 1)
    return done


def kernel(cell: int):
    """The kernel of ``cell``: forward tasks (``mode`` OUT or LOSS, outputs into ``out`` and
    ``hid`` or loss rows into ``rows``) or gradient tasks (GRAD, gradients into ``G``); the
    arguments the mode does not use are size-1 placeholders.

    ``cell`` is a constant in it (a closure variable, so Numba's disk cache keys the kernel
    by its value), and :func:`~.rnn_cells.cell_forward` and :func:`~.rnn_cells.cell_backward`
    pick that cell's code when it compiles: the first LSTM fit does not wait for the Elman
    and GRU cells to compile.
    """

    @njit(nogil=True, **OPTS)
    def work(counter, n_tasks, Theta, X, lens, sizes, offs, codes, ab, spec, y, Y, rows, inv,
             out, hid, hid_offs, mode, keep, G, n_groups):
        if mode == GRAD:
            return _loss_grad_work(cell, counter, n_tasks, Theta, X, lens, sizes, offs, codes, ab, spec, y, Y,
                                   rows, inv, G, n_groups)
        return _forward_work(cell, counter, n_tasks, Theta, X, lens, sizes, offs, codes, ab, spec, y, Y,
                             rows, inv, out, hid, hid_offs, mode, keep)

    return work


#: The kernel of each cell, by its code (:data:`~.rnn_cells.CELLS`).
KERNELS = tuple(kernel(cell) for cell in (ELMAN, LSTM, GRU))
for _cell, _label in ((ELMAN, "Elman RNN"), (LSTM, "LSTM"), (GRU, "GRU")):
    compiling.name(_label, KERNELS[_cell])
