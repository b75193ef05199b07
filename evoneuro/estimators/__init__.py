"""scikit-learn estimators: :class:`EvoMLPClassifier`, :class:`EvoMLPRegressor` and the sequence
estimators :class:`EvoRNNClassifier`, :class:`EvoRNNRegressor`.

They follow scikit-learn's conventions (``__init__`` only stores its arguments, validation
in ``fit``, fitted attributes end in ``_``) and take every evoneuro optimizer by name.
"""

from evoneuro.estimators._mlp import EvoMLPClassifier, EvoMLPRegressor
from evoneuro.estimators._rnn import EvoRNNClassifier, EvoRNNRegressor, pad_sequences
from evoneuro.estimators._pyramid import EvoPyramidRegressor, pyramid_data_init
from evoneuro.estimators._compressor import HistoryCompressor

__all__ = ["EvoMLPClassifier", "EvoMLPRegressor", "EvoPyramidRegressor", "EvoRNNClassifier", "EvoRNNRegressor",
           "HistoryCompressor", "pad_sequences", "pyramid_data_init"]
