"""A second pass over BM25's best candidates, with evidence BM25 cannot see.

BM25 scores each sentence as a bag of words on its own. Re-reading the few best
candidates at query time (their term ids, kept in the index file, and their text) adds:
how much of the question's IDF mass the sentence covers, what its neighbours cover that
it does not (questions often name the paragraph's subject, which the answer sentence calls
"it"), whether question words stand together in it, and whether it holds
an answer of the asked type (a number for "how many", a date for "when", a name for "who").
The final score is a weighted sum; the weights were tuned on SQuAD (docs/quality.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from index.articles.stopwords import QUESTION_WORDS, STOP_WORDS
from index.articles.text import normalise, words
from index.ranking.answer_types import AnswerType, candidates, expected_type

FloatArray = npt.NDArray[np.float64]
# A search term: its stem, or its term id in an index (the index keeps each sentence's term ids,
# so the features below are computed without tokenizing a stored sentence again).
Term: TypeAlias = str | int

FEATURES = ("bm25", "coverage", "previous", "near", "context", "lead", "proximity", "answer_type", "answer_near")
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
# Neighbouring sentences, on each side, that count as the candidate's context.
CONTEXT_SENTENCES = 4
# A candidate answer this close (in characters) to a question word counts as near it.
ANSWER_NEAR_CHARS = 40
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# Two question words this close (in content words) in a sentence count as a phrase.
PROXIMITY_WINDOW = 2


@dataclass(frozen=True)
class Query:
    """A question as the re-ranker sees it."""

    terms: tuple[Term, ...]  # search stems (or their term ids) in question order, each once
    idf: Mapping[Term, float]
    kind: AnswerType | None
    asked_words: frozenset[str]  # normalised words of the question
    mass: float  # the IDF of all its terms

    @property
    def content_words(self) -> frozenset[str]:
        return self.asked_words - STOP_WORDS - QUESTION_WORDS

    @classmethod
    def of(cls, question: str, idf: Mapping[Term, float]) -> Query:
        """`idf` maps the question's search terms, in question order, to their IDF."""
        terms = tuple(idf)
        mass = sum(idf[t] for t in terms)
        return cls(terms, idf, expected_type(question), frozenset(words(question)), mass)


def coverage(query: Query, present: AbstractSet[Term]) -> float:
    """Share of the question's IDF mass among `present` stems."""
    mass = query.mass
    return sum(query.idf[t] for t in query.terms if t in present) / mass if mass else 0.0


def closest_gap(first: Sequence[int], second: Sequence[int]) -> int:
    """The smallest |a - b| over a in `first`, b in `second` (both sorted, not empty).

    A merge of the two lists: linear in their lengths, where trying every pair would let a sentence
    that repeats two question words ("q z q z …") cost quadratic time.
    """
    i = j = 0
    best = abs(first[0] - second[0])
    while i < len(first) and j < len(second):
        a, b = first[i], second[j]
        if a < b:
            best = min(best, b - a)
            i += 1
        else:
            best = min(best, a - b)
            j += 1
    return best


def proximity(query: Query, sentence_tokens: Sequence[Term]) -> float:
    """IDF-weighted share of the question's neighbouring word pairs that stand close in the sentence."""
    positions: dict[Term, list[int]] = {}
    for n, token in enumerate(sentence_tokens):
        positions.setdefault(token, []).append(n)
    total = found = 0.0
    for first, second in zip(query.terms, query.terms[1:], strict=False):
        weight = min(query.idf[first], query.idf[second])
        total += weight
        if first in positions and second in positions:
            gap = closest_gap(positions[first], positions[second])
            if gap <= PROXIMITY_WINDOW:
                found += weight
    return found / total if total else 0.0


def answer_type_evidence(query: Query, sentence: str, tokens: Sequence[Term]) -> tuple[float, float]:
    """(holds a candidate of the asked type the question does not name, one within a few words of a question word)."""
    if query.kind is None:
        return 0.0, 0.0
    found = [c for c in candidates(sentence, query.kind) if not set(words(c.text)) <= query.asked_words]
    if not found:
        return 0.0, 0.0
    spots = [m.start() for m in _WORD.finditer(sentence) if normalise(m.group()) in query.content_words]
    near = any(
        abs(s - c.start) <= ANSWER_NEAR_CHARS or abs(s - c.end) <= ANSWER_NEAR_CHARS for s in spots for c in found
    )
    return 1.0, float(near)


def feature_row(
    query: Query,
    sentence: str,
    tokens: Sequence[Term],
    previous: Sequence[Term],
    neighbours: Sequence[Sequence[Term]],
    lead: Sequence[Term],
    bm25: float,
    best_bm25: float,
) -> list[float]:
    """The features of one candidate, in FEATURES order.

    `previous` is the preceding sentence's tokens (empty for an article's first);
    `neighbours` are the token lists of the sentences around it, nearest first
    (before and after alternating), up to CONTEXT_SENTENCES on each side; `lead` is
    the article's first sentence, which often names what the article is about.
    """
    present = set(tokens)
    near = {t for n in neighbours[:2] for t in n} - present
    around = {t for n in neighbours for t in n} - present
    return [
        bm25 / best_bm25 if best_bm25 > 0 else 0.0,
        coverage(query, present),
        coverage(query, set(previous) - present),
        coverage(query, near),
        coverage(query, around),
        coverage(query, set(lead) - present),
        proximity(query, tokens),
        *answer_type_evidence(query, sentence, tokens),
    ]


# With sentence vectors (index/meaning/stage.py), four more features, each relative to the best candidate's
# (a question's cosines sit higher or lower as a whole; only the differences rank): the sentence's cosine
# to the question, the better of its two neighbours', that of the sentence with both neighbours (the
# mean of the three), and the sentence's cosine again, scaled by how little of the question's words the
# best-covered candidate holds: when a question is asked in words the articles do not use, its meaning
# has to decide. Weights tuned on SQuAD's tune split (bench/tune_semantic.py), where questions reuse the
# paragraph's words (the last one was first set by hand at 4: it cost 0.003 MRR@10 on SQuAD and put 6 of
# the 24 seed questions of tests/data/seed_paraphrases.json right first instead of 4; tuning kept it).
SEMANTIC_FEATURES = (*FEATURES, "cosine", "cosine_near", "cosine_context", "cosine_unmatched")
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
