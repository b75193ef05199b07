"""The NumPy reference backend: the oracle every other backend is tested against."""

from __future__ import annotations

import numpy as np

from evoneuro.backends.array_backend import ArrayBackend


class NumpyBackend(ArrayBackend):
    """:class:`ArrayBackend` over NumPy."""

    name = "numpy"

    def __init__(self, n_jobs: int | None = None) -> None:
        super().__init__(np, n_jobs)
