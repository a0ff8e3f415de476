"""/stats through the offline harness: who may see it, scoped to the server, exact counts, a PNG attached."""

from __future__ import annotations

import struct

import pytest

from bot.exts.stats import NOT_ALLOWED
from bot.questionlog.schema import open_database
from testkit.discord_harness import (
    APP_OWNER_ID,
    BOT_ID,
    BOT_USER,
    CHANNEL_ID,
    EPHEMERAL,
    GUILD_ID,
    MANAGE_GUILD,
    MOD_ROLE_ID,
    SECOND_MEMBER_ID,
    Harness,
    guild_create,
    interaction_payload,
    seeds_folder,
    settings_for,
)
from tests.bot.test_feedback import ask, press
from tests.bot.test_question_log import START, FakeClock, logged, rows

DAY = 86_400
OTHER_GUILD_ID = GUILD_ID + 1_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def harness(monkeypatch):
    async with Harness(monkeypatch) as started:
        yield started


def in_other_server(payload: dict) -> dict:
    payload["guild_id"] = str(OTHER_GUILD_ID)
    payload["channel"] = {**payload["channel"], "guild_id": str(OTHER_GUILD_ID)}
    return payload


async def other_server_command(harness, events, name: str, options: dict, **who) -> dict:
    from testkit.discord_harness import command_data

    payload = interaction_payload(harness.fake.next_id(), 2, command_data(harness.fake.next_id(), name, options), **who)
    return events.dispatch("INTERACTION_CREATE", in_other_server(payload))


async def stats_reply(harness, payload: dict):
    defer, report = await harness.fake.wait_interaction(payload, 2)
    assert defer.body == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert report.body["flags"] == EPHEMERAL
    return report


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("who", [{"permissions": 0}, {"in_dm": True}])
async def test_stats_is_refused_to_members(tmp_path, harness, who):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    events.guild_create()
    [refusal] = await harness.fake.wait_interaction(events.command("stats", **who), 1)
    assert refusal.body == {
        "type": 4,
        "data": {"content": NOT_ALLOWED, "flags": EPHEMERAL, "tts": False, "allowed_mentions": {"parse": []}},
    }


async def test_stats_registers_for_moderators_with_a_days_option(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    payload = events.bot.tree.get_command("stats").to_dict(events.bot.tree)
    assert payload["default_member_permissions"] == MANAGE_GUILD
    assert payload["contexts"] == [0, 1]
    assert payload["options"] == [
        {
            "type": 4,
            "name": "days",
            "description": "How many days to look back, today included (1 to 90, default 30)",
            "required": False,
            "min_value": 1,
            "max_value": 90,
        }
    ]


async def test_stats_of_a_scripted_session_exact_counts_scoped_to_the_server_with_a_chart(tmp_path, harness):
    settings = settings_for(seeds_folder(tmp_path))
    clock = FakeClock(START - DAY)
    events = await harness.start(settings, clock=clock)
    events.guild_create()
    other = guild_create()
    other["id"] = str(OTHER_GUILD_ID)
    other["channels"] = [{**c, "guild_id": str(OTHER_GUILD_ID), "id": str(CHANNEL_ID + 1)} for c in other["channels"]]
    events.dispatch("GUILD_CREATE", other)

    # Yesterday: two questions by /ask, one answered confidently.
    coups = await ask(harness, events, "How many coups?")
    await ask(harness, events, "Which volunteers painted the lighthouse purple?")
    # Today: the same unanswered question in other words, by mention; two more by /ask; one in a DM.
    clock.now = START
    events.message(f"<@{BOT_ID}> which volunteers painted the lighthouse PURPLE??", in_dm=False, mentions=(BOT_USER,))
    await harness.fake.wait_for(lambda: len(harness.fake.of("rest", "/messages")) == 1)
    zebras = await ask(harness, events, "Zebras?")
    await ask(harness, events, "When did the harbour reopen?")
    in_dm = await ask(harness, events, "Zebras?", in_dm=True)
    # Another server asks too.
    _, followup = await harness.fake.wait_interaction(
        await other_server_command(harness, events, "ask", {"question": "Zebras?"}), 2
    )
    await logged(settings.state_db, 7)

    await press(harness, events, coups, "up")
    await press(harness, events, coups, "down", user_id=SECOND_MEMBER_ID)
    await press(harness, events, coups, "up", user_id=SECOND_MEMBER_ID)  # changed: counts once, as helpful
    await press(harness, events, zebras, "down")
    await press(harness, events, in_dm, "up", in_dm=True)

    report = await stats_reply(harness, events.command("stats", {"days": 7}, permissions=MANAGE_GUILD))
    [embed] = report.body["embeds"]
    assert embed["title"] == "Questions in this server, the last 7 days"
    assert embed["description"] == (
        "5 questions, 40% answered confidently (2).\n2 helpful and 1 not helpful votes: helpful rate 67%."
    )
    assert embed["fields"] == [
        {
            "name": "Most asked without a confident answer",
            "value": "1. which volunteers painted the lighthouse PURPLE?? — ×2\n2. Zebras? — ×1",
            "inline": False,
        }
    ]
    assert embed["image"] == {"url": "attachment://stats.png"}
    assert embed["footer"] == {"text": "Days are UTC."}
    [(name, chart)] = report.files
    assert name == "stats.png"
    assert png_size(chart) == (800, 400)
    assert report.body["attachments"] == [{"id": 0, "filename": "stats.png"}]

    # A moderator by role in the other server sees that server's question only.
    other_report = await stats_reply(
        harness, await other_server_command(harness, events, "stats", {"days": 1}, roles=(MOD_ROLE_ID,))
    )
    [embed] = other_report.body["embeds"]
    assert embed["title"] == "Questions in this server, today"
    assert embed["description"] == "1 question, 0% answered confidently (0).\nNo votes yet."
    assert embed["fields"][0]["value"] == "1. Zebras? — ×1"

    # The owner, in a DM, sees the DMs.
    dm_report = await stats_reply(harness, events.command("stats", in_dm=True, user_id=APP_OWNER_ID))
    [embed] = dm_report.body["embeds"]
    assert embed["title"] == "Questions in direct messages, the last 30 days"
    assert embed["description"] == (
        "1 question, 0% answered confidently (0).\n1 helpful and 0 not helpful votes: helpful rate 100%."
    )
    assert followup.body["embeds"][0]["title"] == "Zebras?"


async def test_stats_says_when_the_log_is_unavailable(tmp_path, harness):
    settings = settings_for(seeds_folder(tmp_path))
    settings.state_db.write_bytes(b"not a database " * 500)
    events = await harness.start(settings)
    report = await stats_reply(harness, events.command("stats", permissions=MANAGE_GUILD))
    assert report.body["content"] == (
        "The question log is unavailable (DatabaseError: file is not a database), so there are no statistics "
        "to show. Answers are not affected; the bot's log says more."
    )
    assert report.files == []


async def test_stats_when_question_text_is_not_kept_shows_counts_only(tmp_path, harness):
    settings = settings_for(seeds_folder(tmp_path), question_log_days=0)
    events = await harness.start(settings, clock=FakeClock())
    await ask(harness, events, "Zebras?")
    report = await stats_reply(harness, events.command("stats", {"days": 1}, permissions=MANAGE_GUILD))
    [embed] = report.body["embeds"]
    assert embed["description"] == "1 question, 0% answered confidently (0).\nNo votes yet."
    assert "fields" not in embed
    assert embed["footer"] == {"text": "Days are UTC. Question text is not kept (QUESTION_LOG_DAYS=0): only counts."}


async def test_old_questions_are_pruned_when_the_bot_starts(tmp_path, harness):
    settings = settings_for(seeds_folder(tmp_path), question_log_days=30)
    db = open_database(settings.state_db)
    for answer_id, days_ago in ((1, 31), (2, 29)):
        db.execute(
            "INSERT INTO answers VALUES (?, ?, ?, 'Old?', 'old', 0, NULL, NULL, 1.0)",
            (answer_id, START - days_ago * DAY, GUILD_ID),
        )
    db.close()
    await harness.start(settings, clock=FakeClock())
    # Read-only, while the bot writes: pruned once the 31-day-old row is gone and the other is still there.
    await harness.fake.wait_for(lambda: rows(settings.state_db, "SELECT id FROM answers") == [(2,)])


async def test_stats_on_a_read_only_database_shows_what_it_can_and_says_recording_stopped(
    tmp_path, harness, monkeypatch
):
    from bot.questionlog import schema
    from tests.bot.test_question_log import read_only

    settings = settings_for(seeds_folder(tmp_path))
    open_database(settings.state_db).close()
    monkeypatch.setattr(schema, "connect", lambda path, *, create=True: read_only(path))
    events = await harness.start(settings, clock=FakeClock())
    await ask(harness, events, "How many coups?")
    await events.bot.question_log.flush()
    report = await stats_reply(harness, events.command("stats", {"days": 1}, permissions=MANAGE_GUILD))
    [embed] = report.body["embeds"]
    assert embed["description"] == (
        "No questions.\nNo votes yet.\n⚠ The question log is unavailable now (OperationalError: attempt to write a "
        "readonly database): new questions are not recorded."
    )
    [(_, chart)] = report.files
    assert png_size(chart) == (800, 400)
