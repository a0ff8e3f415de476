"""Sharding: SHARD_COUNT and SHARD_IDS, and bots that split the shards between them, over real sockets.

Two bots in this process stand for two processes here (each has its own connections, cache and event
handlers, as a process would); tests/bot/test_cluster.py runs real processes.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from bot.bot import QABot
from bot.config import ConfigError, format_shard_ids, load_settings, parse_shard_ids
from bot.identify_gate import IdentifyGate
from testkit.discord_harness import (
    DM_CHANNEL_ID,
    GUILD_ID,
    HANDLER_TASKS,
    WAIT_SECONDS,
    command_data,
    guild_create,
    interaction_payload,
    message_payload,
    seeds_folder,
    settings_for,
    user,
)
from tests.discord_server import FakeDiscordServer, shard_of


def test_shard_settings_parse_ranges_and_lists():
    settings = load_settings({"SHARD_COUNT": "8", "SHARD_IDS": "0-2, 5,7"}, require_token=False)
    assert (settings.shard_count, settings.shard_ids) == (8, (0, 1, 2, 5, 7))
    assert settings.shards == "shards 0-2,5,7 of 8"
    unset = load_settings({}, require_token=False)
    assert (unset.shard_count, unset.shard_ids, unset.shards) == (None, None, "shards as Discord recommends")
    every = load_settings({"SHARD_COUNT": "4"}, require_token=False)
    assert (every.shard_ids, every.shards) == (None, "shards 0-3 of 4")
    assert parse_shard_ids("3,1-2,3") == (3, 1, 2)
    assert format_shard_ids([4, 0, 1, 2, 9]) == "0-2,4,9"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SHARD_COUNT": "0"}, "SHARD_COUNT must be a whole number of shards from 1 to 65,536 (got '0')"),
        ({"SHARD_COUNT": "two"}, "SHARD_COUNT must be a whole number of shards"),
        ({"SHARD_IDS": "0-1"}, "SHARD_IDS needs SHARD_COUNT (the total number of shards): set both in .env."),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "3-1"}, "SHARD_IDS must be shard numbers and ranges such as 0-3"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "0,,1"}, "SHARD_IDS must be shard numbers and ranges such as 0-3"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "1-²"}, "SHARD_IDS must be shard numbers and ranges such as 0-3"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "2-4"}, "SHARD_IDS names shard 4, but shards are numbered 0 to 3"),
    ],
)
def test_bad_shard_settings_fail_with_one_line(environ, message):
    with pytest.raises(ConfigError) as raised:
        load_settings(environ, require_token=False)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def guild_on_shard(shard: int, count: int) -> dict[str, Any]:
    """The test server under an id whose events Discord sends on `shard` (its own channel and roles)."""
    guild_id = GUILD_ID + (shard - shard_of(GUILD_ID, count)) % count * (1 << 22) + count * (64 << 22)
    assert shard_of(guild_id, count) == shard
    guild = copy.deepcopy(guild_create())
    guild["id"] = str(guild_id)
    guild["roles"][0]["id"] = str(guild_id)  # @everyone has the server's id
    guild["channels"][0]["id"] = str(guild_id + 1)
    return guild


def ask_in(guild: dict[str, Any], interaction_id: int, question: str) -> dict[str, Any]:
    return command_in(guild, interaction_id, "ask", {"question": question})


def command_in(
    guild: dict[str, Any], interaction_id: int, name: str, options: dict[str, Any], **who: Any
) -> dict[str, Any]:
    """A slash command in `guild`'s channel; `who` as in interaction_payload (e.g. permissions=)."""
    payload = interaction_payload(interaction_id, 2, command_data(interaction_id + 1, name, options), **who)
    payload["guild_id"] = guild["id"]
    payload["channel"] = {**payload["channel"], "id": guild["channels"][0]["id"], "guild_id": guild["id"]}
    payload["channel_id"] = guild["channels"][0]["id"]
    payload["authorizing_integration_owners"] = {"0": guild["id"]}
    return payload


def no_identify_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """IDENTIFYs 5 s apart (Discord's rate) are the gate's job, tested in test_identify_gate.py; the fake has none."""

    async def at_once(self: IdentifyGate, shard_id: int | None, *, initial: bool = False) -> None:
        return None

    monkeypatch.setattr(IdentifyGate, "take_turn", at_once)
    monkeypatch.setattr(IdentifyGate, "before_identify", at_once)


def setter(event: asyncio.Event) -> Any:
    async def listener() -> None:
        event.set()

    return listener


def recorder(seen: list[str]) -> Any:
    """A listener that notes the id of each interaction or message it is given."""

    async def listener(item: Any) -> None:
        seen.append(str(item.id))

    return listener


def handlers_running() -> list[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return [
        task
        for task in asyncio.all_tasks()
        if task is not current and not task.done() and task.get_name().startswith(HANDLER_TASKS)
    ]


async def until(condition: Any, what: str) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(poll(), WAIT_SECONDS)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_without_a_shard_count_the_bot_runs_the_shards_discord_recommends(tmp_path, monkeypatch):
    no_identify_wait(monkeypatch)
    server = FakeDiscordServer(recommended_shards=3, guilds=[guild_on_shard(s, 3) for s in range(3)])
    await server.start(monkeypatch)
    bot = QABot(settings_for(seeds_folder(tmp_path)), guild_ready_timeout=0.1)
    ready = asyncio.Event()
    bot.add_listener(setter(ready), "on_ready")
    running = asyncio.create_task(bot.start("token"))
    try:
        await asyncio.wait_for(ready.wait(), WAIT_SECONDS)
        assert ("GET", "/gateway/bot") in [(r.method, r.path) for r in server.requests]
        assert sorted(server.identifies) == [(0, 3), (1, 3), (2, 3)]
        assert (bot.shard_count, sorted(bot.shards)) == (3, [0, 1, 2])
        assert sorted(g.shard_id for g in bot.guilds) == [0, 1, 2]
    finally:
        await asyncio.wait_for(bot.close(), WAIT_SECONDS)
        await asyncio.wait_for(running, WAIT_SECONDS)
        await server.stop()


async def test_four_shards_in_two_bots_each_event_answered_once_by_the_bot_of_its_shard(tmp_path, monkeypatch):
    no_identify_wait(monkeypatch)
    guilds = [guild_on_shard(shard, 4) for shard in range(4)]
    server = FakeDiscordServer(guilds=guilds)
    await server.start(monkeypatch)
    folder = seeds_folder(tmp_path)
    bots = [
        QABot(settings_for(folder, shard_count=4, shard_ids=ids), guild_ready_timeout=0.1) for ids in ((0, 1), (2, 3))
    ]
    handled: dict[int, list[str]] = {0: [], 1: []}  # which bot saw which interaction or message
    ready = [asyncio.Event(), asyncio.Event()]
    for n, bot in enumerate(bots):
        bot.add_listener(setter(ready[n]), "on_ready")
        bot.add_listener(recorder(handled[n]), "on_interaction")
        bot.add_listener(recorder(handled[n]), "on_message")
    running = [asyncio.create_task(bot.start("token")) for bot in bots]
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), WAIT_SECONDS)
        # Each bot identified with its own shards, never with another's.
        assert sorted(server.identifies) == [(0, 4), (1, 4), (2, 4), (3, 4)]
        assert [sorted(g.shard_id for g in bot.guilds) for bot in bots] == [[0, 1], [2, 3]]

        asks = [ask_in(guild, server.new_id(), "How many coups?") for guild in guilds]
        for ask in asks:
            await server.send_event("INTERACTION_CREATE", ask)
        dm = message_payload(server.new_id(), DM_CHANNEL_ID, user(4242, "asker"), content="How many coups?")
        await server.send_event("MESSAGE_CREATE", dm)

        def posted(path: str) -> list[Any]:
            return [r for r in server.requests if r.method == "POST" and r.path == path]

        def followups(ask: dict[str, Any]) -> list[Any]:
            return posted(f"/webhooks/{ask['application_id']}/{ask['token']}")

        def dm_replies() -> list[Any]:
            return posted(f"/channels/{DM_CHANNEL_ID}/messages")

        await until(lambda: all(followups(a) for a in asks) and dm_replies(), "every answer")
        await until(lambda: not handlers_running(), "every handler to finish")  # nothing more is on its way
        # Shards' sockets are independent, so only the order within one shard is fixed.
        assert sorted(handled[0]) == sorted([asks[0]["id"], asks[1]["id"], dm["id"]])
        assert sorted(handled[1]) == sorted([asks[2]["id"], asks[3]["id"]])
        for ask in asks:
            [followup] = followups(ask)
            assert "four coups" in followup.body["embeds"][0]["fields"][0]["value"]
        [dm_reply] = dm_replies()
        assert "four coups" in dm_reply.body["embeds"][0]["fields"][0]["value"]
    finally:
        for bot, task in zip(bots, running, strict=True):
            await asyncio.wait_for(bot.close(), WAIT_SECONDS)
            await asyncio.wait_for(task, WAIT_SECONDS)
        await server.stop()
