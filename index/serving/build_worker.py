"""A build in a worker process, for a process that answers questions while it builds (the bot).

The build (`index.build.build`, the same code the command line runs in-process) allocates while it
reads, parses and lays out: in the serving process its garbage-collector passes and its last steps
held the GIL for tens of milliseconds, and its heap stayed behind after it. Here it runs in a process
of its own; the serving process maps the finished file, checks it and swaps one reference. The
worker's progress and log records come back through a queue, to the caller's progress and logging.

A worker that fails, crashes or is killed raises BuildFailed (one sentence); nothing serving is touched.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import multiprocessing
import os
import queue
import signal
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.articles.article import Skipped
from index.articles.folder import ARTICLE_SUFFIXES
from index.progress import LogProgress, Progress
from index.serving.building import BuildReport, saved_index_path, serve
from index.serving.search_index import SearchIndex
from index.storage import store
from index.storage.bm25 import DEFAULT_PARAMS, Bm25Params
from index.storage.build import Built, build

log = logging.getLogger("index.build")

# How often the caller looks whether the worker is still alive while no message comes.
_POLL_SECONDS = 0.2


class BuildFailed(RuntimeError):
    """The build's worker process failed or ended without a result; the message is one sentence."""


@dataclass(frozen=True)
class _Result:
    """What the worker built: the file to map (None: no usable article), as `Built` says it."""

    path: str | None
    key: str | None
    skipped: tuple[Skipped, ...]
    from_cache: bool
    not_saved: str | None


class _Forward(logging.handlers.QueueHandler):
    """Sends the worker's log records to the caller, tagged, already formatted (tracebacks included)."""

    def enqueue(self, record: logging.LogRecord) -> None:
        self.queue.put_nowait(("log", record))


def _work(messages: Any, folder: str, params: Bm25Params, cache: str | None, temporary: str, level: int) -> None:
    """The worker process: build, close the map, say where the file is (or why not).

    Its priority is the caller's choice (`nice`); the parsing runs in workers at 10 lower again (index.build).
    """
    root = logging.getLogger()
    root.handlers[:] = [_Forward(messages)]
    root.setLevel(level)

    def progress(stage: str, done: int, total: int) -> None:
        messages.put(("progress", stage, done, total))

    try:
        saved_at = Path(cache) if cache else None
        built = build(Path(folder), params, cache=saved_at, progress=progress, temporary_folder=Path(temporary))
        file = built.file
        result = _Result(
            file.name if file else None,
            str(file.meta.get("key")) if file else None,
            built.skipped,
            built.from_cache,
            built.not_saved,
        )
        if file is not None:
            file.close()
        messages.put(("built", result))
    except Exception as error:
        messages.put(("failed", f"{type(error).__name__}: {error}", traceback.format_exc()))


def article_bytes(folder: Path, enough: int) -> int:
    """The size of the article files under `folder`, counted until it reaches `enough` (links not followed).

    An estimate, to choose where to build: the build itself applies the seeds folder's rules.
    """
    total = 0
    for root, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in names:
            if name.lower().endswith(ARTICLE_SUFFIXES) and not name.startswith("."):
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(root, name)).st_size
                if total >= enough:
                    return total
    return total


def _ended(exit_code: int | None) -> str:
    if exit_code is not None and exit_code < 0:
        with contextlib.suppress(ValueError):
            return f"was stopped by {signal.Signals(-exit_code).name}"
    return f"exited (status {exit_code})"


def build_in_worker(
    folder: Path,
    params: Bm25Params = DEFAULT_PARAMS,
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
    nice: int = 0,
) -> tuple[SearchIndex, BuildReport]:
    """As `index.build_index`, with the build in a worker process (see the module's docstring).

    `nice`: how much lower the worker's priority is (its parsing workers' is 10 lower again). Blocks until
    the index is mapped and checked: call it from a worker thread in an event loop.
    Raises EmptyIndexError (the folder is missing or holds no usable article) or BuildFailed.
    """
    started = time.perf_counter()
    cache = saved_index_path(folder, cache_dir, use_cache)
    progress = progress or LogProgress()
    # "spawn": a clean interpreter (forking a process that runs an event loop and threads can copy a
    # held lock into the child). The folder holds an index that cannot be saved until it is mapped here.
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="qa-bot-build-") as temporary:
        messages = context.Queue()
        level = logging.getLogger("index").getEffectiveLevel()
        arguments = (messages, str(folder), params, str(cache) if cache else None, temporary, level)
        worker = context.Process(target=_work, args=arguments, name="qa-bot: build")
        try:
            worker.start()
            if nice:
                _lower(worker.pid, nice)
            result = _follow(worker, messages, progress)
        finally:
            worker.join()
            messages.close()
        return _served(folder, result, cache, started)


def _lower(pid: int | None, nice: int) -> None:
    # Set at once from here, not by the worker itself: its start (an interpreter and NumPy imported, about
    # 0.3 s of CPU) competes with the threads answering questions, and the processes it starts inherit it.
    with contextlib.suppress(OSError, AttributeError, TypeError):
        os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, 0) + nice)  # type: ignore[arg-type]


def _follow(worker: multiprocessing.process.BaseProcess, messages: Any, progress: Progress) -> _Result:
    """Pass on the worker's progress and log records until its result comes, or it ends without one."""
    while True:
        try:
            message = messages.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            if worker.is_alive():
                continue
            try:  # anything it sent before it ended is in the pipe already
                message = messages.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                worker.join()
                raise BuildFailed(f"the build's worker process {_ended(worker.exitcode)} before it finished") from None
        kind = message[0]
        if kind == "progress":
            progress(*message[1:])
        elif kind == "log":
            record: logging.LogRecord = message[1]
            logging.getLogger(record.name).handle(record)
        elif kind == "built":
            result: _Result = message[1]
            return result
        else:
            reason, trace = message[1], message[2]
            log.error("The build's worker process failed:\n%s", trace)
            raise BuildFailed(f"the build failed ({reason})")


def _served(folder: Path, result: _Result, cache: Path | None, started: float) -> tuple[SearchIndex, BuildReport]:
    file = store.open_file(Path(result.path)) if result.path is not None else None
    try:
        if file is not None:
            if file.meta.get("key") != result.key:
                raise BuildFailed("the saved index was replaced by another build meanwhile: reload again")
            file.verify()  # the worker checked it; this process has not yet (see index.store)
        return serve(folder, Built(file, result.skipped, result.from_cache, result.not_saved), cache, started)
    except BaseException:
        if file is not None:
            file.close()
        raise
