"""Ranked candidates become hits: each sentence with its passage, its citation, and whether it is confident."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from index.answers.results import Hit
from index.ranking.answer_types import AnswerType, holds_answer_of
from index.ranking.candidates import Candidates
from index.ranking.confidence import is_confident
from index.ranking.features import COVERAGE, NEAR
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
    docs = found.docs[order]
    articles = index.article_of(docs).tolist()
    starts = index.starts
    firsts = starts[articles].tolist()
    ids, titles, dates, urls = index.strings("id"), index.strings("title"), index.field("date"), index.field("url")
    sources = index.field("source")
    found_hits = []
    for position, doc, article, first in zip(order.tolist(), docs.tolist(), articles, firsts, strict=True):
        count = int(starts[article + 1]) - first
        sentences = Sentences(index, first, count)
        at = doc - first
        costs = index.budget_costs(first, count)
        start, end = passage_span(costs, at, index.passage_tokens)
        evidence = found.features[position, COVERAGE] + found.features[position, NEAR]
        if found.own_evidence is not None:
            # A follow-up is confident when its own words are found, or they and the context together.
            evidence = max(evidence, found.own_evidence[position])
        shown = tuple(sentences[start:end])
        text = shown[at - start]
        cosine = None if found.cosines is None else float(found.cosines[position])
        confident = is_confident(float(evidence), cosine)
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
                offset=sum(len(sentence) + 1 for sentence in shown[: at - start]),
                source=sources[article],
                first=start + 1,
                shown=shown,
            )
        )
    return found_hits
