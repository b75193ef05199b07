"""The pole-balancing papers' success tests: 100,000 steps, and the 625-start generalisation test.

A run is scored as in Gruau, Whitley & Pyeatt (1996), Stanley & Miikkulainen (2002), Igel
(2003) and Gomez, Schmidhuber & Miikkulainen (2008): after each generation, the generation's
best network — if it balanced the poles for the whole fitness episode (1000 steps) — must
balance them for 100,000 steps from the start and, without velocities, for 1000 steps from at
least 200 of the 625 starts of :meth:`CartPole.generalization_starts`. The tests are not
counted as evaluations, as in the papers.
"""

from __future__ import annotations

import numpy as np

from evoneuro.control.envs import CartPole
from evoneuro.control.problem import ControlProblem

SUCCESS_STEPS = 100_000
GENERALIZATION_STEPS = 1000
GENERALIZATION_THRESHOLD = 200


def _check(problem) -> CartPole:
    if not isinstance(problem, ControlProblem) or not isinstance(problem.env, CartPole):
        raise TypeError("the pole tests need an evoneuro.ControlProblem on a built-in cart-pole")
    return problem.env


def balanced_steps(problem: ControlProblem, Theta, steps: int = SUCCESS_STEPS) -> np.ndarray:
    """Steps each policy of ``Theta`` ``(P, n)`` balances from the task's start, up to ``steps``."""
    env = _check(problem)
    Theta = np.atleast_2d(np.asarray(Theta, dtype=np.float64))
    starts = env.starts(np.zeros(1, dtype=np.int64))
    evals = problem.evals
    _, done = problem.rollout(Theta, None, max_steps=steps, states=np.repeat(starts, len(Theta), axis=0))
    problem.evals = evals
    return done[:, 0]


def generalization(problem: ControlProblem, x) -> int:
    """Of the 625 generalisation starts, how many the policy ``x`` balances for 1000 steps."""
    env = _check(problem)
    starts = env.generalization_starts(env.poles)
    x = np.asarray(x, dtype=np.float64).reshape(1, -1)
    _, done = problem.rollout(x, None, max_steps=GENERALIZATION_STEPS, states=starts)
    return int((done[0] >= GENERALIZATION_STEPS).sum())


def solves(problem: ControlProblem, x, success_steps: int = SUCCESS_STEPS) -> tuple[bool, int, int | None]:
    """Whether ``x`` solves the task by the papers' criteria: ``(solved, steps, generalisation)``.

    The generalisation count is None for a task with velocities (no such test there).

    Examples
    --------
    >>> import numpy as np
    >>> import evoneuro as en
    >>> from evoneuro.control.poles import solves
    >>> prob = en.ControlProblem("single-pole", en.MLP(4, (), 1, output="linear"), obs_norm=False)
    >>> solves(prob, np.zeros(prob.n_params), success_steps=1000)
    (False, 23, None)
    """
    env = _check(problem)
    gen = None
    if not env.velocities:
        gen = generalization(problem, x)
        if gen < GENERALIZATION_THRESHOLD:
            return False, 0, gen
    steps = int(balanced_steps(problem, x, success_steps)[0])
    return steps >= success_steps and (gen is None or gen >= GENERALIZATION_THRESHOLD), steps, gen
