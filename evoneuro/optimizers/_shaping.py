"""Fitness shaping and recombination weights shared by the evolution strategies.

All functions take *losses* (lower is better) and return weights in the order of the
losses given, so callers never have to sort their samples.

References
----------
Salimans, T., Ho, J., Chen, X., Sidor, S., Sutskever, I. (2017). Evolution Strategies as
a Scalable Alternative to Reinforcement Learning. arXiv:1703.03864. (centred ranks)
Wierstra, D., Schaul, T., Glasmachers, T., Sun, Y., Peters, J., Schmidhuber, J. (2014).
Natural Evolution Strategies. JMLR 15. (utilities)
Hansen, N. (2016). The CMA Evolution Strategy: A Tutorial. arXiv:1604.00772. (weights)
"""

from __future__ import annotations

import numpy as np


def ranks(losses: np.ndarray) -> np.ndarray:
    """0 for the lowest loss, ``P - 1`` for the highest (ties by position).

    >>> ranks(np.array([3.0, 1.0, 2.0]))
    array([2, 0, 1])
    """
    order = np.argsort(losses, kind="stable")
    r = np.empty(len(losses), dtype=np.int64)
    r[order] = np.arange(len(losses))
    return r


def centered_ranks(losses: np.ndarray) -> np.ndarray:
    """Ranks scaled to ``[-0.5, 0.5]``: ``-0.5`` for the lowest loss (Salimans et al.).

    >>> centered_ranks(np.array([3.0, 1.0, 2.0]))
    array([ 0.5, -0.5,  0. ])
    """
    P = len(losses)
    if P < 2:
        return np.zeros(P)
    return ranks(losses) / (P - 1) - 0.5


def nes_utilities(P: int) -> np.ndarray:
    """NES utilities by rank (best first): ``max(0, ln(P/2 + 1) - ln k)`` normalised, minus 1/P.

    They sum to zero, so a flat landscape gives a zero update.

    >>> np.round(nes_utilities(4), 3)
    array([ 0.48,  0.02, -0.25, -0.25])
    """
    k = np.arange(1, P + 1)
    u = np.maximum(0.0, np.log(P / 2 + 1) - np.log(k))
    return u / u.sum() - 1.0 / P


def by_rank(losses: np.ndarray, weights_best_first: np.ndarray) -> np.ndarray:
    """Give each loss the weight of its rank: ``out[i] = weights_best_first[rank(i)]``.

    >>> by_rank(np.array([3.0, 1.0, 2.0]), np.array([1.0, 0.5, 0.0]))
    array([0. , 1. , 0.5])
    """
    return weights_best_first[ranks(losses)]


def weighted_sum(w: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """``sum_k w[k] * Z[k]`` for a population matrix ``Z`` ``(P, n)``, in ``Z``'s dtype.

    The same as ``w @ Z``, without BLAS: a vector-matrix product this flat is
    memory-bound, and a multithreaded BLAS on a busy machine makes it two orders of
    magnitude slower (figures in ``docs/guide/optimizers.md``).

    >>> weighted_sum(np.array([1.0, -1.0]), np.array([[1.0, 2.0], [3.0, 5.0]]))
    array([-2., -3.])
    """
    return np.einsum("p,pn->n", w.astype(Z.dtype, copy=False), Z)


def cma_weights(P: int, mu: int | None = None) -> np.ndarray:
    """Positive recombination weights ``ln(mu + 1/2) - ln i`` for the ``mu`` best, summing to 1.

    >>> w = cma_weights(6)
    >>> len(w), round(float(w.sum()), 12)
    (3, 1.0)
    """
    mu = P // 2 if mu is None else mu
    w = np.log(mu + 0.5) - np.log(np.arange(1, mu + 1))
    return w / w.sum()
