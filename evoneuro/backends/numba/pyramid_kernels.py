"""The Neural Abstraction Pyramid's compiled kernels: one member and a tile of images at a time.

A task is a member and a tile of :data:`LANES` images (forward: outputs or loss rows) or a
member and a group of images (gradient: loss rows and that group's gradient, tile by tile).
Inside a task the tile is iterated ``T`` times with every level's states in one *frame*
(level after level, each channels-last ``(h, w, F)``), each state a row of :data:`LANES`
values, one per image: every multiply-add of a projection runs along that row, which the
compiler vectorises. The gradient task keeps every iteration's frame of states and unit
derivatives, then walks the iterations back (BPTT). Every projection is a loop over
output cells, window offsets, source maps and target maps, written next to its transpose
(:func:`_window` / :func:`_window_T`, :func:`_up` / :func:`_up_T`), in the reference's order
of the kernel weights (:mod:`evoneuro.network.pyramid`).

Arrays the kernels take (built by :mod:`.pyramid`):

``lev`` (L, 6) int64
    per level ``h, w, F``, the level's offset in the frame, its bias's offset in ``Theta``, its
    activation code;
``projs`` (n, 9) int64
    per projection ``level, source (-1: the input), size, stride, pad, n_in, n_out, start,
    is_up``;
``spec`` int64
    ``L, T, n_outputs, output code, wrap border, frame size, input channels``;
``ab`` (L + 1, 2)
    ``(scale, slope)`` per level, then the output maps'.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evoneuro.backends.numba import compiling
from evoneuro.backends.numba._jit import INNER, OPTS, REDUCE
from evoneuro.backends.numba.activations import activate, activate_grad
from evoneuro.backends.numba.intrinsics import fetch_add
from evoneuro.backends.numba.tiles import I0, I1

#: Images per tile: a row of 32 float32 values is two 512-bit (four 256-bit) registers.
LANES = 32
# Modes: outputs of the last iteration, loss rows, loss rows and gradients.
OUT, LOSS, GRAD = I0, I1, np.full(1, 2, np.int64)[0]


# --- projections, each next to its transpose (rows of LANES images) -------------------------


@njit(**OPTS, **INNER)
def _window(src, sh, sw, n_in, dst, h, w, n_out, th, k0, size, stride, pad, wrap):
    """``dst (h*w*n_out, LANES) += window(src (sh*sw*n_in, LANES))``, kernel at ``th[k0:]``."""
    for i in range(h):
        for a in range(size):
            r = stride * i + a - pad
            if r < 0 or r >= sh:
                if wrap == 0:
                    continue
                r = r % sh
            for j in range(w):
                dbase = (i * w + j) * n_out
                for c in range(size):
                    q = stride * j + c - pad
                    if q < 0 or q >= sw:
                        if wrap == 0:
                            continue
                        q = q % sw
                    sbase = (r * sw + q) * n_in
                    kbase = k0 + (a * size + c) * n_in * n_out
                    for f in range(n_in):
                        kb = kbase + f * n_out
                        for o in range(n_out):
                            kv = th[kb + o]
                            for v in range(LANES):
                                dst[dbase + o, v] += src[sbase + f, v] * kv


@njit(**REDUCE, **INNER)
def _window_T(src, sh, sw, n_in, dz, h, w, n_out, th, k0, size, stride, pad, wrap, g, ds, need_ds):
    """Transpose of :func:`_window`: ``g[k0:] += Σ_lanes src ⊗ dz``; ``ds += Kᵀ dz`` when ``need_ds``."""
    for i in range(h):
        for a in range(size):
            r = stride * i + a - pad
            if r < 0 or r >= sh:
                if wrap == 0:
                    continue
                r = r % sh
            for j in range(w):
                dbase = (i * w + j) * n_out
                for c in range(size):
                    q = stride * j + c - pad
                    if q < 0 or q >= sw:
                        if wrap == 0:
                            continue
                        q = q % sw
                    sbase = (r * sw + q) * n_in
                    kbase = k0 + (a * size + c) * n_in * n_out
                    for f in range(n_in):
                        kb = kbase + f * n_out
                        for o in range(n_out):
                            acc = src[sbase + f, 0] * 0
                            for v in range(LANES):
                                acc += src[sbase + f, v] * dz[dbase + o, v]
                            g[kb + o] += acc
                        if need_ds:
                            for o in range(n_out):
                                kv = th[kb + o]
                                for v in range(LANES):
                                    ds[sbase + f, v] += kv * dz[dbase + o, v]


@njit(**OPTS, **INNER)
def _up(src, sh, sw, n_in, dst, n_out, th, k0):
    """``dst (2sh*2sw*n_out, LANES) +=`` every cell's coarse cell of ``src (sh*sw*n_in, LANES)``
    through the kernel of its position in the 2 x 2 block."""
    w = 2 * sw
    for i in range(2 * sh):
        for j in range(w):
            sbase = ((i // 2) * sw + j // 2) * n_in
            kbase = k0 + ((i % 2) * 2 + j % 2) * n_in * n_out
            dbase = (i * w + j) * n_out
            for f in range(n_in):
                kb = kbase + f * n_out
                for o in range(n_out):
                    kv = th[kb + o]
                    for v in range(LANES):
                        dst[dbase + o, v] += src[sbase + f, v] * kv


@njit(**REDUCE, **INNER)
def _up_T(src, sh, sw, n_in, dz, n_out, th, k0, g, ds):
    """Transpose of :func:`_up`: ``g[k0:] += Σ_lanes src ⊗ dz`` and ``ds += Kᵀ dz``."""
    w = 2 * sw
    for i in range(2 * sh):
        for j in range(w):
            sbase = ((i // 2) * sw + j // 2) * n_in
            kbase = k0 + ((i % 2) * 2 + j % 2) * n_in * n_out
            dbase = (i * w + j) * n_out
            for f in range(n_in):
                kb = kbase + f * n_out
                for o in range(n_out):
                    kv = th[kb + o]
                    acc = src[sbase + f, 0] * 0
                    for v in range(LANES):
                        acc += src[sbase + f, v] * dz[dbase + o, v]
                        ds[sbase + f, v] += kv * dz[dbase + o, v]
                    g[kb + o] += acc


# --- one tile: iterate, then (for a gradient) back through the iterations ------------------


@njit(**OPTS, **INNER)
def _activate_level(l, z, dd, lev, spec, ab, grad):
    """Units of level ``l`` in place in ``z`` (its rows of one frame); with ``grad`` their
    derivatives into ``dd``. Level 0's first ``n_outputs`` maps are the output units."""
    h, w, F, code = lev[l, 0], lev[l, 1], lev[l, 2], lev[l, 5]
    a, b = ab[l, 0], ab[l, 1]
    if l > 0:
        zf = z.reshape(-1)
        if grad:
            df = dd.reshape(-1)
            df[:] = zf
            activate_grad(df, zf, code, a, b)
        else:
            activate(zf, code, a, b)
        return
    K, ocode, oa, ob = spec[2], spec[3], ab[ab.shape[0] - 1, 0], ab[ab.shape[0] - 1, 1]
    for cell in range(h * w):
        for part in range(2):
            lo, hi = (cell * F, cell * F + K) if part == 0 else (cell * F + K, (cell + 1) * F)
            if hi == lo:
                continue
            c, sa, sb = (ocode, oa, ob) if part == 0 else (code, a, b)
            zf = z[lo:hi].reshape(-1)
            if grad:
                df = dd[lo:hi].reshape(-1)
                df[:] = zf
                activate_grad(df, zf, c, sa, sb)
            else:
                activate(zf, c, sa, sb)


@njit(**OPTS, **INNER)
def _iterate(th, x, lev, projs, spec, ab, st, dd, drive, grad):
    """States of every iteration into ``st (T+1, frame, LANES)`` (``st[0]`` zeros), unit
    derivatives into ``dd`` when ``grad``; ``x (H*W*C, LANES)`` the tile's images."""
    L, T, C, wrap = spec[0], spec[1], spec[6], spec[4]
    h0, w0, F0 = lev[0, 0], lev[0, 1], lev[0, 2]
    for cell in range(h0 * w0):
        for f in range(F0):
            drive[cell * F0 + f, :] = th[lev[0, 4] + f]
    for p in range(projs.shape[0]):
        if projs[p, 1] == -1:
            _window(x, h0, w0, C, drive, h0, w0, F0, th, projs[p, 7], projs[p, 2], projs[p, 3], projs[p, 4], wrap)
    st[0] = 0
    for t in range(1, T + 1):
        z, prev = st[t], st[t - 1]
        for l in range(L):
            h, w, F, off = lev[l, 0], lev[l, 1], lev[l, 2], lev[l, 3]
            if l == 0:
                z[off:off + h * w * F] = drive
            else:
                for cell in range(h * w):
                    for f in range(F):
                        z[off + cell * F + f, :] = th[lev[l, 4] + f]
        for p in range(projs.shape[0]):
            l, s = projs[p, 0], projs[p, 1]
            if s == -1:
                continue
            h, w, F, off = lev[l, 0], lev[l, 1], lev[l, 2], lev[l, 3]
            sh, sw, sF, soff = lev[s, 0], lev[s, 1], lev[s, 2], lev[s, 3]
            src, dst = prev[soff:soff + sh * sw * sF], z[off:off + h * w * F]
            if projs[p, 8]:
                _up(src, sh, sw, sF, dst, F, th, projs[p, 7])
            else:
                _window(src, sh, sw, sF, dst, h, w, F, th, projs[p, 7], projs[p, 2], projs[p, 3], projs[p, 4],
                        wrap)
        for l in range(L):
            h, w, F, off = lev[l, 0], lev[l, 1], lev[l, 2], lev[l, 3]
            _activate_level(l, z[off:off + h * w * F], dd[t if grad else 0, off:off + h * w * F], lev, spec, ab, grad)


@njit(**OPTS, **INNER)
def _errors(st, y, R, lev, spec, readw, rows, p, n0):
    """Each image's read-weighted sum of squared output errors into ``rows[p, n0 + lane]`` (float64)."""
    T, K = spec[1], spec[2]
    h0, w0, F0 = lev[0, 0], lev[0, 1], lev[0, 2]
    for v in range(R):
        total = 0.0
        for t in range(1, T + 1):
            wt = readw[t - 1]
            if wt == 0:
                continue
            acc = 0.0
            for cell in range(h0 * w0):
                for k in range(K):
                    d = float(st[t, cell * F0 + k, v]) - float(y[cell * K + k, v])
                    acc += d * d
            total += wt * acc
        rows[p, n0 + v] = total


@njit(**OPTS, **INNER)
def _backward(th, x, y, R, lev, projs, spec, readw, inv, st, dd, ds, dsp, dz, ddrive, g):
    """BPTT of one tile (its first ``R`` lanes real images): its gradient added into ``g``."""
    L, T, K, wrap, C = spec[0], spec[1], spec[2], spec[4], spec[6]
    h0, w0, F0 = lev[0, 0], lev[0, 1], lev[0, 2]
    ds[:] = 0
    ddrive[:] = 0
    for t in range(T, 0, -1):
        wt = readw[t - 1]
        if wt != 0:
            c2 = 2 * wt * inv
            for cell in range(h0 * w0):
                for k in range(K):
                    row, out, tgt = ds[cell * F0 + k], st[t, cell * F0 + k], y[cell * K + k]
                    for v in range(R):  # padding lanes get no error
                        row[v] += c2 * (out[v] - tgt[v])
        ddt = dd[t]
        for i in range(dz.shape[0]):
            for v in range(LANES):
                dz[i, v] = ds[i, v] * ddt[i, v]
        for l in range(L):
            h, w, F, off, b0 = lev[l, 0], lev[l, 1], lev[l, 2], lev[l, 3], lev[l, 4]
            for cell in range(h * w):
                for f in range(F):
                    row = dz[off + cell * F + f]
                    acc = row[0] * 0
                    for v in range(LANES):
                        acc += row[v]
                    g[b0 + f] += acc
        for i in range(h0 * w0 * F0):
            for v in range(LANES):
                ddrive[i, v] += dz[i, v]
        if t == 1:
            break  # the states before the first iteration are 0: no weight gradient, no dL/ds(0)
        dsp[:] = 0
        prev = st[t - 1]
        for p in range(projs.shape[0]):
            l, s = projs[p, 0], projs[p, 1]
            if s == -1:
                continue
            h, w, F, off = lev[l, 0], lev[l, 1], lev[l, 2], lev[l, 3]
            sh, sw, sF, soff = lev[s, 0], lev[s, 1], lev[s, 2], lev[s, 3]
            n_src = sh * sw * sF
            if projs[p, 8]:
                _up_T(prev[soff:soff + n_src], sh, sw, sF, dz[off:off + h * w * F], F, th, projs[p, 7], g,
                      dsp[soff:soff + n_src])
            else:
                _window_T(prev[soff:soff + n_src], sh, sw, sF, dz[off:off + h * w * F], h, w, F, th, projs[p, 7],
                          projs[p, 2], projs[p, 3], projs[p, 4], wrap, g, dsp[soff:soff + n_src], True)
        ds, dsp = dsp, ds
    for p in range(projs.shape[0]):
        if projs[p, 1] == -1:
            _window_T(x, h0, w0, C, ddrive, h0, w0, F0, th, projs[p, 7], projs[p, 2], projs[p, 3], projs[p, 4],
                      wrap, g, ddrive, False)


@njit(**OPTS, **INNER)
def _load(A, n0, R, tile):
    """Images ``A[n0:n0+R]`` ``(R, H, W, C)`` into the lanes of ``tile (H*W*C, LANES)``; the rest 0."""
    tile[:] = 0
    for v in range(R):
        img = A[n0 + v].reshape(-1)
        for i in range(img.shape[0]):
            tile[i, v] = img[i]


# --- tasks ----------------------------------------------------------------------------------


@njit(nogil=True, **OPTS)
def kernel(counter, n_tasks, Theta, X, Y, lev, projs, spec, ab, readw, inv, mode, out, rows, G, n_groups):
    """Forward tasks ``p * n_tiles + tile`` (``mode`` OUT: the last iteration's output maps
    into ``out (P, N, h*w*K)``; LOSS: loss rows ``rows (P, N)``), or gradient tasks ``p *
    n_groups + s`` (GRAD: loss rows and ``G[p, s]`` over the tiles of image group ``s``)."""
    task = fetch_add(counter, 1)
    if task >= n_tasks:
        return 0
    N = X.shape[0]
    T, K, frame = spec[1], spec[2], spec[5]
    h0, w0, F0 = lev[0, 0], lev[0, 1], lev[0, 2]
    dt = Theta.dtype
    grad = mode == GRAD
    n_tiles = (N + LANES - 1) // LANES
    st = np.zeros((T + 1, frame, LANES), dt)
    dd = np.zeros((T + 1 if grad else 1, frame, LANES), dt)
    drive = np.zeros((h0 * w0 * F0, LANES), dt)
    x = np.zeros((X[0].size, LANES), dt)
    y = np.zeros((Y[0].size, LANES), dt)
    ds, dsp, dz = np.zeros((frame, LANES), dt), np.zeros((frame, LANES), dt), np.zeros((frame, LANES), dt)
    ddrive = np.zeros((h0 * w0 * F0, LANES), dt)
    done = 0
    while task < n_tasks:
        if grad:
            p, s = task // n_groups, task % n_groups
            per = (N + n_groups - 1) // n_groups
            g = G[p, s]
            g[:] = 0
            th = Theta[p]
            for n0 in range(s * per, min((s + 1) * per, N), LANES):
                R = min(LANES, min((s + 1) * per, N) - n0)
                _load(X, n0, R, x)
                _load(Y, n0, R, y)
                _iterate(th, x, lev, projs, spec, ab, st, dd, drive, True)
                _errors(st, y, R, lev, spec, readw, rows, p, n0)
                _backward(th, x, y, R, lev, projs, spec, readw, inv, st, dd, ds, dsp, dz, ddrive, g)
        else:
            p, tile = task // n_tiles, task % n_tiles
            n0 = tile * LANES
            R = min(LANES, N - n0)
            th = Theta[p]
            _load(X, n0, R, x)
            _iterate(th, x, lev, projs, spec, ab, st, dd, drive, False)
            if mode == OUT:
                for v in range(R):
                    o = out[p, n0 + v]
                    for cell in range(h0 * w0):
                        for k in range(K):
                            o[cell * K + k] = st[T, cell * F0 + k, v]
            else:
                _load(Y, n0, R, y)
                _errors(st, y, R, lev, spec, readw, rows, p, n0)
        done += 1
        task = fetch_add(counter, 1)
    return done


compiling.name("Neural Abstraction Pyramid", kernel)
