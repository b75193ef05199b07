"""The Numba pyramid kernels against the NumPy reference: every projection, activation,
border and output; float64 and float32; saturating scales; thread- and chunk-independence."""

import numpy as np
import pytest

import evoneuro as en
from evoneuro.backends import numba_available

pytestmark = pytest.mark.skipif(not numba_available(), reason="numba is not installed")

ACTIVATIONS = ["sigmoid", "tanh", ("tanh", 1.7159, 2 / 3), "softsign", "gaussian", "relu", "identity"]


def case(seed=0, N=37, P=3, gain=2.0, **kw):
    """A pyramid whose images do not fill the kernels' tiles of 32 (N=37: a tile and a remainder)."""
    opts = dict(shape=(8, 8), levels=3, features=(3, 2, 4), kernel=3, iterations=3)
    opts.update(kw)
    net = en.Pyramid(**opts)
    rng = np.random.default_rng(seed)
    Theta = net.init_population(P, rng, gain=gain) + rng.normal(size=(P, net.n_params)) * 0.05
    H, W = net.shape
    X = rng.uniform(size=(N, H, W, net.n_inputs))
    y = rng.uniform(size=(N, H, W, net.n_outputs))
    return net, Theta, X, y


def agree(net, Theta, X, y, dtype, rtol):
    fast = en.Evaluator(net, backend="numba", dtype=dtype)
    ref = en.Evaluator(net, backend="numpy", dtype=dtype)
    lf, gf = fast.loss_and_grad(Theta, X, y)
    lr, gr = ref.loss_and_grad(Theta, X, y)
    scale = max(1e-30, float(np.abs(gr).max()))
    np.testing.assert_allclose(lf, lr, rtol=rtol, atol=rtol * 1e-3)
    np.testing.assert_allclose(gf / scale, gr / scale, rtol=0, atol=rtol)
    np.testing.assert_allclose(fast.loss(Theta, X, y), lr, rtol=rtol, atol=rtol * 1e-3)
    np.testing.assert_allclose(fast.forward(Theta, X), ref.forward(Theta, X), rtol=0, atol=rtol)


@pytest.mark.parametrize("border", ["zero", "wrap"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_and_border_float64(activation, border):
    agree(*case(activation=activation, border=border), "float64", 1e-11)


@pytest.mark.parametrize("output", ["sigmoid", "linear"])
@pytest.mark.parametrize("read", ["linear", "last", (1, 2)])
def test_outputs_reads_and_channels_float64(output, read):
    agree(*case(output=output, read=read, n_inputs=2, n_outputs=2, kernel=5, border="wrap"), "float64", 1e-11)


def test_float32_agrees_to_rounding():
    agree(*case(seed=3), "float32", 2e-5)


@pytest.mark.parametrize("gain", [30.0, 1e3])
def test_saturating_scales(gain):
    net, Theta, X, y = case(seed=4, gain=gain)
    agree(net, Theta, X, y, "float64", 1e-10)
    lf, gf = en.Evaluator(net, backend="numba", dtype="float32").loss_and_grad(Theta, X, y)
    assert np.isfinite(lf).all() and np.isfinite(gf).all()


def test_same_bits_on_any_thread_count_and_chunking():
    net, Theta, X, y = case(seed=5, P=5, N=70)
    one = en.Evaluator(net, backend="numba", dtype="float32", n_jobs=1).loss_and_grad(Theta, X, y)
    two = en.Evaluator(net, backend="numba", dtype="float32", n_jobs=2).loss_and_grad(Theta, X, y)
    small = en.Evaluator(net, backend="numba", dtype="float32", n_jobs=2, max_memory=1)
    chunked = small.loss_and_grad(Theta, X, y)
    for a, b in ((one, two), (one, chunked)):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


def test_return_hidden_runs_the_reference():
    net, Theta, X, _ = case(N=4)
    out, hidden = en.Evaluator(net, backend="numba", dtype="float64").forward(Theta, X, return_hidden=True)
    ref_out, ref_hidden = en.Evaluator(net, backend="numpy", dtype="float64").forward(Theta, X, return_hidden=True)
    np.testing.assert_array_equal(out, ref_out)
    assert len(hidden) == len(ref_hidden) == net.levels + 1
