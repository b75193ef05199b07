"""The recurrent network specification: Elman, LSTM and GRU layers, flat layout, inits.

Flat layout
-----------
Recurrent layer ``l`` (input width ``d``, ``H`` units, ``G`` gates: 1 for ``elman``, 4 for
``lstm``, 3 for ``gru``) is one contiguous block, then the readout::

    W_i (d, G*H) | W_h (H, G*H) | b (G*H,)     per recurrent layer, row-major
    W (H_last, n_outputs) | b (n_outputs,)      the readout, as an MLP layer

``W_i`` and ``W_h`` together are one ``(d + H, G*H)`` matrix acting on ``[x_t, h_{t-1}]``:
``layers[l]`` is a :class:`~evoneuro.network.layout.LayerSlice` with ``fan_in = d + H``,
``fan_out = G*H`` and ``kind`` the cell name, so code written for an MLP's ``layers``
(per-layer slices, weight norms) runs unchanged. Column ``g*H + j`` is unit ``j`` of gate
``g``, gates in the order of :data:`GATES`: ``elman`` ``h``; ``lstm`` ``i, f, g, o`` (input,
forget, cell candidate, output); ``gru`` ``r, z, n`` (reset, update, candidate).

Equations (``σ`` the logistic sigmoid, ``φ`` the layer's ``activation``, initial state 0)::

    elman  h = φ(x W_i + h W_h + b)
    lstm   i, f, o = σ(.), g = φ(.);  c = f⊙c + i⊙g;  h = o⊙φ(c)     (no peepholes)
    gru    r, z = σ(.);  n = φ(x W_in + (r⊙h) W_hn + b_n);  h = (1-z)⊙n + z⊙h

``update="sequential"`` (Elman only) updates a layer's units in index order within a step
(Gauss-Seidel): unit ``j`` reads units ``i < j`` at the current step and ``i >= j`` at the
previous one, ``h_j = φ(x W_i[:, j] + h_new[:j] W_h[:j, j] + h[j:] W_h[j:, j] + b_j)``, as
in the classic fully recurrent nets whose output unit reads the hidden units' current values.

GRU follows Cho et al. (2014): the reset gate scales the state *before* the recurrent
product (cuDNN/PyTorch apply it after, with a second bias).

References
----------
Elman (1990). Finding structure in time. Cognitive Science.
Hochreiter & Schmidhuber (1997). Long short-term memory. Neural Computation.
Gers, Schmidhuber & Cummins (2000). Learning to forget. Neural Computation. (forget bias)
Cho et al. (2014). Learning phrase representations using RNN encoder-decoder. EMNLP.
Le, Jaitly & Hinton (2015). A simple way to initialize recurrent networks of rectified
linear units. arXiv:1504.00941. (``identity``)
Sompolinsky, Crisanti & Sommers (1988). Chaos in random neural networks. PRL. (``critical``)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from evoneuro._validation import _finite_cast, check_bool, check_labels, check_targets, real_array
from evoneuro.network.activations import Activation, ActivationLike, get_activations
from evoneuro.network.base import Network, check_size
from evoneuro.network.init import INITS, check_rng, get_init, orthogonal
from evoneuro.network.layout import LayerSlice

GATES: dict[str, tuple[str, ...]] = {"elman": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
CANDIDATE = {"elman": "h", "lstm": "g", "gru": "n"}  # the gate that carries φ, not σ
OUTPUTS = ("softmax", "sigmoid", "linear")
READOUTS = ("last", "all")
UPDATES = ("parallel", "sequential")
SCHEMES = ("glorot", "orthogonal", "identity", "critical")


def _choice(value, name: str, options) -> str:
    if not isinstance(value, str) or value.lower() not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")
    return value.lower()


class RNN(Network):
    """A stack of recurrent layers and a linear readout, as one flat parameter vector.

    Parameters
    ----------
    n_inputs : int
        Features per time step ``d``.
    hidden : int or sequence of int, default=(32,)
        Units of each recurrent layer; layer ``l + 1`` reads layer ``l``'s states.
    n_outputs : int, default=1
        Outputs (classes for ``softmax``).
    cell : {"elman", "lstm", "gru"}, default="elman"
        The recurrent unit; see the module docstring for the equations.
    activation : str, tuple, Activation or list of those, default="tanh"
        ``φ``: Elman's unit, the LSTM's cell input and output squashing, the GRU's
        candidate; one for all layers or one per layer. Gates are always logistic.
    output : {"softmax", "sigmoid", "linear"}, default="softmax"
        ``softmax`` + cross-entropy (labels), ``sigmoid`` per output + binary
        cross-entropy (targets in [0, 1], mean over samples and outputs), ``linear`` +
        mean squared error.
    readout : {"last", "all"}, default="last"
        Read the top layer's state at the last step (``y`` per sequence) or at every
        step (``y`` per step, loss averaged over the valid steps).
    self_connections : bool, default=True
        ``False`` zeroes the diagonal of every gate's recurrent matrix in the computation
        (the classic "no self-recurrence" nets). Those parameters stay in the vector, with
        no effect and zero gradient.
    update : {"parallel", "sequential"}, default="parallel"
        ``parallel``: every unit reads the previous step's states. ``sequential`` (Elman
        only): units are updated in index order, unit ``j`` reading units ``i < j`` at the
        current step (module docstring); same layout and parameters.

    Attributes
    ----------
    sizes : tuple of int
        ``(n_inputs, *hidden, n_outputs)``.
    activations : tuple of Activation
        One per recurrent layer.
    layers : tuple of LayerSlice
        One per recurrent layer (``kind`` the cell) and the readout (``"dense"``).
    n_params : int

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> rnn = en.RNN(n_inputs=2, hidden=(4,), n_outputs=3, cell="lstm")
    >>> rnn.n_params      # 4 gates x (2 + 4 + 1) x 4 units, then 4 x 3 + 3
    127
    >>> theta = rnn.init(np.random.default_rng(0), scheme="orthogonal")
    >>> layer, (W, b) = rnn.unflatten(theta)
    >>> layer["f"]["W_h"].shape, float(layer["f"]["b"][0]), W.shape
    ((4, 4), 1.0, (4, 3))
    >>> ev = en.Evaluator(rnn, dtype="float64")
    >>> ev.forward(theta, np.zeros((5, 7, 2))).shape   # (P, N, n_outputs); X is (N, T, d)
    (1, 5, 3)
    """

    kind = "rnn"
    sample_axes = 2  # a budget counts every step of every sequence
    update = "parallel"  # what nets pickled before the option read

    def __init__(
        self,
        n_inputs: int,
        hidden: int | Sequence[int] = (32,),
        n_outputs: int = 1,
        cell: str = "elman",
        activation: ActivationLike | Sequence[ActivationLike] = "tanh",
        output: str = "softmax",
        readout: str = "last",
        self_connections: bool = True,
        update: str = "parallel",
    ) -> None:
        self.n_inputs = check_size(n_inputs, "n_inputs")
        self.n_outputs = check_size(n_outputs, "n_outputs")
        if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if not isinstance(hidden, (list, tuple, np.ndarray)) or len(hidden) == 0:
            raise ValueError(f"hidden must be a non-empty sequence of ints, got {hidden!r}")
        self.hidden = tuple(check_size(h, f"hidden[{i}]") for i, h in enumerate(hidden))
        self.cell = _choice(cell, "cell", GATES)
        self.output = _choice(output, "output", OUTPUTS)
        if self.output == "softmax" and self.n_outputs < 2:
            raise ValueError(f"output='softmax' needs n_outputs >= 2, got {self.n_outputs}")
        self.readout = _choice(readout, "readout", READOUTS)
        self.self_connections = check_bool(self_connections, "self_connections")
        self.update = _choice(update, "update", UPDATES)
        if self.update == "sequential" and self.cell != "elman":
            raise ValueError(f"update='sequential' needs cell='elman', got cell={self.cell!r}")
        self.activations: tuple[Activation, ...] = get_activations(activation, len(self.hidden))
        self.sizes = (self.n_inputs, *self.hidden, self.n_outputs)
        self.gates = GATES[self.cell]
        G, start, layers = len(self.gates), 0, []
        for d, H in zip(self.sizes[:-2], self.hidden):
            layers.append(LayerSlice(d + H, G * H, start, self.cell))
            start = layers[-1].end
        layers.append(LayerSlice(self.hidden[-1], self.n_outputs, start, "dense"))
        self.layers: tuple[LayerSlice, ...] = tuple(layers)
        self.n_params = layers[-1].end

    def __repr__(self) -> str:
        acts = sorted({str(a) for a in self.activations})
        act = acts[0] if len(acts) == 1 else [str(a) for a in self.activations]
        extra = "" if self.self_connections else ", self_connections=False"
        extra += "" if self.update == "parallel" else f", update={self.update!r}"
        return (f"RNN(n_inputs={self.n_inputs}, hidden={self.hidden}, n_outputs={self.n_outputs}, "
                f"cell={self.cell!r}, activation={act!r}, output={self.output!r}, "
                f"readout={self.readout!r}{extra})")

    def _key(self) -> tuple:
        return (self.sizes, self.cell, self.activations, self.output, self.readout, self.self_connections,
                self.update)

    @property
    def n_recurrent(self) -> int:
        """Number of recurrent layers."""
        return len(self.hidden)

    # --- views of one recurrent layer --------------------------------------------------

    def input_weights(self, l: int, theta):
        """``W_i`` of layer ``l``: ``(..., d, G*H)``, a view."""
        return self.layers[l].weights(theta)[..., : self.sizes[l], :]

    def recurrent_weights(self, l: int, theta):
        """``W_h`` of layer ``l``: ``(..., H, G*H)``, a view."""
        return self.layers[l].weights(theta)[..., self.sizes[l]:, :]

    def last_hidden(self) -> tuple["RNN", np.ndarray, bool]:
        """This net with an identity readout, for a readout solved on the top layer's state
        (Evolino): the copy (``H`` linear outputs: the state at each sequence's last valid
        step), the parameters it takes after the recurrent ones (``I``, then zero biases),
        and False (its outputs are the states themselves).

        Examples
        --------
        >>> import evoneuro as en
        >>> cut, tail, activate = en.RNN(2, (4,), 3, cell="gru").last_hidden()
        >>> cut.n_outputs, tail.size, activate
        (4, 20, False)
        """
        if self.readout != "last" or self.output not in ("softmax", "linear"):
            raise ValueError("a readout of the last state solves one output per sequence: it needs an RNN with "
                             f"readout='last' and a softmax or linear output, got {self!r}")
        H = self.hidden[-1]
        cut = RNN(self.n_inputs, self.hidden, H, cell=self.cell, activation=list(self.activations), output="linear",
                  readout="last", self_connections=self.self_connections, update=self.update)
        return cut, np.concatenate([np.eye(H).ravel(), np.zeros(H)]), False

    def recurrent_mask(self, l: int) -> np.ndarray | None:
        """``(H, G*H)`` 0/1 mask of ``W_h`` without self-connections; None when they are kept."""
        if self.self_connections:
            return None
        H = self.hidden[l]
        return np.tile(1.0 - np.eye(H), (1, len(self.gates)))

    def unflatten(self, theta) -> list:
        """Named views: per recurrent layer ``{gate: {"W_i", "W_h", "b"}}``, then the readout ``(W, b)``.

        Shapes ``W_i (d, H)``, ``W_h (H, H)``, ``b (H,)``, with a leading ``P`` axis for a
        population matrix. No data is copied: writing into a view writes into ``theta``.
        """
        theta = self.check_theta(theta)
        out: list = []
        for l, H in enumerate(self.hidden):
            Wi, Wh, b = self.input_weights(l, theta), self.recurrent_weights(l, theta), self.layers[l].bias(theta)
            cols = [slice(g * H, (g + 1) * H) for g in range(len(self.gates))]
            out.append({name: {"W_i": Wi[..., c], "W_h": Wh[..., c], "b": b[..., c]}
                        for name, c in zip(self.gates, cols)})
        s = self.layers[-1]
        out.append((s.weights(theta), s.bias(theta)))
        return out

    def flatten(self, layers: Sequence) -> np.ndarray:
        """Inverse of :meth:`unflatten` for one network: its structure to ``(n_params,)``."""
        if len(layers) != self.n_layers:
            raise ValueError(f"layers must hold {self.n_recurrent} recurrent layers and the readout, "
                             f"got {len(layers)} entries")
        arrays = [np.asarray(a) for layer in layers[:-1] for gate in layer.values() for a in gate.values()]
        theta = np.empty(self.n_params, dtype=np.result_type(*arrays, *map(np.asarray, layers[-1])))
        views = self.unflatten(theta)
        for l, (layer, view) in enumerate(zip(layers[:-1], views[:-1])):
            if not isinstance(layer, dict) or set(layer) != set(self.gates):
                raise ValueError(f"layers[{l}] must be a dict with the gates {list(self.gates)}")
            for name in self.gates:
                for key, dst in view[name].items():
                    src = np.asarray(layer[name][key])
                    if src.shape != dst.shape:
                        raise ValueError(f"layers[{l}][{name!r}][{key!r}] must have shape {dst.shape}, got {src.shape}")
                    dst[...] = src
        W, b = map(np.asarray, layers[-1])
        if W.shape != views[-1][0].shape or b.shape != views[-1][1].shape:
            raise ValueError(f"the readout must be (W {views[-1][0].shape}, b {views[-1][1].shape}); "
                             f"got W {W.shape}, b {b.shape}")
        views[-1][0][...], views[-1][1][...] = W, b
        return theta

    # --- init --------------------------------------------------------------------------

    @classmethod
    def warmup_examples(cls) -> dict:
        """``{cell: (net, X, y)}`` for the Elman, LSTM and GRU cells, each compiled
        separately (see :meth:`Network.warmup_examples`)."""
        X = np.random.default_rng(0).normal(size=(4, 3, 1))
        return {cell: (cls(1, (3,), 2, cell=cell), X, np.array([0, 1, 0, 1])) for cell in ("elman", "lstm", "gru")}

    def init(self, rng=None, scheme: str = "orthogonal", gain: float = 1.0, forget_bias: float = 1.0) -> np.ndarray:
        """Draw a float64 parameter vector.

        Input weights ``W_i`` and the readout are Glorot-uniform per gate; the recurrent
        matrices ``W_h`` depend on ``scheme``:

        ============ ============================================================
        glorot       Glorot-uniform ``(H, H)`` per gate (variance ``1/H``)
        orthogonal   an orthogonal matrix per gate (Saxe et al. 2014)
        identity     the identity for the candidate (IRNN, Le et al. 2015),
                     orthogonal for the sigmoid gates
        critical     the candidate's ``N(0, 1/(H c²))``, ``c = φ'`` at its largest:
                     the linearised ``h ↦ φ(h W_h)`` at 0 has spectral radius ≈ 1,
                     the edge of chaos (Sompolinsky et al. 1988); gates orthogonal
        ============ ============================================================

        Any other name of :data:`evoneuro.network.init.INITS` (``"he"``, ``"zeros"``, ...)
        draws every matrix with that scheme. Biases are zero but the LSTM forget gate's,
        ``forget_bias`` (Gers et al. 2000). ``gain`` multiplies every weight.
        """
        key = scheme.lower() if isinstance(scheme, str) else scheme
        if key not in SCHEMES and key not in INITS:
            raise ValueError(f"scheme must be one of {list(SCHEMES)} or a name of evoneuro.INITS, got {scheme!r}")
        rng = check_rng(rng)
        outer = get_init("glorot" if key in SCHEMES else key)
        theta = np.zeros(self.n_params)
        for l, H in enumerate(self.hidden):
            act = self.activations[l]
            for name, gate in self.unflatten(theta)[l].items():
                gate["W_i"][...] = gain * outer(rng, self.sizes[l], H)
                gate["W_h"][...] = gain * self._recurrent(key, name == CANDIDATE[self.cell], act, rng, H)
            if self.cell == "lstm":
                self.unflatten(theta)[l]["f"]["b"][...] = forget_bias
        s = self.layers[-1]
        s.weights(theta)[...] = gain * outer(rng, s.fan_in, s.fan_out)
        return theta

    @staticmethod
    def _recurrent(key: str, candidate: bool, act: Activation, rng, H: int) -> np.ndarray:
        if key == "identity" and candidate:
            return np.eye(H)
        if key == "critical" and candidate:
            return rng.normal(0.0, 1.0 / (math.sqrt(H) * act.max_derivative), size=(H, H))
        if key in ("identity", "critical", "orthogonal"):
            return orthogonal(rng, H, H)
        return get_init(key)(rng, H, H)

    # --- data (the Network hooks the evaluator calls) ----------------------------------

    def check_X(self, X, dtype=np.float64, name: str = "X") -> np.ndarray:
        """``X`` as a finite ``(N, T, n_inputs)`` array in ``dtype``; ``(N, T)`` when ``n_inputs == 1``."""
        arr = real_array(X, name, ragged=f"pad the sequences to one length T, shape (n_samples, n_steps, "
                                          f"{self.n_inputs}), and pass lengths")
        if arr.ndim == 2 and self.n_inputs == 1:
            arr = arr[:, :, None]
        if arr.ndim != 3 or arr.shape[2] != self.n_inputs:
            one = " or (n_samples, n_steps)" if self.n_inputs == 1 else ""
            raise ValueError(f"{name} must have shape (n_samples, n_steps, {self.n_inputs}){one}, got {arr.shape}")
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise ValueError(f"{name} must have at least one sample and one step, got shape {arr.shape}")
        return _finite_cast(arr, dtype, name)

    def check_y(self, y, n_samples: int, dtype=np.float64, X=None, name: str = "y") -> np.ndarray:
        """Labels or targets per sequence (``readout="last"``) or per step (``"all"``).

        ``last``: labels ``(N,)`` (softmax), targets ``(N, n_outputs)``; ``all``: labels
        ``(N, T)``, targets ``(N, T, n_outputs)``; a target axis of 1 may be left out.
        ``X`` (checked), when given, fixes ``T``.
        """
        if self.readout == "last":
            return self.check_step_y(y, n_samples, dtype, name)
        arr = np.asarray(y)
        T = X.shape[1] if X is not None else (arr.shape[1] if arr.ndim >= 2 else -1)
        lead = (n_samples, T)
        K = self.n_outputs
        want = lead if self.output == "softmax" else lead + (K,)
        if self.output != "softmax" and K == 1 and arr.shape == lead:
            arr = arr[..., None]
        if arr.shape != want or T < 1:
            alt = f" or {lead}" if self.output != "softmax" and K == 1 else ""
            raise ValueError(f"{name} must have shape {want}{alt} to match X (readout='all': one "
                             f"{'label' if self.output == 'softmax' else 'target'} per step), got {np.shape(y)}")
        flat = self.check_step_y(arr.reshape((-1,) + arr.shape[2:]), n_samples * T, dtype, name)
        return flat.reshape(want)

    def check_step_y(self, y, n: int, dtype, name: str) -> np.ndarray:
        """``n`` labels or target rows, as the output's loss takes them."""
        if self.output == "softmax":
            return check_labels(y, n, self.n_outputs, name)
        arr = check_targets(y, n, self.n_outputs, dtype, name)
        if self.output == "sigmoid" and (arr.min() < 0 or arr.max() > 1):
            raise ValueError(f"{name} must lie in [0, 1] for output='sigmoid', got range [{arr.min()}, {arr.max()}]")
        return arr

    def check_lengths(self, lengths, X) -> np.ndarray | None:
        """Valid steps per sequence, int64 ``(N,)`` in ``[1, T]``, or None (all ``T`` steps)."""
        if lengths is None:
            return None
        arr = np.asarray(lengths)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"lengths must hold integers, got dtype {arr.dtype}")
        N, T = X.shape[:2]
        if arr.shape != (N,):
            raise ValueError(f"lengths must have shape ({N},) to match X, got {arr.shape}")
        if arr.min() < 1 or arr.max() > T:
            raise ValueError(f"lengths must lie in [1, {T}] (X has T={T} steps), got range [{arr.min()}, {arr.max()}]")
        return np.ascontiguousarray(arr, dtype=np.int64)

    def memory_per_member(self, X_shape, need_grad: bool) -> int:
        """Elements per member: per-step input projections and, for BPTT, every step's cache."""
        N, T = X_shape[0], (X_shape[1] if len(X_shape) > 1 else 1)
        widths = [s.fan_out for s in self.layers[:-1]]
        outputs = N * T * self.n_outputs
        if not need_grad:
            return N * T * (max(widths) + max(self.hidden)) + outputs + self.n_params
        cache = sum(N * T * (2 * w + H) for w, H in zip(widths, self.hidden))
        return cache + N * T * max(widths) + 2 * outputs + 2 * self.n_params
