"""Fused population updates: one pass over the population instead of a dozen NumPy ones.

A generation of PSO on config A (64 x 11,914 float32) made about thirty passes over
``(P, n)`` arrays in NumPy (temporaries for ``pbest - X``, the noise rows, the products),
which cost more than a tenth of the population's evaluation. The kernel below reads the
uniform noise straight from the shared table at the row offsets (:mod:`._noise`), so the
noise rows are never copied, and does the same float32 operations in the same order as
the NumPy code it replaces: the results are bit-identical (no fast-math contraction).
The GA's blend crossover gets the same treatment: the parents' rows were gathered into a
copy, crossed through half a dozen temporaries and concatenated behind the elites; the
kernel writes elites and children straight into the new population.

Compiled on first use (Numba, cached on disk), imported only by the optimizers that use it.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def ga_blend(Theta, elite, parents, crossed, table, offsets, c1, c2, out):
    """The GA's next population before mutation, in one pass: elites, then blend-crossed children.

    ``out[:e] = Theta[elite]``; child ``i`` of pair ``k = i // 2`` starts as
    ``Theta[parents[i]]``; where ``crossed[k]``, with ``a, b`` the pair's parents and
    ``u = table[offsets[k]:offsets[k] + n]``, ``u' = (u c1 - c2)(b - a)``, the children are
    ``a + u'`` and ``b - u'`` (``deap.tools.cxBlend`` with ``c1 = 1 + 2 alpha``,
    ``c2 = alpha``), in the float32 operations and order of the NumPy code they replace.
    An odd last child is copied.
    """
    n = out.shape[1]
    e = elite.shape[0]
    for r in range(e):
        out[r] = Theta[elite[r]]
    m = parents.shape[0]
    for i in range(m):  # every child starts as its parent; crossed pairs are overwritten below
        if i // 2 >= crossed.shape[0] or not crossed[i // 2]:
            out[e + i] = Theta[parents[i]]
    for k in range(m // 2):
        if crossed[k]:
            a, b = Theta[parents[2 * k]], Theta[parents[2 * k + 1]]
            ca, cb = out[e + 2 * k], out[e + 2 * k + 1]
            o = offsets[k]
            u = table[o:o + n]
            for j in range(n):
                w = (u[j] * c1 - c2) * (b[j] - a[j])
                ca[j] = a[j] + w
                cb[j] = b[j] - w
