"""Distributed evaluation on dask against serial evaluation, measured in one run (issue 28).

A ``LocalCluster`` of worker processes, one thread each (``--workers``, default 2: the cores
of the machine this was written on), against the same work in this process. Prints:

1. **Throughput** (members or rows per second) against serial at equal work:
   (a) a control-like fitness of about 10 ms per member (a Python loop stepping a small
   linear policy), sub-population chunks and per-member tasks; (b) the digits 10x32
   sigmoid ``EvoMLPClassifier`` with sep-CMA-ES, a fixed number of steps; (c) data-parallel
   evaluation of 200,000 synthetic rows (loss and gradient of one MLP, the row shards held
   by the workers). Serial runs on one thread and on all the machine's threads.
2. **Overhead per generation** with a 1 ms fitness: the distributed generation's time
   minus the serial time divided by the workers.
3. **Bytes per generation**, by dask's own counters: the client's and the scheduler's
   batched streams (``BatchedSend.byte_count``: task specifications and their inline
   arguments) plus what the workers served (``Worker.transfer_outgoing_bytes_total``:
   results), for per-member tasks, chunks and seeds-only ES, at two network sizes.

Every result is checked against serial evaluation (the same bits) before it is timed. The
load average is printed at the start and the end; ``--json`` writes the figures.

Usage::

    python benchmarks/bench_distributed.py
    python benchmarks/bench_distributed.py --quick          # seconds-long smoke run
    python benchmarks/bench_distributed.py --json benchmarks/results/bench_distributed.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time

import warnings

import numpy as np

import evoneuro as en

# per-member tasks of 100,000 weights make dask warn about large graphs: that is what is measured
warnings.filterwarnings("ignore", message="Sending large graph")


def policy_rollout(x, steps):
    """A control-like fitness: a 2x4 linear policy steering a 4-d linear system for ``steps`` steps."""
    W = x[:8].reshape(2, 4)
    s = np.full(4, 0.1)
    cost = 0.0
    for _ in range(steps):
        a = np.tanh(W @ s)
        s = 0.98 * s + 0.05 * np.concatenate([a, -a]) + 0.01
        cost += float(s @ s)
    return cost


def calibrate(seconds: float) -> int:
    """Steps of :func:`policy_rollout` that take about ``seconds`` here."""
    x = np.linspace(-1, 1, 8)
    steps = 200
    while True:
        t0 = time.perf_counter()
        policy_rollout(x, steps)
        took = time.perf_counter() - t0
        if took > 0.05:
            return max(1, int(steps * seconds / took))
        steps *= 2


def timed(fn, repeat: int = 1) -> float:
    best = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t0)
    return min(best)


def generations(problem, Theta, G):
    for _ in range(G):
        problem.evaluate(Theta)


def counters(client) -> int:
    """Bytes so far on dask's own counters (see the module docstring)."""
    sched = client.run_on_scheduler(lambda dask_scheduler: sum(b.byte_count for b in
                                                               dask_scheduler.stream_comms.values()))
    served = sum(client.run(lambda dask_worker: dask_worker.transfer_outgoing_bytes_total).values())
    return int(client.scheduler_comm.byte_count + sched + served)


def bench_fitness(client, W: int, P: int, G: int, member_s: float) -> dict:
    steps = calibrate(member_s)
    Theta = np.random.default_rng(0).uniform(-1, 1, (P, 8))
    serial = en.FitnessProblem(policy_rollout, 8, args=(steps,))
    expected = serial.evaluate(Theta)[0]
    t_serial = timed(lambda: generations(serial, Theta, G)) / G
    out = {"member_ms": 1e3 * t_serial / P, "P": P, "serial_s_per_gen": t_serial}
    for mode in ("chunks", "members"):
        prob = en.FitnessProblem(policy_rollout, 8, args=(steps,), executor=client, parallel=mode)
        assert np.array_equal(prob.evaluate(Theta)[0], expected)  # also the warm-up: data sent, cost measured
        t = timed(lambda: generations(prob, Theta, G)) / G
        out[mode] = {"s_per_gen": t, "x_serial": t_serial / t,
                     "overhead_ms_per_gen": 1e3 * (t - t_serial / W),
                     "overhead_share": (t - t_serial / W) / t}
    return out


def bench_estimator(client, steps: int) -> dict:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    kw = dict(hidden_layer_sizes=(32,) * 10, optimizer="sep-cmaes", max_iter=steps, random_state=0,
              early_stopping=False)
    out = {}
    fits = {}
    for name, extra in (("serial_1_thread", {"n_jobs": 1}), ("serial_all_threads", {}),
                        ("dask", {"executor": client, "n_jobs": 1})):
        clf = en.EvoMLPClassifier(**kw, **extra)
        clf.fit(X[:200], y[:200])  # compiles and warms up the workers
        t = timed(lambda: clf.fit(X, y))
        fits[name] = clf.params_.copy()
        out[name] = {"s": t, "steps_per_s": steps / t}
    assert np.array_equal(fits["dask"], fits["serial_1_thread"])
    for name in out:
        out[name]["x_serial_1_thread"] = out["serial_1_thread"]["s"] / out[name]["s"]
    return out


def bench_rows(client, n_rows: int, repeat: int) -> dict:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_rows, 32)).astype(np.float32)
    y = (X[:, :10].argmax(axis=1)).astype(np.int64)
    net = en.MLP(32, (64, 64), 10, activation="tanh")
    Theta = net.init_population(1, rng)
    out = {"rows": n_rows}
    results = {}
    for name, kw in (("serial_1_thread", {"n_jobs": 1}), ("serial_all_threads", {})):
        prob = en.SupervisedProblem(en.Evaluator(net, backend="numba", **kw), X, y)
        results[name] = prob.evaluate(Theta, True)
        t = timed(lambda: prob.evaluate(Theta, True), repeat)
        out[name] = {"s": t, "rows_per_s": n_rows / t}
    prob = en.SupervisedProblem(en.Evaluator(net, backend="numba", n_jobs=1), X, y, executor=client,
                                parallel="data")
    got = prob.evaluate(Theta, True)  # places the shards
    assert all(np.array_equal(a, b) for a, b in zip(got, results["serial_1_thread"]))
    t = timed(lambda: prob.evaluate(Theta, True), repeat)
    out["dask_data_parallel"] = {"s": t, "rows_per_s": n_rows / t}
    for name in ("serial_all_threads", "dask_data_parallel"):
        out[name]["x_serial_1_thread"] = out["serial_1_thread"]["s"] / out[name]["s"]
    return out


def bench_bytes(client, P: int, G: int, sizes) -> dict:
    out = {}
    for n in sizes:
        x0 = np.full(n, 0.1)

        def sphere_rows(Theta):
            return (np.asarray(Theta, dtype=np.float64) ** 2).sum(axis=1)

        def sphere(x):
            return float(x @ x)

        row = {}
        for mode, prob in (("members", en.FitnessProblem(sphere, n, executor=client, parallel="members")),
                           ("chunks", en.FitnessProblem(sphere_rows, n, vectorized=True, executor=client,
                                                        parallel="chunks")),
                           ("seeds", en.FitnessProblem(sphere_rows, n, vectorized=True, executor=client))):
            opt = _es(P, x0)
            opt.step(prob)  # places the replicas (seeds) / the payload (chunks)
            before = counters(client)
            for _ in range(G):
                opt.step(prob)
            row[mode] = (counters(client) - before) / G
        out[n] = {mode: {"bytes_per_gen": b, "bytes_per_member": b / P} for mode, b in row.items()}
    # seeds-only at 8x the population: the slope is the bytes per member, the rest a constant
    prob = en.FitnessProblem(sphere_rows, sizes[0], vectorized=True, executor=client)
    opt = _es(8 * P, np.full(sizes[0], 0.1))
    opt.step(prob)
    before = counters(client)
    for _ in range(G):
        opt.step(prob)
    big = (counters(client) - before) / G
    small = out[sizes[0]]["seeds"]["bytes_per_gen"]
    out["seeds_per_member"] = (big - small) / (7 * P)
    out["seeds_constant"] = small - out["seeds_per_member"] * P
    return out


def _es(P: int, x0):
    from evoneuro.optimizers.es import OpenAIES

    return OpenAIES(popsize=P, sigma=0.02).initialize(x0, np.random.default_rng(0))


def project(task_s: float, bytes_mode: dict, member_s: float = 0.01, n: int = 100_000, per_worker: int = 10,
            bandwidth: float = 125e6, latency: float = 1e-4) -> dict:
    """Modelled seconds per generation and efficiency for 10, 100 and 1,000 workers.

    A generation of ``P = per_worker x W`` members of ``member_s`` seconds each, ``n``
    weights: ``T(W) = P member_s / W + task_s k(W) + latency + bytes(W) / bandwidth``, with
    ``k`` the tasks the scheduler handles one after another (``P`` per-member tasks,
    ``4 W`` chunks, ``W`` seeds-only tasks), ``task_s`` the measured cost of one task, and
    ``bytes`` the measured bytes per member and per task of each mode (dask's counters:
    ``4 n + c`` per member for per-member tasks and chunks, ``8 + 2 W`` per member plus a
    task constant for seeds-only). Efficiency: ``P member_s / W`` over ``T(W)``.
    """
    out = {}
    for W in (10, 100, 1000):
        P = per_worker * W
        ideal = P * member_s / W
        rows = {}
        for mode, (tasks, nbytes) in {
            "members": (P, P * (4 * n + bytes_mode["members_const"])),
            "chunks": (4 * W, P * 4 * n + 4 * W * bytes_mode["task_const"]),
            "seeds": (W, P * (8 + 2 * W) + W * bytes_mode["task_const"]),
        }.items():
            T = ideal + task_s * tasks + latency + nbytes / bandwidth
            rows[mode] = {"s_per_gen": T, "efficiency": ideal / T, "bytes_per_gen": nbytes}
        out[W] = rows
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2, help="worker processes (one thread each)")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    ap.add_argument("--project", default=None, metavar="JSON",
                    help="only print the projection from the figures of a earlier run's JSON, with --task-ms")
    ap.add_argument("--task-ms", type=float, default=None,
                    help="with --project: the scheduler's cost per task in ms (default: the run's measured one)")
    args = ap.parse_args(argv)
    if args.project:
        with open(args.project) as fh:
            p = json.load(fh)["projection"]
        task_s = p["task_s"] if args.task_ms is None else args.task_ms / 1e3
        table = project(task_s, {"members_const": p["members_const"], "task_const": p["task_const"]})
        print(f"projection with {1e3 * task_s:.2f} ms per task, {p['members_const']:,.0f} bytes per member task "
              f"beyond its weights, {p['task_const']:,.0f} bytes per task (from {args.project}):")
        print(f"    {'workers':>8} " + " ".join(f"{m + ' eff.':>14}" for m in ("members", "chunks", "seeds"))
              + "   seeds s/gen  seeds bytes/gen")
        for Wp, rows in table.items():
            print(f"    {Wp:>8} " + " ".join(f"{100 * rows[m]['efficiency']:>13.1f}%" for m in ("members", "chunks", "seeds"))
                  + f"   {rows['seeds']['s_per_gen']:>11.3f}  {rows['seeds']['bytes_per_gen']:>15,.0f}")
        return
    from distributed import Client, LocalCluster

    W = args.workers
    q = args.quick
    load0 = os.getloadavg()
    print(f"evoneuro {en.__version__}: {W} dask worker processes x 1 thread against serial; "
          f"cpus {os.cpu_count()}; load average at start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    results = {"workers": W, "load_start": load0}
    with LocalCluster(n_workers=W, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        a = bench_fitness(client, W, P=16 if q else 64, G=1 if q else 3, member_s=0.01)
        results["a_control_10ms"] = a
        print(f"\n(a) control-like fitness, {a['member_ms']:.1f} ms per member, P={a['P']}: serial "
              f"{a['serial_s_per_gen']:.3f} s per generation")
        for mode in ("chunks", "members"):
            m = a[mode]
            print(f"    {mode:<8} {m['s_per_gen']:.3f} s/gen  x{m['x_serial']:.2f} serial  overhead "
                  f"{m['overhead_ms_per_gen']:+.1f} ms/gen ({100 * m['overhead_share']:+.1f} % of a generation)")
        e = bench_fitness(client, W, P=16 if q else 64, G=1 if q else 5, member_s=0.001)
        results["e_overhead_1ms"] = e
        print(f"\n(e) 1 ms fitness ({e['member_ms']:.2f} ms per member, P={e['P']}): overhead per generation "
              f"chunks {e['chunks']['overhead_ms_per_gen']:+.1f} ms, members {e['members']['overhead_ms_per_gen']:+.1f} ms "
              f"(serial generation {1e3 * e['serial_s_per_gen']:.1f} ms)")
        b = bench_estimator(client, 10 if q else 100)
        results["b_digits_sep_cmaes"] = b
        print("\n(b) digits 10x32 EvoMLPClassifier, sep-CMA-ES, "
              f"{10 if q else 100} steps (the same weights on the cluster):")
        for name, r in b.items():
            print(f"    {name:<20} {r['s']:.2f} s  {r['steps_per_s']:.1f} steps/s  x{r['x_serial_1_thread']:.2f}")
        c = bench_rows(client, 20_000 if q else 200_000, 2 if q else 5)
        results["c_rows_data_parallel"] = c
        print(f"\n(c) loss and gradient of a [32, 64x2, 10] MLP on {c['rows']:,} rows (P=1):")
        for name in ("serial_1_thread", "serial_all_threads", "dask_data_parallel"):
            r = c[name]
            ratio = f"  x{r['x_serial_1_thread']:.2f}" if "x_serial_1_thread" in r else ""
            print(f"    {name:<20} {1e3 * r['s']:.1f} ms  {r['rows_per_s'] / 1e6:.2f} M rows/s{ratio}")
        d = bench_bytes(client, P=64, G=2 if q else 5, sizes=(1_000, 100_000))
        results["d_bytes"] = d
        print("\n(d) bytes per generation (dask's counters), OpenAI-ES, P=64:")
        print(f"    {'weights':>8} {'members':>14} {'chunks':>14} {'seeds':>14}   bytes per member")
        for n, row in d.items():
            if not isinstance(n, int):
                continue
            print(f"    {n:>8} " + " ".join(f"{row[m]['bytes_per_gen']:>14,.0f}" for m in ("members", "chunks", "seeds"))
                  + "   " + " / ".join(f"{row[m]['bytes_per_member']:,.0f}" for m in ("members", "chunks", "seeds")))
        print(f"    seeds-only, from P=64 and P=512: {d['seeds_per_member']:.1f} bytes per member per generation "
              f"+ {d['seeds_constant']:,.0f} bytes")
        # the model's parameters, all from the figures above
        task_s = max(e["members"]["overhead_ms_per_gen"], 0.0) / 1e3 / e["P"]  # per task, tasks one after another
        n_small = min(k for k in d if isinstance(k, int))
        members_const = d[n_small]["members"]["bytes_per_member"] - 4 * n_small
        task_const = d["seeds_constant"] / W
        proj = project(task_s, {"members_const": members_const, "task_const": task_const})
        results["projection"] = {"task_s": task_s, "members_const": members_const, "task_const": task_const,
                                 "table": proj}
        print(f"\nProjection (model in project(): measured {1e3 * task_s:.2f} ms per task, {members_const:,.0f} "
              f"bytes per member task beyond its weights, {task_const:,.0f} bytes per task; 10 members of 10 ms "
              "per worker, 100,000 weights, 1 Gbit/s, 0.1 ms latency):")
        print(f"    {'workers':>8} " + " ".join(f"{m + ' eff.':>14}" for m in ("members", "chunks", "seeds")))
        for Wp, rows in proj.items():
            print(f"    {Wp:>8} " + " ".join(f"{100 * rows[m]['efficiency']:>13.1f}%" for m in ("members", "chunks", "seeds")))
    load1 = os.getloadavg()
    results["load_end"] = load1
    print(f"\nload average at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1, default=float)


if __name__ == "__main__":
    main()
