"""Ranked candidates become hits: each sentence with its passage, its citation, and whether it is confident."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from index.answers.results import Hit
from index.ranking import trained
from index.ranking.answer_types import holds_answer_of
from index.ranking.asked import AnswerType
from index.ranking.candidates import Candidates
from index.ranking.confidence import (
    ANSWERABILITY_FEATURES,
    SEMANTIC_ANSWERABILITY_FEATURES,
    answerability,
    answerability_features,
    names_covered,
)
from index.ranking.features import FloatArray
from index.ranking.weights import rerank_scores
from index.storage.passages import passage_span
from index.storage.reader import Sentences, StoredIndex


def hits(
    index: StoredIndex,
    found: Candidates,
    scores: npt.NDArray[np.float64],
    order: npt.NDArray[np.int64],
    required: AnswerType | None,
) -> list[Hit]:
    """The candidates at positions `order` (best first) as hits, with their final `scores`. With `required`,
    a sentence that holds no answer of that type is not confident (see `SearchIndex.search`)."""
    confidence = _answerability(found, scores, order)
    docs = found.docs[order]
    articles = index.article_of(docs).tolist()
    starts = index.starts
    firsts = starts[articles].tolist()
    ids, titles, dates, urls = index.strings("id"), index.strings("title"), index.field("date"), index.field("url")
    sources = index.field("source")
    found_hits: list[Hit] = []
    for position, doc, article, first in zip(order.tolist(), docs.tolist(), articles, firsts, strict=True):
        count = int(starts[article + 1]) - first
        sentences = Sentences(index, first, count)
        at = doc - first
        costs = index.budget_costs(first, count)
        start, end = passage_span(costs, at, index.passage_tokens)
        shown = tuple(sentences[start:end])
        text = shown[at - start]
        probability = float(confidence[len(found_hits)])
        confident = probability >= trained.CONFIDENT_AT
        if confident and required is not None and not holds_answer_of(text, required):
            confident = False
        found_hits.append(
            Hit(
                article=ids[article],
                title=titles[article],
                date=dates[article],
                url=urls[article],
                sentence=at + 1,
                text=text,
                passage=" ".join(shown),
                score=float(scores[position]),
                confident=confident,
                confidence=round(probability, 4),
                offset=sum(len(sentence) + 1 for sentence in shown[: at - start]),
                source=sources[article],
                first=start + 1,
                shown=shown,
            )
        )
    return found_hits


def _answerability(found: Candidates, scores: npt.NDArray[np.float64], order: npt.NDArray[np.int64]) -> FloatArray:
    """The probability that each hit answers the question (ranking/confidence.py), 0 when its passage leaves out
    a name or number of the question. A follow-up's is the better of its question with the context and its
    question alone: its own words may answer it without the context."""
    names = found.names
    semantic = found.cosines is not None
    inputs = SEMANTIC_ANSWERABILITY_FEATURES if semantic else ANSWERABILITY_FEATURES
    weights = trained.ANSWERABILITY if semantic else trained.LEXICAL_ANSWERABILITY
    bias = trained.ANSWERABILITY_BIAS if semantic else trained.LEXICAL_ANSWERABILITY_BIAS
    rows = answerability_features(names, found.features, scores, order)
    probability = answerability(rows, weights, bias, inputs)
    if found.alone is not None:
        alone = answerability_features(names, found.alone, rerank_scores(found.alone), order)
        probability = np.maximum(probability, answerability(alone, weights, bias, inputs))
    return np.where(names_covered(rows, inputs), probability, 0.0)
