"""Where each layer's parameters live inside the flat parameter vector.

Layer ``l`` occupies one contiguous block: its weight matrix ``W`` of shape
``(fan_in, fan_out)`` in row-major order (scikit-learn's ``coefs_`` orientation), then its
bias ``b`` of shape ``(fan_out,)``, then — for the layer kinds that have one — an extra
per-unit vector ``e`` of shape ``(fan_out,)``. A population matrix ``Theta`` of shape
``(P, n)`` is viewed as ``W`` of shape ``(P, fan_in, fan_out)`` without copying: each
member's block is contiguous, members are one row stride apart.

Layer kinds and the meaning of their blocks:

========== ===================== ====================== ===================
kind       W                     b                      e
========== ===================== ====================== ===================
dense      weights               bias                   —
weightnorm direction V            bias                   gain g (W = g V/‖V‖)
layernorm  weights               shift β                gain γ
cosine     weights               bias                   —
rbf        centres c             log-width ρ (σ = e^ρ)  —
========== ===================== ====================== ===================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

KINDS = ("dense", "weightnorm", "layernorm", "cosine", "rbf")
_HAS_EXTRA = {"weightnorm", "layernorm"}


@dataclass(frozen=True)
class LayerSlice:
    """Offsets of one layer's parameters in the flat vector."""

    fan_in: int
    fan_out: int
    w_start: int
    kind: str = "dense"

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
    def e_start(self) -> int:
        return self.b_end

    @property
    def e_end(self) -> int:
        return self.b_end + (self.fan_out if self.kind in _HAS_EXTRA else 0)

    @property
    def end(self) -> int:
        """One past the layer's last parameter."""
        return self.e_end

    @property
    def w_shape(self) -> tuple[int, int]:
        return (self.fan_in, self.fan_out)

    def weights(self, theta):
        """View of ``W``: ``(fan_in, fan_out)`` for a vector, ``(P, fan_in, fan_out)`` for a matrix."""
        return theta[..., self.w_start : self.w_end].reshape(theta.shape[:-1] + self.w_shape)

    def bias(self, theta):
        """View of ``b``: ``(fan_out,)`` for a vector, ``(P, fan_out)`` for a matrix."""
        return theta[..., self.b_start : self.b_end]

    def extra(self, theta):
        """View of the extra per-unit vector (weightnorm's g, layernorm's γ); empty otherwise."""
        return theta[..., self.e_start : self.e_end]


def make_layout(sizes: Sequence[int], kinds: Sequence[str] | None = None) -> tuple[tuple[LayerSlice, ...], int]:
    """Slices for layer sizes ``[n_inputs, *hidden, n_outputs]`` (and kinds), and ``n_params``."""
    kinds = kinds or ["dense"] * (len(sizes) - 1)
    slices = []
    start = 0
    for fan_in, fan_out, kind in zip(sizes[:-1], sizes[1:], kinds):
        s = LayerSlice(int(fan_in), int(fan_out), start, kind)
        slices.append(s)
        start = s.end
    return tuple(slices), start
