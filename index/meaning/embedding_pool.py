"""Embedding in a worker process at low priority, so that filling in an archive's vectors (minutes to
hours) never competes with answering: the bot's process keeps its cores' attention, and the model's
threads run in a process of their own."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from index.meaning.encoder import DEFAULT_MODEL, EmbeddingModel, Encoder
from index.meaning.stage import cores
from index.meaning.vectors import FloatArray

_encoder: Encoder | None = None


def _start(model: EmbeddingModel, threads: int) -> None:
    global _encoder
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)  # below the bot's process: questions first
    _encoder = Encoder(model, threads=threads)


def _embed(texts: list[str]) -> FloatArray:
    if _encoder is None:
        raise RuntimeError("the embedding worker did not start")
    return _encoder.embed(texts)


class EmbeddingPool:
    """One worker process holding the model; `embed` blocks until its vectors come back."""

    def __init__(self, model: EmbeddingModel = DEFAULT_MODEL, threads: int | None = None) -> None:
        # "spawn": a clean interpreter, as for the build's workers (forking a process that runs an
        # event loop and threads can copy a held lock into the child).
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=context, initializer=_start, initargs=(model, threads or cores())
        )

    def embed(self, texts: Sequence[str]) -> FloatArray:
        return self._pool.submit(_embed, list(texts)).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
