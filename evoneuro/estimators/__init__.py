"""scikit-learn estimators: :class:`EvoMLPClassifier` and :class:`EvoMLPRegressor`.

They follow scikit-learn's conventions (``__init__`` only stores its arguments, validation
in ``fit``, fitted attributes end in ``_``) and take every evoneuro optimizer by name.
"""

from evoneuro.estimators._mlp import EvoMLPClassifier, EvoMLPRegressor

__all__ = ["EvoMLPClassifier", "EvoMLPRegressor"]
