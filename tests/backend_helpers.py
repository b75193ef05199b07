"""Comparing a backend with the NumPy oracle: the tolerances and the checks the backend tests share."""

import numpy as np

import evoneuro as en

TOL = {"float64": 1e-10, "float32": 1e-4}


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def assert_matches_numpy(backend, net, Theta, X, y, dtype):
    """forward (with and without hidden layers), loss and loss_and_grad of an MLP on
    ``backend`` agree with the numpy backend to ``TOL[dtype]``, in ``dtype``."""
    ev = en.Evaluator(net, backend=backend, dtype=dtype)
    ref = en.Evaluator(net, backend="numpy", dtype=dtype)
    tol = TOL[dtype]
    P = len(Theta)
    out, zs = ev.forward(Theta, X, return_hidden=True)
    out_ref, zs_ref = ref.forward(Theta, X, return_hidden=True)
    assert out.dtype == np.dtype(dtype) and out.shape == (P, len(X), net.n_outputs)
    assert rel_err(out, out_ref) <= tol
    for z, z_ref in zip(zs, zs_ref):
        assert z.shape == z_ref.shape and rel_err(z, z_ref) <= tol
    assert rel_err(ev.forward(Theta, X), out_ref) <= tol
    losses = ev.loss(Theta, X, y)
    assert losses.shape == (P,)
    np.testing.assert_allclose(losses, ref.loss(Theta, X, y), rtol=tol)
    L, G = ev.loss_and_grad(Theta, X, y)
    L_ref, G_ref = ref.loss_and_grad(Theta, X, y)
    assert G.dtype == np.dtype(dtype) and G.shape == Theta.shape
    np.testing.assert_allclose(L, L_ref, rtol=tol)
    assert rel_err(G, G_ref) <= tol


def assert_gradient_matches_fd(ev, Theta, X, y, n_checks=40, h=1e-6, seed=1):
    """``ev.loss_and_grad`` of member 0 agrees with central differences of ``ev.loss`` in
    ``n_checks`` random coordinates, to ``1e-6`` relative (float64)."""
    _, G = ev.loss_and_grad(Theta, X, y)
    for i in np.random.default_rng(seed).choice(Theta.shape[1], n_checks, replace=False):
        up, down = Theta.copy(), Theta.copy()
        up[0, i] += h
        down[0, i] -= h
        fd = (ev.loss(up, X, y)[0] - ev.loss(down, X, y)[0]) / (2 * h)
        assert abs(fd - G[0, i]) <= 1e-6 * max(1.0, abs(fd)), (i, fd, G[0, i])
