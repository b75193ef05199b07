"""Optimizers: one file per family, all on the ask/tell/step contract of :mod:`.base`."""

from evoneuro.optimizers.base import Optimizer
from evoneuro.optimizers.registry import available, get_optimizer, register

__all__ = ["Optimizer", "available", "get_optimizer", "register"]
