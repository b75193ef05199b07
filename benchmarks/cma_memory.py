"""Peak memory of full CMA-ES (pycma) against the memory guard's estimate.

For each ``n`` a fresh process builds ``evoneuro.optimizers.cmaes.CMAES`` at ``n``
parameters, runs generations on random losses until pycma has done one eigendecomposition
of its covariance (forced after ``--steps`` generations if its lazy schedule has not done
one yet), and reports the peak resident memory it added (``ru_maxrss`` minus the resident
memory before the optimizer was built) next to :func:`evoneuro.optimizers.cmaes.cma_bytes`.

Usage::

    python benchmarks/cma_memory.py                 # n = 3000 and 6000
    python benchmarks/cma_memory.py --n 1000 2000   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, resource, sys, warnings
import numpy as np
from threadpoolctl import threadpool_limits
from evoneuro.optimizers.cmaes import CMAES, cma_bytes

def rss():  # current resident memory, bytes
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

n, steps = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
x0 = np.zeros(n)
np.linalg.eigh(np.eye(64))  # load LAPACK before the baseline
base = rss()
with threadpool_limits(1), warnings.catch_warnings():
    warnings.simplefilter("ignore")
    opt = CMAES(sigma0=0.1, memory_limit=1 << 40).initialize(x0, rng)
    for _ in range(steps):
        Theta = opt.ask()
        opt.tell(Theta, rng.random(len(Theta)))
    sm = opt.es.sm
    if sm.count_eigen == 0:
        sm.update_now(-1)  # the decomposition pycma's lazy schedule would do later
    eigen = sm.count_eigen
    opt.tell(opt.ask(), rng.random(opt.popsize))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"n": n, "added": peak - base, "estimate": cma_bytes(n, opt.popsize),
                  "eigen": eigen, "popsize": opt.popsize}))
"""


def measure(n: int, steps: int) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(steps)], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[3000, 6000])
    parser.add_argument("--steps", type=int, default=3, help="generations before the forced decomposition")
    args = parser.parse_args(argv)
    print(f"{'n':>6}  {'8 n^2 MB':>9}  {'estimate MB':>11}  {'measured MB':>11}  {'est/meas':>8}")
    for n in args.n:
        r = measure(n, args.steps)
        print(f"{n:6d}  {8 * n * n / 1e6:9.0f}  {r['estimate'] / 1e6:11.0f}  {r['added'] / 1e6:11.0f}  "
              f"{r['estimate'] / r['added']:8.2f}", flush=True)


if __name__ == "__main__":
    main()
