"""Reading and writing the shared state (question log, votes, cooldowns): synchronous, on one connection.

The same SQL runs on SQLite and PostgreSQL (see `database`). Only `service.QuestionLog`'s thread calls
these; tests and `qa-bot stats` call them directly.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.config import MAX_COOLDOWN_SECONDS
from bot.questionlog.database import StateDatabase
from index import normalise

DAY_SECONDS = 86_400
COUNT_DAYS = 90  # daily counts are kept as long as /stats can look back
UNANSWERED_SHOWN = 10
VOTER_BYTES = 16


class VoteOutcome(enum.Enum):
    RECORDED = "recorded"  # a first vote
    CHANGED = "changed"  # replaces this person's other vote
    UNCHANGED = "unchanged"  # the same vote again
    EXPIRED = "expired"  # the answer is too old to rate
    NOT_OURS = "not ours"  # not a button this bot made for an answer in this server: nothing is written


def day_of(timestamp: float) -> date:
    """The UTC day of a Unix time: /stats and the chart count by UTC day."""
    return datetime.fromtimestamp(timestamp, UTC).date()


def start_of(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def grouping_key(question: str) -> str:
    """What makes two questions the same one: their words, whatever the case, spacing and punctuation."""
    words = re.findall(r"\w+", normalise(question))
    return " ".join(words) if words else " ".join(normalise(question).split())


@dataclass(frozen=True)
class AnswerRecord:
    """One answered question, as logged."""

    answer_id: int
    asked_at: float
    guild_id: int  # 0: a direct message
    question: str
    confident: bool
    article: str | None
    sentence: int | None
    latency_ms: float


@dataclass(frozen=True)
class DayCounts:
    day: date
    questions: int = 0
    confident: int = 0
    helpful: int = 0
    not_helpful: int = 0


@dataclass(frozen=True)
class Stats:
    """What /stats shows: counts per day over the window (oldest first, every day), and the questions
    most often asked without a confident answer ((latest wording, times asked), most asked first)."""

    days: tuple[DayCounts, ...]
    unanswered: tuple[tuple[str, int], ...]

    @property
    def questions(self) -> int:
        return sum(d.questions for d in self.days)

    @property
    def confident(self) -> int:
        return sum(d.confident for d in self.days)

    @property
    def confident_share(self) -> float | None:
        return self.confident / self.questions if self.questions else None

    @property
    def helpful(self) -> int:
        return sum(d.helpful for d in self.days)

    @property
    def not_helpful(self) -> int:
        return sum(d.not_helpful for d in self.days)

    @property
    def helpful_rate(self) -> float | None:
        votes = self.helpful + self.not_helpful
        return self.helpful / votes if votes else None


@dataclass(frozen=True)
class Turn:
    """A member's question against their cooldown: 0 seconds to wait, and it counts; else refused."""

    retry_after: float
    first_refusal: bool = False  # the first refusal in this window: a flood of messages gets one "wait"

    @property
    def allowed(self) -> bool:
        return self.retry_after == 0


# The window is open again `seconds` after the question that opened it (or if the clock went back past
# it); then the question opens a new one. Else it is refused, and counted, so only the first says "wait".
_WINDOW_OPEN = "(excluded.asked_at - cooldowns.asked_at >= ? OR excluded.asked_at < cooldowns.asked_at - ?)"
TAKE_TURN = f"""INSERT INTO cooldowns (member, asked_at, refusals) VALUES (?, ?, 0)
    ON CONFLICT (member) DO UPDATE SET
    asked_at = CASE WHEN {_WINDOW_OPEN} THEN excluded.asked_at ELSE cooldowns.asked_at END,
    refusals = CASE WHEN {_WINDOW_OPEN} THEN 0 ELSE cooldowns.refusals + 1 END
    RETURNING asked_at, refusals"""


def _scope(guild_ids: Sequence[int] | None) -> tuple[str, list[int]]:
    if guild_ids is None:
        return "", []
    return f" AND guild_id IN ({', '.join('?' * len(guild_ids))})", list(guild_ids)


class LogStore:
    """The question log's reads and writes over one open, migrated connection."""

    def __init__(self, db: StateDatabase, keep_days: int) -> None:
        self.db = db
        self.keep_days = keep_days  # QUESTION_LOG_DAYS; 0 keeps the counts only
        keys = {key: bytes(value) for key, value in db.execute("SELECT key, value FROM meta")}
        self._salt = keys["salt"]
        # Signs the feedback buttons; None only in a log of an older schema opened read-only (`qa-bot stats`).
        self.button_key: bytes | None = keys.get("button_key")

    def voter(self, user_id: int) -> bytes:
        """Who voted or asked, as stored: a keyed hash of the user id, never the id itself."""
        return hmac.new(self._salt, str(user_id).encode(), hashlib.sha256).digest()[:VOTER_BYTES]

    def record(self, answer: AnswerRecord) -> None:
        db = self.db
        with db.transaction():
            if self.keep_days > 0:
                db.execute(
                    "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    (
                        answer.answer_id,
                        answer.asked_at,
                        answer.guild_id,
                        answer.question,
                        grouping_key(answer.question),
                        int(answer.confident),
                        answer.article,
                        answer.sentence,
                        answer.latency_ms,
                    ),
                )
            db.execute(
                """INSERT INTO daily_counts (day, guild_id, questions, confident) VALUES (?, ?, 1, ?)
                   ON CONFLICT (day, guild_id) DO UPDATE SET
                   questions = daily_counts.questions + 1, confident = daily_counts.confident + excluded.confident""",
                (day_of(answer.asked_at).isoformat(), answer.guild_id, int(answer.confident)),
            )

    def vote(self, answer_id: int, answered_on: date, guild_id: int, user_id: int, helpful: bool) -> VoteOutcome:
        """One vote per person per answer; a different vote replaces it. Counted on the answer's day."""
        db, voter = self.db, self.voter(user_id)
        with db.transaction(exclusive=True):  # read, then write what depends on it: no other vote in between
            row = db.execute(
                "SELECT helpful FROM votes WHERE answer_id = ? AND voter = ?", (answer_id, voter)
            ).fetchone()
            if row is not None and bool(row[0]) == helpful:
                return VoteOutcome.UNCHANGED
            db.execute(
                "INSERT INTO votes VALUES (?, ?, ?)"
                " ON CONFLICT (answer_id, voter) DO UPDATE SET helpful = excluded.helpful",
                (answer_id, voter, int(helpful)),
            )
            up = int(helpful) - (0 if row is None else int(not helpful))
            down = int(not helpful) - (0 if row is None else int(helpful))
            db.execute(
                """INSERT INTO daily_counts (day, guild_id, helpful, not_helpful) VALUES (?, ?, ?, ?)
                   ON CONFLICT (day, guild_id) DO UPDATE SET
                   helpful = daily_counts.helpful + excluded.helpful,
                   not_helpful = daily_counts.not_helpful + excluded.not_helpful""",
                (answered_on.isoformat(), guild_id, up, down),
            )
        return VoteOutcome.RECORDED if row is None else VoteOutcome.CHANGED

    def prune(self, now: float, votes_before: int = 0) -> int:
        """Forget questions older than QUESTION_LOG_DAYS, counts older than COUNT_DAYS, the votes on answers
        whose id is below `votes_before` (their voting has closed) and cooldowns past the longest one;
        returns the rows deleted."""
        db = self.db
        oldest_count = (day_of(now) - timedelta(days=COUNT_DAYS)).isoformat()
        with db.transaction():
            deleted = db.execute("DELETE FROM answers WHERE asked_at < ?", (now - self.keep_days * DAY_SECONDS,))
            counted = db.execute("DELETE FROM daily_counts WHERE day < ?", (oldest_count,))
            votes = db.execute("DELETE FROM votes WHERE answer_id < ?", (votes_before,))
            # Only rows whose window has closed whatever the cooldown; a clock set back keeps its rows too.
            cooldowns = db.execute(
                "DELETE FROM cooldowns WHERE asked_at < ? OR asked_at > ?",
                (now - MAX_COOLDOWN_SECONDS, now + MAX_COOLDOWN_SECONDS),
            )
        return deleted.rowcount + counted.rowcount + votes.rowcount + cooldowns.rowcount

    def take_turn(self, user_id: int, now: float, seconds: float) -> Turn:
        """The member asks at `now`: their turn, or how long to wait. One statement, so atomic in both
        databases: of two processes asking for the same member at once, one gets the turn."""
        (asked_at, refusals), *_ = self.db.execute(TAKE_TURN, (self.voter(user_id), now, *(seconds,) * 4))
        if refusals == 0:
            return Turn(0.0)
        return Turn(min(seconds, seconds - (now - asked_at)), first_refusal=refusals == 1)

    def stats(self, now: float, days: int, guild_ids: Sequence[int] | None) -> Stats:
        """The last `days` UTC days up to `now`'s, for the given servers (0: DMs; None: everywhere)."""
        last = day_of(now)
        first = last - timedelta(days=days - 1)
        where, scope = _scope(guild_ids)
        db = self.db
        with db.snapshot():  # one state of the database for both reads
            counted = {
                row[0]: row[1:]
                for row in db.execute(
                    "SELECT day, SUM(questions), SUM(confident), SUM(helpful), SUM(not_helpful)"
                    " FROM daily_counts WHERE day >= ?" + where + " GROUP BY day",
                    [first.isoformat(), *scope],
                )
            }
            # Each question's latest wording, and how often it was asked in any wording.
            unanswered = db.execute(
                "SELECT question, asked, asked_at FROM ("
                " SELECT question, asked_at, COUNT(*) OVER same AS asked,"
                " ROW_NUMBER() OVER (same ORDER BY asked_at DESC, id DESC) AS newest FROM answers"
                " WHERE confident = 0 AND asked_at >= ?" + where + " WINDOW same AS (PARTITION BY normalised)"
                ") AS wordings WHERE newest = 1 ORDER BY asked DESC, asked_at DESC LIMIT ?",
                [start_of(first), *scope, UNANSWERED_SHOWN],
            ).fetchall()
        per_day = []
        for offset in range(days):
            day = first + timedelta(days=offset)
            per_day.append(DayCounts(day, *counted.get(day.isoformat(), ())))
        return Stats(tuple(per_day), tuple((question, asked) for question, asked, _ in unanswered))
