"""Optimizer names -> classes. Modules are imported on first use."""

from __future__ import annotations

import importlib
from typing import Any

from evoneuro.optimizers.base import Optimizer

# name -> (module under evoneuro.optimizers, class name, fixed constructor arguments)
_REGISTRY: dict[str, tuple[str, str, dict[str, Any]]] = {
    "sgd": ("gradient", "SGD", {}),
    "momentum": ("gradient", "Momentum", {}),
    "adam": ("gradient", "Adam", {}),
    "rprop+": ("rprop", "Rprop", {"variant": "rprop+"}),
    "rprop-": ("rprop", "Rprop", {"variant": "rprop-"}),
    "irprop+": ("rprop", "Rprop", {"variant": "irprop+"}),
    "irprop-": ("rprop", "Rprop", {"variant": "irprop-"}),
    "random": ("random_search", "RandomSearch", {}),
    "ga": ("ga", "GA", {}),
    "cmaes": ("cmaes", "CMAES", {}),
    "sep-cmaes": ("cmaes", "SepCMAES", {}),
    "es": ("es", "OpenAIES", {}),
    "snes": ("es", "SNES", {}),
    "pso": ("pso", "PSO", {}),
    "guided-es": ("guided_es", "GuidedES", {}),
    "memetic": ("memetic", "Memetic", {}),
    "readout": ("readout", "Readout", {}),
}


def available() -> list[str]:
    """Every registered optimizer name."""
    return list(_REGISTRY)


def register(name: str, module: str, cls: str, **fixed: Any) -> None:
    """Add an optimizer under ``name`` (``module`` is a full dotted path or a submodule)."""
    _REGISTRY[name] = (module, cls, fixed)


def get_class(name: str) -> tuple[type, dict[str, Any]]:
    """The class registered as ``name`` and its fixed arguments."""
    if not isinstance(name, str):
        raise TypeError(f"optimizer must be a registry name (str) or an Optimizer, got {name!r}")
    key = name.lower()
    if key not in _REGISTRY:
        raise ValueError(f"optimizer must be one of {available()} or an Optimizer instance, got {name!r}")
    module, cls, fixed = _REGISTRY[key]
    if "." not in module:
        module = f"evoneuro.optimizers.{module}"
    return getattr(importlib.import_module(module), cls), fixed


def get_optimizer(optimizer: "str | Optimizer", **params: Any) -> Optimizer:
    """An optimizer from a registry name and hyperparameters, or an instance as given.

    Examples
    --------
    >>> from evoneuro.optimizers import get_optimizer
    >>> get_optimizer("irprop+").name
    'irprop+'
    """
    if isinstance(optimizer, Optimizer):
        if params:
            raise ValueError("optimizer_params can only be given with an optimizer name, not an instance")
        return optimizer
    cls, fixed = get_class(optimizer)
    overlap = set(fixed) & set(params)
    if overlap:
        raise ValueError(f"optimizer {optimizer!r} fixes {sorted(overlap)}; do not pass them")
    try:
        return cls(**fixed, **params)
    except TypeError as exc:
        if "unexpected keyword argument" not in str(exc):
            raise
        import inspect

        known = sorted(k for k in inspect.signature(cls).parameters if k not in fixed and k != "self")
        unknown = sorted(set(params) - set(known))
        raise TypeError(f"optimizer_params {unknown} are not hyperparameters of {optimizer!r}; "
                        f"it takes {known}") from None
