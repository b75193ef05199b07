"""The test suite's Numba share: seconds spent compiling kernels in one cold run of the suite.

Runs ``pytest`` in one process (no xdist), with ``NUMBA_CACHE_DIR`` pointing at an empty
temporary directory so every kernel the suite needs is compiled, and a small plugin that adds
up Numba's outermost compile events (``numba.core.event``, kind ``numba:compile``; nested
compiles of callees are inside their caller's). Prints the compile total, the suite's total
and the load average around the run (the target: a Numba share of at most 2 minutes).

Usage::

    python benchmarks/suite_numba_share.py             # the whole suite
    python benchmarks/suite_numba_share.py tests/test_backends.py   # part of it
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLUGIN = '''
import time
from numba.core import event

_state = {"depth": 0, "t0": 0.0, "total": 0.0, "n": 0}


class _Compiles(event.Listener):
    def on_start(self, ev):
        if _state["depth"] == 0:
            _state["t0"] = time.perf_counter()
        _state["depth"] += 1

    def on_end(self, ev):
        _state["depth"] -= 1
        if _state["depth"] == 0:
            _state["total"] += time.perf_counter() - _state["t0"]
            _state["n"] += 1


event.register("numba:compile", _Compiles())


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"NUMBA COMPILE {_state['total']:.1f} s in {_state['n']} compiles")
'''


def main(argv: list[str]) -> None:
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "numba_share_plugin.py").write_text(PLUGIN)
        outer = os.environ.get("PYTHONPATH")
        env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp, "cache")),
                   PYTHONPATH=tmp + (os.pathsep + outer if outer else ""))
        print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "numba_share_plugin", "-p", "no:xdist",
                              *argv], cwd=root, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    out = res.stdout
    compile_line = re.search(r"NUMBA COMPILE ([\d.]+) s in (\d+) compiles", out)
    summary = [line for line in out.splitlines() if re.search(r"\d+ passed", line)]
    print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(summary[-1] if summary else out[-2000:])
    if compile_line is None:
        print("no compile total found (did pytest run?)", res.stderr[-2000:])
        sys.exit(1)
    seconds = float(compile_line.group(1))
    print(f"Numba compile: {seconds:.1f} s in {compile_line.group(2)} compiles, of {wall:.1f} s in all; "
          f"target <= 120 s: {'met' if seconds <= 120 else 'NOT met'}")
    sys.exit(res.returncode)


if __name__ == "__main__":
    main(sys.argv[1:])
