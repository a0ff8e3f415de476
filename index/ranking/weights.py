"""The ranker's weights: a candidate's final score is its features (index/ranking/features.py) weighted."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from index.ranking.features import FEATURES, SEMANTIC_FEATURES, FloatArray

# Tuned by coordinate ascent on the first 24 SQuAD dev articles (bench/tune_rerank.py).
WEIGHTS: Mapping[str, float] = {
    "bm25": 1.0,  # BM25 as a share of the best candidate's
    "coverage": 2.2,
    "previous": 1.85,
    "near": 0.3,
    "context": 0.6,
    "lead": 0.1,
    "proximity": 0.35,
    "answer_type": 0.25,
    "answer_near": 0.2,
}

# With sentence vectors: tuned on SQuAD's tune split (bench/tune_semantic.py); see SEMANTIC_FEATURES.
SEMANTIC_WEIGHTS: Mapping[str, float] = {
    "bm25": 1.0,
    "coverage": 3.6,
    "previous": 2.2,
    "near": 0.4,
    "context": 0.6,
    "lead": 1.6,
    "proximity": 0.6,
    "answer_type": 0.6,
    "answer_near": 0.4,
    "cosine": 3.8,
    "cosine_near": 0.8,
    "cosine_context": 1.2,
    "cosine_unmatched": 4.8,
}


def weight_vector(weights: Mapping[str, float] | None = None, width: int = len(FEATURES)) -> FloatArray:
    """The weights for feature rows of `width` columns (lexical, or with the semantic features)."""
    names = FEATURES if width == len(FEATURES) else SEMANTIC_FEATURES
    chosen = weights or (WEIGHTS if width == len(FEATURES) else SEMANTIC_WEIGHTS)
    return np.array([chosen[name] for name in names], dtype=np.float64)


def rerank_scores(rows: FloatArray, weights: Mapping[str, float] | None = None) -> FloatArray:
    """Each candidate's final score: its features weighted."""
    if not len(rows):
        return np.empty(0, dtype=np.float64)
    scores: FloatArray = rows @ weight_vector(weights, rows.shape[1])
    return scores
