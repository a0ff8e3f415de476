"""Re-ranking features, on hand-made sentences with hand-set IDFs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import index.ranking.features as rerank
import tests.hypothesis_profile  # noqa: F401  (loads the suite's hypothesis settings)
from index.articles.text import tokenize
from index.ranking.answer_types import AnswerType
from index.ranking.features import (
    FEATURES,
    PROXIMITY_WINDOW,
    answer_type_evidence,
    closest_gap,
    coverage,
    feature_row,
    proximity,
)
from index.ranking.question import Query
from index.ranking.weights import rerank_scores

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


def proximity_by_every_pair(query: Query, sentence_tokens: list[str]) -> float:
    """The feature's first definition: the smallest gap over every pair of positions."""
    positions: dict[str, list[int]] = {}
    for n, token in enumerate(sentence_tokens):
        positions.setdefault(token, []).append(n)
    total = found = 0.0
    for first, second in zip(query.terms, query.terms[1:], strict=False):
        weight = min(query.idf[first], query.idf[second])
        total += weight
        if first in positions and second in positions:
            gap = min(abs(a - b) for a in positions[first] for b in positions[second])
            if gap <= PROXIMITY_WINDOW:
                found += weight
    return found / total if total else 0.0


def lines_run_in_rerank(work: Callable[[], object]) -> int:
    """How many lines of index/ranking/features.py run during `work()`: the work done, whatever the machine's speed."""
    count = 0

    def tracer(frame: FrameType, event: str, arg: object) -> object:
        nonlocal count
        if frame.f_code.co_filename != rerank.__file__:
            return None
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        work()
    finally:
        sys.settrace(None)
    return count


def test_proximity_does_linear_work_on_a_sentence_that_repeats_the_question() -> None:
    query = Query.of("q z", {"q": 1.0, "z": 1.0})
    for repeats in (100, 400):
        tokens = ["q", "z"] * repeats
        assert proximity(query, tokens) == 1.0
        # Every pair of positions would be 40,000 and 640,000 steps; a merge of the two lists is about 2 per token.
        assert lines_run_in_rerank(lambda tokens=tokens: proximity(query, tokens)) <= 10 * len(tokens)


VOCABULARY = ["a", "b", "c", "d"]


@given(
    terms=st.lists(st.sampled_from(VOCABULARY), min_size=0, max_size=4, unique=True),
    tokens=st.lists(st.sampled_from([*VOCABULARY, "x", "y"]), max_size=60),
    idf=st.lists(st.floats(0.1, 5.0), min_size=4, max_size=4),
)
def test_proximity_equals_its_every_pair_definition(terms: list[str], tokens: list[str], idf: list[float]) -> None:
    query = Query.of(" ".join(terms), dict(zip(terms, idf, strict=False)))
    assert proximity(query, tokens) == proximity_by_every_pair(query, tokens)


@given(
    first=st.lists(st.integers(0, 10_000), min_size=1, unique=True).map(sorted),
    second=st.lists(st.integers(0, 10_000), min_size=1, unique=True).map(sorted),
)
def test_closest_gap_is_the_smallest_gap_of_any_pair(first: list[int], second: list[int]) -> None:
    assert closest_gap(first, second) == min(abs(a - b) for a in first for b in second)
