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

from evoneuro.backends.cells import FORWARD
from evoneuro.backends.rnn_array import cell_functions, recurrent_matrix
from evoneuro.network.base import Network
from evoneuro.network.kinds import kind_of, table
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
    input ``(n_inputs,)`` it returns ``(n_outputs,)``. Computed in float64 by the kind's
    reference forward pass (:mod:`evoneuro.network.kinds` names it), so it computes exactly
    what the evaluator computes for every option of the net: residual shortcuts,
    LayerNorm, WeightNorm, cosine normalisation, RBF units. Outputs are class
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
    >>> net = en.MLP(4, (8,), 2, activation="tanh", output="linear", norm="layernorm")
    >>> theta = net.init(np.random.default_rng(0))
    >>> policy = NetworkFunction(net, theta)
    >>> policy(np.zeros(4)).shape, policy(np.zeros((5, 4))).shape
    ((2,), (5, 2))
    >>> X = np.random.default_rng(1).normal(size=(5, 4))
    >>> bool(np.array_equal(policy(X), en.Evaluator(net, dtype="float64").forward(theta, X)[0]))
    True
    """

    def __init__(self, net: MLP, theta) -> None:
        self.net = net
        self.theta = _one_vector(net, theta)
        self._Theta = self.theta[None]
        self._forward = kind_of(net).load("reference").forward

    def __call__(self, X) -> np.ndarray:
        h = np.asarray(X, dtype=np.float64)
        if h.ndim not in (1, 2) or h.shape[-1] != self.net.n_inputs:
            raise ValueError(f"the network takes inputs of shape ({self.net.n_inputs},) or "
                             f"(N, {self.net.n_inputs}), got {h.shape}")
        out = self._forward(np, self.net, self._Theta, np.atleast_2d(h), False, None)[0]
        return out[0] if h.ndim == 1 else out


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
        self.net = net
        self.theta = theta = _one_vector(net, theta)
        Theta = theta[None]
        L = len(net.hidden)
        self._W = [net.input_weights(l, Theta) for l in range(L)]
        self._b = [net.layers[l].bias(Theta)[:, None, :] for l in range(L)]
        self._Wh = [recurrent_matrix(net, l, Theta, np) for l in range(L)]
        out = net.layers[-1]
        self._Wo, self._bo = out.weights(theta), out.bias(theta)
        self.reset()

    def reset(self) -> None:
        """Start again from the zero state (a new episode)."""
        self.state: list | None = None

    def __call__(self, x) -> np.ndarray:
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
        cell = cell_functions(self.net, FORWARD)  # the reference's cell, sequential updates included
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


class PyramidFunction:
    """A Neural Abstraction Pyramid with weights ``theta`` as a function of its input images.

    Called with images ``(N, H, W)`` (or ``(N, H, W, n_inputs)``) it returns the output maps
    after the last iteration, ``(N, H, W)`` for one output map (else ``(N, H, W,
    n_outputs)``); one image ``(H, W)`` gives ``(H, W)``. Computed in float64 by the
    reference iteration, so it is exactly the evaluator's forward pass.

    Parameters
    ----------
    net : Pyramid
    theta : array-like (n_params,)

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> from evoneuro.fitness import PyramidFunction
    >>> net = en.Pyramid(shape=(8, 8), levels=2, features=(2, 4), iterations=2)
    >>> f = PyramidFunction(net, net.init(0))
    >>> X = np.random.default_rng(0).uniform(size=(3, 8, 8))
    >>> f(X).shape, f(X[0]).shape
    ((3, 8, 8), (8, 8))
    >>> bool(np.array_equal(f(X), en.Evaluator(net, dtype="float64").forward(net.init(0), X)[0, ..., 0]))
    True
    """

    def __init__(self, net, theta) -> None:
        self.net = net
        self.theta = _one_vector(net, theta)
        self._forward = kind_of(net).load("reference").forward

    def __call__(self, X) -> np.ndarray:
        x = np.asarray(X, dtype=np.float64)
        single = x.ndim == (2 if self.net.n_inputs == 1 else 3)
        out = self._forward(np, self.net, self.theta[None], self.net.check_X(x[None] if single else x), False, None)[0]
        if self.net.n_outputs == 1:
            out = out[..., 0]
        return out[0] if single else out


def network_function(net, theta):
    """``net`` with weights ``theta`` as the callable its kind names (:mod:`evoneuro.network.kinds`):
    a :class:`NetworkFunction` for an MLP, a stateful :class:`RecurrentFunction` for an RNN."""
    return kind_of(net).load("function")(net, theta)


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
    :class:`evoneuro.TrainingError` that carries the best result so far, or, with
    ``on_error="worst"``, counts as the worst value with one warning.

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
    on_error : {"raise", "worst"}, default="raise"
        What an exception raised by ``f`` does; see :class:`evoneuro.FitnessProblem`.

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
                 kwargs: dict | None = None, executor=None, retries: int = 2, on_error: str = "raise") -> None:
        if not isinstance(net, Network):
            raise TypeError(f"net must be an evoneuro network (MLP, RNN, ...), got {type(net).__name__}")
        kind_of(net)  # a TypeError naming the known kinds if no callable form is registered
        if not callable(f):
            raise TypeError(f"f must be callable, got {type(f).__name__}")
        super().__init__(_ScoreNetwork(net, f), net.n_params, args=args, kwargs=kwargs,
                         maximize=maximize, executor=executor, retries=retries, on_error=on_error)
        self.net = net
        self.f = f
        self.layer_slices = [(s.w_start, s.b_end) for s in net.layers]

    def network(self, theta):
        """The callable network for the weight vector ``theta`` (e.g. ``result.x``)."""
        return network_function(self.net, theta)

    def __call__(self, theta) -> float:
        """``f``'s score of ``theta``, in ``f``'s own sign."""
        return float(self.fun(theta, *self.args, **self.kwargs))


def __getattr__(name: str):
    # The kind -> callable network table this module kept before the kind registry, read from it.
    if name == "FUNCTIONS":
        return table("function")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["NetworkFitness", "NetworkFunction", "PyramidFunction", "RecurrentFunction", "network_function"]
