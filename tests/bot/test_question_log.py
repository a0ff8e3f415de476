"""The bot logs every answered question, and a broken database never stops an answer (offline harness)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
import threading
from datetime import UTC, datetime

import pytest

from bot.questionlog import database, schema, service
from bot.questionlog.schema import open_database
from testkit.discord_harness import BOT_ID, BOT_USER, GUILD_ID, WAIT_SECONDS, Harness, seeds_folder, settings_for

START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC).timestamp()
LOG_WARNINGS = "bot.questionlog.service"


class FakeClock:
    """Unix time that moves only when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def harness(monkeypatch):
    async with Harness(monkeypatch) as started:
        yield started


def rows(path, query: str) -> list[tuple]:
    """What `query` finds; nothing while the bot has not made the file and its tables (never made here)."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return []
    try:
        return db.execute(query).fetchall()
    except sqlite3.DatabaseError:  # also "file is not a database": read while the bot writes the file's first page
        return []
    finally:
        db.close()


async def logged(path, count: int) -> list[tuple]:
    """The logged answers once there are `count` of them (the log writes on its own thread)."""
    query = "SELECT asked_at, guild_id, question, confident, article, sentence FROM answers ORDER BY asked_at"
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while len(found := rows(path, query)) < count:
        assert asyncio.get_running_loop().time() < deadline, f"only {len(found)} answers logged"
        await asyncio.sleep(0.01)
    return found


async def test_ask_mentions_and_dms_are_logged_with_their_server(tmp_path, harness):
    settings = settings_for(seeds_folder(tmp_path))
    clock = FakeClock()
    events = await harness.start(settings, clock=clock)
    events.guild_create()
    await harness.fake.wait_interaction(events.command("ask", {"question": "How many coups?"}), 2)
    clock.now += 60
    events.message(f"<@{BOT_ID}> Zebras?", in_dm=False, mentions=(BOT_USER,))
    await harness.fake.wait_for(lambda: len(harness.fake.of("rest", "/messages")) == 1)
    clock.now += 60
    events.message("When did the harbour reopen?", in_dm=True)
    await harness.fake.wait_for(lambda: len(harness.fake.of("rest", "/messages")) == 2)

    assert await logged(settings.state_db, 3) == [
        (START, GUILD_ID, "How many coups?", 1, "000_eed0d9b0ce39977c.txt", 33),
        (START + 60, GUILD_ID, "Zebras?", 0, None, None),
        (START + 120, 0, "When did the harbour reopen?", 1, "harbour.txt", 1),
    ]
    [(latency,)] = rows(settings.state_db, "SELECT MIN(latency_ms) > 0 FROM answers")
    assert latency == 1


async def test_the_log_is_written_on_its_own_thread_not_the_event_loop(tmp_path, harness, monkeypatch):
    threads = []
    original = service.LogStore.record

    def recording(self, answer):
        threads.append(threading.current_thread().name)
        return original(self, answer)

    monkeypatch.setattr(service.LogStore, "record", recording)
    settings = settings_for(seeds_folder(tmp_path))
    events = await harness.start(settings)
    await harness.fake.wait_interaction(events.command("ask", {"question": "How many coups?"}), 2)
    await logged(settings.state_db, 1)
    assert threads == ["question-log"]


def read_only(path):
    db = CONNECT(path)
    db.connection.close()
    db.connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    return db


CONNECT = schema.connect


def full(path):
    db = CONNECT(path)
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages + 2}")  # as a full disk would: two pages more, then none
    ids = itertools.count(1)
    for size in (500, 50, 1):  # fill them with answers (too recent to prune), down to the last bytes of each page
        with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
            while True:
                db.execute(
                    "INSERT INTO answers VALUES (?, ?, 1, ?, 'x', 0, NULL, NULL, 1)", (next(ids), START, "x" * size)
                )
    return db


def corrupt(path):
    path.write_bytes(b"this is not a database, " * 1000)
    return CONNECT(path)


BREAKERS = {"read-only": read_only, "full": full, "corrupt": corrupt}


@pytest.mark.parametrize("how", ["read-only", "full", "corrupt", "locked"])
async def test_a_broken_database_never_stops_an_answer_and_is_reported_once_an_hour(
    tmp_path, harness, monkeypatch, caplog, how
):
    settings = settings_for(seeds_folder(tmp_path))
    open_database(settings.state_db).close()  # a good database first, then broken as named
    if how == "locked":
        monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 20)
        holder = sqlite3.connect(settings.state_db, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    else:
        breaker = BREAKERS[how]
        monkeypatch.setattr(schema, "connect", lambda path, *, create=True: breaker(path))
    clock = FakeClock()
    with caplog.at_level(logging.WARNING, logger=LOG_WARNINGS):
        events = await harness.start(settings, clock=clock)
        for minutes, question in ((0, "How many coups?"), (30, "Who is in charge?"), (61, "When did it happen?")):
            clock.now = START + minutes * 60
            payload = events.command("ask", {"question": question})
            _, answer = await harness.fake.wait_interaction(payload, 2)
            assert answer.body["embeds"][0]["title"] == question
            await events.bot.question_log.flush()  # the failed write, on the log's thread, at this time
    if how == "locked":
        holder.rollback()
        holder.close()

    warnings = [r.getMessage() for r in caplog.records if r.name == LOG_WARNINGS]
    assert len(warnings) == 2, warnings  # the first failure, then one more after an hour
    assert all(w.startswith(f"The question log at {settings.state_db} is unavailable (") for w in warnings)
    assert events.bot.question_log.problem is not None


async def test_the_log_recovers_once_the_database_works_again(tmp_path, harness, monkeypatch, caplog):
    settings = settings_for(seeds_folder(tmp_path))
    settings.state_db.write_bytes(b"garbage " * 1000)
    events = await harness.start(settings)
    assert events.bot.question_log.problem is not None
    settings.state_db.unlink()  # the operator deletes the broken file
    with caplog.at_level(logging.INFO, logger=LOG_WARNINGS):
        await harness.fake.wait_interaction(events.command("ask", {"question": "How many coups?"}), 2)
        assert (await logged(settings.state_db, 1))[0][2] == "How many coups?"
    assert events.bot.question_log.problem is None
    unavailable, recovered = [r.getMessage() for r in caplog.records if r.name == LOG_WARNINGS]
    assert unavailable.startswith(f"The question log at {settings.state_db} is unavailable (DatabaseError: ")
    assert recovered == f"The question log at {settings.state_db} works again"


async def test_turned_off_the_bot_answers_and_writes_no_file(tmp_path, harness):
    settings = settings_for(seeds_folder(tmp_path), state_db=None)
    events = await harness.start(settings)
    _, answer = await harness.fake.wait_interaction(events.command("ask", {"question": "How many coups?"}), 2)
    assert answer.body["embeds"][0]["title"] == "How many coups?"
    assert not (tmp_path / "state.sqlite3").exists()


async def test_a_cancelled_read_neither_kills_the_log_thread_nor_stops_later_writes(tmp_path, harness):
    settings = settings_for(seeds_folder(tmp_path))
    events = await harness.start(settings)
    question_log = events.bot.question_log
    gate = threading.Event()
    busy = asyncio.create_task(question_log._call(lambda store: gate.wait(WAIT_SECONDS)))  # holds the thread
    reading = asyncio.create_task(question_log.stats(1, None))  # queued behind it
    await harness.fake.wait_for(lambda: question_log._jobs.qsize() == 1)
    reading.cancel()  # as when the bot closes during a read
    with pytest.raises(asyncio.CancelledError):
        await reading
    gate.set()
    assert await busy is True
    await harness.fake.wait_interaction(events.command("ask", {"question": "How many coups?"}), 2)
    assert len(await logged(settings.state_db, 1)) == 1
