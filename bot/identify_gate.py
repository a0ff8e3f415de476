"""IDENTIFYs spaced across every process of this machine, as Discord's session start limit requires.

Discord accepts `max_concurrency` IDENTIFYs per 5 seconds (1 for nearly every bot), counted per bucket
`shard_id % max_concurrency`. discord.py spaces the shards of one process (`before_identify_hook`
sleeps 5 s before every IDENTIFY but the first); processes started together know nothing of each other.

So each bucket has a small file beside the saved index, `index-<key>.identify/<bucket>`, which every
process serving that index shares. It holds the wall time (time.time(): comparable between processes,
unlike monotonic clocks) of the bucket's last IDENTIFY. A shard about to connect (`take_turn`, called by
QABot.launch_shard before discord.py opens the shard's socket):

1. takes an exclusive flock on the file (non-blocking attempts from a worker thread, every POLL_SECONDS,
   so that no thread is ever stuck in the kernel when the bot stops);
2. sleeps until the interval has passed since the recorded time;
3. connects; discord.py's `before_identify_hook` then finds the turn taken and returns at once, and the
   IDENTIFY is written to the socket in the same step of the task;
4. only then (the event loop's next step) records the time and releases the lock.

The turn is waited for before the socket opens because an open socket is read only by the shard's own
task, which is waiting: Discord's heartbeat acknowledgements pile up unread (discord.py warns "Can't keep
up, shard … behind" past 10 s and closes the socket past its heartbeat timeout), and with more processes a
wait grows by an interval per shard ahead. An IDENTIFY that discord.py makes again on a reconnect (its
socket already open) waits in the hook instead, for at most REIDENTIFY_WAIT_INTERVALS intervals, as
discord.py's own hook sleeps one.

Recording after the send, not before, is what makes the spacing exact: the next shard's wait starts
from a time at or after this shard's IDENTIFY left, so no delay in waking up can bring two closer than
the interval. The kernel drops a flock when its holder exits, however it exits: a killed process leaves
no stale lock, at worst a recorded time that makes the next shard wait one interval.

Processes of one machine only; several machines stagger their starts or rely on Discord's retry
(an invalid session, after which discord.py identifies again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.config import IDENTIFY_SECONDS

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05  # how often a waiting shard tries the lock again
# A re-IDENTIFY waits at most this many intervals for its turn, its socket open meanwhile; then it goes
# (Discord answers one over its rate with an invalid session, and discord.py identifies again).
REIDENTIFY_WAIT_INTERVALS = 1.0


def gate_folder(index_path: Path) -> Path:
    """`index-<key>.identify/` beside `index-<key>.bin`: shared by the processes that serve that index."""
    return index_path.with_suffix(".identify")


class IdentifyGate:
    """One machine's IDENTIFY turns, per bucket, for the shards of every process sharing `folder`."""

    def __init__(
        self,
        folder: Path,
        interval: float = IDENTIFY_SECONDS,
        concurrency: int = 1,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`clock` and `sleep` measure and wait out the interval (tests pass a clock that sleeping moves)."""
        self.folder = folder
        self.interval = interval
        self.concurrency = concurrency
        self.clock = clock
        self.sleep = sleep
        self._unusable = False  # the folder cannot hold the lock: discord.py's own spacing, per process
        self._releases: set[asyncio.Task[None]] = set()
        # Turns taken before connecting, by shard: the bucket lock's fd, held until the IDENTIFY is sent
        # (None: no gate, the fallback spacing was waited out).
        self._turns: dict[int | None, int | None] = {}

    def bucket(self, shard_id: int | None) -> int:
        return (shard_id or 0) % self.concurrency

    async def take_turn(self, shard_id: int | None, *, initial: bool) -> None:
        """Wait for this shard's turn to IDENTIFY, before its socket opens; the turn is held (across discord.py's
        retries of the connection) until the IDENTIFY is sent, or `drop_turn`."""
        if shard_id in self._turns:
            return
        held = await self._take(self.bucket(shard_id), initial=initial)
        if held is None:
            self._turns[shard_id] = None
            return
        fd, last = held
        try:
            await self._sleep_past(last)
        except BaseException:
            os.close(fd)  # cancelled (the bot is closing): nothing was sent, nothing to record
            raise
        self._turns[shard_id] = fd

    def drop_turn(self, shard_id: int | None) -> None:
        """Let a turn go unused (the shard will not connect now): nothing was sent, nothing is recorded."""
        fd = self._turns.pop(shard_id, None)
        if fd is not None:
            os.close(fd)

    async def before_identify(self, shard_id: int | None, *, initial: bool) -> None:
        """The IDENTIFY must be sent right after this returns: at once with the turn taken before connecting;
        else (a re-IDENTIFY on a reconnect) after waiting for it here, bounded (REIDENTIFY_WAIT_INTERVALS)."""
        if shard_id not in self._turns:
            try:
                await asyncio.wait_for(
                    self.take_turn(shard_id, initial=initial), self.interval * REIDENTIFY_WAIT_INTERVALS
                )
            except TimeoutError:  # take_turn let its lock go when cancelled
                log.warning(
                    "Shard %s identifies again without waiting longer for its turn (another process holds it); "
                    "Discord may ask it to try again.",
                    shard_id,
                )
                return
        fd = self._turns.pop(shard_id)
        if fd is None:
            return
        # A task's first step runs after the current one, in which discord.py writes the IDENTIFY.
        release = asyncio.get_running_loop().create_task(self._record_and_release(fd))
        self._releases.add(release)
        release.add_done_callback(self._releases.discard)

    async def _take(self, bucket: int, *, initial: bool) -> tuple[int, float | None] | None:
        """The bucket's lock (its fd) and last recorded time; None when there is no gate (after the fallback)."""
        while not self._unusable:
            attempt = asyncio.ensure_future(asyncio.to_thread(self._try_lock, bucket))
            try:
                held = await asyncio.shield(attempt)
            except asyncio.CancelledError:
                attempt.add_done_callback(_close_if_taken)  # a lock taken after all is let go at once
                raise
            except OSError as error:  # also ImportError's stand-in below: no fcntl
                log.warning(
                    "Cannot use %s to space IDENTIFYs with the other processes (%s); spacing this process's "
                    "shards only.",
                    self.folder,
                    error,
                )
                self._unusable = True
                break
            if held is not None:
                return held
            await asyncio.sleep(POLL_SECONDS)
        if not initial:  # discord.py's own behaviour, which this gate replaces when it works
            await self.sleep(self.interval)
        return None

    async def _sleep_past(self, last: float | None) -> None:
        """Until `interval` after `last` by the wall clock, or a full interval by the monotonic one."""
        if last is None:
            return
        now = self.clock()
        deadline = min(last, now) + self.interval  # a time in the future: the clock was set back
        started = time.monotonic()
        while (left := deadline - self.clock()) > 0 and time.monotonic() - started < self.interval:
            await self.sleep(min(left, self.interval))

    async def _record_and_release(self, fd: int) -> None:
        # The thread closes the fd itself: cancelled (the loop stopping), it still lets the lock go.
        await asyncio.to_thread(self._record_and_close, fd)

    async def close(self) -> None:
        """Let any IDENTIFY still being recorded finish, and any turn not used go."""
        if self._releases:
            await asyncio.gather(*self._releases, return_exceptions=True)
        for shard_id in list(self._turns):
            self.drop_turn(shard_id)

    # -- on worker threads

    def _try_lock(self, bucket: int) -> tuple[int, float | None] | None:
        """The locked file's fd and its recorded time, or None when another holds it."""
        try:
            import fcntl
        except ImportError:  # Windows: no flock
            raise OSError("this system has no flock") from None
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / str(bucket), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        try:
            text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            last = float(text) if text else None
        except (OSError, ValueError):  # unreadable or garbled: wait one full interval to be safe
            last = self.clock()
        return fd, last

    def _record_and_close(self, fd: int) -> None:
        stamp = f"{self.clock():.6f}\n".encode("ascii")
        try:
            os.pwrite(fd, stamp, 0)  # a write cut short reads as garbled: the next shard waits a full interval
            os.ftruncate(fd, len(stamp))
        except OSError as error:
            log.warning("Cannot record the IDENTIFY in %s (%s).", self.folder, error)
        finally:
            os.close(fd)  # releases the lock


def _close_if_taken(attempt: asyncio.Future[tuple[int, float | None] | None]) -> None:
    if attempt.cancelled() or attempt.exception() is not None:
        return
    held = attempt.result()
    if held is not None:
        with contextlib.suppress(OSError):
            os.close(held[0])
