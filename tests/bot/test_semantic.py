"""The bot and the semantic stage, through discord.py's own code: it answers at once by words, gets its
sentence vectors behind the serving index, reuses them after a restart, and falls back to words when the
model cannot be loaded."""

from __future__ import annotations

import errno
import logging
import os
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import bot.vectors
import index.meaning.encoder
import index.meaning.vectors
from index.meaning.encoder import ModelUnavailable
from testkit.discord_harness import SMALL_ARTICLES, WAIT_SECONDS, Harness, seeds_folder, settings_for

FIRM = {"firm.txt": "title: Shipping firm\n\nThe chief executive resigned on Monday. Profits fell sharply last year.\n"}
BY_MEANING = "Who quit as boss of the company?"  # no word in common with the article


@pytest.fixture
async def harness(monkeypatch: pytest.MonkeyPatch) -> Any:
    async with Harness(monkeypatch) as started:
        yield started


async def ask(harness: Harness, events: Any, question: str) -> dict[str, Any]:
    _, answer = await harness.fake.wait_interaction(events.command("ask", {"question": question}), 2)
    embed: dict[str, Any] = answer.body["embeds"][0]
    return embed


async def started_with_vectors(harness: Harness, folder: Path) -> Any:
    """A bot with sentence vectors, once they are all in."""
    events = await harness.start(settings_for(folder, semantic=True))
    assert events.bot.holder.vectors is not None
    await events.bot.holder.vectors.wait()
    return events


def filled(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Sentence vectors: all")]


async def test_answers_by_words_at_once_then_by_meaning_once_the_vectors_are_in(
    tmp_path: Path, harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.vectors")
    model_may_load = threading.Event()
    real_encoder = bot.vectors.Encoder

    def slow_encoder(*args: Any, **kwargs: Any) -> index.meaning.encoder.Encoder:
        assert model_may_load.wait(WAIT_SECONDS)  # in its worker thread: the bot serves meanwhile
        return real_encoder(*args, **kwargs)

    monkeypatch.setattr(bot.vectors, "Encoder", slow_encoder)
    events = await harness.start(settings_for(seeds_folder(tmp_path, {**SMALL_ARTICLES, **FIRM}), semantic=True))
    events.guild_create()
    vectors = events.bot.holder.vectors
    assert vectors is not None and vectors.progress() is None  # no model yet: words only
    embed = await ask(harness, events, BY_MEANING)
    assert "fields" not in embed  # nothing shares a word with the question

    model_may_load.set()
    await vectors.wait()
    sentences = events.bot.holder.index.sentence_count
    assert vectors.progress() == (sentences, sentences)
    assert filled(caplog) == [f"Sentence vectors: all {sentences} sentences ready ({sentences} computed)."]
    embed = await ask(harness, events, BY_MEANING)
    # Found by meaning; shown as the closest passage, not as an answer: no word of the question is covered.
    assert embed["fields"][0]["name"] == "Closest passage (weak match): Shipping firm"
    assert "**The chief executive resigned on Monday.**" in embed["fields"][0]["value"]
    # Limited to one article, the question is answered by meaning too, from the same stored vectors.
    _, limited = await harness.fake.wait_interaction(
        events.command("ask", {"question": BY_MEANING, "article": "firm.txt"}), 2
    )
    assert "**The chief executive resigned on Monday.**" in limited.body["embeds"][0]["fields"][0]["value"]
    [sources] = await harness.fake.wait_interaction(events.command("sources"), 1)
    footer = sources.body["data"]["embeds"][0]["footer"]["text"]
    assert footer == "Page 1 of 1 · answers by words and meaning · ask about them with /ask"


async def test_a_restarted_bot_reuses_the_stored_vectors(
    tmp_path: Path, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.vectors")
    folder = seeds_folder(tmp_path, {**SMALL_ARTICLES, **FIRM})
    first = await started_with_vectors(harness, folder)
    await first.bot.close()
    second = await started_with_vectors(harness, folder)
    sentences = second.bot.holder.index.sentence_count
    assert filled(caplog) == [
        f"Sentence vectors: all {sentences} sentences ready ({sentences} computed).",
        f"Sentence vectors: all {sentences:,} sentences ready.",  # nothing computed again
    ]
    assert second.bot.holder.vectors.progress() == (sentences, sentences)


async def test_a_reload_keeps_the_vectors_of_unchanged_articles(
    tmp_path: Path, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.vectors")
    folder = seeds_folder(tmp_path, {**SMALL_ARTICLES, **FIRM})
    holder = (await started_with_vectors(harness, folder)).bot.holder
    assert holder.vectors is not None
    (folder / "firm.txt").write_text(FIRM["firm.txt"] + "\nShares rose in early trading.\n", encoding="utf-8")
    report = await holder.reload()
    assert report.error is None
    await holder.vectors.wait()
    sentences = holder.index.sentence_count
    assert holder.vectors.progress() == (sentences, sentences)
    assert filled(caplog)[-1] == f"Sentence vectors: all {sentences} sentences ready (3 computed)."  # firm.txt only


async def test_a_model_that_cannot_load_is_logged_once_and_the_bot_answers_by_words(
    tmp_path: Path, harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> bytes:
        raise ModelUnavailable("the weights have SHA-256 0000…, not the pinned 8199…")

    monkeypatch.setattr(index.meaning.encoder, "verified_weights", broken)
    events = await harness.start(settings_for(seeds_folder(tmp_path), semantic=True))
    events.guild_create()
    vectors = events.bot.holder.vectors
    assert vectors is not None
    await vectors.wait()
    await events.bot.holder.reload()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "Sentence vectors are unavailable (the weights have SHA-256 0000…, not the pinned 8199…); "
        "answering by words only."
    ]
    assert vectors.progress() is None
    embed = await ask(harness, events, "How many coups?")
    assert "four coups" in embed["fields"][0]["value"]


async def test_a_full_disk_while_filling_vectors_is_one_warning_and_the_bot_answers(
    tmp_path: Path, harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 23, finding 13, in the bot: no traceback for a full disk, and answers go on."""

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(index.meaning.vectors, "os", SimpleNamespace(**{**vars(os), "fsync": no_space}))
    events = await harness.start(settings_for(seeds_folder(tmp_path), semantic=True))
    events.guild_create()
    vectors = events.bot.holder.vectors
    assert vectors is not None
    await vectors.wait()
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in problems] == [
        f"Sentence vectors could not be saved in {vectors.stage.store.folder} (No space left on device); "
        "answers use the 0 ready so far."
    ]
    assert problems[0].exc_info is None
    embed = await ask(harness, events, "How many coups?")
    assert "four coups" in embed["fields"][0]["value"]
