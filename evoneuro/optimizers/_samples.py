"""Standardised samples of points a strategy did not sample itself (told after a local search).

References
----------
Hansen, N. (2011). Injecting external solutions into CMA-ES. arXiv:1110.4181.
(clipping the Mahalanobis length of told points that were not sampled)
"""

from __future__ import annotations

import math

import numpy as np


def clipped_samples(Theta, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(x - mean) / scale`` for every row of ``Theta``, each clipped to pycma's bound
    ``sqrt(n) + 2n / (n + 2)`` on its length, so that a far-away point cannot blow up the
    step size (Hansen 2011).

    >>> z = clipped_samples(np.array([[1.0, 0.0], [100.0, 0.0]]), np.zeros(2), np.ones(2))
    >>> z[0], round(float(z[1, 0]), 3)
    (array([1., 0.]), 2.414)
    """
    z = (np.asarray(Theta, dtype=np.float64) - mean) / scale
    n = z.shape[1]
    bound = math.sqrt(n) + 2 * n / (n + 2)
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    return z * np.minimum(1.0, bound / np.maximum(norms, 1e-300))
