"""Placeholder until bench/tune_trust.py --write fits these."""

RANKER = {
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
LEXICAL_RANKER = {
    "bm25": 1.0,
    "coverage": 2.2,
    "previous": 1.85,
    "near": 0.3,
    "context": 0.6,
    "lead": 0.1,
    "proximity": 0.35,
    "answer_type": 0.25,
    "answer_near": 0.2,
}
ANSWERABILITY = {"around": 10.0} | dict.fromkeys(("score", "margin", "coverage", "document", "rarest_missing", "names_missing", "names_missing_article", "numbers_missing", "answer_type", "cosine_raw", "cosine_best"), 0.0)
ANSWERABILITY_BIAS = -5.5
LEXICAL_ANSWERABILITY = ANSWERABILITY | dict.fromkeys(("score", "margin", "coverage", "document", "rarest_missing", "names_missing", "names_missing_article", "numbers_missing", "answer_type", "cosine_raw", "cosine_best"), 0.0)
LEXICAL_ANSWERABILITY_BIAS = -5.5
CONFIDENT_AT = 0.5
LEXICAL_CONFIDENT_AT = 0.5
