"""The network kinds: one registry entry per kind names every implementation it has.

A kind (a dense MLP, a recurrent RNN, ...) is a :class:`~evoneuro.network.base.Network`
subclass whose ``kind`` attribute names its entry here. The entry says, in one place,
where the code of that kind lives in each layer above the specification:

- ``reference``: the array-module code the NumPy (and CuPy) backend runs —
  ``forward(xp, net, Theta, X, return_hidden, lengths)``, ``loss(xp, net, Theta, X, y,
  lengths)``, ``loss_and_grad(...)``;
- ``numba``: the Numba backend's module — ``supports(net)`` and the same three functions
  taking the backend first (a net it does not support runs the reference);
- ``diagnose``: ``f(net, theta, X, y, threshold, **options)`` returning a report;
- ``function``: the net with one weight vector as a Python callable of its input
  (:class:`evoneuro.NetworkFitness` hands it to a user's score).

Implementations are named by their import path and imported on first use, so the
specification layer depends on nothing above it, and importing :mod:`evoneuro` compiles
no kernel. The evaluator, the backends, the diagnostics and the fitness wrappers look a
net's code up with :func:`kind_of`; none of them branches on the kind.

Adding a kind: a ``Network`` subclass with ``kind = "name"``, its modules, and one
:func:`register_kind` call (see ``docs/architecture.md``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

#: The parts of a kind, each an import path ``"module"`` or ``"module:attribute"``.
PARTS = ("spec", "reference", "numba", "diagnose", "function")
#: Parts a kind may leave empty: ``step``, one time step of a population of policies on
#: per-member inputs, ``f(net, Theta, obs, state) -> (logits, state)`` with
#: ``start(net, P, E)`` beside it (:mod:`evoneuro.control.policy`).
OPTIONAL_PARTS = ("step",)


@dataclass(frozen=True)
class Kind:
    """One network kind: its name and where each of its implementations lives.

    Examples
    --------
    >>> import evoneuro as en
    >>> from evoneuro.network.kinds import kind_of
    >>> kind = kind_of(en.MLP(4, (8,), 3))
    >>> kind.name, kind.load("spec") is en.MLP, kind.load("reference").__name__
    ('mlp', True, 'evoneuro.backends.mlp_array')
    """

    name: str
    spec: str
    reference: str
    numba: str
    diagnose: str
    function: str
    step: str = ""
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def load(self, part: str):
        """The module or object named by ``part`` (one of :data:`PARTS`), imported once."""
        if part not in PARTS + OPTIONAL_PARTS:
            raise ValueError(f"part must be one of {list(PARTS + OPTIONAL_PARTS)}, got {part!r}")
        if part not in self._cache:
            module, _, attr = getattr(self, part).partition(":")
            obj = importlib.import_module(module)
            self._cache[part] = getattr(obj, attr) if attr else obj
        return self._cache[part]


#: Kind name -> its entry.
KINDS: dict[str, Kind] = {}


def register_kind(kind: Kind) -> Kind:
    """Add ``kind`` to :data:`KINDS` (a name is registered once) and return it."""
    if not isinstance(kind, Kind):
        raise TypeError(f"kind must be a Kind, got {type(kind).__name__}")
    if kind.name in KINDS and KINDS[kind.name] != kind:
        raise ValueError(f"a network kind named {kind.name!r} is already registered")
    KINDS[kind.name] = kind
    return kind


def kind_of(net) -> Kind:
    """The registry entry of ``net``'s kind, or a TypeError naming the known kinds.

    Examples
    --------
    >>> import evoneuro as en
    >>> from evoneuro.network.kinds import kind_of
    >>> kind_of(en.RNN(1, (4,), 2)).name
    'rnn'
    >>> kind_of("not a net")
    Traceback (most recent call last):
    ...
    TypeError: no network kind 'str' is registered; known kinds: ['mlp', 'pyramid', 'rnn']
    """
    name = getattr(net, "kind", None)
    if not isinstance(name, str) or name not in KINDS:
        label = name if isinstance(name, str) and name else type(net).__name__
        raise TypeError(f"no network kind {label!r} is registered; known kinds: {sorted(KINDS)}")
    return KINDS[name]


def table(part: str, load: bool = True) -> dict:
    """Kind name -> its ``part``, loaded (or its import path with ``load=False``): the
    per-kind tables that modules kept before the registry, read from it.

    Examples
    --------
    >>> from evoneuro.network.kinds import table
    >>> table("reference", load=False)
    {'mlp': 'evoneuro.backends.mlp_array', 'rnn': 'evoneuro.backends.rnn_array', 'pyramid': 'evoneuro.backends.pyramid_array'}
    """
    return {name: kind.load(part) if load else getattr(kind, part) for name, kind in KINDS.items()}


register_kind(Kind(
    name="mlp",
    spec="evoneuro.network.spec:MLP",
    reference="evoneuro.backends.mlp_array",
    numba="evoneuro.backends.numba.mlp",
    diagnose="evoneuro.diagnostics.layers:diagnose_layers",
    function="evoneuro.fitness:NetworkFunction",
    step="evoneuro.control.policy:MLPStep",
))
register_kind(Kind(
    name="rnn",
    spec="evoneuro.network.rnn:RNN",
    reference="evoneuro.backends.rnn_array",
    numba="evoneuro.backends.numba.rnn",
    diagnose="evoneuro.diagnostics.through_time:diagnose_steps",
    function="evoneuro.fitness:RecurrentFunction",
    step="evoneuro.control.policy:RNNStep",
))
register_kind(Kind(
    name="pyramid",
    spec="evoneuro.network.pyramid:Pyramid",
    reference="evoneuro.backends.pyramid_array",
    numba="evoneuro.backends.numba.pyramid",
    diagnose="evoneuro.diagnostics.pyramid:diagnose_pyramid",
    function="evoneuro.fitness:PyramidFunction",
))

__all__ = ["KINDS", "PARTS", "Kind", "kind_of", "register_kind", "table"]
