"""Numba kernel of :class:`evoneuro.optimizers.Readout`: a member's whole readout solve in one task.

:func:`fit_readouts` is the Numba form of :func:`evoneuro.optimizers._ridge.fit_readouts`,
the NumPy reference, which makes a dozen passes over ``(P, N, K)`` and ``(P, N, h+1)``
temporaries per step, each limited by memory. Here one task does one member from its
features to its loss, in float64, with every temporary small enough to stay in cache, laid
out samples-last so that the loops over samples vectorise:

1. the normal equations ``A = H1ᵀH1 + ridge·D`` and ``B = H1ᵀT``;
2. the Cholesky factor ``A = LLᵀ`` and the ridge weights ``W = A⁻¹B``;
3. the logits ``Z = H1 W``, or with ``loo`` their leave-one-out values
   ``(Z_n - l_n T_n) / (1 - l_n)``, with leverages ``l_n = ‖L⁻¹ h1_n‖²``;
4. for softmax nets, the temperature ``s`` by Newton's method on the cross-entropy of
   ``s Z`` (stopped when the step is below ``1e-10 s``, at most 8 steps, as the
   reference runs; float32 exponentials, as the reference's), then the loss (float64).

Tasks are members, taken from the shared counter of :mod:`.pool`, so a busy
machine is handled as the evaluator's kernels handle it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from evoneuro.backends.numba import compiling, pool
from evoneuro.backends.numba._jit import IDENTITY, INNER, REDUCE, act_code
from evoneuro.backends.numba.activations import _exp_f32, activate
from evoneuro.backends.numba.intrinsics import fetch_add

# Reassociation (REDUCE) lets LLVM vectorise the dot products below; every member is one
# task, so its results do not depend on the thread count (only on the build, like any
# vectorised sum).
MAX_TEMPERATURE = 50.0  # the same cap as the reference: a separable batch would send s to infinity
NEWTON_STEPS = 8


@njit(**REDUCE, **INNER)
def _normal_equations(Ht, Tt, y, softmax, ridge, A, B):
    """``A = H1ᵀH1 + ridge·D`` (lower triangle) and ``B = H1ᵀT`` from ``Ht = H1ᵀ`` ``(h+1, N)``."""
    m, N = Ht.shape
    K = Tt.shape[0]
    for i in range(m):
        for j in range(i + 1):
            a = 0.0
            for n in range(N):
                a += Ht[i, n] * Ht[j, n]
            A[i, j] = a
    for i in range(m - 1):
        A[i, i] += ridge
    if softmax:  # one-hot targets: B's column k sums the rows of class k
        B[:] = 0.0
        for n in range(N):
            k = y[n]
            for i in range(m):
                B[i, k] += Ht[i, n]
    else:
        for i in range(m):
            for k in range(K):
                b = 0.0
                for n in range(N):
                    b += Ht[i, n] * Tt[k, n]
                B[i, k] = b


@njit(**REDUCE, **INNER)
def _cholesky(A) -> bool:
    """In-place lower Cholesky factor of the lower triangle of ``A``; False if not positive."""
    m = A.shape[0]
    for j in range(m):
        d = A[j, j]
        for k in range(j):
            d -= A[j, k] * A[j, k]
        if not d > 0.0:
            return False
        d = math.sqrt(d)
        A[j, j] = d
        for i in range(j + 1, m):
            s = A[i, j]
            for k in range(j):
                s -= A[i, k] * A[j, k]
            A[i, j] = s / d
    return True


@njit(**REDUCE, **INNER)
def _solve_columns(L, B, W, v):
    """``W = (LLᵀ)⁻¹ B`` column by column."""
    m, K = B.shape
    for k in range(K):
        for i in range(m):
            s = B[i, k]
            for j in range(i):
                s -= L[i, j] * v[j]
            v[i] = s / L[i, i]
        for i in range(m - 1, -1, -1):
            s = v[i]
            for j in range(i + 1, m):
                s -= L[j, i] * W[j, k]
            W[i, k] = s / L[i, i]


@njit(**REDUCE, **INNER)
def _leverages(L, Ht, V, lev):
    """``lev[n] = ‖L⁻¹ h1_n‖²``: ``V = L⁻¹ H1ᵀ`` by row operations over all samples at once."""
    m, N = Ht.shape
    V[:] = Ht
    for k in range(m):
        d = 1.0 / L[k, k]
        for n in range(N):
            V[k, n] *= d
        for i in range(k + 1, m):
            c = L[i, k]
            for n in range(N):
                V[i, n] -= c * V[k, n]
    lev[:] = 0.0
    for k in range(m):
        for n in range(N):
            lev[n] += V[k, n] * V[k, n]


@njit(**REDUCE, **INNER)
def _temperature(U, picked, s_max, norm, mean, second):
    """Newton's method on the mean cross-entropy of ``s Z`` from ``s = 1`` (see the reference).

    ``U`` ``(K, N)`` float32 holds ``Z - max_k Z`` (so ``s U <= 0`` and the exponentials
    cannot overflow), ``picked`` the true class's entry; float32 exponentials as in the
    reference, sums in float64.
    """
    K, N = U.shape
    s = 1.0
    for _ in range(NEWTON_STEPS):
        norm[:] = 0.0
        mean[:] = 0.0
        second[:] = 0.0
        sf = np.float32(s)
        for k in range(K):
            for n in range(N):
                u = U[k, n]
                e = _exp_f32(sf * u)[0]
                norm[n] += e
                mean[n] += e * u
                second[n] += e * u * u
        grad = 0.0
        hess = 0.0
        for n in range(N):
            mu = mean[n] / norm[n]
            grad += mu - picked[n]
            hess += second[n] / norm[n] - mu * mu
        step = (grad / N) / max(hess / N, 1e-12)
        s_new = min(max(s - step, 1e-3), s_max)
        done = abs(s_new - s) <= 1e-10 * s
        s = s_new
        if done:
            break
    return s


@njit(**REDUCE, **INNER)
def _losses(Zt, Tt, y, softmax, s, norm):
    """Mean cross-entropy of ``s Zt`` (softmax) or squared error of ``Zt``, ``Zt`` ``(K, N)``."""
    K, N = Zt.shape
    total = 0.0
    if softmax:
        for n in range(N):
            t = Zt[0, n]
            for k in range(1, K):
                t = max(t, Zt[k, n])
            norm[n] = t  # the row's maximum, then its shifted sum of exponentials
            total -= s * (Zt[y[n], n] - t)
        for n in range(N):
            e = 0.0
            for k in range(K):
                e += math.exp(s * (Zt[k, n] - norm[n]))
            total += math.log(e)
        return total / N
    for k in range(K):
        for n in range(N):
            d = Zt[k, n] - Tt[k, n]
            total += d * d
    return total / (N * K)


@njit(nogil=True, **REDUCE)
def readout_work(counter, n_tasks, H, code, ab, Tt, y, ridge, softmax, temperature, loo, W, losses, fitness):
    """Tasks are members: ``W[p]`` ``(h+1, K)`` (bias last), ``losses[p]`` and ``fitness[p]``.

    The features of member ``p`` are ``ab[0] f(ab[1] H[p])`` for the activation ``code``
    of :mod:`.activations` (``H`` is overwritten with them; ``IDENTITY`` with ``ab = (1, 1)``
    leaves it). ``Tt`` is the targets transposed, ``(K, N)`` (one-hot for a softmax net,
    labels ``y``).
    """
    task = fetch_add(counter, 1)
    if task >= n_tasks:
        return 0
    _, N, h = H.shape
    K = Tt.shape[0]
    m = h + 1
    A = np.empty((m, m))
    B = np.empty((m, K))
    Ht = np.empty((m, N))
    V = np.empty((m, N))
    Zt = np.empty((K, N))
    Zloo = np.empty((K, N))
    U = np.empty((K, N), np.float32)
    lev, picked = np.empty(N), np.empty(N)
    norm, mean, second = np.empty(N), np.empty(N), np.empty(N)
    v = np.empty(m)
    done = 0
    while task < n_tasks:
        p = task
        activate(H[p].reshape(N * h), code, ab[0], ab[1])
        for n in range(N):
            for i in range(h):
                Ht[i, n] = H[p, n, i]
            Ht[h, n] = 1.0
        _normal_equations(Ht, Tt, y, softmax, ridge, A, B)
        Wp = W[p]
        if not _cholesky(A):
            Wp[:] = 0.0
            losses[p] = np.inf
            fitness[p] = np.inf
            done += 1
            task = fetch_add(counter, 1)
            continue
        _solve_columns(A, B, Wp, v)
        Zt[:] = 0.0
        for i in range(m):
            for k in range(K):
                c = Wp[i, k]
                for n in range(N):
                    Zt[k, n] += c * Ht[i, n]
        Zf = Zt  # the logits the fitness sees: the leave-one-out ones with loo
        if loo:
            _leverages(A, Ht, V, lev)
            for n in range(N):
                lev[n] = min(lev[n], 1.0 - 1e-12)
            for k in range(K):
                for n in range(N):
                    Zloo[k, n] = (Zt[k, n] - lev[n] * Tt[k, n]) / (1.0 - lev[n])
            Zf = Zloo
        s = 1.0
        if softmax and temperature:
            for n in range(N):
                t = Zf[0, n]
                for k in range(1, K):
                    t = max(t, Zf[k, n])
                for k in range(K):
                    U[k, n] = Zf[k, n] - t
                picked[n] = Zf[y[n], n] - t
            s = _temperature(U, picked, MAX_TEMPERATURE, norm, mean, second)
            for i in range(m):
                for k in range(K):
                    Wp[i, k] *= s
        losses[p] = _losses(Zt, Tt, y, softmax, s, norm)
        fitness[p] = _losses(Zf, Tt, y, softmax, s, norm) if loo else losses[p]
        done += 1
        task = fetch_add(counter, 1)
    return done


compiling.name("readout", readout_work)


def fit_readouts(Z, T, y, ridge, temperature=True, loo=True, activation=None, scale=1.0, slope=1.0,
                 n_jobs=1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge readouts ``(P, h+1, K)`` (bias row last), their losses and fitnesses ``(P,)``,
    on ``n_jobs`` threads: what :func:`evoneuro.optimizers._ridge.fit_readouts` computes.

    The features are ``scale * f(slope * Z)`` for the activation named ``activation``
    (``None``: ``Z`` itself); ``Z`` ``(P, N, h)`` float32 or float64 is overwritten by them
    when it is C-contiguous. ``T`` ``(N, K)`` are the targets (one-hot for a softmax net,
    whose labels ``y`` ``(N,)`` are then given; ``None`` for a linear net). A member whose
    normal equations are not positive definite gets zero weights and ``inf`` loss and fitness.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[[0.0], [1.0], [2.0], [3.0]]]); T = 2 * Z[0] + 1
    >>> W, loss, fitness = fit_readouts(Z, T, None, ridge=1e-9)
    >>> W.round(6).ravel(), bool(loss[0] < 1e-12), bool(fitness[0] < 1e-12)   # T = 2 Z + 1 exactly
    (array([2., 1.]), True, True)
    """
    H = np.ascontiguousarray(Z)
    code = IDENTITY if activation is None else act_code(activation, H.dtype)
    ab = np.asarray((scale, slope), H.dtype)
    P, _, h = H.shape
    W = np.empty((P, h + 1, T.shape[1]))
    losses, fitness = np.empty(P), np.empty(P)
    labels = np.zeros(1, np.int64) if y is None else np.ascontiguousarray(y, dtype=np.int64)
    pool.run(readout_work, P, (H, code, ab, np.ascontiguousarray(T.T), labels, float(ridge), y is not None,
                               temperature, loo, W, losses, fitness), n_jobs)
    return W, losses, fitness
