"""The register-blocked tile products (:mod:`evoneuro.backends.numba.simd`) against NumPy.

The evaluator tests check whole nets against the NumPy oracle; these pin the building
blocks on shapes the nets may not reach: widths below, at and past a block, the
transposed strides of the backward pass, rows of a larger buffer, padding columns.
"""

import numpy as np
import pytest

pytest.importorskip("numba")

from evoneuro.backends.numba import tiles as T  # noqa: E402
from evoneuro.backends.numba.simd import TILE  # noqa: E402

SHAPES = [(1, 1), (3, 5), (4, 4), (13, 10), (16, 16), (32, 32), (5, 40), (64, 7), (7, 33), (130, 17)]
TOL = {np.float32: 2e-6, np.float64: 1e-13}


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.mark.parametrize("K,N", SHAPES)
def test_forward_product_matches_numpy(K, N, dtype):
    rng = np.random.default_rng(K * 100 + N)
    hT = rng.standard_normal((K + 2, TILE)).astype(dtype)  # extra rows: a view's offsets
    w0, b0 = 3, 3 + K * N
    th = rng.standard_normal(b0 + N + 4).astype(dtype)
    zT = np.full((N + 3, TILE), np.nan, dtype)
    T.matmul_tile(hT, K, th, w0, N, T.I1, zT, N, b0, T.TRUE)
    W = th[w0:w0 + K * N].reshape(K, N).astype(np.float64)
    ref = W.T @ hT[:K].astype(np.float64) + th[b0:b0 + N, None]
    scale = np.abs(W).T @ np.abs(hT[:K].astype(np.float64)) + 1
    assert np.all(np.abs(zT[:N] - ref) <= TOL[dtype] * scale)
    assert np.isnan(zT[N:]).all()  # rows past N untouched


@pytest.mark.parametrize("K,N", SHAPES)
def test_backward_product_matches_numpy(K, N, dtype):
    # dh = W dz: the same kernel with strides (1, fan_out) and no bias
    rng = np.random.default_rng(K * 7 + N)
    dz = rng.standard_normal((N, TILE)).astype(dtype)
    th = rng.standard_normal(K * N + N).astype(dtype)
    dh = np.empty((K, TILE), dtype)
    T.matmul_tile(dz, N, th, T.I0, T.I1, N, dh, K, T.I0, T.FALSE)
    W = th[:K * N].reshape(K, N).astype(np.float64)
    ref = W @ dz.astype(np.float64)
    assert np.all(np.abs(dh - ref) <= TOL[dtype] * (np.abs(W) @ np.abs(dz.astype(np.float64)) + 1))


@pytest.mark.parametrize("K,N", SHAPES)
def test_weight_gradient_matches_numpy(K, N, dtype):
    rng = np.random.default_rng(K + 31 * N)
    hT = rng.standard_normal((K + 1, TILE)).astype(dtype)
    dz = rng.standard_normal((N, TILE)).astype(dtype)
    w0 = 2
    g = rng.standard_normal(w0 + K * N + N + 3).astype(dtype)
    expected = g.astype(np.float64)
    expected[w0:w0 + K * N] += (hT[:K].astype(np.float64) @ dz.T.astype(np.float64)).ravel()
    expected[w0 + K * N:w0 + K * N + N] += dz.astype(np.float64).sum(axis=1)
    T.grad_tile(hT, K, dz, N, g, w0, dtype(0), T.TRUE)
    scale = np.abs(hT[:K].astype(np.float64)) @ np.abs(dz.T.astype(np.float64))
    err = np.abs(g - expected)
    assert np.all(err[w0:w0 + K * N] <= TOL[dtype] * (scale.ravel() + 1))
    assert np.all(err[:w0] == 0) and np.all(err[w0 + K * N + N:] == 0)  # nothing else written


def test_softmax_loss_tile_matches_numpy(dtype):
    rng = np.random.default_rng(5)
    K, R, r0, N = 10, 37, 64, 200  # a partial tile at an offset
    zT = (rng.standard_normal((K, TILE)) * 30).astype(dtype)
    y = rng.integers(0, K, N)
    z = zT[:, :R].astype(np.float64)
    shifted = z - z.max(axis=0)
    lse = np.log(np.exp(shifted).sum(axis=0))
    p = np.exp(shifted - lse)
    loss = np.zeros(N)
    grad = zT.copy()
    T.softmax_loss_tile(zT.copy(), K, R, y, r0, N, loss, T.FALSE)
    np.testing.assert_allclose(loss[r0:r0 + R], lse - shifted[y[r0:r0 + R], np.arange(R)], rtol=1e-5, atol=1e-6)
    loss2 = np.zeros(N)
    T.softmax_loss_tile(grad, K, R, y, r0, N, loss2, T.TRUE)
    np.testing.assert_array_equal(loss, loss2)
    p[y[r0:r0 + R], np.arange(R)] -= 1
    np.testing.assert_allclose(grad[:, :R], p / N, rtol=1e-5, atol=1e-9)
    assert np.all(grad[:, R:] == 0)  # padding columns


@pytest.mark.parametrize("mode", ["zero", "bias", "acc"])
@pytest.mark.parametrize("K,N", [(36, 128), (33, 2), (5, 9)])
def test_recurrent_product_modes_match_numpy(mode, K, N, dtype):
    from evoneuro.backends.numba import rnn_tiles as R

    rng = np.random.default_rng(K + N)
    hT = rng.standard_normal((K, TILE)).astype(dtype)
    w = rng.standard_normal(K * N + N).astype(dtype)
    zT = rng.standard_normal((N, TILE)).astype(dtype)
    W = w[:K * N].reshape(K, N).astype(np.float64)
    ref = W.T @ hT.astype(np.float64)
    ref += {"zero": 0, "bias": w[K * N:, None].astype(np.float64), "acc": zT.astype(np.float64)}[mode]
    R.matmul_rows(hT, K, w, R.I0, N, R.I1, zT, N, K * N, {"zero": R.ZERO, "bias": R.BIAS, "acc": R.ACC}[mode])
    np.testing.assert_allclose(zT, ref, rtol=0, atol=TOL[dtype] * (np.abs(W).T @ np.abs(hT) + 2).max())


_NARROW_CHECK = """
import numpy as np
from evoneuro.backends.numba import simd, tiles as T
import evoneuro as en
assert simd.VBYTES == 32 and simd.NREG == 16
rng = np.random.default_rng(0)
for dtype in (np.float32, np.float64):
    for K, N in ((32, 32), (13, 10), (5, 40), (16, 7)):
        hT = rng.standard_normal((K, 64)).astype(dtype)
        th = rng.standard_normal(K * N + N).astype(dtype)
        z = np.empty((N, 64), dtype)
        T.matmul_tile(hT, K, th, T.I0, N, T.I1, z, N, K * N, T.TRUE)
        ref = th[:K * N].reshape(K, N).T.astype(float) @ hT + th[K * N:, None]
        assert np.abs(z - ref).max() < (1e-4 if dtype == np.float32 else 1e-12), (dtype, K, N)
        dz = rng.standard_normal((N, 64)).astype(dtype)
        g = np.zeros(K * N + N, dtype)
        T.grad_tile(hT, K, dz, N, g, T.I0, dtype(0), T.TRUE)
        assert np.abs(g[:K * N] - (hT.astype(float) @ dz.T).ravel()).max() < (1e-4 if dtype == np.float32 else 1e-12)
net = en.MLP(5, (16, 9), 3, activation="sigmoid")
Theta = net.init_population(3, rng)
X, y = rng.normal(size=(70, 5)), rng.integers(0, 3, 70)
a = en.Evaluator(net, backend="numba", dtype="float64").loss_and_grad(Theta, X, y)
b = en.Evaluator(net, backend="numpy", dtype="float64").loss_and_grad(Theta, X, y)
for u, v in zip(a, b):
    assert np.abs(u - v).max() < 1e-10
print("ok")
"""


def test_256_bit_code_matches_numpy(tmp_path):
    # What a host without AVX-512 runs (8 float32 / 4 float64 lanes, 8 accumulators),
    # forced on this one, in a process with a Numba cache of its own
    import os
    import subprocess
    import sys

    env = dict(os.environ, EVONEURO_SIMD_BYTES="32", NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", _NARROW_CHECK], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")
