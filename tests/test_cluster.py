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
from tests.discord_harness import WAIT_SECONDS

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
