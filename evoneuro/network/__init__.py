"""Network specification: layout of the flat vector, activations, inits, losses."""

from evoneuro.network.activations import ACTIVATIONS, Activation, get_activation
from evoneuro.network.base import Network
from evoneuro.network.init import INITS
from evoneuro.network.kinds import KINDS, Kind, kind_of, register_kind
from evoneuro.network.pyramid import Pyramid
from evoneuro.network.rnn import RNN
from evoneuro.network.spec import MLP

__all__ = ["ACTIVATIONS", "Activation", "INITS", "KINDS", "Kind", "MLP", "Network", "Pyramid", "RNN", "get_activation", "kind_of", "register_kind"]
