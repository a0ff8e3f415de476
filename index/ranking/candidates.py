"""The sentences worth ranking for a question: BM25's best, and with vectors the question's nearest."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from index.meaning.stage import SemanticStage
from index.ranking.features import COVERAGE, NEAR, features, semantic_features
from index.ranking.question import CONTEXT_WEIGHT, MAX_QUESTION_CHARS, Query, query, question_terms, weighted_terms
from index.storage.reader import StoredIndex

# BM25 candidates looked at before the final ranking.
CANDIDATES = 50
# A sentence found by meaning alone joins the candidates only this near the question: below it, a
# question about nothing in the articles ("zebra xylophone") still finds nothing.
NEAREST_COSINE = 0.2


@dataclass(frozen=True)
class Candidates:
    """BM25's best sentences for a question (ranked by raw BM25), with their re-ranking features."""

    query: Query
    docs: npt.NDArray[np.int64]
    bm25: npt.NDArray[np.float64]
    features: npt.NDArray[np.float64]  # one row per candidate, columns in features.FEATURES order
    # With a context: each candidate's evidence for the question's own words alone (see `search`).
    own_evidence: npt.NDArray[np.float64] | None = None
    # With the semantic stage: each candidate's cosine to the question (NaN: no vector yet), else None.
    cosines: npt.NDArray[np.float32] | None = None


def candidates(
    index: StoredIndex,
    stage: SemanticStage | None,
    question: str,
    at_least: int = CANDIDATES,
    context: str | None = None,
    context_weight: float = CONTEXT_WEIGHT,
    within: tuple[int, int] | None = None,
) -> Candidates:
    """BM25's best CANDIDATES (or `at_least`) sentences for `question`, with their re-ranking features.

    A `context` adds the previous question's terms at `context_weight` (see `question.query`). With the
    semantic `stage` (None: words alone), the question's nearest sentences by vector join them, and each
    candidate gets the semantic features (features.SEMANTIC_FEATURES). `within` (first, end) keeps
    sentences first to end - 1 only (one article's): their postings and vector rows, scored as in the whole
    index, so scores and confidence mean the same for one article as for all.
    """
    asked = query(index, question, context, context_weight)
    wanted = max(at_least, CANDIDATES)
    if context is None:
        terms, weights = question_terms(question), None
    else:
        weighted = weighted_terms(question, context, context_weight)
        terms, weights = list(weighted), list(weighted.values())
    found = index.bm25.top(terms, wanted, weights, within)
    docs, scores = found.docs, found.scores
    view = stage.view if stage is not None else None
    vector = stage.encode(question[:MAX_QUESTION_CHARS]) if stage is not None and view and view.ready else None
    cosines = None
    if vector is not None and view is not None:
        nearest, near = view.nearest(vector, wanted, within)
        extra = nearest[~np.isin(nearest, docs) & (near >= NEAREST_COSINE)]
        if len(extra):  # found by meaning alone: their BM25 scores (often 0) still count
            docs = np.concatenate([docs, extra])
            scores = np.concatenate([scores, index.bm25.scores_of(terms, extra, weights)])
        cosines = view.cosines(vector, docs)
    rows = features(index, asked, docs, scores)
    if cosines is not None and vector is not None and view is not None and len(docs):
        semantic = semantic_features(index, lambda some: view.cosines(vector, some), docs, cosines, rows[:, COVERAGE])
        rows = np.hstack([rows, semantic])
    evidence = None
    if context is not None:  # the question's own words alone: how much of them each candidate holds
        alone = features(index, query(index, question), docs, scores)
        evidence = alone[:, COVERAGE] + alone[:, NEAR]
    return Candidates(asked, docs, scores, rows, evidence, cosines)
