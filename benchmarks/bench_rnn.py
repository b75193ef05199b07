"""Recurrent population evaluation: the numba backend against torch and jax.

Workloads (softmax over 2 classes read at the last step, float32)::

    R1  elman  P=256  N=128  T=100  d=1  H=32
    R2  lstm   P=64   N=128  T=100  d=4  H=32

Contenders, each on the same population, data and loss (checked against the numba
backend's losses before timing):

* ``numba``: :class:`evoneuro.Evaluator` with ``backend="numba"`` on exactly ``k`` threads;
* ``torch bmm``: the population batched, one ``torch.baddbmm`` over all members per step
  (input projections of every step hoisted into one product), autograd for the gradient;
* ``torch nn``: ``nn.RNN`` / ``nn.LSTM`` (oneDNN kernels) looped over the members;
* ``jax``: ``jit(vmap(member))`` of a ``lax.scan`` over the steps (input projections
  hoisted), ``value_and_grad`` for the gradient.

Absent libraries are skipped. Every figure is a median over rounds; each round times
every contender once, in turn, so a slow moment of the machine hits all of them alike.
The ratio is the faster peer's time over numba's. Each thread count runs in a fresh
process (XLA fixes its thread pool at import), and the load average is printed around it.

Usage::

    python benchmarks/bench_evaluator.py --rnn              # 1 and 2 threads
    python benchmarks/bench_rnn.py --threads 1 --rounds 3   # one table
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import numpy as np

WORKLOADS = {
    "R1": {"cell": "elman", "P": 256, "N": 128, "T": 100, "d": 1, "H": 32},
    "R2": {"cell": "lstm", "P": 64, "N": 128, "T": 100, "d": 4, "H": 32},
}
QUICK = {"R1q": {"cell": "elman", "P": 4, "N": 16, "T": 10, "d": 1, "H": 8},
         "R2q": {"cell": "lstm", "P": 4, "N": 16, "T": 10, "d": 2, "H": 8}}
N_CLASSES = 2


def make_problem(cfg: dict, seed: int = 0):
    import evoneuro as en

    net = en.RNN(cfg["d"], (cfg["H"],), N_CLASSES, cell=cfg["cell"], output="softmax", readout="last")
    rng = np.random.default_rng(seed)
    Theta = net.init_population(cfg["P"], rng).astype(np.float32)
    X = rng.normal(size=(cfg["N"], cfg["T"], cfg["d"])).astype(np.float32)
    y = rng.integers(0, N_CLASSES, size=cfg["N"])
    return net, Theta, X, y


def _parts(net, Theta):
    """``W_i (P, d, GH)``, ``W_h (P, H, GH)``, ``b (P, GH)``, ``W_o (P, H, K)``, ``b_o (P, K)``."""
    out = net.layers[-1]
    return (net.input_weights(0, Theta), net.recurrent_weights(0, Theta), net.layers[0].bias(Theta),
            out.weights(Theta), out.bias(Theta))


# --- torch --------------------------------------------------------------------------------


def _torch_cell(cell, torch):
    def elman(z, c):
        return torch.tanh(z), c

    def lstm(z, c):
        i, f, g, o = z.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    return {"elman": elman, "lstm": lstm}[cell]


def torch_bmm(net, Theta, X, y, grad: bool):
    """Losses (and gradients) with one ``baddbmm`` over the population per step."""
    import torch

    P, (N, T, d), H = len(Theta), X.shape, net.hidden[0]
    Th = torch.from_numpy(Theta)
    Xs = torch.from_numpy(np.ascontiguousarray(X.transpose(1, 0, 2)).reshape(T * N, d))
    yt = torch.from_numpy(y).repeat(P)
    step = _torch_cell(net.cell, torch)

    def run():
        th = Th.clone().requires_grad_(grad)
        with torch.set_grad_enabled(grad):
            Wi, Wh, b, Wo, bo = _parts(net, th)
            A = torch.baddbmm(b[:, None, :], Xs.expand(P, -1, -1), Wi).view(P, T, N, -1).unbind(1)
            h = torch.zeros(P, N, H)
            c = torch.zeros(P, N, H)
            for t in range(T):
                h, c = step(torch.baddbmm(A[t], h, Wh), c)
            z = torch.baddbmm(bo[:, None, :], h, Wo)
            loss = torch.nn.functional.cross_entropy(z.reshape(P * N, -1), yt, reduction="none").view(P, N).mean(1)
            if grad:
                loss.sum().backward()
                return loss.detach().numpy(), th.grad.numpy()
            return loss.numpy()

    return run


def torch_modules(net, Theta, X, y, grad: bool):
    """Losses (and gradients) with ``nn.RNN`` / ``nn.LSTM`` looped over the members."""
    import torch

    d, H = net.n_inputs, net.hidden[0]
    cls = {"elman": lambda: torch.nn.RNN(d, H, batch_first=True),
           "lstm": lambda: torch.nn.LSTM(d, H, batch_first=True)}[net.cell]
    mods, heads = [], []
    for theta in Theta:
        Wi, Wh, b, Wo, bo = (torch.from_numpy(np.ascontiguousarray(a)) for a in _parts(net, theta))
        m = cls()
        with torch.no_grad():
            m.weight_ih_l0.copy_(Wi.T)
            m.weight_hh_l0.copy_(Wh.T)
            m.bias_ih_l0.copy_(b)
            m.bias_hh_l0.zero_()
        mods.append(m)
        heads.append((Wo.clone().requires_grad_(grad), bo.clone().requires_grad_(grad)))
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def run():
        losses = []
        with torch.set_grad_enabled(grad):
            for m, (Wo, bo) in zip(mods, heads):
                _, hn = m(Xt)
                h = (hn[0] if isinstance(hn, tuple) else hn)[0]
                loss = torch.nn.functional.cross_entropy(h @ Wo + bo, yt)
                if grad:
                    m.zero_grad(set_to_none=True)
                    Wo.grad = bo.grad = None
                    loss.backward()
                losses.append(loss.item())
        return np.array(losses)

    return run


# --- jax ----------------------------------------------------------------------------------


def jax_scan(net, Theta, X, y, grad: bool):
    """``jit(vmap(member))`` of a ``lax.scan`` over the steps."""
    import jax
    import jax.numpy as jnp

    H, cell = net.hidden[0], net.cell
    params = tuple(jnp.asarray(np.ascontiguousarray(a)) for a in _parts(net, Theta))
    xs, yj = jnp.asarray(np.ascontiguousarray(X.transpose(1, 0, 2))), jnp.asarray(y)
    N = X.shape[0]

    def member(p):
        Wi, Wh, b, Wo, bo = p
        A = xs @ Wi + b  # (T, N, GH): every step's input projection at once

        def step(carry, a):
            h, c = carry
            z = a + h @ Wh
            if cell == "elman":
                return (jnp.tanh(z), c), None
            i, f, g, o = jnp.split(z, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            return (jax.nn.sigmoid(o) * jnp.tanh(c), c), None

        zero = jnp.zeros((N, H), A.dtype)
        (h, _), _ = jax.lax.scan(step, (zero, zero), A)
        z = h @ Wo + bo
        return jnp.mean(jax.nn.logsumexp(z, axis=1) - z[jnp.arange(N), yj])

    fn = jax.jit(jax.vmap(jax.value_and_grad(member) if grad else member))
    return lambda: jax.block_until_ready(fn(params))


# --- table --------------------------------------------------------------------------------


def _available(name: str) -> bool:
    try:
        __import__(name)
        return True
    except ImportError:
        return False


def contenders(net, Theta, X, y, grad: bool, threads: int) -> dict:
    import evoneuro as en
    from evoneuro.backends.numba.tuner import ThreadTuner

    ev = en.Evaluator(net, backend="numba", dtype="float32", n_jobs=threads)
    ev._backend._tuner = ThreadTuner(threads, fixed=True)  # exactly `threads`, no learning
    out = {"numba": (lambda: ev.loss_and_grad(Theta, X, y)) if grad else (lambda: ev.loss(Theta, X, y))}
    if _available("torch"):
        out["torch bmm"] = torch_bmm(net, Theta, X, y, grad)
        out["torch nn"] = torch_modules(net, Theta, X, y, grad)
    if _available("jax"):
        out["jax"] = jax_scan(net, Theta, X, y, grad)
    return out


def _loss_of(result):
    first = result[0] if isinstance(result, tuple) else result
    return np.asarray(first, dtype=np.float64)


def bench(workloads: dict, threads: int, rounds: int) -> None:
    from bench_evaluator import interleaved

    if _available("torch"):
        import torch

        torch.set_num_threads(threads)
    print(f"\n{threads} thread(s); load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    header = (f"{'':>3} {'pass':>9} {'numba ms':>9} {'torch bmm':>10} {'torch nn':>9} {'jax ms':>9} "
              f"{'x faster peer':>14}")
    print(header)
    print("-" * len(header))
    for name, cfg in workloads.items():
        net, Theta, X, y = make_problem(cfg)
        for grad in (False, True):
            fns = contenders(net, Theta, X, y, grad, threads)
            ref = _loss_of(fns["numba"]())
            for peer, fn in fns.items():  # same workload: the peers' losses agree with ours
                got = _loss_of(fn())
                if not np.allclose(got, ref, rtol=1e-3, atol=1e-4):
                    raise AssertionError(f"{name} {peer}: losses differ from numba's by "
                                         f"{np.max(np.abs(got - ref)):.2e}")
            t = interleaved(fns, rounds)
            peers = [t[k] for k in t if k != "numba"]
            cols = [f"{t[k] * 1e3:{w}.1f}" if k in t else f"{'-':>{w}}"
                    for k, w in (("torch bmm", 10), ("torch nn", 9), ("jax", 9))]
            ratio = f"{min(peers) / t['numba']:14.2f}" if peers else f"{'-':>14}"
            print(f"{name:>3} {'loss+grad' if grad else 'loss':>9} {t['numba'] * 1e3:9.1f} {' '.join(cols)} {ratio}",
                  flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def run_all(rounds: int, quick: bool = False, thread_counts=(1, 2)) -> None:
    """One fresh process per thread count, XLA's pool sized before jax is imported."""
    script = os.path.abspath(__file__)
    for k in thread_counts:
        env = dict(os.environ)
        if k == 1:
            env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        cmd = [sys.executable, script, "--threads", str(k), "--rounds", str(rounds)] + (["--quick"] if quick else [])
        subprocess.run(cmd, check=True, env=env)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=None, help="one table on this many threads "
                    "(default: 1 and 2, each in a fresh process)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = ap.parse_args(argv)
    if args.threads is None:
        run_all(args.rounds, args.quick)
        return
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    bench(QUICK if args.quick else WORKLOADS, args.threads, args.rounds)


if __name__ == "__main__":
    main()
