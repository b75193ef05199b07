"""Start-up costs: ``import evoneuro``, and the first fit of every kind and cell on an empty Numba cache.

Each figure comes from a fresh Python process, as a user meets it:

* **import**: ``import evoneuro`` (median of ``--repeats``), and which heavy libraries it
  pulled in (none should be: scipy, scikit-learn, matplotlib and numba load on use);
* **cold**, per kind (``mlp``) and cell (``elman``, ``lstm``, ``gru``): the estimator's
  first ``fit(max_iter=1)`` with ``NUMBA_CACHE_DIR`` pointing at a new, empty temporary
  directory, so every kernel the fit needs is compiled; its process CPU seconds (a
  compile runs on one core: on a loaded machine the CPU seconds are close to what an idle
  machine takes, the wall seconds are not); ``compile_seconds_``; then the first
  ``score``, which compiles nothing more (the fit compiled the forward kernel too);
* **warm**: the same fit in a new process reusing that cache (kernels loaded from disk),
  and a second fit in the same process.

The MLP is ``EvoMLPClassifier`` on digits, the cells ``EvoRNNClassifier`` on the 2-sequence
task (200 sequences of 20-30 steps); scikit-learn and the data load before the clock starts. Targets on an idle 2-core machine: import <= 0.5 s,
cold fit <= 15 s, warm <= 1 s. The load average is printed before and after every cold fit.

Usage::

    python benchmarks/bench_startup.py
    python benchmarks/bench_startup.py --kinds lstm --dtype float64
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HEAVY = ("scipy", "sklearn", "matplotlib", "numba", "cma", "deap")
KINDS = ("mlp", "elman", "lstm", "gru")

IMPORT = f"""
import json, sys, time
t = time.perf_counter()
import evoneuro
dt = time.perf_counter() - t
print(json.dumps({{"seconds": dt, "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""

# One fresh process: import, the data, two fits with max_iter=1 and a score after the first.
FIT = """
import json, sys, time
t0 = time.perf_counter()
import evoneuro as en
kind, backend, dtype = sys.argv[1:4]
if kind == "mlp":
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    Estimator, kw = en.EvoMLPClassifier, {}
else:
    from evoneuro.tasks import two_sequence
    X, y, _ = two_sequence(n_train=200, n_test=2, min_length=20, max_length=30, random_state=0).data()
    Estimator, kw = en.EvoRNNClassifier, {"cell": kind}  # imports scikit-learn, before the clock starts
make = lambda: Estimator(max_iter=1, random_state=0, backend=backend, dtype=dtype, **kw)
t1, c1 = time.perf_counter(), time.process_time()
clf = make().fit(X, y)
t2, c2 = time.perf_counter(), time.process_time()
clf.score(X, y)
t3 = time.perf_counter()
make().fit(X, y)
t4 = time.perf_counter()
print(json.dumps({"setup": t1 - t0, "first_fit": t2 - t1, "first_fit_cpu": c2 - c1,
                  "compile": clf.compile_seconds_, "first_score": t3 - t2, "second_fit": t4 - t3}))
"""


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def run(code: str, *args: str, env: dict | None = None) -> tuple[dict, str]:
    """The JSON line a fresh process prints, and its stderr (the compile lines)."""
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=1800)
    if out.returncode:
        sys.exit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="import timings (median)")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--dtype", default="float32")
    args = ap.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not kinds or any(k not in KINDS for k in kinds):
        ap.error(f"--kinds must name some of {', '.join(KINDS)}, got {args.kinds!r}")
    print(f"CPUs: {os.cpu_count()}, load before: {loadavg()}")
    imports = [run(IMPORT)[0] for _ in range(args.repeats)]
    t_import = statistics.median(r["seconds"] for r in imports)
    heavy = sorted({m for r in imports for m in r["heavy"]})
    print(f"import evoneuro: {t_import:.2f} s (target 0.5), heavy modules loaded: {', '.join(heavy) or 'none'}")
    rows = []
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix="evoneuro-numba-") as cache:
            env = {"NUMBA_CACHE_DIR": cache}
            before = loadavg()
            cold, said = run(FIT, kind, args.backend, args.dtype, env=env)
            after = loadavg()
            warm, _ = run(FIT, kind, args.backend, args.dtype, env=env)
        said = [line for line in said.splitlines() if line.startswith("evoneuro: compiling")]
        rows.append((kind, cold, warm, before, after, said))
        print(f"  {kind}: cold fit {cold['first_fit']:.1f} s; {' / '.join(said) or 'no compile line'}", flush=True)

    print(f"\nfirst fit(max_iter=1), backend={args.backend!r}, dtype={args.dtype!r}; MLP on digits, the cells "
          "on 2-sequence (200 x 20-30 steps); seconds\n")
    head = (f"{'kind':6} {'cold fit':>8} {'cpu':>6} {'compile':>8} {'score':>6} {'met':>4}  "
            f"{'warm fit':>8} {'2nd fit':>7} {'met':>4}  load before -> after the cold fit")
    print(head)
    print("-" * len(head))
    for kind, cold, warm, before, after, _ in rows:
        print(f"{kind:6} {cold['first_fit']:8.1f} {cold['first_fit_cpu']:6.1f} {cold['compile']:8.1f} "
              f"{cold['first_score']:6.2f} {'yes' if cold['first_fit'] <= 15 else 'NO':>4}  "
              f"{warm['first_fit']:8.2f} {warm['second_fit']:7.2f} {'yes' if warm['first_fit'] <= 1 else 'NO':>4}  "
              f"{before} -> {after}")
    print("\ntargets: cold fit <= 15 s, warm fit <= 1 s (idle 2-core machine); cpu: the cold fit's process "
          f"CPU seconds; score: the first score after the cold fit. Load after: {loadavg()}")


if __name__ == "__main__":
    main()
