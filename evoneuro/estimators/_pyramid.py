"""An image-to-image estimator on the Neural Abstraction Pyramid: :class:`EvoPyramidRegressor`.

It takes images ``X`` ``(n_samples, H, W)`` (or ``(n_samples, H, W, channels)``) and target
images ``y`` of the same height and width, builds an :class:`evoneuro.Pyramid` for them and
trains it with any registered optimizer through the fit recipe the other estimators share
(:mod:`._base`). The outputs are sigmoid maps, so targets lie in ``[0, 1]``; the loss is the
pyramid's read-weighted squared error (Behnke 2001).

:func:`pyramid_data_init` is the data-dependent start of a pyramid: every level's
pre-activations standardised on training images, over the iterations.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from evoneuro._validation import real_array
from evoneuro.estimators._base import ATTRIBUTES_DOC, PARAMETERS_DOC, BaseEvoEstimator, parameter_constraints
from evoneuro.evaluator import Evaluator
from evoneuro.network.init import check_rng
from evoneuro.network.pyramid import Pyramid
from evoneuro.optimizers.base import Optimizer

#: Images the data-dependent start measures (as the MLP's start measures up to 512 rows).
INIT_IMAGES = 64


def pyramid_data_init(net: Pyramid, X, rng=None, passes: int = 3, theta=None) -> np.ndarray:
    """Glorot kernels, then every level's units standardised on the images ``X``.

    The pyramid's levels feed each other over the iterations, so one pass cannot fix a
    level's statistics the way :func:`evoneuro.training.lsuv.data_init` does layer by layer
    in an MLP. Starting from ``theta`` (default: a Glorot draw), ``passes`` times: run the
    net on up to 64 images (float64, the reference), and for every level scale its kernels
    so that the spread of its pre-activations over images, positions and iterations is the
    unit's ``start_std`` (1 for sigmoid units, 0.3 for tanh), and shift each map's bias so
    that its mean is 0.

    Examples
    --------
    >>> import numpy as np, evoneuro as en
    >>> from evoneuro.estimators import pyramid_data_init
    >>> net = en.Pyramid((8, 8), levels=2, features=(2, 4), iterations=3)
    >>> X = np.random.default_rng(0).uniform(size=(16, 8, 8))
    >>> theta = pyramid_data_init(net, X, 0)
    >>> _, zs = en.Evaluator(net, dtype="float64").forward(theta, X, return_hidden=True)
    >>> [bool(0.5 < z.std() < 1.5) for z in zs[:-1]]     # spread near 1, not Glorot's
    [True, True]
    """
    X = net.check_X(X)[:INIT_IMAGES]
    ev = Evaluator(net, backend="numpy", dtype="float64")
    theta = net.init(check_rng(rng), "glorot") if theta is None else np.array(net.check_theta(theta), dtype=np.float64)
    for _ in range(passes):
        _, zs = ev.forward(theta, X, return_hidden=True)
        for l, s in enumerate(net.layers):
            z = zs[l][0]
            spread = float(z.std())
            if spread > 0:
                s.weights(theta)[...] *= net.activations[l].start_std / spread
            mean = z.reshape(-1, z.shape[-1]).mean(axis=0)
            s.bias(theta)[...] -= mean * (net.activations[l].start_std / spread if spread > 0 else 1.0)
    return theta


class EvoPyramidRegressor(RegressorMixin, BaseEvoEstimator, BaseEstimator):
    """Image-to-image regression with a Neural Abstraction Pyramid trained by any evoneuro optimizer.

    ``fit(X, y)`` takes degraded images ``X`` ``(n_samples, H, W)`` (or with a channel
    axis) and target images ``y`` ``(n_samples, H, W)`` in ``[0, 1]``; ``predict(X)`` gives
    the reconstructions after the last iteration, shaped as ``y`` was. ``H`` and ``W`` must
    be divisible by ``2 ** (levels - 1)``. ``score`` is R² over all pixels.

    Weight decay, input and weight noise and dropout are the MLP estimators' and do not
    apply to a pyramid (its local kernels are no layer of an MLP's kind); they are not
    parameters here.

    Parameters
    ----------
    levels : int, default=3
        Levels of the pyramid, each at half the resolution of the one below.
    features : int or sequence of int, default=(4, 8, 8)
        Feature maps per level.
    kernel : int, default=3
        Side of the lateral and input kernels.
    iterations : int, default=6
        Steps the pyramid is iterated.
    activation : str or tuple, default="sigmoid"
        Hidden units (Behnke's pyramid: the logistic sigmoid).
    border : {"zero", "wrap"}, default="zero"
    read : {"linear", "last", "all"} or sequence of int, default="linear"
        The iterations the loss reads (see :class:`evoneuro.Pyramid`).
    init : "auto", str, float, callable or array-like, default="auto"
        ``"auto"``: :func:`pyramid_data_init` on the training images; otherwise as for the
        MLP estimators (a scheme of :meth:`evoneuro.Pyramid.init`, a gain, a callable, a vector).
    optimizer : str or Optimizer, default="irprop+"
        Behnke trained the pyramid by backpropagation through time with Rprop.
{params}

    Attributes
    ----------
    image_shape_ : tuple of int
        ``(H, W)`` of the training images.
{attributes}

    Examples
    --------
    >>> import evoneuro as en
    >>> from evoneuro.tasks import image_task
    >>> task = image_task("occlusion", size=8, n_train=60, n_test=20, random_state=0)
    >>> reg = en.EvoPyramidRegressor(levels=2, features=(4, 4), iterations=3, max_iter=60,
    ...                              backend="numpy", random_state=0).fit(task.X_train, task.y_train)
    >>> reg.predict(task.X_test).shape, reg.score(task.X_test, task.y_test) > 0.5
    ((20, 8, 8), True)
    """

    _output = "sigmoid"
    # The MLP estimators' regularisers: no parameters of this estimator (see the docstring).
    alpha = 0.0
    input_noise = 0.0
    weight_noise = 0.0
    dropout = 0.0
    _parameter_constraints: dict = {**parameter_constraints(), "levels": [Integral], "features": [Integral, "array-like"],
                                    "kernel": [Integral], "iterations": [Integral], "border": [str],
                                    "read": [str, "array-like"]}

    def __init__(self, levels: int = 3, features: int | Sequence[int] = (4, 8, 8), kernel: int = 3,
                 iterations: int = 6, activation: Any = "sigmoid", border: str = "zero", read: Any = "linear",
                 init: Any = "auto", init_params: dict | None = None, optimizer: str | Optimizer = "irprop+",
                 optimizer_params: dict | None = None, backend: str = "auto", dtype: Any = "float32",
                 n_jobs: int | None = None, batch_size: int | str | None = "auto", max_iter: int | None = None,
                 max_evals: int | None = None, max_time: float | None = None, early_stopping: bool | str = "auto",
                 validation_fraction: float = 0.1, n_iter_no_change: int = 10, tol: float = 1e-4,
                 warm_start: bool = False, random_state: Any = None, verbose: bool = False) -> None:
        self._assign_params(locals())

    def _make_net(self, n_features: int) -> Pyramid:
        features = self.features if isinstance(self.features, Integral) else tuple(self.features)
        return Pyramid(self.image_shape_, levels=self.levels, features=features, kernel=self.kernel,
                       iterations=self.iterations, activation=self.activation, output="sigmoid",
                       n_inputs=self._channels, n_outputs=1, border=self.border, read=self.read)

    # --- images in ----------------------------------------------------------------------

    @staticmethod
    def _as_images(X, name: str) -> np.ndarray:
        arr = real_array(X, name, ragged="every image must have the same shape")
        if arr.ndim not in (3, 4) or min(arr.shape) == 0:
            raise ValueError(f"{name} must be images of shape (n_samples, H, W) or (n_samples, H, W, channels), "
                             f"got shape {arr.shape}")
        return np.asarray(arr, dtype=np.float64)

    def _validate_fit_data(self, X, y, first: bool, lengths):
        if lengths is not None:
            raise ValueError(f"lengths is for sequence estimators; {type(self).__name__} takes lengths=None")
        X, y = self._as_images(X, "X"), self._as_images(y, "y")
        if y.ndim == 4 and y.shape[-1] == 1:
            y = y[..., 0]
        if y.ndim != 3 or y.shape[:3] != X.shape[:3]:
            raise ValueError(f"y must hold one target image (n_samples, H, W) per image of X {X.shape[:3]}, "
                             f"got shape {y.shape}")
        channels = 1 if X.ndim == 3 else X.shape[-1]
        self._start_images = X[:INIT_IMAGES] if X.ndim == 4 else X[:INIT_IMAGES, ..., None]
        if first:
            self.image_shape_ = X.shape[1:3]
            self._channels = channels
            self.n_features_in_ = int(np.prod(X.shape[1:]))
        elif X.shape[1:3] != self.image_shape_ or channels != self._channels:
            raise ValueError(f"X must hold images of shape {self.image_shape_} with {self._channels} channel(s) as "
                             f"in the first fit, got {X.shape[1:]}")
        return X, y, None

    def _validate_predict_data(self, X, lengths):
        if lengths is not None:
            raise ValueError(f"lengths is for sequence estimators; {type(self).__name__} takes lengths=None")
        X = self._as_images(X, "X")
        if X.shape[1:3] != self.image_shape_:
            raise ValueError(f"X must hold images of shape {self.image_shape_} as in fit, got {X.shape[1:3]}")
        return X, None

    def _encode_targets(self, y, first: bool, classes=None) -> np.ndarray:
        if y.min() < 0 or y.max() > 1:
            raise ValueError(f"y must lie in [0, 1] (the pyramid's outputs are sigmoid maps), got range "
                             f"[{y.min()}, {y.max()}]")
        return y

    def _val_score(self, y_true, out) -> float:
        return _r2(np.asarray(y_true).reshape(-1), np.asarray(out).reshape(-1))

    def _scale_start(self, net, x0: np.ndarray) -> np.ndarray:
        # the base's start for "auto" is net.init (a pyramid has no layer-by-layer start);
        # the pyramid's own data-dependent start standardises that draw on the images
        images, self._start_images = self._start_images, None
        if isinstance(self.init, str) and self.init.lower() == "auto":
            return pyramid_data_init(net, images, theta=x0)
        return x0

    def predict(self, X) -> np.ndarray:
        """Reconstructed images after the last iteration, ``(n_samples, H, W)``."""
        return self._outputs(X)[..., 0]

    def score(self, X, y, sample_weight=None) -> float:
        """R² of the reconstructions over all pixels."""
        return _r2(np.asarray(y, dtype=np.float64).reshape(-1), self.predict(X).reshape(-1))


def _r2(y, pred) -> float:
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - pred) ** 2)) / ss_tot if ss_tot > 0 else 0.0


_NOT_SHARED = ("init", "init_params", "optimizer", "alpha", "input_noise, weight_noise", "dropout")


def _shared_parameters(skip=_NOT_SHARED) -> str:
    """The shared parameters' documentation without those this estimator lacks or documents itself."""
    blocks, current = [], []
    for line in PARAMETERS_DOC.split("\n"):
        if line.startswith("    ") and not line.startswith("     ") and " : " in line and current:
            blocks.append(current)
            current = []
        current.append(line)
    blocks.append(current)
    return "\n".join("\n".join(b) for b in blocks if b[0].strip().split(" : ")[0] not in skip)


EvoPyramidRegressor.__doc__ = (EvoPyramidRegressor.__doc__.replace("{params}", _shared_parameters())
                               .replace("{attributes}", ATTRIBUTES_DOC))

__all__ = ["EvoPyramidRegressor", "pyramid_data_init"]
