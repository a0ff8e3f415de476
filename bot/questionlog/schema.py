"""Opening the shared state's database, and its schema: one forward migration per version.

The same migrations build the schema in SQLite and in PostgreSQL: their DDL names a few column types as
{placeholders} that `StateDatabase.ddl` fills in. A database at version N is brought to `LATEST` by running
migrations N+1 … LATEST in order, each in its own transaction (DDL is transactional in both), so a crash
leaves it at some whole version. Processes starting together migrate one at a time: each reads the version
inside its exclusive transaction. A database from a newer qa-bot is refused, never downgraded; one of
another program is refused before anything is written (`database.ForeignDatabase`); and `qa-bot stats`
opens it read-only, never migrating (`open_for_reading`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from bot.feeds.schema import v4_feeds
from bot.questionlog.database import MissingLog, StateDatabase, StateLocation, connect

SALT_BYTES = 32
BUTTON_KEY_BYTES = 32
# The oldest schema `qa-bot stats` reads as it is (what it reads has not changed since).
OLDEST_READABLE = 2


class SchemaTooNew(Exception):
    """The database was written by a newer qa-bot."""


def _v1_question_log(db: StateDatabase) -> None:
    db.execute(
        db.ddl(
            """CREATE TABLE answers (
            id {int64_key},     -- the answer id in its feedback buttons (a snowflake of its time)
            asked_at {float} NOT NULL,     -- Unix time, seconds
            guild_id {int64} NOT NULL,  -- 0: a direct message
            question TEXT NOT NULL,     -- the first 500 characters
            normalised TEXT NOT NULL,   -- what groups the same question asked in other words' case or marks
            confident INTEGER NOT NULL,
            article TEXT,               -- the first hit's article id and sentence number; NULL: no hit
            sentence INTEGER,
            latency_ms {float} NOT NULL
        )"""
        )
    )
    db.execute("CREATE INDEX answers_by_guild_time ON answers (guild_id, asked_at)")
    db.execute("CREATE INDEX answers_by_time ON answers (asked_at)")
    # Counts outlive the questions (QUESTION_LOG_DAYS), so /stats can count what it can no longer list.
    db.execute(
        db.ddl(
            """CREATE TABLE daily_counts (
            day TEXT NOT NULL,          -- YYYY-MM-DD, UTC
            guild_id {int64} NOT NULL,  -- 0: direct messages
            questions INTEGER NOT NULL DEFAULT 0,
            confident INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, guild_id)
        ){without_rowid}"""
        )
    )


def _v2_feedback(db: StateDatabase) -> None:
    # Voters are stored as a keyed hash of their user id; the key (salt) is made here, once per database.
    db.execute(db.ddl("CREATE TABLE meta (key TEXT PRIMARY KEY, value {bytes} NOT NULL)"))
    db.execute("INSERT INTO meta VALUES ('salt', ?)", (secrets.token_bytes(SALT_BYTES),))
    db.execute(
        db.ddl(
            """CREATE TABLE votes (
            answer_id {int64} NOT NULL,
            voter {bytes} NOT NULL,        -- HMAC-SHA256(salt, user id), first 16 bytes
            helpful INTEGER NOT NULL,   -- 1: Helpful, 0: Not helpful
            PRIMARY KEY (answer_id, voter)
        ){without_rowid}"""
        )
    )
    db.execute("ALTER TABLE daily_counts ADD COLUMN helpful INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE daily_counts ADD COLUMN not_helpful INTEGER NOT NULL DEFAULT 0")


def _v3_cooldowns(db: StateDatabase) -> None:
    # One row per member who asked lately: the cooldown holds across every process sharing this database.
    db.execute(
        db.ddl(
            """CREATE TABLE cooldowns (
            user_id {int64_key},
            asked_at {float} NOT NULL,     -- Unix time of the question that opened the member's window
            refusals INTEGER NOT NULL   -- questions refused in that window (the first one is answered "wait")
        ){without_rowid}"""
        )
    )


def _v5_private_cooldowns_and_signed_buttons(db: StateDatabase) -> None:
    # Cooldowns were keyed by the member's user id: now by the same keyed hash as voters, so no user id is
    # stored at all. The rows (an hour's worth at most) are dropped, their pages overwritten, not converted.
    db.forget_deleted()
    db.execute("DROP TABLE cooldowns")
    db.execute(
        db.ddl(
            """CREATE TABLE cooldowns (
            member {bytes} PRIMARY KEY,  -- HMAC-SHA256(salt, user id), first 16 bytes, as voters
            asked_at {float} NOT NULL,     -- Unix time of the question that opened the member's window
            refusals INTEGER NOT NULL   -- questions refused in that window (the first one is answered "wait")
        ){without_rowid}"""
        )
    )
    # The key that signs each answer's feedback buttons (its id and server): a vote counts only on a button
    # this bot made, in the server it answered in, even once the answer's row is pruned.
    db.execute("INSERT INTO meta VALUES ('button_key', ?)", (secrets.token_bytes(BUTTON_KEY_BYTES),))


MIGRATIONS: tuple[Callable[[StateDatabase], None], ...] = (
    _v1_question_log,
    _v2_feedback,
    _v3_cooldowns,
    v4_feeds,
    _v5_private_cooldowns_and_signed_buttons,
)
LATEST = len(MIGRATIONS)


def _too_new(found: int) -> SchemaTooNew:
    return SchemaTooNew(
        f"the database is at schema version {found}, newer than this qa-bot knows ({LATEST}): "
        "upgrade qa-bot, or point STATE_DB at another database"
    )


def migrate(db: StateDatabase, target: int = LATEST) -> int:
    """Bring `db` up to version `target`; returns the version it was at."""
    first = db.version()
    if first > LATEST:
        raise _too_new(first)
    if first >= target:  # up to date: no lock to take (another process may hold it for long)
        return first
    while True:
        with db.transaction(exclusive=True, migrating=True):
            found = db.version()  # again, inside the lock: another process may have migrated meanwhile
            if found > LATEST:
                raise _too_new(found)
            if found >= target:
                return first
            MIGRATIONS[found](db)
            db.set_version(found + 1)
            db.claim()


def open_database(location: StateLocation) -> StateDatabase:
    """Connect (creating the database if need be) and migrate to the latest schema. Raises one of
    database.DATABASE_ERRORS, SchemaTooNew or ForeignDatabase."""
    db = connect(location)
    try:
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db


class SchemaTooOld(Exception):
    """The log is from an older qa-bot that `qa-bot stats` cannot read: the bot brings it up to date."""


def open_for_reading(location: StateLocation) -> StateDatabase:
    """A read-only connection to an existing log, as it is: never created, migrated or locked for writing.
    Raises one of database.DATABASE_ERRORS, MissingLog, ForeignDatabase, SchemaTooNew or SchemaTooOld."""
    db = connect(location, writable=False)
    try:
        found = db.version()
        if found == 0:
            raise MissingLog(location)
        if found > LATEST:
            raise _too_new(found)
        if found < OLDEST_READABLE:
            raise SchemaTooOld(
                f"the log is at schema version {found}, from an older qa-bot: start the bot once to bring it up "
                "to date, then try again"
            )
    except BaseException:
        db.close()
        raise
    return db
