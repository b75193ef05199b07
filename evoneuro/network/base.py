"""What every network kind (MLP, RNN, ...) gives the evaluator, problems and optimizers.

A kind is a specification with a flat layout (``layers``, ``n_params``, ``unflatten``,
``flatten``), an ``init``, and the input rules of its data: the shape of ``X`` and ``y``,
optional per-sequence ``lengths``, the memory one member's evaluation holds. Its ``kind``
name picks its entry in :mod:`evoneuro.network.kinds`, which names its code in each
backend, its diagnostics and its callable form, so the evaluator, the backends and the
layers above take any kind without branching on it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np

from evoneuro.network.init import check_rng


def check_size(value, name: str, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum``, or a ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


class Network(ABC):
    """Base of the network kinds: the flat-vector rules they share and the hooks they fill.

    Subclasses set ``kind``, ``n_inputs``, ``n_outputs``, ``output``, ``hidden``,
    ``sizes``, ``layers`` (one :class:`~evoneuro.network.layout.LayerSlice` per weight
    layer, each with ``w_start``/``end``) and ``n_params``, and implement the abstract
    methods below.

    Examples
    --------
    >>> import evoneuro as en
    >>> from evoneuro.network.base import Network
    >>> mlp, rnn = en.MLP(3, (4,), 2), en.RNN(3, (4,), 2, cell="gru")
    >>> isinstance(rnn, Network), mlp.kind, rnn.kind
    (True, 'mlp', 'rnn')
    >>> rnn.check_X([[[0.0] * 3] * 5] * 2).shape      # (N, T, d) sequences
    (2, 5, 3)
    >>> [(s.w_start, s.end) for s in rnn.layers]        # per-layer blocks of the flat vector
    [(0, 96), (96, 106)]
    """

    kind: str = ""
    #: Whether :func:`evoneuro.training.lsuv.data_init` may standardise layer by layer.
    layerwise_data_init: bool = False
    #: Whether the net is a feed-forward stack of layers, each fed by the one below (dropout
    #: on a layer's input rows and greedy layer-wise pretraining need one).
    feedforward: bool = False
    #: Leading axes of ``X`` that a budget counts as samples (2 for ``(N, T, d)`` sequences).
    sample_axes: int = 1
    n_inputs: int
    n_outputs: int
    output: str
    hidden: tuple[int, ...]
    sizes: tuple[int, ...]
    layers: tuple
    n_params: int

    # --- identity -----------------------------------------------------------------------

    @abstractmethod
    def _key(self) -> tuple:
        """Everything that defines the network; equal keys mean equal networks."""

    def __eq__(self, other) -> bool:
        return isinstance(other, Network) and other.kind == self.kind and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.kind, self._key()))

    @property
    def n_layers(self) -> int:
        """Number of weight layers."""
        return len(self.layers)

    @property
    def is_plain(self) -> bool:
        """True for the kind the fused kernels of every backend cover (a plain MLP)."""
        return False

    # --- parameters ---------------------------------------------------------------------

    def check_theta(self, theta, name: str = "theta") -> np.ndarray:
        """``theta`` as an array whose last axis is ``n_params``, or a clear error."""
        arr = np.asarray(theta)
        if arr.ndim not in (1, 2) or arr.shape[-1] != self.n_params:
            raise ValueError(
                f"{name} must have shape (n_params,) or (P, n_params) with "
                f"n_params={self.n_params}; got shape {arr.shape}"
            )
        if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        return arr

    @abstractmethod
    def init(self, rng=None, scheme: str = "glorot", gain: float = 1.0) -> np.ndarray:
        """Draw one float64 parameter vector ``(n_params,)``."""

    @classmethod
    @abstractmethod
    def warmup_examples(cls) -> dict[str, tuple[Network, np.ndarray, np.ndarray]]:
        """Small nets of this kind with data, ``{name: (net, X, y)}``, one per set of
        compiled kernels (the RNN kind: one per cell): what :func:`evoneuro.warmup`
        evaluates to compile them. The names are those ``warmup(kinds=...)`` takes."""

    def init_population(self, size: int, rng=None, scheme: str | None = None, gain: float = 1.0) -> np.ndarray:
        """``size`` independent draws of :meth:`init`, as a ``(size, n_params)`` matrix.

        ``scheme=None`` is the kind's default scheme (that of :meth:`init`).
        """
        size = check_size(size, "size")
        rng = check_rng(rng)
        kw = {} if scheme is None else {"scheme": scheme}
        return np.stack([self.init(rng, gain=gain, **kw) for _ in range(size)])

    # --- data ---------------------------------------------------------------------------

    @abstractmethod
    def check_X(self, X, dtype=np.float64, name: str = "X") -> np.ndarray:
        """Inputs as a finite C-contiguous ``dtype`` array of the shape this kind takes."""

    @abstractmethod
    def check_y(self, y, n_samples: int, dtype=np.float64, X=None, name: str = "y") -> np.ndarray:
        """Labels or targets for ``n_samples`` inputs (``X``, when given, fixes any more axes)."""

    def check_lengths(self, lengths, X) -> np.ndarray | None:
        """Per-sample sequence lengths as int64 ``(N,)``, or None; kinds without steps take none."""
        if lengths is not None:
            raise ValueError(f"lengths is for sequence networks; a {type(self).__name__} takes lengths=None")
        return None

    def forward_cost(self, X_shape: tuple[int, ...]) -> int:
        """Sample-forward equivalents of one member's forward pass on inputs of shape ``X_shape``.

        A budget counts this per member (and 3x for a gradient); one row for a feed-forward
        net, one row per step for a sequence net.
        """
        return math.prod(X_shape[: self.sample_axes])  # called at every evaluation: no numpy here

    @abstractmethod
    def memory_per_member(self, X_shape: tuple[int, ...], need_grad: bool) -> int:
        """Array elements one member's evaluation on inputs of shape ``X_shape`` holds."""
