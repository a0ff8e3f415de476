"""/reload: who may run it, what it reports, and that questions keep being answered meanwhile."""

from __future__ import annotations

import re
import shutil
import threading

import pytest
from discord.utils import escape_markdown

import bot.index_holder
import index.serving.build_worker
from bot.exts.moderation import ALREADY_RUNNING, NOT_ALLOWED
from index import EmptyIndexError, build_index
from testkit.discord_harness import (
    APP_OWNER_ID,
    EPHEMERAL,
    MANAGE_GUILD,
    MEMBER_ID,
    MOD_ROLE_ID,
    OTHER_ROLE_ID,
    WAIT_SECONDS,
    Harness,
    seeds_folder,
    settings_for,
)
from tests.helpers import build_worker_killed

DEFERRED_EPHEMERAL = {"type": 5, "data": {"flags": EPHEMERAL}}
SEED_SENTENCES = 33
SMALL_SENTENCES = 4 * 3  # three small articles of four sentences each
REPORT_HEAD = re.compile(r"^Reloaded in \d+\.\d\d s: now (\d+) articles?, (\d+) sentences?\.$")


@pytest.fixture
async def harness(monkeypatch):
    async with Harness(monkeypatch) as started:
        yield started


async def reload_report(harness, events, **who) -> list[str]:
    payload = events.command("reload", **who)
    defer, report = await harness.fake.wait_interaction(payload, 2)
    assert defer.body == DEFERRED_EPHEMERAL
    assert report.body["flags"] == EPHEMERAL
    assert report.body["allowed_mentions"] == {"parse": []}
    return report.body["content"].split("\n")


async def test_commands_register_as_global_commands_usable_in_servers_and_dms(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    payloads = {c.name: c.to_dict(events.bot.tree) for c in events.bot.tree.get_commands()}

    assert sorted(payloads) == ["article", "ask", "feed", "help", "reload", "sources", "stats"]
    for payload in payloads.values():
        assert payload["contexts"] == [0, 1]  # guild, bot DM
        assert payload["integration_types"] == [0]  # installed to servers
    assert payloads["reload"]["default_member_permissions"] == MANAGE_GUILD
    assert [payloads[name]["default_member_permissions"] for name in ("ask", "help", "sources")] == [None] * 3
    assert payloads["ask"]["options"] == [
        {
            "type": 3,
            "name": "question",
            "description": "What you want to know about the news articles",
            "required": True,
            "min_length": 1,
            "max_length": 500,
        },
        {
            "type": 4,
            "name": "passages",
            "description": "How many passages to show (1 to 5, default 3)",
            "required": False,
            "min_value": 1,
            "max_value": 5,
        },
        {
            "type": 3,
            "name": "article",
            "description": "Search only this article (start typing its title)",
            "required": False,
            "autocomplete": True,
        },
    ]


@pytest.mark.parametrize(
    ("where", "owners"),
    [
        ({"permissions": 0}, frozenset()),  # a server whose admins opened /reload to everyone
        ({"roles": (OTHER_ROLE_ID,)}, frozenset()),  # a role that is not a moderator role
        ({"in_dm": True}, frozenset()),  # a DM from someone who is not an owner
        ({"in_dm": True, "user_id": APP_OWNER_ID}, frozenset({MEMBER_ID + 1})),  # OWNER_IDS replaces the app owner
    ],
)
async def test_reload_is_refused_to_everyone_else_with_what_is_needed(tmp_path, harness, where, owners):
    events = await harness.start(settings_for(seeds_folder(tmp_path), owner_ids=owners))
    events.guild_create()
    serving = events.bot.holder.index
    payload = events.command("reload", **where)
    [refusal] = await harness.fake.wait_interaction(payload, 1)

    assert refusal.body == {
        "type": 4,
        "data": {"content": NOT_ALLOWED, "flags": EPHEMERAL, "tts": False, "allowed_mentions": {"parse": []}},
    }
    assert events.bot.holder.index is serving


@pytest.mark.parametrize(
    ("who", "owners"),
    [
        ({"permissions": MANAGE_GUILD}, frozenset()),
        ({"roles": (OTHER_ROLE_ID, MOD_ROLE_ID)}, frozenset()),
        ({"in_dm": True, "user_id": APP_OWNER_ID}, frozenset()),  # the application's owner, by default
        ({"in_dm": True, "user_id": MEMBER_ID}, frozenset({MEMBER_ID})),  # listed in OWNER_IDS
    ],
)
async def test_moderators_and_owners_may_reload(tmp_path, harness, who, owners):
    events = await harness.start(settings_for(seeds_folder(tmp_path), owner_ids=owners))
    events.guild_create()
    lines = await reload_report(harness, events, **who)
    assert REPORT_HEAD.match(lines[0])
    assert lines[1:] == ["Added: none", "Removed: none", "Changed: none"]


async def test_a_reload_that_adds_an_article_reports_it_and_answers_from_it(tmp_path, harness):
    folder = seeds_folder(tmp_path)
    events = await harness.start(settings_for(folder))
    (folder / "news" / "").mkdir()
    (folder / "news" / "lighthouse.txt").write_text(
        "title: Lighthouse keeper retires\ndate: 2024-11-05\n\n"
        "The lighthouse keeper retired after forty years. An automatic lamp replaces him. "
        "Neighbours gathered to say goodbye.",
        encoding="utf-8",
    )
    lines = await reload_report(harness, events, permissions=MANAGE_GUILD)

    assert REPORT_HEAD.match(lines[0]).groups() == ("5", str(SEED_SENTENCES + SMALL_SENTENCES + 3))
    assert lines[1:] == ["Added (1): news/lighthouse.txt", "Removed: none", "Changed: none"]
    payload = events.command("ask", {"question": "When did the keeper retire?", "article": "news/lighthouse.txt"})
    _, answer = await harness.fake.wait_interaction(payload, 2)
    first = answer.body["embeds"][0]["fields"][0]["value"]
    assert first.startswith("**The lighthouse keeper retired after forty years.**")


async def test_a_reload_that_removes_and_changes_articles_reports_both(tmp_path, harness):
    folder = seeds_folder(tmp_path)
    events = await harness.start(settings_for(folder))
    (folder / "library.txt").unlink()
    with (folder / "orchard.md").open("a", encoding="utf-8") as orchard:
        orchard.write(" A second press opens in May.")
    (folder / "notes.txt").write_bytes(b"\x00\x01binary")
    lines = await reload_report(harness, events, permissions=MANAGE_GUILD)

    assert REPORT_HEAD.match(lines[0]).groups() == ("3", str(SEED_SENTENCES + 4 + 5))
    assert lines[1:] == [
        "Added: none",
        "Removed (1): library.txt",
        "Changed (1): orchard.md",
        "Skipped (1): notes.txt (binary file, not text)",
    ]
    gone = events.command("ask", {"question": "When does the library open?", "article": "library.txt"})
    [refusal] = await harness.fake.wait_interaction(gone, 1)
    assert refusal.body["data"]["content"].startswith("I have no article by that name")


async def test_a_reload_that_finds_nothing_keeps_the_old_index_and_says_why(tmp_path, harness):
    folder = seeds_folder(tmp_path)
    events = await harness.start(settings_for(folder))
    serving = events.bot.holder.index
    shutil.rmtree(folder)
    lines = await reload_report(harness, events, permissions=MANAGE_GUILD)

    with pytest.raises(EmptyIndexError) as core:  # the core's own words for it, escaped for Discord
        build_index(folder)
    assert lines == [
        f"Reload failed, so I kept the previous index (4 articles, {SEED_SENTENCES + SMALL_SENTENCES} sentences). "
        f"Reason: {escape_markdown(str(core.value))}"
    ]
    assert events.bot.holder.index is serving
    _, answer = await harness.fake.wait_interaction(events.command("ask", {"question": "How many coups?"}), 2)
    assert "four coups" in answer.body["embeds"][0]["fields"][0]["value"]


async def test_a_rebuild_whose_worker_process_is_killed_keeps_the_old_index_and_says_why(
    tmp_path, harness, monkeypatch
):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    serving = events.bot.holder.index
    monkeypatch.setattr(bot.index_holder, "WORKER_MIN_BYTES", 0)  # rebuilt in a worker process, as a large folder
    real_work = index.serving.build_worker._work
    monkeypatch.setattr(
        index.serving.build_worker, "_work", build_worker_killed
    )  # the worker dies, as by the OOM killer
    lines = await reload_report(harness, events, permissions=MANAGE_GUILD)

    assert lines == [
        f"Reload failed, so I kept the previous index (4 articles, {SEED_SENTENCES + SMALL_SENTENCES} sentences). "
        "Reason: the build's worker process was stopped by SIGKILL before it finished"
    ]
    assert events.bot.holder.index is serving and not serving.closed
    _, answer = await harness.fake.wait_interaction(events.command("ask", {"question": "How many coups?"}), 2)
    assert "four coups" in answer.body["embeds"][0]["fields"][0]["value"]
    monkeypatch.setattr(index.serving.build_worker, "_work", real_work)  # a worker that runs: the next reload serves it
    report = await reload_report(harness, events, permissions=MANAGE_GUILD)
    assert REPORT_HEAD.match(report[0]) and events.bot.holder.index is not serving and serving.closed


async def test_two_reloads_never_run_together_and_questions_are_answered_meanwhile(tmp_path, harness, monkeypatch):
    real_build = bot.index_holder.build_in_worker
    question_answered = threading.Event()
    built_in_worker = []

    def build_after_the_question(folder, **options):
        # Runs in the worker thread that waits for the build's worker process: the rebuild cannot finish
        # before the question is answered, so the question is answered from the old index while the
        # rebuild runs, on any machine.
        assert question_answered.wait(WAIT_SECONDS)
        built_in_worker.append(folder)
        return real_build(folder, **options)

    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    monkeypatch.setattr(bot.index_holder, "WORKER_MIN_BYTES", 0)  # rebuilt in a worker process, as a large folder
    monkeypatch.setattr(bot.index_holder, "build_in_worker", build_after_the_question)
    first = events.command("reload", permissions=MANAGE_GUILD)
    await harness.fake.wait_for(lambda: harness.fake.for_interaction(first))
    second = events.command("reload", permissions=MANAGE_GUILD)
    question = events.command("ask", {"question": "How many coups?"})

    # While the first reload waits, its handler is still running: wait for the requests themselves.
    await harness.fake.wait_for(lambda: harness.fake.for_interaction(second))
    await harness.fake.wait_for(lambda: len(harness.fake.for_interaction(question)) == 2)
    assert len(harness.fake.for_interaction(first)) == 1  # the report is not there yet: only the defer
    question_answered.set()
    [busy] = await harness.fake.wait_interaction(second, 1)
    _, answer = await harness.fake.wait_interaction(question, 2)
    _, report = await harness.fake.wait_interaction(first, 2)
    assert busy.body["data"] == {
        "content": ALREADY_RUNNING,
        "flags": EPHEMERAL,
        "tts": False,
        "allowed_mentions": {"parse": []},
    }
    assert answer.at < report.at  # answered from the old index while the rebuild ran
    assert "four coups" in answer.body["embeds"][0]["fields"][0]["value"]
    assert REPORT_HEAD.match(report.body["content"].split("\n")[0])
    assert len(built_in_worker) == 1  # the second reload was refused, not queued
