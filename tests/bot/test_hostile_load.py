"""Load through the offline harness (testkit/load_scenario.py): 1,000 questions (slash commands, DMs, mentions)
from 200 users while 5 /reloads run. Nothing unhandled is logged, every question is answered exactly once
(a cooldown reply counts; a flood of messages within one cooldown gets one "try again"), and every reload
reports. How fast (first responses within Discord's 3 s, the event loop's lag) is measured by
`bench/bot_load.py --check`, not here: it depends on the machine."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from testkit.discord_harness import Harness
from testkit.load_scenario import COOLDOWN_PREFIX, QUESTIONS, RELOADS, USERS, content, replies, run_load

pytestmark = pytest.mark.slow


@pytest.fixture
async def harness(monkeypatch: pytest.MonkeyPatch) -> Any:
    async with Harness(monkeypatch) as started:
        yield started


async def test_a_thousand_questions_from_two_hundred_users_during_five_reloads(
    tmp_path: Path, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    run = await run_load(tmp_path, harness)
    gc.collect()  # a task that died with an exception is reported when collected
    await asyncio.sleep(0)

    got = run.responses
    assert len(run.kinds) == QUESTIONS
    assert len(set(run.users.values())) == USERS
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    reports = [content(got[key][-1]) for key in run.reloads]
    assert len(reports) == RELOADS
    assert all(report.startswith("Reloaded in ") for report in reports), reports
    cooldown_replies = sum(1 for key in run.kinds if key in got and content(got[key][-1]).startswith(COOLDOWN_PREFIX))
    assert cooldown_replies > 0
    # Each question got exactly one reply, except message questions refused in silence because their
    # asker had just been told to wait: exactly as many of those per user as the bot refused silently.
    unanswered: Counter[int] = Counter()
    for key, kind in run.kinds.items():
        sent = replies(got.get(key, []))
        assert len(sent) <= 1, (kind, [c.body for c in sent])
        if not sent:
            assert kind in ("DM", "mention"), kind
            unanswered[run.users[key]] += 1
    assert unanswered == +run.silent_refusals
    # Interactions: the first response is the defer or the reply itself, and every one has a response.
    for key, kind in run.kinds.items():
        if kind.startswith("slash"):
            assert got[key][0].is_callback, kind
