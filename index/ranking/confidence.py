"""Whether a hit answers the question: a calibrated probability, and a threshold on it.

A confident wrong answer is the worst thing the bot can do, so a hit is judged on what it covers of the
question (index/ranking/coverage.py: its words, with the article's title and lead, the names it must hold
whole), on how far it leads the next candidate, and, with sentence vectors, on how near it is in meaning.
A logistic model over those (fitted by bench/tune_trust.py on SQuAD's tune questions: their first hits right
and wrong, the same questions with their answer's paragraph removed, SQuAD 2.0's unanswerable questions and
questions about other topics) gives the probability that the hit answers; the hit is confident at
`trained.CONFIDENT_AT` or more, and holds every name and number of the question (`names_covered`). A question
asking for a number or a date is never confidently answered by a sentence that holds none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# The model's inputs, read from a hit's ranking features (index/ranking/features.py) but for the first two.
ANSWERABILITY_FEATURES = (
    "score",  # the ranker's score
    "margin",  # its lead over the next candidate's score (0 when it is the last)
    "coverage",
    "document",
    "around",
    "rarest_missing",
    "names_missing",
    "names_missing_article",
    "numbers_missing",
    "answer_type",
)
# With sentence vectors, two more: the hit's cosine to the question, and the best among the candidates'.
SEMANTIC_ANSWERABILITY_FEATURES = (*ANSWERABILITY_FEATURES, "cosine_raw", "cosine_best")


def answerability_features(
    names: Sequence[str], rows: FloatArray, scores: FloatArray, order: npt.NDArray[np.int64]
) -> FloatArray:
    """The answerability inputs of the candidates at `order` (best first), one row each: their ranking
    `rows` (columns named by `names`), final `scores`, and each one's lead over the one ranked after it."""
    semantic = "cosine_raw" in names
    wanted = SEMANTIC_ANSWERABILITY_FEATURES if semantic else ANSWERABILITY_FEATURES
    ranked = scores[np.argsort(-scores, kind="stable")]
    out = np.zeros((len(order), len(wanted)), dtype=np.float64)
    for row, at in enumerate(order.tolist()):
        place = int(np.searchsorted(-ranked, -scores[at], side="right")) - 1
        following = ranked[place + 1] if place + 1 < len(ranked) else scores[at]
        for column, name in enumerate(wanted):
            if name == "score":
                out[row, column] = scores[at]
            elif name == "margin":
                out[row, column] = scores[at] - following
            elif name == "cosine_best":
                out[row, column] = float(rows[:, names.index("cosine_raw")].max())
            else:
                out[row, column] = rows[at, names.index(name)]
    return out


def names_covered(inputs: FloatArray, names: Sequence[str]) -> npt.NDArray[np.bool_]:
    """Whether each hit's passage (its sentence, the sentences either side, its article's title and lead) holds
    every name and number of the question whole: a hit that leaves one out is never confident, however probable
    the model finds it ("What did the African Union say?" is not answered by what the European Union said)."""
    names_missing, numbers_missing = inputs[:, names.index("names_missing")], inputs[:, names.index("numbers_missing")]
    covered: npt.NDArray[np.bool_] = (names_missing == 0) & (numbers_missing == 0)
    return covered


def answerability(inputs: FloatArray, weights: Mapping[str, float], bias: float, names: Sequence[str]) -> FloatArray:
    """The probability that each hit (a row of `answerability_features`) answers its question."""
    vector = np.array([weights[name] for name in names], dtype=np.float64)
    probability: FloatArray = 1.0 / (1.0 + np.exp(-(inputs @ vector + bias)))
    return probability
