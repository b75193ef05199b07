"""Evaluation backends: ``numpy`` (reference), ``numba`` (parallel CPU), ``cupy`` (GPU).

A backend implements ``forward``, ``loss`` and ``loss_and_grad`` on a population matrix
already validated and cast by :class:`evoneuro.Evaluator`; see
:class:`evoneuro.backends.array_backend.ArrayBackend` for the reference.
"""

from __future__ import annotations

import importlib

BACKENDS = ("numpy", "numba", "cupy", "auto")

_CLASSES = {
    "numpy": ("evoneuro.backends.numpy_backend", "NumpyBackend"),
    "numba": ("evoneuro.backends.numba.backend", "NumbaBackend"),
    "cupy": ("evoneuro.backends.cupy_backend", "CupyBackend"),
}


def numba_available() -> bool:
    """True when the Numba backend imports."""
    try:
        importlib.import_module(_CLASSES["numba"][0])
        return True
    except ImportError:
        return False


def get_backend(name: str, n_jobs: int | None = None):
    """A backend instance by name; ``"auto"`` is ``numba`` where it imports, else ``numpy``.

    ``n_jobs`` (threads per call) goes to the named backends; a backend object is used as
    it is.
    """
    if not isinstance(name, str):
        if all(hasattr(name, m) for m in ("forward", "loss", "loss_and_grad")):
            return name
        raise TypeError(f"backend must be one of {list(BACKENDS)} or a backend object, got {name!r}")
    key = name.lower()
    if key == "auto":
        key = "numba" if numba_available() else "numpy"
    if key not in _CLASSES:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {name!r}")
    module, cls = _CLASSES[key]
    return getattr(importlib.import_module(module), cls)(n_jobs=n_jobs)
