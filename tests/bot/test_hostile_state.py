"""The shared state (STATE_DB) under hostile settings and files: its secrets never shown, another program's
database never written, and no wait without a bound.

Each case is one a hostile tester reproduced (issue 23); the PostgreSQL ones run against TEST_POSTGRES_URL.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import threading
from pathlib import Path

import psycopg
import pytest

from bot.cli import main
from bot.config import ConfigError, PostgresURL, load_settings
from bot.questionlog import database
from bot.questionlog.database import StateLocation, connect
from bot.questionlog.schema import LATEST, migrate, open_database
from bot.questionlog.service import LogUnavailable, QuestionLog, answer_id_at
from bot.questionlog.store import LogStore, VoteOutcome, day_of
from testkit.discord_harness import EPHEMERAL, MANAGE_GUILD, WAIT_SECONDS, Harness, seeds_folder, settings_for
from tests.bot.test_question_log import START, FakeClock
from tests.bot.test_stats_cli import GUILD, fill
from tests.state_backends import postgres_server

SECRET = "hunter2"
UNREADABLE_POSTGRES_URL = (
    "STATE_DB is not a PostgreSQL URL that can be read (what is wrong is not shown, as it may quote the "
    "password): write it as postgresql://user:password@host:port/database, with any space, %, @, / or : in the "
    "user name or password percent-encoded (a space as %20, % as %25) and an IPv6 host in brackets; fix it in .env."
)
QA_BOT_APPLICATION_ID = 0x5141_6274  # "QAbt", in the SQLite file's header
# URLs libpq cannot read, each holding the password: its parser's message quotes the token it refuses.
UNREADABLE = [
    f"postgresql://bob:{SECRET} secret@127.0.0.1:1/qa",  # an un-encoded space
    f"postgresql://bob:{SECRET}%zz@127.0.0.1:1/qa",  # an un-encoded %
    f"postgresql://bob:{SECRET}@[::1/qa",  # an IPv6 host without its closing bracket
]


@pytest.mark.parametrize("url", UNREADABLE)
def test_an_unreadable_postgresql_url_is_one_sentence_without_the_password(url):
    with pytest.raises(ConfigError) as raised:
        load_settings({"STATE_DB": url}, require_token=False)
    assert str(raised.value) == UNREADABLE_POSTGRES_URL
    assert SECRET not in str(raised.value)
    assert raised.value.__suppress_context__  # libpq's own message is not chained into a traceback either


@pytest.mark.parametrize("url", UNREADABLE)
@pytest.mark.parametrize("command", [["stats"], ["run"], ["check"]])
def test_no_command_prints_the_password_of_an_unreadable_url(url, command, monkeypatch, capsys):
    monkeypatch.setenv("STATE_DB", url)
    monkeypatch.setenv("DISCORD_TOKEN", "MTEx.not-a-real.token")
    assert main(command) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"qa-bot: {UNREADABLE_POSTGRES_URL}\n")


def test_a_readable_url_shows_no_secret_in_any_form():
    url = PostgresURL(
        f"postgresql://bob:{SECRET}%40x@[::1]:5/qa?sslpassword=keypass&options=-csearch_path%3Dq&password={SECRET}%40x"
    )
    assert str(url) == "postgresql://bob@[::1]:5/qa"
    assert repr(url) == "PostgresURL('postgresql://bob@[::1]:5/qa')"
    # A message quoting a secret, as written in the URL or decoded, has it cut out.
    assert url.redact(f"bad {SECRET}@x, {SECRET}%40x and keypass") == "bad ********, ******** and ********"
    # A password that is also the user name is not shown as the user name either.
    assert str(PostgresURL(f"postgresql://{SECRET}:{SECRET}@db/qa")) == "postgresql://********@db/qa"


def login_refused_url() -> str:
    """The test server's URL with a user named as its (wrong) password: the server's refusal quotes the user."""
    info = psycopg.conninfo.conninfo_to_dict(postgres_server())
    return f"postgresql://{SECRET}:{SECRET}@{info['host']}:{info.get('port', 5432)}/{info['dbname']}"


def test_stats_with_a_refused_login_says_to_check_them_and_shows_no_password(monkeypatch, capsys):
    monkeypatch.setenv("STATE_DB", login_refused_url())
    assert main(["stats"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("qa-bot: could not read the question log at postgresql://********@")
    assert "(the PostgreSQL server refused the user name or password in STATE_DB (" in err
    assert err.endswith("): check them).\n")
    assert "start it" not in err and SECRET not in err and err.count("\n") == 1


async def test_the_bot_with_a_refused_login_logs_and_replies_without_the_password(tmp_path, monkeypatch, caplog):
    settings = settings_for(seeds_folder(tmp_path), state_db=PostgresURL(login_refused_url()))
    caplog.set_level(logging.DEBUG)
    async with Harness(monkeypatch) as harness:
        events = await harness.start(settings)
        _, reply = await harness.fake.wait_interaction(events.command("stats", {}, permissions=MANAGE_GUILD), 2)
    assert reply.body["flags"] == EPHEMERAL
    assert reply.body["content"].startswith(
        "The question log is unavailable (the PostgreSQL server refused the user name or password in STATE\\_DB ("
    )
    assert SECRET not in reply.body["content"]
    assert "refused the user name or password" in caplog.text
    assert SECRET not in caplog.text


# -- No user id stored, in any encoding (finding 2)

MEMBERS = (1_100_000_000_000_000_030, 1_100_000_000_000_000_031, 987_654_321_098_765_432)


def id_forms(user_id: int) -> list[bytes]:
    """Every way a stored user id could appear: decimal text, and a 64-bit integer either way round."""
    return [str(user_id).encode(), user_id.to_bytes(8, "big"), user_id.to_bytes(8, "little")]


def stored_bytes(location: StateLocation) -> bytes:
    """All that the state database holds: SQLite's file and write-ahead log, or every PostgreSQL row."""
    if isinstance(location, Path):
        return b"".join(p.read_bytes() for p in (location, location.with_name(location.name + "-wal")) if p.exists())
    found = []
    with psycopg.connect(location.reveal(), autocommit=True) as db:
        for (table,) in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ):
            for row in db.execute(f"SELECT * FROM {table}"):  # type: ignore[arg-type]
                for value in row:
                    found.append(bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode())
    return b"\0".join(found)


def test_cooldowns_and_votes_keep_no_user_id_in_either_database(state_location):
    store = LogStore(open_database(state_location), 30)
    answer = answer_id_at(START, 1)
    for n, member in enumerate(MEMBERS):
        assert store.take_turn(member, START + n, 60).allowed
        assert not store.take_turn(member, START + n + 1, 60).allowed  # the cooldown holds, keyed without the id
        store.vote(answer, day_of(START), 111, member, helpful=n % 2 == 0)
    assert store.db.execute("SELECT COUNT(*) FROM cooldowns").fetchone() == (3,)
    hashed = store.voter(MEMBERS[0])
    store.db.close()
    data = stored_bytes(state_location)
    assert hashed in data  # the scan sees what is stored
    for member in MEMBERS:
        assert not [form for form in id_forms(member) if form in data], member


def test_an_older_log_holding_user_ids_keeps_none_once_migrated(tmp_path):
    path = tmp_path / "state.sqlite3"
    old = connect(path)
    migrate(old, target=3)  # a schema that keyed cooldowns by user id (as did 4)
    for member in MEMBERS:
        old.execute("INSERT INTO cooldowns VALUES (?, ?, 0)", (member, START))
    old.close()
    assert all(form in path.read_bytes() for form in id_forms(MEMBERS[0])[1:2])  # stored as big-endian integers

    LogStore(open_database(path), 30).db.close()  # migrated; closing checkpoints the write-ahead log
    data = stored_bytes(path)
    for member in MEMBERS:
        assert not [form for form in id_forms(member) if form in data], member


# -- Another program's database is neither read nor written (finding 5)


def foreign_sqlite(path: Path, version: int, *, application_id: int = 0, tables: tuple[str, ...] = ("notes",)) -> bytes:
    """Another program's SQLite file (rollback journal, as most are); its bytes."""
    db = sqlite3.connect(path)
    for table in tables:
        db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute(f"INSERT INTO {table} (body) VALUES ('precious')")
    db.execute(f"PRAGMA user_version = {version}")
    db.execute(f"PRAGMA application_id = {application_id}")
    db.commit()
    db.close()
    return path.read_bytes()


FOREIGN_FILES = [
    {"version": 2},  # a schema version qa-bot once had, other tables
    {"version": 3, "tables": ("answers", "daily_counts", "meta", "votes", "cooldowns", "notes")},  # ours and more
    {"version": 0},  # no version at all, but tables
    {"version": 3, "application_id": 0x1234, "tables": ("answers", "daily_counts", "meta", "votes", "cooldowns")},
]


def refusal(path: Path) -> str:
    return (
        f"{path} is not qa-bot's question log but another program's SQLite database, which qa-bot leaves alone: "
        "set STATE_DB to a file of qa-bot's own (or one that does not exist yet)"
    )


@pytest.mark.parametrize("foreign", FOREIGN_FILES)
async def test_the_bot_leaves_another_programs_sqlite_file_untouched(tmp_path, foreign, caplog):
    path = tmp_path / "their.sqlite3"
    before = foreign_sqlite(path, **foreign)
    question_log = QuestionLog(path, 30)
    with caplog.at_level(logging.WARNING, logger="bot.questionlog.service"):
        await question_log.start()
        with pytest.raises(LogUnavailable, match="^" + re.escape(refusal(path)) + "$"):
            await question_log.take_turn(MEMBERS[0], 60)
        await question_log.close()
    assert question_log.problem == refusal(path)
    [warning] = caplog.messages
    assert warning.startswith(f"The question log at {path} is unavailable ({refusal(path)}); answers go on")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["their.sqlite3"]  # no write-ahead log either


@pytest.mark.parametrize("foreign", FOREIGN_FILES)
def test_stats_refuses_another_programs_sqlite_file_in_one_sentence(tmp_path, foreign, monkeypatch, capsys):
    path = tmp_path / "their.sqlite3"
    before = foreign_sqlite(path, **foreign)
    monkeypatch.setenv("STATE_DB", str(path))
    assert main(["stats"]) == 2
    assert capsys.readouterr() == ("", f"qa-bot: {refusal(path)}.\n")
    assert path.read_bytes() == before


def test_an_empty_file_and_an_older_qa_bot_log_are_taken_as_ours(tmp_path):
    empty = tmp_path / "empty.sqlite3"
    empty.touch()  # made by hand, as the docs' `rm` then `touch` would
    older = tmp_path / "older.sqlite3"
    db = connect(older)
    migrate(db, target=3)
    db.close()
    for path in (empty, older):
        db = open_database(path)
        assert db.execute("PRAGMA application_id").fetchone() == (QA_BOT_APPLICATION_ID,)
        assert db.version() == LATEST
        db.close()


def test_the_bot_refuses_postgresql_tables_of_its_names_that_it_did_not_make(postgres_state):
    from bot.questionlog.database import ForeignDatabase

    with psycopg.connect(postgres_state.reveal(), autocommit=True) as theirs:
        theirs.execute("CREATE TABLE votes (id INTEGER, body TEXT)")
    with pytest.raises(ForeignDatabase) as raised:
        open_database(postgres_state)
    assert str(raised.value) == (
        "the PostgreSQL database of STATE_DB already has tables that qa-bot did not make (votes), which qa-bot "
        "leaves alone: give qa-bot a database or schema of its own"
    )
    with psycopg.connect(postgres_state.reveal(), autocommit=True) as theirs:
        assert theirs.execute("SELECT to_regclass('qa_bot_schema'), to_regclass('answers')").fetchone() == (None, None)


# -- Reading never takes a write lock (finding 6)


def test_stats_reads_while_the_bot_holds_a_write_transaction_and_changes_nothing(tmp_path, monkeypatch, capsys):
    path = tmp_path / "state.sqlite3"
    fill(path)
    before = path.read_bytes()
    monkeypatch.setenv("STATE_DB", str(path))
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # as the bot's thread holds it while it writes, here for the whole read
    writer.execute("INSERT INTO daily_counts (day, guild_id, questions) VALUES ('2026-03-10', 5, 9)")
    try:
        assert main(["stats", "--guild", str(GUILD)]) == 0
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    out, err = capsys.readouterr()
    assert err == ""
    assert "  3 questions, 33% answered confidently (1).\n" in out
    assert path.read_bytes() == before


def test_stats_never_migrates_an_older_log(tmp_path, monkeypatch, capsys):
    path = tmp_path / "state.sqlite3"
    db = connect(path)
    migrate(db, target=3)
    db.close()
    before = path.read_bytes()
    monkeypatch.setenv("STATE_DB", str(path))
    assert main(["stats"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "  No questions."
    assert path.read_bytes() == before  # still version 3: the bot migrates it when it starts


# -- PostgreSQL waits have a bound (finding 9)


def hold_advisory_lock(url: PostgresURL) -> psycopg.Connection:
    """Another session holding the lock migrations and exclusive writes take, until it is closed."""
    other = psycopg.connect(url.reveal(), autocommit=True)
    other.execute("SELECT pg_advisory_lock(%s)", (database.exclusive_lock_key(other),))
    return other


def test_stats_reads_while_another_session_holds_the_migration_lock(postgres_state, monkeypatch, capsys):
    fill(postgres_state)
    other = hold_advisory_lock(postgres_state)
    monkeypatch.setenv("STATE_DB", postgres_state.reveal())
    status: list[int] = []
    reading = threading.Thread(target=lambda: status.append(main(["stats", "--guild", str(GUILD)])), daemon=True)
    try:
        reading.start()
        reading.join(WAIT_SECONDS)  # returns at once unless it waits for the lock, which is held until below
        assert status == [0]
    finally:
        other.close()
        reading.join(WAIT_SECONDS)
    assert "  3 questions, 33% answered confidently (1).\n" in capsys.readouterr().out


async def test_the_bot_starts_while_another_session_holds_the_migration_lock(postgres_state, monkeypatch):
    monkeypatch.setattr(database, "MIGRATION_LOCK_TIMEOUT_MS", 200)  # 15 s in use: a migration may wait longer
    question_log = QuestionLog(postgres_state, 30)
    other = hold_advisory_lock(postgres_state)
    try:
        await asyncio.wait_for(question_log.start(), WAIT_SECONDS)  # returns, the lock still held elsewhere
        assert question_log.problem == "another connection held a lock on the shared state for too long"
    finally:
        other.close()
    assert (await question_log.take_turn(MEMBERS[0], 60)).allowed  # once the lock is free, the log works
    await question_log.close()


async def test_a_vote_against_a_table_locked_elsewhere_is_refused_while_the_lock_is_held(postgres_state):
    question_log = QuestionLog(postgres_state, 30, FakeClock())
    await question_log.start()
    answer = answer_id_at(START, 1)
    signature = question_log.signature(answer, GUILD)
    assert signature is not None
    with psycopg.connect(postgres_state.reveal()) as other:  # a transaction, open until the block ends
        other.execute("LOCK TABLE votes IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(LogUnavailable, match=r"^another connection held a lock on the shared state for too long$"):
            await asyncio.wait_for(question_log.vote(answer, signature, GUILD, MEMBERS[0], True), WAIT_SECONDS)
    assert await question_log.vote(answer, signature, GUILD, MEMBERS[0], True) == VoteOutcome.RECORDED
    await question_log.close()
