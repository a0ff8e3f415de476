"""One connection to the shared state, SQLite or PostgreSQL, behind one small interface.

The store and the migrations write their SQL once, in what both databases understand alike (`?` parameters,
`INSERT … ON CONFLICT … DO UPDATE`, `RETURNING`, window functions). This module is the one place that knows
what differs: the parameter style, a few column types, how a write transaction starts, where the schema
version is kept, how the project's own database is told from another program's, which errors are the
database's, and which mean the connection must be opened again.

A connection opened with `writable=False` (`qa-bot stats`) never writes: SQLite's file is opened read-only
and PostgreSQL's session is read-only, so reading takes no write lock and changes nothing.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

import psycopg

from bot.config import PostgresURL

StateLocation = Path | PostgresURL  # STATE_DB: a SQLite file, or a PostgreSQL database


class ForeignDatabase(Exception):
    """The database at STATE_DB is another program's: it is neither read nor written. The message says so."""


# What the state database can fail with: its drivers' errors, the system's, and a database not qa-bot's.
DATABASE_ERRORS = (sqlite3.Error, psycopg.Error, OSError, ForeignDatabase)

BUSY_TIMEOUT_MS = 1000  # SQLite: a write waits this long for another process's lock, then counts as failed
CONNECT_TIMEOUT_SECONDS = 5  # PostgreSQL: an unreachable server is reported after this long
# PostgreSQL: a statement waits this long for a lock another connection holds (an exclusive write's, a table
# lock), then fails; and no statement runs longer than STATEMENT_TIMEOUT_MS. So the log's thread is never
# stuck, and a vote or a cooldown is decided (or refused) within Discord's 3 s. A migration, at start, may wait
# longer for another process's migration of the same log (MIGRATION_LOCK_TIMEOUT_MS).
LOCK_TIMEOUT_MS = 1000
MIGRATION_LOCK_TIMEOUT_MS = 15_000
STATEMENT_TIMEOUT_MS = 10_000
# What libpq says when the server refuses the login (the server's own words, in English by default).
REFUSED_LOGIN = ("authentication failed", "no password supplied")


class Rows(Protocol):
    """What a query returns, as both drivers' cursors provide it."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class MissingLog(LookupError):
    """There is no question log at the location (and it was not to be created)."""


# SQLite's application id (the file header's "application_id") of qa-bot's state file: "QAbt".
APPLICATION_ID = 0x5141_6274
# The tables each schema version holds, for files made before the application id was set (versions 1 to 4).
OWN_TABLES = {
    1: frozenset({"answers", "daily_counts"}),
    2: frozenset({"answers", "daily_counts", "meta", "votes"}),
    3: frozenset({"answers", "daily_counts", "meta", "votes", "cooldowns"}),
    4: frozenset({"answers", "daily_counts", "meta", "votes", "cooldowns", "feeds", "feed_items", "feed_generation"}),
}
ALL_OWN_TABLES = OWN_TABLES[4]


class StateDatabase:
    """A connection in autocommit mode: every transaction is explicit, through `transaction` or `snapshot`."""

    # The column types the migrations name as {placeholders}: a 64-bit integer, a key, a float, bytes.
    TYPES: ClassVar[dict[str, str]]

    def __init__(self, location: StateLocation) -> None:
        self.location = location

    def ddl(self, statement: str) -> str:
        """A CREATE or ALTER statement with this database's column types filled in."""
        return statement.format(**self.TYPES)

    def execute(self, sql: str, params: Sequence[object] = ()) -> Rows:
        raise NotImplementedError

    @contextlib.contextmanager
    def transaction(self, *, exclusive: bool = False, migrating: bool = False) -> Iterator[None]:
        """A write transaction, committed at the end or rolled back on any error.

        `exclusive`: no other process writes meanwhile (for a read-then-write such as a changed vote).
        `migrating` (with `exclusive`): a migration, which may wait longer for another process's.
        """
        self.execute(self._begin_write(exclusive, migrating))
        try:
            yield
        except BaseException:
            with contextlib.suppress(*DATABASE_ERRORS):  # a connection already lost cannot roll back
                self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read-only transaction: its queries see one state of the database."""
        self.execute(self._begin_read())
        try:
            yield
        finally:
            with contextlib.suppress(*DATABASE_ERRORS):
                self.execute("COMMIT")

    def version(self) -> int:
        """The schema version (0: no schema yet)."""
        raise NotImplementedError

    def set_version(self, number: int) -> None:
        raise NotImplementedError

    def claim(self) -> None:
        """Mark the database as qa-bot's (inside a migration's transaction)."""

    def forget_deleted(self) -> None:
        """Have what this connection deletes overwritten, not left in free space (before dropping private data)."""

    def lost(self, error: BaseException) -> bool:
        """Whether, after `error`, this connection must be closed and opened again."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _begin_write(self, exclusive: bool, migrating: bool) -> str:
        raise NotImplementedError

    def _begin_read(self) -> str:
        raise NotImplementedError


class SQLiteDatabase(StateDatabase):
    TYPES: ClassVar[dict[str, str]] = {
        "int64": "INTEGER",
        "int64_key": "INTEGER PRIMARY KEY",
        "float": "REAL",
        "bytes": "BLOB",
        "without_rowid": " WITHOUT ROWID",
    }

    def __init__(self, path: Path, *, writable: bool = True) -> None:
        """WAL journal, short busy timeout. `writable=False` opens an existing file read-only (`qa-bot stats`).

        Raises ForeignDatabase, before anything is written, when the file is another program's.
        """
        super().__init__(path)
        if writable:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():
            raise MissingLog(path)
        uri = path.resolve().as_uri() + ("?mode=rwc" if writable else "?mode=ro")
        self.connection = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            self._check_ours(path)
            if writable:
                # WAL: every process writes while `qa-bot stats` reads, readers never blocking the writer. NORMAL
                # is durable across crashes of the bot; a power cut may lose the last few questions, which a
                # log and a cooldown can afford.
                self.connection.execute("PRAGMA journal_mode = WAL")
                self.connection.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            self.connection.close()
            raise

    def _check_ours(self, path: Path) -> None:
        """Refuse a file that another program made: only qa-bot's application id, an empty file, or the
        exact tables of an older qa-bot's schema (made before the id was set) are taken as the log."""
        with self.snapshot():  # one state of the file: a process creating the schema meanwhile is seen whole
            application = int(self.connection.execute("PRAGMA application_id").fetchone()[0])
            version = self.version()
            tables = {row[0] for row in self.connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if application == APPLICATION_ID:
            return
        if application == 0 and ((version == 0 and not tables) or OWN_TABLES.get(version) == frozenset(tables)):
            return
        raise ForeignDatabase(
            f"{path} is not qa-bot's question log but another program's SQLite database, which qa-bot leaves "
            "alone: set STATE_DB to a file of qa-bot's own (or one that does not exist yet)"
        )

    def execute(self, sql: str, params: Sequence[object] = ()) -> Rows:
        return self.connection.execute(sql, params)

    def version(self) -> int:
        return int(self.connection.execute("PRAGMA user_version").fetchone()[0])

    def set_version(self, number: int) -> None:
        self.connection.execute(f"PRAGMA user_version = {int(number)}")

    def claim(self) -> None:
        self.connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    def forget_deleted(self) -> None:
        self.connection.execute("PRAGMA secure_delete = ON")  # freed pages are zeroed

    def lost(self, error: BaseException) -> bool:
        # Corrupt, or not a database (someone may replace the file): open it from scratch next time.
        return isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.OperationalError)

    def close(self) -> None:
        self.connection.close()

    def _begin_write(self, exclusive: bool, migrating: bool) -> str:
        return "BEGIN IMMEDIATE"  # SQLite has one writer at a time: every write transaction is exclusive

    def _begin_read(self) -> str:
        return "BEGIN"


class PostgresDatabase(StateDatabase):
    TYPES: ClassVar[dict[str, str]] = {
        "int64": "BIGINT",
        "int64_key": "BIGINT PRIMARY KEY",
        "float": "DOUBLE PRECISION",
        "bytes": "BYTEA",
        "without_rowid": "",
    }

    def __init__(self, url: PostgresURL, *, writable: bool = True) -> None:
        """`writable=False`: a read-only session, and MissingLog when there is no log yet.

        Raises ForeignDatabase when tables of qa-bot's names exist that qa-bot did not make.
        """
        super().__init__(url)
        self.connection = psycopg.connect(url.reveal(), autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        try:
            # Every wait has a bound: for a lock another session holds (a migration's advisory lock, a table
            # lock), then for any statement.
            self.connection.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
            self.connection.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
            # As SQLite's synchronous = NORMAL: a commit does not wait for its flush to disk (p50 3.59 → 0.17 ms a
            # cooldown on one machine, bench/cooldowns.py). A server crash may lose the last fraction of a second of
            # questions and cooldowns, never corrupt them; a log and a cooldown can afford that.
            self.connection.execute("SET synchronous_commit = off")
            if not writable:
                self.connection.execute("SET default_transaction_read_only = on")
            self.lock_key = exclusive_lock_key(self.connection)
            version = self.version()
            if version == 0:
                self._check_ours()
                if not writable:
                    raise MissingLog(url)
        except BaseException:
            self.connection.close()
            raise

    def _check_ours(self) -> None:
        """Without qa-bot's schema table, no table of qa-bot's names may exist: they would be another's."""
        names = sorted(ALL_OWN_TABLES)
        row = self.connection.execute("SELECT " + ", ".join(f"to_regclass('{name}')" for name in names)).fetchone()
        found = [name for name, regclass in zip(names, row or (), strict=True) if regclass is not None]
        if found:
            raise ForeignDatabase(
                f"the PostgreSQL database of STATE_DB already has tables that qa-bot did not make "
                f"({', '.join(found)}), which qa-bot leaves alone: give qa-bot a database or schema of its own"
            )

    def execute(self, sql: str, params: Sequence[object] = ()) -> Rows:
        # Without parameters psycopg may send several statements at once (a BEGIN and its lock).
        if not params:
            return self.connection.execute(sql)
        return self.connection.execute(format_style(sql), params)

    def version(self) -> int:
        if self.connection.execute("SELECT to_regclass('qa_bot_schema')").fetchone()[0] is None:  # type: ignore[index]
            return 0
        row = self.connection.execute("SELECT version FROM qa_bot_schema").fetchone()
        return 0 if row is None else int(row[0])

    def set_version(self, number: int) -> None:
        self.connection.execute("CREATE TABLE IF NOT EXISTS qa_bot_schema (version INTEGER NOT NULL)")
        self.connection.execute("DELETE FROM qa_bot_schema")
        self.connection.execute("INSERT INTO qa_bot_schema VALUES (%s)", (number,))

    def lost(self, error: BaseException) -> bool:
        return self.connection.broken or self.connection.closed

    def close(self) -> None:
        self.connection.close()

    def _begin_write(self, exclusive: bool, migrating: bool) -> str:
        # Single statements (upserts, deletes) are atomic by themselves; an exclusive transaction also holds
        # an advisory lock until it ends, so read-then-write transactions of other processes wait their turn.
        if not exclusive:
            return "BEGIN"
        wait = f"SET LOCAL lock_timeout = {MIGRATION_LOCK_TIMEOUT_MS}; " if migrating else ""
        return f"BEGIN; {wait}SELECT pg_advisory_xact_lock({self.lock_key})"

    def _begin_read(self) -> str:
        return "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


@functools.lru_cache(maxsize=256)
def format_style(sql: str) -> str:
    """SQL with `?` parameters (sqlite3's qmark style) in psycopg's format style: `%s`, and `%` as `%%`.

    A `?` inside a quoted string literal stays a question mark.
    """
    parts = sql.replace("%", "%%").split("'")
    # Even parts are outside string literals ('' inside one splits into an empty odd-even pair: still right).
    return "'".join(part.replace("?", "%s") if n % 2 == 0 else part for n, part in enumerate(parts))


def connect(location: StateLocation, *, writable: bool = True) -> StateDatabase:
    """A connection to STATE_DB's database (`writable=False`: read-only, and it must exist).

    Raises one of DATABASE_ERRORS, ForeignDatabase, or MissingLog when not `writable`.
    """
    if isinstance(location, PostgresURL):
        return PostgresDatabase(location, writable=writable)
    return SQLiteDatabase(location, writable=writable)


def exclusive_lock_key(connection: psycopg.Connection[Any]) -> int:
    """The key of the advisory lock that serialises migrations and exclusive writes across processes: one per
    log (its database and schema), since PostgreSQL's advisory locks are the whole server's, so logs in other
    schemas or databases (another bot's, another test run's) never wait for each other."""
    row = connection.execute("SELECT current_database(), current_schema()").fetchone()
    where = "\0".join(str(part) for part in row or ())
    return int.from_bytes(hashlib.sha256(f"qa-bot\0{where}".encode()).digest()[:8], "big", signed=True)


def is_connection_failure(error: BaseException) -> bool:
    """A PostgreSQL server not reached, or refusing the login: libpq's errors, which carry no SQLSTATE."""
    return isinstance(error, psycopg.OperationalError) and error.sqlstate is None


def describe(error: BaseException, location: StateLocation | None = None, connected: bool = True) -> str:
    """Why the state database failed, in a clause on one line, with no secret of STATE_DB in it; a PostgreSQL
    server that could not be reached, or that refused the login, says what to do."""
    if isinstance(error, ForeignDatabase):
        return str(error)
    reason = " ".join(str(error).split())  # PostgreSQL's messages run over several lines, hints indented
    if isinstance(error, psycopg.errors.LockNotAvailable):
        return "another connection held a lock on the shared state for too long"
    if isinstance(error, psycopg.errors.QueryCanceled):
        return f"the shared state took over {STATEMENT_TIMEOUT_MS / 1000:g} s to answer"
    if isinstance(location, PostgresURL):
        reason = location.redact(reason)
        if not connected and is_connection_failure(error):
            if any(words in reason for words in REFUSED_LOGIN):
                return f"the PostgreSQL server refused the user name or password in STATE_DB ({reason}): check them"
            if "does not exist" in reason:
                return f"the PostgreSQL server has no such database or user ({reason}): fix STATE_DB, or create it"
            return (
                f"cannot reach the PostgreSQL server of STATE_DB ({reason}): start it, or set STATE_DB "
                "to a server that runs"
            )
    return f"{type(error).__name__}: {reason}"
