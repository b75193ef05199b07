"""Time to solve gymnasium's CartPole-v1, and population rollout speed: evoneuro against its peers.

One protocol for every library, measured in one run on one machine:

- SNES, population 16, a 4-[8 tanh]-2 policy (action: the larger output), observation
  normalisation on, one episode per member and generation, the search starting at zero
  weights (EvoTorch's default start, ±1e-5) with initial standard deviation ``--stdev``;
- after every generation whose best member returned 500, the search distribution's centre
  is tested on 100 fresh episodes (time counted, episodes not); the task is solved when that
  mean return is at least 475. Reported: wall time and training episodes until then.
- rollout speed: environment steps per second of one generation's population rollouts
  (16 members, one episode each, the untrained zero policy's episodes excluded: a population
  drawn at ``--stdev`` around zero).

Peers: EvoTorch's ``GymNE`` with its ``SNES`` (gymnasium's CartPole-v1, the same simulator),
and evosax's ``SNES`` with gymnax's CartPole-v1 (the task in JAX, the population's episodes
vmapped and jitted; the same frozen running observation statistics, written here), run in
their own virtual environment (``--peers-python``), and skipped when absent. evoneuro runs
twice: on gymnasium's env through its vector API, and on :class:`evoneuro.control.GymCartPole`
(the same task in Numba). The
threads of each run are limited with ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` and, for torch,
``torch.set_num_threads``.

Run::

    python benchmarks/bench_control.py --seeds 3 --threads 1,2 --peers-python /tmp/peers27/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SOLVED, TEST_EPISODES, POPSIZE, MAX_GENERATIONS = 475.0, 100, 16, 300


def run_evoneuro(seed: int, stdev: float, env: str = "CartPole-v1") -> dict:
    import numpy as np

    import evoneuro as en

    net = en.MLP(4, (8,), 2, activation="tanh", output="linear")
    prob = en.ControlProblem(env, net, episodes=1)
    opt = en.get_optimizer("snes", popsize=POPSIZE, sigma0=stdev)
    trainer = en.Trainer(prob, opt, x0=np.zeros(net.n_params), max_steps=MAX_GENERATIONS, random_state=seed)
    t0 = time.perf_counter()
    for _ in range(MAX_GENERATIONS):
        trainer.run(max_steps=trainer.n_steps + 1)
        if prob.last_returns.max() >= 500:
            test = en.replay((prob, opt.x), episodes=TEST_EPISODES, seed=seed + 10_000)
            if test.mean() >= SOLVED:
                return {"solved": True, "episodes": int(prob.evals), "seconds": time.perf_counter() - t0,
                        "test": float(test.mean())}
    return {"solved": False, "episodes": int(prob.evals), "seconds": time.perf_counter() - t0}


def rollout_speed_evoneuro(stdev: float, generations: int = 5, env: str = "CartPole-v1") -> float:
    import numpy as np

    import evoneuro as en

    net = en.MLP(4, (8,), 2, activation="tanh", output="linear")
    prob = en.ControlProblem(env, net, episodes=1)
    rng = np.random.default_rng(0)
    prob.begin_step(rng)
    prob.evaluate(rng.normal(0, stdev, (POPSIZE, net.n_params)))  # builds the vector env
    steps, t0 = prob.env_steps, time.perf_counter()
    for _ in range(generations):
        prob.begin_step(rng)
        prob.evaluate(rng.normal(0, stdev, (POPSIZE, net.n_params)))
    return (prob.env_steps - steps) / (time.perf_counter() - t0)


def run_evotorch(seed: int, stdev: float) -> dict:
    import torch
    from evotorch.algorithms import SNES
    from evotorch.neuroevolution import GymNE

    torch.manual_seed(seed)
    problem = GymNE(env="CartPole-v1", network="Linear(obs_length, 8) >> Tanh() >> Linear(8, act_length)",
                    observation_normalization=True, num_episodes=1)
    searcher = SNES(problem, popsize=POPSIZE, stdev_init=stdev)
    t0 = time.perf_counter()
    for _ in range(MAX_GENERATIONS):
        searcher.step()
        if float(searcher.population.evals[:, 0].max()) >= 500:
            test = problem.run(searcher.status["center"], num_episodes=TEST_EPISODES)["cumulative_reward"]
            if float(test) >= SOLVED:
                return {"solved": True, "episodes": int(problem.status["total_episode_count"]),
                        "seconds": time.perf_counter() - t0, "test": float(test)}
    return {"solved": False, "episodes": int(problem.status["total_episode_count"]),
            "seconds": time.perf_counter() - t0}


def rollout_speed_evotorch(stdev: float, generations: int = 5) -> float:
    import torch
    from evotorch.algorithms import SNES
    from evotorch.neuroevolution import GymNE

    problem = GymNE(env="CartPole-v1", network="Linear(obs_length, 8) >> Tanh() >> Linear(8, act_length)",
                    observation_normalization=True, num_episodes=1)
    searcher = SNES(problem, popsize=POPSIZE, stdev_init=stdev, center_learning_rate=0.0, stdev_learning_rate=0.0)
    searcher.step()
    steps, t0 = problem.status["total_interaction_count"], time.perf_counter()
    for _ in range(generations):
        searcher.step()
    torch.set_num_threads(torch.get_num_threads())
    return (problem.status["total_interaction_count"] - steps) / (time.perf_counter() - t0)


def _evosax_setup(stdev: float):
    import gymnax
    import jax
    import jax.numpy as jnp
    from evosax.algorithms import SNES

    env, env_params = gymnax.make("CartPole-v1")
    n = 4 * 8 + 8 + 8 * 2 + 2

    def act(theta, obs):
        h = jnp.tanh(obs @ theta[:32].reshape(4, 8) + theta[32:40])
        return jnp.argmax(h @ theta[40:56].reshape(8, 2) + theta[56:58])

    def episode(theta, key, mean, std):
        obs, state = env.reset(key, env_params)
        zero = jnp.zeros(4)

        def body(carry, _):
            obs, state, key, alive, ret, s1, s2, cnt = carry
            key, k = jax.random.split(key)
            a = act(theta, jnp.clip((obs - mean) / std, -5.0, 5.0))
            s1, s2, cnt = s1 + alive * obs, s2 + alive * obs * obs, cnt + alive
            obs, state, r, term, trunc, _ = env.step(k, state, a, env_params)
            ret = ret + alive * r
            alive = alive * (1.0 - jnp.logical_or(term, trunc))
            return (obs, state, key, alive, ret, s1, s2, cnt), None

        init = (obs, state, key, 1.0, 0.0, zero, zero, 0.0)
        (_, _, _, _, ret, s1, s2, cnt), _ = jax.lax.scan(body, init, None, length=500)
        return ret, s1, s2, cnt

    # common random starts: every member gets the generation's key
    population = jax.jit(jax.vmap(episode, in_axes=(0, None, None, None)))
    test = jax.jit(jax.vmap(episode, in_axes=(None, 0, None, None)))
    strategy = SNES(population_size=POPSIZE, solution=jnp.zeros(n))
    params = strategy.default_params.replace(std_init=stdev)
    return jax, jnp, strategy, params, population, test, n


def run_evosax(seed: int, stdev: float) -> dict:
    import numpy as np

    jax, jnp, strategy, params, population, test_fn, n = _evosax_setup(stdev)
    key = jax.random.key(seed)
    key, k = jax.random.split(key)
    state = strategy.init(k, jnp.zeros(n), params)
    stats = [0.0, np.zeros(4), np.zeros(4)]
    mean, std = jnp.zeros(4), jnp.ones(4)
    t0, episodes = time.perf_counter(), 0
    for _ in range(MAX_GENERATIONS):
        key, k_ask, k_env, k_tell, k_test = jax.random.split(key, 5)
        x, state = strategy.ask(k_ask, state, params)
        ret, s1, s2, cnt = population(x, k_env, mean, std)
        state, _ = strategy.tell(k_tell, x, -ret, state, params)
        episodes += POPSIZE
        stats = [stats[0] + float(cnt.sum()), stats[1] + np.asarray(s1.sum(0)), stats[2] + np.asarray(s2.sum(0))]
        m = stats[1] / stats[0]
        mean, std = jnp.asarray(m), jnp.asarray(np.sqrt(np.maximum(stats[2] / stats[0] - m * m, 0.0) + 1e-8))
        if float(ret.max()) >= 500:
            tr = test_fn(state.mean, jax.random.split(k_test, TEST_EPISODES), mean, std)[0]
            if float(tr.mean()) >= SOLVED:
                return {"solved": True, "episodes": episodes, "seconds": time.perf_counter() - t0,
                        "test": float(tr.mean())}
    return {"solved": False, "episodes": episodes, "seconds": time.perf_counter() - t0}


def rollout_speed_evosax(stdev: float, generations: int = 20) -> float:
    jax, jnp, strategy, params, population, _, n = _evosax_setup(stdev)
    key = jax.random.key(0)
    x = stdev * jax.random.normal(key, (POPSIZE, n))
    mean, std = jnp.zeros(4), jnp.ones(4)
    population(x, key, mean, std)[3].block_until_ready()  # compiled outside the timing
    t0, steps = time.perf_counter(), 0.0
    for g in range(generations):
        steps += float(population(x, jax.random.key(g + 1), mean, std)[3].sum())
    return steps / (time.perf_counter() - t0)


def run_evoneuro_numba(seed: int, stdev: float) -> dict:
    return run_evoneuro(seed, stdev, env="gym-cartpole")


def rollout_speed_evoneuro_numba(stdev: float) -> float:
    return rollout_speed_evoneuro(stdev, generations=20, env="gym-cartpole")


#: "evoneuro": gymnasium's CartPole-v1 through its SyncVectorEnv; "evoneuro-numba": the same
#: task replicated in Numba (evoneuro.control.GymCartPole, checked step by step against it).
WORKERS = {"evoneuro": (run_evoneuro, rollout_speed_evoneuro),
           "evoneuro-numba": (run_evoneuro_numba, rollout_speed_evoneuro_numba),
           "evotorch": (run_evotorch, rollout_speed_evotorch), "evosax": (run_evosax, rollout_speed_evosax)}


def worker(name: str, seed: int, stdev: float, threads: int, what: str) -> None:
    if name == "evotorch":
        import torch

        torch.set_num_threads(threads)
    if name == "evosax":  # XLA's CPU threads
        os.environ["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}"
    solve, speed = WORKERS[name]
    out = solve(seed, stdev) if what == "solve" else {"steps_per_second": speed(stdev)}
    print("RESULT " + json.dumps(out), flush=True)


def launch(python: str, name: str, seed: int, stdev: float, threads: int, what: str) -> dict | None:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "OPENBLAS_NUM_THREADS": str(threads), "NUMBA_NUM_THREADS": str(threads)}
    cmd = [python, os.path.abspath(__file__), "--worker", name, "--seed", str(seed), "--stdev", str(stdev),
           "--threads", str(threads), "--what", what]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    print(f"{name} failed: {proc.stderr[-800:]}", file=sys.stderr)
    return None


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--stdev", type=float, default=1.0)
    ap.add_argument("--peers-python", default=None, help="the interpreter of the peers' virtual environment")
    ap.add_argument("--worker", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--what", default="solve")
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.seed, args.stdev, int(args.threads), args.what)
    libs = [("evoneuro", sys.executable), ("evoneuro-numba", sys.executable)]
    if args.peers_python and os.path.exists(args.peers_python):
        for peer, modules in (("evotorch", "evotorch"), ("evosax", "evosax, gymnax")):
            check = subprocess.run([args.peers_python, "-c", f"import {modules}"], capture_output=True)
            if check.returncode == 0:
                libs.append((peer, args.peers_python))
            else:
                print(f"{peer} is absent from --peers-python: skipped")
    else:
        print("no --peers-python: peers skipped")
    print(f"load average before: {os.getloadavg()}")
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        for name, python in libs:
            runs = [launch(python, name, s, args.stdev, threads, "solve") for s in range(args.seeds)]
            speed = launch(python, name, 0, args.stdev, threads, "speed")
            rows.append((threads, name, runs, speed))
            ok = [r for r in runs if r and r["solved"]]
            print(f"threads {threads} {name:9s} solved {len(ok)}/{len(runs)}  "
                  f"seconds {[round(r['seconds'], 2) for r in ok]}  episodes {[r['episodes'] for r in ok]}  "
                  f"steps/s {speed and round(speed['steps_per_second'])}  load {os.getloadavg()}", flush=True)
    print("\n| threads | library | solved | median seconds | median episodes | env steps/s | seconds / evoneuro-numba's |")
    print("|---|---|---|---|---|---|---|")
    import statistics

    base = {t: statistics.median([r["seconds"] for r in runs if r and r["solved"]] or [float("nan")])
            for t, name, runs, _ in rows if name == "evoneuro-numba"}
    for threads, name, runs, speed in rows:
        ok = [r for r in runs if r and r["solved"]]
        med_s = statistics.median([r["seconds"] for r in ok]) if ok else float("nan")
        med_e = statistics.median([r["episodes"] for r in ok]) if ok else float("nan")
        ratio = med_s / base.get(threads, float("nan"))
        print(f"| {threads} | {name} | {len(ok)}/{len(runs)} | {med_s:.2f} | {med_e:.0f} | "
              f"{speed['steps_per_second'] if speed else float('nan'):,.0f} | {ratio:.2f} |")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
