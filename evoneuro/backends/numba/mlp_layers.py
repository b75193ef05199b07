"""The layer kinds of the fused tile kernels beyond ``h W + b``: shortcuts, LayerNorm, cosine
normalisation and RBF units, forward and backward on ``(width, TILE)`` tiles (samples along
the second axis, so that the loops over them vectorise). Each follows its NumPy reference in
:mod:`evoneuro.backends.layers`; :mod:`.mlp_kernels` calls them per hidden layer.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evoneuro.backends.numba._jit import INNER, OPTS
from evoneuro.backends.numba.tiles import TILE, row_dot, row_sum


@njit(**OPTS, **INNER)
def add_rows(a, b, n):
    """``a[:n] += b[:n]`` on ``(width, TILE)`` tiles."""
    for j in range(n):
        for r in range(TILE):
            a[j, r] += b[j, r]


@njit(**OPTS, **INNER)
def layernorm(zT, n, th, b0, eps, ahat, inv):
    """LayerNorm of every sample (column) of ``zT[:n]`` in place: ``ahat`` the normalised
    values, ``inv`` each sample's ``1 / sqrt(var + eps)``; ``β = th[b0:b0+n]``, ``γ`` after.
    Loops run along the samples, so that they vectorise; sums in float64."""
    g0 = b0 + n
    m = np.zeros(TILE)
    v = np.zeros(TILE)
    for j in range(n):
        for r in range(TILE):
            m[r] += zT[j, r]
    for r in range(TILE):
        m[r] /= n
    for j in range(n):
        for r in range(TILE):
            c = zT[j, r] - m[r]
            v[r] += c * c
    for r in range(TILE):
        v[r] = 1.0 / np.sqrt(v[r] / n + eps)
        inv[r] = v[r]
    for j in range(n):
        gj = th[g0 + j]
        bj = th[b0 + j]
        for r in range(TILE):
            a = (zT[j, r] - m[r]) * v[r]
            ahat[j, r] = a
            zT[j, r] = a * gj + bj


@njit(**OPTS, **INNER)
def layernorm_backward(dz, n, th, g, b0, ahat, inv):
    """From ``dz = dL/dz`` of a LayerNorm layer: ``β``'s and ``γ``'s gradients added to ``g``,
    and ``dz`` replaced in place by ``dL/da``, ``a = h W``."""
    g0 = b0 + n
    m1 = np.zeros(TILE)
    m2 = np.zeros(TILE)
    for j in range(n):
        gj = th[g0 + j]
        g[b0 + j] += row_sum(dz, j)
        g[g0 + j] += row_dot(dz, ahat, j)
        for r in range(TILE):
            d = dz[j, r] * gj
            m1[r] += d
            m2[r] += d * ahat[j, r]
    for r in range(TILE):
        m1[r] /= n
        m2[r] /= n
    for j in range(n):
        gj = th[g0 + j]
        for r in range(TILE):
            dz[j, r] = inv[r] * (dz[j, r] * gj - m1[r] - ahat[j, r] * m2[r])


@njit(**OPTS, **INNER)
def _column_squares(n, K, th, w0):
    """``sum_k W[k, j]**2`` of the ``(K, n)`` weights at ``th[w0:]``, per unit (float64)."""
    sq = np.zeros(n)
    for k in range(K):
        for j in range(n):
            w = th[w0 + k * n + j]
            sq[j] += w * w
    return sq


@njit(**OPTS, **INNER)
def _weight_norms(n, K, th, w0):
    """``‖[w_j, b_j]‖`` of the ``n`` units of the layer at ``th[w0:]`` (``K`` inputs)."""
    wn = _column_squares(n, K, th, w0)
    b0 = w0 + K * n
    for j in range(n):
        wn[j] = np.sqrt(wn[j] + th[b0 + j] * th[b0 + j])
    return wn


@njit(**OPTS, **INNER)
def cosine(zT, n, hT, K, th, w0, hn):
    """Cosine normalisation of ``zT[:n] = h W + b`` in place: divided by ``‖[h, 1]‖`` per
    sample (left in ``hn``) and by ``‖[w, b]‖`` per unit."""
    for r in range(TILE):
        hn[r] = 1
    for k in range(K):
        for r in range(TILE):
            hn[r] += hT[k, r] * hT[k, r]
    rh = np.empty(TILE, hn.dtype)
    for r in range(TILE):
        hn[r] = np.sqrt(hn[r])
        rh[r] = 1 / hn[r]
    # one division per sample and per unit, then products
    rw = _weight_norms(n, K, th, w0)
    for j in range(n):
        rw[j] = 1 / rw[j]
    for j in range(n):
        c = rw[j]
        for r in range(TILE):
            zT[j, r] = zT[j, r] * rh[r] * c


@njit(**OPTS, **INNER)
def cosine_backward(dz, n, K, th, g, w0, z, hn, c):
    """From ``dz = dL/dz`` of a cosine layer (``n`` units, ``K`` inputs): ``dz`` replaced by
    ``dL/da = dz / (‖[h,1]‖ ‖[w,b]‖)``, the weight norms' share ``[w, b] dL/d‖[w,b]‖ / ‖[w,b]‖``
    added to ``g``, and ``c`` each sample's ``dL/d‖[h,1]‖ / ‖[h,1]‖`` for ``dL/dh``."""
    wn = _weight_norms(n, K, th, w0)
    gz = np.zeros(TILE)
    f = np.empty(n)  # dL/d‖[w,b]‖ / ‖[w,b]‖ per unit
    for j in range(n):
        f[j] = -row_dot(dz, z, j) / (wn[j] * wn[j])
        for r in range(TILE):
            gz[r] += dz[j, r] * z[j, r]
    for k in range(K + 1):  # the weights' rows, then the bias row
        for j in range(n):
            g[w0 + k * n + j] += th[w0 + k * n + j] * f[j]
    for r in range(TILE):
        q = 1 / hn[r]
        c[r] = -gz[r] * q * q
        gz[r] = q  # now the reciprocal norm: products below, not a division per value
    for j in range(n):
        f = 1 / wn[j]
        for r in range(TILE):
            dz[j, r] = dz[j, r] * gz[r] * f


@njit(**OPTS, **INNER)
def rbf(zT, n, hT, K, th, w0, r_out):
    """RBF units from ``zT[:n] = h C`` in place: ``z = sqrt(max(‖h‖² - 2 h C + ‖c‖², 0) s)``,
    ``s = exp(-2ρ) / 2``; ``r_out`` gets ``r = z²``."""
    hh = np.zeros(TILE)
    for k in range(K):
        for r in range(TILE):
            hh[r] += hT[k, r] * hT[k, r]
    cc = _column_squares(n, K, th, w0)
    b0 = w0 + K * n
    for j in range(n):
        s2 = 0.5 * np.exp(-2.0 * th[b0 + j])
        for r in range(TILE):
            q = max(hh[r] - 2.0 * zT[j, r] + cc[j], 0.0) * s2
            r_out[j, r] = q
            zT[j, r] = np.sqrt(q)


@njit(**OPTS, **INNER)
def rbf_backward(dr, n, K, th, g, w0, rr, c):
    """From ``dr = dL/dr`` of an RBF layer (``n`` units, ``K`` inputs; ``rr`` its ``r``): ``ρ``'s
    gradient and the centres' ``2 C colsum(dq)`` added to ``g``, ``dr`` replaced by
    ``-2 dq``, ``dq = dr s``, and ``c`` the coefficient of ``h`` in ``dL/dh``."""
    b0 = w0 + K * n
    col = np.zeros(n)
    cr = np.zeros(TILE)
    for j in range(n):
        s2 = 0.5 * np.exp(-2.0 * th[b0 + j])
        g[b0 + j] += -2.0 * row_dot(dr, rr, j)
        col[j] = row_sum(dr, j) * s2
        for r in range(TILE):
            dq = dr[j, r] * s2
            cr[r] += dq
            dr[j, r] = -2.0 * dq
    for k in range(K):
        for j in range(n):
            g[w0 + k * n + j] += 2.0 * th[w0 + k * n + j] * col[j]
    for r in range(TILE):
        c[r] = 2.0 * cr[r]
