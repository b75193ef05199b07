"""The training layer: the loop, its callbacks and budgets, the starts, and the one fit recipe.

- :mod:`.trainer` — :class:`Trainer`, the loop: one minibatch and one optimizer step at a
  time until a budget is spent; it runs from the start it is given.
- :mod:`.callbacks` — history, early stopping, checkpoints, the progress bar.
- :mod:`.minimize` — :func:`minimize` for any fitness function.
- :mod:`.lsuv`, :mod:`.starts`, :mod:`.pretraining` — where a network starts: the data start,
  LSUV, greedy layer-wise pretraining, and :func:`~.starts.resolve_init`, which picks one.
- :mod:`.defaults` — what an optimizer gets when the user sets nothing (read from the
  optimizer classes).
- :mod:`.recipe` — :func:`~.recipe.fit_network`, the one function that builds and runs a fit
  of a network on data; the estimators, ``evoneuro compare``, the task runner and
  pretraining all call it.
"""
