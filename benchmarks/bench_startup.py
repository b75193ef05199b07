"""Start-up costs: ``import evoneuro``, the first fit with an empty Numba cache, a warm one.

Each figure comes from a fresh Python process, as a user meets it:

* **import**: ``import evoneuro`` (median of ``--repeats``), and which heavy libraries it
  pulled in (none should be: scipy, scikit-learn, matplotlib and numba load on use);
* **cold**: ``EvoMLPClassifier(max_iter=1).fit`` on digits (one finished step, then the
  final loss) with ``NUMBA_CACHE_DIR`` pointing at an empty temporary directory, so every
  kernel the fit needs is compiled;
* **warm**: the same fit in a new process reusing that cache (kernels loaded from disk),
  and a second fit in the same process.

Targets: import <= 0.5 s, cold <= 15 s, warm <= 1 s on an idle 2-core machine.
``--rnn`` times ``EvoRNNClassifier`` (an LSTM) on a short 2-sequence task the same way.

Usage::

    python benchmarks/bench_startup.py
    python benchmarks/bench_startup.py --backend numba --dtype float64
    python benchmarks/bench_startup.py --rnn
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

IMPORT = f"""
import json, sys, time
t = time.perf_counter()
import evoneuro
dt = time.perf_counter() - t
print(json.dumps({{"seconds": dt, "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""

# One fresh process: import, the data, then two fits of ESTIMATOR with max_iter=1.
FIT = """
import json, sys, time
t0 = time.perf_counter()
import evoneuro as en
{data}
t1 = time.perf_counter()
kw = dict(max_iter=1, random_state=0, backend=sys.argv[1], dtype=sys.argv[2])
en.{estimator}(**kw).fit(X, y)
t2 = time.perf_counter()
en.{estimator}(**kw).fit(X, y)
t3 = time.perf_counter()
print(json.dumps({{"setup": t1 - t0, "first_fit": t2 - t1, "second_fit": t3 - t2}}))
"""
DIGITS = """from sklearn.datasets import load_digits
X, y = load_digits(return_X_y=True)"""
TWO_SEQUENCE = """from evoneuro.tasks import two_sequence
task = two_sequence(n_train=200, n_test=2, min_length=20, max_length=30, random_state=0)
X, y = task.X_train, task.y_train[:, 0].astype(int)"""


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def run(code: str, *args: str, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=1800)
    if out.returncode:
        sys.exit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="import timings (median)")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--rnn", action="store_true",
                    help="time EvoRNNClassifier (LSTM) on 2-sequence, lengths 20-30, instead of the MLP on digits")
    args = ap.parse_args(argv)
    fit = FIT.format(data=TWO_SEQUENCE, estimator="EvoRNNClassifier") if args.rnn else \
        FIT.format(data=DIGITS, estimator="EvoMLPClassifier")
    print(f"load before: {loadavg()}")
    imports = [run(IMPORT) for _ in range(args.repeats)]
    t_import = statistics.median(r["seconds"] for r in imports)
    heavy = sorted({m for r in imports for m in r["heavy"]})
    with tempfile.TemporaryDirectory(prefix="evoneuro-numba-") as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        cold = run(fit, args.backend, args.dtype, env=env)
        load_cold = loadavg()
        warm = run(fit, args.backend, args.dtype, env=env)
    rows = [
        ("import evoneuro", t_import, 0.5, f"heavy modules loaded: {', '.join(heavy) or 'none'}"),
        ("cold: first fit, empty Numba cache", cold["first_fit"], 15.0, f"load {load_cold}"),
        ("warm: first fit in a new process", warm["first_fit"], 1.0, "kernels from the disk cache"),
        ("warm: second fit, same process", warm["second_fit"], 1.0, ""),
    ]
    what = "EvoRNNClassifier" if args.rnn else "EvoMLPClassifier"
    data = "2-sequence, lengths 20-30 (targets: the MLP's)" if args.rnn else "digits"
    print(f"\n{what}(max_iter=1, backend={args.backend!r}, dtype={args.dtype!r}) on {data}\n")
    head = f"{'':38} {'seconds':>8} {'target':>7} {'met':>4}  note"
    print(head)
    print("-" * len(head))
    for name, sec, target, note in rows:
        print(f"{name:38} {sec:8.2f} {target:7.1f} {'yes' if sec <= target else 'NO':>4}  {note}")
    print(f"\nload after: {loadavg()}")


if __name__ == "__main__":
    main()
