"""The questions the ranker and the answerability model learn from and are judged on, with their candidates'
features as the engine computes them (bench/tune_trust.py fits, bench/trust.py reports).

Each question is a group: its candidates (their features, by name) and which are gold. The sources:
- `squad`: SQuAD v1.1 dev (every paragraph an article, as `qa-bot eval squad`); `tune` are the questions of
  its first 24 Wikipedia articles, `held-out` the others.
- `near`: the same questions asked with their gold paragraph left out of the index while the rest of its
  Wikipedia article stays: the best candidates are on topic and wrong, and must be declined.
- `squad2`: SQuAD 2.0's first 10 training articles as their own index; `squad2-impossible` its questions
  written to look answerable from their paragraph (declined when asked of their own article), `squad2-near`
  its answerable ones with their paragraph left out. Even-numbered articles tune, odd ones are held out
  (the impossible questions are in articles 4 and 5 only).
- `far`: SQuAD questions asked of the seed article (nothing there answers them).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.evaluation.squad import TUNE_ARTICLES, SquadCorpus, attach_squad_vectors, load_squad, parse_squad
from index.meaning.encoder import Encoder
from index.ranking.candidates import candidates
from index.ranking.features import FEATURES, SEMANTIC_FEATURES
from index.serving.building import index_articles
from index.serving.search_index import SearchIndex
from index.storage.store import cache_folder

FloatArray = npt.NDArray[np.float64]
# What the features are made by: the cache of computed groups is kept only while these files are unchanged.
FEATURE_CODE = (
    "index/ranking/features.py",
    "index/ranking/coverage.py",
    "index/ranking/candidates.py",
    "index/ranking/question.py",
    "index/ranking/asked.py",
    "index/ranking/salience.py",
    "index/articles/text.py",
)


@dataclass(frozen=True)
class Group:
    """One question's candidates: features (rows, columns named by `names`), docs and which are gold."""

    source: str  # squad, near, squad2, squad2-impossible, squad2-near, far
    split: str  # tune or held-out
    question: str
    names: tuple[str, ...]
    features: FloatArray
    docs: npt.NDArray[np.int64]
    gold: npt.NDArray[np.bool_]
    by_words: int  # the first `by_words` candidates are BM25's (the others were found by meaning alone)

    def lexical(self) -> Group:
        """The group as ranked by words alone: BM25's candidates and the lexical features (the same values:
        the candidates found by meaning have the lowest BM25 scores, so no share of the best changes)."""
        n, width = self.by_words, len(FEATURES)
        return Group(self.source, self.split, self.question, FEATURES, self.features[:n, :width], self.docs[:n],
                     self.gold[:n], n)  # fmt: skip

    @property
    def answerable(self) -> bool:
        return bool(self.gold.any()) or self.source == "squad2" or self.source == "squad"


def load_squad2(path: Path) -> SquadCorpus:
    """SQuAD 2.0 (its impossible questions have no answers, so no gold sentence)."""
    document = json.loads(gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes())
    return parse_squad(document)


def squad_index(corpus: SquadCorpus, name: str, encoder: Encoder | None) -> SearchIndex:
    index = index_articles(corpus.articles)
    if encoder is not None:
        model = encoder.model
        folder = cache_folder() / f"vectors-{name}" / model.identity
        attach_squad_vectors(index, folder, model.identity, model.dimension, encoder.embed)
    return index


def _group(
    index: SearchIndex, source: str, split: str, question: str, golds: Sequence[int], *, lexical: bool, **where: object
) -> Group:
    stage = None if lexical else index.semantic
    found = candidates(index, stage, question, **where)  # type: ignore[arg-type]
    names = SEMANTIC_FEATURES if found.cosines is not None else FEATURES
    gold = np.isin(found.docs, np.array(golds, dtype=np.int64))
    return Group(source, split, question, names, found.features, found.docs, gold, found.by_words)


def groups(
    squad: Path, squad2: Path, seed: SearchIndex, *, lexical: bool, progress: Callable[[str], None] = print
) -> Iterator[Group]:
    """Every group of every source (see the module's docstring), features as the engine computes them."""
    encoder = None if lexical else Encoder(threads=len(os.sched_getaffinity(0)))
    corpus = load_squad(squad)
    index = squad_index(corpus, "squad", encoder)
    starts = np.cumsum([0, *(len(a.sentences) for a in corpus.articles)])
    for n, q in enumerate(corpus.questions):
        split = "tune" if q.topic < TUNE_ARTICLES else "held-out"
        paragraph = (int(starts[q.article]), int(starts[q.article + 1]))
        yield _group(index, "squad", split, q.text, q.golds, lexical=lexical)
        yield _group(index, "near", split, q.text, (), lexical=lexical, excluding=paragraph)
        if n % 1000 == 0:
            progress(f"SQuAD v1.1: {n:,} of {len(corpus.questions):,} questions")
    corpus2 = load_squad2(squad2)
    index2 = squad_index(corpus2, "squad2-first10", encoder)
    starts2 = np.cumsum([0, *(len(a.sentences) for a in corpus2.articles)])
    for n, q in enumerate(corpus2.questions):
        split = "tune" if q.topic % 2 == 0 else "held-out"
        if not q.golds:
            yield _group(index2, "squad2-impossible", split, q.text, (), lexical=lexical)
            continue
        paragraph = (int(starts2[q.article]), int(starts2[q.article + 1]))
        yield _group(index2, "squad2", split, q.text, q.golds, lexical=lexical)
        yield _group(index2, "squad2-near", split, q.text, (), lexical=lexical, excluding=paragraph)
        if n % 1000 == 0:
            progress(f"SQuAD 2.0: {n:,} of {len(corpus2.questions):,} questions")
    rng = np.random.default_rng(0)
    for n in rng.permutation(len(corpus.questions))[:3000].tolist():
        q = corpus.questions[n]
        yield _group(seed, "far", "tune" if q.topic < TUNE_ARTICLES else "held-out", q.text, (), lexical=lexical)


def cached_groups(
    squad: Path, squad2: Path, seed: SearchIndex, cache: Path, progress: Callable[[str], None] = print
) -> list[Group]:
    """`groups`, kept in `cache` (an .npz named by the features' code and the data) for the next run."""
    key = hashlib.sha256(
        json.dumps([FEATURES, SEMANTIC_FEATURES, squad.stat().st_size, squad2.stat().st_size]).encode()
    )
    for module in FEATURE_CODE:
        key.update((Path(__file__).resolve().parent.parent / module).read_bytes())
    path = cache / f"trust-groups-{key.hexdigest()[:12]}.npz"
    if path.exists():
        saved = np.load(path, allow_pickle=True)
        return list(saved["groups"])
    found = list(groups(squad, squad2, seed, lexical=False, progress=progress))
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, groups=np.array(found, dtype=object))
    return found
