"""The re-ranking features computed from stored term ids, all candidates at once, equal
`rerank.feature_row`'s over freshly tokenized text, to the last bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index import build_index
from index.articles.text import tokenize
from index.ranking.features import CONTEXT_SENTENCES, FEATURES, feature_row
from index.serving.search_index import SearchIndex
from tests.helpers import write_corpus

SEED = Path(__file__).resolve().parent.parent.parent / "seeds"
QUESTIONS = [
    "How many coups?",
    "Who is in charge?",
    "Who condemned it?",
    "When did the soldiers appear on television?",
    "What did Ecowas say about the president Bazoum?",
    "How many coups since independence from France?",
    "coup coup Niger",
    "Bako rime tuko?",
    "Who lato mina bari?",
    "When zuko rime?",
    "What about a word found nowhere, zanzibarite, and coups?",
]


def reference_rows(index: SearchIndex, question: str) -> np.ndarray:
    found = index.candidates(question)
    query, rows = found.query, []
    best = float(found.bm25.max()) if len(found.bm25) else 0.0
    starts = np.cumsum([0, *(len(a.sentences) for a in index.articles)])
    for doc, score in zip(found.docs.tolist(), found.bm25.tolist(), strict=True):
        article = int(np.searchsorted(starts, doc, side="right")) - 1
        sentences, at = index.articles[article].sentences, doc - int(starts[article])
        around = [n for step in range(1, CONTEXT_SENTENCES + 1) for n in (at - step, at + step)]
        neighbours = [tokenize(sentences[n]) for n in around if 0 <= n < len(sentences)]
        previous = tokenize(sentences[at - 1]) if at > 0 else []
        own, lead = tokenize(sentences[at]), tokenize(sentences[0])
        rows.append(feature_row(query, sentences[at], own, previous, neighbours, lead, score, best))
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["seed", "generated"])
def test_features_from_term_ids_equal_the_reference_features(corpus: str, tmp_path: Path) -> None:
    if corpus == "generated":
        write_corpus(tmp_path / "seeds", articles=40)
    index, _ = build_index(SEED if corpus == "seed" else tmp_path / "seeds", use_cache=False)
    compared = 0
    from_text = [" ".join(index.sentence(n).split()[:5]) + "?" for n in range(0, index.sentence_count, 7)]
    for question in [*QUESTIONS, *from_text]:
        found = index.candidates(question)
        expected = reference_rows(index, question)
        assert found.features.shape == expected.shape
        assert np.array_equal(found.features, expected), question  # bit for bit
        compared += len(expected)
    assert compared > 100
