"""The Neural Abstraction Pyramid: a recurrent hierarchy of 2-D feature maps with local, shared weights.

Behnke's pyramid (Behnke 2003, ch. 4 and 9; Behnke 2001) is a stack of levels of feature
maps at decreasing resolution: level ``l`` holds ``features[l]`` maps of ``H/2^l x W/2^l``
cells. Every cell is a saturating unit whose input is a sum of *projections*, each a small
kernel shared across positions (one per pair of feature maps), plus a bias per map, and the
whole net is iterated for ``iterations`` steps so that partial results serve as context.

Projections into level ``l`` (``s`` the states of the previous step, ``t - 1``; initial states 0)::

    input     k x k from the input maps (level 0 only; the input is fed at every step)
    lateral   k x k from level l itself                        stride 1, padding k // 2
    forward   4 x 4 from the finer level l - 1 (overlapping)   stride 2, padding 1
    backward  2 x 2 from the coarser level l + 1               each cell reads the one coarser
              cell above it with a kernel that depends on its position in that cell's 2 x 2 block

    z_l(t) = b_l + lateral(s_l(t-1)) + forward(s_{l-1}(t-1)) + backward(s_{l+1}(t-1)) [+ input(x)]
    s_l(t) = act(z_l(t))

The first ``n_outputs`` maps of level 0 are the outputs: their unit is the ``output``
function (logistic ``"sigmoid"`` or ``"linear"``), the others ``activation``. They are part
of the state (fed back like every map). The loss is the squared error of the outputs against
the target image, averaged over pixels, images and the read iterations with the weights of
``read`` (``"linear"``: weight proportional to ``t``, as Behnke's output error "increased
linearly with time").

Borders: cells outside a map read 0 (``border="zero"``, Behnke's superresolution net) or
the opposite edge (``"wrap"``, his fill-in net's wrap-around border).

Flat layout
-----------
One contiguous block per level ``l`` (a :class:`~evoneuro.network.layout.LayerSlice` of kind
``"pyramid"`` with ``fan_out = features[l]``), its kernels stacked as the rows of one
``(fan_in, features[l])`` matrix, then the bias::

    input (k, k, n_inputs, F_0)      level 0 only
    lateral (k, k, F_l, F_l)
    forward (4, 4, F_{l-1}, F_l)     l > 0
    backward (2, 2, F_{l+1}, F_l)    l < levels - 1
    bias (F_l,)

A kernel ``(a, c, i, o)`` weighs source map ``i`` at row offset ``a`` and column offset
``c`` of the window into map ``o``; :meth:`Pyramid.unflatten` gives the named views.

References
----------
Behnke (2003). Hierarchical Neural Networks for Image Interpretation. LNCS 2766, Springer.
Behnke (2001). Learning iterative image reconstruction in the Neural Abstraction Pyramid.
Int. J. Computational Intelligence and Applications 1(4):427-438.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evoneuro._validation import _finite_cast, real_array
from evoneuro.network.activations import Activation, ActivationLike, get_activation, get_activations
from evoneuro.network.base import Network, check_size
from evoneuro.network.init import INITS, check_rng, get_init
from evoneuro.network.layout import LayerSlice

OUTPUTS = ("sigmoid", "linear")
BORDERS = ("zero", "wrap")
READS = ("linear", "last", "all")
#: The projection kinds, in their order inside a level's block.
PROJECTIONS = ("input", "lateral", "forward", "backward")
FORWARD_KERNEL, FORWARD_STRIDE, FORWARD_PAD = 4, 2, 1
BACKWARD_KERNEL = 2


@dataclass(frozen=True)
class Projection:
    """One projection into level ``level``: its kernel's place in the flat vector.

    ``source`` is the level it reads (``None``: the input maps); ``size`` the kernel's side,
    ``stride`` and ``pad`` its window (the backward projection is the 2 x 2 up-sampling).
    """

    name: str
    level: int
    source: int | None
    size: int
    stride: int
    pad: int
    n_in: int
    n_out: int
    start: int

    @property
    def n_weights(self) -> int:
        return self.size * self.size * self.n_in * self.n_out

    @property
    def end(self) -> int:
        return self.start + self.n_weights

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.size, self.size, self.n_in, self.n_out)

    def kernel(self, theta):
        """View ``(..., size, size, n_in, n_out)`` of this kernel in ``theta``."""
        return theta[..., self.start:self.end].reshape(theta.shape[:-1] + self.shape)

    def matrix(self, theta):
        """The kernel as ``(..., size * size * n_in, n_out)``: rows ``(a, c, i)`` in that order."""
        return theta[..., self.start:self.end].reshape(theta.shape[:-1] + (-1, self.n_out))


def _read_weights(read, T: int) -> np.ndarray:
    if isinstance(read, str):
        key = read.lower()
        if key not in READS:
            raise ValueError(f"read must be one of {list(READS)} or a sequence of iterations in [1, {T}], got {read!r}")
        if key == "last":
            w = np.zeros(T)
            w[-1] = 1.0
        elif key == "all":
            w = np.ones(T)
        else:
            w = np.arange(1, T + 1, dtype=float)
        return w / w.sum()
    if not isinstance(read, (list, tuple, np.ndarray)) or len(read) == 0:
        raise ValueError(f"read must be one of {list(READS)} or a non-empty sequence of iterations in [1, {T}], "
                         f"got {read!r}")
    its = [check_size(t, "read[i]") for t in read]
    if max(its) > T:
        raise ValueError(f"read iterations must lie in [1, {T}] (iterations={T}), got {list(read)}")
    w = np.zeros(T)
    for t in its:
        w[t - 1] = 1.0
    return w / w.sum()


class Pyramid(Network):
    """A Neural Abstraction Pyramid: levels of feature maps, local shared weights, iterated.

    Parameters
    ----------
    shape : (int, int)
        Image height and width ``(H, W)``; both divisible by ``2 ** (levels - 1)``.
    levels : int, default=3
        Number of levels; each halves the resolution of the one below.
    features : int or sequence of int, default=(4, 8, 16)
        Feature maps per level (one int: the same on every level).
    kernel : int, default=3
        Side of the lateral and input kernels (odd). Forward kernels are 4 x 4 (stride 2),
        backward kernels 2 x 2 (see the module docstring).
    iterations : int, default=4
        Steps ``T`` the net is iterated.
    activation : str, tuple or Activation, or one per level, default="sigmoid"
        The hidden units (``"sigmoid"``, ``"tanh"``, ``(name, a, b)`` for ``a f(b z)``).
    output : {"sigmoid", "linear"}, default="sigmoid"
        The unit of the output maps (the first ``n_outputs`` maps of level 0).
    n_inputs : int, default=1
        Input maps (channels of ``X``).
    n_outputs : int, default=1
        Output maps (channels of ``y``); at most ``features[0]``.
    border : {"zero", "wrap"}, default="zero"
        What a window reads outside a map: 0, or the opposite edge.
    read : {"linear", "last", "all"} or sequence of int, default="linear"
        The iterations whose outputs the loss reads, and their weights: ``"linear"``
        proportional to ``t`` (Behnke), ``"last"`` only ``T``, ``"all"`` equal; a sequence
        names iterations (1-based), weighted equally.

    Attributes
    ----------
    resolutions : tuple of (int, int)
        ``(H_l, W_l)`` per level.
    projections : tuple of tuple of Projection
        Per level, its projections in layout order.
    layers : tuple of LayerSlice
        One per level (kind ``"pyramid"``): its kernels as the rows of one matrix, its bias.
    read_weights : ndarray (iterations,)
        The loss weight of each iteration (summing to 1).
    n_params : int

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> net = en.Pyramid(shape=(8, 8), levels=2, features=(2, 4), iterations=3)
    >>> net.resolutions, net.n_params
    (((8, 8), (4, 4)), 364)
    >>> levels = net.unflatten(net.init(0))
    >>> levels[1]["forward"].shape, levels[0]["backward"].shape
    ((4, 4, 2, 4), (2, 2, 4, 2))
    >>> X = np.random.default_rng(0).uniform(size=(5, 8, 8))      # (N, H, W) images
    >>> en.Evaluator(net, dtype="float64").forward(net.init(0), X).shape   # (P, N, H, W, n_outputs)
    (1, 5, 8, 8, 1)
    """

    kind = "pyramid"

    def __init__(
        self,
        shape: Sequence[int] = (16, 16),
        levels: int = 3,
        features: int | Sequence[int] = (4, 8, 16),
        kernel: int = 3,
        iterations: int = 4,
        activation: ActivationLike | Sequence[ActivationLike] = "sigmoid",
        output: str = "sigmoid",
        n_inputs: int = 1,
        n_outputs: int = 1,
        border: str = "zero",
        read: str | Sequence[int] = "linear",
    ) -> None:
        if not isinstance(shape, (tuple, list, np.ndarray)) or len(shape) != 2:
            raise ValueError(f"shape must be a pair (H, W), got {shape!r}")
        H, W = (check_size(v, f"shape[{i}]") for i, v in enumerate(shape))
        self.levels = check_size(levels, "levels")
        step = 2 ** (self.levels - 1)
        if H % step or W % step:
            raise ValueError(f"shape must be divisible by 2 ** (levels - 1) = {step} so that every level halves "
                             f"it, got shape={(H, W)} with levels={self.levels}")
        self.shape = (H, W)
        if isinstance(features, (int, np.integer)) and not isinstance(features, bool):
            features = (int(features),) * self.levels
        if not isinstance(features, (list, tuple, np.ndarray)) or len(features) != self.levels:
            raise ValueError(f"features must be an int or one int per level ({self.levels}), got {features!r}")
        self.features = tuple(check_size(f, f"features[{i}]") for i, f in enumerate(features))
        self.kernel = check_size(kernel, "kernel")
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (a window centred on its cell), got {kernel}")
        self.iterations = check_size(iterations, "iterations")
        self.n_inputs = check_size(n_inputs, "n_inputs")
        self.n_outputs = check_size(n_outputs, "n_outputs")
        if self.n_outputs > self.features[0]:
            raise ValueError(f"n_outputs must be <= features[0] = {self.features[0]} (the outputs are maps of "
                             f"level 0), got {self.n_outputs}")
        if not isinstance(output, str) or output.lower() not in OUTPUTS:
            raise ValueError(f"output must be one of {list(OUTPUTS)}, got {output!r}")
        self.output = output.lower()
        if not isinstance(border, str) or border.lower() not in BORDERS:
            raise ValueError(f"border must be one of {list(BORDERS)}, got {border!r}")
        self.border = border.lower()
        if self.border == "wrap" and min(H, W) // step < self.kernel // 2:
            raise ValueError(f"border='wrap' needs the coarsest level ({H // step}x{W // step}) at least as large as "
                             f"the kernel's reach ({self.kernel // 2})")
        self.read_weights = _read_weights(read, self.iterations)
        self.read = read if isinstance(read, str) else tuple(int(t) for t in read)
        self.activations: tuple[Activation, ...] = get_activations(activation, self.levels)
        self.output_activation = get_activation("sigmoid" if self.output == "sigmoid" else "identity")
        self.resolutions = tuple((H >> l, W >> l) for l in range(self.levels))
        self.hidden = self.features
        self.sizes = (self.n_inputs, *self.features)
        k, p = self.kernel, self.kernel // 2
        start, layers, projections = 0, [], []
        for l, F in enumerate(self.features):
            level = []
            specs = [("input", None, k, 1, p, self.n_inputs)] if l == 0 else []
            specs.append(("lateral", l, k, 1, p, F))
            if l > 0:
                specs.append(("forward", l - 1, FORWARD_KERNEL, FORWARD_STRIDE, FORWARD_PAD, self.features[l - 1]))
            if l < self.levels - 1:
                specs.append(("backward", l + 1, BACKWARD_KERNEL, BACKWARD_KERNEL, 0, self.features[l + 1]))
            at = start
            for name, src, size, stride, pad, n_in in specs:
                level.append(Projection(name, l, src, size, stride, pad, n_in, F, at))
                at = level[-1].end
            layers.append(LayerSlice((at - start) // F, F, start, "pyramid"))
            projections.append(tuple(level))
            start = layers[-1].end
        self.projections: tuple[tuple[Projection, ...], ...] = tuple(projections)
        self.layers: tuple[LayerSlice, ...] = tuple(layers)
        self.n_params = start

    def __repr__(self) -> str:
        acts = sorted({str(a) for a in self.activations})
        act = acts[0] if len(acts) == 1 else [str(a) for a in self.activations]
        io = "" if (self.n_inputs, self.n_outputs) == (1, 1) else f", n_inputs={self.n_inputs}, n_outputs={self.n_outputs}"
        return (f"Pyramid(shape={self.shape}, levels={self.levels}, features={self.features}, kernel={self.kernel}, "
                f"iterations={self.iterations}, activation={act!r}, output={self.output!r}{io}, "
                f"border={self.border!r}, read={self.read!r})")

    def _key(self) -> tuple:
        return (self.shape, self.features, self.kernel, self.iterations, self.activations, self.output,
                self.n_inputs, self.n_outputs, self.border, tuple(self.read_weights))

    def unit(self, l: int, outputs: bool = False) -> Activation:
        """The unit of level ``l``'s hidden maps, or (``outputs``) of the output maps."""
        return self.output_activation if outputs else self.activations[l]

    def last_hidden(self):
        """A pyramid has no separate output layer to solve on its features: its output maps
        are level-0 maps that the iterations feed back, so the closed-form readout
        (:class:`evoneuro.optimizers.readout.Readout`) does not apply; a ValueError says so."""
        raise ValueError("a readout solves a separate linear output layer on the last hidden features; a Pyramid's "
                         "outputs are maps of level 0 fed back at every iteration, so it has none. Use an inner "
                         "gradient-free optimizer directly ('sep-cmaes', 'es', ...)")

    # --- parameters ---------------------------------------------------------------------

    def projection(self, l: int, name: str) -> Projection:
        """Level ``l``'s projection ``name`` (one of :data:`PROJECTIONS`), or a ValueError."""
        for p in self.projections[l]:
            if p.name == name:
                return p
        have = [p.name for p in self.projections[l]]
        raise ValueError(f"level {l} has the projections {have}, not {name!r}")

    def unflatten(self, theta) -> list[dict]:
        """Named views per level: ``{"input"?, "lateral", "forward"?, "backward"?, "bias"}``.

        Kernels are ``(size, size, n_in, n_out)`` (a leading ``P`` axis for a population),
        biases ``(F_l,)``. No data is copied: writing into a view writes into ``theta``.
        """
        theta = self.check_theta(theta)
        return [{**{p.name: p.kernel(theta) for p in projs}, "bias": s.bias(theta)}
                for projs, s in zip(self.projections, self.layers)]

    def flatten(self, levels: Sequence[dict]) -> np.ndarray:
        """Inverse of :meth:`unflatten` for one network: per-level dicts to ``(n_params,)``."""
        if len(levels) != self.levels:
            raise ValueError(f"levels must hold one dict per level ({self.levels}), got {len(levels)} entries")
        theta = np.empty(self.n_params)
        for l, (given, view) in enumerate(zip(levels, self.unflatten(theta))):
            if not isinstance(given, dict) or set(given) != set(view):
                raise ValueError(f"levels[{l}] must be a dict with the keys {sorted(view)}")
            for key, dst in view.items():
                src = np.asarray(given[key], dtype=np.float64)
                if src.shape != dst.shape:
                    raise ValueError(f"levels[{l}][{key!r}] must have shape {dst.shape}, got {src.shape}")
                dst[...] = src
        return theta

    @classmethod
    def warmup_examples(cls) -> dict:
        """``{"pyramid": (net, X, y)}``: a two-level pyramid on 4 x 4 images, which
        compiles the kernels every pyramid runs (see :meth:`Network.warmup_examples`)."""
        images = np.random.default_rng(0).uniform(size=(4, 4, 4))
        return {"pyramid": (cls((4, 4), levels=2, features=(2, 2), iterations=2), images, images)}

    def init(self, rng=None, scheme: str = "glorot", gain: float = 1.0) -> np.ndarray:
        """Draw a float64 parameter vector; biases start at zero.

        Each level's kernels are drawn as the one ``(fan_in, F_l)`` matrix they form, so a
        scheme's fan-in is what a cell of that level really sums: every projection's window
        times its source maps (``glorot``: ``U(±sqrt(6 / (fan_in + F_l)))``; any name of
        :data:`evoneuro.network.init.INITS`: ``"lecun"``, ``"he"``, ``"orthogonal"``,
        ``"zeros"``, ...). ``gain`` multiplies every weight. The data-dependent start (every
        level's pre-activations standardised on training images) is
        :func:`evoneuro.estimators.pyramid_data_init`, which needs the evaluator.
        """
        key = scheme.lower() if isinstance(scheme, str) else scheme
        if key not in INITS:
            raise ValueError(f"scheme must be a name of evoneuro.INITS ({sorted(INITS)}), got {scheme!r}")
        rng = check_rng(rng)
        draw = get_init(key)
        theta = np.zeros(self.n_params)
        for s in self.layers:
            s.weights(theta)[...] = gain * draw(rng, s.fan_in, s.fan_out)
        return theta

    # --- data (the Network hooks the evaluator calls) ----------------------------------

    def _images(self, arr: np.ndarray, n_maps: int, name: str, what: str) -> np.ndarray:
        H, W = self.shape
        if arr.ndim == 3 and n_maps == 1:
            arr = arr[..., None]
        if arr.ndim != 4 or arr.shape[1:] != (H, W, n_maps):
            one = f" or (n_samples, {H}, {W})" if n_maps == 1 else ""
            raise ValueError(f"{name} must hold {what} of shape (n_samples, {H}, {W}, {n_maps}){one}, "
                             f"got {arr.shape}")
        if arr.shape[0] == 0:
            raise ValueError(f"{name} must have at least one sample, got shape {arr.shape}")
        return arr

    def check_X(self, X, dtype=np.float64, name: str = "X") -> np.ndarray:
        """Images as a finite ``(N, H, W, n_inputs)`` array in ``dtype`` (``(N, H, W)`` for one channel)."""
        arr = real_array(X, name, ragged="every image must have the same shape")
        arr = self._images(arr, self.n_inputs, name, "images")
        return _finite_cast(arr, dtype, name)

    def check_y(self, y, n_samples: int, dtype=np.float64, X=None, name: str = "y") -> np.ndarray:
        """Target images ``(n_samples, H, W, n_outputs)`` (``(N, H, W)`` for one output), in
        ``[0, 1]`` for ``output="sigmoid"``."""
        arr = real_array(y, name, ragged="every target image must have the same shape")
        arr = self._images(arr, self.n_outputs, name, "target images")
        if arr.shape[0] != n_samples:
            raise ValueError(f"{name} must hold one target image per input image ({n_samples}), got {arr.shape[0]}")
        arr = _finite_cast(arr, dtype, name)
        if self.output == "sigmoid" and (arr.min() < 0 or arr.max() > 1):
            raise ValueError(f"{name} must lie in [0, 1] for output='sigmoid', got range [{arr.min()}, {arr.max()}]")
        return arr

    def cells(self) -> int:
        """Feature cells of all levels (per image and iteration)."""
        return sum(F * h * w for F, (h, w) in zip(self.features, self.resolutions))

    def macs(self) -> int:
        """Multiply-adds of one image's forward pass (all iterations)."""
        per_step = 0
        for projs, (h, w) in zip(self.projections, self.resolutions):
            per_step += h * w * sum(p.n_weights for p in projs)
        return per_step * self.iterations

    def memory_per_member(self, X_shape, need_grad: bool) -> int:
        """Elements per member: the states of every iteration, one projection's window columns,
        and, for BPTT, their gradients."""
        N = X_shape[0]
        window = max(p.size * p.size * p.n_in for projs in self.projections for p in projs)
        H, W = self.shape
        cols = N * H * W * window
        states = N * (self.iterations + 1) * self.cells()
        if not need_grad:
            return 2 * states + cols + N * H * W * self.n_outputs + self.n_params
        return 4 * states + 2 * cols + 2 * N * H * W * self.n_outputs + 2 * self.n_params


__all__ = ["BORDERS", "OUTPUTS", "PROJECTIONS", "Projection", "Pyramid"]
