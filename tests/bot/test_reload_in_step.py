"""Reloads in step: a /reload in one process, and every process serving the same saved index maps the new one.

Bots in one test process stand for processes here (each has its own holder, watcher thread and status file);
tests/bot/test_cluster.py does the same across real processes.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from bot.reload_sync import InStep, PeerStatus, ReloadSync
from testkit.discord_harness import MANAGE_GUILD, WAIT_SECONDS, Harness, seeds_folder, settings_for

NEW_ARTICLE = (
    "title: Ferry timetable changes\ndate: 2024-05-01\n\n"
    "The ferry will sail every two hours from June. The operator blamed rising fuel costs."
)


@pytest.fixture
async def harness(monkeypatch):
    async with Harness(monkeypatch) as started:
        yield started


async def start_bots(harness, folder, count):
    return [await harness.start(settings_for(folder, shard_count=count, shard_ids=(n,))) for n in range(count)]


async def reload_through(harness, events) -> list[str]:
    payload = events.command("reload", permissions=MANAGE_GUILD)
    _, report = await harness.fake.wait_interaction(payload, 2)
    return report.body["content"].split("\n")


async def test_a_reload_in_one_process_is_served_by_all(tmp_path, harness):
    folder = seeds_folder(tmp_path)
    bots = await start_bots(harness, folder, 3)
    assert [len(b.bot.reload_sync.peers()) for b in bots] == [3, 3, 3]
    (folder / "ferry.txt").write_text(NEW_ARTICLE, encoding="utf-8")

    lines = await reload_through(harness, bots[2])

    assert lines[0].startswith("Reloaded in ") and lines[0].endswith("now 5 articles, 47 sentences.")
    assert lines[1] == "Serving the new index: 3/3 processes."
    assert lines[2] == "Added (1): ferry.txt"
    # Every bot serves the new index now: the reply was sent only once they all had reported it.
    for events in bots:
        assert "ferry.txt" in [a.id for a in events.bot.holder.index.articles]
        assert events.bot.reload_sync.generation == bots[2].bot.reload_sync.generation == 1
    # Built once: the others mapped the file the reloading one saved.
    assert [events.bot.holder.last_build.from_cache for events in bots] == [True, True, False]


async def test_a_process_that_cannot_follow_keeps_its_index_and_the_reply_says_so(tmp_path, harness, caplog):
    folder = seeds_folder(tmp_path)
    first, second = await start_bots(harness, folder, 2)
    second.bot.holder.folder = tmp_path / "unmounted"  # as if the folder went away under that process
    (folder / "ferry.txt").write_text(NEW_ARTICLE, encoding="utf-8")

    lines = await reload_through(harness, first)

    assert lines[1] == "Serving the new index: 1/2 processes."
    assert lines[2].startswith(
        "The process for shards 1 of 2 could not map it and keeps serving the previous index (The seeds folder "
    )
    assert lines[2].endswith("does not exist: create it, or set SEEDS\\_DIR to your articles.); see its log.")
    assert "ferry.txt" in [a.id for a in first.bot.holder.index.articles]
    assert "ferry.txt" not in [a.id for a in second.bot.holder.index.articles]
    assert len(second.bot.holder.index.articles) == 4  # still answering from the previous index
    assert "Could not map the index another process reloaded (generation 1); still serving" in caplog.text


async def test_a_single_process_reply_has_no_process_count(tmp_path, harness):
    [only] = await start_bots(harness, seeds_folder(tmp_path), 1)
    lines = await reload_through(harness, only)
    assert lines[0].endswith("now 4 articles, 45 sentences.")
    assert lines[1:] == ["Added: none", "Removed: none", "Changed: none"]  # no line about processes


def test_in_step_lines():
    peer = PeerStatus("p", 1, "shards 2-3 of 4", 7, "disk full")
    late = PeerStatus("q", 2, "shards 4-5 of 6", 6)
    assert InStep(7, 1, 1).describe() is None
    assert InStep(7, 4, 4).describe() == "Serving the new index: 4/4 processes."
    assert InStep(7, 3, 1, (peer,), (late,)).describe() == (
        "Serving the new index: 1/3 processes.\n"
        "The process for shards 2-3 of 4 could not map it and keeps serving the previous index (disk full); "
        "see its log.\n"
        "The process for shards 4-5 of 6 has not reported yet; see its log."
    )


async def test_a_stale_status_whose_pid_now_names_another_live_process_is_not_waited_for(tmp_path):
    """Issue 23, finding 10: a container restarted with its cache kept, the pid in an old file reused."""
    index_path = tmp_path / "index-abc.bin"

    async def follow() -> None:
        return None

    sync = ReloadSync(index_path, "shards 0-0 of 1", follow, answer_seconds=WAIT_SECONDS)
    await sync.start(0)
    stale = sync.peers_dir / "4242-deadbeef.json"  # from a process gone; its pid is now this live one's
    stale.write_text(json.dumps({"pid": os.getpid(), "shards": "shards 0-0 of 1", "generation": 0, "error": None}))
    (sync.peers_dir / "4242-deadbeef.lock").touch()  # its lock file is left, but nobody holds it
    older = sync.peers_dir / "4243-cafebabe.json"  # a status without a lock file at all
    older.write_text(json.dumps({"pid": os.getppid(), "shards": "shards 0-0 of 1", "generation": 0, "error": None}))

    in_step = await asyncio.wait_for(sync.announce(), WAIT_SECONDS)
    assert in_step == InStep(1, 1, 1)  # only this process: nothing waited for, nobody reported missing
    assert in_step.describe() is None
    assert sorted(p.name for p in sync.peers_dir.iterdir()) == [f"{sync.peer}.json", f"{sync.peer}.lock"]
    await sync.close()
    assert list(sync.peers_dir.iterdir()) == []


async def test_a_live_process_in_the_same_folder_is_counted(tmp_path):
    index_path = tmp_path / "index-abc.bin"
    followed = asyncio.Event()

    async def follow() -> None:
        followed.set()

    first, second = (ReloadSync(index_path, f"shards {n}-{n} of 2", follow, poll_seconds=0.01) for n in (0, 1))
    await first.start(0)
    await second.start(0)
    assert [p.shards for p in first.peers()] == ["shards 0-0 of 2", "shards 1-1 of 2"]
    in_step = await asyncio.wait_for(first.announce(), WAIT_SECONDS)
    assert (in_step.total, in_step.serving) == (2, 2)
    assert followed.is_set()
    await first.close()
    await second.close()
