"""Re-ranking features, on hand-made sentences with hand-set IDFs."""

from __future__ import annotations

import numpy as np
import pytest

from index.answers import AnswerType
from index.rerank import (
    FEATURES,
    Query,
    answer_type_evidence,
    coverage,
    feature_row,
    proximity,
    rerank_scores,
)
from index.text import tokenize

IDF = {"coup": 2.0, "niger": 1.0, "sinc": 0.5, "independ": 2.5}
QUESTION = "How many coups has Niger had since independence?"
SENTENCE = "The country has had four coups since independence from France in 1960."


def test_query_keeps_search_terms_in_order_with_their_idf_mass() -> None:
    query = Query.of(QUESTION, IDF)
    assert query.terms == ("coup", "niger", "sinc", "independ")
    assert query.kind is AnswerType.NUMBER
    assert query.mass == 6.0


def test_coverage_is_the_share_of_idf_mass() -> None:
    query = Query.of(QUESTION, IDF)
    assert coverage(query, {"coup", "sinc", "independ", "franc"}) == pytest.approx(5 / 6)
    assert coverage(query, set()) == 0.0


def test_proximity_credits_question_neighbours_standing_together() -> None:
    query = Query.of(QUESTION, IDF)
    # Pairs: coup-niger (weight 1), niger-since (0.5), since-independence (0.5): only the last is here.
    assert proximity(query, tokenize(SENTENCE)) == pytest.approx(0.25)
    assert proximity(query, tokenize("Coups hit Niger.")) == pytest.approx(0.5)
    assert proximity(query, tokenize("Independence came late; coups came often in Niger.")) == 0.0


def test_answer_type_evidence() -> None:
    query = Query.of(QUESTION, IDF)
    assert answer_type_evidence(query, SENTENCE, []) == (1.0, 1.0)
    # "four" is far from every question word, and 1999 is a date, not a count.
    far = "Coups happen in Niger since independence, a French writer said in 1999 and four."
    assert answer_type_evidence(query, far, []) == (1.0, 0.0)
    assert answer_type_evidence(query, "Coups happen in Niger.", []) == (0.0, 0.0)


def test_feature_row_reads_the_sentence_and_its_neighbours() -> None:
    query = Query.of(QUESTION, IDF)
    previous = tokenize("Niger is a country.")
    after = tokenize("It is poor since independence.")
    lead = tokenize("Coups: a history of Niger.")
    row = feature_row(query, SENTENCE, tokenize(SENTENCE), previous, [previous, after], lead, 3.0, 4.0)
    expected = {
        "bm25": 0.75,
        "coverage": 5 / 6,
        "previous": 1 / 6,  # "niger", missing from the sentence itself
        "near": 1 / 6,
        "context": 1 / 6,
        "lead": 1 / 6,  # "coup" is in the sentence already: only "niger" counts
        "proximity": 0.25,
        "answer_type": 1.0,
        "answer_near": 1.0,
    }
    assert dict(zip(FEATURES, row, strict=True)) == pytest.approx(expected)


def test_rerank_scores_weigh_features() -> None:
    rows = np.zeros((2, len(FEATURES)))
    rows[:, :2] = [[1.0, 0.0], [0.5, 1.0]]
    weights = dict.fromkeys(FEATURES, 0.0) | {"bm25": 1.0, "coverage": 1.0}
    assert rerank_scores(rows, weights).tolist() == [1.0, 1.5]
    assert rerank_scores(np.empty((0, len(FEATURES)))).shape == (0,)
