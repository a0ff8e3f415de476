"""The question log as the bot uses it: every database call on one dedicated thread, never on the event loop.

Logging an answer only puts it on that thread's queue (microseconds); reads are awaited. The database
failing in any way (locked, full, corrupt, read-only, missing folder) never reaches the answer path: it is
logged once, then at most once an hour, and `problem` says what is wrong for /stats to show.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import hashlib
import hmac
import itertools
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

import psycopg

from bot.config import MAX_COOLDOWN_SECONDS
from bot.questionlog.database import DATABASE_ERRORS, ForeignDatabase, StateLocation, describe, is_connection_failure
from bot.questionlog.schema import SchemaTooNew, open_database
from bot.questionlog.store import AnswerRecord, LogStore, Stats, Turn, VoteOutcome, day_of

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], float]  # Unix time in seconds; tests pass their own

REPORT_EVERY_SECONDS = 3600
QUEUE_LIMIT = 10_000  # answers waiting to be written; past it (a database stuck for minutes) they are dropped
DISCORD_EPOCH_MS = 1_420_070_400_000
SEQUENCE_BITS = 22
VOTING_DAYS = 7  # the feedback buttons work this long after the answer
SIGNATURE_BYTES = 12  # of a button's signature: a forger's guess succeeds once in 2**96
MAX_ANSWER_ID = (1 << 63) - 1  # answer ids are signed 64-bit integers in both databases
CLOCK_SKEW_SECONDS = 60.0  # an answer "from the future" by more than this is no answer of ours
DAY_SECONDS = 86_400
OFF = "the question log is turned off (STATE_DB=off)"
# A cooldown is decided within this long or by the process's own memory: the question waits for it before
# Discord's 3-second deadline for a first response (a locked SQLite file, a PostgreSQL server gone quiet).
TURN_WAIT_SECONDS = 0.5
# A vote is thanked (or refused) within this long: Discord expects a button's response within 3 s.
VOTE_WAIT_SECONDS = 2.0
# After a PostgreSQL server could not be reached, calls fail at once (with that reason) for this long rather
# than each waiting for a connection's timeout.
RECONNECT_SECONDS = 10.0


def answer_id_at(timestamp: float, sequence: int) -> int:
    """An answer id shaped like a Discord snowflake: its time in the high bits, so its age needs no lookup."""
    return ((int(timestamp * 1000) - DISCORD_EPOCH_MS) << SEQUENCE_BITS) | (sequence & ((1 << SEQUENCE_BITS) - 1))


def answer_time(answer_id: int) -> float:
    return ((answer_id >> SEQUENCE_BITS) + DISCORD_EPOCH_MS) / 1000


def button_signature(key: bytes, answer_id: int, guild_id: int) -> str:
    """What an answer's feedback buttons carry to prove that this bot made them for that answer, in that
    server (0: a DM): a keyed hash of both, 12 bytes in URL-safe base64 (16 characters)."""
    digest = hmac.new(key, f"{answer_id}:{guild_id}".encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:SIGNATURE_BYTES]).decode("ascii")


class LogUnavailable(Exception):
    """The question log cannot be read or written now; the message says why."""


class Unreachable(Exception):
    """The PostgreSQL server was out of reach a moment ago: not tried again yet (see RECONNECT_SECONDS)."""


class QuestionLog:
    """The log in STATE_DB's database at `path` (None: turned off), keeping question text `keep_days` days.

    Also the members' cooldowns, in the same database, so that every process sharing it shares them.
    """

    def __init__(self, path: StateLocation | None, keep_days: int, clock: Clock = time.time) -> None:
        self.path = path
        self.keep_days = keep_days
        self.clock = clock
        self._sequence = itertools.count(secrets.randbelow(1 << SEQUENCE_BITS))
        # (job, its future, whether it writes): only a write that works shows the log works again.
        self._jobs: queue.Queue[tuple[Callable[[LogStore], object], concurrent.futures.Future[object], bool] | None]
        self._jobs = queue.Queue(QUEUE_LIMIT)
        self._thread: threading.Thread | None = None
        self._store: LogStore | None = None
        self._problem: str | None = None if path is not None else OFF
        self._last_report: float | None = None
        self._reconnect_at = 0.0  # time.monotonic(): no new connection before it
        self._button_key: bytes | None = None  # signs feedback buttons: known once the database was opened

    @property
    def enabled(self) -> bool:
        return self.path is not None

    @property
    def problem(self) -> str | None:
        """Why the log is not recording now (None: it is)."""
        return self._problem

    # -- the event loop's side

    async def start(self) -> None:
        """Start the thread and open the database (a failure is logged, never raised)."""
        if self.path is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._work, name="question-log", daemon=True)
        self._thread.start()
        # A failure was logged by the thread (a bug with its traceback); the bot starts and answers anyway.
        with contextlib.suppress(Exception):
            await self._call(lambda store: None, writes=False)

    async def close(self) -> None:
        """Write what is queued, then stop the thread and close the database."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        await asyncio.to_thread(self._jobs.put, None)
        await asyncio.to_thread(thread.join)

    async def flush(self) -> None:
        """Wait until everything queued so far has been written (or has failed)."""
        if self._thread is not None:
            await asyncio.to_thread(self._jobs.join)

    def new_answer_id(self) -> int:
        return answer_id_at(self.clock(), next(self._sequence))

    def record(self, answer: AnswerRecord) -> None:
        """Queue an answered question for writing; never blocks, never raises."""
        if self._thread is None:
            return
        try:
            self._jobs.put_nowait((lambda store: store.record(answer), concurrent.futures.Future(), True))
        except queue.Full:
            self._failed(RuntimeError(f"{QUEUE_LIMIT:,} answers were waiting to be written; this one was dropped"))

    async def stats(self, days: int, guild_ids: Sequence[int] | None) -> Stats:
        """Counts and unanswered questions for the last `days` days. Raises LogUnavailable."""
        now = self.clock()
        return await self._call(lambda store: store.stats(now, days, guild_ids), writes=False)

    def signature(self, answer_id: int, guild_id: int) -> str | None:
        """The signature for an answer's feedback buttons; None while the log has not been opened (no buttons)."""
        key = self._button_key
        return None if key is None else button_signature(key, answer_id, guild_id)

    async def vote(self, answer_id: int, signature: str, guild_id: int, user_id: int, helpful: bool) -> VoteOutcome:
        """Record a Helpful / Not helpful vote pressed in `guild_id` (0: a DM) on a button carrying `signature`.

        NOT_OURS, and nothing written, unless this database's key signed that answer id for that server.
        Raises LogUnavailable, also when the database does not answer within VOTE_WAIT_SECONDS.
        """
        if not 0 < answer_id <= MAX_ANSWER_ID:
            return VoteOutcome.NOT_OURS
        answered_at, now = answer_time(answer_id), self.clock()
        if answered_at > now + CLOCK_SKEW_SECONDS:
            return VoteOutcome.NOT_OURS
        expired = now - answered_at > VOTING_DAYS * DAY_SECONDS
        day = day_of(answered_at)

        def vote(store: LogStore) -> VoteOutcome:
            key = store.button_key
            if key is None or not hmac.compare_digest(signature, button_signature(key, answer_id, guild_id)):
                return VoteOutcome.NOT_OURS
            if expired:
                return VoteOutcome.EXPIRED
            return store.vote(answer_id, day, guild_id, user_id, helpful)

        try:
            return await asyncio.wait_for(self._call(vote), VOTE_WAIT_SECONDS)
        except TimeoutError:
            raise LogUnavailable("the shared state was too slow to answer") from None

    async def prune(self) -> int:
        """Forget what is older than the retention allows. Raises LogUnavailable."""
        now = self.clock()
        # A day's margin past the voting window: a vote never meets a pruned record of its own.
        votes_before = answer_id_at(now - (VOTING_DAYS + 1) * DAY_SECONDS, 0)
        return await self._call(lambda store: store.prune(now, votes_before))

    async def take_turn(self, user_id: int, seconds: float) -> Turn:
        """The member's question against their cooldown, shared by every process on this database.

        Raises LogUnavailable (the caller then keeps the cooldown in its own memory).
        """
        if not 0 < seconds <= MAX_COOLDOWN_SECONDS:
            raise ValueError(f"a cooldown of {seconds} s")
        now = self.clock()
        try:
            return await asyncio.wait_for(
                self._call(lambda store: store.take_turn(user_id, now, seconds)), TURN_WAIT_SECONDS
            )
        except TimeoutError:  # its job, if not yet started, is cancelled and skipped by the thread
            raise LogUnavailable("the shared state was too slow to answer") from None

    async def _call(self, job: Callable[[LogStore], T], *, writes: bool = True) -> T:
        if self._thread is None:
            raise LogUnavailable(self._problem or "the question log is not started")
        future: concurrent.futures.Future[object] = concurrent.futures.Future()
        try:
            self._jobs.put_nowait((job, future, writes))
        except queue.Full:
            raise LogUnavailable("the question log is overloaded: too many writes are waiting") from None
        return cast(T, await asyncio.wrap_future(future))

    # -- the log's thread

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, future, writes = item
            if not future.set_running_or_notify_cancel():  # its caller is gone (the bot closing): skip it
                self._jobs.task_done()
                continue
            try:
                result = job(self._open())
            except Unreachable as error:
                future.set_exception(LogUnavailable(str(error)))
            except (*DATABASE_ERRORS, SchemaTooNew, ForeignDatabase) as error:
                future.set_exception(LogUnavailable(self._failed(error)))
            except BaseException as error:  # a bug: the caller sees it, the thread lives on
                log.exception("Unexpected error in the question log")
                future.set_exception(error)
            else:
                if writes:
                    self._recovered()
                future.set_result(result)
            finally:
                self._jobs.task_done()
        self._jobs.task_done()
        if self._store is not None:
            self._store.db.close()
            self._store = None

    def _open(self) -> LogStore:
        if self._store is None:
            assert self.path is not None
            if time.monotonic() < self._reconnect_at:
                raise Unreachable(self._problem or "the shared state is unreachable")
            try:
                self._store = LogStore(open_database(self.path), self.keep_days)
            except psycopg.OperationalError as error:
                if is_connection_failure(error):
                    self._reconnect_at = time.monotonic() + RECONNECT_SECONDS
                raise
            self._button_key = self._store.button_key
        return self._store

    def _failed(self, error: BaseException) -> str:
        """Note and report (at most hourly) why the log is unavailable; returns why."""
        connected = self._store is not None
        if self._store is not None and self._store.db.lost(error):
            # A corrupt file (someone may replace it), a server gone: connect from scratch next time.
            self._store.db.close()
            self._store = None
        self._problem = problem = describe(error, self.path, connected)
        now = self.clock()
        if self._last_report is None or now - self._last_report >= REPORT_EVERY_SECONDS:
            self._last_report = now
            log.warning(
                "The question log at %s is unavailable (%s); answers go on without it. "
                "The next report of this comes in an hour at the earliest.",
                self.path,
                problem,
            )
        return problem

    def _recovered(self) -> None:
        if self._problem is not None:
            log.info("The question log at %s works again", self.path)
            self._problem = None
