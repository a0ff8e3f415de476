"""IDENTIFYs spaced across processes: the gate of bot/identify_gate.py, alone and under bots over real sockets.

No assertion here reads the machine's clock. Each gate gets a clock that moves only when the gate sleeps out
an interval (`FakeTime`), so the spacing asserted is exact whatever the machine's load: the gate records an
IDENTIFY's time after discord.py has written it, and the next shard waits the interval from that record.
Order is asserted with a shared log of events, never with durations.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import textwrap
import threading
from typing import Any

import discord.gateway
import discord.http
import pytest

from bot.bot import QABot
from bot.config import ConfigError, load_settings
from bot.identify_gate import IdentifyGate, gate_folder
from index.storage import store
from testkit.discord_harness import WAIT_SECONDS, seeds_folder, settings_for
from tests.bot.test_shards import guild_on_shard, setter
from tests.discord_server import FakeDiscordServer

INTERVAL = 5.0  # Discord's own: with a clock that sleeping moves, a long interval costs nothing


class FakeTime:
    """Wall time for gates, shared by threads: it moves only when a gate sleeps, by what it sleeps."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    async def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
        await asyncio.sleep(0)


def gaps(times: list[float]) -> list[float]:
    """The gaps between consecutive times, in order."""
    ordered = sorted(times)
    return [later - earlier for earlier, later in itertools.pairwise(ordered)]


async def identify(gate: IdentifyGate, shard_id: int, sent: list[float], clock: FakeTime, *, initial: bool) -> None:
    """What the bot does: the turn before connecting, then discord.py's hook, then the IDENTIFY (noted)."""
    await gate.take_turn(shard_id, initial=initial)
    await gate.before_identify(shard_id, initial=initial)
    sent.append(clock())


def test_contending_processes_take_turns_an_interval_apart(tmp_path):
    """Three "processes" (a thread each, with its own loop and its own gate on one folder), 3 shards each."""
    clock = FakeTime()
    sent: list[float] = []
    lock = threading.Lock()

    def process(first_shard: int) -> None:
        async def shards() -> None:
            gate = IdentifyGate(tmp_path / "gate", INTERVAL, clock=clock, sleep=clock.sleep)
            mine: list[float] = []
            for shard in range(first_shard, first_shard + 3):
                await identify(gate, shard, mine, clock, initial=shard == first_shard)
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
    assert gaps(sent) == [INTERVAL] * 8  # one interval apart exactly, whichever process came next
    assert float((tmp_path / "gate" / "0").read_text()) == max(sent)  # recorded as the last one was sent


async def test_buckets_follow_the_concurrency_and_each_keeps_its_own_time(tmp_path):
    clock = FakeTime()
    gate = IdentifyGate(tmp_path / "gate", INTERVAL, concurrency=2, clock=clock, sleep=clock.sleep)
    assert [gate.bucket(shard) for shard in (0, 1, 2, 5, None)] == [0, 1, 0, 1, 0]
    sent: list[float] = []
    for shard in (0, 1, 2):
        await identify(gate, shard, sent, clock, initial=shard == 0)
    await gate.close()
    assert sent == [clock.now - INTERVAL, clock.now - INTERVAL, clock.now]  # shard 1 waited for no one
    assert sorted(path.name for path in (tmp_path / "gate").iterdir()) == ["0", "1"]
    assert float((tmp_path / "gate" / "0").read_text()) == sent[2]
    assert float((tmp_path / "gate" / "1").read_text()) == sent[1]


async def test_a_killed_holder_leaves_no_stale_lock(tmp_path, monkeypatch):
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
    refused = asyncio.Event()
    refusals = 0
    try_lock = IdentifyGate._try_lock

    def counting(self: IdentifyGate, bucket: int) -> Any:
        nonlocal refusals
        held = try_lock(self, bucket)
        if held is None:
            refusals += 1
            if refusals == 3:
                loop.call_soon_threadsafe(refused.set)
        return held

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(IdentifyGate, "_try_lock", counting)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        clock = FakeTime()
        gate = IdentifyGate(folder, INTERVAL, clock=clock, sleep=clock.sleep)
        waiting = asyncio.create_task(identify(gate, 0, [], clock, initial=True))
        await asyncio.wait_for(refused.wait(), WAIT_SECONDS)  # it asked three times, and was refused each time
        assert not waiting.done()  # the live holder keeps it waiting
        holder.kill()
        await asyncio.wait_for(waiting, WAIT_SECONDS)  # the kernel let the killed holder's lock go
        await gate.close()
    finally:
        holder.kill()
        holder.wait()


async def test_a_shard_cancelled_while_waiting_lets_the_lock_go(tmp_path):
    first, second, third = (IdentifyGate(tmp_path / "gate", 60.0) for _ in range(3))
    await first.take_turn(0, initial=True)
    await first.before_identify(0, initial=True)
    await first.close()
    waiting = asyncio.create_task(second.take_turn(1, initial=False))  # 60 s to wait, holding the lock

    async def free() -> bool:
        held = await asyncio.to_thread(third._try_lock, 0)
        if held is not None:
            os.close(held[0])
        return held is not None

    async def until_held() -> None:
        while await free():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(until_held(), WAIT_SECONDS)  # the waiting shard holds the lock
    waiting.cancel()  # the bot closes
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await free()


async def test_a_turn_not_used_is_let_go_when_the_bot_closes(tmp_path):
    clock = FakeTime()
    gate, other = (IdentifyGate(tmp_path / "gate", INTERVAL, clock=clock, sleep=clock.sleep) for _ in range(2))
    await gate.take_turn(0, initial=True)  # connecting failed, or the bot stopped: no IDENTIFY sent
    assert await asyncio.to_thread(other._try_lock, 0) is None
    await gate.close()
    held = await asyncio.to_thread(other._try_lock, 0)
    assert held is not None
    os.close(held[0])
    assert not (tmp_path / "gate" / "0").read_text()  # nothing recorded: nothing was sent


async def test_a_reidentify_waits_at_most_one_interval_for_a_turn_held_elsewhere(tmp_path, caplog):
    holder = IdentifyGate(tmp_path / "gate", 0.2)
    await holder.take_turn(0, initial=True)  # another process's shard, about to connect
    gate = IdentifyGate(tmp_path / "gate", 0.2)
    await asyncio.wait_for(gate.before_identify(0, initial=False), WAIT_SECONDS)  # returns: it goes anyway
    assert caplog.messages == [
        "Shard 0 identifies again without waiting longer for its turn (another process holds it); "
        "Discord may ask it to try again."
    ]
    assert await asyncio.to_thread(gate._try_lock, 0) is None  # the holder still holds its turn
    await holder.close()
    await gate.close()


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


async def test_two_bots_take_turns_before_connecting_an_interval_apart_each_shard_once(tmp_path, monkeypatch):
    """Two bots stand for two processes (each its own gate object, sharing the folder, as processes do).

    Issue 23, finding 11: a shard waiting its turn must not have its socket open (nothing would read it), so
    the log of events alternates: a turn taken, then a socket opened, then the next turn.
    """
    clock = FakeTime()
    events: list[str] = []
    sends: list[tuple[int, float]] = []  # (shard, time) as discord.py writes each IDENTIFY
    send_as_json = discord.gateway.DiscordWebSocket.send_as_json
    ws_connect = discord.http.HTTPClient.ws_connect
    try_lock = IdentifyGate._try_lock
    noted = threading.Lock()

    async def noting_sends(self: discord.gateway.DiscordWebSocket, data: Any) -> None:
        if data.get("op") == self.IDENTIFY:
            sends.append((data["d"]["shard"][0], clock()))
        await send_as_json(self, data)

    async def noting_connects(self: discord.http.HTTPClient, url: str, **kwargs: Any) -> Any:
        with noted:
            events.append("socket opened")
        return await ws_connect(self, url, **kwargs)

    def noting_turns(self: IdentifyGate, bucket: int) -> Any:
        held = try_lock(self, bucket)
        if held is not None:
            with noted:
                events.append("turn taken")
        return held

    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "send_as_json", noting_sends)
    monkeypatch.setattr(discord.http.HTTPClient, "ws_connect", noting_connects)
    monkeypatch.setattr(IdentifyGate, "_try_lock", noting_turns)
    guilds = [guild_on_shard(shard, 4) for shard in range(4)]
    server = FakeDiscordServer(guilds=guilds)
    await server.start(monkeypatch)
    folder = seeds_folder(tmp_path)
    bots = [
        QABot(settings_for(folder, shard_count=4, shard_ids=ids), guild_ready_timeout=0.1) for ids in ((0, 1), (2, 3))
    ]
    shared = gate_folder(store.index_file(store.cache_folder(), folder))
    assert [bot.identify_gate.folder for bot in bots] == [shared, shared]
    for bot in bots:
        bot.identify_gate = IdentifyGate(shared, INTERVAL, clock=clock, sleep=clock.sleep)
    ready = [asyncio.Event(), asyncio.Event()]
    for n, bot in enumerate(bots):
        bot.add_listener(setter(ready[n]), "on_ready")
    running = [asyncio.create_task(bot.start("token")) for bot in bots]
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), WAIT_SECONDS)
        assert sorted(server.identifies) == [(0, 4), (1, 4), (2, 4), (3, 4)]  # each shard once, its own id
        assert sorted(shard for shard, _ in sends) == [0, 1, 2, 3]
        assert [sorted(bot.shards) for bot in bots] == [[0, 1], [2, 3]]
        assert gaps([at for _, at in sends]) == [INTERVAL] * 3
        assert events == ["turn taken", "socket opened"] * 4
    finally:
        for bot, task in zip(bots, running, strict=True):
            await asyncio.wait_for(bot.close(), WAIT_SECONDS)
            await asyncio.wait_for(task, WAIT_SECONDS)
        await server.stop()
