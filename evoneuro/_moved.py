"""Old module paths of the public API, kept importable after the package was layered.

``import evoneuro.trainer`` (or ``from evoneuro.compare import compare``) gives the very
module object that now lives at ``evoneuro.training.trainer`` (``evoneuro.bench.compare``):
a finder on ``sys.meta_path`` maps each old name to its new home, loading it on first use.
No file is left at the old place, so the package's layout shows its layers.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

#: Old public module path -> where it lives now.
MOVED = {
    "evoneuro.callbacks": "evoneuro.training.callbacks",
    "evoneuro.trainer": "evoneuro.training.trainer",
    "evoneuro.minimize": "evoneuro.training.minimize",
    "evoneuro.pretraining": "evoneuro.training.pretraining",
    "evoneuro.network.lsuv": "evoneuro.training.lsuv",
    "evoneuro.compare": "evoneuro.bench.compare",
    "evoneuro.compare_tasks": "evoneuro.bench.compare_tasks",
    "evoneuro.datasets": "evoneuro.bench.datasets",
    "evoneuro.plots": "evoneuro.bench.plots",
    "evoneuro.backends.numba_weightnorm": "evoneuro.backends.numba.weightnorm",
}

#: Old public modules whose names now live in several modules: a view that looks them up in order.
SPLIT = {
    "evoneuro.defaults": ("evoneuro.training.defaults", "evoneuro.training.starts"),
    "evoneuro.backends.numba_backend": ("evoneuro.backends.numba.backend", "evoneuro.backends.numba.mlp",
                                        "evoneuro.backends.numba._jit"),
    "evoneuro.backends.numba_rnn": ("evoneuro.backends.numba.rnn", "evoneuro.backends.numba._jit"),
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old name and loads it as the module at its new place."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED and fullname not in SPLIT:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def __init__(self) -> None:
        self._own: dict[str, tuple] = {}

    def create_module(self, spec):
        if spec.name in SPLIT:
            return _view(spec.name, SPLIT[spec.name])
        module = importlib.import_module(MOVED[spec.name])
        self._own[module.__name__] = (module.__spec__, module.__loader__)
        return module

    def exec_module(self, module):
        # The import system has just set the alias's spec on the module: give it its own back.
        if module.__name__ in self._own:
            module.__spec__, module.__loader__ = self._own[module.__name__]


def _view(name: str, homes: tuple[str, ...]) -> types.ModuleType:
    """A module whose attributes are those of ``homes``, the first that has the name."""
    view = types.ModuleType(name, f"Names of {', '.join(homes)} under their old path {name}.")

    def __getattr__(attr):
        for home in homes:
            module = importlib.import_module(home)
            if hasattr(module, attr):
                return getattr(module, attr)
        raise AttributeError(f"module {name!r} has no attribute {attr!r}")

    def __dir__():
        return sorted({a for home in homes for a in dir(importlib.import_module(home))})

    view.__getattr__, view.__dir__ = __getattr__, __dir__
    return view


def install() -> None:
    """Alias the moved modules the package has already loaded; put the finder on
    ``sys.meta_path`` (once) for the others."""
    for old, new in MOVED.items():
        if new in sys.modules:
            _alias_now(old, sys.modules[new])
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.append(_Alias())


def _alias_now(old: str, module: types.ModuleType) -> None:
    # Registered in sys.modules, a later import of the old name sets no attribute on the
    # parent package, so evoneuro.minimize stays the function the package exports.
    sys.modules.setdefault(old, module)
    parent, _, leaf = old.rpartition(".")
    if parent in sys.modules and not hasattr(sys.modules[parent], leaf):
        setattr(sys.modules[parent], leaf, module)
