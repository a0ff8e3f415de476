"""The ranker: a candidate's score is its features (index/ranking/features.py) weighted.

The weights are a listwise logistic model's, fitted on SQuAD's tune questions by bench/tune_trust.py
(index/ranking/trained.py): one set for words and meaning, one for words alone (`--lexical`, SEMANTIC=off,
or before the sentence vectors are filled in).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from index.ranking import trained
from index.ranking.features import FEATURES, SEMANTIC_FEATURES, FloatArray

WEIGHTS: Mapping[str, float] = trained.LEXICAL_RANKER
SEMANTIC_WEIGHTS: Mapping[str, float] = trained.RANKER


def weight_vector(weights: Mapping[str, float] | None = None, width: int = len(FEATURES)) -> FloatArray:
    """The weights for feature rows of `width` columns (lexical, or with the semantic features)."""
    names = FEATURES if width == len(FEATURES) else SEMANTIC_FEATURES
    chosen = weights or (WEIGHTS if width == len(FEATURES) else SEMANTIC_WEIGHTS)
    return np.array([chosen.get(name, 0.0) for name in names], dtype=np.float64)


def rerank_scores(rows: FloatArray, weights: Mapping[str, float] | None = None) -> FloatArray:
    """Each candidate's final score: its features weighted."""
    if not len(rows):
        return np.empty(0, dtype=np.float64)
    scores: FloatArray = rows @ weight_vector(weights, rows.shape[1])
    return scores
