"""Where each layer's weights and bias live inside the flat parameter vector.

Layer ``l`` occupies one contiguous block: its weight matrix ``W`` of shape
``(fan_in, fan_out)`` in row-major order (scikit-learn's ``coefs_`` orientation), then its
bias ``b`` of shape ``(fan_out,)``. A population matrix ``Theta`` of shape ``(P, n)`` is
viewed as ``W`` of shape ``(P, fan_in, fan_out)`` without copying: each member's block is
contiguous, members are one row stride apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class LayerSlice:
    """Offsets of one layer's parameters in the flat vector."""

    fan_in: int
    fan_out: int
    w_start: int

    @property
    def w_end(self) -> int:
        return self.w_start + self.fan_in * self.fan_out

    @property
    def b_start(self) -> int:
        return self.w_end

    @property
    def b_end(self) -> int:
        return self.w_end + self.fan_out

    @property
    def w_shape(self) -> tuple[int, int]:
        return (self.fan_in, self.fan_out)

    def weights(self, theta):
        """View of ``W``: ``(fan_in, fan_out)`` for a vector, ``(P, fan_in, fan_out)`` for a matrix."""
        return theta[..., self.w_start : self.w_end].reshape(theta.shape[:-1] + self.w_shape)

    def bias(self, theta):
        """View of ``b``: ``(fan_out,)`` for a vector, ``(P, fan_out)`` for a matrix."""
        return theta[..., self.b_start : self.b_end]


def make_layout(sizes: Sequence[int]) -> tuple[tuple[LayerSlice, ...], int]:
    """Slices for consecutive layer sizes ``[n_inputs, *hidden, n_outputs]`` and ``n_params``."""
    slices = []
    start = 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        s = LayerSlice(int(fan_in), int(fan_out), start)
        slices.append(s)
        start = s.b_end
    return tuple(slices), start
