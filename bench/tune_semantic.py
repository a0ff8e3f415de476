"""Tune the ranking with sentence vectors on the SQuAD tune split; report tune, held-out and all.

    python bench/tune_semantic.py PATH/squad-v1.1-dev.json.gz [--cache FEATURES.npz] [--vectors DIR]

Like bench/tune_rerank.py, with the semantic stage attached: the candidates are BM25's 50 and the
question's 50 nearest sentences by vector, and the features are rerank.SEMANTIC_FEATURES. Prints the
candidate recall (a gold sentence among the candidates) of BM25 alone and of both, the current
weights' figures, and coordinate ascent's weights (found on the tune split only).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from index.evaluation.squad import TUNE_ARTICLES, attach_squad_vectors, load_squad
from index.meaning.encoder import Encoder
from index.progress import terminal_or_log
from index.ranking.candidates import CANDIDATES
from index.ranking.features import SEMANTIC_FEATURES as ALL_FEATURES
from index.ranking.weights import TUNED_SEMANTIC_WEIGHTS as SEMANTIC_WEIGHTS
from index.serving.building import index_articles
from index.storage.store import cache_folder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune_rerank import _ragged, coordinate_ascent, reporter, tuning_parser

# The word and cosine features, whose weights this tunes (the coverage features' are fitted on top of them:
# bench/tune_trust.py).
SEMANTIC_FEATURES = tuple(SEMANTIC_WEIGHTS)
COLUMNS = [ALL_FEATURES.index(name) for name in SEMANTIC_FEATURES]


def main() -> int:
    parser = tuning_parser(top=6.0)
    parser.add_argument("--vectors", help="where SQuAD's sentence vectors are kept (default: the cache folder)")
    args = parser.parse_args()
    corpus = load_squad(Path(args.path))
    index = index_articles(corpus.articles)
    encoder = Encoder(threads=len(os.sched_getaffinity(0)))
    folder = Path(args.vectors) if args.vectors else cache_folder() / "vectors-squad" / encoder.model.identity
    attach_squad_vectors(
        index, folder, encoder.model.identity, encoder.model.dimension, encoder.embed, terminal_or_log()
    )
    started = time.perf_counter()
    if args.cache and Path(args.cache).exists():
        saved = np.load(args.cache, allow_pickle=True)
        features, docs, gold = list(saved["features"]), list(saved["docs"]), list(saved["gold"])
        lexical_recall = float(saved["lexical_recall"])
    else:
        features, gold, docs = [], [], []
        found_lexically = 0
        for q in corpus.questions:
            found = index.candidates(q.text)
            features.append(found.features[:, COLUMNS])
            docs.append(found.docs)
            gold.append(np.flatnonzero(np.isin(found.docs, q.golds)))
            found_lexically += bool(np.isin(found.docs[:CANDIDATES], q.golds).any())
        lexical_recall = found_lexically / len(corpus.questions)
        if args.cache:
            np.savez(
                args.cache,
                features=_ragged(features),
                docs=_ragged(docs),
                gold=_ragged(gold),
                lexical_recall=lexical_recall,
            )
    print(f"features for {len(gold):,} questions in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    union_recall = sum(bool(len(g)) for g in gold) / len(gold)
    print(f"candidate recall: BM25's {CANDIDATES} {lexical_recall:.3f}; with the nearest by vector {union_recall:.3f}")
    tune = np.array([q.topic < TUNE_ARTICLES for q in corpus.questions])
    show = reporter(features, gold, docs, tune, SEMANTIC_FEATURES)

    w = np.array([SEMANTIC_WEIGHTS[f] for f in SEMANTIC_FEATURES])
    show("current", w)
    coordinate_ascent(features, gold, docs, w, tune, np.arange(0, args.top + 0.01, 0.1), args.rounds, show)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
