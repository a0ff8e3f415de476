"""Tune the re-ranker's weights on the SQuAD tune split; report tune, held-out and all.

    python bench/tune_rerank.py PATH/squad-v1.1-dev.json.gz

Features come from `SearchIndex.candidates`, the code `search()` runs; weights are found by
coordinate ascent on MRR@10 over the first TUNE_ARTICLES Wikipedia articles only.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.evaluation.squad import DEPTH, TUNE_ARTICLES, load_squad
from index.ranking.features import FEATURES as ALL_FEATURES
from index.ranking.weights import TUNED_WEIGHTS as WEIGHTS
from index.serving.building import index_articles

# The word features, whose weights this tunes (the coverage features' are fitted on top: bench/tune_trust.py).
FEATURES = tuple(WEIGHTS)
COLUMNS = [ALL_FEATURES.index(name) for name in FEATURES]


def mrr(
    features: list[np.ndarray], gold: list[np.ndarray], docs: list[np.ndarray], w: np.ndarray, keep: np.ndarray
) -> tuple[float, float]:
    """MRR@10 and R@1 over the kept questions; `gold` holds each question's gold candidates (positions)."""
    total = top1 = 0.0
    for rows, g, d, k in zip(features, gold, docs, keep, strict=True):
        if not k or not len(g):
            continue
        scores = rows @ w
        order = np.lexsort((d, -scores))
        rank = int(np.flatnonzero(np.isin(order, g))[0]) + 1
        if rank <= DEPTH:
            total += 1 / rank
        top1 += rank == 1
    n = keep.sum()
    return total / n, top1 / n


def _ragged(arrays: list[np.ndarray]) -> np.ndarray:
    """An object array of arrays, even when they happen to share a length."""
    packed = np.empty(len(arrays), dtype=object)
    packed[:] = arrays
    return packed


def tuning_parser(top: float) -> argparse.ArgumentParser:
    """The options both tunings take; `top` is the largest weight tried by default."""
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--top", type=float, default=top, help="largest weight tried")
    parser.add_argument("--cache", help="npz file: reuse features computed before (same code, same data)")
    return parser


def main() -> int:
    args = tuning_parser(top=2.0).parse_args()
    corpus = load_squad(Path(args.path))
    index = index_articles(corpus.articles)
    started = time.perf_counter()
    features, gold, docs = [], [], []
    if args.cache and Path(args.cache).exists():
        saved = np.load(args.cache, allow_pickle=True)
        features, docs, gold = list(saved["features"]), list(saved["docs"]), list(saved["gold"])
    else:
        for q in corpus.questions:
            found = index.candidates(q.text)
            features.append(found.features[:, COLUMNS])
            docs.append(found.docs)
            gold.append(np.flatnonzero(np.isin(found.docs, q.golds)))
        if args.cache:
            np.savez(
                args.cache,
                features=_ragged(features),
                docs=_ragged(docs),
                gold=_ragged(gold),
            )
    print(f"features for {len(gold):,} questions in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    tune = np.array([q.topic < TUNE_ARTICLES for q in corpus.questions])
    show = reporter(features, gold, docs, tune, FEATURES)

    w = np.array([WEIGHTS[f] for f in FEATURES])
    show("current", w)
    bm25_only = np.array([1.0 if f == "bm25" else 0.0 for f in FEATURES])
    show("bm25 only", bm25_only)
    for name in FEATURES[1:]:
        single = bm25_only.copy()
        best = max(
            (mrr(features, gold, docs, single + np.eye(len(FEATURES))[FEATURES.index(name)] * v, tune)[0], v)
            for v in np.arange(0, 1.51, 0.1)
        )
        single[FEATURES.index(name)] = best[1]
        show(f"bm25 + {name}", single)
    grid = np.arange(0, args.top + 0.01, 0.05)
    coordinate_ascent(features, gold, docs, bm25_only.copy(), tune, grid, args.rounds, show)
    return 0


def reporter(
    features: list[np.ndarray], gold: list[np.ndarray], docs: list[np.ndarray], tune: np.ndarray, names: Sequence[str]
) -> Callable[[str, np.ndarray], None]:
    """A function that prints weights and their MRR@10 and R@1 on the tune split, the held-out one and all."""
    splits = (("tune", tune), ("held-out", ~tune), ("all", np.ones_like(tune)))

    def show(name: str, w: np.ndarray) -> None:
        parts = [
            f"{label} MRR {m:.4f} R@1 {r:.4f}"
            for label, keep in splits
            for m, r in [mrr(features, gold, docs, w, keep)]
        ]
        print(f"{name}: {dict(zip(names, np.round(w, 3).tolist(), strict=True))}\n   " + " | ".join(parts))

    return show


def coordinate_ascent(
    features: list[np.ndarray],
    gold: list[np.ndarray],
    docs: list[np.ndarray],
    w: np.ndarray,
    tune: np.ndarray,
    grid: np.ndarray,
    rounds: int,
    show: Callable[[str, np.ndarray], None],
) -> np.ndarray:
    """Each weight but BM25's (kept at 1: the scale) set in turn to the grid value best on the tune split."""
    for _ in range(rounds):
        for i in range(1, len(w)):
            best_score, best_value = -1.0, w[i]
            for v in grid:
                trial = w.copy()
                trial[i] = v
                score = mrr(features, gold, docs, trial, tune)[0]
                if score > best_score + 1e-9:
                    best_score, best_value = score, v
            w[i] = best_value
        show("coordinate ascent", w)
    return w


if __name__ == "__main__":
    raise SystemExit(main())
