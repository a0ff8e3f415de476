"""The ranker's and the answerability model's weights, fitted by bench/tune_trust.py on the tune
questions of SQuAD v1.1 dev (Rajpurkar et al. 2016) and of SQuAD 2.0's first 10 training articles (Rajpurkar,
Jia and Liang 2018), both CC BY-SA 4.0: these weights are derived from them. Written by

    python bench/tune_trust.py SQUAD_V1_DEV SQUAD_V2_TRAIN_FIRST10 --write

Do not edit by hand: change the features or the script, and fit again.
"""

# Words and meaning (sentence vectors): the ranker's weight of each feature (index/ranking/features.py).
RANKER = {
    "bm25": 0.564296,
    "coverage": 6.32459,
    "previous": 0.989663,
    "near": 1.08747,
    "context": 2.76222,
    "lead": 0.474248,
    "proximity": 1.03863,
    "answer_type": 1.30261,
    "answer_near": 0.465739,
    "title": 1.67569,
    "document": 2.23278,
    "around": 1.93064,
    "rarest_missing": 1.13287,
    "names_missing": 0.395679,
    "names_missing_article": -1.01513,
    "numbers_missing": -0.728058,
    "reason_cue": 1.3909,
    "cosine": 2.58653,
    "cosine_near": 3.92446,
    "cosine_context": 1.41461,
    "cosine_unmatched": 12.226,
    "cosine_raw": 2.45809,
}
# Words alone.
LEXICAL_RANKER = {
    "bm25": 4.32339,
    "coverage": 3.3043,
    "previous": 1.17006,
    "near": 1.69451,
    "context": 3.18918,
    "lead": -1.57158,
    "proximity": 1.1577,
    "answer_type": 1.29372,
    "answer_near": 0.763228,
    "title": 4.26381,
    "document": 3.6343,
    "around": 2.7788,
    "rarest_missing": 1.72787,
    "names_missing": -0.0305165,
    "names_missing_article": -1.26906,
    "numbers_missing": -0.0800362,
    "reason_cue": 1.72355,
}
# The answerability model (index/ranking/confidence.py), with vectors and by words alone.
ANSWERABILITY = {
    "score": 0,
    "margin": 0.586852,
    "coverage": 1.09129,
    "document": 1.36957,
    "around": 0.851118,
    "rarest_missing": 0,
    "names_missing": -0.348683,
    "names_missing_article": 0,
    "numbers_missing": -0.271844,
    "answer_type": 0,
    "cosine_raw": 5.33119,
    "cosine_best": -2.21593,
}
ANSWERABILITY_BIAS = -5.51055
LEXICAL_ANSWERABILITY = {
    "score": 0.0845523,
    "margin": 0.539503,
    "coverage": 1.52545,
    "document": 1.45109,
    "around": 0.181121,
    "rarest_missing": 0,
    "names_missing": -0.256592,
    "names_missing_article": 0,
    "numbers_missing": -0.178549,
    "answer_type": 0,
}
LEXICAL_ANSWERABILITY_BIAS = -4.82417
# A hit is confident at this probability or more: the lowest at which tune's confident first hits were right
# 92% of the time.
CONFIDENT_AT = 0.52
LEXICAL_CONFIDENT_AT = 0.52
