"""evoneuro: gradient-free and hybrid training of neural networks on one shared evaluator.

A network is a flat weight vector, a population is a matrix, and one
:class:`Evaluator` call evaluates the whole population; backprop, Rprop, random search,
GA, CMA-ES, ES and PSO all drive it, so comparisons are fair.
"""

from evoneuro import _moved
from evoneuro._version import __version__
from evoneuro.training.callbacks import Callback, Checkpoint, EarlyStopping, History, ProgressBar
from evoneuro.evaluator import Evaluator, warmup
from evoneuro.fitness import NetworkFitness
from evoneuro.network import ACTIVATIONS, INITS, MLP, RNN, Activation
from evoneuro.network.pyramid import Pyramid
from evoneuro.network.critical import critical_init, critical_variance
from evoneuro.training.lsuv import lsuv_init
from evoneuro.optimizers import Optimizer, get_optimizer
from evoneuro.training.pretraining import pretrain
from evoneuro.problems import FitnessProblem, Problem, SupervisedProblem
from evoneuro.control import ControlProblem, load_policy, replay, save_policy
from evoneuro.training.minimize import minimize
from evoneuro.training.trainer import OptimizeResult, Trainer, TrainingError


_moved.install()  # the public modules' old paths (evoneuro.trainer, evoneuro.compare, ...)


def __getattr__(name: str):
    # The estimators import scikit-learn (seconds); load them on first use only.
    if name in ("EvoMLPClassifier", "EvoMLPRegressor", "EvoRNNClassifier", "EvoRNNRegressor", "pad_sequences",
                "EvoPyramidRegressor", "HistoryCompressor"):
        from evoneuro import estimators

        return getattr(estimators, name)
    if name == "load_dataset":  # the data sets of evoneuro compare (scikit-learn's, or a CSV file)
        from evoneuro.bench.datasets import load_dataset

        return load_dataset
    if name == "tasks":  # the long-time-lag tasks: en.tasks.adding(...), as evoneuro.tasks
        import importlib

        return importlib.import_module("evoneuro.tasks")
    if name == "diagnose":  # its reference code for every network kind is not needed at import
        from evoneuro.diagnostics import diagnose

        return diagnose
    raise AttributeError(f"module 'evoneuro' has no attribute {name!r}")


__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Callback",
    "Checkpoint",
    "ControlProblem",
    "EarlyStopping",
    "Evaluator",
    "EvoMLPClassifier",
    "EvoMLPRegressor",
    "EvoPyramidRegressor",
    "EvoRNNClassifier",
    "EvoRNNRegressor",
    "FitnessProblem",
    "History",
    "HistoryCompressor",
    "INITS",
    "MLP",
    "NetworkFitness",
    "OptimizeResult",
    "Optimizer",
    "Problem",
    "ProgressBar",
    "Pyramid",
    "RNN",
    "SupervisedProblem",
    "Trainer",
    "TrainingError",
    "critical_init",
    "critical_variance",
    "diagnose",
    "get_optimizer",
    "load_dataset",
    "load_policy",
    "lsuv_init",
    "minimize",
    "pad_sequences",
    "pretrain",
    "replay",
    "save_policy",
    "warmup",
    "__version__",
]
