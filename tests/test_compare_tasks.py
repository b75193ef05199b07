"""evoneuro compare --task: optimizers on a long-time-lag task, from Python and the command line."""

import json

import pytest

from evoneuro.cli import main
from evoneuro.bench.compare_tasks import compare_task, make_task


@pytest.mark.slow
def test_cli_runs_a_task_comparison(tmp_path, capsys):
    rc = main(["compare", "--task", "adding", "--lag", "12", "--cell", "elman", "--hidden", "6",
               "--optimizers", "irprop+,snes", "--budget-evals", "2e5", "--sequences", "100",
               "--backend", "numpy", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "irprop+" in out and "solved" in out
    runs = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert [r["optimizer"] for r in runs] == ["irprop+", "snes"]
    assert all(r["evals"] <= 2e5 + 100 * 14 * 3 for r in runs)
    with pytest.raises(SystemExit) as exit_:  # a usage error, before any run
        main(["compare", "--task", "adding", "--lag", "3", "--out", str(tmp_path)])
    assert exit_.value.code == 2 and "too short" in capsys.readouterr().err


def test_task_comparison_is_reproducible_and_refuses_what_cannot_train_an_rnn():
    kw = dict(cell="gru", hidden=(4,), optimizers=["adam"], budget_evals=50_000, n_train=50, n_test=20,
              backend="numpy")
    a, b = compare_task("two_sequence", 10, **kw), compare_task("two_sequence", 10, **kw)
    assert a[0].test_loss == b[0].test_loss
    with pytest.raises(ValueError, match="sklearn"):
        compare_task("adding", 10, **{**kw, "optimizers": ["sklearn"]})
    with pytest.raises(ValueError, match="task"):
        make_task("mnist", 10, 10, 10, 0)


def test_compare_takes_pretraining_and_regularisation():
    from evoneuro.bench.compare import run_one
    from evoneuro.bench.datasets import load_dataset

    data = load_dataset("iris")
    run = run_one(data, (6, 6), init="pretrain", optimizer="adam", params={"alpha": 1e-3, "input_noise": 0.05},
                  budget_evals=30_000, backend="numpy")
    assert run.params == {"alpha": 1e-3, "input_noise": 0.05} and 0 <= run.test_accuracy <= 1


def test_every_task_is_offered_and_runs():
    import evoneuro.tasks as tasks
    from evoneuro.bench.compare_tasks import FIXED_LAGS, TASK_LAGS
    from evoneuro.cli import build_parser

    generators = {"adding", "latch", "parity", "temporal_order", "two_sequence"}
    assert generators <= set(tasks.__all__) and set(TASK_LAGS) == generators
    import argparse

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    task_action = next(a for a in commands["compare"]._actions if a.dest == "task")
    assert sorted(task_action.choices) == sorted(TASK_LAGS)
    kw = dict(cell="elman", hidden=(3,), optimizers=["snes"], budget_evals=5_000, n_train=8, n_test=4,
              backend="numpy")
    runs = compare_task("temporal_order", FIXED_LAGS["temporal_order"], **kw)
    assert runs[0].steps >= 1
    with pytest.raises(ValueError, match="fixed lengths"):
        make_task("temporal_order", 50, 4, 4, 0)
