"""Import stays light: heavy libraries load on first use, every public name imports."""

import subprocess
import sys

HEAVY = ("scipy", "sklearn", "matplotlib", "numba", "cma", "deap")


def _run(code):
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_import_loads_no_heavy_library():
    out = _run(f"import sys, evoneuro; print([m for m in {HEAVY!r} if m in sys.modules])")
    assert out == "[]"


def test_every_public_name_imports():
    out = _run("import evoneuro as en\n"
               "from evoneuro import *\n"
               "missing = [n for n in en.__all__ if getattr(en, n, None) is None]\n"
               "print(missing)")
    assert out == "[]"


def test_numpy_evaluator_does_not_load_numba():
    out = _run("import sys, numpy as np, evoneuro as en\n"
               "net = en.MLP(3, (4,), 2)\n"
               "en.Evaluator(net, backend='numpy').loss(net.init(np.random.default_rng(0)), np.ones((2, 3)), [0, 1])\n"
               "print('numba' in sys.modules)")
    assert out == "False"
