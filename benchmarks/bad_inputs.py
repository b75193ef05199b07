"""Try bad inputs across the public API and tabulate what each one does.

Every case is called once; the table records the exception type and message, or what
happened when nothing was raised (a result, and the warnings shown). The cases are the
reliability contract of ``docs/reliability.md``: a bad input gets a ``TypeError`` or
``ValueError`` naming the argument and what was expected, at once; a bad *value* during a
run (NaN, a lost worker) counts as the worst value with one warning.

Usage::

    python benchmarks/bad_inputs.py                            # print the markdown table
    python benchmarks/bad_inputs.py --write docs/reliability.md  # replace its table
"""

from __future__ import annotations

import argparse
import re
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import evoneuro as en

START, END = "<!-- bad-inputs:start -->", "<!-- bad-inputs:end -->"
RNG = np.random.default_rng(0)
NET = en.MLP(4, (5,), 3)
EV = en.Evaluator(NET, backend="numpy")
THETA = NET.init(RNG)
X = RNG.normal(size=(30, 4))
Y = RNG.integers(0, 3, 30)


def sphere(x):
    return float(np.sum(x ** 2))


def problem(**kw):
    return en.SupervisedProblem(EV, X, Y, **kw)


def fit(est_name: str, X_=X, y_=Y, **params):
    import evoneuro.estimators as est

    cls = getattr(est, est_name)
    kw = dict(hidden_layer_sizes=(5,), backend="numpy", max_iter=3, random_state=0)
    kw.update(params)
    return cls(**kw).fit(X_, y_)


def predict_unfitted():
    from evoneuro.estimators import EvoMLPClassifier

    return EvoMLPClassifier().predict(X)


def predict_wrong_features():
    return fit("EvoMLPClassifier").predict(X[:, :3])


def minimize(f=sphere, x0=np.ones(3), optimizer="es", **kw):
    kw.setdefault("max_steps", 2)
    kw.setdefault("random_state", 0)  # the same table on every run
    return en.minimize(f, x0, optimizer, **kw)


def nan_theta():
    t = THETA.copy()
    t[0] = np.nan
    return EV.loss(t, X, Y)


def sparse_X():
    import scipy.sparse

    return EV.loss(THETA, scipy.sparse.csr_matrix(X), Y)


def first_step_raises():
    def f(x):
        raise KeyError("simulator crashed")
    return minimize(f)


class NotACallback:
    pass


class UsageError(Exception):
    """The command line's argparse usage error (exit status 2), with its message."""


def cli(*argv):
    """``evoneuro compare ...`` (or ``diagnose``) with argparse's exit turned into UsageError."""
    import contextlib
    import io

    from evoneuro.cli import main

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return main(list(argv))
    except SystemExit as exc:
        lines = err.getvalue().strip().splitlines()
        raise UsageError(f"exit status {exc.code}: {lines[-1] if lines else ''}") from None


TASK = ("compare", "--task", "adding", "--lag", "12", "--optimizers", "random", "--budget-evals", "1000")
STUDY = ("compare", "--dataset", "iris", "--optimizers", "random", "--budget-evals", "1000")


def rnn_fit(X, **params):
    from evoneuro.estimators import EvoRNNClassifier

    return EvoRNNClassifier(hidden_layer_sizes=(3,), backend="numpy", max_iter=2, **params).fit(X, Y[:12] % 2)


def tiny_latch(**kw):
    from evoneuro.tasks import latch

    return latch(**{"n_train": 4, "n_test": 4, "min_length": 5, "max_length": 8, **kw})




def raising(x):
    raise RuntimeError("the simulation diverged")


CASES = [
    # --- networks
    ("MLP", "n_inputs=0", lambda: en.MLP(0, (5,), 3)),
    ("MLP", "n_inputs=2.5", lambda: en.MLP(2.5, (5,), 3)),
    ("MLP", "hidden=(0,)", lambda: en.MLP(4, (0,), 3)),
    ("MLP", "hidden=-3", lambda: en.MLP(4, -3, 3)),
    ("MLP", "n_outputs=0", lambda: en.MLP(4, (5,), 0)),
    ("MLP", "activation='nope'", lambda: en.MLP(4, (5,), 3, activation="nope")),
    ("MLP", "output='sigmoid'", lambda: en.MLP(4, (5,), 3, output="sigmoid")),
    ("MLP", "unflatten(theta of the wrong length)", lambda: NET.unflatten(np.zeros(7))),
    ("MLP", "init(rng, scheme='nope')", lambda: NET.init(RNG, scheme="nope")),
    ("MLP", "init(rng=42)", lambda: NET.init(42)),
    # --- evaluator
    ("Evaluator", "net='mlp'", lambda: en.Evaluator("mlp")),
    ("Evaluator", "backend='tpu'", lambda: en.Evaluator(NET, backend="tpu")),
    ("Evaluator", "dtype='int8'", lambda: en.Evaluator(NET, dtype="int8")),
    ("Evaluator", "n_jobs=0", lambda: en.Evaluator(NET, n_jobs=0)),
    ("Evaluator.loss", "Theta of the wrong length", lambda: EV.loss(np.zeros(7), X, Y)),
    ("Evaluator.loss", "Theta 3-D", lambda: EV.loss(np.zeros((2, 2, NET.n_params)), X, Y)),
    ("Evaluator.loss", "Theta complex", lambda: EV.loss(THETA.astype(complex), X, Y)),
    ("Evaluator.loss", "Theta with a NaN weight", nan_theta),
    ("Evaluator.loss", "X with 3 columns for 4 inputs", lambda: EV.loss(THETA, X[:, :3], Y)),
    ("Evaluator.loss", "X with a NaN", lambda: EV.loss(THETA, np.where(X > 2, np.nan, X), Y)),
    ("Evaluator.loss", "X of order 1e300 (float32 evaluator)", lambda: EV.loss(THETA, X * 1e300, Y)),
    ("Evaluator.loss", "X of strings", lambda: EV.loss(THETA, X.astype(str), Y)),
    ("Evaluator.loss", "X sparse", sparse_X),
    ("Evaluator.loss", "X with no rows", lambda: EV.loss(THETA, X[:0], Y[:0])),
    ("Evaluator.loss", "y label 3 for 3 outputs", lambda: EV.loss(THETA, X, Y + 1)),
    ("Evaluator.loss", "y labels 0.5", lambda: EV.loss(THETA, X, Y + 0.5)),
    ("Evaluator.loss", "y of the wrong length", lambda: EV.loss(THETA, X, Y[:-1])),
    ("Evaluator.loss", "y strings", lambda: EV.loss(THETA, X, Y.astype(str))),
    # --- problems
    ("SupervisedProblem", "evaluator=net", lambda: en.SupervisedProblem(NET, X, Y)),
    ("SupervisedProblem", "batch_size=0", lambda: problem(batch_size=0)),
    ("FitnessProblem", "n_params=0", lambda: en.FitnessProblem(sphere, 0)),
    ("FitnessProblem", "fun=3", lambda: en.FitnessProblem(3, 2)),
    ("FitnessProblem", "args=[1]", lambda: en.FitnessProblem(sphere, 2, args=[1])),
    ("FitnessProblem", "timeout=0", lambda: en.FitnessProblem(sphere, 2, timeout=0)),
    ("FitnessProblem", "retries=-1", lambda: en.FitnessProblem(sphere, 2, retries=-1)),
    ("FitnessProblem", "vectorized=True with an executor",
     lambda: en.FitnessProblem(sphere, 2, vectorized=True, executor=ThreadPoolExecutor(1))),
    # --- minimize
    ("minimize", "fitness=3.0", lambda: minimize(3.0)),
    ("minimize", "x0=None for a callable", lambda: minimize(x0=None)),
    ("minimize", "x0 with a NaN", lambda: minimize(x0=np.array([1.0, np.nan]))),
    ("minimize", "x0 of strings", lambda: minimize(x0=["a", "b"])),
    ("minimize", "optimizer='nope'", lambda: minimize(optimizer="nope")),
    ("minimize", "optimizer_params={'nope': 1}", lambda: minimize(optimizer_params={"nope": 1})),
    ("minimize", "no budget", lambda: minimize(max_steps=None)),
    ("minimize", "max_steps=0", lambda: minimize(max_steps=0)),
    ("minimize", "max_steps=2.5", lambda: minimize(max_steps=2.5)),
    ("minimize", "max_time=-1", lambda: minimize(max_time=-1)),
    ("minimize", "max_evals=True", lambda: minimize(max_evals=True)),
    ("minimize", "target=nan", lambda: minimize(target=np.nan)),
    ("minimize", "target='low'", lambda: minimize(target="low")),
    ("minimize", "random_state=-1", lambda: minimize(random_state=-1)),
    ("minimize", "random_state='seed'", lambda: minimize(random_state="seed")),
    ("minimize", "executor=object()", lambda: minimize(executor=object())),
    ("minimize", "callbacks=[print]", lambda: minimize(callbacks=[print])),
    ("minimize", "callbacks=[an object that is not a Callback]", lambda: minimize(callbacks=[NotACallback()])),
    ("minimize", "popsize=0", lambda: minimize(popsize=0)),
    ("minimize", "fitness returns None", lambda: minimize(lambda x: None)),
    ("minimize", "fitness returns True", lambda: minimize(lambda x: True)),
    ("minimize", "fitness returns '1.0'", lambda: minimize(lambda x: "1.0")),
    ("minimize", "fitness returns 2 numbers", lambda: minimize(lambda x: x[:2])),
    ("minimize", "fitness returns NaN", lambda: minimize(lambda x: np.nan)),
    ("minimize", "vectorized fitness returns P+1 values",
     lambda: minimize(lambda T: np.zeros(len(T) + 1), vectorized=True)),
    ("minimize", "fitness raises in the first step", first_step_raises),
    ("minimize", "gradient optimizer without grad=", lambda: minimize(optimizer="adam")),
    ("minimize", "grad= of the wrong shape", lambda: minimize(optimizer="adam", grad=lambda x: x[:2])),
    ("minimize", "maximize=True with a SupervisedProblem", lambda: en.minimize(problem(), maximize=True, max_steps=1)),
    ("minimize", "args=(1,) with a Problem", lambda: en.minimize(problem(), args=(1,), max_steps=1)),
    # --- trainer and callbacks
    ("Trainer", "problem='x'", lambda: en.Trainer("x", "adam", max_steps=1)),
    ("Trainer", "no budget", lambda: en.Trainer(problem(), "adam")),
    ("Trainer", "x0 of the wrong length", lambda: en.Trainer(problem(), "adam", x0=np.zeros(3), max_steps=1)),
    ("Trainer", "x0=7 for 43 parameters", lambda: en.Trainer(problem(), "adam", x0=7, max_steps=1)),
    ("Trainer", "x0 for a problem without a network", lambda: en.Trainer(en.FitnessProblem(sphere, 2), "es",
                                                                         max_steps=1)),
    ("Checkpoint", "every=0", lambda: en.Checkpoint("run.pkl", every=0)),
    ("EarlyStopping", "monitor='acc'", lambda: en.EarlyStopping(monitor="acc")),
    ("EarlyStopping", "patience=0", lambda: en.EarlyStopping(patience=0)),
    ("History", "validation='x'", lambda: en.History(validation="x")),
    # --- estimators
    ("EvoMLPClassifier.fit", "hidden_layer_sizes=(-1,)", lambda: fit("EvoMLPClassifier", hidden_layer_sizes=(-1,))),
    ("EvoMLPClassifier.fit", "optimizer='nope'", lambda: fit("EvoMLPClassifier", optimizer="nope")),
    ("EvoMLPClassifier.fit", "activation='nope'", lambda: fit("EvoMLPClassifier", activation="nope")),
    ("EvoMLPClassifier.fit", "max_time=-1", lambda: fit("EvoMLPClassifier", max_time=-1)),
    ("EvoMLPClassifier.fit", "X with a NaN", lambda: fit("EvoMLPClassifier", np.where(X > 2, np.nan, X))),
    ("EvoMLPClassifier.fit", "y of the wrong length", lambda: fit("EvoMLPClassifier", X, Y[:-1])),
    ("EvoMLPClassifier.fit", "one class only", lambda: fit("EvoMLPClassifier", X, np.zeros(30, int))),
    ("EvoMLPClassifier.fit", "early_stopping on 6 samples of 3 classes",
     lambda: fit("EvoMLPClassifier", X[:6], Y[:6], early_stopping=True)),
    ("EvoMLPClassifier.predict", "before fit", predict_unfitted),
    ("EvoMLPClassifier.predict", "X with 3 columns after fitting 4", predict_wrong_features),
    ("EvoMLPRegressor.fit", "y with a NaN", lambda: fit("EvoMLPRegressor", X, np.where(Y > 1, np.nan, Y))),
    ("EvoMLPRegressor.fit", "y of words", lambda: fit("EvoMLPRegressor", X, np.array(["a", "b", "c"] * 10))),
    ("EvoMLPRegressor.fit", "y of numeric strings", lambda: fit("EvoMLPRegressor", X, Y.astype(str))),
    ("NetworkFitness", "net=an Evaluator", lambda: en.NetworkFitness(EV, sphere)),
    ("NetworkFitness", "f=None", lambda: en.NetworkFitness(NET, None)),
    ("minimize", "fitness returns a complex number", lambda: minimize(lambda x: 1 + 2j)),
    ("minimize", "vectorized fitness returns bools", lambda: minimize(lambda T: T[:, 0] > 0, vectorized=True)),
    # --- issue 29: the command line, the tasks, flags, sequences, checkpoints
    ("evoneuro compare", "--task adding --dataset iris", lambda: cli(*TASK, "--dataset", "iris")),
    ("evoneuro compare", "--task adding --activation nope", lambda: cli(*TASK, "--activation", "nope")),
    ("evoneuro compare", "--task adding --batch-size 0", lambda: cli(*TASK, "--batch-size", "0")),
    ("evoneuro compare", "--task adding --depths 2,4", lambda: cli(*TASK, "--depths", "2,4")),
    ("evoneuro compare", "--lag 50 without --task", lambda: cli(*STUDY, "--lag", "50")),
    ("evoneuro compare", "--seeds 0", lambda: cli(*STUDY, "--seeds", "0")),
    ("evoneuro compare", "--seeds -1 with --task", lambda: cli(*TASK, "--seeds", "-1")),
    ("evoneuro compare", "--target nope on iris", lambda: cli(*STUDY, "--target", "nope")),
    ("evoneuro compare", "--activation nope", lambda: cli(*STUDY, "--activation", "nope")),
    ("evoneuro compare", "--init nope", lambda: cli(*STUDY, "--init", "nope")),
    ("evoneuro compare", "--budget-evals inf", lambda: cli(*STUDY, "--budget-evals", "inf")),
    ("evoneuro compare", "--optimizers adam:learning_rate=-1", lambda: cli(*STUDY, "--optimizers",
                                                                           "adam:learning_rate=-1")),
    ("evoneuro diagnose", "--steps 5 without --cell", lambda: cli("diagnose", "--steps", "5")),
    ("tasks.latch", "n_train=-1", lambda: tiny_latch(n_train=-1)),
    ("tasks.latch", "n_train=0", lambda: tiny_latch(n_train=0)),
    ("tasks.latch", "n_train=2.5", lambda: tiny_latch(n_train=2.5)),
    ("tasks.latch", "noise=nan", lambda: tiny_latch(noise=np.nan)),
    ("tasks.adding", "threshold=-1", lambda: __import__("evoneuro.tasks").tasks.adding(T=20, n_train=4, n_test=4,
                                                                                        threshold=-1)),
    ("tasks.temporal_order", "tolerance=-0.3", lambda: __import__("evoneuro.tasks").tasks.temporal_order(
        n_train=2, n_test=2, tolerance=-0.3)),
    ("tasks.adding", "T=20.5", lambda: __import__("evoneuro.tasks").tasks.adding(T=20.5, n_train=4, n_test=4)),
    ("tasks.guess", "task='x'", lambda: __import__("evoneuro.tasks").tasks.guess("x")),
    ("tasks.guess", "batch=-1", lambda: __import__("evoneuro.tasks").tasks.guess(tiny_latch(), batch=-1)),
    ("minimize", "vectorized fitness returns [None] * P",
     lambda: minimize(lambda T: [None] * len(T), vectorized=True)),
    ("pretrain", "tied='yes'", lambda: en.pretrain(NET, np.abs(X) / 4, tied="yes", max_steps=1)),
    ("NetworkFitness", "maximize='yes'", lambda: en.NetworkFitness(NET, lambda network: 0.0, maximize="yes")),
    ("FitnessProblem", "maximize='yes'", lambda: en.FitnessProblem(sphere, 2, maximize="yes")),
    ("FitnessProblem", "on_error='ignore'", lambda: en.FitnessProblem(sphere, 2, on_error="ignore")),
    ("minimize", "FitnessProblem(on_error='worst'), fitness raises",
     lambda: en.minimize(en.FitnessProblem(raising, 3, on_error="worst"), np.ones(3), "es", max_steps=2,
                         random_state=0)),
    ("RNN", "self_connections='no'", lambda: en.RNN(1, (2,), 2, self_connections="no")),
    ("EvoRNNClassifier.fit", "X 1-D", lambda: rnn_fit(np.zeros(12))),
    ("EvoRNNClassifier.fit", "X=None", lambda: rnn_fit(None)),
    ("EvoRNNClassifier.fit", "X of strings", lambda: rnn_fit(np.full((12, 4), "a"))),
    ("EvoRNNClassifier.fit", "X complex", lambda: rnn_fit(np.zeros((12, 4)) + 1j)),
    ("EvoRNNClassifier.fit", "X a ragged object array",
     lambda: rnn_fit(np.array([np.zeros(3), np.zeros(2)] * 6, dtype=object))),
    ("EvoRNNClassifier.fit", "init='pretrain'", lambda: rnn_fit(np.zeros((12, 4)), init="pretrain")),
    ("Checkpoint", "path=123", lambda: en.Checkpoint(123)),
    ("Checkpoint", "path in a missing folder", lambda: en.Checkpoint("/no-such-folder/run.pkl")),
]


def describe(value) -> str:
    if isinstance(value, en.OptimizeResult):
        return f"runs: {value.n_steps} steps, stop_reason={value.stop_reason!r}"
    if isinstance(value, np.ndarray):
        return f"returns {np.array2string(value, precision=3, threshold=4)}"
    return f"returns {type(value).__name__}"


def kind(cls: type) -> str:
    """An exception's name, with the built-in types it also is (what ``except`` catches)."""
    if cls.__module__ == "builtins":
        return cls.__name__
    bases = [c.__name__ for c in cls.__mro__[1:] if c.__module__ == "builtins"
             and c not in (Exception, BaseException, object)]
    return f"{cls.__name__.lstrip('_')} ({', '.join(bases)})" if bases else cls.__name__


def run(case) -> tuple[str, str]:
    api, what, fn = case
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        try:
            value = fn()
        except Exception as err:  # the behaviour being tabulated
            return kind(type(err)), str(err)
    shown = sorted({f"{w.category.__name__}: {w.message}" for w in record})
    return "no error", describe(value) + ("; " + f"{len(record)} warning(s): " + " / ".join(shown) if shown else "")


def cell(text: str, limit: int = 220) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("|", "\\|")


def table() -> str:
    rows = ["| # | API | bad input | raises | message (or what happened) |", "|---|---|---|---|---|"]
    for k, case in enumerate(CASES, 1):
        kind, message = run(case)
        rows.append(f"| {k} | `{case[0]}` | {cell(case[1])} | {kind} | {cell(message)} |")
    return "\n".join(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="MARKDOWN", help=f"replace the table between {START} and {END}")
    args = parser.parse_args(argv)
    text = table()
    if args.write is None:
        print(text)
        return
    with open(args.write, encoding="utf-8") as f:
        page = f.read()
    if START not in page or END not in page:
        raise SystemExit(f"{args.write} has no {START} ... {END} block")
    head, rest = page.split(START, 1)
    page = head + START + "\n" + text + "\n" + END + rest.split(END, 1)[1]
    with open(args.write, "w", encoding="utf-8") as f:
        f.write(page)
    print(f"{len(CASES)} bad inputs tabulated in {args.write}")


if __name__ == "__main__":
    main()
