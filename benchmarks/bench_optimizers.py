"""Cost of one generation of each gradient-free optimizer, the evaluation excluded.

Times ``ask`` + ``tell`` with precomputed random losses, and a whole ``opt.step(problem)``
on a :class:`evoneuro.FitnessProblem` whose fitness costs nothing (vectorized, and
per-vector ``f(x) -> float``), on config A of
``/work/shared/bench/configs.json`` (MLP 64-[32x10]-10, n = 11,914 parameters, P = 64,
B = 512) and prints each as milliseconds and as a ratio to one evaluation of the
population, measured in the same run with ``Evaluator(net, backend="auto",
dtype="float32").loss``. References: pycma's sep-CMA (``CMA_diagonal=True``), pycma's
full CMA where it fits, and DEAP's per-individual variation as in ``eaSimple``.

The steps are timed twice: back to back, and each right after an evaluation of the
population, as in a run. The second is 1.3-2.5 times the first on this 2-core machine:
after 8 ms of other work (an evaluation, a NumPy pass over 32 MB, or even a pure-Python
busy loop) the step's few hundred Python and NumPy calls start cold.

Usage::

    python benchmarks/bench_optimizers.py           # config A
    python benchmarks/bench_optimizers.py --quick   # smoke test: small net, few repeats
"""

from __future__ import annotations

import argparse
import random
import time
import warnings

import numpy as np

import evoneuro as en
from evoneuro.optimizers import get_optimizer

CONFIG_A = {"d_in": 64, "h": 32, "L": 10, "d_out": 10, "B": 512, "P": 64}
QUICK = {"d_in": 8, "h": 8, "L": 2, "d_out": 3, "B": 32, "P": 8}


def median_ms(fn, reps: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def ours(name: str, x0: np.ndarray, P: int, losses: np.ndarray, reps: int, **params) -> float:
    opt = get_optimizer(name, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # cmaes' switch to sep-CMA at large n
        opt.initialize(x0, np.random.default_rng(0))
    assert opt.popsize == P, (name, opt.popsize)

    def generation():
        Theta = opt.ask()
        opt.tell(Theta, losses[np.random.randint(len(losses))])

    return median_ms(generation, reps)


def through_step(name: str, x0: np.ndarray, P: int, losses: np.ndarray, reps: int, vectorized: bool,
                 evaluation, **params) -> tuple[float, float, float]:
    """ms of one ``opt.step(problem)`` on a custom-fitness problem whose fitness costs nothing
    (it returns precomputed losses), the generation's whole overhead, problem included: steps
    back to back, and each step right after an ``evaluation()`` of the population as in a run;
    and the ms of that evaluation, timed alternately with the steps, so that the ratios do
    not move with the machine's speed during the run."""
    draw = iter(np.random.default_rng(1).integers(len(losses), size=10**6))

    if vectorized:
        def fitness(Theta):  # losses has P + 1 columns: random search asks parent + P - 1
            return losses[next(draw)][: len(Theta)]
    else:
        def fitness(x):
            return 0.0

    prob = en.FitnessProblem(fitness, x0.size, vectorized=vectorized, grad=_some_grad(vectorized))
    opt = get_optimizer(name, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # cmaes' switch to sep-CMA at large n
        opt.setup(prob)
        opt.initialize(x0, np.random.default_rng(0))
    back_to_back = median_ms(lambda: opt.step(prob), reps)
    after_eval, eval_ms = [], []
    for r in range(reps + 2):
        ems = median_ms(evaluation, 1, warmup=0)
        ms = median_ms(lambda: opt.step(prob), 1, warmup=0)
        if r >= 2:  # two warm-up rounds
            after_eval.append(ms)
            eval_ms.append(ems)
    return back_to_back, float(np.median(after_eval)), float(np.median(eval_ms))


def _some_grad(vectorized: bool):
    # a non-zero gradient, so guided ES builds and samples its subspace
    if vectorized:
        return lambda Theta: np.ones(np.shape(Theta))
    return lambda x: np.ones(np.shape(x))


def pycma(x0: np.ndarray, P: int, losses: np.ndarray, reps: int, diagonal: bool) -> float:
    import cma
    from threadpoolctl import threadpool_limits

    es = cma.CMAEvolutionStrategy(x0, 0.1, {"CMA_diagonal": diagonal, "popsize": P, "verbose": -9,
                                            "seed": 1})

    def generation():
        X = es.ask()
        es.tell(X, list(losses[np.random.randint(len(losses))]))

    with threadpool_limits(1):  # oversubscribed BLAS threads make eigh 100x slower
        return median_ms(generation, reps, warmup=1)


def deap_variation(x0: np.ndarray, P: int, losses: np.ndarray, reps: int) -> float:
    """selTournament + varAnd (clone, cxBlend, mutGaussian per individual), as in eaSimple."""
    from deap import algorithms, base, creator, tools

    if not hasattr(creator, "BenchFitness"):
        creator.create("BenchFitness", base.Fitness, weights=(-1.0,))
        creator.create("BenchIndividual", list, fitness=creator.BenchFitness)
    tb = base.Toolbox()
    tb.register("mate", tools.cxBlend, alpha=0.5)
    tb.register("mutate", tools.mutGaussian, mu=0.0, sigma=0.02, indpb=0.05)
    tb.register("select", tools.selTournament, tournsize=3)
    random.seed(0)
    pop = [creator.BenchIndividual((x0 + 0.1 * np.random.randn(x0.size)).tolist()) for _ in range(P)]

    def generation():
        nonlocal pop
        for ind, loss in zip(pop, losses[np.random.randint(len(losses))]):
            ind.fitness.values = (float(loss),)
        pop = algorithms.varAnd(tb.select(pop, len(pop)), tb, cxpb=0.5, mutpb=1.0)

    return median_ms(generation, max(3, reps // 10), warmup=1)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small net, few repeats (smoke test)")
    parser.add_argument("--reps", type=int, default=None, help="timed generations per optimizer")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else CONFIG_A
    reps = args.reps or (3 if args.quick else 50)

    net = en.MLP(cfg["d_in"], (cfg["h"],) * cfg["L"], cfg["d_out"], activation="sigmoid")
    n, P, B = net.n_params, cfg["P"], cfg["B"]
    rng = np.random.default_rng(0)
    x0 = net.init(rng, "glorot")
    X = rng.random((B, cfg["d_in"]), dtype=np.float32)
    y = rng.integers(0, cfg["d_out"], B)
    ev = en.Evaluator(net, backend="auto", dtype="float32")
    Theta = (x0 + 0.1 * rng.standard_normal((P, n))).astype(np.float32)
    eval_ms = median_ms(lambda: ev.loss(Theta, X, y), reps)
    losses = rng.random((16, P))

    rows = [
        ("random (local, 1+63)", ours("random", x0, P, losses, reps, popsize=P - 1)),
        ("random (global)", ours("random", x0, P, losses, reps, mode="global", popsize=P)),
        ("ga (blend + mutation)", ours("ga", x0, P, losses, reps, popsize=P)),
        ("ga (sbx + mutation)", ours("ga", x0, P, losses, reps, popsize=P, crossover="sbx")),
        ("cmaes" + (" (-> sep, n^2 too big)" if 8 * n * n > 2**30 else " (pycma)"),
         ours("cmaes", x0, P, losses, reps, popsize=P)),
        ("sep-cmaes", ours("sep-cmaes", x0, P, losses, reps, popsize=P)),
        ("es (OpenAI-ES)", ours("es", x0, P, losses, reps, popsize=P)),
        ("snes", ours("snes", x0, P, losses, reps, popsize=P)),
        ("pso (inertia, vmax)", ours("pso", x0, P, losses, reps, popsize=P, vmax=0.1)),
        ("pso (constriction)", ours("pso", x0, P, losses, reps, popsize=P, form="constriction")),
        ("ref: pycma sep-CMA", pycma(x0, P, losses, max(3, reps // 5), diagonal=True)),
    ]
    if 8 * n * n <= 2**28:
        rows.append(("ref: pycma full CMA", pycma(x0, P, losses, max(3, reps // 5), diagonal=False)))
    else:
        rows.append((f"ref: pycma full CMA (n={n}: {8 * n * n / 2**30:.1f} GiB C, O(n^3) eigh)", np.nan))
    rows.append(("ref: DEAP varAnd per individual", deap_variation(x0, P, losses, reps)))

    losses_wide = rng.random((16, P + 1))
    population = [("random", {"popsize": P - 1}), ("ga", {"popsize": P}), ("cmaes", {"popsize": P}),
                  ("sep-cmaes", {"popsize": P}), ("es", {"popsize": P}), ("snes", {"popsize": P}),
                  ("pso", {"popsize": P}), ("guided-es", {"popsize": P})]
    evaluation = lambda: ev.loss(Theta, X, y)  # noqa: E731
    step_rows = [(name, through_step(name, x0, P, losses_wide, reps, True, evaluation, **kw),
                  through_step(name, x0, P, losses_wide, max(3, reps // 5), False, evaluation, **kw))
                 for name, kw in population]

    print(f"config {'quick' if args.quick else 'A'}: n={n}, P={P}, B={B}; one evaluation "
          f"(backend={ev.backend}, float32) = {eval_ms:.2f} ms")
    width = max(len(r[0]) for r in rows)
    print(f"{'optimizer':<{width}}  {'ms/gen':>9}  {'x eval':>8}")
    for name, ms in rows:
        print(f"{name:<{width}}  {ms:9.3f}  {ms / eval_ms:8.3f}")

    # the target: a generation through opt.step on a custom fitness costs <= 0.10 of one
    # evaluation (guided ES, which also takes a gradient step's worth of work, <= 0.30)
    print("\nthrough opt.step(problem): a FitnessProblem whose fitness costs nothing, so the whole "
          "time is the optimizer's and the problem's. 'back to back': steps in a row (the issue's "
          "measure, the target); 'after eval': each step right after an evaluation, as in a run, "
          "where the step's Python and NumPy calls start cold. Ratios to the evaluation timed "
          "alternately with the steps.")
    print(f"{'optimizer':<10}  {'back to back ms':>15}  {'x eval':>6}  {'target':>6}  {'met':>3}  "
          f"{'after eval ms':>13}  {'x eval':>6}  {'eval ms':>7}  {'per-vector ms':>13}  {'x eval':>6}")
    for name, (b2b, after, ev_ms), (one, _, ev_one) in step_rows:
        target = 0.30 if name == "guided-es" else 0.10
        ratio = b2b / ev_ms
        print(f"{name:<10}  {b2b:15.3f}  {ratio:6.3f}  {target:6.2f}  {'yes' if ratio <= target else 'NO':>3}  "
              f"{after:13.3f}  {after / ev_ms:6.3f}  {ev_ms:7.2f}  {one:13.3f}  {one / ev_one:6.3f}")


if __name__ == "__main__":
    main()
