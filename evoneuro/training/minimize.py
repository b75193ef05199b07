"""``minimize``: any fitness function, or any problem, through one call of the training loop."""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from evoneuro._validation import check_positive_int
from evoneuro.training.callbacks import Callback
from evoneuro.optimizers.base import Optimizer
from evoneuro.optimizers.registry import get_optimizer
from evoneuro.problems import FitnessProblem, Problem
from evoneuro.training.defaults import default_run_budget
from evoneuro.training.trainer import OptimizeResult, Trainer, TrainingError, _check_budget

def minimize(
    fitness: Callable | Problem,
    x0: ArrayLike | int | None = None,
    optimizer: Optimizer | str = "cmaes",
    optimizer_params: dict | None = None,
    *,
    max_evals: int | None = None,
    max_time: float | None = None,
    max_steps: int | None = None,
    target: float | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
    vectorized: bool = False,
    args: tuple = (),
    kwargs: dict | None = None,
    maximize: bool = False,
    grad: Callable | None = None,
    random_state: int | np.random.Generator | None = None,
    popsize: int | None = None,
    executor=None,
    retries: int = 2,
    n_jobs: int | None = None,
) -> OptimizeResult:
    """Minimise (or maximise) a fitness function or a :class:`Problem`.

    Parameters
    ----------
    fitness : callable or Problem
        ``f(x, *args, **kwargs) -> float`` for one vector, or with ``vectorized=True``
        ``f(Theta, *args, **kwargs) -> (P,)`` for the whole population; or a problem
        (e.g. a :class:`evoneuro.SupervisedProblem`). A NaN/inf value counts as the
        worst and warns once.
    x0 : array-like, int or None
        Start vector; an int ``n`` draws it from ``N(0, 0.1^2)`` (seeded by
        ``random_state``); None only for a network problem (Glorot init).
    optimizer : str or Optimizer, default="cmaes"
        A name from :func:`evoneuro.optimizers.available` or an instance.
    optimizer_params : dict or None
        Hyperparameters for a named optimizer.
    max_evals, max_time, max_steps, target
        Budgets, as for :class:`Trainer` (evaluations of ``f`` for a callable; a
        ``target`` in ``f``'s own sign). With none of ``max_evals``, ``max_time`` and
        ``max_steps``, the default budget
        (:func:`~evoneuro.training.defaults.default_run_budget`) applies: 1,000
        calls of ``f`` per parameter, or for a network problem the estimators' cap; a
        ``UserWarning`` says when it ended a run whose best loss was still falling (in
        its last tenth of steps).
    callbacks, progress, random_state
        As for :class:`Trainer`.
    vectorized, args, kwargs, maximize, grad
        For a callable fitness only; see :class:`evoneuro.FitnessProblem`.
        With ``maximize=True``, ``fun`` and the history's ``loss``/``best_loss`` are
        reported in ``f``'s own sign (larger is better).
    popsize : int or None
        Shortcut for ``optimizer_params["popsize"]``.
    executor, retries
        Evaluate the members in parallel on a ``concurrent.futures`` executor or a
        ``dask.distributed.Client``, retrying members whose worker was lost; see
        :class:`evoneuro.FitnessProblem`. For a callable fitness, or attached to a given
        :class:`evoneuro.FitnessProblem` (such as :class:`evoneuro.NetworkFitness`).
    n_jobs : int or None
        Threads for the BLAS/OpenMP pools during the run; see :class:`Trainer`.

    Returns
    -------
    OptimizeResult

    Raises
    ------
    TrainingError
        When a step after the first raises; ``.result`` holds the best so far.

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> res = en.minimize(lambda x, c: float(np.sum((x - c) ** 2)), np.zeros(3), "irprop-",
    ...                   {"initial_step": 0.1}, max_steps=100, args=(np.arange(3.0),),
    ...                   grad=lambda x, c: 2 * (x - c))
    >>> res.x.round(3), res.stop_reason
    (array([0., 1., 2.]), 'max_steps')
    """
    if isinstance(fitness, Problem):
        given = {"vectorized": vectorized, "args": args, "kwargs": kwargs, "grad": grad}
        wrong = [k for k, v in given.items() if v not in (False, (), None)]
        if wrong:
            raise ValueError(f"{wrong} apply to a callable fitness only, not to a Problem")
        # a problem carries its own sign: maximize=True only confirms a maximising one
        if maximize and not getattr(fitness, "maximize", False):
            raise ValueError(f"maximize=True applies to a callable fitness only, or confirms a FitnessProblem "
                             f"made with maximize=True (a problem carries its own sign); this "
                             f"{type(fitness).__name__} minimises")
        problem = fitness
        if executor is not None:
            if not isinstance(problem, FitnessProblem):
                raise ValueError("executor applies to a fitness function or a FitnessProblem, "
                                 f"not to a {type(problem).__name__}")
            problem.executor, problem.retries = executor, check_positive_int(retries, "retries", minimum=0)
    elif callable(fitness):
        if x0 is None:
            raise ValueError("x0 is required for a callable fitness: a start vector or the number of parameters")
        if isinstance(x0, (int, np.integer)) and not isinstance(x0, bool):
            n = check_positive_int(x0, "x0")
        else:
            n = np.asarray(x0).size
        problem = FitnessProblem(fitness, n, vectorized=vectorized, args=args, kwargs=kwargs,
                                 maximize=maximize, grad=grad, executor=executor, retries=retries)
    else:
        raise TypeError(f"fitness must be a callable or an evoneuro Problem, got {type(fitness).__name__}")
    params = dict(optimizer_params or {})
    if popsize is not None:
        params["popsize"] = popsize
    opt = get_optimizer(optimizer, **params)
    if opt.needs_grad and isinstance(problem, FitnessProblem) and problem.grad is None:
        raise ValueError(f"optimizer {opt.name!r} needs gradients: pass grad= (the gradient of the "
                         "fitness) or choose a gradient-free optimizer")
    sign = -1.0 if getattr(problem, "maximize", False) else 1.0
    default = None
    if max_evals is None and max_time is None and max_steps is None:
        default = default_run_budget(problem)
        max_evals, max_steps = default.get("max_evals"), default.get("max_steps")
    trainer = Trainer(problem, opt, x0=x0, max_evals=max_evals, max_time=max_time, max_steps=max_steps,
                      target=None if target is None else sign * _check_budget("target", target),
                      callbacks=callbacks,
                      progress=progress, random_state=random_state, n_jobs=n_jobs)
    try:
        result = trainer.run()
    except TrainingError as err:
        if sign < 0:
            _to_user_sign(err.result)
        raise
    if sign < 0:
        _to_user_sign(result)
    if default is not None and result.stop_reason in ("max_evals", "max_steps") and _still_improving(result):
        spent = ", ".join(f"{k}={v:,}" for k, v in default.items())
        warnings.warn(f"minimize: the default budget ({spent}) ended the run; give max_evals, max_time or "
                      "max_steps to go further", UserWarning, stacklevel=2)
    return result


def _still_improving(result: OptimizeResult, tail: float = 0.1, rtol: float = 1e-8) -> bool:
    """Whether the best loss fell in the last ``tail`` of the steps by more than ``rtol``
    (relative, and absolute below 1): a run that had converged ends without a warning."""
    best = [r["best_loss"] for r in result.history.records if "best_loss" in r]
    if len(best) < 2:
        return True
    before = best[max(0, int(len(best) * (1 - tail)) - 1)]
    change = abs(before - best[-1])  # in the user's sign when maximising; either way a change
    return bool(np.isfinite(change) and change > rtol * max(1.0, abs(best[-1])))


def _to_user_sign(result: OptimizeResult) -> None:
    result.fun = -result.fun
    for r in result.history.records:
        for k in ("loss", "best_loss"):
            if k in r:
                r[k] = -r[k]


__all__ = ["minimize"]
