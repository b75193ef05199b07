"""Input checks shared by the evaluator, problems and estimators.

Each raises ``ValueError`` or ``TypeError`` naming the argument and what was expected.
"""

from __future__ import annotations

import numpy as np

_DTYPES = {"float32": np.float32, "float64": np.float64}


def check_dtype(dtype) -> np.dtype:
    """``"float32"``/``"float64"`` (or the numpy types) as a numpy dtype."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in _DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return dt


def _finite_cast(arr: np.ndarray, dtype, name: str) -> np.ndarray:
    """``arr`` as a C-contiguous ``dtype`` array, which must be finite; a finite input that
    overflows the cast (1e300 in float32) is named as such, not as "NaN or infinity"."""
    with np.errstate(over="ignore"):  # an overflow is reported below, as an error
        cast = np.ascontiguousarray(arr, dtype=dtype)
    if not np.isfinite(cast).all():
        if np.isfinite(arr).all():
            big = float(np.max(np.abs(arr)))
            raise ValueError(
                f"{name} has values up to {big:.3g} in magnitude, beyond {np.dtype(dtype).name}'s largest "
                f"({float(np.finfo(dtype).max):.3g}): they overflow to infinity. Scale {name}, or use "
                "dtype='float64' if they must stay this large")
        raise ValueError(f"{name} contains NaN or infinity")
    return cast


def real_array(X, name: str = "X", ragged: str | None = None) -> np.ndarray:
    """``X`` as a dense array of real numbers (bools count), not yet cast or checked for
    shape: a TypeError for sparse, object, string or complex input; ``ragged`` says what to
    do when the rows have different lengths (a ValueError either way).

    Examples
    --------
    >>> real_array([[1, 2], [3, 4]]).shape
    (2, 2)
    >>> real_array([[1], [2, 3]], ragged="pad them")
    Traceback (most recent call last):
    ...
    ValueError: X is ragged: pad them
    """
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{name} must be a dense array; sparse input is not supported, call {name}.toarray()")
    try:
        arr = np.asarray(X)
    except ValueError:
        raise ValueError(f"{name} is ragged: {ragged or 'its rows must all have the same length'}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}"
                        + (f" (ragged? {ragged})" if ragged else ""))
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must hold real numbers, got complex dtype {arr.dtype}")
    return arr


def check_X(X, n_features: int, dtype=np.float64, name: str = "X") -> np.ndarray:
    """A finite 2-D float array with ``n_features`` columns, C-contiguous in ``dtype``."""
    arr = real_array(X, name)
    if arr.ndim != 2 or arr.shape[1] != n_features:
        raise ValueError(f"{name} must have shape (n_samples, {n_features}), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} must have at least one sample, got shape {arr.shape}")
    return _finite_cast(arr, dtype, name)


def check_labels(y, n_samples: int, n_classes: int, name: str = "y") -> np.ndarray:
    """Integer class labels in ``[0, n_classes)`` of shape ``(n_samples,)``, as int64."""
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise ValueError(f"{name} must have shape ({n_samples},) to match X, got {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):
        labels = arr.astype(np.int64, copy=False)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinity")
        labels = arr.astype(np.int64)
        if not np.array_equal(labels, arr):
            raise ValueError(f"{name} must hold integer class labels, got non-integer values")
    else:
        raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"{name} labels must lie in [0, {n_classes - 1}] for n_outputs={n_classes}; "
            f"got range [{labels.min()}, {labels.max()}]"
        )
    return np.ascontiguousarray(labels)


def check_targets(y, n_samples: int, n_outputs: int, dtype=np.float64, name: str = "y") -> np.ndarray:
    """Regression targets as a finite ``(n_samples, n_outputs)`` array in ``dtype``."""
    arr = np.asarray(y)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim == 1 and n_outputs == 1:
        arr = arr[:, None]
    if arr.shape != (n_samples, n_outputs):
        raise ValueError(
            f"{name} must have shape ({n_samples}, {n_outputs})"
            + (f" or ({n_samples},)" if n_outputs == 1 else "")
            + f" to match X and n_outputs; got {arr.shape}"
        )
    return _finite_cast(arr, dtype, name)


def check_positive_int(value, name: str, minimum: int = 1, allow_none: bool = False):
    """An int >= ``minimum`` (or None when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_positive_float(value, name: str, allow_none: bool = False, allow_zero: bool = False):
    """A finite float > 0 (>= 0 with ``allow_zero``), or None when allowed."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, got {value!r}")
    return v


def check_bool(value, name: str) -> bool:
    """A bool (Python's or numpy's); ``"yes"``, ``1`` or None is a TypeError naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool (True or False), got {value!r}")
    return bool(value)


_NO_BAD = object()


class FitnessReturnError(TypeError, ValueError):
    """A fitness returned something that is not a number: a TypeError (also a ValueError,
    which is what such returns raised before)."""


def fitness_numbers(out, P: int | None) -> np.ndarray:
    """A fitness's return as float64: one number (``P`` None) or ``P`` numbers.

    None (also among a vectorized fitness's ``P`` values), bools, strings and other
    non-numbers are a TypeError at once, never NaN.
    """
    if type(out) is float:  # the common case, checked without numpy
        return np.array(out)
    what = (f"a vectorized fitness must return {P} numbers" if P is not None
            else "fitness must return one number per vector")
    try:
        arr = np.asarray(out) if not isinstance(out, (bool, np.bool_)) else None
    except ValueError:  # ragged nested sequences
        raise FitnessReturnError(f"{what}, got ragged nested sequences: {out!r:.80}") from None
    if arr is not None and arr.dtype.kind == "O" and out is not None:
        bad = next((v for v in arr.ravel() if v is None or isinstance(v, (bool, np.bool_, str, bytes, complex))
                    or not hasattr(v, "__float__")), _NO_BAD)
        if bad is not _NO_BAD:  # None among numbers would become NaN in a float array
            raise FitnessReturnError(
                f"{what}, got {type(out).__name__}" + (f" holding {type(bad).__name__}" if arr.ndim else "")
                + (" (did the function forget to return for some members?)" if bad is None else "")
                + f": {out!r:.80}")
        try:  # numbers numpy does not know (Fraction, Decimal...)
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            pass
    if out is None or arr is None or arr.dtype.kind not in "iuf":
        kind = "None" if out is None else f"{type(out).__name__}" + (
            f" of dtype {arr.dtype}" if isinstance(arr, np.ndarray) and arr.ndim else "")
        raise FitnessReturnError(
            what + (", got None (did the function forget to return?)" if out is None else f", got {kind}: {out!r:.80}"))
    return arr.astype(np.float64, copy=False)
