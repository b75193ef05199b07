"""EvoMLPClassifier as a scikit-learn model: a pipeline, and a grid search over optimizers.

Run: python examples/sklearn_pipeline.py [--quick]
"""

import argparse

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import evoneuro as en


def main(quick: bool = False) -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    steps = 20 if quick else 300
    pipe = make_pipeline(StandardScaler(), en.EvoMLPClassifier(hidden_layer_sizes=(16, 16), activation="tanh",
                                                               max_iter=steps, random_state=0))
    grid = GridSearchCV(pipe, {"evomlpclassifier__optimizer": ["irprop+", "adam", "snes"]}, cv=3)
    grid.fit(X_tr, y_tr)
    for params, score in zip(grid.cv_results_["params"], grid.cv_results_["mean_test_score"]):
        print(f"{params['evomlpclassifier__optimizer']:>8}: cross-validated accuracy {100 * score:.1f} %")
    print(f"best: {grid.best_params_['evomlpclassifier__optimizer']}, "
          f"test accuracy {100 * grid.score(X_te, y_te):.1f} %")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few steps (smoke test)")
    main(ap.parse_args().quick)
