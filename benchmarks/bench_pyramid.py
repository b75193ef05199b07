"""Speed of a population of Neural Abstraction Pyramids: evoneuro's Numba kernels against torch and jax.

The same computation in all three, checked equal before it is timed: a 16 x 16, 3-level
(features 4, 8, 16), 4-iteration sigmoid pyramid (``Pyramid((16, 16), 3, (4, 8, 16),
iterations=4)``), a population of ``P`` members on ``N`` shared images, the read-weighted
squared error; "loss" is the forward pass and the loss, "loss+grad" adds the gradient of every
member's loss with respect to its weights (BPTT).

- **evoneuro**: ``Evaluator(net, backend="numba", dtype="float32", n_jobs=threads)``;
- **torch** (CPU): the population as groups of a grouped convolution
  (``conv2d(groups=P)`` for the lateral and forward windows, ``conv_transpose2d(groups=P)``
  for the 2 x 2 backward projection), iterated in Python, autograd for the gradient;
- **jax** (CPU): one member's pyramid with ``lax.conv_general_dilated`` (NHWC, HWIO: the
  flat vector's own kernel layout), the iterations in ``lax.scan``, ``vmap`` over members,
  ``jit``, and ``value_and_grad`` for the gradient.

Each backend and thread count runs in a process of its own (XLA's thread count is fixed at
start), timed as the median of ``--repeats`` calls after warm-up calls; the ratio is the
peer's time over evoneuro's (above 1: evoneuro faster). Peers that are not installed are
skipped. Usage::

    python benchmarks/bench_pyramid.py [--members 16] [--images 64] [--repeats 7]

The load average is printed beside the table; torch 2.13.0 CPU and jax were installed in a
separate virtual environment (``docs/guide/pyramid.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

SHAPE, LEVELS, FEATURES, ITERATIONS = (16, 16), 3, (4, 8, 16), 4


def _setup(members: int, images: int):
    import evoneuro as en

    net = en.Pyramid(SHAPE, LEVELS, FEATURES, kernel=3, iterations=ITERATIONS)
    rng = np.random.default_rng(0)
    Theta = net.init_population(members, rng).astype(np.float32)
    X = rng.uniform(size=(images,) + SHAPE).astype(np.float32)
    y = rng.uniform(size=(images,) + SHAPE).astype(np.float32)
    return net, Theta, X, y


def _time(fn, repeats: int) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


# --- the three implementations -------------------------------------------------------------


def evoneuro_fns(net, Theta, X, y, threads):
    import evoneuro as en

    ev = en.Evaluator(net, backend="numba", dtype="float32", n_jobs=threads)
    return (lambda: ev.loss(Theta, X, y)), (lambda: ev.loss_and_grad(Theta, X, y)), ev.loss(Theta, X, y)


def torch_fns(net, Theta, X, y, threads):
    import torch

    torch.set_num_threads(threads)
    P = Theta.shape[0]
    T = torch.from_numpy
    # weights as torch wants them, one tensor per kernel, the population stacked on the output maps
    params = {}
    for projs in net.projections:
        for p in projs:
            K = p.kernel(Theta)  # (P, a, c, i, o)
            if p.name == "backward":  # conv_transpose weight (P*i, o, a, c), groups=P
                w = np.ascontiguousarray(K.transpose(0, 3, 4, 1, 2)).reshape(P * p.n_in, p.n_out, p.size, p.size)
            else:  # conv weight (P*o, i, a, c)
                w = np.ascontiguousarray(K.transpose(0, 4, 3, 1, 2)).reshape(P * p.n_out, p.n_in, p.size, p.size)
            params[p.level, p.name] = T(w).requires_grad_()
    biases = [T(np.ascontiguousarray(s.bias(Theta)).reshape(-1)).requires_grad_() for s in net.layers]
    leaves = list(params.values()) + biases
    x = T(X)[:, None]  # (N, 1, H, W)
    target = T(y)
    readw = T(net.read_weights.astype(np.float32))
    N = X.shape[0]

    def loss_value():
        F, L = net.features, net.levels
        states = [torch.zeros(N, P * F[l], *net.resolutions[l]) for l in range(L)]
        drive = torch.nn.functional.conv2d(x, params[0, "input"], padding=net.kernel // 2)  # (N, P*F0, H, W)
        total = torch.zeros(P)
        for t in range(net.iterations):
            new = []
            for l in range(L):
                z = torch.nn.functional.conv2d(states[l], params[l, "lateral"], padding=net.kernel // 2, groups=P)
                if l == 0:
                    z = z + drive
                if l > 0:
                    z = z + torch.nn.functional.conv2d(states[l - 1], params[l, "forward"], stride=2, padding=1,
                                                       groups=P)
                if l < L - 1:
                    z = z + torch.nn.functional.conv_transpose2d(states[l + 1], params[l, "backward"], stride=2,
                                                                 groups=P)
                new.append(torch.sigmoid(z + biases[l][None, :, None, None]))
            states = new
            out = states[0].view(N, P, F[0], *SHAPE)[:, :, 0]  # (N, P, H, W)
            total = total + readw[t] * ((out - target[:, None]) ** 2).mean(dim=(0, 2, 3))
        return total

    def loss_only():
        with torch.no_grad():
            return loss_value()

    def loss_grad():
        total = loss_value()
        return torch.autograd.grad(total.sum(), leaves)

    return loss_only, loss_grad, loss_only().numpy()


def jax_fns(net, Theta, X, y, threads):
    import jax
    import jax.numpy as jnp
    from jax import lax

    F, L = net.features, net.levels
    readw = jnp.asarray(net.read_weights, dtype=jnp.float32)
    x = jnp.asarray(X)[..., None]  # (N, H, W, 1)
    target = jnp.asarray(y)
    N = X.shape[0]
    dims = ("NHWC", "HWIO", "NHWC")

    def conv(s, K, stride, pad):
        return lax.conv_general_dilated(s, K, (stride, stride), [(pad, pad), (pad, pad)], dimension_numbers=dims)

    def up(s, K):  # (N, h, w, Fi) x (2, 2, Fi, Fo) -> (N, 2h, 2w, Fo)
        n, h, w, _ = s.shape
        o = jnp.einsum("nhwi,acio->nhawco", s, K)
        return o.reshape(n, 2 * h, 2 * w, K.shape[-1])

    def member_loss(theta):
        kern = {(p.level, p.name): theta[p.start:p.end].reshape(p.shape) for projs in net.projections for p in projs}
        bias = [theta[s.b_start:s.b_end] for s in net.layers]
        drive = conv(x, kern[0, "input"], 1, net.kernel // 2)

        def step(states, w_t):
            new = []
            for l in range(L):
                z = conv(states[l], kern[l, "lateral"], 1, net.kernel // 2) + bias[l]
                if l == 0:
                    z = z + drive
                if l > 0:
                    z = z + conv(states[l - 1], kern[l, "forward"], 2, 1)
                if l < L - 1:
                    z = z + up(states[l + 1], kern[l, "backward"])
                new.append(jax.nn.sigmoid(z))
            err = w_t * jnp.mean((new[0][..., 0] - target) ** 2)
            return tuple(new), err

        init = tuple(jnp.zeros((N,) + net.resolutions[l] + (F[l],)) for l in range(L))
        _, errs = lax.scan(step, init, readw)
        return errs.sum()

    Th = jnp.asarray(Theta)
    loss = jax.jit(jax.vmap(member_loss))
    grad = jax.jit(jax.vmap(jax.value_and_grad(member_loss)))
    return (lambda: loss(Th).block_until_ready()), (lambda: jax.block_until_ready(grad(Th))), np.asarray(loss(Th))


IMPLEMENTATIONS = {"evoneuro": evoneuro_fns, "torch": torch_fns, "jax": jax_fns}


def measure(name: str, threads: int, members: int, images: int, repeats: int) -> dict:
    net, Theta, X, y = _setup(members, images)
    loss_fn, grad_fn, losses = IMPLEMENTATIONS[name](net, Theta, X, y, threads)
    return {"loss": _time(loss_fn, repeats), "loss+grad": _time(grad_fn, repeats), "losses": np.asarray(losses).tolist()}


def _child_env(threads: int) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = (f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
                        f"intra_op_parallelism_threads={threads}")
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = str(threads)
    return env


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--members", type=int, default=16)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--child", nargs=2, metavar=("IMPL", "THREADS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        name, threads = args.child[0], int(args.child[1])
        print(json.dumps(measure(name, threads, args.members, args.images, args.repeats)))
        return None
    print(f"load average before: {os.getloadavg()}")
    print(f"Pyramid({SHAPE}, {LEVELS}, {FEATURES}, iterations={ITERATIONS}), float32, P={args.members} members, "
          f"N={args.images} images; median of {args.repeats} calls, seconds per call")
    results = {}
    for threads in (int(t) for t in args.threads.split(",")):
        for name in IMPLEMENTATIONS:
            cmd = [sys.executable, __file__, "--child", name, str(threads), "--members", str(args.members),
                   "--images", str(args.images), "--repeats", str(args.repeats)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=_child_env(threads))
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["?"])[-1]
                print(f"  {name} ({threads} thread(s)) skipped: {last}")
                continue
            results[name, threads] = json.loads(proc.stdout.strip().splitlines()[-1])
    reference = results.get(("evoneuro", int(args.threads.split(",")[0])))
    for (name, threads), r in results.items():
        if reference is not None and name != "evoneuro":
            gap = np.max(np.abs(np.array(r["losses"]) - np.array(reference["losses"])))
            print(f"  {name}: largest loss difference from evoneuro {gap:.2e} (same computation)")
    print(f"\n{'threads':>7}  {'what':>9}  " + "  ".join(f"{n:>9}" for n in IMPLEMENTATIONS)
          + "  ratio peer/evoneuro (>1: evoneuro faster)")
    for threads in (int(t) for t in args.threads.split(",")):
        for what in ("loss", "loss+grad"):
            cells = [f"{results[n, threads][what]:>9.4f}" if (n, threads) in results else f"{'-':>9}"
                     for n in IMPLEMENTATIONS]
            ratios = [f"{n} {results[n, threads][what] / results['evoneuro', threads][what]:.2f}x"
                      for n in IMPLEMENTATIONS if n != "evoneuro" and (n, threads) in results
                      and ("evoneuro", threads) in results]
            print(f"{threads:>7}  {what:>9}  " + "  ".join(cells) + "  " + ", ".join(ratios))
    print(f"load average after: {os.getloadavg()}")
    return results


if __name__ == "__main__":
    main()
