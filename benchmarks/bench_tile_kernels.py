"""The tile kernels' layer products alone: GFLOP/s on one thread, against the loop version.

Times a chain of ``L`` square layers (``K`` inputs, ``K`` outputs, no activation) over one
tile of 64 samples, many times over, with

* ``matmul_tile`` (the forward product, register-blocked vector code from
  :mod:`evoneuro.backends.numba.simd`),
* ``grad_tile`` (the weight gradient of one tile),
* the loop version the products replaced (4 outputs x 4 inputs of broadcast weights per
  pass over the tile, the sums kept in memory), kept here as the reference,

and prints each one's GFLOP/s next to this machine's single-thread NumPy GEMM rate (a
2048^3 matmul; OpenBLAS may run 256-bit kernels where the products use 512-bit ones).
Best of 5 repeats; the load average is printed with the figures.

Usage::

    python benchmarks/bench_tile_kernels.py
    python benchmarks/bench_tile_kernels.py --dtype float64
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from numba import njit
from threadpoolctl import threadpool_limits

from evoneuro.backends.numba import tiles as T
from evoneuro.backends.numba.simd import NREG, TILE, VBYTES

_OPTS = dict(error_model="numpy", fastmath={"contract"})


@njit(**_OPTS)
def loop_product(hT, K, th, w0, zT, N, b0):
    """The loop version (forward strides, with bias): ``zT`` read and written per 4 inputs."""
    for j in range(0, N - N % 4, 4):
        for q in range(4):
            for r in range(TILE):
                zT[j + q, r] = th[b0 + j + q]
        for k in range(0, K - K % 4, 4):
            o = w0 + k * N + j
            w00, w01, w02, w03 = th[o], th[o + 1], th[o + 2], th[o + 3]
            o += N
            w10, w11, w12, w13 = th[o], th[o + 1], th[o + 2], th[o + 3]
            o += N
            w20, w21, w22, w23 = th[o], th[o + 1], th[o + 2], th[o + 3]
            o += N
            w30, w31, w32, w33 = th[o], th[o + 1], th[o + 2], th[o + 3]
            for r in range(TILE):
                a0, a1, a2, a3 = hT[k, r], hT[k + 1, r], hT[k + 2, r], hT[k + 3, r]
                zT[j, r] += a0 * w00 + a1 * w10 + a2 * w20 + a3 * w30
                zT[j + 1, r] += a0 * w01 + a1 * w11 + a2 * w21 + a3 * w31
                zT[j + 2, r] += a0 * w02 + a1 * w12 + a2 * w22 + a3 * w32
                zT[j + 3, r] += a0 * w03 + a1 * w13 + a2 * w23 + a3 * w33


@njit(**_OPTS)
def chain(kind, th, buf, g, K, L, reps):
    """``reps`` times: ``L`` layers of the kernel ``kind`` (0 product, 1 gradient, 2 loop)."""
    size = K * K + K
    zero = th[0] - th[0]
    for _ in range(reps):
        cur = 0
        for layer in range(L):
            w0 = layer * size
            if kind == 0:
                T.matmul_tile(buf[cur], K, th, w0, K, T.I1, buf[1 - cur], K, w0 + K * K, T.TRUE)
            elif kind == 1:
                T.grad_tile(buf[cur], K, buf[1 - cur], K, g, w0, zero, T.FALSE)
            else:
                loop_product(buf[cur], K, th, w0, buf[1 - cur], K, w0 + K * K)
            cur = 1 - cur
    return buf[0, 0, 0]


def gflops(kind: int, K: int, dtype, L: int = 10, flops_per_call: float = 4e8) -> float:
    rng = np.random.default_rng(0)
    th = (rng.standard_normal(L * (K * K + K)) / np.sqrt(K)).astype(dtype)
    buf = rng.standard_normal((2, K, TILE)).astype(dtype)
    g = np.zeros_like(th)
    per_rep = 2.0 * K * K * TILE * L
    reps = max(1, int(flops_per_call / per_rep))
    chain(kind, th, buf, g, K, L, 1)
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        chain(kind, th, buf, g, K, L, reps)
        best = min(best, time.perf_counter() - t0)
    return per_rep * reps / best / 1e9


def gemm_rate(dtype, n: int = 2048) -> float:
    a = np.random.default_rng(0).random((n, n)).astype(dtype)
    a @ a
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args()
    dtype = np.dtype(args.dtype).type
    print(f"load average {os.getloadavg()}; vector registers: {VBYTES * 8}-bit, {NREG} of them")
    with threadpool_limits(1):
        peak = gemm_rate(dtype)
    print(f"{args.dtype}: NumPy GEMM 2048^3 on one thread = {peak:.0f} GFLOP/s")
    header = f"{'K':>5} {'product':>9} {'gradient':>9} {'loop':>7} {'product/loop':>13} {'product %GEMM':>14}"
    print(header)
    print("-" * len(header))
    for K in (16, 32, 64, 128):
        p, gr, lp = (gflops(kind, K, dtype) for kind in (0, 1, 2))
        print(f"{K:>5} {p:9.0f} {gr:9.0f} {lp:7.0f} {p / lp:13.2f} {100 * p / peak:14.0f}")
    print(f"load average after {os.getloadavg()}")


if __name__ == "__main__":
    main()
