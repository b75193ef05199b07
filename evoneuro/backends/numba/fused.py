"""Fused population updates: one pass over the population instead of a dozen NumPy ones.

Written in NumPy, a generation of PSO makes about thirty passes over ``(P, n)`` arrays
(temporaries for ``pbest - X``, the noise rows, the products), each of them limited by
memory, not arithmetic. The kernels below read the uniform noise straight
from the shared table at the row offsets (:mod:`evoneuro.optimizers._noise`), so the noise
rows are never copied, and do the same float32 operations in the same order as the NumPy
form of each update: the results are bit-identical (no fast-math contraction, so only
:data:`~._jit.CACHED` of the jit options). The GA's variation writes elites and children
straight into the new population, crossing each pair without temporaries and mutating each
child while its row is in cache, adding N(0, 1) values read from the normal table at one
offset.

Compiled on first use (Numba, cached on disk), imported only by the optimizers that use it.
"""

from __future__ import annotations

from numba import njit

from evoneuro.backends.numba import compiling
from evoneuro.backends.numba._jit import CACHED


@njit(nogil=True, **CACHED)
def scaled_rows(table, offsets, scale, shift, out):
    """``out[p] = table[offsets[p]:offsets[p] + n] * scale + shift``: a population sampled
    from noise-table rows without copying them first (the product and the sum each rounded,
    as in NumPy)."""
    n = out.shape[1]
    for p in range(offsets.shape[0]):
        z = table[offsets[p]:offsets[p] + n]  # a slice, so that z[j] needs no wraparound check
        row = out[p]
        for j in range(n):  # and LLVM vectorises the loop
            row[j] = z[j] * scale[j] + shift[j]


@njit(nogil=True, **CACHED)
def pso_update(X, V, pbest, g, table, o1, o2, w, c1, c2, vmax, clip, X_new):
    """``V = w V + c1 r1 (pbest - X) + c2 r2 (g - X)`` (clipped to ``±vmax`` if ``clip``), ``X_new = X + V``.

    ``r1``, ``r2`` of member ``p`` are ``table[o1[p]:o1[p] + n]`` and ``table[o2[p]:...]``.
    """
    P, n = X.shape
    for p in range(P):
        a = o1[p]
        b = o2[p]
        r1 = table[a:a + n]
        r2 = table[b:b + n]
        Vp, Xp, Bp, Np = V[p], X[p], pbest[p], X_new[p]
        for j in range(n):  # branch-free, so LLVM vectorises it
            x = Xp[j]
            v = Vp[j] * w
            v = v + (r1[j] * (Bp[j] - x)) * c1
            Vp[j] = v + (r2[j] * (g[j] - x)) * c2
        if clip:
            for j in range(n):
                Vp[j] = min(max(Vp[j], -vmax), vmax)
        for j in range(n):
            Np[j] = Xp[j] + Vp[j]


@njit(nogil=True, inline="always", **CACHED)
def _mutate(row, where, start, count, normal, noff, sigma):
    """``row[where[start + k]] += sigma * normal[noff + start + k]`` for ``k < count``, in order."""
    for k in range(start, start + count):
        row[where[k]] += sigma * normal[noff + k]


@njit(nogil=True, **CACHED)
def ga_vary(Theta, elite, parents, crossed, sbx, uniform, offsets, c1, c2, counts, where, normal, noff,
            sigma, out):
    """The GA's next population in one pass: elites, then crossed and mutated children.

    ``out[:e] = Theta[elite]``. The children come in pairs ``k`` of parents
    ``a = Theta[parents[2k]]``, ``b = Theta[parents[2k + 1]]``; an uncrossed pair (and an odd
    last child) is copied. A crossed pair, with ``u = uniform[offsets[k]:offsets[k] + n]``:

    - blend (``deap.tools.cxBlend``, ``c1 = 1 + 2 alpha``, ``c2 = alpha``):
      ``w = (u c1 - c2)(b - a)``, children ``a + w`` and ``b - w``, in the float operations
      and order of the NumPy form of the update;
    - SBX (``sbx``; ``deap.tools.cxSimulatedBinary``, ``c1 = 1 / (eta + 1)``, ``c2 = 0.5``):
      ``beta = (2 u)**c1`` where ``u <= 1/2``, else ``(1 / (2 (1 - u)))**c1``; children
      ``(a + b)/2 ± beta (a - b)/2``.

    Then child ``i`` (while its row is in cache) gets ``counts[i]`` Gaussian mutations:
    ``child[where[s + k]] += sigma * normal[noff + s + k]``, ``s = counts[:i].sum()``.
    """
    n = out.shape[1]
    ne = elite.shape[0]
    for r in range(ne):
        out[r] = Theta[elite[r]]
    m = parents.shape[0]
    half = c2
    one = c2 + c2
    start = 0
    for k in range(m // 2):
        a, b = Theta[parents[2 * k]], Theta[parents[2 * k + 1]]
        ca, cb = out[ne + 2 * k], out[ne + 2 * k + 1]
        if not crossed[k]:
            ca[:] = a
            cb[:] = b
        elif sbx:
            u = uniform[offsets[k]:offsets[k] + n]
            for j in range(n):
                uj = u[j]
                if uj <= half:
                    beta = (uj + uj) ** c1
                else:
                    beta = (half / (one - uj)) ** c1
                s = half * (a[j] + b[j])
                d = half * beta * (a[j] - b[j])
                ca[j] = s + d
                cb[j] = s - d
        else:
            u = uniform[offsets[k]:offsets[k] + n]
            for j in range(n):
                w = (u[j] * c1 - c2) * (b[j] - a[j])
                ca[j] = a[j] + w
                cb[j] = b[j] - w
        _mutate(ca, where, start, counts[2 * k], normal, noff, sigma)
        start += counts[2 * k]
        _mutate(cb, where, start, counts[2 * k + 1], normal, noff, sigma)
        start += counts[2 * k + 1]
    if m % 2:
        last = out[ne + m - 1]
        last[:] = Theta[parents[m - 1]]
        _mutate(last, where, start, counts[m - 1], normal, noff, sigma)


for _label, _kernel in (("CMA-ES", scaled_rows), ("PSO", pso_update), ("GA", ga_vary)):
    compiling.name(_label, _kernel, closes=True)  # called by the optimizers, not through the backend
