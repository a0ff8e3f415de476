"""The ranker's and the answerability model's weights, fitted by bench/tune_trust.py on the tune
questions of SQuAD v1.1 dev (Rajpurkar et al. 2016) and of SQuAD 2.0's first 10 training articles (Rajpurkar,
Jia and Liang 2018), both CC BY-SA 4.0: these weights are derived from them. Written by

    python bench/tune_trust.py SQUAD_V1_DEV SQUAD_V2_TRAIN_FIRST10 --write

Do not edit by hand: change the features or the script, and fit again.
"""

# Words and meaning (sentence vectors): the ranker's weights of the coverage features (index/ranking/coverage.py),
# and of the cosine itself, fitted on top of the tuned weights of the others (index/ranking/weights.py).
RANKER = {
    "title": -0.049681,
    "document": 1.50081,
    "around": 4.17813,
    "rarest_missing": 1.23723,
    "names_missing": 0.758215,
    "names_missing_article": -1.47166,
    "numbers_missing": -1.00498,
    "reason_cue": 1.4223,
    "cosine_raw": 6.24551,
}
# Words alone.
LEXICAL_RANKER = {
    "title": -0.274322,
    "document": 4.94648,
    "around": 6.86695,
    "rarest_missing": 3.29227,
    "names_missing": 0.408782,
    "names_missing_article": -1.82636,
    "numbers_missing": -0.866444,
    "reason_cue": 1.45792,
}
# The answerability model (index/ranking/confidence.py), with vectors and by words alone.
ANSWERABILITY = {
    "score": 0.197892,
    "margin": 0.547394,
    "coverage": 1.43849,
    "document": 0.122494,
    "around": 0,
    "rarest_missing": 0,
    "names_missing": -0.229526,
    "names_missing_article": 0,
    "numbers_missing": -0.221785,
    "answer_type": 0,
    "cosine_raw": 2.71652,
    "cosine_best": -0.930463,
}
ANSWERABILITY_BIAS = -5.72823
LEXICAL_ANSWERABILITY = {
    "score": 0.246036,
    "margin": 0.406677,
    "coverage": 1.94796,
    "document": 0,
    "around": 0,
    "rarest_missing": 0,
    "names_missing": 0,
    "names_missing_article": 0,
    "numbers_missing": 0,
    "answer_type": 0,
}
LEXICAL_ANSWERABILITY_BIAS = -5.45384
# A hit is confident at this probability or more, with vectors or without: the lowest at which tune's confident
# first hits were right 92% of the time with vectors.
CONFIDENT_AT = 0.55
