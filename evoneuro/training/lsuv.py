"""Layer-sequential unit-variance (LSUV) initialisation: orthonormal, then data-scaled.

Start from orthonormal weights, then walk the layers in order and rescale each weight
matrix until its pre-activations ``z`` on a data batch have unit variance. Unlike the
analytic schemes this sees the real input distribution and the real activation, so it
works for any stack (saturating sigmoids included) without a derivation per activation.

References
----------
Mishkin, D. & Matas, J. (2016). All you need is a good init. ICLR.
Saxe, McClelland, Ganguli (2014). Exact solutions to the nonlinear dynamics of learning
in deep linear networks. ICLR. (the orthonormal start)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from evoneuro.evaluator import Evaluator
from evoneuro.network.init import check_rng

#: Rows of training data a data-dependent start looks at.
INIT_ROWS = 512

if TYPE_CHECKING:
    from evoneuro.network.spec import MLP


def lsuv_init(
    net: "MLP",
    X,
    rng=None,
    tol: float = 0.1,
    max_iter: int = 10,
    theta0=None,
    include_output: bool = True,
) -> np.ndarray:
    """Orthonormal weights rescaled layer by layer to unit pre-activation variance on ``X``.

    For each layer ``l`` in turn: compute ``v = Var(z_l)`` over the batch and all units,
    and while ``|v − 1| >= tol`` (at most ``max_iter`` times) set ``W_l ← W_l / √v``.
    With zero biases one pass is exact; the loop matters when ``theta0`` carries biases.

    Parameters
    ----------
    net : MLP
        The network.
    X : array-like of shape (N, n_inputs)
        A data batch (a few hundred rows is plenty).
    rng : None, int or numpy Generator
        Randomness for the orthonormal start.
    tol : float, default=0.1
        Accepted deviation of each layer's variance from 1.
    max_iter : int, default=10
        Rescaling rounds per layer.
    theta0 : array-like of shape (n_params,), optional
        Start from these parameters instead of a fresh orthonormal draw (biases kept).
    include_output : bool, default=True
        Also scale the output layer's logits (the paper scales every layer).

    Returns
    -------
    theta : ndarray of shape (n_params,)
        float64 parameters.

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> from evoneuro.training.lsuv import lsuv_init
    >>> rng = np.random.default_rng(0)
    >>> net = en.MLP(8, (32,) * 5, 3, activation="sigmoid")
    >>> X = rng.normal(size=(200, 8))
    >>> theta = lsuv_init(net, X, rng)
    >>> _, zs = en.Evaluator(net, dtype="float64").forward(theta, X, return_hidden=True)
    >>> [round(float(z.var()), 2) for z in zs]
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    if not getattr(net, "layerwise_data_init", True):
        raise TypeError(f"lsuv_init scales feed-forward layers; a {type(net).__name__} has its own schemes: net.init")
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating)) or not 0 < tol < 1:
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be an int >= 1, got {max_iter!r}")
    ev, X = _reference(net, X)
    if theta0 is None:
        theta = net.init(check_rng(rng), scheme="orthogonal")
    else:
        theta = np.array(net.check_theta(theta0, "theta0"), dtype=np.float64)
        if theta.ndim != 1:
            raise ValueError(f"theta0 must be one vector of shape ({net.n_params},), got {theta.shape}")

    n_scaled = net.n_layers if include_output else net.n_layers - 1
    for l in range(n_scaled):
        W = net.layers[l].weights(theta)
        for _ in range(max_iter):
            # Layer l depends only on layers < l, which are final by now.
            var = float(ev.forward(theta, X, return_hidden=True)[1][l].var())
            if not math.isfinite(var) or var == 0.0:
                raise ValueError(
                    f"layer {l} has pre-activation variance {var} on X; LSUV cannot rescale it "
                    "(constant inputs, dead units, or overflow)"
                )
            if abs(var - 1.0) < tol:
                break
            W /= math.sqrt(var)
    return theta


def _reference(net: "MLP", X):
    """The float64 numpy evaluator both data-dependent starts measure with, and ``X`` checked."""

    ev = Evaluator(net, backend="numpy", dtype="float64")
    X = ev.check_X(X)
    if len(X) < 2:
        raise ValueError("a data-dependent start needs X of at least 2 rows to measure each unit's spread, "
                         "got 1 sample; use a scheme such as init='glorot'")
    return ev, X


def data_init(net: "MLP", X, rng=None, output_std: float = 1.0) -> np.ndarray:
    """Orthonormal weights, then every unit standardised on ``X``: zero mean, a set spread.

    Layer by layer, each unit's pre-activation ``z_j = h·w_j + b_j`` is measured over the
    rows of ``X``; ``w_j`` is scaled so that its standard deviation is the activation's
    ``start_std`` (1 for sigmoid units, 0.3 for tanh units, measured; see
    :class:`~evoneuro.network.activations.Activation`) and ``b_j`` set so that its
    mean is 0 (Krähenbühl et al. 2016; the data-dependent init of Salimans & Kingma 2016).
    Unlike :func:`lsuv_init`, which pools the variance over units *and* rows, every unit
    then varies with the input: in a 10×32 sigmoid net on digits the output's variance
    across inputs is ~1 instead of ~1e-9 (each sigmoid's mean of ~0.5 no longer passes for
    signal). The output layer's logits get standard deviation ``output_std``.

    Nets with LayerNorm, WeightNorm, cosine or RBF layers use :func:`lsuv_init`; kinds
    without layer-by-layer standardisation (``net.layerwise_data_init`` False: RNNs) their
    default :meth:`init`.

    Parameters
    ----------
    net : MLP
    X : array-like (N, n_inputs)
        A data batch (a few hundred rows is plenty).
    rng : None, int or numpy Generator
    output_std : float, default=1.0
        Spread of the logits over the batch.

    Returns
    -------
    theta : ndarray (n_params,) float64

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> from evoneuro.training.lsuv import data_init
    >>> rng = np.random.default_rng(0)
    >>> net = en.MLP(8, (32,) * 5, 3, activation="sigmoid")
    >>> X = rng.normal(size=(200, 8))
    >>> _, zs = en.Evaluator(net, dtype="float64").forward(data_init(net, X, rng), X, return_hidden=True)
    >>> [round(float(z[0].std(axis=0).mean()), 2) for z in zs]
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    if not getattr(net, "layerwise_data_init", True):
        return net.init(check_rng(rng))
    if any(s.kind != "dense" for s in net.layers):
        return lsuv_init(net, X, rng)
    ev, X = _reference(net, X)
    theta = net.init(check_rng(rng), scheme="orthogonal")
    for l, s in enumerate(net.layers):
        # layer l depends only on layers < l, which are final by now
        z = ev.forward(theta, X, return_hidden=True)[1][l][0]
        std = z.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)  # a unit blind to the batch keeps its weights
        target = output_std if l == net.n_layers - 1 else net.activations[l].start_std
        W, b = s.weights(theta), s.bias(theta)
        W *= target / std
        b[...] = -z.mean(axis=0) * target / std
    return theta
