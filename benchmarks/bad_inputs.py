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
    ("EvoMLPClassifier.fit", "early_stopping on 6 samples",
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
