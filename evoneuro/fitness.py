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

from evoneuro.network.losses import output_fn
from evoneuro.network.spec import MLP
from evoneuro.problems import FitnessProblem


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
        self.theta = np.asarray(net.check_theta(theta), dtype=np.float64)
        if self.theta.ndim != 1:
            raise ValueError(f"theta must be one vector of shape ({net.n_params},), got {self.theta.shape}")
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


class _ScoreNetwork:
    """``theta -> f(NetworkFunction(net, theta), ...)``: small, so it ships cheaply to workers."""

    def __init__(self, net: MLP, f: Callable) -> None:
        self.net, self.f = net, f

    def __call__(self, theta, *args, **kwargs):
        return self.f(NetworkFunction(self.net, theta), *args, **kwargs)


class NetworkFitness(FitnessProblem):
    """A fitness of a network's weights, computed by ``f`` from the network as a function.

    For every weight vector ``theta`` the problem calls
    ``f(network, *args, **kwargs) -> float`` where ``network(X)`` runs the net (see
    :class:`evoneuro.fitness.NetworkFunction`). A NaN or infinite score counts as the
    worst value and warns once; an exception in ``f`` stops the run with a
    :class:`evoneuro.TrainingError` that carries the best result so far.

    Parameters
    ----------
    net : MLP
        The architecture; its ``init`` gives the start point when ``x0`` is None.
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

    def __init__(self, net: MLP, f: Callable[..., Any], *, maximize: bool = False, args: tuple = (),
                 kwargs: dict | None = None, executor=None, retries: int = 2) -> None:
        if not isinstance(net, MLP):
            raise TypeError(f"net must be an evoneuro.MLP, got {type(net).__name__}")
        if not callable(f):
            raise TypeError(f"f must be callable, got {type(f).__name__}")
        super().__init__(_ScoreNetwork(net, f), net.n_params, args=args, kwargs=kwargs,
                         maximize=maximize, executor=executor, retries=retries)
        self.net = net
        self.f = f
        self.layer_slices = [(s.w_start, s.b_end) for s in net.layers]

    def network(self, theta) -> NetworkFunction:
        """The callable network for the weight vector ``theta`` (e.g. ``result.x``)."""
        return NetworkFunction(self.net, theta)

    def __call__(self, theta) -> float:
        """``f``'s score of ``theta``, in ``f``'s own sign."""
        return float(self.fun(theta, *self.args, **self.kwargs))


__all__ = ["NetworkFitness", "NetworkFunction"]
