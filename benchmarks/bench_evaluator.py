"""Population evaluation speed: the numba backend against numpy, a Python loop, torch and jax.

For each CPU workload of ``shared/bench/configs.json`` (an MLP ``[d_in, h x L, d_out]``,
sigmoid hidden units, softmax cross-entropy, ``P`` members, one batch of ``B`` rows) and
each dtype, prints the numba backend's time, GFLOP/s (``2 P B sum(fan_in fan_out)``,
forward loss only), its share of this machine's GEMM rate (a 2048^3 NumPy matmul of the
same dtype, measured in the same run), and speed-up ratios against

* the numpy backend (batched ``matmul``),
* a naive Python loop over members (the numpy backend on one member at a time),
* ``torch.baddbmm`` on the same data (skipped when torch is not installed),
* jax, ``jit(vmap(member))`` of one member's forward loss (skipped without jax), and the
  faster of the two peers (``x best peer``).

``%GEMM`` can pass 100: NumPy's OpenBLAS runs 256-bit kernels on some machines where the
tile kernels' products use 512-bit registers (:mod:`evoneuro.backends.numba.simd`).

Every figure is a median over rounds; each round times every contender once, in turn,
so a slow moment of the machine hits all of them alike. Then one network's backprop
(``P = 1``, workload A's net) is timed against torch autograd.

Usage::

    python benchmarks/bench_evaluator.py                 # all CPU workloads
    python benchmarks/bench_evaluator.py --configs A,C --rounds 9
    python benchmarks/bench_evaluator.py --quick         # seconds-long smoke run
    python benchmarks/bench_evaluator.py --threads 1     # per-core rates (numba, torch, jax and BLAS)
    python benchmarks/bench_evaluator.py --gpu           # G1, G2 with the cupy backend
    python benchmarks/bench_evaluator.py --rnn           # R1, R2 against torch and jax
                                                         # (benchmarks/bench_rnn.py)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

import evoneuro as en

CONFIGS_PATH = Path(__file__).resolve().parents[2] / "shared/bench/configs.json"
# Fallback copy of shared/bench/configs.json.
CONFIGS_FALLBACK = {
    "cpu": {
        "A": {"d_in": 64, "h": 32, "L": 10, "d_out": 10, "B": 512, "P": 64},
        "B": {"d_in": 64, "h": 32, "L": 10, "d_out": 10, "B": 512, "P": 256},
        "C": {"d_in": 64, "h": 128, "L": 4, "d_out": 10, "B": 1024, "P": 64},
        "D": {"d_in": 64, "h": 16, "L": 20, "d_out": 10, "B": 256, "P": 512},
    },
    "gpu": {
        "G1": {"d_in": 784, "h": 256, "L": 4, "d_out": 10, "B": 1024, "P": 1024},
        "G2": {"d_in": 64, "h": 32, "L": 10, "d_out": 10, "B": 2048, "P": 8192},
    },
}
QUICK = {"d_in": 16, "h": 8, "L": 3, "d_out": 4, "B": 64, "P": 8}

try:
    import torch
except ImportError:  # torch is a benchmark contender, not a dependency
    torch = None


def load_configs() -> dict:
    if CONFIGS_PATH.exists():
        return json.loads(CONFIGS_PATH.read_text())
    return CONFIGS_FALLBACK


def make_problem(cfg: dict, dtype, seed: int = 0, **net_options):
    """Net, population, data and the forward FLOP count of one workload (``net_options``:
    ``norm``, ``residual``, ``units`` of :class:`evoneuro.MLP`)."""
    net = en.MLP(cfg["d_in"], (cfg["h"],) * cfg["L"], cfg["d_out"], activation="sigmoid",
                 output="softmax", **net_options)
    rng = np.random.default_rng(seed)
    Theta = net.init_population(cfg["P"], rng).astype(dtype)
    X = rng.normal(size=(cfg["B"], cfg["d_in"])).astype(dtype)
    y = rng.integers(0, cfg["d_out"], size=cfg["B"])
    flops = 2 * cfg["P"] * cfg["B"] * sum(s.fan_in * s.fan_out for s in net.layers)
    return net, Theta, X, y, flops


def gemm_rate(dtype, rounds: int, n: int = 2048) -> float:
    """GFLOP/s of an ``n^3`` NumPy matmul: this machine's BLAS ceiling for ``dtype``."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n)).astype(dtype), rng.random((n, n)).astype(dtype)
    a @ b
    t = median_time(lambda: a @ b, rounds)
    return 2 * n**3 / t / 1e9


def median_time(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


WARM_S = 0.03  # untimed calls of a contender before its timed one, at least this long


def interleaved(contenders: dict, rounds: int) -> dict:
    """Median seconds per contender; each round runs every contender once, in turn.

    A library's thread pool keeps spinning after its call and, on a 2-core machine, takes
    a core from whoever runs next: torch's OpenMP threads slowed the next two or three
    numba calls (config A, 2 threads: 4.0-7.2 ms, then 3.4 ms steady). So before its timed
    call each contender runs untimed for at least :data:`WARM_S` (the previous library's
    threads go idle meanwhile, and its own pool is awake, as in a loop of calls); a pause
    instead let the CPU idle and slowed every library's next calls.
    """
    for fn in contenders.values():  # warm-up: compilation, caches, thread pools
        fn()
    times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            while time.perf_counter() - start < WARM_S:
                fn()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


# --- contenders ---------------------------------------------------------------------------


_THREADS: int | None = None  # --threads: the numba backend's thread count, fixed (None: its own choice)


def make_evaluator(net, dtype, backend="numba", threads=None, evaluator=en.Evaluator):
    """An evaluator; with ``threads`` the Numba backend always runs on exactly that many (its
    work pool is its own: numba's ``set_num_threads`` does not size it, and ``n_jobs=k``
    alone lets it choose 1 or k from its timings, see :mod:`evoneuro.backends.numba.tuner`)."""
    ev = evaluator(net, backend=backend, dtype=dtype, n_jobs=threads)
    if threads is not None:
        from evoneuro.backends.numba.tuner import ThreadTuner

        ev._backend._tuner = ThreadTuner(threads, fixed=True)
    return ev


def python_loop(net, Theta, X, y, dtype):
    ev = en.Evaluator(net, backend="numpy", dtype=dtype)
    return lambda: np.array([ev.loss(Theta[p], X, y)[0] for p in range(len(Theta))])


def torch_baddbmm(net, Theta, X, y):
    """Forward losses with one ``torch.baddbmm`` per layer over the population."""
    T = torch.from_numpy(Theta)
    P = T.shape[0]
    Ws = [T[:, s.w_start:s.w_end].reshape(P, s.fan_in, s.fan_out) for s in net.layers]
    bs = [T[:, s.b_start:s.b_end].unsqueeze(1) for s in net.layers]
    Xt = torch.from_numpy(X).expand(P, -1, -1)
    yt = torch.from_numpy(y).repeat(P)

    def run():
        with torch.no_grad():
            h = Xt
            for l, (W, b) in enumerate(zip(Ws, bs)):
                h = torch.baddbmm(b, h, W)
                if l < len(Ws) - 1:
                    h = torch.sigmoid_(h)
            ce = torch.nn.functional.cross_entropy(h.reshape(-1, h.shape[-1]), yt, reduction="none")
            return ce.view(P, -1).mean(1).numpy()

    return run


def jax_vmap(net, Theta, X, y):
    """Forward losses as ``jit(vmap(member))``: one member's layers, vectorised over the
    population by jax (XLA fuses the sigmoid into the batched products). None without jax."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:  # jax is a benchmark contender, not a dependency
        return None
    if Theta.dtype == np.float64:  # jax computes in float32 unless told otherwise
        jax.config.update("jax_enable_x64", True)
    layers = [(s.w_start, s.w_end, s.b_start, s.b_end, s.fan_in, s.fan_out) for s in net.layers]
    Xj, yj, Tj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(Theta)
    assert Tj.dtype == Theta.dtype, (Tj.dtype, Theta.dtype)

    def member(theta):
        h = Xj
        for l, (w0, w1, b0, b1, fi, fo) in enumerate(layers):
            h = h @ theta[w0:w1].reshape(fi, fo) + theta[b0:b1]
            if l < len(layers) - 1:
                h = jax.nn.sigmoid(h)
        return jnp.mean(jax.nn.logsumexp(h, axis=1) - h[jnp.arange(h.shape[0]), yj])

    fn = jax.jit(jax.vmap(member))
    return lambda: fn(Tj).block_until_ready()


def torch_autograd(net, theta, X, y):
    """Loss and gradient of one network with torch autograd."""
    t = torch.from_numpy(theta)
    params = []
    for s in net.layers:
        params.append(t[s.w_start:s.w_end].reshape(s.fan_in, s.fan_out).clone().requires_grad_())
        params.append(t[s.b_start:s.b_end].clone().requires_grad_())
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def run():
        for p in params:
            p.grad = None
        h = Xt
        for l in range(net.n_layers):
            h = torch.addmm(params[2 * l + 1], h, params[2 * l])
            if l < net.n_layers - 1:
                h = torch.sigmoid(h)
        loss = torch.nn.functional.cross_entropy(h, yt)
        loss.backward()
        return loss.item(), [p.grad for p in params]

    return run


# --- tables -------------------------------------------------------------------------------


def bench_cpu(configs: dict, dtypes, rounds: int, gemm_n: int = 2048) -> None:
    header = (f"{'cfg':>4} {'dtype':>8} {'P':>5} {'B':>5} {'numba ms':>9} {'GFLOP/s':>8} "
              f"{'%GEMM':>6} {'x numpy':>8} {'x loop':>7} {'x torch':>8} {'torch ms':>9} {'x jax':>8} {'jax ms':>9} "
              f"{'x best peer':>9}")
    for dtype in dtypes:
        peak = gemm_rate(dtype, max(3, rounds // 2), gemm_n)
        print(f"\n{np.dtype(dtype).name}: GEMM {gemm_n}^3 = {peak:.1f} GFLOP/s "
              f"({'torch ' + torch.__version__ if torch else 'torch absent'})")
        print(header)
        print("-" * len(header))
        for name, cfg in configs.items():
            net, Theta, X, y, flops = make_problem(cfg, dtype)
            nb = make_evaluator(net, dtype, threads=_THREADS)
            npy = en.Evaluator(net, backend="numpy", dtype=dtype)
            contenders = {
                "numba": lambda: nb.loss(Theta, X, y),
                "numpy": lambda: npy.loss(Theta, X, y),
                "loop": python_loop(net, Theta, X, y, dtype),
            }
            if torch is not None:
                contenders["torch"] = torch_baddbmm(net, Theta, X, y)
            jx = jax_vmap(net, Theta, X, y)
            if jx is not None:
                contenders["jax"] = jx
            t = interleaved(contenders, rounds)
            tn = t["numba"]

            def peer(k):
                return (f"{t[k] / tn:8.2f}", f"{t[k] * 1e3:9.2f}") if k in t else (f"{'-':>8}", f"{'-':>9}")

            peers = [t[k] for k in ("torch", "jax") if k in t]
            best = f"{min(peers) / tn:9.2f}" if peers else f"{'-':>9}"
            print(f"{name:>4} {np.dtype(dtype).name:>8} {cfg['P']:>5} {cfg['B']:>5} {tn * 1e3:9.2f} "
                  f"{flops / tn / 1e9:8.1f} {100 * flops / tn / 1e9 / peak:6.1f} "
                  f"{t['numpy'] / tn:8.2f} {t['loop'] / tn:7.2f} {' '.join(peer('torch'))} "
                  f"{' '.join(peer('jax'))} {best}")


def bench_backprop(cfg: dict, dtypes, rounds: int) -> None:
    cfg = dict(cfg, P=1)
    print(f"\nBackprop of one net (P=1, [{cfg['d_in']}, {cfg['h']}x{cfg['L']}, {cfg['d_out']}], "
          f"B={cfg['B']}): loss_and_grad")
    header = f"{'dtype':>8} {'numba ms':>9} {'numpy ms':>9} {'torch ms':>9} {'x torch':>8}"
    print(header)
    print("-" * len(header))
    for dtype in dtypes:
        net, Theta, X, y, _ = make_problem(cfg, dtype)
        nb = make_evaluator(net, dtype, threads=_THREADS)
        npy = en.Evaluator(net, backend="numpy", dtype=dtype)
        contenders = {"numba": lambda: nb.loss_and_grad(Theta, X, y),
                      "numpy": lambda: npy.loss_and_grad(Theta, X, y)}
        if torch is not None:
            contenders["torch"] = torch_autograd(net, Theta[0], X, y)
        t = interleaved(contenders, rounds if rounds < 3 else max(rounds, 20))
        tt = f"{t['torch'] * 1e3:9.3f} {t['torch'] / t['numba']:8.2f}" if "torch" in t else f"{'-':>9} {'-':>8}"
        print(f"{np.dtype(dtype).name:>8} {t['numba'] * 1e3:9.3f} {t['numpy'] * 1e3:9.3f} {tt}")


OPTIONS = {"plain": {}, "weightnorm": {"norm": "weightnorm"}, "layernorm": {"norm": "layernorm"},
           "cosine": {"norm": "cosine"}, "residual": {"residual": 1}, "rbf": {"units": "rbf"}}


def bench_options(cfg: dict, dtype, rounds: int) -> None:
    """Config A's net with each normalisation / shortcut / unit option: numba against numpy."""
    print(f"\nNet options on [{cfg['d_in']}, {cfg['h']}x{cfg['L']}, {cfg['d_out']}], P={cfg['P']}, "
          f"B={cfg['B']}, {np.dtype(dtype).name}: the numba backend against the numpy backend")
    header = f"{'option':>11} {'loss ms':>8} {'numpy ms':>9} {'x numpy':>8} {'grad ms':>8} {'numpy ms':>9} {'x numpy':>8}"
    print(header)
    print("-" * len(header))
    for name, kw in OPTIONS.items():
        net, Theta, X, y, _ = make_problem(cfg, dtype, **kw)
        nb, npy = make_evaluator(net, dtype, threads=_THREADS), en.Evaluator(net, backend="numpy", dtype=dtype)
        t = interleaved({"loss": lambda: nb.loss(Theta, X, y), "np loss": lambda: npy.loss(Theta, X, y),
                         "grad": lambda: nb.loss_and_grad(Theta, X, y),
                         "np grad": lambda: npy.loss_and_grad(Theta, X, y)}, rounds)
        print(f"{name:>11} {t['loss'] * 1e3:8.2f} {t['np loss'] * 1e3:9.2f} {t['np loss'] / t['loss']:8.2f} "
              f"{t['grad'] * 1e3:8.2f} {t['np grad'] * 1e3:9.2f} {t['np grad'] / t['grad']:8.2f}")


def bench_gpu(configs: dict, rounds: int) -> None:
    import cupy as cp

    def gpu_time(fn) -> float:
        fn()
        cp.cuda.Device().synchronize()
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        times = []
        for _ in range(rounds):
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(cp.cuda.get_elapsed_time(start, stop) / 1e3)
        return statistics.median(times)

    n = 8192
    a = cp.random.random((n, n), dtype=cp.float32)
    b = cp.random.random((n, n), dtype=cp.float32)
    peak = 2 * n**3 / gpu_time(lambda: a @ b) / 1e9
    a = b = None  # free the device memory before the workloads
    name = cp.cuda.runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else name
    print(f"\nGPU {name}: cuBLAS float32 GEMM {n}^3 = {peak:.0f} GFLOP/s")
    header = f"{'cfg':>4} {'P':>6} {'B':>5} {'cupy ms':>9} {'GFLOP/s':>9} {'%GEMM':>6}"
    print(header)
    print("-" * len(header))
    for cname, cfg in configs.items():
        net, Theta, X, y, flops = make_problem(cfg, np.float32)
        ev = en.Evaluator(net, backend="cupy", dtype="float32", max_memory=16 << 30)
        t = gpu_time(lambda: ev.loss(Theta, X, y))  # includes host->device copies of Theta
        print(f"{cname:>4} {cfg['P']:>6} {cfg['B']:>5} {t * 1e3:9.2f} {flops / t / 1e9:9.0f} "
              f"{100 * flops / t / 1e9 / peak:6.1f}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default=None, help="comma-separated workload names, e.g. A,C")
    ap.add_argument("--rounds", type=int, default=7, help="timed rounds per contender (median)")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (seconds)")
    ap.add_argument("--gpu", action="store_true", help="GPU workloads with the cupy backend")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for numba, torch and (1 only) jax (default: all cores)")
    ap.add_argument("--options", action="store_true",
                    help="config A with WeightNorm, LayerNorm, cosine norm, residual and RBF: numba against numpy")
    ap.add_argument("--rnn", action="store_true",
                    help="recurrent workloads R1, R2 against torch and jax, on 1 and 2 threads")
    args = ap.parse_args(argv)
    if args.rnn:
        import bench_rnn

        bench_rnn.run_all(min(args.rounds, 3) if args.rounds == 7 else args.rounds, args.quick,
                          (args.threads,) if args.threads else (1, 2))
        return
    if args.threads == 1:  # XLA sizes its pool when jax is imported (lazily, in jax_vmap)
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    if args.threads:
        import numba
        from threadpoolctl import threadpool_limits

        global _THREADS
        _THREADS = args.threads
        threadpool_limits(args.threads)  # the numpy contenders and the GEMM ceiling too (kept to the end)

        numba.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    all_configs = load_configs()
    dtypes = [np.dtype(d).type for d in args.dtypes.split(",")]
    if args.options:
        for dtype in dtypes:
            bench_options(QUICK if args.quick else all_configs["cpu"]["A"], dtype, 2 if args.quick else args.rounds)
        return
    if args.gpu:
        gpu = all_configs["gpu"]
        names = args.configs.split(",") if args.configs else list(gpu)
        bench_gpu({n: gpu[n] for n in names}, args.rounds)
        return
    if args.quick:
        configs, rounds = {"quick": QUICK}, 2
    else:
        cpu = all_configs["cpu"]
        names = args.configs.split(",") if args.configs else list(cpu)
        unknown = set(names) - set(cpu)
        if unknown:
            ap.error(f"unknown configs {sorted(unknown)}; choose from {sorted(cpu)}")
        configs, rounds = {n: cpu[n] for n in names}, args.rounds
    bench_cpu(configs, dtypes, rounds, gemm_n=256 if args.quick else 2048)
    bench_backprop(configs.get("A", next(iter(configs.values()))), dtypes, rounds)


if __name__ == "__main__":
    main()
