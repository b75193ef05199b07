"""The deep belief net as a generative model: the RBM stack of ``pretrain(method="rbm")``, sampled.

Hinton, Osindero & Teh (2006): a stack of restricted Boltzmann machines trained greedily,
each on the hidden probabilities of the one below, is a generative model whose top two
layers form an undirected associative memory and whose lower layers are directed,
top-down. A sample is drawn by running alternating Gibbs sampling in the top RBM for a
long time, then one ancestral pass down, each layer drawn from
``p(v | h) = sigmoid(h Wᵀ + b_visible)`` of the RBM below. Without the paper's up-down
fine-tuning the generative weights are the transposed recognition weights, as they are
right after greedy training.

scikit-learn's :class:`~sklearn.neural_network.BernoulliRBM` trains every layer (persistent
contrastive divergence) and gives ``p(h | v)`` (``transform``). What it lacks is written
here: the Gibbs chain driven by one seeded generator (its own ``gibbs`` draws from each
RBM's internal state), the downward pass, and the reconstruction error of the whole stack
as it grows.

References
----------
Hinton, G. E., Osindero, S., Teh, Y.-W. (2006). A fast learning algorithm for deep belief
nets. Neural Computation 18(7), 1527-1554.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit

from evoneuro._validation import check_positive_int
from evoneuro.network.init import check_rng
from evoneuro.network.spec import MLP
from evoneuro.training.pretraining import LayerReport, pretrain


class DBN:
    """A deep belief net: fitted Bernoulli RBMs, bottom first, each on the codes of the one below.

    Parameters
    ----------
    rbms : list of fitted sklearn.neural_network.BernoulliRBM
        RBM ``l`` has as many visible units as RBM ``l - 1`` has hidden units.

    Attributes
    ----------
    sizes : tuple of int
        ``(n_visible, hidden_1, ..., hidden_L)``.

    Examples
    --------
    >>> import numpy as np
    >>> from evoneuro.training.dbn import fit_dbn
    >>> X = (np.random.default_rng(0).random((300, 16)) < 0.3).astype(float)
    >>> X[:150, :8] = 1.0                      # two kinds of pattern
    >>> dbn = fit_dbn(X, hidden=(12, 8), rbm_params={"n_iter": 5}, random_state=0)
    >>> dbn.sizes
    (16, 12, 8)
    >>> dbn.sample(4, gibbs_steps=50, random_state=0).shape
    (4, 16)
    >>> errors = dbn.reconstruction_errors(X)  # through 1, then 2 layers and back
    >>> len(errors), bool(errors[0] < 0.25)
    (2, True)
    """

    def __init__(self, rbms: list) -> None:
        from sklearn.neural_network import BernoulliRBM

        rbms = list(rbms)
        if not rbms:
            raise ValueError("rbms must hold at least one fitted BernoulliRBM")
        for l, rbm in enumerate(rbms):
            if not isinstance(rbm, BernoulliRBM) or not hasattr(rbm, "components_"):
                raise TypeError(f"rbms[{l}] must be a fitted sklearn BernoulliRBM, got {type(rbm).__name__}")
            if l and rbm.components_.shape[1] != rbms[l - 1].components_.shape[0]:
                raise ValueError(f"rbms[{l}] has {rbm.components_.shape[1]} visible units; it must have the "
                                 f"{rbms[l - 1].components_.shape[0]} hidden units of rbms[{l - 1}]")
        self.rbms = rbms
        self.sizes = (rbms[0].components_.shape[1], *(r.components_.shape[0] for r in rbms))

    @classmethod
    def from_reports(cls, reports: list) -> "DBN":
        """The DBN of ``pretrain(net, X, method="rbm", return_info=True)``'s reports, untrained again."""
        if not reports or not all(isinstance(r, LayerReport) and r.rbm is not None for r in reports):
            raise ValueError("reports must be the LayerReports of pretrain(..., method='rbm', return_info=True)")
        return cls([r.rbm for r in reports])

    def __repr__(self) -> str:
        return f"DBN(sizes={self.sizes})"

    def _check_X(self, X, name: str = "X") -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"{name} must have shape (n_samples, {self.sizes[0]}), got {X.shape}")
        if not np.isfinite(X).all() or X.min() < 0 or X.max() > 1:
            raise ValueError(f"{name} must lie in [0, 1] (Bernoulli visible units)")
        return X

    def transform(self, X, depth: int | None = None) -> np.ndarray:
        """Mean-field codes ``p(h | v)`` of ``X`` after ``depth`` layers (default: all)."""
        depth = self._depth(depth)
        H = self._check_X(X)
        for rbm in self.rbms[:depth]:
            H = rbm.transform(H)
        return H

    def _depth(self, depth) -> int:
        if depth is None:
            return len(self.rbms)
        if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or not 1 <= depth <= len(self.rbms):
            raise ValueError(f"depth must be an int in [1, {len(self.rbms)}], got {depth!r}")
        return int(depth)

    def _down(self, H: np.ndarray, depth: int, rng: np.random.Generator | None) -> np.ndarray:
        """From codes of layer ``depth`` down to the visible probabilities; binary draws on the
        way when ``rng`` is given (an ancestral pass), mean field otherwise."""
        for l in range(depth - 1, -1, -1):
            rbm = self.rbms[l]
            P = expit(H @ rbm.components_ + rbm.intercept_visible_)
            H = P if (l == 0 or rng is None) else (rng.random(P.shape) < P).astype(np.float64)
        return H

    def reconstruct(self, X, depth: int | None = None) -> np.ndarray:
        """``X`` up ``depth`` layers and down again, mean field: ``(n_samples, n_visible)``."""
        depth = self._depth(depth)
        return self._down(self.transform(X, depth), depth, None)

    def reconstruction_errors(self, X) -> np.ndarray:
        """Mean squared error of :meth:`reconstruct` at every depth, as the stack grows: ``(L,)``."""
        X = self._check_X(X)
        return np.array([float(np.mean((self.reconstruct(X, d) - X) ** 2)) for d in range(1, len(self.rbms) + 1)])

    def sample(self, n: int, gibbs_steps: int = 1000, random_state: Any = None, start=None) -> np.ndarray:
        """``n`` visible samples: Gibbs sampling in the top RBM, then one pass down.

        Parameters
        ----------
        n : int
            Samples (independent chains).
        gibbs_steps : int, default=1000
            Alternating Gibbs steps ``h ~ p(h | v), v ~ p(v | h)`` in the top RBM.
        random_state : None, int or Generator
            Every draw comes from it: the same seed gives the same samples.
        start : array (n, n_visible) or None
            Data whose (mean-field) codes start the chains; None starts them from the top
            RBM's visible biases.

        Returns
        -------
        ndarray (n, n_visible)
            ``p(v | h_1)`` of the bottom layer (grey levels), given binary states above.
        """
        n = check_positive_int(n, "n")
        gibbs_steps = check_positive_int(gibbs_steps, "gibbs_steps", minimum=0)
        rng = check_rng(random_state)
        top, L = self.rbms[-1], len(self.rbms)
        if start is None:
            P = np.broadcast_to(expit(top.intercept_visible_), (n, self.sizes[-2]))
        else:
            start = self._check_X(start, "start")
            if len(start) != n:
                raise ValueError(f"start must hold n = {n} rows, got {len(start)}")
            P = self.transform(start, L - 1) if L > 1 else start
        V, Pv = (rng.random(P.shape) < P).astype(np.float64), P
        for _ in range(gibbs_steps):
            Ph = expit(V @ top.components_.T + top.intercept_hidden_)
            Hs = (rng.random(Ph.shape) < Ph).astype(np.float64)
            Pv = expit(Hs @ top.components_ + top.intercept_visible_)
            V = (rng.random(Pv.shape) < Pv).astype(np.float64)
        if L == 1:  # the top RBM's visible units are the data
            return np.array(Pv, dtype=np.float64)
        return self._down(V, L - 1, rng)


def fit_dbn(X, hidden=(64, 64), rbm_params: dict | None = None, random_state: Any = None,
            return_info: bool = False):
    """Train a DBN greedily on ``X`` in [0, 1]: :func:`~evoneuro.pretrain` with ``method="rbm"``.

    Parameters
    ----------
    X : array (n_samples, n_visible) in [0, 1]
    hidden : sequence of int, default=(64, 64)
        Hidden units of each RBM, bottom first.
    rbm_params : dict or None
        :class:`~sklearn.neural_network.BernoulliRBM` arguments (see
        :data:`~evoneuro.training.pretraining.RBM_DEFAULTS`).
    random_state : None, int or Generator
    return_info : bool, default=False
        Also return pretraining's :class:`~evoneuro.training.pretraining.LayerReport` list.

    Returns
    -------
    DBN, or (DBN, list of LayerReport)
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must have shape (n_samples, n_visible), got {X.shape}")
    if isinstance(hidden, (int, np.integer)):
        hidden = (hidden,)
    hidden = tuple(check_positive_int(h, f"hidden[{i}]") for i, h in enumerate(hidden))
    if not hidden:
        raise ValueError("hidden must name at least one layer")
    net = MLP(X.shape[1], hidden, 1, activation="sigmoid", output="linear")  # the output layer is not used
    _, info = pretrain(net, X, method="rbm", rbm_params=rbm_params, random_state=random_state, return_info=True)
    dbn = DBN.from_reports(info)
    return (dbn, info) if return_info else dbn


__all__ = ["DBN", "fit_dbn"]
