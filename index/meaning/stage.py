"""The semantic stage: what the question means, next to which words it shares with a sentence.

Every sentence's vector is computed once and stored (index/meaning/vectors.py); a question costs one embedding
(a few milliseconds) and dot products. The vectors serve twice: the question's nearest sentences join
BM25's candidates (recalling what shares no word with the question), and each candidate's cosine to
the question, its neighbours' and its passage's, are features of the ranking (index/ranking/features.py).
Vectors are filled in after the lexical index serves; until an article has them, its sentences are
ranked by their words alone, and the answers get better as the vectors arrive.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from index.meaning.encoder import DEFAULT_MODEL, EmbeddingModel, Encoder
from index.meaning.vectors import (
    EXACT_ROWS,
    FloatArray,
    RowArray,
    VectorSnapshot,
    VectorStore,
    dot_rows,
    remove_other_models,
)
from index.progress import Progress

log = logging.getLogger("index.semantic")

# Sentences embedded per batch when filling in: large enough to keep the model busy, small enough
# that progress is saved often (a crash loses at most one batch).
FILL_SENTENCES = 2_048


def store_folder(cache: Path, index_file: Path, model: EmbeddingModel) -> Path:
    """The vectors of the archive whose saved index is `index_file`, beside it, one folder per model."""
    return cache / f"vectors-{index_file.stem.removeprefix('index-')}" / model.identity


def cannot_write(folder: Path) -> str | None:
    """Why vectors cannot be stored in `folder` (created if missing), or None when they can."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / "lock"
        os.close(os.open(probe, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644))
    except OSError as error:
        return f"{error.strerror or error}: {error.filename or folder}"
    return None


@dataclass(frozen=True)
class SemanticView:
    """Which stored row holds each sentence's vector in one index (-1: not embedded yet), and back."""

    snapshot: VectorSnapshot
    doc_rows: RowArray
    row_docs: RowArray

    @classmethod
    def of(cls, keys: Sequence[str], sizes: Sequence[int], snapshot: VectorSnapshot) -> SemanticView:
        doc_rows = np.full(int(sum(sizes)), -1, dtype=np.int64)
        start = 0
        for key, size in zip(keys, sizes, strict=True):
            found = snapshot.articles.get(key)
            if found is not None and found[1] == size:
                doc_rows[start : start + size] = np.arange(found[0], found[0] + size)
            start += size
        row_docs = np.full(snapshot.row_count, -1, dtype=np.int64)
        present = np.flatnonzero(doc_rows >= 0)
        row_docs[doc_rows[present]] = present
        return cls(snapshot, doc_rows, row_docs)

    @property
    def ready(self) -> int:
        """Sentences of this index that have their vector."""
        return int((self.doc_rows >= 0).sum())

    def cosines(self, question: FloatArray, docs: npt.NDArray[np.integer]) -> FloatArray:
        """Each doc's cosine to the question vector; NaN for a sentence without a vector yet."""
        rows = self.doc_rows[docs] if len(docs) else np.empty(0, dtype=np.int64)
        result = np.full(len(rows), np.nan, dtype=np.float32)
        ok = rows >= 0
        if ok.any():
            chosen = rows[ok]
            result[ok] = (self.snapshot.rows[chosen].astype(np.float32) @ question) * self.snapshot.scales[chosen]
        return result

    def nearest(
        self, question: FloatArray, k: int, within: tuple[int, int] | None = None
    ) -> tuple[RowArray, FloatArray]:
        """The k sentences of this index whose vectors are nearest the question's, and their cosines.
        `within` (first, end): among sentences first to end - 1 only (one article's), every one compared."""
        snapshot = self.snapshot
        if within is not None:
            rows = self.doc_rows[within[0] : within[1]]
            rows = rows[rows >= 0]
        elif snapshot.partition is not None and snapshot.row_count > EXACT_ROWS:
            rows = snapshot.partition.probe(question)
        else:
            rows = np.arange(snapshot.row_count, dtype=np.int64)
        rows = rows[self.row_docs[rows] >= 0] if len(rows) else rows
        if not len(rows) or k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        peak = float(np.abs(question).max()) or 1.0
        quantised = np.rint(question * (127.0 / peak)).astype(np.int8)
        scores = dot_rows(snapshot.rows[rows], quantised).astype(np.float32) * snapshot.scales[rows] * (peak / 127.0)
        best = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else np.arange(len(scores))
        best = best[np.argsort(-scores[best], kind="stable")]
        return self.row_docs[rows[best]], scores[best]


class QuestionEncoder:
    """Embeds questions: a callable from texts to unit vectors (an `Encoder`'s `embed`, or a stand-in in tests)."""

    def __init__(self, embed: Callable[[Sequence[str]], FloatArray]) -> None:
        self.embed = embed

    def __call__(self, question: str) -> FloatArray:
        vector: FloatArray = self.embed([question])[0]
        return vector


class SemanticStage:
    """An index's vectors, as far as they are filled in, and the question encoder. Thread-safe:
    `refresh` swaps in a new view in one assignment while questions read the old one."""

    def __init__(self, keys: Sequence[str], sizes: Sequence[int], store: VectorStore, encoder: QuestionEncoder):
        self.keys = tuple(keys)
        self.sizes = tuple(sizes)
        self.store = store
        self.encode = encoder
        self._refresh_lock = threading.Lock()
        self.view = SemanticView.of(self.keys, self.sizes, store.snapshot())

    @property
    def sentences(self) -> int:
        return int(sum(self.sizes))

    @property
    def complete(self) -> bool:
        return self.view.ready == self.sentences

    def refresh(self) -> None:
        """Map what the store holds now (after vectors were added, here or by another process)."""
        with self._refresh_lock:
            self.view = SemanticView.of(self.keys, self.sizes, self.store.snapshot())

    def missing(self) -> list[int]:
        """The articles (by number) whose vectors are not stored yet."""
        snapshot = self.store.snapshot()
        return [
            n
            for n, (key, size) in enumerate(zip(self.keys, self.sizes, strict=True))
            if snapshot.articles.get(key, (0, -1))[1] != size
        ]


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class TakesVectors(Protocol):
    """An index that sentence vectors can be attached to (index.SearchIndex)."""

    def attach_vectors(
        self, store: VectorStore, embed_questions: Callable[[Sequence[str]], FloatArray]
    ) -> SemanticStage: ...


def open_vectors(
    index: TakesVectors,
    folder: Path,
    *,
    threads: int | None = None,
    model: EmbeddingModel = DEFAULT_MODEL,
) -> tuple[SemanticStage, Encoder]:
    """Load the model (raises encoder.ModelUnavailable) and attach the vectors stored in `folder` to
    `index`; `fill(stage, …, encoder.embed)` computes the missing ones."""
    encoder = Encoder(model, threads=threads or cores())
    stage = index.attach_vectors(VectorStore(folder, model.identity, model.dimension), encoder.embed)
    return stage, encoder


def embedding_texts(title: str, sentences: Sequence[str]) -> list[str]:
    """What is embedded for each sentence: the article's title, then the sentence. The title says what a
    sentence's "it" and "he" are about (SQuAD, held-out MRR@10: 0.830 embedding the sentence alone, 0.840
    with its title; bench/tune_semantic.py). A title made from the first sentence (an article with no
    headline) is left out: it would make every sentence of the article look alike."""
    if not sentences or sentences[0].startswith(title.removesuffix("…")):
        return list(sentences)
    return [f"{title}. {sentence}" for sentence in sentences]


def fill(
    stage: SemanticStage,
    texts_of: Callable[[int], Sequence[str]],
    embed: Callable[[Sequence[str]], FloatArray],
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Embed and store the vectors of every article still missing; returns how many sentences were embedded.

    `texts_of(n)` gives what to embed for article n's sentences (`SearchIndex.embedding_texts`). Progress
    is saved after every batch (and the stage refreshed), so an interrupted fill resumes where it stopped;
    `stop` ends it between batches.
    """
    missing = stage.missing()
    total = sum(stage.sizes[n] for n in missing)
    done = 0
    if progress and total:
        progress("embedding", 0, total)
    batch: list[int] = []
    size = 0

    def flush() -> None:
        nonlocal done, batch, size
        texts = [s for n in batch for s in texts_of(n)]
        vectors = embed(texts)
        pieces, start = [], 0
        for n in batch:
            pieces.append((stage.keys[n], vectors[start : start + stage.sizes[n]]))
            start += stage.sizes[n]
        with stage.store.writing():
            stage.store.append(pieces)
        done += len(texts)
        stage.refresh()
        if progress:
            progress("embedding", done, total)
        batch, size = [], 0

    for n in missing:
        if stop is not None and stop.is_set():
            break
        batch.append(n)
        size += stage.sizes[n]
        if size >= FILL_SENTENCES:
            flush()
    if batch and not (stop is not None and stop.is_set()):
        flush()
    if not (stop is not None and stop.is_set()):
        with stage.store.writing():
            dropped = stage.store.compact(set(stage.keys))
        if dropped:
            log.info("Dropped %s stored vectors of edited or removed articles.", f"{dropped:,}")
            stage.refresh()
        if stage.complete:
            for other in remove_other_models(stage.store.folder):
                log.info("Deleted the stored vectors of another model: %s", other.name)
    if not (stop is not None and stop.is_set()) and stage.store.needs_partition():
        with stage.store.writing():
            if stage.store.needs_partition():
                log.info("Partitioning %s stored vectors for the nearest-sentence search.", f"{stage.sentences:,}")
                stage.store.train_partition()
        stage.refresh()
    return done
