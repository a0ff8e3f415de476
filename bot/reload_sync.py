"""Reloads in step: when any process serving a saved index reloads, every other one maps the new file.

Beside the saved index `index-<key>.bin` (one per seeds folder; see index.store) live two more things:

- `index-<key>.generation`: `{"generation": n, "by": peer}`, bumped by the process that reloaded, after
  its new index was saved. Written to a temporary name and renamed, so it is read whole or not at all.
- `index-<key>.peers/<peer>.json`: each serving process's pid, shards, the generation it serves and, when
  it could not follow the last one, why; beside it `<peer>.lock`, which the process holds an flock on for as
  long as it serves. A peer whose lock nobody holds is gone, whatever its pid now names (a pid is reused,
  by another process or in a container restarted with the cache kept): its files are removed.

Each process watches the generation file from a thread: one `stat` every POLL_SECONDS, never on the
event loop. When it changes, the process reloads (the build lock makes that a map of the file just
saved, not a second build) and writes its status. The process that reloaded waits, in a thread too,
until every live peer's status names the new generation, and says how many serve it.

Processes of one machine only: another machine has its own cache folder, and builds or maps its own index.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index import build_lock, read_regular

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2  # a reload reaches every process within this, plus the time to map the file
ANSWER_SECONDS = 30.0  # how long the reloading process waits for the others to report
# Follows the local index to the newest saved one; returns why it could not (None: it serves it now).
Follow = Callable[[], Coroutine[Any, Any, str | None]]


@dataclass(frozen=True)
class PeerStatus:
    peer: str
    pid: int
    shards: str
    generation: int
    error: str | None = None  # why this process could not map the index of `generation` (it serves an older one)


@dataclass(frozen=True)
class InStep:
    """How far a reload got across the processes serving the index."""

    generation: int
    total: int  # live processes serving this index, the reloading one included
    serving: int  # of them, those that serve the new index
    failed: tuple[PeerStatus, ...] = ()  # could not map it, and keep their previous index
    silent: tuple[PeerStatus, ...] = ()  # did not report in time

    def describe(self) -> str | None:
        """One line for the moderator; None when this is the only process (nothing to say)."""
        if self.total <= 1:
            return None
        lines = [f"Serving the new index: {self.serving}/{self.total} processes."]
        for peer in self.failed:
            lines.append(
                f"The process for {peer.shards} could not map it and keeps serving the previous index "
                f"({peer.error}); see its log."
            )
        for peer in self.silent:
            lines.append(f"The process for {peer.shards} has not reported yet; see its log.")
        return "\n".join(lines)


def _held(lock: Path) -> bool:
    """Whether a live process holds its flock on `lock` (the kernel drops it when the holder exits)."""
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:  # missing (a process that never took it) or not a plain file: nobody holds it
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # also lets go of the shared lock just taken
    return False


def _write_json(path: Path, value: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        temporary.write_text(json.dumps(value), encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(read_regular(path).decode("utf-8"))  # a FIFO put there is refused, not waited on
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


class ReloadSync:
    """This process's part in reloading in step with the others that serve the index at `index_path`."""

    def __init__(
        self,
        index_path: Path,
        shards: str,
        follow: Follow,
        *,
        poll_seconds: float = POLL_SECONDS,
        answer_seconds: float = ANSWER_SECONDS,
    ) -> None:
        self.index_path = index_path
        self.generation_path = index_path.with_suffix(".generation")
        self.peers_dir = index_path.with_suffix(".peers")
        self.peer = f"{os.getpid()}-{secrets.token_hex(4)}"  # unique among holders of one process too
        self.shards = shards
        self._follow = follow
        self._poll = poll_seconds
        self._answer = answer_seconds
        self._generation = 0
        self._error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock_fd: int | None = None  # held while this process serves: what tells the others it lives

    @property
    def generation(self) -> int:
        """The generation this process serves (or last tried to)."""
        return self._generation

    # -- the event loop's side

    async def read_generation(self) -> int:
        """The generation now: read it before building, so a reload during the build is not missed."""
        return (await asyncio.to_thread(self._read_generation))[0]

    async def start(self, generation: int) -> None:
        """Register as serving `generation` and start watching (a failure to register is logged, not raised)."""
        self._generation = generation
        self._loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(self._write_status)
        except OSError as error:
            log.warning("Cannot register in %s (%s): reloads in other processes will not reach this one.",
                        self.peers_dir, error)  # fmt: skip
            return
        self._thread = threading.Thread(target=self._watch, name="reload-sync", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            await asyncio.to_thread(thread.join)
        with contextlib.suppress(OSError):
            await asyncio.to_thread((self.peers_dir / f"{self.peer}.json").unlink, True)
        with contextlib.suppress(OSError):
            await asyncio.to_thread((self.peers_dir / f"{self.peer}.lock").unlink, True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    async def announce(self) -> InStep:
        """After this process reloaded: tell the others, wait for them to follow, and say how far it got."""
        if self._thread is None:  # not registered: the others cannot be counted
            return InStep(self._generation, 1, 1)
        try:
            generation = await asyncio.to_thread(self._bump)
        except OSError as error:
            log.warning("Cannot tell the other processes about the reload (%s): they keep their index.", error)
            return InStep(self._generation, 1, 1)
        return await asyncio.to_thread(self._wait_for_peers, generation)

    # -- files, on worker threads

    def _read_generation(self) -> tuple[int, str | None]:
        value = _read_json(self.generation_path) or {}
        generation = value.get("generation")
        return (generation if isinstance(generation, int) else 0), value.get("by")

    def _write_status(self) -> None:
        self.peers_dir.mkdir(parents=True, exist_ok=True)
        if self._lock_fd is None:  # first the lock, then the status: a status file always has its lock
            fd = os.open(self.peers_dir / f"{self.peer}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a name of its own: nobody else takes it
            except BaseException:
                os.close(fd)
                raise
            self._lock_fd = fd
        status = {"pid": os.getpid(), "shards": self.shards, "generation": self._generation, "error": self._error}
        _write_json(self.peers_dir / f"{self.peer}.json", status)

    def _bump(self) -> int:
        # Under the build lock: two reloads finishing at once take turns, and never write the same number.
        with build_lock(self.index_path):
            generation = max(self._read_generation()[0], self._generation) + 1
            _write_json(self.generation_path, {"generation": generation, "by": self.peer})
        self._generation, self._error = generation, None
        self._write_status()
        return generation

    def peers(self) -> list[PeerStatus]:
        """The live processes serving this index; files left by processes that have exited are removed.

        Live means holding its lock (see the module's doc), not having a pid that exists.
        """
        found = []
        try:
            names = [entry.name for entry in os.scandir(self.peers_dir) if entry.name.endswith(".json")]
        except OSError:
            return []
        for name in names:
            value = _read_json(self.peers_dir / name)
            if value is None:
                continue
            pid = value.get("pid")
            peer = name.removesuffix(".json")
            if not isinstance(pid, int) or not _held(self.peers_dir / f"{peer}.lock"):
                for stale in (name, f"{peer}.lock"):
                    with contextlib.suppress(OSError):
                        (self.peers_dir / stale).unlink()
                continue
            generation = value.get("generation")
            found.append(
                PeerStatus(
                    peer=peer,
                    pid=pid,
                    shards=str(value.get("shards")),
                    generation=generation if isinstance(generation, int) else 0,
                    error=value.get("error") if isinstance(value.get("error"), str) else None,
                )
            )
        return sorted(found, key=lambda p: p.shards)

    def _wait_for_peers(self, generation: int) -> InStep:
        deadline = time.monotonic() + self._answer
        while True:
            peers = self.peers()
            behind = [p for p in peers if p.generation < generation]
            if not behind or time.monotonic() > deadline or self._stop.is_set():
                break
            self._stop.wait(self._poll / 2)
        failed = tuple(p for p in peers if p.generation >= generation and p.error)
        serving = sum(1 for p in peers if p.generation >= generation and not p.error)
        return InStep(generation, len(peers), serving, failed, tuple(behind))

    # -- the watching thread

    def _watch(self) -> None:
        seen: tuple[int, ...] | None = None
        while not self._stop.wait(self._poll):
            try:
                status = os.stat(self.generation_path)
            except OSError:
                continue
            stamp = (status.st_ino, status.st_size, status.st_mtime_ns)
            if stamp == seen:
                continue
            seen = stamp
            generation, by = self._read_generation()
            if generation <= self._generation or by == self.peer:
                continue
            try:
                self._follow_to(generation)
            except Exception:
                log.exception("Following the reload to generation %d failed", generation)

    def _follow_to(self, generation: int) -> None:
        assert self._loop is not None
        try:
            error = asyncio.run_coroutine_threadsafe(self._follow(), self._loop).result()
        except RuntimeError:  # the loop is closed: the process is stopping
            return
        self._generation, self._error = generation, error
        if error is None:
            log.info("Now serving the index another process reloaded (generation %d).", generation)
        else:
            log.warning(
                "Could not map the index another process reloaded (generation %d); still serving the previous one: %s",
                generation,
                error,
            )
        self._write_status()
