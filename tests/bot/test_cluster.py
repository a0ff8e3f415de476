"""`qa-bot cluster`: contiguous shard ranges, a crashed process restarted with its shards, SIGTERM stops all.

The processes here are small Python scripts that report their shards and wait; no network.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.cluster import Cluster, shard_ranges
from testkit.discord_harness import WAIT_SECONDS

# A stand-in for `qa-bot run`: writes "<SHARD_COUNT> <SHARD_IDS>" to <folder>/<pid>, then waits for SIGTERM.
# With EXIT_AT_ONCE set it exits with that status instead.
CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    folder = sys.argv[1]
    if os.environ.get("EXIT_AT_ONCE"):
        sys.exit(int(os.environ["EXIT_AT_ONCE"]))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with open(os.path.join(folder, str(os.getpid())), "w") as f:
        f.write(os.environ["SHARD_COUNT"] + " " + os.environ["SHARD_IDS"])
    while True:
        time.sleep(1)
    """
)


def test_shards_split_in_contiguous_ranges():
    assert shard_ranges(4, 2) == [range(0, 2), range(2, 4)]
    assert shard_ranges(10, 3) == [range(0, 4), range(4, 7), range(7, 10)]
    assert shard_ranges(3, 3) == [range(0, 1), range(1, 2), range(2, 3)]
    with pytest.raises(ValueError, match="cannot split 2 shards between 3 processes"):
        shard_ranges(2, 3)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def until(condition, what: str):
    async def poll():
        while not (result := condition()):
            await asyncio.sleep(0.01)
        return result

    try:
        return await asyncio.wait_for(poll(), WAIT_SECONDS)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def reports(folder: Path) -> dict[int, str]:
    """pid → "count ids" for every child that reported (a file is complete once it is non-empty)."""
    found = {}
    for path in folder.iterdir():
        text = path.read_text()
        if text:
            found[int(path.name)] = text
    return found


async def test_a_killed_process_restarts_with_its_own_shards_and_stop_ends_them_all(tmp_path, caplog):
    caplog.set_level("INFO", logger="bot.cluster")
    cluster = Cluster(5, 2, [sys.executable, "-c", CHILD, str(tmp_path)], backoff_first=0.01)
    running = asyncio.create_task(cluster.run())
    try:
        first = await until(lambda: len(reports(tmp_path)) == 2 and reports(tmp_path), "both processes")
        assert sorted(first.values()) == ["5 0-2", "5 3-4"]
        [victim] = [pid for pid, shards in first.items() if shards == "5 3-4"]
        [other] = [pid for pid, shards in first.items() if shards == "5 0-2"]
        os.kill(victim, signal.SIGKILL)
        restarted = await until(lambda: len(reports(tmp_path)) == 3 and reports(tmp_path), "the restart")
        [new] = set(restarted) - set(first)
        assert restarted[new] == "5 3-4"  # the same shards, in a new process
        assert alive(other)  # the other process was left alone
        assert [m.starts for m in cluster.members] == [1, 2]
    finally:
        cluster.stop()
        status = await asyncio.wait_for(running, WAIT_SECONDS)
    assert status == 0
    assert not alive(other) and not alive(new)
    assert "process 1 (shards 3-4 of 5): exited with status -9; restarting in 0.0 s" in caplog.text
    assert "process 0 (shards 0-2 of 5): stopped (status 0)" in caplog.text


async def test_a_process_with_wrong_settings_stops_the_cluster_without_retrying(tmp_path, caplog):
    env = {**os.environ, "EXIT_AT_ONCE": "2"}
    cluster = Cluster(2, 2, [sys.executable, "-c", CHILD, str(tmp_path)], env=env, backoff_first=0.01)
    status = await asyncio.wait_for(cluster.run(), WAIT_SECONDS)
    assert status == 2
    assert all(m.starts == 1 for m in cluster.members)
    assert "exited with status 2 (its settings are wrong); stopping the cluster." in caplog.text


@pytest.mark.slow
def test_the_command_line_cluster_stops_cleanly_on_sigterm(tmp_path):
    command = shlex.join([sys.executable, "-c", CHILD, str(tmp_path)])
    env = {**os.environ, "SEEDS_DIR": str(tmp_path), "LOG_LEVEL": "INFO"}
    env.pop("DISCORD_TOKEN", None)  # --command needs no token
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "bot", "cluster", "--processes", "2", "--shards", "4", "--command", command],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        asyncio.run(until(lambda: len(reports(tmp_path)) == 2, "both processes"))
        children = reports(tmp_path)
        assert sorted(children.values()) == ["4 0-1", "4 2-3"]
        supervisor.send_signal(signal.SIGTERM)
        _, errors = supervisor.communicate(timeout=WAIT_SECONDS)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
    assert supervisor.returncode == 0
    assert not any(alive(pid) for pid in children)
    assert "Starting 2 processes for 4 shards." in errors
    for pid in children:
        assert f"): running, pid {pid}" in errors
    assert "process 1 (shards 2-3 of 4): stopped (status 0)" in errors


NEW_ARTICLE = (
    "title: Ferry timetable changes\ndate: 2024-05-01\n\n"
    "The ferry will sail every two hours from June. The operator blamed rising fuel costs."
)


@pytest.mark.slow
async def test_four_shards_in_two_real_processes_answer_reload_in_step_and_restart(tmp_path):
    from testkit.discord_harness import DM_CHANNEL_ID, MANAGE_GUILD, message_payload, seeds_folder, user
    from tests.bot.test_shards import command_in, guild_on_shard
    from tests.discord_server import FakeDiscordServer

    guilds = [guild_on_shard(shard, 4) for shard in range(4)]
    server = FakeDiscordServer(guilds=guilds)
    await server.start()
    folder = seeds_folder(tmp_path)
    env = {
        **os.environ,
        "FAKE_DISCORD_PORT": str(server.port),
        "DISCORD_TOKEN": "fake-token",
        "SEEDS_DIR": str(folder),
        "SEMANTIC": "off",
        "ASK_COOLDOWN_SECONDS": "0",
        "STATE_DB": str(tmp_path / "state.sqlite3"),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent.parent),
    }
    # As a module: a script's own folder (tests/) would come first on sys.path, where tests/index and
    # tests/bot would stand in for the packages of the same names.
    child = [sys.executable, "-m", "tests.shard_child"]
    cluster = Cluster(4, 2, child, env=env, backoff_first=0.01)
    running = asyncio.create_task(cluster.run())

    def pid_of(agent: str) -> int:
        return int(agent.rsplit("pid/", 1)[1])

    def shard_pids() -> dict[int, int]:
        """Each shard's process: the latest to identify for it."""
        return {shard: pid_of(agent) for (shard, _), agent in zip(server.identifies, server.identified_by, strict=True)}

    def answers(payload) -> list:
        path = f"/webhooks/{payload['application_id']}/{payload['token']}"
        return [r for r in server.requests if r.method == "POST" and r.path == path]

    async def ask(shard: int, question: str):
        payload = command_in(guilds[shard], server.new_id(), "ask", {"question": question})
        await server.send_event("INTERACTION_CREATE", payload)
        [answer] = await until(lambda: answers(payload), f"the answer in shard {shard}")
        return answer

    try:
        await until(lambda: len(shard_pids()) == 4, "four shards to identify")
        pids = shard_pids()
        assert sorted(server.identifies) == [(0, 4), (1, 4), (2, 4), (3, 4)]
        assert pids[0] == pids[1] != pids[2] == pids[3]  # two processes, two contiguous shards each
        await until(lambda: all(m.pid for m in cluster.members), "both pids")
        assert [m.pid for m in cluster.members] == [pids[0], pids[2]]

        # Each server's question is answered once, by the process of its shard; a DM by shard 0's.
        for shard in range(4):
            answer = await ask(shard, "How many coups?")
            assert pid_of(answer.agent) == pids[shard]
            assert "four coups" in answer.body["embeds"][0]["fields"][0]["value"]
        dm = message_payload(server.new_id(), DM_CHANNEL_ID, user(4242, "asker"), content="How many coups?")
        await server.send_event("MESSAGE_CREATE", dm)
        dm_path = f"/channels/{DM_CHANNEL_ID}/messages"
        [dm_answer] = await until(lambda: [r for r in server.requests if r.path == dm_path], "the DM answer")
        assert pid_of(dm_answer.agent) == pids[0]

        # A reload through shard 3 reaches both processes.
        (folder / "ferry.txt").write_text(NEW_ARTICLE, encoding="utf-8")
        reload = command_in(guilds[3], server.new_id(), "reload", {}, permissions=MANAGE_GUILD)
        await server.send_event("INTERACTION_CREATE", reload)
        [reply] = await until(lambda: answers(reload), "the reload report")
        assert pid_of(reply.agent) == pids[3]
        assert reply.body["content"].split("\n")[1:2] == ["Serving the new index: 2/2 processes."], reply.body
        answer = await ask(0, "How often will the ferry sail?")  # the other process serves the new article
        assert pid_of(answer.agent) == pids[0]
        assert "every two hours" in answer.body["embeds"][0]["fields"][0]["value"]

        # A killed process is started again with its shards; the other one is left alone.
        os.kill(pids[0], signal.SIGKILL)
        await until(lambda: shard_pids()[0] != pids[0] and shard_pids()[1] != pids[0], "shards 0-1 back")
        restarted = shard_pids()
        assert restarted[0] == restarted[1] == cluster.members[0].pid and restarted[2] == pids[2]
        assert server.identifies[-2:] in ([(0, 4), (1, 4)], [(1, 4), (0, 4)])
        answer = await ask(1, "How often will the ferry sail?")
        assert pid_of(answer.agent) == restarted[1]
    finally:
        cluster.stop()
        status = await asyncio.wait_for(running, WAIT_SECONDS)
        await server.stop()
    assert status == 0


@pytest.mark.slow
async def test_a_bot_that_cannot_reach_the_gateway_stops_on_sigterm(tmp_path):
    """Issue 23, finding 11: discord.py retries a failed connection every 5 s for ever; SIGTERM must end it."""
    from testkit.discord_harness import seeds_folder
    from tests.discord_server import FakeDiscordServer

    server = FakeDiscordServer(gateway_down=True)
    await server.start()
    env = {
        **os.environ,
        "FAKE_DISCORD_PORT": str(server.port),
        "DISCORD_TOKEN": "fake-token",
        "SEEDS_DIR": str(seeds_folder(tmp_path)),
        "SEMANTIC": "off",
        "SHARD_COUNT": "1",
        "STATE_DB": str(tmp_path / "state.sqlite3"),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent.parent),
    }
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.shard_child", env=env, stderr=subprocess.PIPE
    )
    try:
        await until(lambda: server.gateway_refused >= 1, "a refused connection to the gateway")
        bot.send_signal(signal.SIGTERM)
        _, errors = await asyncio.wait_for(bot.communicate(), WAIT_SECONDS)
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
        await server.stop()
    assert bot.returncode == 0
    assert b"Failed to connect for shard_id: 0. Retrying..." in errors
