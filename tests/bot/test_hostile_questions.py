"""Hostile questions through the bot, by /ask, DM and mention: each gets a clear reply within Discord's limits,
no exception, and pings nobody."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from testkit.discord_harness import BOT_USER, Harness, limit_violations, seeds_folder, settings_for

HOSTILE_QUESTIONS = {
    "whitespace": " \t ",
    "stop words only": "the of and is it",
    "6,000 characters": ("@everyone Who is in charge of Niger? " * 200)[:6_000],
    "everyone and here": "@everyone @here who is in charge?",
    "role and user mentions": "<@&123456789012345678> <@!123456789012345678> who condemned the coup?",
    "markdown": "**Who** _is_ ~~in~~ `charge`? > quote || spoiler ||",
    "code block": "```python\nimport os; os.system('rm -rf /')\n```",
    "zero-width": "Who\u200b is\u200d in\u2060 charge?",
    "url": "https://example.com/niger?coup=1&x=<script>",
    "other scripts": "Кто руководит Нигером? 谁在负责？ من المسؤول؟",
    "emoji": "🤔🇳🇪🔥 coup? 👀",
    "direction override": "\u202eWho is in charge?\u202c",
}


@pytest.fixture
async def harness(monkeypatch: pytest.MonkeyPatch) -> Any:
    async with Harness(monkeypatch) as started:
        yield started


def check_reply(body: dict[str, Any]) -> None:
    # Nobody is pinged, whatever the text says (nor the asker by the reply).
    assert body["allowed_mentions"]["parse"] == []
    assert body["allowed_mentions"].get("replied_user", False) is False
    assert limit_violations(body) == []
    shown = (body.get("content") or "") + "".join(
        (e.get("title") or "")
        + (e.get("description") or "")
        + "".join(f["name"] + f["value"] for f in e.get("fields", []))
        for e in body.get("embeds") or []
    )
    assert shown.strip()  # a reply that says something
    assert "@everyone" not in shown and "@here" not in shown  # echoed text is escaped too


@pytest.mark.parametrize("question", HOSTILE_QUESTIONS.values(), ids=HOSTILE_QUESTIONS.keys())
async def test_a_hostile_question_gets_a_clear_reply_by_every_route(
    tmp_path: Path, harness: Harness, caplog: pytest.LogCaptureFixture, question: str
) -> None:
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    events.guild_create()

    slash = events.command("ask", {"question": question})
    [first, *rest] = await harness.fake.wait_interaction(slash, 1)
    if first.body == {"type": 5}:  # deferred, then answered
        [answer] = rest or (await harness.fake.wait_interaction(slash, 2))[1:]
        check_reply(answer.body)
    else:  # answered at once (an empty question is told what to do)
        assert first.body["type"] == 4
        check_reply(first.body["data"])

    events.message(question, in_dm=True)
    events.message(f"<@{BOT_USER['id']}> {question}", in_dm=False, mentions=(BOT_USER,))
    replies = await harness.fake.wait_for(lambda: (r := harness.fake.of("rest", "/messages")) and len(r) == 2 and r)
    for reply in replies:
        check_reply(reply.body)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
