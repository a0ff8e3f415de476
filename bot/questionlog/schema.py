"""Opening the question log's database, and its schema: one forward migration per version.

The version is SQLite's `PRAGMA user_version`. A database at version N is brought to `LATEST` by running
migrations N+1 … LATEST in order, each in its own transaction, so a crash leaves it at some whole version.
A database from a newer qa-bot is refused, never downgraded.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path

BUSY_TIMEOUT_MS = 1000  # a write waits this long for another process's lock, then counts as failed
SALT_BYTES = 32


class SchemaTooNew(sqlite3.DatabaseError):
    """The database was written by a newer qa-bot."""


def _v1_question_log(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE answers (
            id INTEGER PRIMARY KEY,     -- the answer id in its feedback buttons (a snowflake of its time)
            asked_at REAL NOT NULL,     -- Unix time, seconds
            guild_id INTEGER NOT NULL,  -- 0: a direct message
            question TEXT NOT NULL,     -- the first 500 characters
            normalised TEXT NOT NULL,   -- what groups the same question asked in other words' case or marks
            confident INTEGER NOT NULL,
            article TEXT,               -- the first hit's article id and sentence number; NULL: no hit
            sentence INTEGER,
            latency_ms REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX answers_by_guild_time ON answers (guild_id, asked_at)")
    db.execute("CREATE INDEX answers_by_time ON answers (asked_at)")
    # Counts outlive the questions (QUESTION_LOG_DAYS), so /stats can count what it can no longer list.
    db.execute(
        """CREATE TABLE daily_counts (
            day TEXT NOT NULL,          -- YYYY-MM-DD, UTC
            guild_id INTEGER NOT NULL,  -- 0: direct messages
            questions INTEGER NOT NULL DEFAULT 0,
            confident INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, guild_id)
        ) WITHOUT ROWID"""
    )


def _v2_feedback(db: sqlite3.Connection) -> None:
    # Voters are stored as a keyed hash of their user id; the key (salt) is made here, once per database.
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('salt', ?)", (secrets.token_bytes(SALT_BYTES),))
    db.execute(
        """CREATE TABLE votes (
            answer_id INTEGER NOT NULL,
            voter BLOB NOT NULL,        -- HMAC-SHA256(salt, user id), first 16 bytes
            helpful INTEGER NOT NULL,   -- 1: Helpful, 0: Not helpful
            PRIMARY KEY (answer_id, voter)
        ) WITHOUT ROWID"""
    )
    db.execute("ALTER TABLE daily_counts ADD COLUMN helpful INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE daily_counts ADD COLUMN not_helpful INTEGER NOT NULL DEFAULT 0")


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1_question_log, _v2_feedback)
LATEST = len(MIGRATIONS)


def version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection, target: int = LATEST) -> int:
    """Bring `db` (in autocommit mode) up to version `target`; returns the version it was at."""
    found = version(db)
    if found > LATEST:
        raise SchemaTooNew(
            f"the database is at schema version {found}, newer than this qa-bot knows ({LATEST}): "
            "upgrade qa-bot, or point STATE_DB at another file"
        )
    for number in range(found + 1, target + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[number - 1](db)
            db.execute(f"PRAGMA user_version = {number}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return found


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL journal, short busy timeout.

    `create=False` opens an existing file only (the `qa-bot stats` command must not make one by mistake).
    """
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    uri = path.resolve().as_uri() + ("?mode=rwc" if create else "?mode=rw")
    db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        # WAL: the bot writes while `qa-bot stats` reads, neither blocking the other. NORMAL is durable
        # across crashes of the bot; a power cut may lose the last few questions, which a log can afford.
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        db.close()
        raise
    return db


def open_database(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """Connect and migrate to the latest schema. Raises sqlite3.Error (or OSError) when it can't."""
    db = connect(path, create=create)
    try:
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db
