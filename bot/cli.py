"""The `qa-bot` command: the core's commands (index.cli) and the bot's (run, sync, check, stats, cluster).

Imports point one way: this module imports the bot and the core; neither imports it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from dotenv import find_dotenv, load_dotenv

from bot.cluster import add_command as add_cluster_command
from bot.feeds.cli import add_command as add_feed_command
from bot.launch import add_commands as add_bot_commands
from bot.questionlog.report import add_command as add_stats_command
from index import add_commands as add_core_commands
from index import run_command as run


def installed_version() -> str:
    try:
        return version("qa-bot")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="qa-bot", description="Answer questions from news articles.")
    root.add_argument("--version", action="version", version=f"qa-bot {installed_version()}")
    commands = root.add_subparsers(dest="command", required=True)
    add_core_commands(commands)  # ask, index, eval, add: no Discord
    add_bot_commands(commands)  # run, sync, check: the Discord bot
    add_stats_command(commands)  # stats: the bot's question log
    add_cluster_command(commands)  # cluster: N bot processes on one machine
    add_feed_command(commands)  # feed: news feeds, in the bot's shared state
    return root


def main(argv: Sequence[str] | None = None) -> int:
    # Real environment variables win over .env, which is looked for in the working directory and its parents.
    load_dotenv(find_dotenv(usecwd=True), override=False)
    return run(parser().parse_args(argv))
