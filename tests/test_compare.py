"""The comparison harness and the `evoneuro compare` command, on tiny budgets."""

import csv
import json

import numpy as np
import pytest

from evoneuro.cli import main
from evoneuro.bench.compare import compare, parse_optimizers
from evoneuro.bench.datasets import DATASETS, load_dataset


def test_parse_optimizers():
    assert parse_optimizers("adam:learning_rate=0.01:layerwise=True, es:sigma=0.05,ga") == [
        ("adam", {"learning_rate": 0.01, "layerwise": True}),
        ("es", {"sigma": 0.05}),
        ("ga", {}),
    ]
    with pytest.raises(ValueError, match="name:key=value"):
        parse_optimizers("adam:0.01")


@pytest.mark.parametrize("name", DATASETS)
def test_datasets_split_and_scale(name):
    d = load_dataset(name)
    assert len(d.X_train) + len(d.X_test) in (150, 178, 569, 1797, 1000)
    assert set(np.unique(d.y_train)) == set(range(d.n_classes))
    assert abs(len(d.X_test) / (len(d.X_train) + len(d.X_test)) - 0.25) < 0.01
    if name != "digits":
        np.testing.assert_allclose(d.X_train.mean(axis=0), 0, atol=1e-10)


def test_csv_dataset(tmp_path):
    path = tmp_path / "toy.csv"
    rng = np.random.default_rng(0)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["a", "label", "b"])
        for i in range(40):
            w.writerow([rng.normal(), "yes" if i % 2 else "no", rng.normal()])
    d = load_dataset(str(path), target="label")
    assert d.n_features == 2 and list(d.classes) == ["no", "yes"]
    with pytest.raises(ValueError, match="target column 'nope'"):
        load_dataset(str(path), target="nope")
    with pytest.raises(ValueError, match="needs target"):
        load_dataset(str(path))
    with pytest.raises(ValueError, match="dataset must be one of"):
        load_dataset("mnist")


@pytest.mark.slow
def test_compare_runs_every_optimizer_on_the_same_budget(tmp_path):
    c = compare("iris", hidden=(4, 4), optimizers=["adam", ("irprop+", {}), "random", "sklearn"],
                budget_seconds=None, budget_evals=30_000, seeds=2, progress=False, out=tmp_path,
                backend="numpy")
    rows = c.summary()
    assert [r["optimizer"] for r in rows] == ["adam", "irprop+", "random", "sklearn"]
    for r in rows:
        assert r["seeds"] == 2 and 0 <= r["test_accuracy_mean"] <= 1
    for r in c.runs:
        if r.optimizer != "sklearn":  # scikit-learn keeps its own max_iter budget
            assert 30_000 * 0.5 <= r.evals <= 30_000  # stops before a step would overrun
    data = json.loads((tmp_path / "results.json").read_text())
    assert len(data["runs"]) == 8 and data["settings"]["budget_evals"] == 30_000
    assert len(list(csv.DictReader((tmp_path / "results.csv").open()))) == 8
    assert "±" in c.table()


def test_same_seed_same_result():
    kw = dict(hidden=(4,), optimizers=["es"], budget_seconds=None, budget_evals=20_000, progress=False,
              backend="numpy")
    a, b = compare("iris", **kw), compare("iris", **kw)
    assert a.runs[0].test_accuracy == b.runs[0].test_accuracy
    assert a.runs[0].train_loss == b.runs[0].train_loss


@pytest.mark.slow
def test_compare_command_writes_table_json_csv_and_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    rc = main(["compare", "--dataset", "moons", "--hidden", "6x2", "--optimizers", "adam:learning_rate=0.01,random",
               "--budget-evals", "20000", "--depths", "1,2", "--out", str(tmp_path), "--no-progress",
               "--backend", "numpy"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "test acc" in out and "adam" in out and "random" in out
    for name in ("results.json", "results.csv", "curves_evals.png", "curves_seconds.png", "accuracy_vs_depth.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    depths = {r["depth"] for r in json.loads((tmp_path / "results.json").read_text())["summary"]}
    assert depths == {1, 2}


def test_compare_needs_a_budget():
    with pytest.raises(ValueError, match="give a budget"):
        compare("iris", budget_seconds=None, budget_evals=None)


def test_results_json_records_the_environment(tmp_path):
    compare("iris", hidden=(4,), optimizers=["adam"], budget_evals=10_000, progress=False, out=tmp_path,
            backend="numpy", n_jobs=1)
    env = json.loads((tmp_path / "results.json").read_text())["environment"]
    assert env["backend"] == "numpy" and env["dtype"] == "float32" and env["n_jobs"] == 1
    assert env["versions"]["numpy"] and env["versions"]["cma"] and env["cpu_model"]
    assert len(env["load_average"]) == 3 and len(env["load_average_end"]) == 3
    run = json.loads((tmp_path / "results.json").read_text())["runs"][0]
    assert run["compile_seconds"] >= 0 and run["batch"] == "full batch"  # iris's 112 rows < 256


def test_default_budget_is_in_evaluations():
    from evoneuro.bench.compare import DEFAULT_BUDGET_EVALS

    c = compare("iris", hidden=(4,), optimizers=["es"], progress=False, backend="numpy",
                budget_evals=DEFAULT_BUDGET_EVALS // 1000)
    assert c.settings["budget_seconds"] is None and c.runs[0].stop_reason == "max_evals"


def test_cli_version_and_help_lists_every_optimizer(capsys):
    import evoneuro
    from evoneuro.optimizers import available

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and evoneuro.__version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in available():
        assert name in text
    for option in ("--budget-evals", "--n-jobs", "--init", "--batch-size"):
        assert option in text
    assert text.count("(default:") >= 15  # every option says its default


def test_cli_rejects_bad_optimizer_syntax(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--optimizers", "adam:0.01"])
    assert "name:key=value" in capsys.readouterr().err


def test_curves_plot_orders_the_legend_by_final_loss_and_keeps_coinciding_curves_apart():
    pytest.importorskip("matplotlib")
    from evoneuro.bench.compare import Comparison, RunResult
    from evoneuro.bench.plots import plot_curves

    evals = np.linspace(1e3, 1e6, 400)
    same = list(1 / np.sqrt(evals))  # two optimizers on one curve

    def run(name, loss, curve):
        return RunResult(name, {}, 0, 3, 0.9, 0.9, loss, 1.0, 1e6, 400, "max_evals",
                         {"evals": list(evals), "seconds": list(evals / 1e6), "loss": curve})

    runs = [run("ga", 3e-1, list(0.5 + 0 * evals)), run("sep-cmaes", 1e-3, same), run("snes", 1.1e-3, same),
            run("irprop+", 8e-5, list(1 / evals))]
    fig = plot_curves(Comparison({"dataset": "toy", "hidden": [8], "activation": "sigmoid"}, runs))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [t.split(":")[0] for t in labels] == ["irprop+", "sep-cmaes", "snes", "ga"]
    assert labels[0].startswith("irprop+: 8.0e-05")
    assert "drawn at the edge" not in ax.get_ylabel() and ax.get_ylim()[0] < 1e-6  # irprop+'s whole curve shows
    styles = {(line.get_color(), line.get_marker(), str(line.get_linestyle())) for line in ax.get_lines()}
    assert len(styles) == len(runs)
    starts = {line.get_markevery()[0] for line in ax.get_lines()}
    assert len(starts) == len(runs)  # markers of coinciding curves at different x
