"""Answerability: a calibrated probability that a hit answers, and the threshold (index/ranking/confidence.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from index.ranking import trained
from index.ranking.confidence import (
    ANSWERABILITY_FEATURES,
    SEMANTIC_ANSWERABILITY_FEATURES,
    answerability,
    answerability_features,
)
from index.ranking.features import FEATURES, SEMANTIC_FEATURES
from index.ranking.weights import SEMANTIC_WEIGHTS, TUNED_SEMANTIC_WEIGHTS, TUNED_WEIGHTS, WEIGHTS


def test_the_inputs_are_a_hit_s_features_its_score_and_its_lead_over_the_next() -> None:
    names = SEMANTIC_FEATURES
    rows = np.zeros((3, len(names)))
    rows[:, names.index("around")] = [0.9, 0.5, 0.2]
    rows[:, names.index("cosine_raw")] = [0.4, 0.7, 0.1]
    scores = np.array([2.0, 3.5, 1.0])
    found = answerability_features(names, rows, scores, np.array([1, 0, 2]))
    column = {name: n for n, name in enumerate(SEMANTIC_ANSWERABILITY_FEATURES)}
    assert found[:, column["score"]].tolist() == [3.5, 2.0, 1.0]
    assert found[:, column["margin"]].tolist() == [1.5, 1.0, 0.0]  # the last leads nothing
    assert found[:, column["around"]].tolist() == [0.5, 0.9, 0.2]
    assert found[:, column["cosine_best"]].tolist() == [0.7, 0.7, 0.7]


def test_the_probability_is_logistic_in_the_weighted_inputs() -> None:
    names = ("around", "margin")
    inputs = np.array([[1.0, 2.0], [0.0, 0.0]])
    probability = answerability(inputs, {"around": 2.0, "margin": 0.5}, -1.0, names)
    assert probability.tolist() == pytest.approx([1 / (1 + math.exp(-2.0)), 1 / (1 + math.exp(1.0))])


def test_the_fitted_models_read_only_what_the_code_makes() -> None:
    assert set(SEMANTIC_WEIGHTS) == set(SEMANTIC_FEATURES) and set(WEIGHTS) == set(FEATURES)
    assert set(trained.RANKER) == set(SEMANTIC_FEATURES) - set(TUNED_SEMANTIC_WEIGHTS)
    assert set(trained.LEXICAL_RANKER) == set(FEATURES) - set(TUNED_WEIGHTS)
    assert set(trained.ANSWERABILITY) == set(SEMANTIC_ANSWERABILITY_FEATURES)
    assert set(trained.LEXICAL_ANSWERABILITY) == set(ANSWERABILITY_FEATURES)
    assert 0.0 < trained.CONFIDENT_AT < 1.0
