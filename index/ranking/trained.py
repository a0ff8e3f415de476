"""The ranker's and the answerability model's weights, fitted by bench/tune_trust.py on the tune
questions of SQuAD v1.1 dev (Rajpurkar et al. 2016) and of SQuAD 2.0's first 10 training articles (Rajpurkar,
Jia and Liang 2018), both CC BY-SA 4.0: these weights are derived from them. Written by

    python bench/tune_trust.py SQUAD_V1_DEV SQUAD_V2_TRAIN_FIRST10 --write

Do not edit by hand: change the features or the script, and fit again.
"""

# Words and meaning (sentence vectors): the ranker's weights of the coverage features (index/ranking/coverage.py),
# and of the cosine itself, fitted on top of the tuned weights of the others (index/ranking/weights.py).
RANKER = {
    "title": 0,
    "document": 1.53381,
    "around": 3.57919,
    "rarest_missing": 0,
    "names_missing": 0,
    "names_missing_article": -0.784602,
    "numbers_missing": -0.938594,
    "reason_cue": 1.45311,
    "cosine_raw": 6.31859,
}
# Words alone.
LEXICAL_RANKER = {
    "title": 0,
    "document": 4.94365,
    "around": 5.57927,
    "rarest_missing": 0,
    "names_missing": 0,
    "names_missing_article": -1.41556,
    "numbers_missing": -0.847379,
    "reason_cue": 1.52506,
}
# The answerability model (index/ranking/confidence.py), with vectors and by words alone.
ANSWERABILITY = {
    "score": 0.129074,
    "margin": 0.548296,
    "coverage": 1.8279,
    "document": 0.362886,
    "around": 0,
    "rarest_missing": 0,
    "names_missing": -0.203442,
    "names_missing_article": -0.0228191,
    "numbers_missing": -0.283252,
    "answer_type": 0,
    "cosine_raw": 3.58369,
    "cosine_best": -1.38067,
}
ANSWERABILITY_BIAS = -5.48551
LEXICAL_ANSWERABILITY = {
    "score": 0.1406,
    "margin": 0.40025,
    "coverage": 2.79193,
    "document": 0,
    "around": 0,
    "rarest_missing": 0,
    "names_missing": -0.0825585,
    "names_missing_article": 0,
    "numbers_missing": 0,
    "answer_type": 0,
}
LEXICAL_ANSWERABILITY_BIAS = -4.43854
# A hit is confident at this probability or more, with vectors or without: the lowest at which tune's confident
# first hits were right 92% of the time with vectors.
CONFIDENT_AT = 0.55
