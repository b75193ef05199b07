"""The multilayer perceptron specification: sizes, activations, output, flat layout."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from evoneuro._validation import check_labels, check_targets, check_X
from evoneuro.network.activations import Activation, ActivationLike, get_activations
from evoneuro.network.base import Network
from evoneuro.network.base import check_size as _check_size
from evoneuro.network.init import check_rng, get_init
from evoneuro.network.layout import LayerSlice, make_layout
from evoneuro.network.losses import OUTPUTS


NORMS = (None, "layernorm", "weightnorm", "cosine")


def _check_norm(norm):
    if norm is not None and (not isinstance(norm, str) or norm.lower() not in NORMS[1:]):
        raise ValueError(f"norm must be one of {list(NORMS)}, got {norm!r}")
    return None if norm is None else norm.lower()


def _check_units(units, n_hidden: int) -> tuple[str, ...]:
    seq = [units] * n_hidden if isinstance(units, str) else list(units)
    if len(seq) != n_hidden:
        raise ValueError(f"units lists one entry per hidden layer: expected {n_hidden}, got {len(seq)}")
    for u in seq:
        if u not in ("dense", "rbf"):
            raise ValueError(f"units must be 'dense' or 'rbf' (or a list of those), got {u!r}")
    return tuple(seq)


def _check_residual(residual, hidden: tuple[int, ...]):
    if residual is None:
        return None
    k = _check_size(residual, "residual")
    for l in range(k, len(hidden), k):
        if hidden[l] != hidden[l - k]:
            raise ValueError(
                f"residual={k} adds hidden layer {l - k + 1}'s output to layer {l + 1}'s: their widths "
                f"must be equal, got {hidden[l - k]} and {hidden[l]}"
            )
    return k


class MLP(Network):
    """A fully connected network whose parameters are one flat vector.

    Parameters
    ----------
    n_inputs : int
        Number of input features.
    hidden : sequence of int
        Width of each hidden layer, e.g. ``(32,) * 10``; may be empty.
    n_outputs : int
        Number of outputs (classes for ``softmax``).
    activation : str, tuple, Activation or list of those, default="sigmoid"
        Hidden activation: one for all hidden layers or one per layer. A tuple
        ``(name, a, b)`` means ``a * name(b * z)``. See
        :data:`evoneuro.network.activations.ACTIVATIONS`.
    output : {"softmax", "linear"}, default="softmax"
        ``softmax`` with cross-entropy loss, or ``linear`` with mean squared error.
    norm : {None, "layernorm", "weightnorm", "cosine"}, default=None
        Normalisation of every hidden layer's pre-activation: LayerNorm before the
        activation (Ba, Kiros & Hinton 2016; learnable gain γ and shift β), WeightNorm
        (Salimans & Kingma 2016; W = g·V/‖V‖ per unit), or cosine normalisation
        (Luo et al. 2018; z = cos([h, 1], [w, b])).
    residual : int or None, default=None
        Identity shortcut around every block of ``residual`` hidden layers:
        ``h_l = act(z_l) + h_{l-k}`` for ``l = 1 + k, 1 + 2k, ...`` (He et al. 2016). Those
        layers must have equal widths.
    units : {"dense", "rbf"} or list of those, default="dense"
        ``rbf`` makes a hidden layer of Gaussian radial-basis units
        ``exp(-‖h - c‖² / (2σ²))`` with learnable centres ``c`` and widths ``σ``: its
        pre-activation is the scaled distance ``‖h - c‖ / (√2 σ)`` and its activation is
        always ``gaussian``. One entry for all hidden layers or one per layer.

    Attributes
    ----------
    sizes : tuple of int
        ``(n_inputs, *hidden, n_outputs)``.
    activations : tuple of Activation
        One per hidden layer.
    layers : tuple of LayerSlice
        Where each layer's ``W`` and ``b`` sit in the flat vector.
    n_params : int
        Length of the flat parameter vector.

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> net = en.MLP(n_inputs=4, hidden=(8, 8), n_outputs=3, activation="tanh")
    >>> net.n_params
    139
    >>> theta = net.init(np.random.default_rng(0), scheme="glorot")
    >>> [W.shape for W, b in net.unflatten(theta)]
    [(4, 8), (8, 8), (8, 3)]
    >>> bool(np.array_equal(net.flatten(net.unflatten(theta)), theta))
    True
    """

    def __init__(
        self,
        n_inputs: int,
        hidden: Sequence[int] = (),
        n_outputs: int = 1,
        activation: ActivationLike | Sequence[ActivationLike] = "sigmoid",
        output: str = "softmax",
        norm: str | None = None,
        residual: int | None = None,
        units: str | Sequence[str] = "dense",
    ) -> None:
        n_inputs = _check_size(n_inputs, "n_inputs")
        n_outputs = _check_size(n_outputs, "n_outputs")
        if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if not isinstance(hidden, (list, tuple, np.ndarray)):
            raise TypeError(f"hidden must be a sequence of ints, got {type(hidden).__name__}")
        hidden = tuple(_check_size(h, f"hidden[{i}]") for i, h in enumerate(hidden))
        if not isinstance(output, str) or output not in OUTPUTS:
            raise ValueError(f"output must be one of {list(OUTPUTS)}, got {output!r}")
        if output == "softmax" and n_outputs < 2:
            raise ValueError(f"output='softmax' needs n_outputs >= 2, got {n_outputs}")
        self.n_inputs = n_inputs
        self.hidden = hidden
        self.n_outputs = n_outputs
        self.output = output
        self.activations: tuple[Activation, ...] = get_activations(activation, len(hidden))
        self.sizes = (n_inputs, *hidden, n_outputs)
        self.norm = _check_norm(norm)
        self.units = _check_units(units, len(hidden))
        self.activations = tuple(Activation("gaussian") if u == "rbf" else a
                                 for a, u in zip(self.activations, self.units))
        self.residual = _check_residual(residual, hidden)
        kinds = [u if u == "rbf" else (self.norm or "dense") for u in self.units] + ["dense"]
        self.layers: tuple[LayerSlice, ...]
        self.layers, self.n_params = make_layout(self.sizes, kinds)

    def __repr__(self) -> str:
        acts = sorted({str(a) for a in self.activations})
        act = acts[0] if len(acts) == 1 else [str(a) for a in self.activations]
        extra = "".join(
            f", {k}={v!r}" for k, v in (("norm", self.norm), ("residual", self.residual)) if v is not None
        )
        if "rbf" in self.units:
            extra += f", units={list(self.units)!r}"
        return (
            f"MLP(n_inputs={self.n_inputs}, hidden={self.hidden}, n_outputs={self.n_outputs}, "
            f"activation={act!r}, output={self.output!r}{extra})"
        )

    kind = "mlp"
    layerwise_data_init = True
    feedforward = True

    def _key(self) -> tuple:
        return (self.sizes, self.activations, self.output, self.norm, self.residual, self.units)

    @property
    def is_plain(self) -> bool:
        """True for a plain MLP: dense layers, no normalisation, no shortcuts."""
        return self.norm is None and self.residual is None and "rbf" not in self.units

    def last_hidden(self) -> tuple["MLP", np.ndarray, bool]:
        """The net cut after its last hidden layer, for a readout solved on that layer: the
        cut (linear output: the layer's pre-activations), the parameters it takes after this
        net's hidden ones (none), and True (its outputs still need the activation).

        Examples
        --------
        >>> import evoneuro as en
        >>> cut, tail, activate = en.MLP(4, (8, 6), 3).last_hidden()
        >>> cut.sizes, tail.size, activate
        ((4, 8, 6), 0, True)
        """
        if not self.hidden or not self.is_plain:
            raise ValueError(f"a readout of the last hidden layer needs a plain MLP with hidden layers, got {self!r}")
        cut = MLP(self.n_inputs, self.hidden[:-1], self.hidden[-1], activation=list(self.activations[:-1]),
                  output="linear")
        return cut, np.zeros(0), True

    def skip_source(self, layer: int) -> int | None:
        """Index of the hidden layer whose output is added to hidden layer ``layer``'s (0-based)."""
        k = self.residual
        if k is None or layer < k or layer % k:
            return None
        return layer - k

    # --- data (the Network hooks the evaluator calls) ------------------------------------

    def check_X(self, X, dtype=np.float64, name: str = "X") -> np.ndarray:
        """``X`` as a finite ``(N, n_inputs)`` array in ``dtype``."""
        return check_X(X, self.n_inputs, dtype, name)

    def check_y(self, y, n_samples: int, dtype=np.float64, X=None, name: str = "y") -> np.ndarray:
        """Labels ``(N,)`` for softmax nets, targets ``(N, n_outputs)`` for linear ones."""
        if self.output == "softmax":
            return check_labels(y, n_samples, self.n_outputs, name)
        return check_targets(y, n_samples, self.n_outputs, dtype, name)

    def memory_per_member(self, X_shape, need_grad: bool) -> int:
        """Elements per member: every layer's z and h kept for the backward pass, plus a gradient row."""
        n, widths = X_shape[0], self.sizes[1:]
        if need_grad:
            return 2 * n * sum(widths) + 2 * n * max(widths) + 2 * self.n_params
        return 3 * n * max(widths) + self.n_params

    def unflatten(self, theta) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per-layer ``(W, b)`` views of a flat vector (or of a population matrix).

        ``W`` has shape ``(fan_in, fan_out)`` (scikit-learn's ``coefs_`` orientation), or
        ``(P, fan_in, fan_out)`` for a matrix ``(P, n_params)``. No data is copied, so
        writing into a view writes into ``theta``.
        """
        theta = self.check_theta(theta)
        return [(s.weights(theta), s.bias(theta)) + ((s.extra(theta),) if s.e_end > s.e_start else ())
                for s in self.layers]

    def flatten(self, layers: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Inverse of :meth:`unflatten`: a list of ``(W, b)`` to one vector ``(n_params,)``."""
        if len(layers) != self.n_layers:
            raise ValueError(f"layers must hold {self.n_layers} (W, b) pairs, got {len(layers)}")
        out = np.empty(self.n_params, dtype=np.result_type(*[np.asarray(a) for wb in layers for a in wb]))
        for i, (s, blocks) in enumerate(zip(self.layers, layers)):
            n_blocks = 3 if s.e_end > s.e_start else 2
            if len(blocks) != n_blocks:
                raise ValueError(f"layers[{i}] ({s.kind}) must hold {n_blocks} arrays, got {len(blocks)}")
            W, b = np.asarray(blocks[0]), np.asarray(blocks[1])
            if W.shape != s.w_shape or b.shape != (s.fan_out,):
                raise ValueError(
                    f"layers[{i}] must be (W of shape {s.w_shape}, b of shape ({s.fan_out},)); "
                    f"got W {W.shape}, b {b.shape}"
                )
            out[s.w_start : s.w_end] = W.ravel()
            out[s.b_start : s.b_end] = b
            if n_blocks == 3:
                out[s.e_start : s.e_end] = np.asarray(blocks[2]).reshape(s.fan_out)
        return out

    @classmethod
    def warmup_examples(cls) -> dict:
        """``{"mlp": (net, X, y)}``: a two-layer classifier, which compiles the kernels
        every plain MLP runs (see :meth:`Network.warmup_examples`)."""
        X = np.random.default_rng(0).normal(size=(4, 2))
        return {"mlp": (cls(2, (3,), 2), X, np.array([0, 1, 0, 1]))}

    def init(self, rng=None, scheme: str = "glorot", gain: float = 1.0) -> np.ndarray:
        """Draw a float64 parameter vector; biases are zero.

        Parameters
        ----------
        rng : None, int or numpy Generator
            Randomness source.
        scheme : str, default="glorot"
            ``standard`` (U[±1/√fan_in]), ``lecun``, ``lecun_uniform``, ``glorot``
            (uniform), ``glorot_normal``, ``he``, ``he_uniform``, ``orthogonal``, ``zeros``;
            or ``critical`` / ``critical_orthogonal``: the edge of chaos for the net's
            activations with ``σ_b² = 0.05`` (biases then random; see
            :func:`evoneuro.network.critical.critical_init`). LSUV needs data: call
            :func:`evoneuro.training.lsuv.lsuv_init` instead.
        gain : float, default=1.0
            Multiplies every weight (e.g. 4 for sigmoid with Glorot's scheme).
        """
        key = scheme.lower() if isinstance(scheme, str) else scheme
        if key in ("critical", "critical_orthogonal"):
            from evoneuro.network.critical import critical_init

            return critical_init(self, rng, orthogonal=key == "critical_orthogonal", gain=gain)
        if key == "lsuv":
            raise ValueError(
                "scheme='lsuv' needs a data batch: call en.lsuv_init(net, X, rng) "
                "(evoneuro.training.lsuv.lsuv_init) instead of net.init"
            )
        sampler = get_init(scheme)
        rng = check_rng(rng)
        theta = np.zeros(self.n_params)
        for s in self.layers:
            s.weights(theta)[...] = gain * sampler(rng, s.fan_in, s.fan_out)
        return self.init_extra(theta)

    def init_extra(self, theta: np.ndarray) -> np.ndarray:
        """Set the extra per-unit blocks so each layer starts as the plain layer it wraps.

        WeightNorm's gain g is set to ‖V‖ of each unit (so W = V at the start), LayerNorm's
        gain γ to 1. Modifies and returns ``theta``.
        """
        for s in self.layers:
            if s.kind == "weightnorm":
                s.extra(theta)[...] = np.linalg.norm(s.weights(theta), axis=-2)
            elif s.kind == "layernorm":
                s.extra(theta)[...] = 1.0
        return theta
