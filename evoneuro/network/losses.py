"""Output layers and their losses, each with the gradient with respect to the logits.

``softmax`` + mean cross-entropy, computed with the log-sum-exp shift so large logits do
not overflow; ``linear`` + mean squared error (mean over samples *and* outputs);
``sigmoid`` (recurrent nets) + binary cross-entropy per output, from the logits so it stays
finite, mean over samples and outputs. All take an array module ``xp`` and a batch of
shape ``(P, N, n_outputs)``.
"""

from __future__ import annotations

OUTPUTS = ("softmax", "linear")  # the MLP's; losses also know "sigmoid"


def _sigmoid(z, xp):
    return 0.5 + 0.5 * xp.tanh(0.5 * z)  # no overflow for large |z|


def softmax(z, xp):
    """Row-wise softmax over the last axis."""
    e = z - z.max(axis=-1, keepdims=True)
    xp.exp(e, out=e)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def output_fn(output: str, z, xp):
    """Network output from the output layer's pre-activation."""
    if output == "softmax":
        return softmax(z, xp)
    return _sigmoid(z, xp) if output == "sigmoid" else z


def loss_and_dz(output: str, z, y, xp, need_grad: bool):
    """Mean loss per member ``(P,)`` and, if asked, ``dLoss/dz`` of shape ``(P, N, n_out)``.

    ``y`` holds integer class labels ``(N,)`` for softmax, targets ``(N, n_out)`` for linear
    and sigmoid (those in [0, 1]).
    """
    P, N, K = z.shape
    if output == "softmax":
        m = z.max(axis=-1, keepdims=True)
        s = z - m
        e = xp.exp(s)
        sum_e = e.sum(axis=-1)  # (P, N)
        picked = s[:, xp.arange(N), y]  # (P, N)
        loss = (xp.log(sum_e) - picked).mean(axis=1)
        if not need_grad:
            return loss, None
        e /= sum_e[..., None]
        e[:, xp.arange(N), y] -= 1.0
        e *= 1.0 / N
        return loss, e
    if output == "sigmoid":
        # -y log σ(z) - (1-y) log(1-σ(z)) = max(z, 0) - y z + log(1 + exp(-|z|))
        loss = (xp.maximum(z, 0.0) - z * y[None] + xp.log1p(xp.exp(-xp.abs(z)))).mean(axis=(1, 2))
        if not need_grad:
            return loss, None
        g = _sigmoid(z, xp) - y[None]
        g *= 1.0 / (N * K)
        return loss, g
    diff = z - y[None]
    loss = (diff * diff).mean(axis=(1, 2))
    if not need_grad:
        return loss, None
    diff *= 2.0 / (N * K)
    return loss, diff
