"""IDENTIFYs spaced across processes: the gate of bot/identify_gate.py, alone and under bots over real sockets.

Every assertion on time is a lower bound (IDENTIFYs at least the interval apart), which no slow machine
can break: the gate records an IDENTIFY's time only after discord.py has written it, and the next one
waits the interval from that record. Times are taken as discord.py sends, not as the fake gateway
receives: a receiver's delays could bring two arrivals closer than the sends were.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import discord.gateway
import pytest

from bot.bot import QABot
from bot.config import ConfigError, load_settings
from bot.identify_gate import IdentifyGate, gate_folder
from index.storage import store
from testkit.discord_harness import WAIT_SECONDS, seeds_folder, settings_for
from tests.bot.test_shards import guild_on_shard, setter
from tests.discord_server import FakeDiscordServer

INTERVAL = 0.3


def spaced(times: list[float]) -> list[float]:
    """The gaps between consecutive times, in order."""
    ordered = sorted(times)
    return [later - earlier for earlier, later in itertools.pairwise(ordered)]


async def identify(gate: IdentifyGate, shard_id: int, sent: list[float], *, initial: bool = False) -> None:
    """What discord.py does: the hook, then the IDENTIFY written in the same step (its time noted here)."""
    await gate.before_identify(shard_id, initial=initial)
    sent.append(time.time())


def test_contending_threads_take_turns_an_interval_apart(tmp_path):
    """Three "processes" (a thread each, with its own loop and its own gate on one folder), 3 shards each."""
    sent: list[float] = []
    lock = threading.Lock()

    def process(first_shard: int) -> None:
        async def shards() -> None:
            gate = IdentifyGate(tmp_path / "gate", INTERVAL)
            mine: list[float] = []
            for shard in range(first_shard, first_shard + 3):
                await identify(gate, shard, mine, initial=shard == first_shard)
            await gate.close()
            with lock:
                sent.extend(mine)

        asyncio.run(shards())

    threads = [threading.Thread(target=process, args=(first,)) for first in (0, 3, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    assert len(sent) == 9
    assert all(gap >= INTERVAL for gap in spaced(sent)), spaced(sent)
    assert float((tmp_path / "gate" / "0").read_text()) >= max(sent)  # recorded after the last was sent


async def test_buckets_follow_the_concurrency_and_each_keeps_its_own_time(tmp_path):
    gate = IdentifyGate(tmp_path / "gate", INTERVAL, concurrency=2)
    assert [gate.bucket(shard) for shard in (0, 1, 2, 5, None)] == [0, 1, 0, 1, 0]
    sent: list[float] = []
    await identify(gate, 0, sent)
    await identify(gate, 1, sent)  # another bucket: no turn to wait for
    await gate.close()
    assert sorted(path.name for path in (tmp_path / "gate").iterdir()) == ["0", "1"]
    assert float((tmp_path / "gate" / "0").read_text()) >= sent[0]
    assert float((tmp_path / "gate" / "1").read_text()) >= sent[1]


async def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    folder = tmp_path / "gate"
    folder.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import fcntl, os, sys, time
                fd = os.open({str(folder / "0")!r}, os.O_RDWR | os.O_CREAT)
                fcntl.flock(fd, fcntl.LOCK_EX)
                print("held", flush=True)
                time.sleep(600)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        gate = IdentifyGate(folder, INTERVAL)
        waiting = asyncio.create_task(identify(gate, 0, []))
        await asyncio.sleep(3 * INTERVAL)
        assert not waiting.done()  # the live holder keeps it waiting
        holder.kill()
        await asyncio.wait_for(waiting, WAIT_SECONDS)  # the kernel let the killed holder's lock go
        await gate.close()
    finally:
        holder.kill()
        holder.wait()


async def test_a_shard_cancelled_while_waiting_lets_the_lock_go(tmp_path):
    first, second, third = (IdentifyGate(tmp_path / "gate", 60.0) for _ in range(3))
    await identify(first, 0, [])
    await first.close()
    waiting = asyncio.create_task(identify(second, 1, []))  # 60 s to wait, holding the lock: the bot closes

    async def free() -> bool:
        held = await asyncio.to_thread(third._try_lock, 0)
        if held is not None:
            os.close(held[0])
        return held is not None

    async def until_held() -> None:
        while await free():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(until_held(), WAIT_SECONDS)  # the waiting shard holds the lock
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await free()


def test_identify_concurrency_setting():
    assert load_settings({}, require_token=False).identify_concurrency == 1
    assert load_settings({"IDENTIFY_CONCURRENCY": "16"}, require_token=False).identify_concurrency == 16
    for bad in ("0", "-1", "two", "1.5", "²", "1025"):
        with pytest.raises(ConfigError) as raised:
            load_settings({"IDENTIFY_CONCURRENCY": bad}, require_token=False)
        assert str(raised.value) == (
            "IDENTIFY_CONCURRENCY must be a whole number from 1 to 1,024, the max_concurrency Discord gives "
            f"the bot (got {bad!r}); fix it in .env."
        )


async def test_two_bots_sharing_the_gate_identify_an_interval_apart_each_shard_once(tmp_path, monkeypatch):
    """Two bots stand for two processes (each its own gate object, sharing the folder, as processes do)."""
    sends: list[tuple[int, float]] = []  # (shard, time) as discord.py writes each IDENTIFY
    send_as_json = discord.gateway.DiscordWebSocket.send_as_json

    async def noting(self: discord.gateway.DiscordWebSocket, data: Any) -> None:
        if data.get("op") == self.IDENTIFY:
            sends.append((data["d"]["shard"][0], time.time()))
        await send_as_json(self, data)

    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "send_as_json", noting)
    guilds = [guild_on_shard(shard, 4) for shard in range(4)]
    server = FakeDiscordServer(guilds=guilds)
    await server.start(monkeypatch)
    folder = seeds_folder(tmp_path)
    bots = [
        QABot(
            settings_for(folder, shard_count=4, shard_ids=ids, identify_seconds=INTERVAL),
            guild_ready_timeout=0.1,
        )
        for ids in ((0, 1), (2, 3))
    ]
    shared = gate_folder(store.index_file(store.cache_folder(), folder))
    assert [bot.identify_gate.folder for bot in bots] == [shared, shared]
    ready = [asyncio.Event(), asyncio.Event()]
    for n, bot in enumerate(bots):
        bot.add_listener(setter(ready[n]), "on_ready")
    running = [asyncio.create_task(bot.start("token")) for bot in bots]
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), WAIT_SECONDS)
        assert sorted(server.identifies) == [(0, 4), (1, 4), (2, 4), (3, 4)]  # each shard once, its own id
        assert sorted(shard for shard, _ in sends) == [0, 1, 2, 3]
        assert [sorted(bot.shards) for bot in bots] == [[0, 1], [2, 3]]
        gaps = spaced([at for _, at in sends])
        assert all(gap >= INTERVAL for gap in gaps), gaps
    finally:
        for bot, task in zip(bots, running, strict=True):
            await asyncio.wait_for(bot.close(), WAIT_SECONDS)
            await asyncio.wait_for(task, WAIT_SECONDS)
        await server.stop()
