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
    "document": 1.50674,
    "around": 3.60299,
    "rarest_missing": 0,
    "names_missing": 0,
    "names_missing_article": -0.776863,
    "numbers_missing": -0.938818,
    "reason_cue": 1.44713,
    "cosine_raw": 6.24821,
}
# Words alone.
LEXICAL_RANKER = {
    "title": 0,
    "document": 4.94259,
    "around": 5.59551,
    "rarest_missing": 0,
    "names_missing": 0,
    "names_missing_article": -1.40785,
    "numbers_missing": -0.846727,
    "reason_cue": 1.52292,
}
# The answerability model (index/ranking/confidence.py), with vectors and by words alone.
ANSWERABILITY = {
    "score": 0.115854,
    "margin": 0.548688,
    "coverage": 1.68575,
    "document": 0.604488,
    "around": 0,
    "rarest_missing": 0,
    "names_missing": -0.19364,
    "names_missing_article": -0.0303328,
    "numbers_missing": -0.281336,
    "answer_type": 0,
    "cosine_raw": 3.75964,
    "cosine_best": -1.43071,
}
ANSWERABILITY_BIAS = -5.489
LEXICAL_ANSWERABILITY = {
    "score": 0.147939,
    "margin": 0.400048,
    "coverage": 2.66483,
    "document": 0,
    "around": 0,
    "rarest_missing": 0,
    "names_missing": -0.054115,
    "names_missing_article": 0,
    "numbers_missing": 0,
    "answer_type": 0,
}
LEXICAL_ANSWERABILITY_BIAS = -4.43711
# A hit is confident at this probability or more, with vectors or without: the lowest at which tune's confident
# first hits were right 92% of the time with vectors.
CONFIDENT_AT = 0.55
