"""Bots and processes sharing one state database (SQLite and PostgreSQL in turn): a member's cooldown holds
across them, decided by the database; and a PostgreSQL server out of reach never stops an answer.

The two bots run in this process over real sockets to a fake Discord (as in test_shards.py), each with its
own shard, as two processes would; the race for the same members runs in real processes.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import psycopg
import pytest

from bot.bot import QABot
from bot.cli import main
from bot.config import PostgresURL
from bot.questionlog import database, service
from bot.questionlog.database import StateLocation
from bot.questionlog.schema import open_database
from bot.questionlog.store import LogStore
from testkit.discord_harness import WAIT_SECONDS, Harness, seeds_folder, settings_for
from tests.bot.test_question_log import START, FakeClock
from tests.bot.test_shards import ask_in, guild_on_shard, handlers_running, no_identify_wait, setter, until
from tests.bot.test_stats_cli import GUILD, fill
from tests.discord_server import FakeDiscordServer

EPHEMERAL = 64
COOLDOWN = 60.0
NO_SERVER = PostgresURL("postgresql://qa:secret@127.0.0.1:1/qa")  # nothing listens on port 1 of this machine


async def test_a_member_asking_through_two_bots_within_the_cooldown_gets_one_answer_and_one_refusal(
    tmp_path, monkeypatch, state_location
):
    no_identify_wait(monkeypatch)
    guilds = [guild_on_shard(shard, 2) for shard in range(2)]
    server = FakeDiscordServer(guilds=guilds)
    await server.start(monkeypatch)
    folder = seeds_folder(tmp_path)
    clock = FakeClock()
    bots = [
        QABot(
            settings_for(folder, shard_count=2, shard_ids=(shard,), cooldown_seconds=COOLDOWN, state_db=state_location),
            clock=clock,
            guild_ready_timeout=0.1,
        )
        for shard in (0, 1)
    ]
    ready = [asyncio.Event(), asyncio.Event()]
    for bot, event in zip(bots, ready, strict=True):
        bot.add_listener(setter(event), "on_ready")
    running = [asyncio.create_task(bot.start("token")) for bot in bots]

    def posted(path: str) -> list[Any]:
        return [r for r in server.requests if r.method == "POST" and r.path == path]

    def answers(ask: dict[str, Any]) -> list[Any]:
        return posted(f"/webhooks/{ask['application_id']}/{ask['token']}")

    def callbacks(ask: dict[str, Any]) -> list[Any]:
        return posted(f"/interactions/{ask['id']}/{ask['token']}/callback")

    async def ask(guild: dict[str, Any], question: str) -> dict[str, Any]:
        payload = ask_in(guild, server.new_id(), question)
        await server.send_event("INTERACTION_CREATE", payload)
        await until(lambda: callbacks(payload), "the interaction's response")
        await until(lambda: not handlers_running(), "every handler to finish")
        return payload

    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), WAIT_SECONDS)
        first = await ask(guilds[0], "How many coups?")  # through the bot of shard 0
        clock.now = START + 30
        second = await ask(guilds[1], "Who is in charge?")  # the same member, through the bot of shard 1
        clock.now = START + COOLDOWN
        third = await ask(guilds[1], "Who is in charge?")  # the window has closed

        [deferred] = callbacks(first)
        assert deferred.body["type"] == 5 and len(answers(first)) == 1
        [refusal] = callbacks(second)
        assert (refusal.body["type"], refusal.body["data"]["flags"]) == (4, EPHEMERAL)
        assert refusal.body["data"]["content"] == "You're asking too fast: try again in 30 s."
        assert answers(second) == []
        assert callbacks(third)[0].body["type"] == 5 and len(answers(third)) == 1
        # The bot of shard 1 never saw the first question: the shared database refused the second.
        assert all(bot.question_log.problem is None for bot in bots)
    finally:
        for bot, task in zip(bots, running, strict=True):
            await asyncio.wait_for(bot.close(), WAIT_SECONDS)
            await asyncio.wait_for(task, WAIT_SECONDS)
        await server.stop()
    store = LogStore(open_database(state_location), 30)
    assert store.stats(START, 1, None).questions == 2  # both bots logged into the one database
    store.db.close()


def take_turns(location: StateLocation, members: Sequence[int], now: float, start: Any) -> list[int]:
    """In a process of its own: every member asks at `now`; the members whose question counted."""
    database.BUSY_TIMEOUT_MS = 60_000  # SQLite: wait for the others' writes however busy the machine is
    store = LogStore(open_database(location), 30)
    start.wait()  # every process connected: they ask at once
    try:
        return [member for member in members if store.take_turn(member, now, COOLDOWN).allowed]
    finally:
        store.db.close()


@pytest.mark.slow  # three spawned Python processes
def test_processes_asking_for_the_same_members_at_once_each_turn_goes_to_one_of_them(state_location):
    open_database(state_location).close()  # the schema first: the race is for the turns
    members = range(1, 301)
    processes = 3
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, ProcessPoolExecutor(processes, mp_context=spawn) as pool:
        start = manager.Barrier(processes)
        jobs = [pool.submit(take_turns, state_location, members, START, start) for _ in range(processes)]
        counted = [job.result() for job in jobs]
    assert sorted(member for got in counted for member in got) == list(members)


async def test_a_postgresql_server_out_of_reach_is_one_warning_and_the_bot_answers(tmp_path, monkeypatch, caplog):
    settings = settings_for(seeds_folder(tmp_path), state_db=NO_SERVER, cooldown_seconds=COOLDOWN)
    monkeypatch.setattr(service, "RECONNECT_SECONDS", 3600.0)
    connects = []
    real_connect = database.psycopg.connect
    monkeypatch.setattr(
        database.psycopg,
        "connect",
        lambda *a, **k: connects.append(threading.current_thread().name) or real_connect(*a, **k),
    )
    with caplog.at_level(logging.WARNING, logger="bot.questionlog.service"):
        async with Harness(monkeypatch) as harness:
            events = await harness.start(settings)
            _, answer = await harness.fake.wait_interaction(events.command("ask", {"question": "How many coups?"}), 2)
            assert answer.body["embeds"][0]["title"] == "How many coups?"
            # The cooldown still holds, in this process's memory meanwhile.
            [refusal] = await harness.fake.wait_interaction(events.command("ask", {"question": "Who?"}), 1)
            assert refusal.body["data"]["content"].startswith("You're asking too fast: try again in ")
            problem = events.bot.question_log.problem
    [warning] = [r.getMessage() for r in caplog.records if r.name == "bot.questionlog.service"]
    assert warning.startswith(
        "The question log at postgresql://qa@127.0.0.1:1/qa is unavailable "
        "(cannot reach the PostgreSQL server of STATE_DB (connection failed: "
    )
    assert "start it, or set STATE_DB to a server that runs); answers go on without it." in warning
    assert "\n" not in warning and "secret" not in warning
    assert problem is not None and problem.startswith("cannot reach the PostgreSQL server of STATE_DB")
    # The calls after it failed at once, without waiting for a connection again (the feed poller has its own).
    assert connects.count("question-log") == 1


async def test_a_shared_state_too_slow_to_answer_leaves_the_cooldown_to_this_process(tmp_path, monkeypatch):
    monkeypatch.setattr(service, "TURN_WAIT_SECONDS", 0.05)
    settings = settings_for(seeds_folder(tmp_path), cooldown_seconds=COOLDOWN)
    async with Harness(monkeypatch) as harness:
        events = await harness.start(settings)
        gate = threading.Event()
        busy = asyncio.create_task(events.bot.question_log._call(lambda store: gate.wait(WAIT_SECONDS)))
        try:
            _, answer = await harness.fake.wait_interaction(events.command("ask", {"question": "How many coups?"}), 2)
            assert answer.body["embeds"][0]["title"] == "How many coups?"
            [refusal] = await harness.fake.wait_interaction(events.command("ask", {"question": "Who?"}), 1)
            assert refusal.body["data"]["content"] == "You're asking too fast: try again in 60 s."
        finally:
            gate.set()
        assert await busy is True
        await events.bot.question_log.flush()
    # Neither question reached the shared cooldowns: both were decided while the log's thread was held.
    store = LogStore(open_database(settings.state_db), 30)
    assert store.db.execute("SELECT COUNT(*) FROM cooldowns").fetchone() == (0,)
    store.db.close()


def test_qa_bot_stats_with_a_postgresql_server_out_of_reach_says_what_to_set(monkeypatch, capsys):
    monkeypatch.setenv("STATE_DB", NO_SERVER.reveal())
    assert main(["stats"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "qa-bot: could not read the question log at postgresql://qa@127.0.0.1:1/qa "
        "(cannot reach the PostgreSQL server of STATE_DB (connection failed: "
    )
    assert err.endswith("start it, or set STATE_DB to a server that runs).\n")
    assert err.count("\n") == 1 and "secret" not in err


def test_qa_bot_stats_on_a_postgresql_database_without_the_log_says_so(postgres_state, monkeypatch, capsys):
    # The SQLite case: tests/bot/test_stats_cli.py.
    monkeypatch.setenv("STATE_DB", postgres_state.reveal())
    assert main(["stats"]) == 2
    assert capsys.readouterr().err == (
        f"qa-bot: there is no question log at {postgres_state}: the bot creates it when it starts; "
        "set STATE_DB to the database the bot uses.\n"
    )


async def test_a_lost_postgresql_connection_is_reported_then_made_again(postgres_state, caplog):
    question_log = service.QuestionLog(postgres_state, 30, FakeClock())
    await question_log.start()
    pid = await question_log._call(lambda store: store.db.connection.info.backend_pid, writes=False)
    admin = psycopg.connect(postgres_state.reveal(), autocommit=True)
    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))  # as a server restart would
    admin.close()
    with caplog.at_level(logging.WARNING, logger="bot.questionlog.service"):
        gone = "AdminShutdown: terminating connection due to administrator command"  # an OperationalError
        with pytest.raises(service.LogUnavailable, match=f"^{gone}$"):
            await question_log.take_turn(1, COOLDOWN)
        assert (await question_log.take_turn(1, COOLDOWN)).allowed  # on a new connection
        assert not (await question_log.take_turn(1, COOLDOWN)).allowed
    assert question_log.problem is None
    [warning] = [r.getMessage() for r in caplog.records if r.name == "bot.questionlog.service"]
    assert warning.startswith(f"The question log at {postgres_state} is unavailable ({gone}); answers go on")
    await question_log.close()


def test_qa_bot_stats_reads_postgresql_as_it_reads_sqlite(postgres_state, tmp_path, monkeypatch, capsys):
    shown = []
    for location in (tmp_path / "state.sqlite3", postgres_state):
        fill(location)
        monkeypatch.setenv("STATE_DB", location.reveal() if isinstance(location, PostgresURL) else str(location))
        monkeypatch.setenv("QUESTION_LOG_DAYS", "30")
        assert main(["stats", "--guild", str(GUILD)]) == 0
        shown.append(capsys.readouterr().out)
    assert shown[0] == shown[1]
    assert "  3 questions, 33% answered confidently (1).\n" in shown[0]
    assert "     2×  zebras\n" in shown[0]
