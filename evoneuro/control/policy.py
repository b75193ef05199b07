"""One time step of a whole population of policies, each member on its own observations.

A supervised batch is shared by every member (``X (N, d)``); in control each member sees
its own episodes, so a step's input is ``(P, E, d)``: member ``p``'s ``E`` observations.
A kind's step is named in its registry entry (``step`` in :mod:`evoneuro.network.kinds`)
and built on that kind's reference code, so the step computes exactly what
:meth:`evoneuro.Evaluator.forward` computes (``tests/test_control_policy.py`` checks it):

- :class:`MLPStep`: the layers of :mod:`evoneuro.backends.mlp_array`, with no state;
- :class:`RNNStep`: the cells of :mod:`evoneuro.backends.cells`, one step at a time, the
  state ``(h, c)`` of every layer carried from step to step and zero at an episode's start.

``step = StepClass(net, Theta)`` unpacks the population's weights once per generation;
``state = step.start(E)`` and ``logits, state = step(obs, state)`` follow.
"""

from __future__ import annotations

import numpy as np

from evoneuro.backends import mlp_array
from evoneuro.backends.rnn_array import cell_functions, recurrent_matrix
from evoneuro.backends.cells import FORWARD
from evoneuro.network.kinds import kind_of


class MLPStep:
    """A population of feed-forward policies: logits ``(P, E, n_outputs)`` from ``(P, E, d)``."""

    def __init__(self, net, Theta: np.ndarray) -> None:
        self.net, self.Theta = net, Theta

    def start(self, E: int):
        return None

    def __call__(self, obs: np.ndarray, state):
        zs = mlp_array._forward(np, self.net, self.Theta, obs, keep=False)[0]
        return zs[-1], state


class RNNStep:
    """A population of recurrent policies, their states carried step to step."""

    def __init__(self, net, Theta: np.ndarray) -> None:
        self.net, self.Theta = net, Theta
        L = net.n_recurrent
        self.W_in = [np.ascontiguousarray(net.input_weights(l, Theta)) for l in range(L)]
        self.b = [net.layers[l].bias(Theta)[:, None, :] for l in range(L)]
        self.W_h = [recurrent_matrix(net, l, Theta, np) for l in range(L)]
        self.cell = cell_functions(net, FORWARD)
        out = net.layers[-1]
        self.W_out, self.b_out = out.weights(Theta), out.bias(Theta)[:, None, :]

    def start(self, E: int):
        P = len(self.Theta)
        return [(np.zeros((P, E, H), dtype=self.Theta.dtype), np.zeros((P, E, H), dtype=self.Theta.dtype))
                for H in self.net.hidden]

    def __call__(self, obs: np.ndarray, state):
        inp, new = obs, []
        for l, (h, c) in enumerate(state):
            a = np.matmul(inp, self.W_in[l])
            a += self.b[l]
            h, c, _, _ = self.cell(a, h, c, self.W_h[l], self.net.activations[l], np)
            new.append((h, c))
            inp = h
        z = np.matmul(inp, self.W_out)
        z += self.b_out
        return z, new


def population_step(net, Theta: np.ndarray):
    """The step object of ``net``'s kind for the population ``Theta`` ``(P, n_params)``.

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> from evoneuro.control.policy import population_step
    >>> rnn = en.RNN(3, (4,), 2, cell="lstm")
    >>> Theta = rnn.init_population(5, np.random.default_rng(0))
    >>> step = population_step(rnn, Theta)
    >>> state = step.start(E=2)
    >>> logits, state = step(np.ones((5, 2, 3)), state)
    >>> logits.shape, state[0][0].shape
    ((5, 2, 2), (5, 2, 4))
    """
    kind = kind_of(net)
    if not kind.step:
        raise TypeError(f"network kind {kind.name!r} has no one-step form for control; "
                        "use an evoneuro.MLP or evoneuro.RNN policy")
    return kind.load("step")(net, Theta)
