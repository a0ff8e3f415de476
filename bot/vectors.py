"""The serving index's sentence vectors: attached when an index starts serving, filled in behind it.

The bot answers as soon as the lexical index is built; the vectors already stored (from an earlier
run, or a `qa-bot index`) are used at once, and the missing ones are computed in a worker process at
low priority, saved batch by batch, and used as each batch lands. If the model cannot be loaded, that
is logged once and the bot answers by words alone.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from index import (
    DEFAULT_MODEL,
    BuildReport,
    EmbeddingPool,
    Encoder,
    FloatArray,
    LogProgress,
    ModelUnavailable,
    SearchIndex,
    SemanticStage,
    VectorStore,
    cannot_write,
    fill,
    store_folder,
)

log = logging.getLogger(__name__)


class Lease(Protocol):
    """Keeps an index open while it is read (bot.index_holder.Leases)."""

    def take(self) -> SearchIndex: ...

    def give_back(self) -> None: ...


# How often the filling reports how far it is, in the log.
PROGRESS_SECONDS = 30.0
# Up to this many missing sentences (a few seconds of work) are embedded in the bot's process, by the
# question encoder: starting a worker process and loading the model there would cost more.
IN_PROCESS_SENTENCES = 2_048


class VectorFiller:
    """Attaches stored vectors to each index that starts serving and fills in the rest in the background."""

    def __init__(self, enabled: bool = True, make_pool: Callable[[], EmbeddingPool] | None = None) -> None:
        self.enabled = enabled
        self.unavailable: str | None = None if enabled else "turned off (SEMANTIC=off)"
        self._make_pool = make_pool or EmbeddingPool
        self._pool: EmbeddingPool | None = None
        self._questions: Encoder | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = threading.Event()
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self.stage: SemanticStage | None = None

    def progress(self) -> tuple[int, int] | None:
        """(sentences with a vector, sentences) of the serving index; None when vectors are not used."""
        stage = self.stage
        return None if stage is None else (stage.view.ready, stage.sentences)

    def _folder(self, report: BuildReport) -> Path:
        if report.cache_file is not None:
            folder = store_folder(report.cache_file.parent, report.cache_file, DEFAULT_MODEL)
            problem = cannot_write(folder)
            if problem is None:
                return folder
            log.warning("Sentence vectors cannot be saved (%s); they are kept until the bot stops.", problem)
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="qa-bot-vectors-")
        return Path(self._scratch.name)

    async def attach(self, index: SearchIndex, report: BuildReport, lease: Lease) -> None:
        """Give `index` the vectors stored so far, then fill in the rest behind it.

        The first time, the model is loaded in the background (about a second): the index serves by
        words meanwhile, and gets its vectors once the model is there. After that, a new index (a
        reload) gets the stored vectors before it serves. The filling holds `lease` on the index while
        it reads sentences from it, so a reload cannot close the index under it (it stops after its
        current batch once a newer index is attached).
        """
        self._stop.set()  # an earlier index's filling stops after its current batch
        if self.unavailable:
            return
        stop = self._stop = threading.Event()
        if self._questions is None:
            self._task = asyncio.create_task(self._start(index, report, stop, lease), name="qa-bot: sentence vectors")
            return
        stage = await self._attached(index, report, self._questions)
        self._task = asyncio.create_task(self._fill(index, stage, stop, lease), name="qa-bot: sentence vectors")

    async def _attached(self, index: SearchIndex, report: BuildReport, questions: Encoder) -> SemanticStage:
        store = VectorStore(self._folder(report), DEFAULT_MODEL.identity, DEFAULT_MODEL.dimension)
        stage = await asyncio.to_thread(index.attach_vectors, store, questions.embed)
        self.stage = stage
        return stage

    async def _start(self, index: SearchIndex, report: BuildReport, stop: threading.Event, lease: Lease) -> None:
        try:
            # Questions are embedded one at a time in the bot's process: one thread is fastest.
            self._questions = await asyncio.to_thread(Encoder, threads=1)
        except ModelUnavailable as error:
            self.unavailable = str(error)
            log.warning("Sentence vectors are unavailable (%s); answering by words only.", error)
            return
        if stop.is_set():  # a reload came first: it attaches its own index
            return
        stage = await self._attached(index, report, self._questions)
        await self._fill(index, stage, stop, lease)

    async def _fill(self, index: SearchIndex, stage: SemanticStage, stop: threading.Event, lease: Lease) -> None:
        if stage.complete:
            log.info("Sentence vectors: all %s sentences ready.", f"{stage.sentences:,}")
            return
        missing = sum(stage.sizes[n] for n in stage.missing())
        embed: Callable[[Sequence[str]], FloatArray]
        if missing <= IN_PROCESS_SENTENCES and self._questions is not None:
            embed = self._questions.embed
        else:
            if self._pool is None:
                self._pool = self._make_pool()
            embed = self._pool.embed
        lease.take()
        try:
            computed = await asyncio.to_thread(
                fill,
                stage,
                index.embedding_texts,
                embed,
                LogProgress(every=PROGRESS_SECONDS, logger=log),
                stop,
            )
        except OSError as error:  # a full disk, a cache folder made read-only: said in one line, no traceback
            log.warning(
                "Sentence vectors could not be saved in %s (%s); answers use the %s ready so far.",
                stage.store.folder,
                error.strerror or error,
                f"{stage.view.ready:,}",
            )
            return
        except Exception:
            log.exception("Filling in sentence vectors failed; answers use the %s ready so far", stage.view.ready)
            return
        finally:
            await asyncio.to_thread(lease.give_back)  # the last reader of a replaced index unmaps it: not on the loop
        if not stop.is_set():
            log.info("Sentence vectors: all %s sentences ready (%s computed).", f"{stage.sentences:,}", f"{computed:,}")

    async def wait(self) -> None:
        """Until the model is loaded and the current filling ends (tests, and a clean shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._pool is not None:
            await asyncio.to_thread(self._pool.close)
            self._pool = None
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None
