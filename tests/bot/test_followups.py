"""Follow-up questions in DMs and threads, mentions answered in a new thread, and the settings for both."""

from __future__ import annotations

import time

import pytest

from bot.bot import intents
from bot.config import ConfigError, load_settings
from testkit.discord_harness import (
    BOT_ID,
    BOT_USER,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    SECOND_MEMBER_ID,
    THREAD_PERMISSIONS,
    Harness,
    seeds_folder,
    settings_for,
)

MESSAGES = "/channels/{channel_id}/messages"
THREADS = "/channels/{channel_id}/messages/{message_id}/threads"
# The seed's sentence that gives Bazoum's age: the best hit, its passage shared with the next hits' (marked too).
BAZOUM_AGE = "**The 64-year-old, who was elected Niger’s president two years ago, took to Twitter"


@pytest.fixture
async def harness(monkeypatch):
    async with Harness(monkeypatch) as started:
        yield started


async def replies(harness, count: int) -> list:
    await harness.fake.wait_for(lambda: len(harness.fake.of("rest", MESSAGES)) >= count)
    await harness.fake.settled()  # every handler has finished: an unexpected extra reply would be there now
    return harness.fake.of("rest", MESSAGES)


async def test_a_dm_follow_up_is_read_with_the_previous_question_and_says_so(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    events.message("Who is Mohamed Bazoum?", in_dm=True)
    await replies(harness, 1)
    events.message("How old is he?", in_dm=True)
    _, reply = await replies(harness, 2)

    [embed] = reply.body["embeds"]
    assert embed["title"] == "How old is he?"
    assert embed["description"] == "*Following up on “Who is Mohamed Bazoum?”*"
    assert BAZOUM_AGE in embed["fields"][0]["value"]
    assert embed["fields"][0]["value"].endswith("2023-07-27 · sentences 1, 4, 6 and 7")


async def test_a_question_that_stands_alone_is_answered_as_if_asked_first(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    events.message("How many coups?", in_dm=True, author_id=SECOND_MEMBER_ID)
    [alone] = await replies(harness, 1)
    events.message("Who is Mohamed Bazoum?", in_dm=True)
    await replies(harness, 2)
    events.message("How many coups?", in_dm=True)
    *_, after = await replies(harness, 3)

    assert after.body["embeds"] == alone.body["embeds"]
    assert "Following up" not in str(after.body["embeds"])


async def test_the_previous_question_counts_for_ten_minutes_only(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    events.message("How old is he?", in_dm=True, author_id=SECOND_MEMBER_ID)
    [alone] = await replies(harness, 1)
    events.bot.conversations.remember(
        1_100_000_000_000_000_030, DM_CHANNEL_ID, "Who is Mohamed Bazoum?", None, now=time.monotonic() - 601
    )
    events.message("How old is he?", in_dm=True)
    _, late = await replies(harness, 2)
    assert late.body["embeds"] == alone.body["embeds"]
    assert BAZOUM_AGE not in late.body["embeds"][0]["fields"][0]["value"]


async def test_a_mention_in_a_channel_opens_a_thread_named_after_the_question(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    events.guild_create(bot_permissions=THREAD_PERMISSIONS)
    asked = events.message(f"<@{BOT_ID}> Who is Mohamed Bazoum?", in_dm=False, mentions=(BOT_USER,))
    [answer] = await replies(harness, 1)

    [opened] = harness.fake.of("rest", THREADS)
    assert opened.url.endswith(f"/channels/{CHANNEL_ID}/messages/{asked['id']}/threads")
    assert opened.body["name"] == "Who is Mohamed Bazoum?"
    thread = opened.reply
    assert answer.url.endswith(f"/channels/{thread['id']}/messages")
    assert answer.body["allowed_mentions"] == {"parse": []}
    assert answer.body["embeds"][0]["title"] == "Who is Mohamed Bazoum?"

    # Discord announces the thread; a follow-up there that mentions the bot is read with the first question.
    events.thread_create(thread)
    events.message(f"<@{BOT_ID}> how old is he?", in_dm=False, mentions=(BOT_USER,), channel_id=int(thread["id"]))
    _, follow_up = await replies(harness, 2)
    assert follow_up.url.endswith(f"/channels/{thread['id']}/messages")
    [embed] = follow_up.body["embeds"]
    assert embed["description"] == "*Following up on “Who is Mohamed Bazoum?”*"
    assert BAZOUM_AGE in embed["fields"][0]["value"]
    assert embed["fields"][0]["value"].endswith("2023-07-27 · sentences 1, 4, 6 and 7")
    assert len(harness.fake.of("rest", THREADS)) == 1  # no thread inside the thread


async def test_another_persons_question_in_the_thread_is_not_context(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    events.guild_create(bot_permissions=THREAD_PERMISSIONS)
    events.message(f"<@{BOT_ID}> Who is Mohamed Bazoum?", in_dm=False, mentions=(BOT_USER,))
    await replies(harness, 1)
    thread = harness.fake.of("rest", THREADS)[0].reply
    events.thread_create(thread)
    events.message(
        f"<@{BOT_ID}> how old is he?",
        in_dm=False,
        mentions=(BOT_USER,),
        channel_id=int(thread["id"]),
        author_id=SECOND_MEMBER_ID,
    )
    _, reply = await replies(harness, 2)
    assert "Following up" not in str(reply.body["embeds"])


async def test_thread_messages_without_a_mention_need_the_message_content_setting(tmp_path, harness):
    for message_content, answered in ((False, 1), (True, 2)):
        harness.fake.calls.clear()
        (tmp_path / str(message_content)).mkdir()
        events = await harness.start(
            settings_for(seeds_folder(tmp_path / str(message_content)), message_content=message_content)
        )
        events.guild_create(bot_permissions=THREAD_PERMISSIONS)
        events.message(f"<@{BOT_ID}> Who is Mohamed Bazoum?", in_dm=False, mentions=(BOT_USER,))
        await replies(harness, 1)
        thread = harness.fake.of("rest", THREADS)[0].reply
        events.thread_create(thread)
        events.message("how old is he?", in_dm=False, channel_id=int(thread["id"]))
        sent = await replies(harness, answered)
        assert len(sent) == answered
        if message_content:
            assert BAZOUM_AGE in sent[1].body["embeds"][0]["fields"][0]["value"]


async def test_a_thread_someone_else_started_is_not_answered_without_a_mention(tmp_path, harness):
    from testkit.discord_harness import thread_channel

    events = await harness.start(settings_for(seeds_folder(tmp_path), message_content=True))
    events.guild_create(bot_permissions=THREAD_PERMISSIONS)
    events.thread_create(thread_channel(1_100_000_000_000_000_099, "chat", owner_id=SECOND_MEMBER_ID))
    events.message("how many coups?", in_dm=False, channel_id=1_100_000_000_000_000_099)
    await harness.fake.settled()  # the message's handlers have run to the end
    assert harness.fake.of("rest", MESSAGES) == []


@pytest.mark.parametrize(
    ("answer_in_thread", "bot_permissions", "forbidden"),
    [(False, THREAD_PERMISSIONS, False), (True, 0, False), (True, THREAD_PERMISSIONS, True)],
    ids=["setting off", "no permission", "Discord refuses"],
)
async def test_otherwise_a_mention_is_answered_inline(tmp_path, harness, answer_in_thread, bot_permissions, forbidden):
    if forbidden:
        harness.fake.forbidden_paths.add(THREADS)
    events = await harness.start(settings_for(seeds_folder(tmp_path), answer_in_thread=answer_in_thread))
    events.guild_create(bot_permissions=bot_permissions)
    asked = events.message(f"<@{BOT_ID}> how many coups?", in_dm=False, mentions=(BOT_USER,))
    [reply] = await replies(harness, 1)
    assert reply.url.endswith(f"/channels/{CHANNEL_ID}/messages")
    assert str(reply.body["message_reference"]["message_id"]) == asked["id"]
    assert len(harness.fake.of("rest", THREADS)) == int(forbidden)


@pytest.mark.parametrize(
    ("environ", "in_thread", "content"),
    [
        ({}, True, False),
        ({"ANSWER_IN_THREAD": "false", "MESSAGE_CONTENT": "true"}, False, True),
        ({"ANSWER_IN_THREAD": " No ", "MESSAGE_CONTENT": "1"}, False, True),
        ({"ANSWER_IN_THREAD": "on", "MESSAGE_CONTENT": "off"}, True, False),
    ],
)
def test_thread_and_message_content_settings(environ, in_thread, content):
    settings = load_settings(environ, require_token=False)
    assert (settings.answer_in_thread, settings.message_content) == (in_thread, content)
    assert intents(settings.message_content).message_content is content


def test_a_bad_flag_is_one_line_naming_it():
    with pytest.raises(
        ConfigError, match=r"^MESSAGE_CONTENT must be true or false \(got 'maybe'\); fix it in \.env\.$"
    ):
        load_settings({"MESSAGE_CONTENT": "maybe"}, require_token=False)
