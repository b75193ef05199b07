"""Regularisation that every optimizer sees: weight decay, noise and dropout in the loss.

A :class:`evoneuro.SupervisedProblem` applies it around the evaluator, so gradient methods
get it in their gradients and gradient-free methods in the losses they rank:

- **alpha** — L2 weight decay with scikit-learn's meaning (``MLPClassifier(alpha=...)``):
  a batch of ``n`` rows adds ``0.5 * alpha * ||W||² / n`` to the mean loss, summed over
  the weight matrices only (no biases, gains or RBF centres), and ``alpha * W / n`` to
  their gradient.
- **input_noise** — Gaussian noise of this standard deviation added to the step's
  minibatch inputs, shared by the whole population (one fair comparison per step).
- **weight_noise** — Gaussian noise of this standard deviation added to every member's
  weight matrices before each evaluation (Hinton & van Camp 1993; Graves 2011); the
  gradient at the noisy weights is the step.
- **dropout** — each member drops every hidden unit with this probability and scales the
  rest by ``1 / (1 - p)`` (inverted dropout, Srivastava et al. 2014). The evaluator
  computes a whole population on one shared minibatch, so the mask is drawn per member
  and per evaluation, the same for all rows of the batch, and applied where it is exact
  for any backend: to the rows of the next layer's weight matrix (a dropped unit's
  outgoing weights are zero). That is a unit-level dropout shared across the batch, a
  weaker regulariser than a mask per row; it needs the next layers to be dense or
  LayerNorm layers (``z = h W`` before anything else).

Noise and dropout make a problem stochastic (``problem.deterministic`` is False); the
weight decay does not. Prediction and :meth:`~evoneuro.SupervisedProblem.full_loss` use
the weights as they are (the decay counted, no noise, no dropout).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evoneuro._validation import check_positive_float

#: Layer kinds whose weight matrix the decay penalises (an RBF layer's "W" holds centres;
#: a pyramid level's holds its projections' kernels, its "b" the maps' biases).
_DECAYED = frozenset({"dense", "weightnorm", "layernorm", "cosine", "elman", "lstm", "gru", "pyramid"})
#: Layer kinds that start with ``z = h W``, so scaling W's rows is dropping h's units.
_DROPPABLE = frozenset({"dense", "layernorm"})


@dataclass(frozen=True)
class Regularization:
    """The regularisation settings of a problem; all zero is none.

    Examples
    --------
    >>> from evoneuro.regularization import Regularization
    >>> Regularization(alpha=1e-4).stochastic, Regularization(dropout=0.2).stochastic
    (False, True)
    """

    alpha: float = 0.0
    input_noise: float = 0.0
    weight_noise: float = 0.0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("alpha", "input_noise", "weight_noise"):
            object.__setattr__(self, name, check_positive_float(getattr(self, name), name, allow_zero=True))
        p = self.dropout
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not 0 <= p < 1:
            raise ValueError(f"dropout must be a probability in [0, 1), got {p!r}")
        object.__setattr__(self, "dropout", float(p))

    @property
    def stochastic(self) -> bool:
        """Whether the loss of a point changes from one evaluation to the next."""
        return bool(self.input_noise or self.weight_noise or self.dropout)

    @property
    def perturbs_weights(self) -> bool:
        return bool(self.weight_noise or self.dropout)

    def __bool__(self) -> bool:
        return bool(self.alpha or self.stochastic)


def weight_mask(net) -> np.ndarray:
    """Boolean ``(n_params,)``: the entries of ``net``'s vector that weight decay penalises.

    Examples
    --------
    >>> import evoneuro as en
    >>> from evoneuro.regularization import weight_mask
    >>> int(weight_mask(en.MLP(4, (8,), 3)).sum())   # 4*8 + 8*3 weights, no biases
    56
    """
    mask = np.zeros(net.n_params, dtype=bool)
    for s in net.layers:
        if s.kind in _DECAYED:
            mask[s.w_start : s.w_end] = True
    return mask


def check_droppable(net) -> None:
    """ValueError unless ``net`` is an MLP whose every layer after a hidden one starts with ``z = h W``."""
    bad = [s.kind for s in net.layers[1:] if s.kind not in _DROPPABLE]
    if not net.feedforward or not net.hidden or bad:
        raise ValueError("dropout needs a feed-forward net whose hidden layers feed dense or LayerNorm layers "
                         f"(it is applied to the next layer's weight rows); got {net!r}")


def penalty(reg: Regularization, others: np.ndarray, Theta: np.ndarray, n_rows: int, grads=None):
    """``0.5 alpha ||W||² / n`` per member ``(P,)``; with ``grads`` ``(P, n_params)``, adds
    ``alpha W / n`` to them in place.

    ``others`` indexes the entries that are not decayed (biases, gains: a few hundred of
    ~10⁴). ``||W||²`` is the whole row's squared norm minus theirs, and the gradient the
    whole row's minus theirs: one pass over the population and a small gather, where a
    boolean-mask copy of the weights cost more than a 10x32 net's minibatch evaluation.
    """
    scale = reg.alpha / n_rows
    rest = Theta[:, others]
    # a decay that overflows makes the member's loss infinite: the problem counts it as the
    # worst value with its one warning, not with numpy's warnings at every evaluation
    with np.errstate(over="ignore", invalid="ignore"):
        squares = np.einsum("pi,pi->p", Theta, Theta).astype(np.float64) - np.einsum("pi,pi->p", rest, rest)
        if grads is not None:
            grads += scale * Theta
            grads[:, others] -= scale * rest
        return 0.5 * scale * squares


def perturb(reg: Regularization, net, others: np.ndarray, Theta: np.ndarray, rng: np.random.Generator):
    """The members as evaluated (noise and dropout applied), and the factor ``(P, n)`` or None
    that turns their gradients into gradients with respect to ``Theta``. ``others`` indexes
    the entries that are not weights (no noise there), as in :func:`penalty`."""
    out = np.array(Theta, copy=True)
    if reg.weight_noise:
        noise = rng.standard_normal(out.shape, dtype=np.float32 if out.dtype == np.float32 else np.float64)
        out += reg.weight_noise * noise
        out[:, others] = Theta[:, others]
    if not reg.dropout:
        return out, None
    keep = 1.0 - reg.dropout
    factor = np.ones(Theta.shape, dtype=Theta.dtype)
    for s in net.layers[1:]:  # the rows of W_l are the outgoing weights of layer l-1's units
        kept = rng.random((len(Theta), s.fan_in)) < keep
        rows = np.where(kept, 1.0 / keep, 0.0).astype(Theta.dtype)
        s.weights(factor)[...] = rows[:, :, None]
    out *= factor  # a gradient of the masked weights times the factor is the gradient of Theta
    return out, factor


__all__ = ["Regularization", "check_droppable", "penalty", "perturb", "weight_mask"]
