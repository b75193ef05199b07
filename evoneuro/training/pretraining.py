"""Greedy layer-wise pretraining: each hidden layer learns to encode the codes of the one below.

The oldest answer to the vanishing gradient in deep nets (Schmidhuber 1992's history
compressor; Hinton, Osindero & Teh 2006's stacked RBMs; Bengio et al. 2007's stacked
autoencoders): train the layers bottom-up, each without labels, on the output of the
layers already trained, then fine-tune the whole net. :func:`pretrain` returns the start
vector for that fine-tuning.

- ``method="autoencoder"``: layer ``l`` is the encoder of a one-hidden-layer autoencoder
  ``codes -> act(codes W + b) -> (·) W' + c`` with the net's own activation and a linear
  decoder, trained on mean squared reconstruction error by **any registry optimizer** on
  the shared evaluator (the autoencoder is itself an :class:`evoneuro.MLP`), so
  pretraining can be gradient-free. ``tied=True`` shares the weights: ``W' = Wᵀ``.
- ``method="rbm"``: layer ``l`` is the hidden layer of a Bernoulli RBM trained by
  persistent contrastive divergence (scikit-learn's :class:`~sklearn.neural_network.BernoulliRBM`);
  its ``p(h | v) = sigmoid(v W + b)`` is a sigmoid layer, so the net must have sigmoid
  hidden units and inputs in [0, 1].

Each encoder starts from the data-dependent start of :func:`evoneuro.training.lsuv.data_init`
on its own input codes, and the output layer (not pretrained) is standardised on the last
codes the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from evoneuro._validation import check_bool
from evoneuro.evaluator import Evaluator
from evoneuro.network.init import check_rng
from evoneuro.network.spec import MLP
from evoneuro.problems import Problem, SupervisedProblem
from evoneuro.training.lsuv import INIT_ROWS, data_init
from evoneuro.training.recipe import fit_network

METHODS = ("autoencoder", "rbm")
#: An RBM's settings unless ``rbm_params`` says otherwise: scikit-learn's BernoulliRBM with
#: the learning rate of its digits example (0.06 there), 10 epochs of minibatches of 10.
RBM_DEFAULTS = {"learning_rate": 0.05, "n_iter": 10, "batch_size": 10}
#: Evaluations per layer (sample-forward equivalents of the autoencoder) when no budget is given.
DEFAULT_LAYER_EVALS = 1_000_000


@dataclass
class LayerReport:
    """What pretraining one layer did: reconstruction errors (MSE) before and after, cost.

    ``rbm`` is the fitted :class:`~sklearn.neural_network.BernoulliRBM` of a
    ``method="rbm"`` layer (None for an autoencoder): :meth:`evoneuro.training.dbn.DBN.from_reports`
    builds the deep belief net from them without training again.
    """

    layer: int
    method: str
    error_start: float
    error_end: float
    evals: int
    seconds: float
    rbm: Any = None


class TiedAutoencoderProblem(Problem):
    """An autoencoder problem with the decoder tied to the encoder: ``W' = Wᵀ``.

    The parameters are ``[W (d, h), b (h,), c (d,)]``; each member is evaluated as the
    untied autoencoder ``[W, b, Wᵀ, c]`` of ``inner``, and the gradient of ``W`` is the sum
    of its encoder and (transposed) decoder parts.
    """

    def __init__(self, inner: SupervisedProblem) -> None:
        super().__init__()
        enc, dec = inner.net.layers
        self.inner, self._enc, self._dec = inner, enc, dec
        self.d, self.h = enc.fan_in, enc.fan_out
        self.n_params = self.d * self.h + self.h + self.d
        self.deterministic = inner.deterministic

    def untie(self, Theta: np.ndarray) -> np.ndarray:
        """The untied autoencoder's vectors ``(P, n)`` for tied vectors ``(P, d h + h + d)``."""
        Theta = np.atleast_2d(Theta)
        P, dh = len(Theta), self.d * self.h
        W = Theta[:, :dh].reshape(P, self.d, self.h)
        full = np.empty((P, self.inner.n_params), dtype=Theta.dtype)
        self._enc.weights(full)[...] = W
        self._enc.bias(full)[...] = Theta[:, dh : dh + self.h]
        self._dec.weights(full)[...] = W.transpose(0, 2, 1)
        self._dec.bias(full)[...] = Theta[:, dh + self.h :]
        return full

    def begin_step(self, rng: np.random.Generator) -> None:
        self.inner.begin_step(rng)

    def evaluate(self, Theta, need_grad: bool = False):
        losses, G = self.inner.evaluate(self.untie(np.asarray(Theta)), need_grad)
        self.evals = self.inner.evals
        if G is None:
            return losses, None
        dh = self.d * self.h
        grads = np.empty((len(G), self.n_params), dtype=G.dtype)
        gW = self._enc.weights(G) + self._dec.weights(G).transpose(0, 2, 1)
        grads[:, :dh] = gW.reshape(len(G), dh)
        grads[:, dh : dh + self.h] = self._enc.bias(G)
        grads[:, dh + self.h :] = self._dec.bias(G)
        return losses, grads

    def full_loss(self, x) -> float:
        return self.inner.full_loss(self.untie(np.asarray(x))[0])

    def net_theta(self, x) -> np.ndarray:
        """The autoencoder's own vector for the tied vector ``x``."""
        return self.untie(np.asarray(x))[0]


def pretrain(net, X, method: str = "autoencoder", *, optimizer: Any = "adam",
             optimizer_params: dict | None = None, tied: bool = False, max_evals: int | None = None,
             max_steps: int | None = None, max_time: float | None = None, batch_size: int | str | None = "auto",
             rbm_params: dict | None = None, backend: str = "auto", dtype: Any = "float32",
             n_jobs: int | None = None, random_state: Any = None, return_info: bool = False):
    """A start vector for ``net``: its hidden layers pretrained greedily, bottom-up, on ``X``.

    Parameters
    ----------
    net : MLP
        A plain MLP (dense layers) with at least one hidden layer.
    X : array-like (N, n_inputs)
        Training inputs (no labels are used).
    method : {"autoencoder", "rbm"}, default="autoencoder"
        How each layer is trained; see the module notes.
    optimizer : str or Optimizer, default="adam"
        Autoencoders: the registry optimizer of every layer (a gradient-free one makes the
        pretraining gradient-free); its unset hyperparameters take the measured defaults
        of :mod:`evoneuro.training.defaults`, as in the estimators.
    optimizer_params : dict or None
        Its hyperparameters.
    tied : bool, default=False
        Autoencoders: decoder weights tied to the encoder's (``W' = Wᵀ``).
    max_evals, max_steps, max_time : int, int, float or None
        Autoencoders: the budget **per layer** (evaluations of the autoencoder, steps,
        seconds). With none given, 1,000,000 evaluations per layer.
    batch_size : int, "auto" or None, default="auto"
        Autoencoders: rows per step, as in the estimators.
    rbm_params : dict or None
        RBMs: :class:`~sklearn.neural_network.BernoulliRBM` arguments (``learning_rate``,
        ``n_iter`` — the budget per layer, in epochs —, ``batch_size``); defaults
        :data:`RBM_DEFAULTS`.
    backend, dtype, n_jobs :
        The autoencoders' evaluator (see :class:`evoneuro.Evaluator`).
    random_state : None, int or numpy Generator
    return_info : bool, default=False
        Also return a list of :class:`LayerReport`, one per hidden layer.

    Returns
    -------
    theta : ndarray (n_params,) float64
        Pretrained hidden layers, and an output layer standardised on the last codes.
    info : list of LayerReport
        Only with ``return_info=True``.

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> X = np.random.default_rng(0).random((200, 8))
    >>> net = en.MLP(8, (6, 4), 3, activation="sigmoid")
    >>> theta, info = en.pretrain(net, X, max_steps=200, random_state=0, return_info=True)
    >>> theta.shape, [r.error_end < r.error_start for r in info]
    ((97,), [True, True])
    >>> theta = en.pretrain(net, X, method="rbm", random_state=0)   # scikit-learn's BernoulliRBM
    """
    if not getattr(net, "feedforward", False):
        raise TypeError(f"net must be a feed-forward evoneuro.MLP, got {type(net).__name__}")
    if not net.hidden or any(s.kind != "dense" for s in net.layers):
        raise ValueError(f"pretrain needs a plain MLP (dense layers) with at least one hidden layer, got {net!r}")
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    method = method.lower()
    tied = check_bool(tied, "tied")
    return_info = check_bool(return_info, "return_info")
    rng = check_rng(random_state)
    codes = Evaluator(net, backend="numpy", dtype="float64").check_X(X)
    if method == "rbm":
        _check_rbm(net, codes)
    budget = {"max_evals": max_evals, "max_steps": max_steps, "max_time": max_time}
    if all(v is None for v in budget.values()):
        budget["max_evals"] = DEFAULT_LAYER_EVALS
    theta = np.zeros(net.n_params)
    reports = []
    for l, s in enumerate(net.layers[:-1]):
        t0 = time.perf_counter()
        rbm = None
        if method == "rbm":
            W, b, start, end, evals, rbm = _rbm_layer(codes, s.fan_out, rng, rbm_params)
        else:
            ae = MLP(s.fan_in, (s.fan_out,), s.fan_in, activation=[net.activations[l]], output="linear")
            W, b, start, end, evals = _autoencoder_layer(
                ae, codes, rng, optimizer, optimizer_params, tied, budget, batch_size, backend, dtype, n_jobs)
        s.weights(theta)[...], s.bias(theta)[...] = W, b
        codes = net.activations[l](codes @ W + b)
        reports.append(LayerReport(l, method, start, end, evals, time.perf_counter() - t0, rbm))
    out = net.layers[-1]
    head = data_init(MLP(out.fan_in, (), out.fan_out, output=net.output), codes[:4096], rng)
    theta[out.w_start : out.end] = head
    return (theta, reports) if return_info else theta


def _autoencoder_layer(ae, codes, rng, optimizer, optimizer_params, tied, budget, batch_size, backend, dtype,
                       n_jobs):
    spread = float(codes.std(axis=0).mean()) or 1.0
    x0 = data_init(ae, codes[:INIT_ROWS], rng, output_std=spread)
    enc, dec = ae.layers
    wrap = None
    if tied:
        wrap = TiedAutoencoderProblem
        x0 = np.concatenate([enc.weights(x0).ravel(), enc.bias(x0), codes.mean(axis=0)])
    fit = fit_network(ae, codes, codes, optimizer=optimizer, x0=x0, optimizer_params=optimizer_params,
                      batch_size=batch_size, regularization={}, backend=backend, dtype=dtype, n_jobs=n_jobs,
                      random_state=int(rng.integers(2**31)), wrap=wrap, **budget)
    x, problem = fit.result.x, fit.problem
    W, b = (x[: ae.n_inputs * enc.fan_out].reshape(enc.w_shape), x[enc.w_end : enc.b_end]) if tied else (
        enc.weights(x), enc.bias(x))
    return (np.array(W, dtype=np.float64), np.array(b, dtype=np.float64), problem.full_loss(x0),
            problem.full_loss(x), fit.result.n_evals)


def _check_rbm(net, X: np.ndarray) -> None:
    if any(str(a) != "sigmoid" for a in net.activations):
        raise ValueError("method='rbm' trains Bernoulli RBMs, whose hidden units are sigmoids: the net needs "
                         f"activation='sigmoid', got {[str(a) for a in net.activations]}")
    if X.min() < 0 or X.max() > 1:
        raise ValueError(f"method='rbm' needs inputs in [0, 1] (Bernoulli visible units), got X in "
                         f"[{X.min():.3g}, {X.max():.3g}]; scale them (e.g. MinMaxScaler) or use 'autoencoder'")


def _rbm_layer(codes: np.ndarray, n_hidden: int, rng: np.random.Generator, rbm_params: dict | None):
    from sklearn.neural_network import BernoulliRBM

    params = {**RBM_DEFAULTS, **(rbm_params or {})}
    seed = int(rng.integers(2**31))
    rbm = BernoulliRBM(n_components=n_hidden, random_state=seed, **params)
    # the reconstruction error of the RBM's own start (scikit-learn draws N(0, 0.01) weights
    # from its random_state, zero biases), then of the trained RBM
    W0 = np.random.RandomState(seed).normal(0, 0.01, (n_hidden, codes.shape[1]))
    start = _rbm_error(codes, W0, np.zeros(n_hidden), np.zeros(codes.shape[1]))
    rbm.fit(codes)
    end = _rbm_error(codes, rbm.components_, rbm.intercept_hidden_, rbm.intercept_visible_)
    # cost in sample-forward equivalents of the layer: CD-1 is about 3 passes per row per epoch
    evals = 3 * len(codes) * params["n_iter"]
    return rbm.components_.T.copy(), rbm.intercept_hidden_.copy(), start, end, evals, rbm


def _rbm_error(V: np.ndarray, W: np.ndarray, bh: np.ndarray, bv: np.ndarray) -> float:
    """Mean squared error of the mean-field reconstruction ``sigmoid(sigmoid(V Wᵀ + bh) W + bv)``."""
    from scipy.special import expit

    H = expit(V @ W.T + bh)
    return float(np.mean((expit(H @ W + bv) - V) ** 2))


__all__ = ["DEFAULT_LAYER_EVALS", "LayerReport", "METHODS", "RBM_DEFAULTS", "TiedAutoencoderProblem", "pretrain"]
