"""Recurrent nets on every backend against the NumPy reference: numba, auto, cupy (with a GPU)."""

import numpy as np
import pytest

import evoneuro as en
from evoneuro.backends.cupy_backend import cupy_available

TOL = {"float64": 1e-10, "float32": 1e-4}


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def problem(cell, output, readout, gain, seed=0, P=3, N=6, T=7):
    rng = np.random.default_rng(seed)
    net = en.RNN(2, (5, 4), 3, cell=cell, activation="tanh", output=output, readout=readout)
    Theta = net.init_population(P, rng, gain=gain)
    X = rng.normal(size=(N, T, 2))
    shape = (N,) if readout == "last" else (N, T)
    y = rng.integers(0, 3, size=shape) if output == "softmax" else rng.uniform(size=shape + (3,))
    return net, Theta, X, y, rng.integers(1, T + 1, size=N)


def assert_agrees(backend, cell, output, readout, dtype, gain=1.0):
    net, Theta, X, y, lengths = problem(cell, output, readout, gain)
    ev, ref = en.Evaluator(net, backend=backend, dtype=dtype), en.Evaluator(net, backend="numpy", dtype=dtype)
    tol = TOL[dtype]
    for kw in ({}, {"lengths": lengths}):
        out = ev.forward(Theta, X, **kw)
        assert out.dtype == np.dtype(dtype) and rel_err(out, ref.forward(Theta, X, **kw)) <= tol
        np.testing.assert_allclose(ev.loss(Theta, X, y, **kw), ref.loss(Theta, X, y, **kw), rtol=tol)
        (L, G), (L_ref, G_ref) = ev.loss_and_grad(Theta, X, y, **kw), ref.loss_and_grad(Theta, X, y, **kw)
        assert G.dtype == np.dtype(dtype) and G.shape == Theta.shape
        np.testing.assert_allclose(L, L_ref, rtol=tol)
        assert rel_err(G, G_ref) <= tol
    _, zs = ev.forward(Theta, X, return_hidden=True)
    _, zs_ref = ref.forward(Theta, X, return_hidden=True)
    for z, z_ref in zip(zs, zs_ref):
        assert z.shape == z_ref.shape and rel_err(z, z_ref) <= tol


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", ["numba", "auto"])
@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_numba_and_auto_agree_with_numpy(cell, backend, dtype):
    assert_agrees(backend, cell, "softmax", "last", dtype)
    assert_agrees(backend, cell, "sigmoid", "all", dtype)


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_agree_where_units_saturate(cell):
    for dtype in ("float64", "float32"):
        assert_agrees("numba", cell, "linear", "all", dtype, gain=30.0)


def test_float32_close_to_float64():
    net, Theta, X, y, lengths = problem("lstm", "softmax", "all", 1.0)
    a = en.Evaluator(net, dtype="float32").loss_and_grad(Theta, X, y, lengths=lengths)
    b = en.Evaluator(net, dtype="float64").loss_and_grad(Theta, X, y, lengths=lengths)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-5)
    assert rel_err(a[1], b[1]) < 1e-4


@pytest.mark.skipif(not cupy_available(), reason="needs CuPy and a CUDA GPU")
@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_cupy_agrees_with_numpy(cell):
    for dtype in ("float64", "float32"):
        assert_agrees("cupy", cell, "softmax", "last", dtype)
        assert_agrees("cupy", cell, "linear", "all", dtype)
