"""Questions by message: a DM, or a server message that mentions the bot (raw MESSAGE_CREATE payloads)."""

from __future__ import annotations

import logging

import pytest

from bot.bot import intents
from bot.cooldowns import QuestionCooldowns
from bot.errors import APOLOGY
from bot.exts.messages import EMPTY_QUESTION
from bot.questionlog.store import Turn
from testkit.discord_harness import (
    BOT_ID,
    BOT_USER,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    Harness,
    break_the_index,
    seeds_folder,
    settings_for,
    user,
)

MESSAGES = "/channels/{channel_id}/messages"
NO_PINGS_REPLY = {"parse": [], "replied_user": False}


@pytest.fixture
async def harness(monkeypatch):
    async with Harness(monkeypatch) as started:
        yield started


async def replies(harness, count: int = 1) -> list:
    await harness.fake.wait_for(lambda: len(harness.fake.of("rest", MESSAGES)) >= count)
    await harness.fake.settled()  # every handler has finished: an unexpected extra reply would be here
    return harness.fake.of("rest", MESSAGES)


def test_no_privileged_intent_is_requested():
    wanted = intents()
    assert not wanted.message_content
    assert not wanted.members
    assert not wanted.presences
    assert wanted.guilds and wanted.guild_messages and wanted.dm_messages


async def test_a_dm_is_a_question_answered_in_the_dm(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    asked = events.message("How many coups?", in_dm=True)
    [reply] = await replies(harness)

    assert reply.url.endswith(f"/channels/{DM_CHANNEL_ID}/messages")
    assert reply.body["allowed_mentions"] == NO_PINGS_REPLY
    assert str(reply.body["message_reference"]["message_id"]) == asked["id"]
    [embed] = reply.body["embeds"]
    assert embed["title"] == "How many coups?"
    assert 1 <= len(embed["fields"]) <= 3
    assert "**The vast arid country" in embed["fields"][0]["value"]


async def test_a_mention_in_a_server_is_a_question_without_the_mention(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    events.guild_create()
    events.message(f"<@{BOT_ID}> how many coups?", in_dm=False, mentions=(BOT_USER,))
    [reply] = await replies(harness)

    assert reply.url.endswith(f"/channels/{CHANNEL_ID}/messages")
    assert reply.body["allowed_mentions"] == NO_PINGS_REPLY
    assert reply.body["embeds"][0]["title"] == "how many coups?"


async def test_messages_that_ask_nothing_of_the_bot_are_ignored(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    events.guild_create()
    events.message("how many coups?", in_dm=False)  # no mention
    events.message("@everyone how many coups?", in_dm=False, mentions=(user(555, "someone"),))  # someone else
    events.message("How many coups?", in_dm=True, author=user(777, "another-bot", is_bot=True))
    events.message("How many coups?", in_dm=True, author=BOT_USER)  # its own message
    await harness.fake.settled()
    assert harness.fake.of("rest", MESSAGES) == []

    events.message("How many coups?", in_dm=True)
    [reply] = await replies(harness)
    assert reply.body["embeds"][0]["title"] == "How many coups?"


async def test_a_bare_mention_gets_a_hint_and_mentions_are_not_pinged(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    events.guild_create()
    events.message(f"<@!{BOT_ID}>", in_dm=False, mentions=(BOT_USER,))
    [reply] = await replies(harness)
    assert reply.body["content"] == EMPTY_QUESTION
    assert reply.body["allowed_mentions"] == NO_PINGS_REPLY


async def test_the_cooldown_is_shared_with_slash_commands(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path), cooldown_seconds=60.0))
    await harness.fake.wait_interaction(events.command("ask", {"question": "How many coups?"}, in_dm=True), 2)
    for _ in range(5):
        events.message("Who is in charge?", in_dm=True)
    [reply] = await replies(harness)  # one "try again" for the flood, not one per message
    assert reply.body["content"] == "You're asking too fast: try again in 60 s."
    assert "embeds" not in reply.body or not reply.body["embeds"]


async def test_an_unexpected_error_is_logged_and_answered_with_an_apology(tmp_path, harness, monkeypatch, caplog):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    break_the_index(monkeypatch)
    with caplog.at_level(logging.ERROR, logger="bot.exts.messages"):
        events.message("How many coups?", in_dm=True)
        [reply] = await replies(harness)
    assert reply.body["content"] == APOLOGY
    [record] = [r for r in caplog.records if r.name == "bot.exts.messages"]
    assert record.exc_info is not None and "index exploded" in str(record.exc_info[1])


def test_cooldowns_in_memory_count_per_user_and_warn_once_per_window():
    # Kept while the shared state is unavailable; the same rules as the shared store's (test_question_log_store).
    cooldowns = QuestionCooldowns(10.0)
    assert cooldowns.take(1, now=100.0) == Turn(0.0)
    assert cooldowns.take(1, now=104.0) == Turn(6.0, first_refusal=True)
    assert cooldowns.take(2, now=104.0) == Turn(0.0)
    assert cooldowns.take(1, now=105.0) == Turn(5.0, first_refusal=False)
    assert cooldowns.take(1, now=110.0) == Turn(0.0)  # a new window
    assert cooldowns.take(1, now=111.0) == Turn(9.0, first_refusal=True)
    assert cooldowns.take(1, now=95.0) == Turn(0.0)  # the clock set back past the window
    assert cooldowns.take(1, now=96.0) == Turn(9.0, first_refusal=True)


async def test_a_channel_where_the_bot_may_not_reply_is_a_warning_not_a_traceback(tmp_path, harness, caplog):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    events.guild_create()
    harness.fake.forbidden_paths.add(MESSAGES)
    with caplog.at_level(logging.WARNING, logger="bot.exts.messages"):
        events.message(f"<@{BOT_ID}> how many coups?", in_dm=False, mentions=(BOT_USER,))
        await replies(harness)
    [record] = [r for r in caplog.records if r.name == "bot.exts.messages"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage() == (
        f"No permission to reply in channel {CHANNEL_ID}: grant Send Messages and Read Message History"
    )
