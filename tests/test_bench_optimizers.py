"""Smoke test: benchmarks/bench_optimizers.py --quick runs and prints its table."""

import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_optimizers.py"


@pytest.mark.slow
def test_bench_optimizers_quick():
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    for name in ("random", "ga", "cmaes", "sep-cmaes", "es", "snes", "pso", "pycma sep-CMA", "DEAP"):
        assert name in out.stdout
    steps = out.stdout.split("through opt.step(problem)")[1]  # the table of a generation's overhead
    for name in ("random", "ga", "cmaes", "sep-cmaes", "es", "snes", "pso", "guided-es"):
        assert f"\n{name} " in steps
