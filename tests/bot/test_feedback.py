"""Helpful / Not helpful under every answer: recorded, changed, refused after 7 days, working after a restart."""

from __future__ import annotations

import re

import pytest

from bot.feedback import UNAVAILABLE
from testkit.discord_harness import (
    BOT_ID,
    BOT_USER,
    EPHEMERAL,
    MEMBER_ID,
    SECOND_MEMBER_ID,
    Harness,
    seeds_folder,
    settings_for,
)
from tests.bot.test_question_log import START, FakeClock, logged

DAY = 86_400
CUSTOM_ID = re.compile(r"^feedback:(\d+):([A-Za-z0-9_-]{16}):(up|down)$")


@pytest.fixture
async def harness(monkeypatch):
    async with Harness(monkeypatch) as started:
        yield started


def buttons(message: dict) -> list[dict]:
    [row] = message["components"]
    assert row["type"] == 1
    return row["components"]


async def ask(harness, events, question: str = "How many coups?", **where) -> dict:
    """Ask with /ask; the answer message as Discord returned it (with its buttons)."""
    _, followup = await harness.fake.wait_interaction(events.command("ask", {"question": question}, **where), 2)
    return followup.reply


async def press(harness, events, message: dict, vote: str, **who) -> str:
    [button] = [b for b in buttons(message) if b["custom_id"].endswith(f":{vote}")]
    payload = events.button(button["custom_id"], message, **who)
    [reply] = await harness.fake.wait_interaction(payload, 1)
    assert reply.body["type"] == 4
    assert reply.body["data"]["flags"] == EPHEMERAL
    assert reply.body["data"]["allowed_mentions"] == {"parse": []}
    return reply.body["data"]["content"]


async def test_every_answer_carries_helpful_and_not_helpful_buttons(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)), clock=FakeClock())
    events.guild_create()
    by_command = await ask(harness, events)
    events.message(f"<@{BOT_ID}> Who is in charge?", in_dm=False, mentions=(BOT_USER,))
    events.message("Who condemned it?", in_dm=True)
    await harness.fake.wait_for(lambda: len(harness.fake.of("rest", "/messages")) == 2)
    by_messages = [call.body for call in harness.fake.of("rest", "/messages")]

    for message in (by_command, *by_messages):
        up, down = buttons(message)
        answer_id, signature = CUSTOM_ID.match(up["custom_id"]).group(1, 2)
        assert up == {
            "type": 2,
            "style": 2,
            "label": "Helpful",
            "emoji": {"name": "👍", "id": None},
            "custom_id": f"feedback:{answer_id}:{signature}:up",
            "disabled": False,
        }
        assert down == {
            **up,
            "label": "Not helpful",
            "emoji": {"name": "👎", "id": None},
            "custom_id": f"feedback:{answer_id}:{signature}:down",
        }
    assert len({buttons(m)[0]["custom_id"] for m in (by_command, *by_messages)}) == 3


async def test_a_vote_is_recorded_changed_and_refused_after_7_days(tmp_path, harness):
    settings = settings_for(seeds_folder(tmp_path))
    clock = FakeClock()
    events = await harness.start(settings, clock=clock)
    events.guild_create()
    answer = await ask(harness, events)

    assert await press(harness, events, answer, "up") == "Thanks for your feedback: you marked this answer helpful."
    assert await press(harness, events, answer, "up") == "You had already marked this answer helpful: thanks."
    assert await press(harness, events, answer, "down") == "Thanks: your vote on this answer is now not helpful."
    other = {"user_id": SECOND_MEMBER_ID}
    assert await press(harness, events, answer, "up", **other) == (
        "Thanks for your feedback: you marked this answer helpful."
    )
    clock.now = START + 7 * DAY  # the last moment of the week
    assert await press(harness, events, answer, "up") == "Thanks: your vote on this answer is now helpful."
    clock.now = START + 7 * DAY + 1
    assert await press(harness, events, answer, "down") == (
        "Voting on this answer closed 7 days after it was given: ask again to rate a fresh answer."
    )

    stats = await events.bot.question_log.stats(8, None)
    assert (stats.helpful, stats.not_helpful) == (2, 0)
    assert stats.days[0].helpful == 2  # counted on the answer's day


async def test_buttons_work_after_a_restart(tmp_path, harness):
    settings = settings_for(seeds_folder(tmp_path))
    clock = FakeClock()
    first = await harness.start(settings, clock=clock)
    answer = await ask(harness, first, in_dm=True)
    await logged(settings.state_db, 1)
    await first.bot.close()

    clock.now += 3 * DAY
    restarted = await harness.start(settings, clock=clock)
    assert await press(harness, restarted, answer, "down", in_dm=True) == (
        "Thanks for your feedback: you marked this answer not helpful."
    )
    assert await press(harness, restarted, answer, "down", in_dm=True) == (
        "You had already marked this answer not helpful: thanks."
    )
    stats = await restarted.bot.question_log.stats(4, [0])
    assert (stats.questions, stats.helpful, stats.not_helpful) == (1, 0, 1)


async def test_a_vote_while_the_log_is_unavailable_gets_a_clear_reply(tmp_path, harness):
    settings = settings_for(seeds_folder(tmp_path))
    events = await harness.start(settings, clock=FakeClock())
    answer = await ask(harness, events)
    await events.bot.question_log.close()  # as if the database were gone
    assert await press(harness, events, answer, "up") == UNAVAILABLE


async def test_no_raw_user_id_anywhere_in_the_database_file(tmp_path, harness):
    settings = settings_for(seeds_folder(tmp_path))
    events = await harness.start(settings, clock=FakeClock())
    events.guild_create()
    answer = await ask(harness, events)
    events.message("Who condemned it?", in_dm=True, author_id=SECOND_MEMBER_ID)
    await harness.fake.wait_for(lambda: harness.fake.of("rest", "/messages"))
    await press(harness, events, answer, "up")
    await press(harness, events, answer, "down", user_id=SECOND_MEMBER_ID)
    await logged(settings.state_db, 2)

    files = [settings.state_db, settings.state_db.with_name("state.sqlite3-wal")]
    data = b"".join(f.read_bytes() for f in files)  # the database and its write-ahead log
    assert b"How many coups?" in data  # the grep sees what is stored
    for user_id in (MEMBER_ID, SECOND_MEMBER_ID):
        assert str(user_id).encode() not in data
        assert user_id.to_bytes(8, "big") not in data and user_id.to_bytes(8, "little") not in data
