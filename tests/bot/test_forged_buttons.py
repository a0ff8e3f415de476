"""Feedback buttons anyone could forge (issue 23, finding 3): a vote counts only on a button this bot made for
an answer in the server it was pressed in; anything else gets one polite private sentence and writes nothing.

A button's custom id is whatever the member's client sends, so every case here is a custom id or a place
that Discord would deliver as it is.
"""

from __future__ import annotations

import logging
import sqlite3

import pytest

from bot.questionlog.service import answer_id_at
from testkit.discord_harness import EPHEMERAL, Harness, interaction_payload, seeds_folder, settings_for
from tests.bot.test_feedback import ask, buttons, press
from tests.bot.test_question_log import START, FakeClock, logged
from tests.bot.test_stats import in_other_server, other_server_command

REFUSED = (
    "Sorry, I can't count this vote: the button is not one I made for an answer here; "
    "ask me again to rate a fresh answer."
)


@pytest.fixture
async def harness(monkeypatch):
    async with Harness(monkeypatch) as started:
        yield started


async def started(harness, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    settings = settings_for(seeds_folder(tmp_path))
    events = await harness.start(settings, clock=FakeClock())
    events.guild_create()
    return settings, events


async def press_id(harness, events, custom_id: str, message: dict, *, other_server: bool = False, **who) -> str:
    """Press a button of `custom_id` on the bot's `message` (a forger's client shows the message holding it)."""
    up, down = buttons(message)
    message = {**message, "components": [{"type": 1, "components": [{**up, "custom_id": custom_id}, down]}]}
    data = {"custom_id": custom_id, "component_type": 2}
    payload = interaction_payload(harness.fake.next_id(), 3, data, message=message, **who)
    if other_server:
        payload = in_other_server(payload)  # the same press, delivered from the other server
    [reply] = await harness.fake.wait_interaction(events.dispatch("INTERACTION_CREATE", payload), 1)
    assert (reply.body["type"], reply.body["data"]["flags"]) == (4, EPHEMERAL)
    assert reply.body["data"]["allowed_mentions"] == {"parse": []}
    return reply.body["data"]["content"]


def votes_written(settings) -> tuple[int, int]:
    """(vote rows, votes counted in the daily counts) in the bot's database."""
    db = sqlite3.connect(settings.state_db)
    try:
        rows = db.execute("SELECT COUNT(*) FROM votes").fetchone()[0]
        counted = db.execute("SELECT COALESCE(SUM(helpful + not_helpful), 0) FROM daily_counts").fetchone()[0]
    finally:
        db.close()
    return rows, counted


def signature_of(message: dict) -> str:
    return buttons(message)[0]["custom_id"].split(":")[2]


FORGED_IDS = [
    f"feedback:{answer_id_at(START, 7)}:up",  # an answer id never issued, unsigned (the old format)
    "feedback:9223372036854775807:down",  # the largest 64-bit id: a day in 2084
    f"feedback:{2**64 + 5}:up",  # past 64 bits
    "feedback:abc:up",
    "feedback:" + "9" * 500 + ":up",
    f"feedback:{answer_id_at(START, 7)}:AAAAAAAAAAAAAAAAAAAAAA:up",  # the shape, a made-up signature
    f"feedback:{answer_id_at(START, 7)}:AAAAAAAAAAAAAAAA:up",
    "feedback:",
]


async def test_forged_custom_ids_get_one_polite_sentence_and_write_nothing(tmp_path, harness, caplog):
    settings, events = await started(harness, tmp_path, caplog)
    answer = await ask(harness, events)
    await logged(settings.state_db, 1)
    replies = [await press_id(harness, events, forged, answer) for forged in FORGED_IDS]
    # A real answer's signature on another answer id, or with its id one off, proves nothing either.
    answer_id = int(buttons(answer)[0]["custom_id"].split(":")[1])
    for other in (answer_id + 1, answer_id_at(START, 999)):
        replies.append(await press_id(harness, events, f"feedback:{other}:{signature_of(answer)}:up", answer))
    await events.bot.question_log.flush()
    assert replies == [REFUSED] * (len(FORGED_IDS) + 2)
    assert votes_written(settings) == (0, 0)
    assert caplog.records == []  # no traceback, no warning: nothing unexpected happened


async def test_another_servers_answer_counts_only_in_that_server(tmp_path, harness, caplog):
    settings, events = await started(harness, tmp_path, caplog)
    _, followup = await harness.fake.wait_interaction(
        await other_server_command(harness, events, "ask", {"question": "How many coups?"}), 2
    )
    theirs = followup.reply
    up = buttons(theirs)[0]["custom_id"]
    assert await press_id(harness, events, up, theirs) == REFUSED  # pressed in this server
    assert await press_id(harness, events, up, theirs, in_dm=True) == REFUSED  # pressed in a DM
    await events.bot.question_log.flush()
    assert votes_written(settings) == (0, 0)
    assert await press_id(harness, events, up, theirs, other_server=True) == (
        "Thanks for your feedback: you marked this answer helpful."
    )
    await events.bot.question_log.flush()
    assert votes_written(settings) == (1, 1)
    assert caplog.records == []


async def test_a_dm_answers_buttons_count_only_in_that_dm(tmp_path, harness, caplog):
    settings, events = await started(harness, tmp_path, caplog)
    answer = await ask(harness, events, in_dm=True)
    assert await press(harness, events, answer, "up") == REFUSED  # the DM's button, pressed in the server
    assert await press(harness, events, answer, "up", in_dm=True) == (
        "Thanks for your feedback: you marked this answer helpful."
    )
    await events.bot.question_log.flush()
    assert votes_written(settings) == (1, 1)


async def test_buttons_from_before_the_log_was_deleted_no_longer_count(tmp_path, harness, caplog):
    settings, events = await started(harness, tmp_path, caplog)
    answer = await ask(harness, events)
    await logged(settings.state_db, 1)
    await events.bot.close()
    for path in settings.state_db.parent.glob(settings.state_db.name + "*"):
        path.unlink()  # as docs/question-log.md says to delete it

    restarted = await harness.start(settings, clock=FakeClock())
    restarted.guild_create()
    assert await press(harness, restarted, answer, "up") == REFUSED
    await restarted.bot.question_log.flush()
    assert votes_written(settings) == (0, 0)
    fresh = await ask(harness, restarted)  # a new answer's buttons work
    assert signature_of(fresh) != signature_of(answer)
    assert (
        await press(harness, restarted, fresh, "down")
        == "Thanks for your feedback: you marked this answer not helpful."
    )
