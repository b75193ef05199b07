"""A shared noise table: population noise by slicing, not by drawing.

Drawing a fresh ``(P, n)`` Gaussian matrix costs more than the whole rest of an ES
generation, longer than a Numba evaluation of the population (figures in
``docs/guide/optimizers.md``). Salimans et al. (2017) drew one large block of Gaussian noise once and
gave every perturbation a random *offset* into it: a row is the contiguous slice
``table[o : o + n]``. Each entry is an exact N(0, 1) (or U[0, 1)) draw and the entries of a
row are independent; two rows are shifted copies only where their slices overlap, and
their correlation is that of a random sequence with a shift of itself (zero in
expectation). Slicing costs one memory copy.

The table is not pickled: it is rebuilt from its seed, so checkpoints stay small and a
resumed run draws exactly the same rows.

References
----------
Salimans, T., Ho, J., Chen, X., Sidor, S., Sutskever, I. (2017). Evolution Strategies as
a Scalable Alternative to Reinforcement Learning. arXiv:1703.03864, section 2.1.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_MIN_SIZE = 1 << 18
_MAX_SIZE = 1 << 24


@lru_cache(maxsize=4)
def _block(kind: str, seed: int, size: int, dtype: str) -> np.ndarray:
    gen = np.random.Generator(np.random.SFC64(seed))
    if kind == "normal":
        block = gen.standard_normal(size, dtype=dtype)
    else:
        block = gen.random(size, dtype=dtype)
    block.flags.writeable = False
    return block


def default_size(n: int) -> int:
    """Table length for rows of length ``n``: a few hundred rows' worth, 256 Ki to 16 Mi."""
    return int(max(_MIN_SIZE, 4 * n, min(_MAX_SIZE, 256 * n)))


class NoiseTable:
    """Rows of N(0, 1) (``kind="normal"``) or U[0, 1) (``kind="uniform"``) noise of length ``n``.

    Parameters
    ----------
    n : int
        Row length (the number of parameters).
    rng : numpy Generator
        Draws the table's seed now and the row offsets later (pass the optimizer's).
    dtype : {"float32", "float64"}
        Dtype of the rows.
    kind : {"normal", "uniform"}
    size : int or None
        Table length; default :func:`default_size`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> table = NoiseTable(1000, rng, "float64")
    >>> Z = table.rows(rng, 5)
    >>> Z.shape, Z.dtype
    ((5, 1000), dtype('float64'))
    """

    def __init__(self, n: int, rng: np.random.Generator, dtype="float32", kind: str = "normal",
                 size: int | None = None) -> None:
        if kind not in ("normal", "uniform"):
            raise ValueError(f"kind must be 'normal' or 'uniform', got {kind!r}")
        self.n = int(n)
        self.kind = kind
        self.dtype = np.dtype(dtype).name
        self.size = default_size(self.n) if size is None else int(size)
        if self.size < self.n:
            raise ValueError(f"size must be >= n={self.n}, got {self.size}")
        self.seed = int(rng.integers(2**63))
        self._windows = self._make_windows()

    def _make_windows(self) -> np.ndarray:
        self._table = _block(self.kind, self.seed, self.size, self.dtype)
        return np.lib.stride_tricks.sliding_window_view(self._table, self.n)

    def rows(self, rng: np.random.Generator, count: int, out: np.ndarray | None = None) -> np.ndarray:
        """A ``(count, n)`` array of noise rows at random offsets: a new one, or written into
        ``out`` (of that shape and the table's dtype) and returned."""
        return self.rows_at(self.offsets(rng, count), out)

    def rows_at(self, offsets: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The rows at ``offsets`` (from :meth:`offsets`), a new array or written into ``out``."""
        if out is None:
            return self._windows[offsets]
        n, table = self.n, self._table
        for row, o in zip(out, offsets.tolist()):  # a memcpy per row
            row[:] = table[o:o + n]
        return out

    def offsets(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """The offsets of ``count`` rows into :attr:`table` (the draws :meth:`rows` makes):
        row ``i`` is ``table[o[i] : o[i] + n]``. For kernels that read rows without copying them."""
        return rng.integers(0, self.size - self.n + 1, size=count)

    @property
    def table(self) -> np.ndarray:
        """The whole read-only block of noise, ``(size,)``."""
        return self._table

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_windows"], state["_table"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._windows = self._make_windows()
