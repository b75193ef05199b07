"""Datasets for the comparison harness, split and scaled the same way every time.

Bundled with scikit-learn: ``digits``, ``iris``, ``wine``, ``breast_cancer``; generated:
``moons``, ``circles``; or a CSV file with a target column. The split is
``train_test_split(test_size=0.25, random_state=split_seed, stratify=y)``; digits are scaled
by 1/16 (their pixel range), every other dataset is standardised on its training part.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASETS = ("digits", "iris", "wine", "breast_cancer", "moons", "circles")


@dataclass
class Dataset:
    """A train/test split with integer labels ``0..n_classes-1``."""

    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    classes: np.ndarray

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def _load_raw(name: str, target: str | None, seed: int):
    from sklearn import datasets as skd

    if name == "digits":
        X, y = skd.load_digits(return_X_y=True)
        return X / 16.0, y, False
    if name in ("iris", "wine", "breast_cancer"):
        X, y = getattr(skd, f"load_{name}")(return_X_y=True)
        return X, y, True
    if name == "moons":
        X, y = skd.make_moons(n_samples=1000, noise=0.2, random_state=seed)
        return X, y, True
    if name == "circles":
        X, y = skd.make_circles(n_samples=1000, noise=0.1, factor=0.5, random_state=seed)
        return X, y, True
    path = Path(name)
    if path.suffix.lower() == ".csv" or path.exists():
        if not path.exists():
            raise ValueError(f"dataset CSV file not found: {name}")
        if not target:
            raise ValueError("a CSV dataset needs target=COLUMN (--target on the command line)")
        import csv

        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))
        header, body = rows[0], rows[1:]
        if target not in header:
            raise ValueError(f"target column {target!r} not in the CSV header {header}")
        j = header.index(target)
        try:
            X = np.array([[float(v) for i, v in enumerate(r) if i != j] for r in body])
        except ValueError as exc:
            raise ValueError(f"every feature column of {name} must be numeric: {exc}") from None
        y = np.array([r[j] for r in body])
        return X, y, True
    raise ValueError(f"dataset must be one of {list(DATASETS)} or a path to a .csv file, got {name!r}")


def load_dataset(name: str = "digits", target: str | None = None, split_seed: int = 0,
                 test_size: float = 0.25) -> Dataset:
    """Load, split (stratified) and scale a dataset.

    Examples
    --------
    >>> from evoneuro.bench.datasets import load_dataset
    >>> d = load_dataset("digits")
    >>> d.X_train.shape, d.X_test.shape, d.n_classes
    ((1347, 64), (450, 64), 10)
    """
    from sklearn.model_selection import train_test_split

    X, y, standardise = _load_raw(name, target, split_seed)
    classes, y = np.unique(y, return_inverse=True)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_size, random_state=split_seed, stratify=y
    )
    if standardise:
        mu, sd = X_tr.mean(axis=0), X_tr.std(axis=0)
        sd[sd == 0] = 1.0
        X_tr, X_te = (X_tr - mu) / sd, (X_te - mu) / sd
    label = Path(name).stem if name not in DATASETS else name
    return Dataset(label, np.ascontiguousarray(X_tr), np.ascontiguousarray(X_te), y_tr, y_te, classes)
