"""The CuPy GPU backend: the reference code of :mod:`array_backend` with ``xp = cupy``.

Parameters and data are copied to the GPU per call; losses and gradients come back as
NumPy arrays, so optimizers never see a device array.
"""

from __future__ import annotations

from evoneuro.backends.array_backend import ArrayBackend


def cupy_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, or CUDA driver/runtime errors without a GPU
        return False


class CupyBackend(ArrayBackend):
    """:class:`ArrayBackend` over CuPy."""

    name = "cupy"

    def __init__(self, n_jobs: int | None = None) -> None:
        try:
            import cupy
        except ImportError as exc:
            raise ImportError(
                "backend='cupy' needs CuPy and an NVIDIA GPU: pip install 'evoneuro[gpu]'"
            ) from exc
        if not cupy_available():
            raise RuntimeError("backend='cupy': CuPy is installed but no CUDA device was found")
        super().__init__(cupy)  # n_jobs: the GPU does the work; host BLAS is not used

    def to_host(self, a):
        return self.xp.asnumpy(a)
