"""Whether a hit answers the question: enough of its words around the sentence, or near enough in meaning."""

from __future__ import annotations

import math

# A hit is confident when the sentence and its two neighbours hold at least this share
# of the question's IDF mass: a question whose rare words are absent is not answered.
# On SQuAD (docs/quality.md) 0.55 keeps 99.9% of questions asked of the unrelated seed article
# unconfident and makes 92.6% of right first answers confident.
CONFIDENT_COVERAGE = 0.55
# With sentence vectors, a hit is confident when its words are (CONFIDENT_COVERAGE) and its meaning is
# not far (cosine ≥ WORDS_COSINE), or when its meaning is near (cosine ≥ MEANING_COSINE) and a little of
# the question's rare words is there (MEANING_COVERAGE). Chosen on 2,500 questions of SQuAD's tune split
# (confident when right: 97.8%, against 88.2% by words alone) with the same questions asked of the seed
# article (99.8% not confident, as by words alone), and the seed questions of tests/data (34 of 37
# answerable confident, none of the 10 unanswerable); `qa-bot eval squad` reports both shares. A meaning nearer
# than SURE_COSINE is confident with no word in common (a paraphrase): no unanswerable question of those
# sets came that near (0.48 at most), and none of their answerable ones needed it.
WORDS_COSINE = 0.16
MEANING_COSINE = 0.35
MEANING_COVERAGE = 0.15
SURE_COSINE = 0.5


def is_confident(evidence: float, cosine: float | None) -> bool:
    """Whether a hit answers the question, from `evidence` (the share of the question's IDF mass in and
    around the sentence) and, when the sentence has a vector, its `cosine` to the question."""
    if cosine is None or math.isnan(cosine):
        return evidence >= CONFIDENT_COVERAGE - 1e-9
    by_words = evidence >= CONFIDENT_COVERAGE - 1e-9 and cosine >= WORDS_COSINE
    by_meaning = cosine >= MEANING_COSINE and evidence >= MEANING_COVERAGE - 1e-9
    return by_words or by_meaning or cosine >= SURE_COSINE
