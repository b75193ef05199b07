"""The command line's argument checks: every bad flag is argparse's usage error (exit status 2)
before any run, naming the flag; a flag that does not apply to the chosen study is an error."""

import numpy as np
import pytest

from evoneuro.cli import main

TINY = ["--optimizers", "random", "--budget-evals", "1000", "--no-progress"]


@pytest.fixture
def runs(monkeypatch):
    """``compare`` and ``compare_task`` replaced by stubs that record their arguments."""
    import evoneuro.bench.compare as compare_mod
    import evoneuro.bench.compare_tasks as tasks_mod

    calls = []

    class Result:
        def table(self):
            return ""

    def compare(*args, **kwargs):
        calls.append(("compare", args, kwargs))
        return Result()

    def compare_task(*args, **kwargs):
        calls.append(("compare_task", args, kwargs))
        return []

    monkeypatch.setattr(compare_mod, "compare", compare)
    monkeypatch.setattr(tasks_mod, "compare_task", compare_task)
    return calls


def usage_error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "usage: evoneuro compare" in err or "usage: evoneuro diagnose" in err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("flag", [["--dataset", "iris"], ["--activation", "nope"], ["--activation", "tanh"],
                                  ["--init", "nope"], ["--depths", "2,4"], ["--batch-size", "8"],
                                  ["--target", "y"], ["--dtype", "float64"]])
def test_dataset_flags_with_task_are_an_error_not_ignored(flag, runs, capsys, tmp_path):
    line = usage_error(["compare", "--task", "adding", "--lag", "12", *TINY, "--out", str(tmp_path), *flag], capsys)
    assert f"{flag[0]} applies to a data set study (--dataset), not to --task adding" in line
    assert not runs


@pytest.mark.parametrize("flag", [["--lag", "50"], ["--cell", "gru"], ["--sequences", "10"]])
def test_task_flags_without_task_are_an_error(flag, runs, capsys, tmp_path):
    line = usage_error(["compare", "--dataset", "iris", *TINY, "--out", str(tmp_path), *flag], capsys)
    assert f"{flag[0]} applies with --task only" in line


@pytest.mark.parametrize("task", [[], ["--task", "latch", "--lag", "20"]])
@pytest.mark.parametrize("seeds", ["0", "-1", "1.5"])
def test_seeds_below_one_are_rejected(task, seeds, runs, capsys, tmp_path):
    line = usage_error(["compare", *task, *TINY, "--out", str(tmp_path), "--seeds", seeds], capsys)
    assert f"argument --seeds: must be an int >= 1, got '{seeds}'" in line


@pytest.mark.parametrize("flags, message", [
    (["--target", "nope"], "argument --target: names the label column of a CSV data set; --dataset iris"),
    (["--activation", "nope"], "argument --activation: activation must be one of"),
    (["--init", "nope"], "argument --init: must be one of auto, lsuv, pretrain"),
    (["--batch-size", "0"], "argument --batch-size: must be auto or an int >= 1, got '0'"),
    (["--depths", "0"], "argument --depths: must be depths >= 1"),
    (["--depths", "2", "--hidden", "0"], "argument --depths: a depth sweep repeats the first --hidden width"),
    (["--hidden", "0x3"], "argument --hidden: --hidden must look like 32x10"),
    (["--hidden", "-3"], "argument --hidden: --hidden must look like 32x10"),
    (["--budget-evals", "inf"], "argument --budget-evals: must be a finite number >= 1"),
    (["--budget-evals", "0"], "argument --budget-evals: must be a finite number >= 1"),
    (["--budget-seconds", "nan"], "argument --budget-seconds: must be a finite number of seconds > 0"),
    (["--n-jobs", "0"], "argument --n-jobs: must be none, all, or a nonzero int"),
    (["--dataset", "no-such-data"], "argument --dataset: dataset must be one of"),
    (["--dataset", "missing.csv"], "argument --dataset: dataset CSV file not found"),
    (["--optimizers", "nope"], "argument --optimizers: nope: unknown optimizer 'nope'"),
    (["--optimizers", "adam:learning_rate=-1"], "argument --optimizers: adam: learning_rate must be"),
    (["--optimizers", "adam:nope=1"], "argument --optimizers: adam: optimizer_params ['nope']"),
    (["--optimizers", "adam:dropout=2"], "argument --optimizers: adam: dropout must be a probability"),
    (["--optimizers", ","], "argument --optimizers: name at least one optimizer"),
    (["--optimizers", "sklearn", "--activation", "softsign"], "MLPClassifier (--optimizers sklearn) has no 'softsign'"),
])
def test_bad_dataset_study_arguments_are_usage_errors(flags, message, runs, capsys, tmp_path):
    line = usage_error(["compare", "--dataset", "iris", *TINY, "--out", str(tmp_path), *flags], capsys)
    assert message in line
    assert not runs


@pytest.mark.parametrize("flags, message", [
    (["--lag", "3"], "argument --lag: T is too short for version 'hochreiter'"),
    (["--lag", "1"], "argument --lag: must be an int >= 2"),
    (["--sequences", "0"], "argument --sequences: must be an int >= 1"),
    (["--hidden", "0"], "argument --hidden: a recurrent net needs at least one layer"),
    (["--optimizers", "sklearn"], "sklearn cannot train recurrent nets"),
])
def test_bad_task_study_arguments_are_usage_errors(flags, message, runs, capsys, tmp_path):
    line = usage_error(["compare", "--task", "adding", "--out", str(tmp_path), *flags], capsys)
    assert message in line
    assert not runs


def test_csv_target_is_checked_and_out_must_be_a_folder(runs, capsys, tmp_path):
    csv = tmp_path / "data.csv"
    csv.write_text("a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n")
    line = usage_error(["compare", "--dataset", str(csv), "--target", "nope", *TINY, "--out", str(tmp_path)], capsys)
    assert "argument --dataset: target column 'nope' not in the CSV header" in line
    line = usage_error(["compare", "--dataset", str(csv), *TINY, "--out", str(tmp_path)], capsys)
    assert "needs target=COLUMN" in line
    line = usage_error(["compare", "--dataset", "iris", *TINY, "--out", str(csv)], capsys)
    assert "argument --out" in line and "is a file" in line


def test_each_study_gets_its_defaults(runs, tmp_path):
    assert main(["compare", *TINY, "--out", str(tmp_path)]) == 0
    name, args, kwargs = runs[-1]
    assert name == "compare" and args == ("digits",)
    assert {k: kwargs[k] for k in ("target", "activation", "init", "depths", "batch_size", "dtype")} == {
        "target": None, "activation": "sigmoid", "init": "auto", "depths": None, "batch_size": "auto",
        "dtype": "float32"}
    assert main(["compare", "--task", "latch", *TINY, "--out", str(tmp_path)]) == 0
    name, args, kwargs = runs[-1]
    assert name == "compare_task" and args == ("latch", 100)
    assert kwargs["cell"] == "lstm" and kwargs["n_train"] == 1000


@pytest.mark.parametrize("flags, message", [
    (["--steps", "5"], "--steps applies with --cell only"),
    (["--gain", "2"], "--gain applies with --cell only"),
    (["--cell", "lstm", "--dataset", "iris"], "--dataset applies to an MLP on --dataset, not with --cell"),
    (["--samples", "0"], "argument --samples: must be an int >= 1"),
    (["--seed", "-1"], "argument --seed: must be an int >= 0"),
    (["--cell", "lstm", "--steps", "0"], "argument --steps: must be an int >= 1"),
    (["--cell", "lstm", "--gain", "-1"], "argument --gain: must be a finite number > 0"),
    (["--cell", "lstm", "--forget-bias", "nan"], "argument --forget-bias: must be a finite number"),
    (["--target", "y"], "argument --target: names the label column of a CSV data set"),
    (["--dataset", "no-such-data"], "argument --dataset: dataset must be one of"),
])
def test_diagnose_arguments(flags, message, capsys, tmp_path):
    line = usage_error(["diagnose", "--out", str(tmp_path / "d.png"), *flags], capsys)
    assert message in line


# --- evoneuro control -----------------------------------------------------------------------


@pytest.mark.parametrize("env, extra", [("double-pole-novel", ["--optimizer", "cmaes"]),
                                        ("CartPole-v1", ["--optimizer", "snes", "--max-steps", "50"])])
def test_control_runs_and_saves_a_replayable_policy(env, extra, tmp_path, capsys):
    if env == "CartPole-v1":
        pytest.importorskip("gymnasium")
    import evoneuro as en

    assert main(["control", "--env", env, "--max-evals", "60", "--no-progress", "--out", str(tmp_path)] + extra) == 0
    out = capsys.readouterr().out
    assert "best mean return" in out and (tmp_path / "policy.npz").exists()
    assert (tmp_path / "returns.png").exists()
    returns = en.replay(tmp_path / "policy.npz", episodes=2, max_steps=50)
    assert returns.shape == (2,) and np.all(returns > 0)


@pytest.mark.parametrize("flags, message", [
    (["--env", "NoSuchEnv-v0"], "NoSuchEnv"),
    (["--env", "double-pole", "--optimizer", "adam"], "no gradient"),
    (["--env", "double-pole", "--scale", "0"], "--scale"),
    (["--env", "double-pole", "--max-evals", "0"], "--max-evals"),
])
def test_control_arguments(flags, message, capsys, tmp_path):
    with pytest.raises((SystemExit, ValueError)) as err:
        main(["control", "--no-progress", "--out", str(tmp_path)] + flags)
    text = capsys.readouterr().err + str(err.value)
    assert message in text
