"""/ask through discord.py's own code: raw INTERACTION_CREATE payloads in, the exact requests out."""

from __future__ import annotations

import logging
import threading

import pytest

from bot.errors import APOLOGY
from bot.formatting import NO_CONFIDENT_ANSWER, NOTHING_MATCHES
from index import SearchIndex
from testkit.discord_harness import EPHEMERAL, SMALL_ARTICLES, Harness, break_the_index, seeds_folder, settings_for

NO_PINGS = {"parse": []}
SEED_ID = "000_eed0d9b0ce39977c.txt"
FOUR_COUPS = "has experienced four coups since independence from France in 1960"


@pytest.fixture
async def harness(monkeypatch):
    async with Harness(monkeypatch) as started:
        yield started


async def test_ask_defers_before_searching_then_answers_with_the_cited_passage(tmp_path, harness, monkeypatch):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    events.guild_create()
    holder = events.bot.holder
    sent_before_search: list[int] = []
    real_ask = holder.ask

    async def ask(*args, **kwargs):
        sent_before_search.append(len(harness.fake.for_interaction(payload)))
        return await real_ask(*args, **kwargs)

    monkeypatch.setattr(holder, "ask", ask)
    payload = events.command("ask", {"question": "How many coups?", "passages": 1})
    defer, followup = await harness.fake.wait_interaction(payload, 2)

    assert (defer.method, defer.path) == ("POST", "/interactions/{webhook_id}/{webhook_token}/callback")
    assert defer.body == {"type": 5}  # deferred, public: everyone in the channel sees the answer
    # Discord allows 3 s for the first response: it goes out before the search, however long that takes.
    assert sent_before_search == [1]
    assert (followup.method, followup.path) == ("POST", "/webhooks/{webhook_id}/{webhook_token}")
    assert followup.body["allowed_mentions"] == NO_PINGS
    [embed] = followup.body["embeds"]
    assert embed["title"] == "How many coups?"
    [field] = embed["fields"]
    assert field["name"].startswith("1. Niger’s President Mohamed Bazoum")
    # The matched sentence is bold inside its context; the citation follows on its own line.
    assert (
        f"**The vast arid country on the edge of the Sahara desert – one of the world’s poorest nations – {FOUR_COUPS}"
        in (field["value"])
    )
    passage, citation = field["value"].rsplit("\n", 1)
    assert passage.startswith("In an interview with the channel France24")
    assert citation == "— 2023-07-27 · sentence 33"


async def test_ask_works_in_a_dm_and_shows_a_link_when_the_article_has_one(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    payload = events.command(
        "ask", {"question": "When did the harbour reopen?", "passages": 2, "article": "harbour.txt"}, in_dm=True
    )
    defer, followup = await harness.fake.wait_interaction(payload, 2)

    assert defer.body == {"type": 5}
    [embed] = followup.body["embeds"]
    first = embed["fields"][0]
    assert first["value"].startswith("**The harbour reopened on Monday after a week of repairs.**")
    assert first["value"].endswith("\n— 2024-03-02 · sentence 1 · [link](https://example.com/harbour)")
    # The article filter: the only sentence of that article sharing a word with the question.
    assert [f["name"] for f in embed["fields"]] == ["1. Harbour reopens after the storm"]


async def test_a_question_nothing_answers_confidently_says_so_and_shows_one_weak_passage(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    payload = events.command("ask", {"question": "Which volunteers painted the lighthouse purple?", "passages": 5})
    _, followup = await harness.fake.wait_interaction(payload, 2)

    [embed] = followup.body["embeds"]
    assert embed["description"] == NO_CONFIDENT_ANSWER
    [field] = embed["fields"]
    assert field["name"].startswith("Closest passage (weak match): ")
    assert "/sources" in embed["description"]


async def test_a_question_sharing_no_word_with_the_articles_gets_no_passage(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    payload = events.command("ask", {"question": "Zebras?"})
    _, followup = await harness.fake.wait_interaction(payload, 2)

    [embed] = followup.body["embeds"]
    assert embed["description"] == NOTHING_MATCHES
    assert "fields" not in embed


async def test_mentions_in_a_question_are_escaped_and_ping_nobody(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    events.guild_create()
    payload = events.command("ask", {"question": "@everyone <@&1100000000000000012> *who* is in charge?"})
    _, followup = await harness.fake.wait_interaction(payload, 2)

    assert followup.body["allowed_mentions"] == NO_PINGS
    title = followup.body["embeds"][0]["title"]
    assert title == "@\u200beveryone <@\u200b&1100000000000000012> \\*who\\* is in charge?"


async def test_a_second_question_within_the_cooldown_gets_an_ephemeral_wait(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path), cooldown_seconds=30.0))
    first = events.command("ask", {"question": "How many coups?"})
    await harness.fake.wait_interaction(first, 2)
    again = events.command("ask", {"question": "Who is in charge?"})
    [refusal] = await harness.fake.wait_interaction(again, 1)
    other_user = events.command("ask", {"question": "Who is in charge?"}, user_id=1_100_000_000_000_000_099)
    await harness.fake.wait_interaction(other_user, 2)

    assert refusal.body == {
        "type": 4,
        "data": {
            "content": "You're asking too fast: try again in 30 s.",
            "flags": EPHEMERAL,
            "tts": False,
            "allowed_mentions": NO_PINGS,
        },
    }


async def test_a_mistyped_article_does_not_cost_the_question(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path), cooldown_seconds=30.0))
    typo = events.command("ask", {"question": "apples", "article": "orchrd"})
    [refusal] = await harness.fake.wait_interaction(typo, 1)
    corrected = events.command("ask", {"question": "apples", "article": "orchard.md"})
    deferred, followup = await harness.fake.wait_interaction(corrected, 2)

    assert refusal.body["data"]["content"].startswith("I have no article by that name")
    assert deferred.body["type"] == 5  # deferred: the question is searched, not refused as too soon
    names = [f["name"] for f in followup.body["embeds"][0]["fields"]]
    assert names and all(name.endswith(". Orchard harvest breaks a record") for name in names)


async def test_autocomplete_offers_matching_titles(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    payload = events.autocomplete("ask", {"question": "when", "article": "harb"}, focused="article")
    [callback] = await harness.fake.wait_interaction(payload, 1)
    assert callback.body == {
        "type": 8,
        "data": {"choices": [{"name": "Harbour reopens after the storm · 2024-03-02", "value": "harbour.txt"}]},
    }

    everything = events.autocomplete("ask", {"article": ""}, focused="article")
    [callback] = await harness.fake.wait_interaction(everything, 1)
    assert [c["value"] for c in callback.body["data"]["choices"]] == [SEED_ID, *sorted(SMALL_ARTICLES)]


async def test_autocomplete_never_offers_more_than_25_choices_of_100_characters(tmp_path, harness):
    many = {f"a{n:02}.txt": f"title: {'Long title ' * 15}{n}\n\nSome words about item {n}." for n in range(40)}
    events = await harness.start(settings_for(seeds_folder(tmp_path, many)))
    payload = events.autocomplete("ask", {"article": "long"}, focused="article")
    [callback] = await harness.fake.wait_interaction(payload, 1)
    choices = callback.body["data"]["choices"]
    assert len(choices) == 25
    assert all(len(c["name"]) <= 100 and c["name"].endswith("…") for c in choices)


async def test_an_unknown_article_is_refused_before_searching(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    payload = events.command("ask", {"question": "Who?", "article": "no-such-article"})
    [refusal] = await harness.fake.wait_interaction(payload, 1)
    assert refusal.body["type"] == 4
    assert refusal.body["data"]["flags"] == EPHEMERAL
    assert refusal.body["data"]["content"] == (
        "I have no article by that name: pick one from the list as you type, or see /sources."
    )


async def test_an_article_typed_by_its_title_is_understood(tmp_path, harness):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    payload = events.command("ask", {"question": "apples", "article": "orchard harvest breaks a record"})
    _, followup = await harness.fake.wait_interaction(payload, 2)
    names = [f["name"] for f in followup.body["embeds"][0]["fields"]]
    assert names and all(name.endswith(". Orchard harvest breaks a record") for name in names)


async def test_search_runs_off_the_event_loop(tmp_path, harness, monkeypatch):
    threads = []
    original = SearchIndex.ask

    def recording_ask(self, question, k=3):
        threads.append(threading.current_thread())
        return original(self, question, k)

    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    monkeypatch.setattr(SearchIndex, "ask", recording_ask)
    await harness.fake.wait_interaction(events.command("ask", {"question": "How many coups?"}), 2)
    assert len(threads) == 1
    assert threads[0] is not threading.main_thread()


async def test_an_unexpected_error_is_logged_and_the_user_gets_an_apology(tmp_path, harness, monkeypatch, caplog):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    break_the_index(monkeypatch)
    with caplog.at_level(logging.ERROR, logger="bot.errors"):
        payload = events.command("ask", {"question": "How many coups?"})
        defer, apology = await harness.fake.wait_interaction(payload, 2)

    assert defer.body == {"type": 5}
    assert apology.body["content"] == APOLOGY
    assert apology.body["allowed_mentions"] == NO_PINGS
    [record] = [r for r in caplog.records if r.name == "bot.errors"]
    assert record.getMessage() == "Unexpected error in /ask"
    assert "index exploded" in str(record.exc_info[1])


@pytest.mark.parametrize("question", ["   "])
async def test_a_blank_question_is_refused(tmp_path, harness, question):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    [refusal] = await harness.fake.wait_interaction(events.command("ask", {"question": question}), 1)
    assert refusal.body["data"]["flags"] == EPHEMERAL
    assert refusal.body["data"]["content"].startswith("Your question is empty")


async def test_an_expired_interaction_is_logged_and_the_bot_keeps_answering(tmp_path, harness, caplog):
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    harness.fake.fail_paths.add("/webhooks/{webhook_id}/{webhook_token}")  # followups get 404 Unknown interaction
    with caplog.at_level(logging.WARNING):
        payload = events.command("ask", {"question": "How many coups?"})
        defer, answer, apology = await harness.fake.wait_interaction(payload, 3)
    assert defer.body == {"type": 5}
    assert "embeds" in answer.body and apology.body["content"] == APOLOGY
    assert [r.getMessage() for r in caplog.records if r.name == "bot.errors"] == [
        "Unexpected error in /ask",
        "Could not tell the user about an error (the interaction may have expired)",
    ]

    harness.fake.fail_paths.clear()
    _, followup = await harness.fake.wait_interaction(events.command("ask", {"question": "Who is in charge?"}), 2)
    assert followup.body["embeds"][0]["title"] == "Who is in charge?"
