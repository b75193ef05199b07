"""Image reconstruction tasks: degraded digits and the originals to reconstruct.

Behnke (2001; 2003, ch. 9) trains the Neural Abstraction Pyramid on degraded images to
reconstruct the originals, with three degradations, each here on scikit-learn's 8 x 8
digits (1,797 images, no download), scaled to ``[0, 1]`` and, with ``size=16``, up-sampled
bilinearly to 16 x 16 so that a pyramid has three levels (16, 8, 4):

- :func:`occlude`: a random square block set to a constant (Behnke: an 8 x 8 square of
  intensity 0.125 at one of the 12 x 12 central positions of a 28 x 28 MNIST digit; here
  a block of ``size // 2`` of intensity 0.125 at a central position leaving a border of
  ``size // 8``);
- :func:`add_noise`: contrast reduced to a random fraction, a random brightness offset,
  additive Gaussian noise (Behnke's contrast-enhancement / noise-removal task);
- :func:`downsample`: average-pooled by ``factor`` and shown at full size by pixel
  repetition, for superresolution (Behnke fed the low-resolution image into the coarse
  level; here every input enters at level 0, so one net architecture serves all tasks).

Each returns the degraded images and the mask of the pixels the degradation changed
(every pixel for noise and down-sampling), so an error can be measured on those alone.

References
----------
Behnke (2001). Learning iterative image reconstruction in the Neural Abstraction Pyramid.
Int. J. Computational Intelligence and Applications 1(4):427-438.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from evoneuro._validation import check_positive_float, check_positive_int
from evoneuro.network.init import check_rng

DEGRADATIONS = ("occlusion", "noise", "downsample")
OCCLUDER = 0.125  # Behnke's light grey square


def _images(images, name: str = "images") -> np.ndarray:
    arr = np.asarray(images, dtype=np.float64)
    if arr.ndim != 3 or min(arr.shape) == 0:
        raise ValueError(f"{name} must be a non-empty array of shape (N, H, W), got {np.shape(images)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def upsample(images, factor: int = 2) -> np.ndarray:
    """Bilinear up-sampling by an integer ``factor`` (pixel centres aligned, edges clamped).

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.tasks.images import upsample
    >>> upsample(np.array([[[0.0, 1.0]]]), 2)[0].tolist()
    [[0.0, 0.25, 0.75, 1.0], [0.0, 0.25, 0.75, 1.0]]
    """
    arr = _images(images)
    factor = check_positive_int(factor, "factor")

    def axis(n):
        pos = np.clip((np.arange(n * factor) + 0.5) / factor - 0.5, 0, n - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        return lo, hi, pos - lo

    r0, r1, fr = axis(arr.shape[1])
    c0, c1, fc = axis(arr.shape[2])
    rows = arr[:, r0] * (1 - fr)[None, :, None] + arr[:, r1] * fr[None, :, None]
    return rows[:, :, c0] * (1 - fc) + rows[:, :, c1] * fc


def load_digits_images(size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as images in ``[0, 1]``: ``(1797, size, size)`` and the labels.

    ``size`` 8 is the original; 16 (or any multiple of 8) up-samples bilinearly.

    Examples
    --------
    >>> from evoneuro.tasks.images import load_digits_images
    >>> images, labels = load_digits_images(16)
    >>> images.shape, float(images.min()), float(images.max()) <= 1.0, labels[:3].tolist()
    ((1797, 16, 16), 0.0, True, [0, 1, 2])
    """
    from sklearn.datasets import load_digits

    size = check_positive_int(size, "size")
    if size % 8:
        raise ValueError(f"size must be a multiple of 8 (the digits are 8 x 8), got {size}")
    digits = load_digits()
    images = digits.images / 16.0
    if size > 8:
        images = upsample(images, size // 8)
    return np.clip(images, 0.0, 1.0), digits.target


def occlude(images, block: int | None = None, value: float = OCCLUDER, margin: int | None = None,
            random_state=None) -> tuple[np.ndarray, np.ndarray]:
    """Set a random ``block x block`` square of every image to ``value``.

    The square lies inside a border of ``margin`` pixels (Behnke: 8 x 8 in 28 x 28 with a
    4-pixel border); defaults ``block = H // 2``, ``margin = H // 8``.

    Returns
    -------
    degraded : ndarray (N, H, W)
    mask : ndarray of bool (N, H, W)
        The occluded pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.tasks.images import occlude
    >>> X, mask = occlude(np.ones((2, 16, 16)), random_state=0)
    >>> mask.sum(axis=(1, 2)).tolist(), float(X[mask].max())
    ([64, 64], 0.125)
    """
    arr = _images(images)
    N, H, W = arr.shape
    block = H // 2 if block is None else check_positive_int(block, "block")
    margin = H // 8 if margin is None else check_positive_int(margin, "margin", minimum=0)
    if block + 2 * margin > min(H, W):
        raise ValueError(f"block + 2 * margin must fit in the image ({H}x{W}), got block={block}, margin={margin}")
    rng = check_rng(random_state)
    top = rng.integers(margin, H - margin - block + 1, size=N)
    left = rng.integers(margin, W - margin - block + 1, size=N)
    rows, cols = np.arange(H), np.arange(W)
    mask = (((rows[None, :] >= top[:, None]) & (rows[None, :] < top[:, None] + block))[:, :, None]
            & ((cols[None, :] >= left[:, None]) & (cols[None, :] < left[:, None] + block))[:, None, :])
    out = arr.copy()
    out[mask] = value
    return out, mask


def add_noise(images, noise: float = 0.1, contrast: tuple[float, float] = (0.25, 0.5),
              random_state=None) -> tuple[np.ndarray, np.ndarray]:
    """Reduce the contrast, shift the brightness and add noise: ``c x + o + N(0, noise²)``, clipped to [0, 1].

    ``c`` is drawn per image uniformly in ``contrast``, ``o`` uniformly in ``[0, 1 - c]``.
    The mask is every pixel.

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.tasks.images import add_noise
    >>> X, mask = add_noise(np.tile([0.0, 1.0], (3, 8, 4)), random_state=0)
    >>> X.shape, bool(mask.all()), bool(X.std() < 0.4)
    ((3, 8, 8), True, True)
    """
    arr = _images(images)
    noise = check_positive_float(noise, "noise", allow_zero=True)
    lo, hi = (float(v) for v in contrast)
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"contrast must be a range (lo, hi) with 0 < lo <= hi <= 1, got {contrast!r}")
    rng = check_rng(random_state)
    N = len(arr)
    c = rng.uniform(lo, hi, size=N)[:, None, None]
    o = rng.uniform(0, 1, size=N)[:, None, None] * (1 - c)
    out = np.clip(c * arr + o + rng.normal(0, noise, size=arr.shape), 0.0, 1.0) if noise else c * arr + o
    return out, np.ones(arr.shape, dtype=bool)


def downsample(images, factor: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Average-pool by ``factor`` and repeat every pixel ``factor x factor`` times (same size out).

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.tasks.images import downsample
    >>> X, mask = downsample(np.arange(16.0).reshape(1, 4, 4), 2)
    >>> X[0, 0].tolist(), bool(mask.all())
    ([2.5, 2.5, 4.5, 4.5], True)
    """
    arr = _images(images)
    factor = check_positive_int(factor, "factor")
    N, H, W = arr.shape
    if H % factor or W % factor:
        raise ValueError(f"factor must divide the image size {H}x{W}, got {factor}")
    low = arr.reshape(N, H // factor, factor, W // factor, factor).mean(axis=(2, 4))
    return np.repeat(np.repeat(low, factor, axis=1), factor, axis=2), np.ones(arr.shape, dtype=bool)


@dataclass
class ImageTask:
    """Degraded images and their originals, split into training and test images.

    Attributes
    ----------
    name : str
        The degradation.
    X_train, y_train, X_test, y_test : ndarray (N, H, W)
        Degraded inputs and original targets in ``[0, 1]``.
    mask_train, mask_test : ndarray of bool (N, H, W)
        The pixels the degradation changed.
    params : dict
        The generator's settings.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    mask_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mask_test: np.ndarray
    params: dict = field(default_factory=dict)

    def errors(self, predicted, which: str = "test") -> dict[str, float]:
        """Mean squared error of ``predicted`` images against the originals: over all pixels,
        and over the degraded pixels alone.

        Examples
        --------
        >>> from evoneuro.tasks.images import image_task
        >>> task = image_task("occlusion", n_train=20, n_test=10, random_state=0)
        >>> e = task.errors(task.X_test)          # the degraded input itself, as a baseline
        >>> sorted(e), bool(e["degraded"] > e["all"])
        (['all', 'degraded'], True)
        """
        y, mask = (self.y_test, self.mask_test) if which == "test" else (self.y_train, self.mask_train)
        pred = np.asarray(predicted, dtype=np.float64).reshape(y.shape)
        sq = (pred - y) ** 2
        return {"all": float(sq.mean()), "degraded": float(sq[mask].mean())}


def image_task(degradation: str = "occlusion", size: int = 16, n_train: int = 200, n_test: int = 200,
               random_state=None, **options) -> ImageTask:
    """A reconstruction task on scikit-learn's digits: ``n_train`` and ``n_test`` distinct images.

    Parameters
    ----------
    degradation : {"occlusion", "noise", "downsample"}
    size : int, default=16
        Image side (8: the original digits; 16: up-sampled, for a three-level pyramid).
    n_train, n_test : int, default=200
        Behnke's superresolution experiment used 200 and 200 digits.
    random_state : None, int or Generator
        Picks the images and draws the degradation.
    **options
        Passed to the degradation (:func:`occlude`, :func:`add_noise`, :func:`downsample`).

    Examples
    --------
    >>> from evoneuro.tasks.images import image_task
    >>> task = image_task("downsample", n_train=50, n_test=20, random_state=0, factor=4)
    >>> task.X_train.shape, task.y_test.shape, bool(task.mask_test.all())
    ((50, 16, 16), (20, 16, 16), True)
    """
    if not isinstance(degradation, str) or degradation not in DEGRADATIONS:
        raise ValueError(f"degradation must be one of {list(DEGRADATIONS)}, got {degradation!r}")
    n_train, n_test = check_positive_int(n_train, "n_train"), check_positive_int(n_test, "n_test")
    images, _ = load_digits_images(size)
    if n_train + n_test > len(images):
        raise ValueError(f"n_train + n_test must be at most {len(images)} digits, got {n_train + n_test}")
    rng = check_rng(random_state)
    pick = rng.permutation(len(images))[: n_train + n_test]
    clean = images[pick]
    if degradation == "occlusion":
        X, mask = occlude(clean, random_state=rng, **options)
    elif degradation == "noise":
        X, mask = add_noise(clean, random_state=rng, **options)
    else:
        X, mask = downsample(clean, **options)
    return ImageTask(degradation, X[:n_train], clean[:n_train], mask[:n_train], X[n_train:], clean[n_train:],
                     mask[n_train:], params={"size": size, "n_train": n_train, "n_test": n_test, **options})


__all__ = ["DEGRADATIONS", "ImageTask", "add_noise", "downsample", "image_task", "load_digits_images", "occlude",
           "upsample"]
