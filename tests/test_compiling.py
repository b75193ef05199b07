"""Numba's compile time: counted for budgets, said once per kind on stderr, done ahead by warmup."""

import os
import subprocess
import sys

import numpy as np
import pytest

import evoneuro as en

pytest.importorskip("numba")

# A toy kernel named like the backend's: compiles in a fraction of a second.
TOY = """
import sys
import numba
from evoneuro.backends.numba import compiling

@numba.njit(cache=False)
def kernel(x):
    return x + 1

compiling.name("toy", kernel, closes=True)
t0 = compiling.seconds()
kernel(1); kernel(2.0)                          # two compilations of one kind: one line
@numba.njit(cache=False)
def unnamed(x):
    return x * 2
unnamed(3)                                      # counted, never announced
print(compiling.seconds() > t0)
"""


def _run(code, env=None, timeout=300):
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, **(env or {})})
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def test_first_compile_of_a_kind_says_so_once_with_its_duration():
    res = _run(TOY)
    assert res.stdout.strip() == "True"
    lines = [line for line in res.stderr.splitlines() if line.startswith("evoneuro:")]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("evoneuro: compiling the toy kernels for this CPU, once: ") and lines[0].endswith(" s")


def test_quiet_leaves_the_line_out_but_counts_the_seconds():
    res = _run(TOY, env={"EVONEURO_QUIET": "1"})
    assert res.stdout.strip() == "True" and "evoneuro:" not in res.stderr


@pytest.mark.slow
def test_cold_fit_says_so_counts_the_forward_kernel_and_warmup_compiles_ahead(tmp_path):
    # An empty Numba cache, as on a fresh clone: the fit compiles (and says so), and the
    # first predict compiles nothing more, so compile_seconds_ holds all of it.
    code = """
import evoneuro as en
from evoneuro.backends.numba import compiling
from sklearn.datasets import load_iris
X, y = load_iris(return_X_y=True)
clf = en.EvoMLPClassifier(hidden_layer_sizes=(3,), max_iter=2, early_stopping=False, random_state=0).fit(X, y)
before = compiling.seconds()
clf.predict(X); clf.score(X, y)
print(clf.compile_seconds_ > 0, compiling.seconds() == before)
"""
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    res = _run(code, env)
    assert res.stdout.split() == ["True", "True"], res.stdout
    assert res.stderr.count("evoneuro: compiling the MLP kernels for this CPU, once: ") == 1, res.stderr
    warm = _run("from evoneuro.cli import main; main(['warmup', '--kinds', 'mlp'])", env)
    assert "already in the disk cache" in warm.stdout and "evoneuro: compiling" not in warm.stderr


def test_warmup_takes_every_registered_kind_and_its_examples_run_on_the_reference():
    from evoneuro.evaluator import warmup, warmup_names
    from evoneuro.network.kinds import KINDS

    names = warmup_names()
    assert set(KINDS) <= set(names) and names["rnn"] == ("elman", "lstm", "gru") and names["gru"] == ("gru",)
    for kind in KINDS.values():
        for name, (net, X, y) in kind.load("spec").warmup_examples().items():
            assert net.kind == kind.name and name in names
            losses = en.Evaluator(net, backend="numpy", dtype="float64").loss(net.init_population(2, 0), X, y)
            assert losses.shape == (2,) and np.isfinite(losses).all()
    with pytest.raises(ValueError, match="pyramid"):
        warmup(kinds=["convnet"])
