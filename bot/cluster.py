"""`qa-bot cluster --processes N`: N bot processes on this machine, each running a contiguous range of shards.

The supervisor only starts, watches and stops processes; each process is a plain `qa-bot run` with
SHARD_COUNT and SHARD_IDS in its environment, so it serves exactly as one started by hand would. They
share the saved index (the page cache holds it once), build it once (index.build_lock), reload in step
(bot.reload_sync) and write to the same question log (SQLite in WAL mode).

A process that exits while the cluster runs is started again with the same shards, after a delay that
doubles with each quick failure (BACKOFF_FIRST up to BACKOFF_MAX; back to the first after STABLE_SECONDS
of running). A process that exits with status 2 (its settings are wrong) is not retried: the cluster
stops. SIGTERM or Ctrl-C stops every process (SIGTERM, then SIGKILL after STOP_GRACE seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shlex
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.config import MAX_SHARDS, format_shard_ids
from index import counted

log = logging.getLogger("bot.cluster")

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
STABLE_SECONDS = 60.0
STOP_GRACE = 30.0
USAGE_ERROR = 2  # qa-bot's exit status for wrong settings: restarting would only fail again


def shard_ranges(shard_count: int, processes: int) -> list[range]:
    """`shard_count` shards in `processes` contiguous ranges, in order, sizes differing by at most one."""
    if not 1 <= processes <= shard_count:
        raise ValueError(f"cannot split {shard_count} shards between {processes} processes")
    size, extra = divmod(shard_count, processes)
    ranges, start = [], 0
    for number in range(processes):
        end = start + size + (1 if number < extra else 0)
        ranges.append(range(start, end))
        start = end
    return ranges


@dataclass
class Member:
    """One supervised process and its shards."""

    number: int
    shards: range
    shard_count: int
    pid: int | None = None
    state: str = "starting"
    starts: int = 0

    @property
    def name(self) -> str:
        return f"process {self.number} (shards {format_shard_ids(self.shards)} of {self.shard_count})"


def default_command() -> list[str]:
    return [sys.executable, "-m", "bot", "run"]


class Cluster:
    def __init__(
        self,
        shard_count: int,
        processes: int,
        command: Sequence[str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
        stop_grace: float = STOP_GRACE,
    ) -> None:
        self.members = [
            Member(number, shards, shard_count) for number, shards in enumerate(shard_ranges(shard_count, processes))
        ]
        self.command = list(command or default_command())
        self.env = dict(os.environ if env is None else env)
        self.backoff_first, self.backoff_max, self.stop_grace = backoff_first, backoff_max, stop_grace
        self.status = 0
        self._stopping = asyncio.Event()
        self._processes: dict[int, asyncio.subprocess.Process] = {}

    def stop(self) -> None:
        """Stop every process and return from `run` (safe to call from a signal handler)."""
        self._stopping.set()

    async def run(self) -> int:
        """Start and supervise every process until `stop()`; the exit status (2 when a process's settings are wrong)."""
        watchers = [asyncio.create_task(self._supervise(member)) for member in self.members]
        try:
            await self._stopping.wait()
        finally:
            self._stopping.set()
            await self._stop_all()
            await asyncio.gather(*watchers, return_exceptions=True)
        return self.status

    def _child_env(self, member: Member) -> dict[str, str]:
        return {
            **self.env,
            "SHARD_COUNT": str(member.shard_count),
            "SHARD_IDS": format_shard_ids(member.shards),
            "QA_BOT_PROCESS": str(member.number),
        }

    async def _supervise(self, member: Member) -> None:
        delay = self.backoff_first
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                process = await asyncio.create_subprocess_exec(*self.command, env=self._child_env(member))
            except OSError as error:
                log.error("%s could not start (%s); stopping the cluster.", member.name, error)
                self.status = 1
                self.stop()
                return
            member.pid, member.state, member.starts = process.pid, "running", member.starts + 1
            self._processes[member.number] = process
            log.info("%s: running, pid %d", member.name, process.pid)
            code = await process.wait()
            member.state = "stopped" if self._stopping.is_set() else "exited"
            if self._stopping.is_set():
                log.info("%s: stopped (status %s)", member.name, code)
                return
            if code == USAGE_ERROR:
                log.error("%s: exited with status 2 (its settings are wrong); stopping the cluster.", member.name)
                self.status = USAGE_ERROR
                self.stop()
                return
            if time.monotonic() - started >= STABLE_SECONDS:
                delay = self.backoff_first
            member.state = "waiting to restart"
            log.warning("%s: exited with status %s; restarting in %.1f s", member.name, code, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, self.backoff_max)

    async def _stop_all(self) -> None:
        running = [p for p in self._processes.values() if p.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in running)), self.stop_grace)
        except TimeoutError:
            for process in running:
                if process.returncode is None:
                    log.warning("pid %d did not stop within %.0f s; killing it.", process.pid, self.stop_grace)
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
            await asyncio.gather(*(p.wait() for p in running))


async def recommended_shards(token: str) -> int:
    """The number of shards Discord recommends for this bot (GET /gateway/bot, as AutoShardedBot asks)."""
    import discord.http

    http = discord.http.HTTPClient(asyncio.get_running_loop())
    try:
        await http.static_login(token)
        shards, _, _ = await http.get_bot_gateway()
        return int(shards)
    finally:
        await http.close()


async def _run(cluster: Cluster) -> int:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, cluster.stop)
    try:
        return await cluster.run()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def cmd_cluster(args: argparse.Namespace) -> int:
    from bot.launch import _network_errors, _settings, _setup_logging, _unreachable
    from index import UsageError

    settings = _settings(require_token=args.command is None)
    _setup_logging(settings)
    if args.processes < 1:
        raise UsageError(f"--processes must be at least 1 (got {args.processes}).")
    shard_count = args.shards or settings.shard_count
    if shard_count is None:
        try:
            shard_count = max(asyncio.run(recommended_shards(settings.require_token())), args.processes)
        except _network_errors() as error:
            return _unreachable(error)
        log.info("Discord recommends %s for this bot.", counted(shard_count, "shard"))
    if args.processes > shard_count:
        raise UsageError(
            f"{args.processes} processes need at least as many shards (SHARD_COUNT or --shards is {shard_count})."
        )
    command = shlex.split(args.command) if args.command else None
    cluster = Cluster(shard_count, args.processes, command)
    log.info("Starting %d processes for %d shards.", args.processes, shard_count)
    return asyncio.run(_run(cluster))


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cluster = commands.add_parser(
        "cluster", help="run the bot as N processes on this machine, each with a range of the shards"
    )
    cluster.add_argument("--processes", type=int, required=True, metavar="N", help="how many processes to run")
    cluster.add_argument(
        "--shards",
        type=int,
        choices=range(1, MAX_SHARDS + 1),
        metavar="COUNT",
        help="total shards (default: SHARD_COUNT, else as many as Discord recommends)",
    )
    cluster.add_argument(
        "--command",
        metavar="CMD",
        help="run CMD for each process instead of `qa-bot run` (it gets SHARD_COUNT and SHARD_IDS in its environment)",
    )
    cluster.set_defaults(run=cmd_cluster)
