"""Ridge readouts for :class:`evoneuro.optimizers.readout.Readout`: the NumPy reference.

Batched over a population: the normal equations, the ridge solve, the leave-one-out
logits, the temperature of a softmax readout and the losses, each a few whole-array
operations. :func:`fit_readouts` runs them all; :func:`solve_readouts` uses the evaluator's
backend instead where it has a readout solve of its own (the Numba backend's kernel,
:mod:`evoneuro.backends.numba.readout`, tested against this module).
"""

from __future__ import annotations

import numpy as np

_MAX_TEMPERATURE = 50.0  # the fitted scale is capped: a separable minibatch would send it to infinity


def ridge_readout(H: np.ndarray, T: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge solutions ``(P, h+1, K)`` for features ``H`` ``(P, N, h)`` and targets ``T`` ``(N, K)``.

    Row ``h`` of each solution is the bias (unpenalised, as scikit-learn's
    ``Ridge(fit_intercept=True)``).

    Examples
    --------
    >>> import numpy as np
    >>> H = np.array([[[0.0], [1.0], [2.0]]]); T = np.array([[1.0], [3.0], [5.0]])
    >>> ridge_readout(H, T, alpha=1e-9).round(6)   # T = 2 H + 1
    array([[[2.],
            [1.]]])
    """
    _, A, B = _normal_equations(H, T, alpha)
    return np.linalg.solve(A, B)


def _normal_equations(H: np.ndarray, T: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``H1 = [H, 1]``, ``H1ᵀH1 + αD`` ``(P, h+1, h+1)`` and ``H1ᵀT`` ``(P, h+1, K)``, float64
    (``D``: the identity without the bias, which is not penalised)."""
    P, N, h = H.shape
    H1 = np.concatenate([H, np.ones((P, N, 1), dtype=H.dtype)], axis=2)
    H1t = H1.transpose(0, 2, 1)
    A = np.matmul(H1t, H1).astype(np.float64)
    A[:, np.arange(h), np.arange(h)] += alpha
    B = np.matmul(H1t, np.asarray(T, dtype=H.dtype)).astype(np.float64)
    return H1, A, B


def _finite_or_inf(losses: np.ndarray) -> np.ndarray:
    """Losses with every non-finite value (a failed solve, NaN features) as ``inf``: the worst."""
    return np.where(np.isfinite(losses), losses, np.inf)


def _temperature(logits: np.ndarray, y: np.ndarray, iterations: int = 8) -> np.ndarray:
    """Per member ``s`` ``(P,)`` minimising the mean cross-entropy of ``s * logits`` (Newton)."""
    N = logits.shape[1]
    # Written for speed (it runs on every member at every readout step): classes first,
    # (K, P, N), so the sums over the few classes are adds of whole (P, N) planes; two
    # buffers reused by every operation, as a fresh temporary of this size costs more in
    # page faults than its arithmetic; and float32 for the exponentials, which numpy
    # vectorises in float32 only. The per-member means and the Newton steps stay float64.
    LT = np.moveaxis(logits, 2, 0)
    top = LT.max(axis=0)
    LT = (LT - top).astype(np.float32)  # shifted per row: softmax unchanged, no overflow for s >= 0
    picked = logits[:, np.arange(N), y] - top
    p, pl = np.empty_like(LT), np.empty_like(LT)
    s = np.ones(logits.shape[0])
    for _ in range(iterations):
        np.multiply(LT, s.astype(np.float32)[None, :, None], out=p)
        np.exp(p, out=p)
        norm = p.sum(axis=0).astype(np.float64)
        np.multiply(p, LT, out=pl)
        mean = pl.sum(axis=0).astype(np.float64) / norm
        np.multiply(pl, LT, out=pl)
        var = pl.sum(axis=0).astype(np.float64) / norm - mean**2
        grad = (mean - picked).mean(axis=1)
        s = np.clip(s - grad / np.maximum(var.mean(axis=1), 1e-12), 1e-3, _MAX_TEMPERATURE)
    return s


def _loss(output: str, Z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The net's mean loss per member from output pre-activations ``Z`` ``(P, N, K)``."""
    if output == "softmax":
        ZT = np.moveaxis(Z, 2, 0)  # classes first, as in _temperature
        m = ZT.max(axis=0)
        lse = np.log(np.exp(ZT - m).sum(axis=0)) + m
        return (lse - Z[:, np.arange(Z.shape[1]), y]).mean(axis=1)
    return ((Z - y[None]) ** 2).mean(axis=(1, 2))


def fit_readouts(H: np.ndarray, T: np.ndarray, y: np.ndarray | None, ridge: float, temperature: bool = True,
                 loo: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge readouts ``(P, h+1, K)`` (bias row last), their losses and fitnesses ``(P,)``: the NumPy reference.

    ``H`` ``(P, N, h)`` float64 features, ``T`` ``(N, K)`` targets (one-hot for a softmax
    net, whose labels ``y`` ``(N,)`` are then given; ``None`` for a linear net). The
    losses are those of the returned weights on the rows they were solved on: mean
    cross-entropy (softmax) or squared error, ``inf`` where not finite. The fitnesses
    rank the members: with ``loo`` the same loss of every row's leave-one-out logits
    (see :class:`Readout`), else the losses themselves. A softmax net's weights are
    scaled by the temperature fitted on the logits the fitness sees. The Numba kernel
    (:mod:`evoneuro.backends.numba.readout`) computes the same.

    Examples
    --------
    >>> import numpy as np
    >>> H = np.array([[[0.0], [1.0], [2.0], [3.0]]]); T = 2 * H[0] + 1
    >>> W, loss, fitness = fit_readouts(H, T, None, ridge=1e-9)
    >>> W.round(6).ravel(), bool(loss[0] < 1e-12), bool(fitness[0] < 1e-12)   # T = 2 H + 1 exactly
    (array([2., 1.]), True, True)
    """
    H1, A, B = _normal_equations(H, T, ridge)
    W = np.linalg.solve(A, B)
    Z = np.matmul(H1, W)
    Zf = Z
    if loo:  # leverages l_n = h1_n^T A^-1 h1_n, the diagonal of the ridge's hat matrix
        lev = np.minimum(np.einsum("pni,pin->pn", H1, np.linalg.solve(A, H1.transpose(0, 2, 1))), 1.0 - 1e-12)
        Zf = (Z - lev[..., None] * T) / (1.0 - lev[..., None])
    if y is not None and temperature:
        s = _temperature(Zf, y)[:, None, None]
        W, Z, Zf = W * s, Z * s, Zf * s
    out = "softmax" if y is not None else "linear"
    target = y if y is not None else T
    losses = _finite_or_inf(_loss(out, Z, target))
    return W, losses, _finite_or_inf(_loss(out, Zf, target)) if loo else losses


def solve_readouts(ev, Z, activation, T, y, params: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`fit_readouts` on the features ``activation(Z)`` (``Z`` itself for ``None``): by
    the evaluator's backend where it has a readout solve of its own (the Numba backend's,
    which overwrites a C-contiguous ``Z`` with the features), else by NumPy."""
    args = (params["ridge"], params["temperature"], params.get("loo", False))  # no "loo" in older pickles
    fast = getattr(ev.implementation, "fit_readouts", None)
    if fast is None:
        # float64 from here: float32 normal equations make the losses, and so the ranking, noisy
        H = np.asarray(Z if activation is None else activation(Z), dtype=np.float64)
        return fit_readouts(H, T, y, *args)
    act = {} if activation is None else dict(activation=activation.name, scale=activation.scale,
                                             slope=activation.slope)
    W, losses, fitness = fast(Z, T, y, *args, **act)
    return W, _finite_or_inf(losses), _finite_or_inf(fitness)
