"""The question as the ranking reads it: its search terms, their weights here, the answer type it asks for."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TypeAlias

from index.articles.stopwords import QUESTION_WORDS, STOP_WORDS
from index.articles.text import tokenize_question, words
from index.ranking.answer_types import AnswerType, expected_type
from index.storage.reader import StoredIndex

# A search term: its stem, or its term id in an index (the index keeps each sentence's term ids,
# so the features are computed without tokenizing a stored sentence again).
Term: TypeAlias = str | int

# Hostile questions stay cheap: a pasted article is read up to MAX_QUESTION_CHARS and
# searched with its first MAX_QUESTION_TOKENS tokens.
MAX_QUESTION_CHARS = 8_000
MAX_QUESTION_TOKENS = 64
# A follow-up question is searched with the previous question's words added at this share of
# their weight: its own words decide, the earlier topic breaks ties toward itself. Set before the
# dialogues of tests/data/dialogues.json were written; on them (second-turn R@1, context always
# used) 0.4 and 0.5 give 45/51, 0.2 and 0.3 give 44, 0.7 gives 40 and 1.0 gives 33.
CONTEXT_WEIGHT = 0.5


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


def question_terms(question: str) -> list[str]:
    return tokenize_question(question[:MAX_QUESTION_CHARS])[:MAX_QUESTION_TOKENS]


def weighted_terms(question: str, context: str | None, weight: float = CONTEXT_WEIGHT) -> dict[str, float]:
    """The question's search terms (weight 1), then the context's terms it lacks (at `weight`), in order."""
    terms = dict.fromkeys(question_terms(question), 1.0)
    for term in question_terms(context or ""):
        terms.setdefault(term, weight)
    return terms


def _unknown_idf(index: StoredIndex) -> float:
    # A word found nowhere weighs as much as the rarest possible word.
    return math.log((index.bm25.doc_count + 0.5) / 0.5)


def _idf(index: StoredIndex, term: str) -> float:
    row = index.bm25.vocabulary.get(term)
    return float(index.bm25.idf[row]) if row is not None else _unknown_idf(index)


def query(
    index: StoredIndex, question: str, context: str | None = None, context_weight: float = CONTEXT_WEIGHT
) -> Query:
    """The question as the re-ranker reads it, with every term's IDF in `index`.

    With a `context` (the previous question of a follow-up), its terms join at `context_weight`
    times their IDF, and its words count as named by the question (an answer does not repeat them).
    """
    question = question[:MAX_QUESTION_CHARS]
    if context is None:
        idf: dict[Term, float] = {t: _idf(index, t) for t in question_terms(question)}
        return Query.of(question, idf)
    weights = weighted_terms(question, context, context_weight)
    weighted: dict[Term, float] = {t: w * _idf(index, t) for t, w in weights.items()}
    found = Query.of(question, weighted)
    return replace(found, asked_words=found.asked_words | frozenset(words(context[:MAX_QUESTION_CHARS])))


def by_id(index: StoredIndex, query: Query) -> Query:
    """The same query over term ids, as the forward index stores sentences; a term found nowhere
    gets a negative stand-in that no sentence holds (it still counts in the IDF mass)."""
    ids: list[Term] = []
    for n, term in enumerate(query.terms):
        found = index.term_id(term) if isinstance(term, str) else None
        ids.append(found if found is not None else -1 - n)
    idf = {new: query.idf[old] for new, old in zip(ids, query.terms, strict=True)}
    return replace(query, terms=tuple(ids), idf=idf)
