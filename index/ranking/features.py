"""A second pass over BM25's best candidates, with evidence BM25 cannot see.

BM25 scores each sentence as a bag of words on its own. Re-reading the few best
candidates at query time (their term ids, kept in the index file, and their text) adds:
how much of the question's IDF mass the sentence covers, what its neighbours cover that
it does not (questions often name the paragraph's subject, which the answer sentence calls
"it"), whether question words stand together in it, and whether it holds
an answer of the asked type (a number for "how many", a date for "when", a name for "who").
The final score is a weighted sum (index/ranking/weights.py), tuned on SQuAD (docs/quality.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet

import numpy as np
import numpy.typing as npt

from index.articles.text import normalise, words
from index.ranking.answer_types import candidates
from index.ranking.question import Query, Term, by_id
from index.storage.reader import StoredIndex

FloatArray = npt.NDArray[np.float64]

FEATURES = ("bm25", "coverage", "previous", "near", "context", "lead", "proximity", "answer_type", "answer_near")
# Neighbouring sentences, on each side, that count as the candidate's context.
CONTEXT_SENTENCES = 4
# A candidate answer this close (in characters) to a question word counts as near it.
ANSWER_NEAR_CHARS = 40
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# Two question words this close (in content words) in a sentence count as a phrase.
PROXIMITY_WINDOW = 2


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


# Neighbour offsets, nearest first, before and after alternating (CONTEXT_SENTENCES on each side).
_AROUND = np.array([sign * step for step in range(1, CONTEXT_SENTENCES + 1) for sign in (-1, 1)], dtype=np.int64)
COVERAGE, NEAR = FEATURES.index("coverage"), FEATURES.index("near")


def _coverage(present: npt.NDArray[np.bool_], weights: FloatArray, mass: float) -> FloatArray:
    """`coverage` for every row: the IDF of the present terms summed in question order, over the mass.

    A running sum adds in order, as Python's sum() does (adding 0.0 for an absent term changes nothing),
    so the figures are the same to the last bit.
    """
    if not mass or not present.shape[1]:
        return np.zeros(len(present), dtype=np.float64)
    summed: FloatArray = np.cumsum(present * weights, axis=1)[:, -1] / mass
    return summed


def features(
    index: StoredIndex, query: Query, docs: npt.NDArray[np.int64], bm25: npt.NDArray[np.float64]
) -> FloatArray:
    """Each candidate's re-ranking features (rows in `docs` order, columns in FEATURES order).

    The same features as `feature_row`, computed from the stored term ids for all candidates
    at once: which question terms each candidate, its neighbours and its article's lead hold.
    """
    n = len(docs)
    rows = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if not n:
        return rows
    ids = by_id(index, query)
    terms = np.array(ids.terms, dtype=np.int64)  # term ids; a term found nowhere has a negative stand-in
    weights = np.array([ids.idf[t] for t in ids.terms], dtype=np.float64)
    starts = index.starts
    firsts = starts[index.article_of(docs)]
    ends = starts[index.article_of(docs) + 1]
    at = docs - firsts
    # Neighbours nearest first, before and after alternating; "near" is the first two that exist.
    around = at[:, None] + _AROUND[None, :]
    exists = (around >= 0) & (around < (ends - firsts)[:, None])
    near = exists & (np.cumsum(exists, axis=1) <= 2)
    neighbours = np.where(exists, firsts[:, None] + around, docs[:, None])
    previous = np.where(at > 0, docs - 1, docs)
    holds, row_of = index.terms_held(np.concatenate((docs, previous, firsts, neighbours.reshape(-1))), terms)
    own = holds[row_of[:n]]
    absent = ~own
    before = holds[row_of[n : 2 * n]] & (at > 0)[:, None] & absent
    lead = holds[row_of[2 * n : 3 * n]] & absent
    context = holds[row_of[3 * n :]].reshape(n, len(_AROUND), -1)
    near_terms = (context & near[:, :, None]).any(axis=1) & absent
    around_terms = (context & exists[:, :, None]).any(axis=1) & absent
    best = float(bm25.max())
    rows[:, 0] = bm25 / best if best > 0 else 0.0
    for column, present in ((1, own), (2, before), (3, near_terms), (4, around_terms), (5, lead)):
        rows[:, column] = _coverage(present, weights, ids.mass)
    # Proximity needs positions: read only for candidates holding both words of a neighbouring pair.
    if len(ids.terms) > 1:
        pairs = (own[:, :-1] & own[:, 1:]).any(axis=1)
        for row in np.flatnonzero(pairs).tolist():
            rows[row, 6] = proximity(ids, index.term_ids(int(docs[row])))
    if query.kind is not None:  # the text is read only when an answer type is sought in it
        for row, doc in enumerate(docs.tolist()):
            rows[row, 7:9] = answer_type_evidence(ids, index.sentence(doc), ())
    return rows


def semantic_features(
    index: StoredIndex,
    cosines_of: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float32]],
    docs: npt.NDArray[np.int64],
    own: npt.NDArray[np.float32],
    coverage: FloatArray,
) -> FloatArray:
    """The columns of SEMANTIC_FEATURES after FEATURES, relative to the best candidate's (`own`: each
    candidate's cosine to the question; `cosines_of`: any sentences' cosines to it; `coverage`: each
    candidate's share of the question's IDF mass)."""
    articles = index.article_of(docs)
    first_of, last_of = index.starts[articles], index.starts[articles + 1] - 1
    before, after = np.maximum(docs - 1, first_of), np.minimum(docs + 1, last_of)
    around = cosines_of(np.concatenate([before, after])).reshape(2, len(docs))
    fallback = float(np.nanmin(own)) if np.isfinite(own).any() else 0.0
    own = np.where(np.isfinite(own), own, fallback)  # no vector yet: ranked as the weakest candidate
    # An article's first (or last) sentence has no neighbour before (after): it stands in for it.
    around = np.where(np.isfinite(around), around, own)
    near = np.maximum(around[0], around[1])
    context = (around[0] + own + around[1]) / 3
    unmatched = 1.0 - float(coverage.max()) if len(coverage) else 1.0
    columns = [own - own.max(), near - near.max(), context - context.max(), (own - own.max()) * unmatched]
    return np.column_stack(columns).astype(np.float64)
