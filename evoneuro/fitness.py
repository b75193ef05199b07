"""Score a network by anything: :class:`NetworkFitness`.

A supervised loss is not the only way to judge a network. :class:`NetworkFitness` hands
a user's function ``f`` a *callable network* built from each weight vector — the return
of a control episode, a non-differentiable metric, a simulation — and turns it into a
:class:`evoneuro.FitnessProblem` that any gradient-free optimizer can drive, optionally
on a process pool or a dask cluster.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from evoneuro.network.base import Network
from evoneuro.network.losses import output_fn
from evoneuro.network.spec import MLP
from evoneuro.problems import FitnessProblem


def _one_vector(net, theta) -> np.ndarray:
    """``theta`` checked against ``net`` as one float64 weight vector."""
    theta = np.asarray(net.check_theta(theta), dtype=np.float64)
    if theta.ndim != 1:
        raise ValueError(f"theta must be one vector of shape ({net.n_params},), got {theta.shape}")
    return theta


class NetworkFunction:
    """The network ``net`` with weights ``theta``, as a function of its input.

    Called with ``X`` of shape ``(N, n_inputs)`` it returns ``(N, n_outputs)``; with one
    input ``(n_inputs,)`` it returns ``(n_outputs,)``. Computed in float64 with plain
    NumPy (cheap for the single observations of a control loop). Outputs are class
    probabilities for ``output="softmax"`` nets and linear otherwise.

    Parameters
    ----------
    net : MLP
    theta : array-like (n_params,)

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> from evoneuro.fitness import NetworkFunction
    >>> net = en.MLP(4, (8,), 2, activation="tanh", output="linear")
    >>> policy = NetworkFunction(net, net.init(np.random.default_rng(0)))
    >>> policy(np.zeros(4)).shape, policy(np.zeros((5, 4))).shape
    ((2,), (5, 2))
    """

    def __init__(self, net: MLP, theta) -> None:
        self.net = net
        self.theta = _one_vector(net, theta)
        self.layers = net.unflatten(self.theta)

    def __call__(self, X) -> np.ndarray:
        h = np.asarray(X, dtype=np.float64)
        if h.ndim not in (1, 2) or h.shape[-1] != self.net.n_inputs:
            raise ValueError(f"the network takes inputs of shape ({self.net.n_inputs},) or "
                             f"(N, {self.net.n_inputs}), got {h.shape}")
        last = len(self.layers) - 1
        for i, (W, b) in enumerate(self.layers):
            z = h @ W + b
            h = self.net.activations[i](z) if i < last else output_fn(self.net.output, z, np)
        return h


class RecurrentFunction:
    """A recurrent net with weights ``theta`` as a stateful function: one call per time step.

    ``f(x)`` feeds one step's input and returns that step's output, carrying the hidden
    state (and the LSTM's cell) to the next call; :meth:`reset` sets the state to 0 (call it
    at the start of every episode). ``x`` of shape ``(n_inputs,)`` is one stream; ``(E,
    n_inputs)`` is ``E`` independent streams (episodes run side by side), whose number is
    fixed from the first call after a reset. :meth:`run` feeds a whole sequence. Computed in
    float64 with the reference cells, so a step is exactly the evaluator's step.

    Parameters
    ----------
    net : RNN
    theta : array-like (n_params,)

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> from evoneuro.fitness import RecurrentFunction
    >>> rnn = en.RNN(2, (4,), 3, cell="gru", output="linear", readout="all")
    >>> policy = RecurrentFunction(rnn, rnn.init(0))
    >>> X = np.random.default_rng(0).normal(size=(5, 2))
    >>> out = np.stack([policy(x) for x in X])       # step by step
    >>> policy.reset()
    >>> np.allclose(out, policy.run(X)), np.allclose(out, en.Evaluator(rnn, dtype="float64").forward(rnn.init(0), X[None])[0, 0])
    (True, True)
    """

    def __init__(self, net, theta) -> None:
        from evoneuro.backends import rnn_array

        self.net = net
        self.theta = theta = _one_vector(net, theta)
        Theta = theta[None]
        L = len(net.hidden)
        self._W = [net.input_weights(l, Theta) for l in range(L)]
        self._b = [net.layers[l].bias(Theta)[:, None, :] for l in range(L)]
        self._Wh = [rnn_array._recurrent(net, l, Theta, np) for l in range(L)]
        out = net.layers[-1]
        self._Wo, self._bo = out.weights(theta), out.bias(theta)
        self.reset()

    def reset(self) -> None:
        """Start again from the zero state (a new episode)."""
        self.state: list | None = None

    def __call__(self, x) -> np.ndarray:
        from evoneuro.backends.cells import FORWARD

        x = np.asarray(x, dtype=np.float64)
        if x.ndim not in (1, 2) or x.shape[-1] != self.net.n_inputs:
            raise ValueError(f"the network takes one step's input of shape ({self.net.n_inputs},) or "
                             f"(E, {self.net.n_inputs}) for E streams, got {x.shape}")
        single = x.ndim == 1
        h = x.reshape(1, -1, self.net.n_inputs)  # (P=1, E, d)
        E = h.shape[1]
        if self.state is None:
            self.state = [(np.zeros((1, E, H)), np.zeros((1, E, H))) for H in self.net.hidden]
        elif self.state[0][0].shape[1] != E:
            raise ValueError(f"this function holds the state of {self.state[0][0].shape[1]} stream(s) and got "
                             f"{E}; call reset() to start new streams")
        cell = FORWARD[self.net.cell]
        for l, (hl, cl) in enumerate(self.state):
            a = np.matmul(h, self._W[l]) + self._b[l]
            hl, cl, _, _ = cell(a, hl, cl, self._Wh[l], self.net.activations[l], np)
            self.state[l] = (hl, cl)
            h = hl
        y = output_fn(self.net.output, h[0] @ self._Wo + self._bo, np)
        return y[0] if single else y

    def run(self, X) -> np.ndarray:
        """Outputs ``(T, n_outputs)`` for a sequence ``X`` ``(T, n_inputs)``, from the current state."""
        return np.stack([self(x) for x in np.asarray(X, dtype=np.float64)])


#: The callable network of each network kind.
FUNCTIONS = {"mlp": NetworkFunction, "rnn": RecurrentFunction}


def network_function(net, theta):
    """``net`` with weights ``theta`` as a callable: a :class:`NetworkFunction` for an MLP,
    a stateful :class:`RecurrentFunction` for an RNN."""
    return FUNCTIONS[net.kind](net, theta)


class _ScoreNetwork:
    """``theta -> f(NetworkFunction(net, theta), ...)``: small, so it ships cheaply to workers."""

    def __init__(self, net: MLP, f: Callable) -> None:
        self.net, self.f = net, f

    def __call__(self, theta, *args, **kwargs):
        return self.f(network_function(self.net, theta), *args, **kwargs)


class NetworkFitness(FitnessProblem):
    """A fitness of a network's weights, computed by ``f`` from the network as a function.

    For every weight vector ``theta`` the problem calls
    ``f(network, *args, **kwargs) -> float`` where ``network(X)`` runs the net (see
    :class:`evoneuro.fitness.NetworkFunction`). A NaN or infinite score counts as the
    worst value and warns once; an exception in ``f`` stops the run with a
    :class:`evoneuro.TrainingError` that carries the best result so far.

    Parameters
    ----------
    net : MLP or RNN
        The architecture; its ``init`` gives the start point when ``x0`` is None. An RNN
        gives ``f`` a stateful :class:`~evoneuro.fitness.RecurrentFunction` (one call per
        time step, ``reset()`` between episodes): a policy with memory.
    f : callable
        ``f(network, *args, **kwargs) -> float``.
    maximize : bool, default=False
        Whether larger scores are better (returns, accuracies).
    args, kwargs
        Extra arguments of ``f``.
    executor, retries
        Parallel evaluation of the members; see :class:`evoneuro.FitnessProblem`. With a
        process pool or a dask cluster ``f`` must pickle.

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> net = en.MLP(1, (4,), 1, activation="tanh", output="linear")
    >>> X = np.linspace(-1, 1, 20)[:, None]
    >>> def closeness(network):  # any score of the network: here minus the max error
    ...     return -float(np.max(np.abs(network(X)[:, 0] - X[:, 0] ** 2)))
    >>> res = en.minimize(en.NetworkFitness(net, closeness, maximize=True), optimizer="cmaes",
    ...                   optimizer_params={"sigma0": 0.5}, max_steps=150, random_state=0)
    >>> res.fun > -0.1
    True
    """

    def __init__(self, net: Network, f: Callable[..., Any], *, maximize: bool = False, args: tuple = (),
                 kwargs: dict | None = None, executor=None, retries: int = 2) -> None:
        if not isinstance(net, Network) or net.kind not in FUNCTIONS:
            raise TypeError(f"net must be an evoneuro.MLP or evoneuro.RNN, got {type(net).__name__}")
        if not callable(f):
            raise TypeError(f"f must be callable, got {type(f).__name__}")
        super().__init__(_ScoreNetwork(net, f), net.n_params, args=args, kwargs=kwargs,
                         maximize=maximize, executor=executor, retries=retries)
        self.net = net
        self.f = f
        self.layer_slices = [(s.w_start, s.b_end) for s in net.layers]

    def network(self, theta):
        """The callable network for the weight vector ``theta`` (e.g. ``result.x``)."""
        return network_function(self.net, theta)

    def __call__(self, theta) -> float:
        """``f``'s score of ``theta``, in ``f``'s own sign."""
        return float(self.fun(theta, *self.args, **self.kwargs))


__all__ = ["FUNCTIONS", "NetworkFitness", "NetworkFunction", "RecurrentFunction", "network_function"]
